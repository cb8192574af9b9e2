"""create_app(): the ASGI application (static files, routers, error handlers).

Routers are included from each domain's ``routes`` module (``router`` for pages, ``api``
for the JSON API under ``/api/``; the API routers first: a request is matched against the
routes in order, and API clients such as voting kiosks are the busiest).  Every route gets
the app-wide dependency ``guard_request``: the current user is loaded (so every page shows
who is signed in), unsafe methods need a CSRF token, control characters are refused.
"""

from __future__ import annotations

import gc
import importlib
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from app.accounts import routes as accounts_routes
from app.core import accesslog
from app.core.config import Settings, get_settings
from app.core.errors import BodySizeLimitMiddleware, install_error_handlers
from app.core.http import HeadAsGetMiddleware
from app.core.i18n import LocaleMiddleware
from app.core.security import CsrfCookieMiddleware, SecurityHeadersMiddleware, guard_request
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


def _domain_routers(attr: str) -> list[APIRouter]:
    """The ``attr`` router ("router": pages, "api": JSON API) of each domain route module."""
    routers: list[APIRouter] = []
    for name in DOMAIN_ROUTE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
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
        dependencies=[Depends(guard_request)],
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    # Dependencies read the settings from app.state (``request_settings``), not through
    # dependency_overrides: any override makes FastAPI rebuild every dependency graph on
    # every request (a large share of a request's CPU).
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Every API path starts with /api/ and no page path does: the order of the two groups
    # changes no match, only how many routes a request is tried against.
    for router in [*_domain_routers("api"), accounts_routes.api]:
        app.include_router(router)
    app.include_router(home_router)
    app.include_router(accounts_routes.router)
    for router in _domain_routers("router"):
        app.include_router(router)
    install_error_handlers(app)
    # The last added runs first: HEAD as GET, security headers, locale (so that a refusal
    # of the size limit is in the request's language), size limit, CSRF cookie.
    app.add_middleware(CsrfCookieMiddleware, secure=settings.secure_cookies)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(LocaleMiddleware, default=settings.default_locale)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies)
    app.add_middleware(HeadAsGetMiddleware)
    return app


def server_app() -> FastAPI:
    """The app of a server process (``plaza serve``; ``uvicorn app.main:server_app --factory``).

    ``create_app()``, then the process's garbage collector is tuned for serving: what was
    loaded at start-up (modules, routes, templates, compiled statements) is frozen out of
    every collection, and the young generation is collected every 50,000 allocations
    rather than every 700 (a request allocates a few thousand objects, nearly all freed
    by reference counting, and each collection scans every young object). The server's logs
    are set never to carry a receipt (``app.core.accesslog``, ADR 0001).
    """
    app = create_app()
    accesslog.install(app)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    return app
