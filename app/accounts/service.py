"""Account verbs: sign up, create staff accounts, authenticate, log in and out.

Services flush and never commit; they raise ``DomainError`` subclasses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.core import ratelimit
from app.core.config import Settings
from app.core.errors import ConflictError, DomainError
from app.core.i18n import _
from app.core.security import (
    Role,
    User,
    dummy_verify,
    end_session,
    hash_password,
    start_session,
    verify_password,
)

EMAIL_RE = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,189}\.[^@\s<>.]{2,}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200


class InvalidCredentialsError(DomainError):
    status_code = 401
    code = "invalid-credentials"


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _check_email(email: str) -> str:
    email = normalize_email(email)
    if not email:
        raise DomainError(_("Enter your e-mail address."), field="email")
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise DomainError(_("Enter a valid e-mail address, like name@example.org."), field="email")
    return email


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise DomainError(
            _("Choose a password of at least %(n)d characters.") % {"n": MIN_PASSWORD},
            field="password",
        )
    if len(password) > MAX_PASSWORD:
        raise DomainError(
            _("Choose a password of at most %(n)d characters.") % {"n": MAX_PASSWORD},
            field="password",
        )
    return password


def _check_name(name: str, email: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        name = email.split("@", 1)[0]
    if len(name) > 100:
        raise DomainError(_("Use at most 100 characters for your name."), field="display_name")
    return name


def create_account(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str = "",
    role: Role,
    settings: Settings,
) -> User:
    """Create an account with ``role`` (residents sign up; staff are created by the CLI)."""
    email = _check_email(email)
    _check_password(password)
    name = _check_name(display_name, email)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise ConflictError(_("An account with this e-mail address already exists."), field="email")
    user = User(
        email=email,
        display_name=name,
        password_hash=hash_password(password, settings),
        role=role.value,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ConflictError(
            _("An account with this e-mail address already exists."), field="email"
        ) from None
    return user


def sign_up_resident(
    session: Session, *, email: str, password: str, display_name: str, settings: Settings
) -> User:
    return create_account(
        session,
        email=email,
        password=password,
        display_name=display_name,
        role=Role.resident,
        settings=settings,
    )


def authenticate(session: Session, *, email: str, password: str, settings: Settings) -> User:
    """The account for these credentials, or ``InvalidCredentialsError`` (same time either way)."""
    email = normalize_email(email)
    user = session.exec(select(User).where(User.email == email)).first() if email else None
    if user is None:
        dummy_verify(password or "x", settings)
        raise InvalidCredentialsError(_("The e-mail address or the password is not right."))
    if not verify_password(user.password_hash, password, settings):
        raise InvalidCredentialsError(_("The e-mail address or the password is not right."))
    return user


def log_in(
    session: Session,
    *,
    email: str,
    password: str,
    settings: Settings,
    user_agent: str = "",
    previous_token: str | None = None,
) -> tuple[User, str]:
    """Check the credentials and open a server-side session; returns the user and cookie token.

    The browser's previous session (if any) ends: a login never keeps an old token alive.
    """
    user = authenticate(session, email=email, password=password, settings=settings)
    end_session(session, previous_token)
    token = start_session(session, user=user, settings=settings, user_agent=user_agent)
    return user, token


# Rate limits (shared by every worker through ``app.core.ratelimit``).
#
# Failed log-ins are limited per client, and per account; the per-account limit must not let a
# stranger lock the owner out (anyone who knows an address could). So it follows OWASP's
# "device cookies": a successful log-in gives the browser a signed cookie naming the account;
# a browser presenting a valid one for the account it logs in to counts its failures in a bucket
# of its own (that cookie only), never in the account's. Guessing from unknown browsers is
# limited per account as before; the owner's own browser stays usable while that happens.
LOGIN_WINDOW_SECONDS = 900
LOGIN_FAILURES_PER_CLIENT = 30
LOGIN_FAILURES_PER_ACCOUNT = 10
LOGIN_FAILURES_PER_DEVICE = 10
SIGNUP_WINDOW_SECONDS = 3600
SIGNUPS_PER_CLIENT = 20
DEVICE_COOKIE = "plaza_device"
DEVICE_MAX_AGE_SECONDS = 180 * 24 * 3600


class TooManyLoginAttemptsError(DomainError):
    status_code = 429
    code = "too-many-attempts"

    def __init__(self) -> None:
        super().__init__(
            _("Too many failed log-in attempts. Please wait a quarter of an hour and try again.")
        )


class TooManySignUpsError(DomainError):
    status_code = 429
    code = "too-many-attempts"

    def __init__(self) -> None:
        super().__init__(
            _("Too many sign-ups from this connection. Please wait an hour and try again.")
        )


def _limit_key(settings: Settings) -> bytes:
    return b"rate-limit:" + settings.secret_key.get_secret_value().encode()


def _device_signature(settings: Settings, email: str, nonce: str) -> str:
    key = b"device-cookie:" + settings.secret_key.get_secret_value().encode()
    message = f"plaza-device:{normalize_email(email)}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def device_cookie_for(email: str, settings: Settings) -> str:
    """A new device cookie value for ``email``: a random nonce and its keyed signature.

    It holds no personal data (the address is only inside the signature).
    """
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_device_signature(settings, email, nonce)}"


def trusted_device(cookie: str | None, email: str, settings: Settings) -> str | None:
    """The nonce of ``cookie`` when it is a valid device cookie for ``email``, else None."""
    nonce, _dot, signature = (cookie or "")[:200].partition(".")
    if not nonce or not signature:
        return None
    expected = _device_signature(settings, email, nonce)
    return nonce if hmac.compare_digest(expected, signature) else None


def log_in_limited(
    session: Session,
    *,
    email: str,
    password: str,
    settings: Settings,
    client: str,
    now: int,
    user_agent: str = "",
    previous_token: str | None = None,
    device: str | None = None,
) -> tuple[User, str]:
    """``log_in`` behind limits of failed attempts: per client, and per account or device.

    ``device`` is the browser's device cookie: when it is valid for ``email`` its own bucket
    replaces the account's (see above). A failed attempt is counted and
    ``InvalidCredentialsError`` raised; the caller must let the count commit (return its
    refusal rather than raise). A savepoint undoes whatever the failed login wrote, so only the
    count remains.
    """
    key = _limit_key(settings)
    nonce = trusted_device(device, email, settings)
    limits = (
        (ratelimit.bucket_for("login-client", client, key), LOGIN_FAILURES_PER_CLIENT),
        (
            (ratelimit.bucket_for("login-device", nonce, key), LOGIN_FAILURES_PER_DEVICE)
            if nonce
            else (
                ratelimit.bucket_for("login-account", normalize_email(email), key),
                LOGIN_FAILURES_PER_ACCOUNT,
            )
        ),
    )
    for bucket, limit in limits:
        if ratelimit.is_limited(
            session, bucket=bucket, now=now, limit=limit, window=LOGIN_WINDOW_SECONDS
        ):
            raise TooManyLoginAttemptsError()
    try:
        with session.begin_nested():
            return log_in(
                session,
                email=email,
                password=password,
                settings=settings,
                user_agent=user_agent,
                previous_token=previous_token,
            )
    except InvalidCredentialsError:
        for bucket, _limit in limits:
            ratelimit.record(session, bucket=bucket, now=now, window=LOGIN_WINDOW_SECONDS)
        raise


def count_sign_up(session: Session, *, settings: Settings, client: str, now: int) -> None:
    """Count a sign-up attempt of ``client`` (successful or not), refusing one over the limit.

    The caller runs the sign-up in a savepoint and lets the count commit either way.
    """
    bucket = ratelimit.bucket_for("signup-client", client, _limit_key(settings))
    if ratelimit.is_limited(
        session, bucket=bucket, now=now, limit=SIGNUPS_PER_CLIENT, window=SIGNUP_WINDOW_SECONDS
    ):
        raise TooManySignUpsError()
    ratelimit.record(session, bucket=bucket, now=now, window=SIGNUP_WINDOW_SECONDS)


def log_out(session: Session, *, token: str | None) -> None:
    end_session(session, token)
