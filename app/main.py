"""create_app(): the ASGI application (static files, routers, error handlers).

Routers are included from each domain's ``routes`` module (``router`` for pages, ``api``
for the JSON API under ``/api/``).  Every route gets two app-wide dependencies: the current
user is loaded (so every page shows who is signed in) and unsafe methods need a CSRF token.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from app.accounts import routes as accounts_routes
from app.core.config import Settings, get_settings
from app.core.errors import (
    BodySizeLimitMiddleware,
    install_error_handlers,
    reject_control_characters,
)
from app.core.i18n import LocaleMiddleware
from app.core.security import (
    CsrfCookieMiddleware,
    SecurityHeadersMiddleware,
    get_optional_user,
    verify_csrf,
)
from app.core.templating import render

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# Domain route modules, top of the stack first; missing ones (not built yet) are skipped.
DOMAIN_ROUTE_MODULES = (
    "app.results.routes",
    "app.ballots.routes",
    "app.eligibility.routes",
    "app.proposals.routes",
    "app.cycles.routes",
)

home_router = APIRouter(tags=["pages"])


@home_router.get("/", name="home")
def home(request: Request) -> Response:
    return render(request, "home.html", {})


@home_router.get("/healthz", include_in_schema=False, name="healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _domain_routers() -> list[APIRouter]:
    routers: list[APIRouter] = []
    for name in DOMAIN_ROUTE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        for attr in ("router", "api"):
            router = getattr(module, attr, None)
            if isinstance(router, APIRouter):
                routers.append(router)
    return routers


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Plaza",
        version="0.1.0",
        description="Participatory budgeting. The JSON API mirrors the pages; writes need the "
        "CSRF token from GET /api/session in the X-CSRF-Token header.",
        dependencies=[
            Depends(get_optional_user),
            Depends(verify_csrf),
            Depends(reject_control_characters),
        ],
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    # Dependencies read the settings from app.state (``request_settings``), not through
    # dependency_overrides: any override makes FastAPI rebuild every dependency graph on
    # every request (a large share of a request's CPU).
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(home_router)
    app.include_router(accounts_routes.router)
    app.include_router(accounts_routes.api)
    for router in _domain_routers():
        app.include_router(router)
    install_error_handlers(app)
    # The last added runs first: security headers, size limit, CSRF cookie, locale.
    app.add_middleware(LocaleMiddleware, default=settings.default_locale)
    app.add_middleware(CsrfCookieMiddleware, secure=settings.secure_cookies)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies)
    return app
