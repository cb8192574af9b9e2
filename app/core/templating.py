"""The one Jinja environment (jinja2-fragments for blocks) and ``render``.

``render(request, "proposals/index.html", ctx, block="proposal_list")`` returns the block
alone for an htmx request and the whole page otherwise; every response carries
``Vary: HX-Request``.  Templates are looked up in ``app/templates`` and then in every
``app/<domain>/templates`` folder (so ``"proposals/index.html"`` lives in
``app/proposals/templates/proposals/index.html``).

Every template sees: ``request``, ``user`` (or None), ``csrf_token``, ``locale``,
``locales``, ``html_lang``, ``current_path``, ``url_for(name, **params)`` (a path),
``static(path)``, gettext as ``_``/``gettext``/``ngettext`` (new style: ``_("%(n)s", n=1)``),
the filters ``money(currency)``, ``number``, ``datetime``, ``date``, ``zip_self``, and the
form macros of ``_macros/forms.html`` as ``forms`` (a global, so htmx blocks see them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi.routing import iter_route_contexts
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.core.config import get_settings
from app.core.errors import REDO_HTMX_HEADERS, form_redo
from app.core.htmx import is_htmx
from app.core.i18n import (
    HTML_LANG,
    LOCALES,
    format_date,
    format_datetime,
    format_number,
    get_locale,
    gettext,
    ngettext,
)
from app.core.money import format_money

APP_DIR = Path(__file__).resolve().parent.parent


def _template_dirs() -> list[str]:
    dirs = [APP_DIR / "templates"]
    dirs += sorted(p for p in APP_DIR.glob("*/templates") if p.is_dir() and p != dirs[0])
    return [str(d) for d in dirs]


def _build_env() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in _template_dirs()]),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = lambda minor, currency: format_money(minor, currency)
    env.filters["number"] = format_number
    env.filters["datetime"] = format_datetime
    env.filters["date"] = format_date
    env.filters["zip_self"] = lambda values: [(v, v) for v in values]
    return env


env = _build_env()
# Macros are globals so that a block rendered alone (htmx) sees them too.
env.globals["forms"] = env.get_template("_macros/forms.html").module


def route_names(app: Any) -> frozenset[str]:
    """Names of every route of ``app``, included routers too (cached on ``app.state``)."""
    names: frozenset[str] | None = getattr(app.state, "route_names", None)
    if names is None:
        names = frozenset(
            rc.name for rc in iter_route_contexts(app.routes) if isinstance(rc.name, str)
        )
        app.state.route_names = names
    return names


def _context(request: Request, ctx: Mapping[str, Any] | None) -> dict[str, Any]:
    from app.core.security import csrf_token

    settings = getattr(request.app.state, "settings", None) or get_settings()
    locale = get_locale()

    def url_for(name: str, /, **params: Any) -> str:
        return str(request.app.url_path_for(name, **{k: str(v) for k, v in params.items()}))

    def has_route(name: str) -> bool:
        return name in route_names(request.app)

    def static(path: str) -> str:
        return "/static/" + path

    current = request.url.path
    if request.url.query:
        current += "?" + request.url.query
    base: dict[str, Any] = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request, settings),
        "locale": locale,
        "locales": LOCALES,
        "html_lang": HTML_LANG.get(locale, "en"),
        "current_path": current,
        "url_for": url_for,
        "static": static,
        "has_route": has_route,
        "is_htmx": is_htmx(request),
        "environment": settings.environment,
    }
    if ctx:
        base.update(ctx)
    redo = form_redo(request)
    if redo is not None:
        # The page is shown again for a form whose input was refused at the door (see
        # ``app.core.errors.show_form_again``): the message and what was typed go in.
        base["error"] = redo.error
        base["form"] = {**(base.get("form") or {}), **redo.values}
        if redo.section is not None:
            base["section"] = redo.section
    return base


def render_text(
    request: Request,
    template: str,
    ctx: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
) -> str:
    context = _context(request, ctx)
    if block is not None:
        return str(render_block(env, template, block, context))
    return env.get_template(template).render(context)


def render(
    request: Request,
    template: str,
    ctx: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page, or only ``block`` when htmx asks (``Vary: HX-Request`` either way)."""
    redo = form_redo(request)
    if redo is not None:
        # A form shown again after refused input: 422; for htmx, the page's main content.
        block = "main_content" if redo.htmx else None
        status_code = 422
        headers = {**(headers or {}), **REDO_HTMX_HEADERS} if redo.htmx else headers
        body = render_text(request, template, ctx, block=block)
    else:
        body = render_text(request, template, ctx, block=block if is_htmx(request) else None)
    response = HTMLResponse(body, status_code=status_code, headers=dict(headers or {}))
    response.headers["Vary"] = "HX-Request"
    return response
