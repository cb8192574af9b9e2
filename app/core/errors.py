"""Errors with a clear message, never a 500.

Services raise ``DomainError`` (or a subclass); they never raise ``HTTPException``.

- Pages: a handler that can show the form again catches the ``DomainError`` and raises
  ``FormError(render(..., status_code=422))``: raising (not returning) makes the request's
  session roll back, so nothing half-written survives, and the handler below sends the
  re-rendered form.  An uncaught ``DomainError`` shows the error page with its message.
- ``/api/``: a JSON problem (RFC 9457, ``application/problem+json``).
- 404, 405, 413 (huge bodies, see ``BodySizeLimitMiddleware``), 422 (malformed input) get the
  same treatment.
- Input refused before a page handler runs (a field too long or not a number, a NUL or other
  control character) shows the form again: each page router declares, with ``form_page``,
  which page shows the form a route receives; ``show_form_again`` renders that page (a GET
  through the app, same cookies) with the field's message and what was typed, status 422.
  Anonymous visitors of a protected page are sent to the login form.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import NoMatchFound
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.http import allowed_methods
from app.core.i18n import HTML_LANG, _

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("plaza")


class DomainError(Exception):
    """A refusal with a message for a person (already translated when raised)."""

    status_code = 422
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(DomainError):
    status_code = 404
    code = "not-found"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("This page or item does not exist."))


class PermissionDeniedError(DomainError):
    status_code = 403
    code = "forbidden"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("Your account is not allowed to do this."))


class AuthenticationRequiredError(DomainError):
    status_code = 401
    code = "login-required"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("Please log in first."))


class CsrfError(DomainError):
    status_code = 403
    code = "csrf"

    def __init__(self) -> None:
        super().__init__(
            _("This form has expired or did not come from Plaza. Reload the page and try again.")
        )


class ConflictError(DomainError):
    status_code = 409
    code = "conflict"


class ForbiddenCharactersError(DomainError):
    code = "forbidden-characters"

    def __init__(self, *, field: str | None = None) -> None:
        super().__init__(_("The text contains characters that are not allowed."), field=field)


class FormError(Exception):
    """Carries a ready response (a form shown again with messages) out of a handler."""

    def __init__(self, response: Response) -> None:
        super().__init__("form shown again")
        self.response = response


@dataclass(frozen=True)
class FormRedo:
    """A form to show again: the refusal, what was typed (no secrets), the page section."""

    error: DomainError
    values: dict[str, str] = field(default_factory=dict)
    section: str | None = None
    htmx: bool = False


#: For an htmx post, the page's main content replaces what ``<main id="main">`` holds.
REDO_HTMX_HEADERS = {"HX-Retarget": "#main", "HX-Reswap": "innerHTML"}

# post route name -> (route name of the page that shows its form, section of that page)
_FORM_PAGES: dict[str, tuple[str, str | None]] = {}
_NOT_ECHOED = frozenset({"password", "csrf_token"})
_FORWARDED_SCOPE_KEYS = (
    "type", "asgi", "http_version", "scheme", "server", "client", "root_path", "extensions",
)  # fmt: skip


def form_page(post_route: str, page_route: str, *, section: str | None = None) -> None:
    """Declare that the form posted to ``post_route`` is shown by the page ``page_route``.

    The page's GET handler must take the post route's path parameters (or a subset).
    ``section`` tells a page with several forms which one the message belongs to.
    """
    _FORM_PAGES[post_route] = (page_route, section)


def form_redo(request: Request) -> FormRedo | None:
    redo = request.scope.get("state", {}).get("form_redo")
    return redo if isinstance(redo, FormRedo) else None


async def show_form_again(request: Request, error: DomainError) -> Response | None:
    """The page of the refused form with ``error`` at its field (422), or None if unknown."""
    if wants_json(request) or request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    from app.core.htmx import is_htmx

    route_name = getattr(request.scope.get("route"), "name", None)
    page = _FORM_PAGES.get(route_name or "")
    if page is None:
        return None
    try:
        path = request.app.url_path_for(page[0], **request.path_params)
    except NoMatchFound:
        return None
    typed = request.scope.get("state", {}).get("form_values") or {}
    values = {
        k: v
        for k, v in typed.items()
        if k not in _NOT_ECHOED and k != error.field and len(v) < 10_000
    }
    redo = FormRedo(error=error, values=values, section=page[1], htmx=is_htmx(request))
    headers = [
        (k, v)
        for k, v in request.scope["headers"]
        if k not in (b"content-type", b"content-length") and not k.startswith(b"hx-")
    ]
    scope: dict[str, Any] = {
        k: request.scope[k] for k in _FORWARDED_SCOPE_KEYS if k in request.scope
    }
    scope.update(
        method="GET",
        path=str(path),
        raw_path=str(path).encode(),
        query_string=b"",
        headers=headers,
        state={**request.scope.get("state", {}), "form_redo": redo},
    )
    status = 0
    response_headers: list[tuple[bytes, bytes]] = []
    body: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.extend(message.get("headers", []))
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await request.app(scope, receive, send)
    if status != 422:  # the page did not show the form (a redirect, a refusal): plain error
        return None
    response = Response(b"".join(body), status_code=422)
    for key, value in response_headers:
        if key.lower() != b"content-length":
            response.headers.append(key.decode("latin-1"), value.decode("latin-1"))
    return response


def _input_error(errors: list[dict[str, Any]]) -> DomainError:
    """A person's message for the first refused form field."""
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    name = loc[-1] if loc else None
    kind = first.get("type", "")
    ctx = first.get("ctx") or {}
    if kind == "string_too_long":
        message = _("This text is too long: at most %(max)s characters.") % {
            "max": ctx.get("max_length", "?")
        }
    elif kind in ("int_parsing", "int_from_float", "int_type"):
        message = _("Enter a whole number.")
    elif kind == "missing":
        message = _("This field is required.")
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        message = _("A number is out of range.")
    else:
        message = _("Some values are missing or not valid.")
    return DomainError(message, field=name)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def problem(
    status: int, title: str, detail: str, *, code: str = "about:blank", **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": code if code == "about:blank" else f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


_TITLES = {
    400: "Bad request",
    401: "Login required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Invalid input",
    429: "Too many requests",
}


def _title(status: int) -> str:
    titles = {
        400: _("Bad request"),
        401: _("Login required"),
        403: _("Forbidden"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        413: _("Request too large"),
        422: _("Invalid input"),
        429: _("Too many requests"),
    }
    return titles.get(status, _("Error"))


def _error_page(
    request: Request,
    status: int,
    message: str,
    details: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    from app.core.templating import render

    return render(
        request,
        "error.html",
        {"status": status, "title": _title(status), "message": message, "details": details or []},
        block="main_content",
        status_code=status,
        headers=headers,
    )


def _login_redirect(request: Request) -> Response:
    from app.core.htmx import is_htmx

    target = request.url.path
    if request.url.query and request.method == "GET":
        target += "?" + request.url.query
    from urllib.parse import quote

    login = "/login?next=" + quote(target, safe="/")
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": login})
    return Response(status_code=303, headers={"Location": login})


def problem_for(exc: DomainError) -> JSONResponse:
    """The JSON problem of a refusal (for an API handler that returns it instead of raising,
    so that what it counted, such as a failed attempt, is committed)."""
    extra: dict[str, Any] = {}
    if exc.field:
        extra["errors"] = [{"field": exc.field, "message": exc.message}]
    response = problem(
        exc.status_code, _TITLES.get(exc.status_code, "Error"), exc.message, code=exc.code, **extra
    )
    if exc.status_code == 429:
        response.headers["Retry-After"] = "60"
    return response


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if wants_json(request):
        return problem_for(exc)
    if isinstance(exc, AuthenticationRequiredError):
        return _login_redirect(request)
    if isinstance(exc, ForbiddenCharactersError):
        again = await show_form_again(request, exc)
        if again is not None:
            return again
    return _error_page(request, exc.status_code, exc.message)


async def form_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormError)
    return exc.response


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 404:
        message = _("This page or item does not exist.")
    elif status == 405:
        message = _("This address does not accept that kind of request.")
        headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
    elif status == 413:
        message = _("The request is too large.")
    elif status == 400:
        message = _("The request could not be read.")
    else:
        message = _title(status)
    if wants_json(request):
        response = problem(status, _TITLES.get(status, "Error"), message)
        response.headers.update(headers)
        return response
    return _error_page(request, status, message, headers=headers)


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body",))
    return f"{location}: {error.get('msg', '')}" if location else str(error.get("msg", ""))


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())[:20]
    if wants_json(request):
        return problem(
            422,
            "Invalid input",
            _("Some values are missing or not valid."),
            code="validation",
            errors=[
                {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                for e in errors
            ],
        )
    if errors:
        again = await show_form_again(request, _input_error(errors))
        if again is not None:
            return again
    return _error_page(
        request, 422, _("Some values are missing or not valid."), [_describe(e) for e in errors]
    )


# The widest integer a path id or a stored number can hold (PostgreSQL INTEGER ids; BIGINT
# money is bounded tighter by the schemas and ``app.core.money``).
MAX_ID = 2**31 - 1


async def out_of_range_handler(request: Request, exc: Exception) -> Response:
    """A value the database cannot hold (an id or amount beyond its integer type, a NUL).

    SQLite raises ``OverflowError`` before the query runs, PostgreSQL ``DataError``
    ("integer out of range"); the request's session has rolled back either way.  An id in
    the URL that no row can have is a 404, any other number a 422, never a 500.
    """
    too_big_id = any(
        digits.isascii() and digits.isdigit() and int(digits) > MAX_ID
        for digits in (str(v).lstrip("-") for v in request.path_params.values())
    )
    if too_big_id:
        return await http_error_handler(request, StarletteHTTPException(404))
    if isinstance(exc, OverflowError) or "out of range" in str(exc):
        message = _("A number is out of range.")
    else:  # e.g. a NUL character, which PostgreSQL text cannot hold
        message = _("Some values contain characters that cannot be stored.")
    if wants_json(request):
        return problem(422, "Invalid input", message, code="out-of-range")
    return _error_page(request, 422, message)


async def conflict_handler(request: Request, exc: Exception) -> Response:
    """A database constraint refused the write (e.g. two sign-ups with one e-mail racing).

    Services check first, so this is the race they cannot see; the transaction has rolled
    back, so retrying is safe.
    """
    log.warning("constraint refused a write on %s %s: %s", request.method, request.url.path, exc)
    message = _(
        "This change conflicts with another one made at the same time. Nothing was "
        "saved; please try again."
    )
    if wants_json(request):
        return problem(409, "Conflict", message, code="conflict")
    return _error_page(request, 409, message)


async def unavailable_handler(request: Request, exc: Exception) -> Response:
    """The database could not do the work now (unreachable, locked, a deadlock or a
    serialization failure): the transaction rolled back, so trying again is safe."""
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    message = _(
        "Plaza is very busy or cannot reach its database just now. Nothing was saved; please "
        "try again in a moment."
    )
    response: Response
    if wants_json(request):
        response = problem(503, "Service unavailable", message, code="unavailable")
    else:
        response = _error_page(request, 503, message)
    response.headers["Retry-After"] = "5"
    return response


async def server_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = _("Something went wrong on our side. Nothing was saved; please try again.")
    if wants_json(request):
        return problem(500, "Server error", message)
    try:
        return _error_page(request, 500, message)
    except Exception:  # pragma: no cover - the error page itself failed
        return Response(message, status_code=500, media_type="text/plain")


#: refused in any text: C0 controls but tab and line breaks, DEL and the C1 controls (no
#: person types them; PostgreSQL cannot store NUL), and the bidirectional embeddings,
#: overrides and isolates (U+202A-U+202E, U+2066-U+2069), which make text show in another
#: order than it is written ("Trojan Source"; a display name that turns the words around
#: it). The marks U+200E and U+200F, which right-to-left writing does use, are fine.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_JSON_SUFFIX = re.compile(r"application/[^/]+\+json")
#: the same in a JSON body's bytes: as themselves (UTF-8) or maybe escaped (a backslash)
_JSON_MAY_HIDE_CONTROLS = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\\]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
)


def _has_control_character(value: Any) -> bool:
    """Whether any string in ``value`` (nested dicts and lists too) has a control character.

    Iterative: a hostile, deeply nested JSON body must not exhaust the stack.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _FORBIDDEN.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def read_form(request: Request) -> FormData:
    """The request's form (parsed once, cached by Starlette), its uploads closed at the end.

    FastAPI closes the files of the forms it parses for ``Form()`` parameters; a form read
    by hand (app-wide dependencies, handlers with dynamic fields) needs the same, or every
    uploaded part leaks an open temporary file.
    """
    form = await request.form()
    # Kept for ``show_form_again`` (the error handlers see a new Request without the form).
    request.scope.setdefault("state", {})["form_values"] = {
        k: v for k, v in form.multi_items() if isinstance(v, str)
    }
    stack = request.scope.get("fastapi_middleware_astack")
    if stack is not None:
        stack.push_async_callback(form.close)
    return form


async def reject_control_characters(request: Request) -> None:
    """App-wide dependency: text with NUL or other control characters is refused (422).

    PostgreSQL cannot store NUL in text and no person types one; refusing them at the door
    keeps SQLite and PostgreSQL behaving alike.  Tabs and line breaks are fine.
    """
    if any(_has_control_character(v) for v in request.query_params.values()):
        raise ForbiddenCharactersError()
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    # the media type as the parsers read it: Starlette's forms and FastAPI's JSON bodies
    # (``application/json``, any ``application/...+json``, or no content type at all) match
    # it whatever its case
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await read_form(request)
        for name, value in form.multi_items():
            if _has_control_character(name):
                raise ForbiddenCharactersError()
            if isinstance(value, str) and _has_control_character(value):
                raise ForbiddenCharactersError(field=name)
        return
    elif not media or media == "application/json" or _JSON_SUFFIX.fullmatch(media):
        import json

        body = await request.body()
        # A control character reaches a JSON value only as itself or escaped (after a
        # backslash): a body with neither needs no second parse (FastAPI parses it for the
        # handler).
        if _JSON_MAY_HIDE_CONTROLS.search(body) is None:
            return
        try:
            values = [json.loads(body)]
        except (ValueError, RecursionError):
            return  # malformed or absurdly nested JSON: FastAPI's parser refuses it (4xx)
    else:
        return
    if any(_has_control_character(v) for v in values):
        raise ForbiddenCharactersError()


class BodySizeLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` with 413 before anything reads them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await self._refuse(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise StarletteHTTPException(413)
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path.startswith("/api/"):
            response: Response = problem(413, "Request too large", _("The request is too large."))
        else:  # (before the app: a plain page in the request's language, with a way back)
            lang = HTML_LANG.get(scope.get("state", {}).get("locale", ""), "en")
            title, message = _("Request too large"), _("The request is too large.")
            response = HTMLResponse(
                f'<!doctype html><html lang="{lang}"><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{title} · Plaza</title><main><h1>{title}</h1><p>{message}</p>"
                f'<p><a href="/">{_("Back to the start page")}</a></p></main></html>',
                status_code=413,
            )
        await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(FormError, form_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(OverflowError, out_of_range_handler)
    app.add_exception_handler(DataError, out_of_range_handler)
    app.add_exception_handler(IntegrityError, conflict_handler)
    app.add_exception_handler(OperationalError, unavailable_handler)
    app.add_exception_handler(Exception, server_error_handler)
