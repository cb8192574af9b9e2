"""Log-in and sign-up attempts are rate-limited in the database (SQLite and PostgreSQL).

Counts live in ``rate_limit_bucket`` (``app.core.ratelimit``), so every worker shares them; a
refused attempt's count is committed even though the attempt failed (each request below
commits or rolls back on its own, as in production).
"""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session, select

from app.accounts import service
from app.accounts.models import User
from app.core.config import Settings
from app.core.security import SESSION_COOKIE
from tests.factories import make_user

PASSWORD = "correct horse battery"


def test_login_is_limited_per_account(client: Any, db_session: Session) -> None:
    user = make_user(db_session, email="limit@example.org", password=PASSWORD)
    db_session.commit()
    wrong = {"email": user.email, "password": "wrong password!"}
    for _ in range(service.LOGIN_FAILURES_PER_ACCOUNT):
        assert client.post("/login", data=wrong).status_code == 422
    # Even the right password is refused until the window ends: the account is being guessed.
    refused = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 429
    page = BeautifulSoup(refused.text, "html.parser")
    assert page.find("form") is not None
    assert "Too many failed log-in attempts" in page.get_text()
    zh = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"Accept-Language": "zh-CN", "HX-Request": "true"},
    )
    assert zh.status_code == 429 and "Too many" not in zh.text and "<html" not in zh.text
    api = client.post("/api/session", json={"email": user.email, "password": PASSWORD})
    assert api.status_code == 429
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["type"] == "/problems/too-many-attempts"
    # Another account from the same client is not affected.
    other = make_user(db_session, email="other@example.org", password=PASSWORD)
    db_session.commit()
    ok = client.post("/login", data={"email": other.email, "password": PASSWORD})
    assert ok.status_code == 303


def test_login_is_limited_per_client(db_session: Session, settings: Settings) -> None:
    now = 1_800_000_000
    for n in range(service.LOGIN_FAILURES_PER_CLIENT):
        with pytest.raises(service.InvalidCredentialsError):
            service.log_in_limited(
                db_session,
                email=f"nobody{n}@example.org",
                password="guess guess",
                settings=settings,
                client="203.0.113.7",
                now=now,
            )
    with pytest.raises(service.TooManyLoginAttemptsError):
        service.log_in_limited(
            db_session,
            email="fresh@example.org",
            password="guess guess",
            settings=settings,
            client="203.0.113.7",
            now=now + 1,
        )
    # Another client, and the same client in the next window, may try again.
    with pytest.raises(service.InvalidCredentialsError):
        service.log_in_limited(
            db_session,
            email="fresh@example.org",
            password="guess guess",
            settings=settings,
            client="203.0.113.8",
            now=now + 1,
        )
    with pytest.raises(service.InvalidCredentialsError):
        service.log_in_limited(
            db_session,
            email="fresh@example.org",
            password="guess guess",
            settings=settings,
            client="203.0.113.7",
            now=now + service.LOGIN_WINDOW_SECONDS,
        )


def test_signup_is_limited_per_client(client: Any, db_session: Session) -> None:
    for n in range(service.SIGNUPS_PER_CLIENT):
        # Refused sign-ups count too (a short password here), so do accepted ones.
        password = PASSWORD if n % 2 else "short"
        data = {"email": f"new{n}@example.org", "password": password, "display_name": "N"}
        client.cookies.delete(SESSION_COOKIE)
        response = client.post("/signup", data=data)
        assert response.status_code == (303 if n % 2 else 422)
    client.cookies.delete(SESSION_COOKIE)
    last = {"email": "last@example.org", "password": PASSWORD, "display_name": "L"}
    refused = client.post("/signup", data=last)
    assert refused.status_code == 429
    assert "Too many sign-ups" in BeautifulSoup(refused.text, "html.parser").get_text()
    assert db_session.exec(select(User).where(User.email == "last@example.org")).first() is None
    api = client.post("/api/accounts", json=last)
    assert api.status_code == 429
    assert api.headers["content-type"].startswith("application/problem+json")
    created = db_session.exec(select(User).where(User.email.like("new%@example.org"))).all()  # type: ignore[attr-defined]
    assert len(created) == service.SIGNUPS_PER_CLIENT // 2
