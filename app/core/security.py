"""Accounts' infrastructure: the user and session tables, passwords, sessions, CSRF, guards.

- Passwords: Argon2id (argon2-cffi), parameters from the settings; ``hash_password`` /
  ``verify_password``.
- Sessions live in the ``user_session`` table (shared by every app process).  The cookie holds
  a random token; the table holds only its SHA-256.  ``start_session`` / ``end_session``
  (logout deletes the row, so a stolen cookie dies with it).
- CSRF: a random ``plaza_csrf`` cookie (set by ``CsrfCookieMiddleware``) and the token
  ``HMAC(secret_key, cookie)`` ("signed double submit").  Every form carries it as the
  ``csrf_token`` field and ``<body hx-headers>`` sends it as ``X-CSRF-Token``; the app-wide
  dependency ``verify_csrf`` refuses unsafe requests without a valid one (403).
- Guards: ``CurrentUser`` (401 when anonymous: pages redirect to the login form),
  ``OptionalUser``, ``require_role(Role.organizer, ...)`` (403 for other roles).  Declare the
  guard before any dependency that loads an object, so an outsider cannot probe for ids.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, Request
from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, delete
from sqlmodel import Field, Session, SQLModel, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings, get_settings, request_settings
from app.core.db import SAFE_METHODS, SessionDep, UTCDateTime, utcnow
from app.core.errors import (
    AuthenticationRequiredError,
    CsrfError,
    PermissionDeniedError,
    read_form,
    reject_control_characters,
)
from app.core.i18n import N_

SESSION_COOKIE = "plaza_session"
CSRF_COOKIE = "plaza_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class Role(StrEnum):
    resident = "resident"
    organizer = "organizer"
    auditor = "auditor"


ROLE_VALUES = tuple(r.value for r in Role)
ROLE_LABELS = {
    Role.resident: N_("resident"),
    Role.organizer: N_("organizer"),
    Role.auditor: N_("auditor"),
}


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(
            "role IN ('resident', 'organizer', 'auditor')",
            name="role_known",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=False)
    display_name: str = Field(max_length=100)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class UserSession(SQLModel, table=True):
    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 hex of the cookie token
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    user_agent: str = Field(default="", sa_column=Column(String(200), nullable=False))


# --- passwords -------------------------------------------------------------------------------


def _hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
    )


def hash_password(password: str, settings: Settings | None = None) -> str:
    """Argon2id hash of ``password``."""
    return str(_hasher(settings or get_settings()).hash(password))


def verify_password(password_hash: str, password: str, settings: Settings | None = None) -> bool:
    try:
        return bool(_hasher(settings or get_settings()).verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def dummy_verify(password: str, settings: Settings | None = None) -> None:
    """Spend the time of a password check (unknown e-mail: answer in the same time)."""
    s = settings or get_settings()
    verify_password(_dummy_hash(s.argon2_time_cost, s.argon2_memory_cost_kib), password, s)


_DUMMY: dict[tuple[int, int], str] = {}


def _dummy_hash(time_cost: int, memory: int) -> str:
    key = (time_cost, memory)
    if key not in _DUMMY:
        _DUMMY[key] = hash_password(secrets.token_urlsafe(16))
    return _DUMMY[key]


# --- sessions --------------------------------------------------------------------------------


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, *, user: User, settings: Settings, user_agent: str = "") -> str:
    """Create a server-side session for ``user``; returns the cookie token (shown once)."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # Housekeeping: this user's expired sessions go (the table does not grow without end).
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,  # type: ignore[arg-type]
            UserSession.expires_at <= now,  # type: ignore[arg-type]
        )
    )
    session.add(
        UserSession(
            id=_token_id(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.session_max_age_seconds),
            user_agent=user_agent[:200],
        )
    )
    session.flush()
    return token


def end_session(session: Session, token: str | None) -> None:
    """Log out: delete the session row (the cookie becomes worthless)."""
    if token:
        session.execute(delete(UserSession).where(UserSession.id == _token_id(token)))  # type: ignore[arg-type]
        session.flush()


def end_all_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(UserSession).where(UserSession.user_id == user_id))  # type: ignore[arg-type]
    session.flush()


def user_for_token(session: Session, token: str | None) -> User | None:
    if not token or len(token) > 200:
        return None
    row = session.exec(
        select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)  # type: ignore[arg-type]
        .where(UserSession.id == _token_id(token))
    ).first()
    if row is None:
        return None
    user, user_session = row
    if user_session.expires_at <= utcnow():
        return None
    return user


def set_session_cookie(response: Any, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Any, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, secure=settings.secure_cookies, samesite="lax", path="/"
    )


# --- response headers ------------------------------------------------------------------------

_SESSION_COOKIE_SET = re.compile(rb"(?:^|;)\s*" + SESSION_COOKIE.encode() + rb"=[^;\s]")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Defence in depth on every response: no framing, no sniffing, a strict script policy,
    and no page kept where it should not be.

    Scripts come only from ``/static`` (htmx runs with ``allowEval: false``); the interactive
    API docs at ``/api/docs`` load Swagger UI from its CDN and are left without the policy.

    Caching: every page and API answer is made for one client (its CSRF token, its language,
    its account), so none is for a shared cache: ``private, no-cache`` (the browser asks
    again before reusing it), and ``no-store`` for a signed-in client (nothing of a
    session kept on disk, as on a kiosk or a library computer). A handler's own
    ``Cache-Control`` stands. ``Vary`` names what chooses the answer besides the URL. The
    static files (versioned, the same for everyone) are left to their own headers.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        docs = path.startswith("/api/docs")
        static = path.startswith("/static/")
        signed_in = any(
            name == b"cookie" and _SESSION_COOKIE_SET.search(value)
            for name, value in scope.get("headers", ())
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not static:
                    headers.setdefault(
                        "Cache-Control", "no-store" if signed_in else "private, no-cache"
                    )
                    for name in ("Cookie", "Accept-Language"):
                        headers.add_vary_header(name)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                if not docs:
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- CSRF ------------------------------------------------------------------------------------


class CsrfCookieMiddleware:
    """Give every client a random CSRF cookie; expose it to handlers as ``state.csrf_seed``."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seed = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _, val = part.strip().partition("=")
                    if key == CSRF_COOKIE and 20 <= len(val) <= 100:
                        seed = val
        fresh = seed is None
        if seed is None:
            seed = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_seed"] = seed

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                cookie = f"{CSRF_COOKIE}={seed}; Path=/; HttpOnly; SameSite=Lax"
                if self.secure:
                    cookie += "; Secure"
                headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def csrf_token(request: Request, settings: Settings, *, session_token: str | None = None) -> str:
    """The token to embed in forms and ``hx-headers`` for this client and its session.

    It is bound to the browser's random CSRF cookie *and* to its session cookie (OWASP's
    signed double submit with the session): a token seen or planted before a log-in is
    worthless after it, and one cookie tossed in by a sibling site is not enough.
    ``session_token`` names the session a response is about to set (log-in, sign-up).
    """
    seed = getattr(request.state, "csrf_seed", "")
    if session_token is None:
        session_token = request.cookies.get(SESSION_COOKIE) or ""
    bound = hashlib.sha256(session_token.encode("utf-8", "replace")).hexdigest()
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"csrf:{seed}:{bound}".encode(), hashlib.sha256).hexdigest()


async def verify_csrf(request: Request) -> None:
    """App-wide dependency: unsafe methods need a valid CSRF token (header or form field)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await read_form(request)
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    # Compare bytes: compare_digest refuses non-ASCII str (a TypeError, i.e. a 500).
    expected = csrf_token(request, request_settings(request)).encode()
    if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), expected):
        raise CsrfError()


# --- guards ----------------------------------------------------------------------------------


async def get_optional_user(request: Request, session: SessionDep) -> User | None:
    """The logged-in user or None (cached on ``request.state.user``).

    Async: a request without a session cookie (a voter, an API client) costs no database
    query and no thread hop; with one, the lookup runs in the threadpool.
    """
    if hasattr(request.state, "user"):
        cached: User | None = request.state.user
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    user = await run_in_threadpool(_load_user, session, token) if token else None
    request.state.user = user
    return user


def _load_user(session: Session, token: str) -> User | None:
    user = user_for_token(session, token)
    if user is not None:
        # Detached with its columns loaded: a rollback (an error) must not expire it, because
        # the error page still shows who is signed in after the session has closed.
        session.expunge(user)
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def guard_request(request: Request, session: SessionDep) -> None:
    """The app-wide dependency of every route, in this order: load the signed-in user (every
    page shows who is signed in, error pages too), refuse an unsafe request without a valid
    CSRF token (``verify_csrf``), refuse text with control characters
    (``reject_control_characters``).  One dependency rather than three: FastAPI solves every
    dependency of every request again, and this runs on every request."""
    await get_optional_user(request, session)
    await verify_csrf(request)
    await reject_control_characters(request)


def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise AuthenticationRequiredError()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: Role) -> Callable[..., User]:
    """A dependency that returns the current user if they hold one of ``roles`` (else 403)."""
    allowed = frozenset(roles)

    def guard(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise PermissionDeniedError()
        return user

    guard.roles = allowed  # type: ignore[attr-defined]  # read by the route-walk test
    guard.__name__ = "require_" + "_or_".join(sorted(r.value for r in roles))
    return guard


OrganizerUser = Annotated[User, Depends(require_role(Role.organizer))]
ResidentUser = Annotated[User, Depends(require_role(Role.resident))]
StaffUser = Annotated[User, Depends(require_role(Role.organizer, Role.auditor))]
