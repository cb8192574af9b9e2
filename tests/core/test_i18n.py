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
