"""The htmx server contract: detect htmx requests, redirect after a successful post."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

#: what a path may hold as it is (RFC 3986's reserved and unreserved characters, and ``%``
#: for what is already encoded); anything else is percent-encoded as UTF-8
_URL_SAFE = "/?#[]@!$&'()*+,;=:-._~%"


def is_htmx(request: Request) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def see_other(request: Request, url: str) -> Response:
    """After a successful post: 303 for a browser, ``HX-Redirect`` for htmx."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url, "Vary": "HX-Request"})
    return Response(status_code=303, headers={"Location": url, "Vary": "HX-Request"})


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to (never another site: no scheme, no ``//``, no ``\\``),
    percent-encoded where it is not ASCII (a ``Location`` header is Latin-1 at most, and
    a browser sends ``/cycles/中`` as ``/cycles/%E4%B8%AD`` anyway)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if len(target) > 2000 or any(ord(ch) < 32 for ch in target):
        return default
    return quote(target, safe=_URL_SAFE)
