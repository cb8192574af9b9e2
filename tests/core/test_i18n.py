from __future__ import annotations

import pytest

from app.core.i18n import LOCALES, gettext, negotiate, set_locale, translations_for


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        (None, None, "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh_Hans"),
        ("fr-FR, en;q=0.5, zh;q=0.7", None, "zh_Hans"),
        ("en-GB,zh;q=0.1", None, "en"),
        ("zh-Hans", "en", "en"),
        ("de", None, "en"),
        ("en", "zh_Hans", "zh_Hans"),
        ("zh;q=0", None, "en"),
        ("garbage;q=x,,,", None, "en"),
    ],
)
def test_negotiate(header: str | None, cookie: str | None, expected: str) -> None:
    assert negotiate(header, cookie) == expected


def test_chinese_catalog_translates() -> None:
    set_locale("zh_Hans")
    try:
        assert gettext("Log in") != "Log in"
    finally:
        set_locale("en")
    assert gettext("Log in") == "Log in"


def test_every_message_has_a_chinese_translation() -> None:
    catalog = translations_for("zh_Hans")
    assert set(LOCALES) == {"en", "zh_Hans"}
    from babel.messages.pofile import read_po

    from app.core.i18n import TRANSLATIONS_DIR

    with (TRANSLATIONS_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        po = read_po(fh)
    missing = [m.id for m in po if m.id and not m.string]
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert not missing, f"untranslated: {missing[:10]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:10]}"
    assert catalog is not None


def test_catalog_is_up_to_date_with_the_source() -> None:
    """Every marked string in app/ is in the Chinese catalog (run `make messages`)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    from app.core.i18n import TRANSLATIONS_DIR

    app_dir = TRANSLATIONS_DIR.parent
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(app_dir),
        method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2")],
        options_map={"**/templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}},
        keywords=keywords,
    ):
        found.add(message if isinstance(message, str) else message[0])
    with (TRANSLATIONS_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    assert found, "extraction found nothing"
    missing = sorted(found - catalog)
    assert not missing, f"not in the catalog (run `make messages`): {missing[:10]}"
