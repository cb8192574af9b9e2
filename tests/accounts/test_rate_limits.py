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


def test_a_stranger_guessing_cannot_lock_the_owner_out(
    client: Any, db_session: Session, settings: Settings
) -> None:
    """OWASP device cookies: the owner's browser has its own bucket, not the account's."""
    owner = make_user(db_session, email="owner@example.org", password=PASSWORD)
    make_user(db_session, email="neighbour@example.org", password=PASSWORD)
    db_session.commit()
    ok = client.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert ok.status_code == 303
    device = client.cookies.get(service.DEVICE_COOKIE)
    assert device and owner.email not in device
    set_cookie = ok.headers["set-cookie"].lower()
    assert "plaza_device=" in set_cookie and "httponly" in set_cookie
    client.post("/logout")

    # A stranger (no device cookie) guesses until the account is locked for strangers.
    client.cookies.delete(service.DEVICE_COOKIE)
    wrong = {"email": owner.email, "password": "wrong password!"}
    for _ in range(service.LOGIN_FAILURES_PER_ACCOUNT):
        assert client.post("/login", data=wrong).status_code == 422
    assert (
        client.post("/login", data={"email": owner.email, "password": PASSWORD}).status_code == 429
    )
    # A device cookie of another account, or a forged one, does not get round it.
    neighbour = service.device_cookie_for("neighbour@example.org", settings)
    nonce = neighbour.split(".")[0]
    for forged in (neighbour, f"{nonce}.{'0' * 64}", "garbage"):
        client.cookies.set(service.DEVICE_COOKIE, forged)
        refused = client.post("/login", data={"email": owner.email, "password": PASSWORD})
        assert refused.status_code == 429, forged

    # The owner's browser still logs in, by form and by API.
    client.cookies.delete(service.DEVICE_COOKIE)
    client.cookies.set(service.DEVICE_COOKIE, device)
    assert (
        client.post("/login", data={"email": owner.email, "password": PASSWORD}).status_code == 303
    )
    api = client.post("/api/session", json={"email": owner.email, "password": PASSWORD})
    assert api.status_code == 200
    # ...and its own wrong guesses are limited in its own bucket.
    for _ in range(service.LOGIN_FAILURES_PER_DEVICE):
        assert client.post("/login", data=wrong).status_code == 422
    assert (
        client.post("/login", data={"email": owner.email, "password": PASSWORD}).status_code == 429
    )


def test_device_cookie_is_bound_to_the_account(settings: Settings) -> None:
    cookie = service.device_cookie_for("Someone@Example.org ", settings)
    assert service.trusted_device(cookie, "someone@example.org", settings)
    assert service.trusted_device(cookie, "someone.else@example.org", settings) is None
    nonce, signature = cookie.split(".")
    assert service.trusted_device(f"{nonce}x.{signature}", "someone@example.org", settings) is None
    assert service.trusted_device(None, "someone@example.org", settings) is None
    assert service.trusted_device("", "someone@example.org", settings) is None


def test_expired_buckets_are_purged_when_a_new_window_opens(db_session: Session) -> None:
    from app.core import ratelimit

    now = 1_800_000_000
    for n in range(3):  # buckets of just over a day ago
        ratelimit.record(db_session, bucket=f"test:old{n}", now=now - 86_500, window=60)
    ratelimit.record(db_session, bucket="test:recent", now=now - 3600, window=60)
    # A second event in a running window purges nothing.
    ratelimit.record(db_session, bucket="test:recent", now=now - 3600 + 1, window=60)
    buckets = {b.bucket for b in db_session.exec(select(ratelimit.RateLimitBucket)).all()}
    assert {"test:old0", "test:old1", "test:old2", "test:recent"} <= buckets
    # The first event of a new window does; a bucket younger than a day stays.
    assert ratelimit.record(db_session, bucket="test:new", now=now, window=60) == 1
    buckets = {b.bucket for b in db_session.exec(select(ratelimit.RateLimitBucket)).all()}
    assert buckets == {"test:recent", "test:new"}
