"""Translations (Babel gettext): English and Simplified Chinese.

- ``_`` / ``gettext`` / ``ngettext`` translate for the current request's locale (a context
  variable set by ``LocaleMiddleware``); ``N_`` only marks a string for extraction (translate
  it later with ``_(value)``, e.g. in a template).
- Catalogs: ``app/translations/<locale>/LC_MESSAGES/messages.po``.  They are compiled in
  memory at first use, so a fresh clone works without a build step (no .mo files).
- Locale choice: the ``plaza_lang`` cookie (set by the language selector form), else
  ``Accept-Language``, else the configured default.
- ``format_number``, ``format_datetime``, ``format_date`` format for the current locale;
  money is in ``app.core.money``.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from starlette.types import ASGIApp, Receive, Scope, Send

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
LOCALES: dict[str, str] = {"en": "English", "zh_Hans": "简体中文"}
HTML_LANG = {"en": "en", "zh_Hans": "zh-Hans"}
LANG_COOKIE = "plaza_lang"

_current_locale: ContextVar[str] = ContextVar("plaza_locale", default="en")


@cache
def translations_for(locale: str) -> Translations:
    po_path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return Translations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def get_locale() -> str:
    return _current_locale.get()


def set_locale(locale: str) -> None:
    """Set the locale of the current context (requests do this in the middleware)."""
    _current_locale.set(locale if locale in LOCALES else "en")


def gettext(message: str) -> str:
    return str(translations_for(get_locale()).ugettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    return str(translations_for(get_locale()).ungettext(singular, plural, n))


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now."""
    return message


def format_number(value: int | float) -> str:
    return str(format_decimal(value, locale=get_locale()))


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return str(babel_format_datetime(value, "medium", tzinfo=UTC, locale=get_locale())) + " UTC"


def format_date(value: date | None) -> str:
    if value is None:
        return ""
    return str(babel_format_date(value, "medium", locale=get_locale()))


def _from_tag(tag: str) -> str | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag.startswith("zh"):
        return "zh_Hans"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, cookie: str | None, default: str = "en") -> str:
    """The locale for a request: cookie first, then ``Accept-Language`` by quality."""
    if cookie in LOCALES:
        return cookie
    if accept_language:
        weighted: list[tuple[float, int, str]] = []
        for index, part in enumerate(accept_language.split(",")[:20]):
            tag, _sep, params = part.strip().partition(";")
            quality = 1.0
            params = params.strip()
            if params.startswith("q="):
                try:
                    quality = float(params[2:])
                except ValueError:
                    quality = 0.0
            weighted.append((-quality, index, tag))
        for neg_quality, _index, tag in sorted(weighted):
            if neg_quality >= 0:
                continue
            found = _from_tag(tag)
            if found:
                return found
    return default if default in LOCALES else "en"


class LocaleMiddleware:
    """Choose the request's locale and make ``_`` use it (also in the threadpool)."""

    def __init__(self, app: ASGIApp, *, default: str = "en") -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = None
        cookie = None
        for name, value in scope.get("headers", []):
            if name == b"accept-language":
                accept = value.decode("latin-1")[:500]
            elif name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _sep, val = part.strip().partition("=")
                    if key == LANG_COOKIE:
                        cookie = val
        locale = negotiate(accept, cookie, self.default)
        scope.setdefault("state", {})["locale"] = locale
        token = _current_locale.set(locale)
        try:
            await self.app(scope, receive, send)
        finally:
            _current_locale.reset(token)
