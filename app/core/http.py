"""HTTP details every route shares: ``HEAD`` answered wherever ``GET`` is, and a 405's
``Allow`` header naming every method its path takes.

FastAPI's routes answer only the methods they declare, so a ``HEAD`` (health checks, link
checkers, a browser's pre-flight of a download) got a 405 on every page although RFC 9110
requires it wherever ``GET`` is supported; and where a path has one route per method, a
405 named only the first route's.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    """A ``HEAD`` request runs as the ``GET`` it stands for, and its answer goes out with
    the ``GET``'s headers (``Content-Length`` included) and no body. ``/static`` answers
    ``HEAD`` itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "HEAD"
            or scope["path"].startswith("/static/")
        ):
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # (the rest of a streamed body: dropped)
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def takes(request: Request, method: str, path: str | None = None) -> bool:
    """Whether one of the app's routes takes ``method`` at ``path`` (the request's own path
    if None; else a local path as a browser sends it, percent-encoded). FastAPI's included
    routers answer ``matches`` as a whole."""
    scope = {**request.scope, "method": method}
    if path is not None:
        scope.update(path=unquote(path), root_path="")
    return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at the request's path (``HEAD`` wherever ``GET``)."""
    methods = [method for method in _METHODS if takes(request, method)]
    if "GET" in methods:
        methods.append("HEAD")
    return sorted(methods)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
