from __future__ import annotations

from bs4 import BeautifulSoup
from sqlmodel import select

from app.cycles.models import Cycle, District, Phase
from tests.factories import districts_of, make_cycle, make_proposal


def soup(response) -> BeautifulSoup:  # type: ignore[no-untyped-def]
    return BeautifulSoup(response.text, "html.parser")


NEW_CYCLE = {
    "title": "Green 2031",
    "description": "Make it green.",
    "currency": "EUR",
    "district_name_0": "North",
    "district_budget_0": "250000.00",
    "district_name_1": "South",
    "district_budget_1": "1 000.5",
    "plan_intake": "2031-01-01",
    "plan_voting": "2031-04-01",
}


def test_organizer_creates_a_cycle(client, login_as, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    login_as("organizer")
    page = soup(client.get("/cycles/new", headers=htmx))
    assert page.find("form", id="cycle_form") is not None
    response = client.post("/cycles", data=NEW_CYCLE, headers=htmx)
    assert response.status_code in (200, 303)
    cycle = db_session.exec(select(Cycle).where(Cycle.title == "Green 2031")).one()
    target = f"/cycles/{cycle.id}/settings"
    assert (response.headers.get("HX-Redirect") if htmx else response.headers["location"]) == target
    budgets = [(d.name, d.budget_minor) for d in districts_of(db_session, cycle)]
    assert budgets == [("North", 25_000_000), ("South", 100_050)]
    settings_page = soup(client.get(target))
    assert settings_page.find("form", id="rules_form") is not None


def test_bad_cycle_form_comes_back_with_message(client, login_as, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    login_as("organizer")
    for change, message in (
        ({"district_budget_0": "12,50"}, "without commas"),
        ({"district_budget_0": "-4"}, "negative"),
        ({"currency": "ZZZ"}, "ISO 4217"),
        ({"plan_voting": "next tuesday"}, "YYYY-MM-DD"),
        ({"title": ""}, "title"),
        ({"district_name_0": ""}, "name"),
    ):
        response = client.post("/cycles", data={**NEW_CYCLE, **change}, headers=htmx)
        assert response.status_code == 422, change
        form = soup(response).find("form", id="cycle_form")
        assert message in form.get_text(), (change, form.get_text())
        assert (
            form.find("input", attrs={"name": "title"})["value"] == {**NEW_CYCLE, **change}["title"]
        )
    assert db_session.exec(select(Cycle)).all() == []


def test_public_cycle_page_shows_budgets_in_locale(client, db_session) -> None:  # type: ignore[no-untyped-def]
    cycle = make_cycle(db_session, districts=(("North", 123_456_78),))
    page = soup(client.get(f"/cycles/{cycle.id}"))
    assert page.find("h1").get_text() == cycle.title
    assert "€123,456.78" in page.get_text()
    page = soup(client.get(f"/cycles/{cycle.id}", headers={"Accept-Language": "zh-CN"}))
    assert "€123,456.78" in page.get_text()
    assert "当前阶段" in page.get_text()


def test_settings_forms(client, login_as, db_session, htmx) -> None:  # type: ignore[no-untyped-def]
    login_as("organizer")
    cycle = make_cycle(db_session, phase=Phase.intake)
    north = districts_of(db_session, cycle)[0]
    response = client.post(
        f"/cycles/{cycle.id}/districts/{north.id}",
        data={"name": "North side", "budget": "10.00"},
        headers=htmx,
    )
    assert response.status_code in (200, 303)
    assert (north.name, north.budget_minor) == ("North side", 1000)
    response = client.post(
        f"/cycles/{cycle.id}/districts", data={"name": "South", "budget": "5"}, headers=htmx
    )
    assert response.status_code == 422
    assert "same name" in soup(response).find(id="districts_section").get_text()
    response = client.post(
        f"/cycles/{cycle.id}/rules",
        data={
            "ballot_kind": "approval",
            "min_choices": "1",
            "max_choices": "x",
            "tally_rule": "greedy",
            "tie_break": "default",
        },
        headers=htmx,
    )
    assert response.status_code == 422
    assert "whole number" in soup(response).find(id="rules_form").get_text()
    response = client.post(
        f"/cycles/{cycle.id}/rules",
        data={
            "ballot_kind": "approval",
            "min_choices": "1",
            "max_choices": "4",
            "tally_rule": "equalshares",
            "tie_break": "default",
        },
        headers=htmx,
    )
    assert response.status_code in (200, 303)
    assert (cycle.min_choices, cycle.max_choices, cycle.tally_rule) == (1, 4, "equalshares")
    response = client.post(
        f"/cycles/{cycle.id}/details",
        data={
            "title": "Renamed",
            "description": "",
            "plan_review": "2030-01-01",
            "plan_intake": "2030-02-01",
        },
        headers=htmx,
    )
    assert response.status_code == 422
    assert "forward in time" in soup(response).find(id="details_form").get_text()
    assert cycle.title != "Renamed"


def test_changing_language_on_a_form_shown_again_lands_on_a_page(
    client, login_as, db_session
) -> None:  # type: ignore[no-untyped-def]
    """The rules form shown again (422) is the answer to POST /cycles/{id}/rules, which
    answers no GET: switching language there lands on the cycle's page, not on a 405."""
    login_as("organizer")
    cycle = make_cycle(db_session, phase=Phase.intake)
    response = client.post(
        f"/cycles/{cycle.id}/rules",
        data={"ballot_kind": "approval", "min_choices": "x", "tally_rule": "greedy"},
    )
    assert response.status_code == 422
    form = soup(response).find("select", attrs={"name": "lang"}).find_parent("form")
    data = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    assert data["next"] == f"/cycles/{cycle.id}/rules"
    switched = client.post(form["action"], data={**data, "lang": "zh_Hans"})
    assert switched.status_code == 303
    assert switched.headers["location"] == f"/cycles/{cycle.id}"
    landed = client.get(switched.headers["location"])
    assert landed.status_code == 200
    assert soup(landed).html["lang"] == "zh-Hans"


def test_settings_after_voting_opened_are_frozen(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    login_as("organizer")
    cycle = make_cycle(db_session, phase=Phase.voting)
    north = districts_of(db_session, cycle)[0]
    page = soup(client.get(f"/cycles/{cycle.id}/settings"))
    assert "frozen" in page.find(id="rules_form").get_text()
    response = client.post(
        f"/cycles/{cycle.id}/districts/{north.id}", data={"name": "X", "budget": "1"}
    )
    assert response.status_code == 422
    db_session.refresh(north)
    assert north.name == "North"


def test_auditor_sees_history_without_personal_data(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    resident = login_as("resident")
    cycle = make_cycle(db_session, phase=Phase.intake)
    make_proposal(db_session, cycle=cycle, author=resident)
    login_as("auditor")
    for url in ("/audit", f"/cycles/{cycle.id}", f"/cycles/{cycle.id}/proposals"):
        response = client.get(url)
        assert response.status_code == 200
        text = soup(response).find("main").get_text()
        assert resident.email not in text
        assert resident.display_name not in text
    assert client.get(f"/cycles/{cycle.id}/settings").status_code == 403
    assert client.post(f"/cycles/{cycle.id}/rules", data={}).status_code == 403


def test_api_cycles(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    body = {
        "title": "API cycle",
        "currency": "CNY",
        "districts": [{"name": "East", "budget_minor": 1000}],
        "planned_starts": {"voting": "2031-01-01"},
    }
    assert client.post("/api/cycles", json=body).status_code == 401
    login_as("resident")
    assert client.post("/api/cycles", json=body).status_code == 403
    login_as("organizer")
    response = client.post("/api/cycles", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["phase"] == "draft"
    assert created["districts"][0]["budget_minor"] == 1000
    response = client.post("/api/cycles", json={**body, "currency": "ABC"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "currency"
    response = client.post(
        f"/api/cycles/{created['id']}/districts", json={"name": "West", "budget_minor": -5}
    )
    assert response.status_code == 422
    assert (
        len(db_session.exec(select(District).where(District.cycle_id == created["id"])).all()) == 1
    )
    assert client.get(f"/api/cycles/{created['id']}").json()["title"] == "API cycle"
    response = client.patch(
        f"/api/cycles/{created['id']}",
        json={"title": "Renamed", "planned_starts": {"intake": "2031-02-01", "voting": None}},
    )
    assert response.status_code == 200, response.text
    plan = {p["phase"]: p["planned_start"] for p in response.json()["phase_plan"]}
    assert plan["intake"] == "2031-02-01"
    assert plan["voting"] is None
    response = client.patch(
        f"/api/cycles/{created['id']}",
        json={"title": "Again", "planned_starts": {"intake": "2031-02-01", "review": "2030-01-01"}},
    )
    assert response.status_code == 422
    assert client.get(f"/api/cycles/{created['id']}").json()["title"] == "Renamed"
    assert client.get("/api/cycles/999999").status_code == 404
    assert client.get("/api/cycles/abc").status_code == 422


def _validation_problem(response, field: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/validation", problem
    assert [e["field"] for e in problem["errors"]] == [field], problem


NOT_JSON_INTEGERS = (True, False, "7", 7.0, "7.0", None)


def test_api_money_and_rule_limits_must_be_json_integers(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    login_as("organizer")
    cycle = make_cycle(db_session, phase=Phase.draft)
    district = districts_of(db_session, cycle)[0]
    budget = district.budget_minor
    n_districts = len(districts_of(db_session, cycle))
    url = f"/api/cycles/{cycle.id}"
    new_cycle = {"title": "Strict", "currency": "EUR", "districts": [{"name": "A"}]}
    for bad in NOT_JSON_INTEGERS:
        new_cycle["districts"][0]["budget_minor"] = bad
        _validation_problem(
            client.post("/api/cycles", json=new_cycle), "body.districts.0.budget_minor"
        )
        body = {"name": "West", "budget_minor": bad}
        _validation_problem(client.post(f"{url}/districts", json=body), "body.budget_minor")
        _validation_problem(
            client.put(f"{url}/districts/{district.id}", json=body), "body.budget_minor"
        )
        _validation_problem(
            client.put(f"{url}/rules", json={"min_choices": bad}), "body.min_choices"
        )
        if bad is not None:  # null: no maximum
            _validation_problem(
                client.put(f"{url}/rules", json={"max_choices": bad}), "body.max_choices"
            )
    db_session.refresh(district)
    db_session.refresh(cycle)
    assert (district.name, district.budget_minor) != ("West", budget)
    assert (cycle.min_choices, cycle.max_choices) == (0, None)
    assert len(districts_of(db_session, cycle)) == n_districts
    # Plain integers are still what the API takes.
    response = client.put(
        f"{url}/districts/{district.id}", json={"name": "West", "budget_minor": 7}
    )
    assert response.status_code == 200, response.text
    assert response.json()["budget_minor"] == 7
    response = client.put(f"{url}/rules", json={"min_choices": 1, "max_choices": 2})
    assert response.status_code == 200, response.text
    assert (response.json()["min_choices"], response.json()["max_choices"]) == (1, 2)
    response = client.post(f"{url}/districts", json={"name": "East", "budget_minor": 0})
    assert response.status_code == 201, response.text


def _plan(response) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    return {p["phase"]: p["planned_start"] for p in response.json()["phase_plan"]}


def test_api_patch_changes_only_what_is_sent(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    login_as("organizer")
    body = {
        "title": "Partial",
        "description": "Keep me.",
        "currency": "EUR",
        "districts": [{"name": "East", "budget_minor": 1000}],
        "planned_starts": {"intake": "2031-01-01", "review": "2031-02-01", "voting": "2031-03-01"},
    }
    created = client.post("/api/cycles", json=body)
    assert created.status_code == 201, created.text
    url = f"/api/cycles/{created.json()['id']}"
    plan = _plan(created)
    assert plan["review"] == "2031-02-01"

    response = client.patch(url, json={"title": "Only the title"})
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Only the title"
    assert response.json()["description"] == "Keep me."
    assert _plan(response) == plan

    response = client.patch(url, json={"description": "New words."})
    assert response.status_code == 200, response.text
    assert (response.json()["title"], response.json()["description"]) == (
        "Only the title",
        "New words.",
    )
    assert _plan(response) == plan

    response = client.patch(url, json={"planned_starts": {"voting": "2031-04-01"}})
    assert response.status_code == 200, response.text
    assert _plan(response) == {**plan, "voting": "2031-04-01"}
    assert response.json()["description"] == "New words."

    response = client.patch(url, json={"planned_starts": {"review": None}})
    assert response.status_code == 200, response.text
    assert _plan(response) == {**plan, "voting": "2031-04-01", "review": None}

    # The merged plan must still go forward; a refusal changes nothing.
    response = client.patch(url, json={"title": "Late", "planned_starts": {"voting": "2030-12-01"}})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "plan"
    response = client.patch(url, json={"planned_starts": {"party": "2031-05-01"}})
    assert response.status_code == 422
    assert "Unknown phase" in response.json()["detail"]
    # A title or description may be left out, not sent as null; an empty title is refused.
    for field in ("title", "description"):
        response = client.patch(url, json={field: None})
        assert response.status_code == 422, response.text
        assert response.json()["type"] == "/problems/validation"
        assert response.json()["errors"][0]["field"] == f"body.{field}"
    response = client.patch(url, json={"title": "  "})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "title"
    response = client.patch(url, json={"title": "x" * 201})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.title"
    # null for the whole plan: unchanged, as before.
    response = client.patch(url, json={"planned_starts": None})
    assert response.status_code == 200, response.text
    shown = client.get(url).json()
    assert (shown["title"], shown["description"]) == ("Only the title", "New words.")
    assert {p["phase"]: p["planned_start"] for p in shown["phase_plan"]} == {
        **plan,
        "voting": "2031-04-01",
        "review": None,
    }
