from __future__ import annotations

import json

from bs4 import BeautifulSoup


def test_unknown_page_is_404_page(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/no/such/page")
    assert response.status_code == 404
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find("h1").get_text(strip=True) == "Not found"


def test_unknown_api_is_json_problem(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_wrong_method_is_405(client) -> None:  # type: ignore[no-untyped-def]
    response = client.put("/login", data={})
    assert response.status_code == 405
    response = client.put("/api/session", json={})
    assert response.status_code == 405
    assert response.json()["status"] == 405


def test_huge_body_is_413(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/signup", data={"email": "x" * 2_000_000})
    assert response.status_code == 413
    response = client.post(
        "/api/accounts",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_malformed_json_is_422(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/accounts", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422
    assert body["errors"]


def test_wrong_types_are_422(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/session", json={"email": ["a"], "password": 5})
    assert response.status_code == 422


def test_malformed_multipart_is_not_a_server_error(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/signup",
        content=b"--xx\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert 400 <= response.status_code < 500


def test_too_long_form_field_is_422_page(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/signup", data={"email": "x" * 300})
    assert response.status_code == 422
    assert "<html" in response.text


def test_control_characters_are_refused_everywhere(client, db_session) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from app.core.security import User

    response = client.post(
        "/signup", data={"email": "a@example.org", "password": "x" * 12, "display_name": "A\x00B"}
    )
    assert response.status_code == 422
    assert "not allowed" in BeautifulSoup(response.text, "html.parser").find("main").get_text()
    response = client.post(
        "/api/accounts",
        json={"email": "b@example.org", "password": "x" * 12, "display_name": "\x07"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "The text contains characters that are not allowed."
    assert client.get("/cycles?x=%00").status_code == 422
    # Whatever the JSON body's media type is called (FastAPI parses any ``+json`` type, in
    # any case, and a body with no content type), and a form's in capitals.
    body = b'{"email": "d@example.org", "password": "xxxxxxxxxxxx", "display_name": "\\u001b"}'
    for content_type in ("application/merge-patch+json", "APPLICATION/JSON; charset=utf-8", None):
        headers = {"content-type": content_type} if content_type else {}
        response = client.post("/api/accounts", content=body, headers=headers)
        assert response.status_code == 422, (content_type, response.text)
        assert response.json()["detail"] == "The text contains characters that are not allowed."
    response = client.post(
        "/signup",
        content=b"email=e%40example.org&password=xxxxxxxxxxxx&display_name=%07",
        headers={"content-type": "Application/X-WWW-Form-Urlencoded"},
    )
    assert response.status_code == 422
    assert db_session.exec(select(User)).all() == []
    # C1 controls and the bidirectional overrides and isolates (a name that turns the words
    # around it), as themselves or escaped; the right-to-left mark is ordinary text.
    for bad in ("\x85", "x\u202egnp.exe", "\u2067a\u2069"):
        response = client.post(
            "/signup", data={"email": "f@example.org", "password": "x" * 12, "display_name": bad}
        )
        assert response.status_code == 422, repr(bad)
        for body in (
            json.dumps({"email": "g@example.org", "password": "x" * 12, "display_name": bad}),
            json.dumps(
                {"email": "g@example.org", "password": "x" * 12, "display_name": bad},
                ensure_ascii=False,
            ),
        ):
            response = client.post(
                "/api/accounts", content=body.encode(), headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, (bad, body)
    assert db_session.exec(select(User)).all() == []
    response = client.post(
        "/api/accounts",
        json={"email": "h@example.org", "password": "x" * 12, "display_name": "\u05d0\u200f1"},
    )
    assert response.status_code == 201
    # Line breaks and tabs are ordinary text.
    response = client.post(
        "/api/accounts",
        json={"email": "c@example.org", "password": "x" * 12, "display_name": "A\tB"},
    )
    assert response.status_code == 201


def test_head_is_answered_wherever_get_is(client) -> None:  # type: ignore[no-untyped-def]
    """RFC 9110: ``HEAD`` wherever ``GET`` (health checks and link checkers use it): the
    ``GET``'s status and headers, no body. A 405 names every method its path takes."""
    for path in ("/", "/healthz", "/cycles", "/api/cycles", "/vote", "/static/css/plaza.css"):
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
    assert client.head("/nowhere").status_code == 404
    refused = client.request("DELETE", "/api/cycles", csrf=False)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD, POST"
    refused = client.head("/logout")  # (a path only posted to)
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"


def test_a_body_refused_before_the_app_gets_a_page_in_the_readers_language(  # type: ignore[no-untyped-def]
    client, settings
) -> None:
    """A body declared too large is refused before the app runs: still a page with its
    language (WCAG 3.1.1), a heading and a way back, in the language the browser asks for."""
    big = b"x" * (settings.max_body_bytes + 1)
    for language, lang, words in (("en", "en", "too large"), ("zh-CN", "zh-Hans", "请求")):
        response = client.post(
            "/signup",
            content=big,
            csrf=False,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept-language": language,
            },
        )
        assert response.status_code == 413
        page = BeautifulSoup(response.text, "html.parser")
        assert page.find("html")["lang"] == lang
        assert words in page.find("h1").get_text() + page.find("main").get_text()
        assert page.find("main").find("a")["href"] == "/"
