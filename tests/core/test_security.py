from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.core.config import Settings
from app.core.db import utcnow
from app.core.security import (
    SESSION_COOKIE,
    UserSession,
    end_session,
    hash_password,
    start_session,
    user_for_token,
    verify_password,
)
from tests.factories import make_user


def test_passwords_are_argon2id(settings: Settings) -> None:
    hashed = hash_password("a long enough password", settings)
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long enough password", settings)
    assert not verify_password(hashed, "a long enough passwore", settings)
    assert not verify_password("not a hash", "x", settings)


def test_sessions_are_server_side(db_session, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db_session)
    token = start_session(db_session, user=user, settings=settings)
    assert user_for_token(db_session, token).id == user.id
    stored = db_session.get(UserSession, token)
    assert stored is None  # only the hash of the token is stored
    end_session(db_session, token)
    assert user_for_token(db_session, token) is None
    assert user_for_token(db_session, "nonsense") is None
    assert user_for_token(db_session, None) is None


def test_expired_sessions_are_refused(db_session, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db_session)
    token = start_session(db_session, user=user, settings=settings)
    for row in db_session.exec(select(UserSession)).all():
        row.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert user_for_token(db_session, token) is None


def test_csrf_is_required_on_every_unsafe_request(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/logout", data={}, csrf=False)
    assert response.status_code == 403
    response = client.post("/logout", data={"csrf_token": "0" * 64}, csrf=False)
    assert response.status_code == 403
    response = client.post("/api/accounts", json={}, csrf=False)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 403


def test_csrf_token_is_bound_to_the_session(client, db_session) -> None:  # type: ignore[no-untyped-def]
    """A token from before a log-in is refused after it; the API log-in returns the new one."""
    user = make_user(db_session, email="bound@example.org", password="correct horse battery")
    db_session.commit()
    anonymous = client.get("/api/session").json()["csrf_token"]
    login = client.post(
        "/api/session",
        json={"email": user.email, "password": "correct horse battery"},
        csrf=False,
        headers={"X-CSRF-Token": anonymous},
    )
    assert login.status_code == 200
    fresh = login.json()["csrf_token"]
    assert fresh != anonymous
    assert client.get("/api/session").json()["csrf_token"] == fresh
    stale = client.delete("/api/session", csrf=False, headers={"X-CSRF-Token": anonymous})
    assert stale.status_code == 403
    assert (
        client.delete("/api/session", csrf=False, headers={"X-CSRF-Token": fresh}).status_code
        == 204
    )


def test_csrf_token_is_in_every_form_and_in_hx_headers(client) -> None:  # type: ignore[no-untyped-def]
    import json

    from bs4 import BeautifulSoup

    response = client.get("/login")
    soup = BeautifulSoup(response.text, "html.parser")
    token = client.csrf_token()
    assert json.loads(soup.body["hx-headers"]) == {"X-CSRF-Token": token}
    forms = soup.find_all("form")
    assert forms
    for form in forms:
        assert form["method"] == "post"
        assert form.find("input", attrs={"name": "csrf_token"})["value"] == token


def test_session_cookie_flags(client, db_session, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    make_user(db_session, email="flags@example.org")
    response = client.post(
        "/login", data={"email": "flags@example.org", "password": "correct horse battery staple"}
    )
    assert response.status_code == 303
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie


def test_expired_sessions_are_removed_at_next_login(db_session, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db_session)
    start_session(db_session, user=user, settings=settings)
    for row in db_session.exec(select(UserSession)).all():
        row.expires_at = utcnow() - timedelta(days=1)
    db_session.flush()
    fresh = start_session(db_session, user=user, settings=settings)
    rows = db_session.exec(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert len(rows) == 1
    assert user_for_token(db_session, fresh).id == user.id


def test_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/", "/no/such/page", "/api/cycles", "/static/css/plaza.css"):
        response = client.get(url)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
