"""Account verbs: sign up, create staff accounts, authenticate, log in and out.

Services flush and never commit; they raise ``DomainError`` subclasses.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

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


def log_out(session: Session, *, token: str | None) -> None:
    end_session(session, token)
