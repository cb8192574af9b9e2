from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from app.core.security import SESSION_COOKIE, User, UserSession
from tests.factories import PASSWORD, make_user


def soup(response) -> BeautifulSoup:  # type: ignore[no-untyped-def]
    return BeautifulSoup(response.text, "html.parser")


def test_signup_page(client, htmx) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/signup", headers=htmx)
    assert response.status_code == 200
    assert response.headers["vary"] == "HX-Request, Cookie, Accept-Language"
    page = soup(response)
    form = page.find("form", id="signup_form")
    assert form is not None
    for field in ("email", "password", "display_name"):
        field_input = form.find("input", attrs={"name": field})
        assert page.find("label", attrs={"for": field_input["id"]}) is not None
    assert ("<html" in response.text) is (not htmx)


def test_signup_creates_resident_and_logs_in(client, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/signup",
        data={"email": " New@Example.org ", "password": PASSWORD, "display_name": "Ana"},
        headers=htmx,
    )
    if htmx:
        assert response.status_code == 200
        assert response.headers["HX-Redirect"] == "/"
    else:
        assert response.status_code == 303
        assert response.headers["location"] == "/"
    user = db_session.exec(select(User).where(User.email == "new@example.org")).one()
    assert user.role == "resident"
    assert user.password_hash.startswith("$argon2id$")
    page = soup(client.get("/"))
    assert "Ana" in page.find("header").get_text()


def test_signup_errors_show_the_form_again(client, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    make_user(db_session, email="taken@example.org")
    cases = [
        ({"email": "not-an-email", "password": PASSWORD}, "valid e-mail"),
        ({"email": "ok@example.org", "password": "short"}, "at least 10"),
        ({"email": "TAKEN@example.org", "password": PASSWORD}, "already exists"),
    ]
    for data, message in cases:
        response = client.post("/signup", data=data, headers=htmx)
        assert response.status_code == 422
        page = soup(response)
        form = page.find("form", id="signup_form")
        assert message in form.get_text()
        assert form.find("input", attrs={"name": "email"})["value"] == data["email"]
        assert ("<html" in response.text) is (not htmx)
    count = len(db_session.exec(select(User)).all())
    assert count == 1


def test_login_and_logout_are_server_side(client, db_session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db_session, email="me@example.org")
    response = client.post(
        "/login", data={"email": "me@example.org", "password": PASSWORD, "next": "/cycles"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cycles"
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    assert db_session.exec(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert client.get("/api/session").json()["user"]["id"] == user.id
    response = client.post("/logout", data={})
    assert response.status_code == 303
    assert not db_session.exec(select(UserSession).where(UserSession.user_id == user.id)).all()
    # The old cookie is worthless now, even if a client kept it.
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/api/session").json()["user"] is None


def test_login_refuses_wrong_password_and_unknown_email(client, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    make_user(db_session, email="me@example.org")
    for email, password in (
        ("me@example.org", "wrong password!"),
        ("nobody@example.org", PASSWORD),
    ):
        response = client.post("/login", data={"email": email, "password": password}, headers=htmx)
        assert response.status_code == 422
        assert "not right" in soup(response).find("form", id="login_form").get_text()
        assert SESSION_COOKIE not in client.cookies


def test_login_never_redirects_off_site(client, db_session) -> None:  # type: ignore[no-untyped-def]
    make_user(db_session, email="me@example.org")
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        response = client.post(
            "/login", data={"email": "me@example.org", "password": PASSWORD, "next": target}
        )
        assert response.headers["location"] == "/"


def test_a_next_page_that_is_not_ascii_is_percent_encoded(client, db_session) -> None:  # type: ignore[no-untyped-def]
    """A ``Location`` header holds Latin-1 at most: ``/cycles/中`` goes out percent-encoded
    (as a browser sends it), after logging in and after choosing a language."""
    make_user(db_session, email="me@example.org")
    for target in ("/cycles/中", "/cycles/é", "/cycles/%E4%B8%AD"):
        response = client.post(
            "/login", data={"email": "me@example.org", "password": PASSWORD, "next": target}
        )
        assert response.status_code == 303
        assert response.headers["location"] in ("/cycles/%E4%B8%AD", "/cycles/%C3%A9")
        response = client.post("/language", data={"lang": "zh_Hans", "next": target})
        assert response.status_code == 303
        assert response.headers["location"] in ("/cycles/%E4%B8%AD", "/cycles/%C3%A9")


def test_protected_page_sends_anonymous_to_login(client, htmx) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/cycles/new", headers=htmx)
    if htmx:
        assert response.status_code == 401
        assert response.headers["HX-Redirect"] == "/login?next=/cycles/new"
    else:
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/cycles/new"


def test_language_selector_works_without_javascript(client) -> None:  # type: ignore[no-untyped-def]
    page = soup(client.get("/"))
    form = page.find("select", attrs={"name": "lang"}).find_parent("form")
    assert form["method"] == "post"
    assert form.find("button", attrs={"type": "submit"})
    response = client.post("/language", data={"lang": "zh_Hans", "next": "/cycles"})
    assert response.status_code == 303
    assert response.headers["location"] == "/cycles"
    page = soup(client.get("/cycles"))
    assert page.html["lang"] == "zh-Hans"
    assert page.find("h1").get_text() == "预算周期"
    client.post("/language", data={"lang": "en", "next": "/"})
    assert soup(client.get("/cycles")).html["lang"] == "en"


@pytest.mark.parametrize(
    ("next_path", "landing"),
    [
        ("/cycles?page=2", "/cycles?page=2"),  # answers GET: kept, query and all
        (
            "/vote/done/0123456789abcdef0123456789abcdef",
            "/vote/done/0123456789abcdef0123456789abcdef",
        ),
        ("/vote/ballot", "/vote"),  # POST only: up the path
        ("/vote/cast?x=1", "/vote"),
        ("/cycles/7/rules", "/cycles/7"),
        ("/cycles/7/districts/3/access-codes", "/cycles/7"),
        ("/proposals/5/review", "/proposals/5"),
        ("/logout", "/"),
        ("/no/such/page/", "/"),
        ("https://evil.example/", "/"),
    ],
)
def test_language_switch_lands_on_a_page_that_answers_get(client, next_path, landing) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/language", data={"lang": "zh_Hans", "next": next_path})
    assert response.status_code == 303
    assert response.headers["location"] == landing


def test_login_after_a_post_lands_on_a_page_that_answers_get(client, db_session) -> None:  # type: ignore[no-untyped-def]
    make_user(db_session, email="me@example.org")
    response = client.post(
        "/login",
        data={"email": "me@example.org", "password": PASSWORD, "next": "/cycles/3/rules"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cycles/3"


def test_accept_language_is_honoured(client) -> None:  # type: ignore[no-untyped-def]
    page = soup(client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    assert page.html["lang"] == "zh-Hans"
    assert page.find("a", class_="skip-link").get_text() == "跳到主要内容"
    page = soup(client.get("/", headers={"Accept-Language": "en-US"}))
    assert page.html["lang"] == "en"


def test_api_signup_login_logout(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/accounts", json={"email": "api@example.org", "password": PASSWORD})
    assert response.status_code == 201
    assert response.json()["role"] == "resident"
    assert "email" not in response.json()
    response = client.post("/api/accounts", json={"email": "api@example.org", "password": PASSWORD})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "email"
    response = client.post("/api/session", json={"email": "api@example.org", "password": "nope"})
    assert response.status_code == 401
    response = client.post("/api/session", json={"email": "api@example.org", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["user"]["role"] == "resident"
    assert client.get("/api/session").json()["user"] is not None
    assert client.delete("/api/session").status_code == 204
    assert client.get("/api/session").json()["user"] is None


def test_login_ends_the_previous_session(client, db_session) -> None:  # type: ignore[no-untyped-def]
    first = make_user(db_session, email="first@example.org")
    make_user(db_session, email="second@example.org")
    client.post("/login", data={"email": "first@example.org", "password": PASSWORD})
    old = client.cookies.get(SESSION_COOKIE)
    client.post("/login", data={"email": "second@example.org", "password": PASSWORD})
    assert client.cookies.get(SESSION_COOKIE) != old
    assert not db_session.exec(select(UserSession).where(UserSession.user_id == first.id)).all()
