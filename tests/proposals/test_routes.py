from __future__ import annotations

from bs4 import BeautifulSoup
from sqlmodel import select

from app.cycles.models import Phase
from app.proposals.models import Proposal
from tests.factories import districts_of, make_cycle, make_proposal


def soup(response) -> BeautifulSoup:  # type: ignore[no-untyped-def]
    return BeautifulSoup(response.text, "html.parser")


def test_resident_proposes_and_edits(client, login_as, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    resident = login_as("resident")
    cycle = make_cycle(db_session, phase=Phase.intake)
    north, south = districts_of(db_session, cycle)
    page = soup(client.get(f"/cycles/{cycle.id}/proposals/new", headers=htmx))
    form = page.find("form", id="proposal_form")
    assert [o["value"] for o in form.find("select").find_all("option")] == [
        "",
        str(north.id),
        str(south.id),
    ]
    data = {
        "district_id": str(north.id),
        "title": "Chess tables",
        "description": "Six chess tables in the park.",
        "estimated_cost": "9000",
    }
    response = client.post(f"/cycles/{cycle.id}/proposals", data=data, headers=htmx)
    proposal = db_session.exec(select(Proposal).where(Proposal.author_id == resident.id)).one()
    target = f"/proposals/{proposal.id}"
    assert (response.headers.get("HX-Redirect") if htmx else response.headers["location"]) == target
    assert proposal.estimated_cost_minor == 900_000
    detail = soup(client.get(target))
    assert "Waiting for review" in detail.get_text()
    assert detail.find("a", href=f"/proposals/{proposal.id}/edit") is not None
    response = client.post(
        f"/proposals/{proposal.id}/edit",
        data={**data, "district_id": str(south.id), "estimated_cost": "abc"},
        headers=htmx,
    )
    assert response.status_code == 422
    assert "as a number" in soup(response).find("form", id="proposal_form").get_text()
    assert proposal.district_id == north.id
    response = client.post(
        f"/proposals/{proposal.id}/edit", data={**data, "district_id": str(south.id)}, headers=htmx
    )
    assert response.status_code in (200, 303)
    assert proposal.district_id == south.id
    mine = soup(client.get("/me/proposals"))
    assert mine.find("a", href=target) is not None


def test_proposal_form_errors(client, login_as, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    login_as("resident")
    cycle = make_cycle(db_session, phase=Phase.intake)
    north = districts_of(db_session, cycle)[0]
    base = {
        "district_id": str(north.id),
        "title": "Chess tables",
        "description": "Six chess tables in the park.",
        "estimated_cost": "9000",
    }
    for change, message in (
        ({"district_id": ""}, "Choose the district"),
        ({"district_id": "abc"}, "Choose the district"),
        ({"title": "x"}, "at least 3"),
        ({"estimated_cost": "1" * 30}, "too large"),
        ({"estimated_cost": "-1"}, "negative"),
        ({"estimated_cost": "0"}, "above zero"),
    ):
        response = client.post(
            f"/cycles/{cycle.id}/proposals", data={**base, **change}, headers=htmx
        )
        assert response.status_code == 422, change
        form = soup(response).find("form", id="proposal_form")
        assert message in form.get_text(), (change, form.get_text())
        assert ("<html" in response.text) is (not htmx)
    assert db_session.exec(select(Proposal)).all() == []


def test_other_residents_cannot_edit(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    author = login_as("resident")
    cycle = make_cycle(db_session, phase=Phase.intake)
    proposal = make_proposal(db_session, cycle=cycle, author=author, title="Original")
    login_as("resident")
    assert client.get(f"/proposals/{proposal.id}/edit").status_code == 403
    response = client.post(
        f"/proposals/{proposal.id}/edit",
        data={
            "district_id": str(proposal.district_id),
            "title": "Hijacked",
            "description": "Hijacked description.",
            "estimated_cost": "1",
        },
    )
    assert response.status_code == 403
    assert proposal.title == "Original"


def test_browse_by_district_and_status(client, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    cycle = make_cycle(db_session, phase=Phase.voting)
    north, south = districts_of(db_session, cycle)
    make_proposal(db_session, cycle=cycle, district=north, status="accepted", title="N acc")
    make_proposal(db_session, cycle=cycle, district=north, status="rejected", title="N rej")
    make_proposal(db_session, cycle=cycle, district=south, status="accepted", title="S acc")
    url = f"/cycles/{cycle.id}/proposals"

    def titles(query: str) -> list[str]:
        response = client.get(url + query, headers=htmx)
        assert response.status_code == 200
        listing = soup(response).find(id="proposal_list")
        return sorted(a.get_text() for a in listing.find_all("a"))

    assert titles("") == ["N acc", "N rej", "S acc"]
    assert titles(f"?district={north.id}") == ["N acc", "N rej"]
    assert titles("?status=accepted") == ["N acc", "S acc"]
    assert titles(f"?district={south.id}&status=rejected") == []
    assert titles("?district=banana&status=unknown") == ["N acc", "N rej", "S acc"]
    far = make_proposal(
        db_session, cycle=cycle, district=south, status="rejected", rejection_reason="Too far away."
    )
    rejected = soup(client.get(f"/proposals/{far.id}"))
    assert "Too far away." in rejected.get_text()


def test_organizer_reviews_and_opens_voting(client, login_as, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    login_as("organizer")
    cycle = make_cycle(db_session, phase=Phase.review)
    a = make_proposal(db_session, cycle=cycle)
    b = make_proposal(db_session, cycle=cycle)
    page = soup(client.get(f"/cycles/{cycle.id}/review", headers=htmx))
    assert page.find(id=f"proposal-{a.id}") is not None
    response = client.post(f"/cycles/{cycle.id}/phase", data={"phase": "voting"}, headers=htmx)
    assert response.status_code == 422
    assert "no proposal has been accepted" in soup(response).find(id="phase_form").get_text()
    response = client.post(
        f"/proposals/{a.id}/review", data={"decision": "accept", "final_cost": "1e3"}, headers=htmx
    )
    assert response.status_code == 422
    response = client.post(
        f"/proposals/{a.id}/review",
        data={"decision": "accept", "final_cost": "1500.00"},
        headers=htmx,
    )
    assert response.status_code in (200, 303)
    assert (a.status, a.final_cost_minor) == ("accepted", 150_000)
    response = client.post(
        f"/proposals/{b.id}/review",
        data={"decision": "reject", "reason": "", "back": "detail"},
        headers=htmx,
    )
    assert response.status_code == 422
    assert "reason" in soup(response).find(id="review_form").get_text()
    client.post(
        f"/proposals/{b.id}/review",
        data={"decision": "reject", "reason": "Private land.", "back": "detail"},
    )
    assert b.status == "rejected"
    response = client.post(f"/cycles/{cycle.id}/phase", data={"phase": "voting"}, headers=htmx)
    assert response.status_code in (200, 303)
    assert cycle.phase == "voting"
    response = client.post(f"/cycles/{cycle.id}/phase", data={"phase": "intake"}, headers=htmx)
    assert response.status_code == 422
    assert "cannot reopen" in soup(response).find(id="phase_form").get_text()


def test_api_proposals(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    resident = login_as("resident")
    cycle = make_cycle(db_session, phase=Phase.intake)
    north = districts_of(db_session, cycle)[0]
    body = {
        "district_id": north.id,
        "title": "Via API",
        "description": "Made through the API.",
        "estimated_cost_minor": 1234,
    }
    response = client.post(f"/api/cycles/{cycle.id}/proposals", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert "author_id" not in created
    response = client.patch(f"/api/proposals/{created['id']}", json={**body, "title": "x"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "title"
    mine = client.get("/api/me/proposals").json()
    assert [p["id"] for p in mine] == [created["id"]]
    listed = client.get(f"/api/cycles/{cycle.id}/proposals?status=submitted").json()
    assert [p["id"] for p in listed] == [created["id"]]
    assert client.get(f"/api/cycles/{cycle.id}/proposals?status=bogus").status_code == 422
    login_as("organizer")
    assert client.post(f"/api/cycles/{cycle.id}/phase", json={"phase": "review"}).status_code == 200
    response = client.post(
        f"/api/proposals/{created['id']}/review",
        json={"decision": "accept", "final_cost_minor": 2000},
    )
    assert response.status_code == 200
    projects = client.get(f"/api/cycles/{cycle.id}/projects?district_id={north.id}").json()
    assert projects == [
        {
            "id": created["id"],
            "district_id": north.id,
            "title": "Via API",
            "description": "Made through the API.",
            "cost_minor": 2000,
        }
    ]
    response = client.post(f"/api/cycles/{cycle.id}/phase", json={"phase": "results"})
    assert response.status_code == 422
    assert "next phase" in response.json()["detail"]
    assert resident.id is not None


def test_api_ids_and_money_must_be_json_integers(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    """A district id or an amount sent as ``true``, ``"7"`` or ``7.0`` is refused (422)."""
    login_as("resident")
    cycle = make_cycle(db_session, phase=Phase.intake)
    north = districts_of(db_session, cycle)[0]
    body = {"district_id": north.id, "title": "Strict", "description": "Typed amounts only."}
    url = f"/api/cycles/{cycle.id}/proposals"
    for field, bad in (
        ("district_id", True),
        ("district_id", str(north.id)),
        ("district_id", float(north.id or 0)),
        ("estimated_cost_minor", True),
        ("estimated_cost_minor", "1234"),
        ("estimated_cost_minor", 1234.0),
    ):
        sent = {"estimated_cost_minor": 1234, **body, field: bad}
        response = client.post(url, json=sent)
        assert response.status_code == 422, (field, bad, response.text)
        assert response.json()["type"] == "/problems/validation"
        assert response.json()["errors"][0]["field"] == f"body.{field}"
    assert db_session.exec(select(Proposal).where(Proposal.cycle_id == cycle.id)).all() == []
    response = client.post(url, json={**body, "estimated_cost_minor": 1234})
    assert response.status_code == 201, response.text
    created = response.json()
    login_as("organizer")
    assert client.post(f"/api/cycles/{cycle.id}/phase", json={"phase": "review"}).status_code == 200
    review = f"/api/proposals/{created['id']}/review"
    for bad in (True, "2000", 2000.0):
        response = client.post(review, json={"decision": "accept", "final_cost_minor": bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["errors"][0]["field"] == "body.final_cost_minor"
    response = client.post(review, json={"decision": "accept", "final_cost_minor": 2000})
    assert response.status_code == 200, response.text
    assert response.json()["final_cost_minor"] == 2000
