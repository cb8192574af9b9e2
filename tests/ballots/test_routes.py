"""Voting pages and API, without and with htmx (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from sqlalchemy import func, select
from sqlmodel import Session

from app.ballots.models import Ballot
from app.cycles.models import Phase
from app.eligibility import service as eligibility_service
from app.eligibility.codes import format_code
from app.proposals.models import ProposalStatus
from tests.factories import districts_of, make_cycle, make_proposal

KEY = b"test-access-code-key-0123456789"


def setup_voting(db_session: Session, n_codes: int = 3) -> tuple[list[int], list[str]]:
    cycle = make_cycle(db_session, phase=Phase.voting, districts=(("North", 100_000_00),))
    district = districts_of(db_session, cycle)[0]
    projects = [
        make_proposal(
            db_session,
            cycle=cycle,
            district=district,
            status=ProposalStatus.accepted,
            final_cost_minor=cost,
            title=f"Project {cost}",
        )
        for cost in (60_000_00, 40_000_00, 30_000_00)
    ]
    _b, codes = eligibility_service.issue_access_codes(
        db_session, district_id=district.id or 0, count=n_codes, key=KEY
    )
    return [p.id or 0 for p in projects], [format_code(c) for c in codes]


def ballots(db_session: Session) -> int:
    return int(db_session.execute(select(func.count()).select_from(Ballot)).scalar_one())


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def test_code_form_is_a_page(client: Any) -> None:
    response = client.get("/vote")
    assert response.status_code == 200
    page = soup(response)
    assert page.find("html") is not None
    assert page.find("input", {"name": "code"}) is not None
    assert page.find("input", {"name": "csrf_token"}) is not None


def test_open_ballot_and_update_the_meter(
    client: Any, db_session: Session, htmx: dict[str, str]
) -> None:
    ids, codes = setup_voting(db_session)
    response = client.post("/vote/ballot", data={"code": codes[0], "project": ids}, headers=htmx)
    assert response.status_code == 200
    page = soup(response)
    meter = page.find(id="meter")
    assert meter is not None
    if htmx:
        # Only the meter comes back, as an out-of-band swap.
        assert page.find("html") is None and page.find("form") is None
        assert meter.get("hx-swap-oob") == "innerHTML"
    else:
        assert page.find("html") is not None and meter.get("hx-swap-oob") is None
        boxes = page.find_all("input", {"type": "checkbox", "name": "project"})
        assert len(boxes) == 3
        assert sorted(int(b["value"]) for b in boxes if b.has_attr("checked")) == sorted(ids)
    assert "over" in meter.find("div", class_="meter")["class"]
    assert response.headers["cache-control"] == "no-store"
    assert ballots(db_session) == 0


def test_cast_then_the_code_is_used(client: Any, db_session: Session, htmx: dict[str, str]) -> None:
    ids, codes = setup_voting(db_session)
    before = ballots(db_session)
    # (a hostile Host header must not become the receipt's address: the redirect is a path)
    response = client.post(
        "/vote/cast",
        data={"code": codes[0], "project": [ids[1], ids[2]]},
        headers={**htmx, "host": "evil.example"},
    )
    if htmx:
        assert response.status_code == 200
        target = response.headers["HX-Redirect"]
    else:
        assert response.status_code == 303
        target = response.headers["location"]
    assert target.startswith("/vote/done/"), target
    assert ballots(db_session) == before + 1
    done = client.get(target)
    assert done.status_code == 200
    receipt = soup(done).find(id="receipt")
    assert receipt is not None and len(receipt.text) == 32
    again = client.post("/vote/cast", data={"code": codes[0], "project": [ids[2]]}, headers=htmx)
    assert again.status_code == 422
    assert "already been used" in soup(again).get_text()
    assert ballots(db_session) == before + 1


def test_over_budget_shows_the_form_again(
    client: Any, db_session: Session, htmx: dict[str, str]
) -> None:
    ids, codes = setup_voting(db_session)
    response = client.post("/vote/cast", data={"code": codes[0], "project": ids}, headers=htmx)
    assert response.status_code == 422
    page = soup(response)
    assert (page.find("html") is None) == bool(htmx)
    form = page.find("form", id="ballot_form")
    assert form is not None
    assert page.find(id="form-error") is not None
    assert form.find(id="meter").get("hx-swap-oob") is None
    assert ballots(db_session) == 0
    ok = client.post("/vote/cast", data={"code": codes[0], "project": [ids[0]]})
    assert ok.status_code == 303


def switch_language(client: Any, page: Any, lang: str) -> str:
    """Submit the page's language form as a browser would; the address it sends us to."""
    form = soup(page).find("select", {"name": "lang"}).find_parent("form")
    data = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    response = client.post(form["action"], data={**data, "lang": lang})
    assert response.status_code == 303
    return str(response.headers["location"])


def test_changing_language_on_the_ballot_lands_on_a_page(client: Any, db_session: Session) -> None:
    """The ballot and the ballot shown again are answers to POSTs: switching language must
    not send the voter to GET /vote/ballot or /vote/cast (405) but to the code page."""
    ids, codes = setup_voting(db_session)
    ballot = client.post("/vote/ballot", data={"code": codes[0]})
    again = client.post("/vote/cast", data={"code": codes[0], "project": ids})
    assert (ballot.status_code, again.status_code) == (200, 422)
    for page in (ballot, again):
        target = switch_language(client, page, "zh_Hans")
        assert target == "/vote"
        landed = client.get(target)
        assert landed.status_code == 200
        assert soup(landed).html["lang"] == "zh-Hans"
        assert soup(landed).find("input", {"name": "code"}) is not None
        switch_language(client, landed, "en")
    # A page that answers GET is kept, receipt page included.
    done = client.get(
        client.post("/vote/cast", data={"code": codes[0], "project": [ids[0]]}).headers["location"]
    )
    assert done.status_code == 200
    assert switch_language(client, done, "zh_Hans") == done.url.path


def test_garbage_and_unknown_values_are_refused(client: Any, db_session: Session) -> None:
    ids, codes = setup_voting(db_session)
    for project in (["abc"], [str(10**12)], [], ["-1"]):
        response = client.post("/vote/cast", data={"code": codes[0], "project": project})
        assert response.status_code == 422, project
    assert ballots(db_session) == 0


def test_wrong_codes_are_rate_limited(client: Any, db_session: Session) -> None:
    ids, codes = setup_voting(db_session)
    statuses = []
    for n in range(eligibility_service.FAILURE_LIMIT + 2):
        wrong = "0000-0000-0000-0000-0000-" + f"{n:04d}"
        statuses.append(client.post("/vote/ballot", data={"code": wrong}).status_code)
    assert (
        statuses[: eligibility_service.FAILURE_LIMIT] == [422] * eligibility_service.FAILURE_LIMIT
    )
    assert statuses[-1] == 429
    # Even a good code is refused while the client is blocked.
    blocked = client.post("/vote/cast", data={"code": codes[0], "project": [ids[0]]})
    assert blocked.status_code == 429
    assert ballots(db_session) == 0


def test_forms_need_the_csrf_token(client: Any, db_session: Session) -> None:
    ids, codes = setup_voting(db_session)
    response = client.post("/vote/cast", data={"code": codes[0], "project": [ids[0]]}, csrf=False)
    assert response.status_code == 403
    assert ballots(db_session) == 0


def test_api_open_and_cast(client: Any, db_session: Session) -> None:
    ids, codes = setup_voting(db_session)
    sheet = client.post("/api/ballots/open", json={"code": codes[0]})
    assert sheet.status_code == 200
    assert sorted(p["id"] for p in sheet.json()["projects"]) == sorted(ids)
    cast = client.post("/api/ballots", json={"code": codes[0], "projects": [ids[0], ids[2]]})
    assert cast.status_code == 201, cast.text
    assert cast.json()["total_cost_minor"] == 90_000_00
    used = client.post("/api/ballots", json={"code": codes[0], "projects": [ids[0]]})
    assert used.status_code == 422
    assert used.headers["content-type"].startswith("application/problem+json")
    assert used.json()["type"].endswith("access-code-used")
    over = client.post("/api/ballots", json={"code": codes[1], "projects": ids})
    assert over.status_code == 422 and over.json()["type"].endswith("ballot-invalid")
    malformed = client.post("/api/ballots", json={"code": codes[1], "projects": "x"})
    assert malformed.status_code == 422
    assert ballots(db_session) == 1


def test_api_ballot_project_ids_must_be_json_integers(client: Any, db_session: Session) -> None:
    """``true``, ``"4"`` and ``4.0`` are not project ids: refused before the code is used."""
    ids, codes = setup_voting(db_session)
    for bad in (True, False, str(ids[1]), float(ids[1]), f"{ids[1]}.0"):
        response = client.post("/api/ballots", json={"code": codes[0], "projects": [bad]})
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"] == "/problems/validation", (bad, problem)
        assert problem["errors"][0]["field"] == "body.projects.0"
    assert ballots(db_session) == 0
    cast = client.post("/api/ballots", json={"code": codes[0], "projects": [ids[1]]})
    assert cast.status_code == 201, cast.text
    assert cast.json()["total_cost_minor"] == 40_000_00
