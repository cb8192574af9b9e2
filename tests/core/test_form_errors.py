"""Input refused before a handler runs (too long, NUL/control characters) shows the form again.

The shared mechanism (``app.core.errors.show_form_again``): status 422, the page that holds the
form with the field's message and what was typed, nothing written; the API keeps JSON problems.
"""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from sqlmodel import Session, select

from app.accounts.models import User
from app.cycles.models import Cycle, Phase
from app.proposals.models import Proposal
from tests.factories import districts_of, make_cycle


def _page(response: Any, htmx: dict[str, str]) -> BeautifulSoup:
    assert response.status_code == 422, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    if htmx:
        assert "<html" not in response.text
        assert response.headers["HX-Retarget"] == "#main"
    else:
        assert "<html" in response.text
    return BeautifulSoup(response.text, "html.parser")


def _field_error(page: BeautifulSoup, name: str) -> str:
    field = page.find(attrs={"name": name})
    assert field is not None, f"no field {name}"
    assert field.get("aria-invalid") == "true"
    error = page.find(id=f"f-{name}-error")
    assert error is not None
    return str(error.get_text(" ", strip=True))


def test_signup_too_long_name_shows_the_form_again(
    client: Any, db_session: Session, htmx: dict[str, str]
) -> None:
    data = {"email": "long@example.org", "password": "a long password", "display_name": "x" * 101}
    page = _page(client.post("/signup", data=data, headers=htmx), htmx)
    assert page.find("form", id="signup_form") is not None
    assert _field_error(page, "display_name") == "This text is too long: at most 100 characters."
    assert page.find("input", attrs={"name": "email"})["value"] == "long@example.org"
    assert page.find("input", attrs={"name": "password"})["value"] == ""
    assert db_session.exec(select(User).where(User.email == "long@example.org")).first() is None


def test_signup_nul_character_shows_the_form_again_in_chinese(client: Any) -> None:
    data = {"email": "nul@example.org", "password": "pass\x00word!!", "display_name": "Ann"}
    response = client.post("/signup", data=data, headers={"Accept-Language": "zh-CN"})
    page = _page(response, {})
    assert page.find("form", id="signup_form") is not None
    message = _field_error(page, "password")
    assert message and "not allowed" not in message  # translated
    assert page.find("input", attrs={"name": "display_name"})["value"] == "Ann"


def test_proposal_with_nul_shows_the_form_again(
    client: Any, db_session: Session, login_as: Any, htmx: dict[str, str]
) -> None:
    login_as("resident")
    cycle = make_cycle(db_session, phase=Phase.intake)
    north = districts_of(db_session, cycle)[0]
    data = {
        "district_id": str(north.id),
        "title": "Chess\x00tables",
        "description": "Six chess tables in the park.",
        "estimated_cost": "9000",
    }
    response = client.post(f"/cycles/{cycle.id}/proposals", data=data, headers=htmx)
    page = _page(response, htmx)
    form = page.find("form", id="proposal_form")
    assert form is not None
    assert "characters that are not allowed" in form.get_text()
    assert form.find("textarea", attrs={"name": "description"}).get_text() == data["description"]
    assert db_session.exec(select(Proposal).where(Proposal.cycle_id == cycle.id)).first() is None
    too_long = {**data, "title": "T" * 401}
    page = _page(client.post(f"/cycles/{cycle.id}/proposals", data=too_long, headers=htmx), htmx)
    assert "at most 400 characters" in page.find("form", id="proposal_form").get_text()


def test_cycle_create_with_control_character_shows_the_form_again(
    client: Any, db_session: Session, login_as: Any, htmx: dict[str, str]
) -> None:
    login_as("organizer")
    before = len(db_session.exec(select(Cycle)).all())
    data = {"title": "Green\x072031", "description": "Make it green.", "currency": "EUR"}
    page = _page(client.post("/cycles", data=data, headers=htmx), htmx)
    assert "characters that are not allowed" in page.get_text()
    assert page.find("input", attrs={"name": "currency"})["value"] == "EUR"
    assert len(db_session.exec(select(Cycle)).all()) == before


def test_vote_code_too_long_shows_the_code_form_again(client: Any, htmx: dict[str, str]) -> None:
    page = _page(client.post("/vote/ballot", data={"code": "A" * 101}, headers=htmx), htmx)
    assert page.find("input", attrs={"name": "code"}) is not None
    assert "at most 100 characters" in page.get_text()


def test_api_keeps_json_problems(client: Any) -> None:
    response = client.post(
        "/api/accounts",
        json={"email": "j@example.org", "password": "pass\x00word!!", "display_name": "J"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
