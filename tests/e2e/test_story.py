"""The whole story of issue 3 over HTTP against a real server, as plain form posts and as
htmx requests: organizer sets up, resident proposes, organizer reviews, codes are issued,
residents vote, voting closes, tally, results, auditor view."""

from __future__ import annotations

import csv
import io
import re

import pytest
from bs4 import BeautifulSoup

from app.core.db import write_transaction
from app.core.security import Role
from tests.e2e.conftest import Browser, LiveServer
from tests.factories import PASSWORD, make_user


def html(response: object) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")  # type: ignore[attr-defined]


@pytest.fixture(params=["plain", "htmx"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def log_in(server: LiveServer, role: Role, htmx: bool) -> Browser:
    with write_transaction(server.engine) as session:
        user = make_user(session, role=role)
        email = user.email
    browser = Browser(server.base_url, htmx=htmx)
    response = browser.form("/login", {"email": email, "password": PASSWORD, "next": "/"})
    browser.follow(response)
    return browser


def test_whole_cycle(live_server: LiveServer, mode: str) -> None:
    htmx = mode == "htmx"
    organizer = log_in(live_server, Role.organizer, htmx)

    # 1. The organizer sets up a cycle with two districts, budgets in minor units.
    created = organizer.form(
        "/cycles",
        {
            "title": f"Story cycle ({live_server.kind}, {mode})",
            "description": "End-to-end test.",
            "currency": "EUR",
            "district_name_0": "North",
            "district_budget_0": "100000.00",
            "district_name_1": "South",
            "district_budget_1": "50000",
        },
    )
    match = re.search(r"/cycles/(\d+)", organizer.follow(created))
    assert match
    cycle_id = int(match.group(1))
    cycle = organizer.get(f"/api/cycles/{cycle_id}").json()
    districts = {d["name"]: d["id"] for d in cycle["districts"]}
    assert {d["name"]: d["budget_minor"] for d in cycle["districts"]} == {
        "North": 100_000_00,
        "South": 50_000_00,
    }
    organizer.follow(organizer.form(f"/cycles/{cycle_id}/phase", {"phase": "intake"}))

    # 2. A resident signs up and proposes projects.
    resident = Browser(live_server.base_url, htmx=htmx)
    resident.follow(
        resident.form(
            "/signup",
            {
                "email": f"res-{mode}-{cycle_id}@example.org",
                "password": PASSWORD,
                "display_name": "Resident Rita",
            },
        )
    )
    ideas = [
        ("North", "Shade trees", "60000"),
        ("North", "Bike lanes", "50000"),
        ("North", "Benches", "30000"),
        ("North", "Gold statue", "99000"),
        ("South", "Fountain", "20000"),
    ]
    for district, title, cost in ideas:
        response = resident.form(
            f"/cycles/{cycle_id}/proposals",
            {
                "district_id": str(districts[district]),
                "title": title,
                "description": f"{title} for {district}.",
                "estimated_cost": cost,
            },
        )
        resident.follow(response)
    proposals = {p["title"]: p for p in organizer.get(f"/api/cycles/{cycle_id}/proposals").json()}
    assert set(proposals) == {t for _d, t, _c in ideas}

    # 3. The organizer reviews: four accepted with a final cost, one rejected with a reason.
    organizer.follow(organizer.form(f"/cycles/{cycle_id}/phase", {"phase": "review"}))
    for title, proposal in proposals.items():
        if title == "Gold statue":
            data = {"decision": "reject", "reason": "Not a public need."}
        else:
            data = {
                "decision": "accept",
                "final_cost": str(proposal["estimated_cost_minor"] // 100),
            }
        response = organizer.form(f"/proposals/{proposal['id']}/review", data)
        assert response.status_code in (200, 303), response.text[:300]
    organizer.follow(organizer.form(f"/cycles/{cycle_id}/phase", {"phase": "voting"}))

    # 4. Codes are issued: shown once on the page (North) and as a CSV download (South).
    shown = organizer.form(
        f"/cycles/{cycle_id}/districts/{districts['North']}/access-codes",
        {"count": "4", "output": "page"},
    )
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    north_codes = [c.get_text() for c in html(shown).select("#access_codes code")]
    assert len(north_codes) == 4
    download = organizer.form(
        f"/cycles/{cycle_id}/districts/{districts['South']}/access-codes",
        {"count": "2", "output": "csv"},
    )
    south_codes = [r["access_code"] for r in csv.DictReader(io.StringIO(download.text))]
    assert len(south_codes) == 2

    # 5. Residents vote, anonymously, each with a code.
    ids = {t: p["id"] for t, p in proposals.items()}
    votes = [
        (north_codes[0], ["Shade trees", "Benches"]),
        (north_codes[1], ["Bike lanes", "Benches"]),
        (north_codes[2], ["Shade trees"]),
        (south_codes[0], ["Fountain"]),
    ]
    for code, titles in votes:
        voter = Browser(live_server.base_url, htmx=htmx)
        # The code form is a plain post in both modes (it opens a whole page).
        opened = voter.http.post(
            "/vote/ballot", data={"code": code.lower(), "csrf_token": voter.token()}
        )
        assert opened.status_code == 200
        page = html(opened)
        assert {int(b["value"]) for b in page.select("input[name=project]")} >= {
            ids[t] for t in titles
        }
        # Ticking boxes: htmx gets only the meter (out of band), no-JS gets the page.
        chosen = [str(ids[t]) for t in titles]
        meter = voter.form("/vote/ballot", {"code": code, "project": chosen, "action": "update"})
        assert meter.status_code == 200
        meter_el = html(meter).find(id="meter")
        assert meter_el is not None
        assert (meter_el.get("hx-swap-oob") == "innerHTML") == htmx
        # Over budget is refused with the form again, then the real choice is cast.
        if titles == ["Shade trees"]:
            over = voter.form(
                "/vote/cast",
                {"code": code, "project": [str(ids[t]) for t in ("Shade trees", "Bike lanes")]},
            )
            assert over.status_code == 422
            assert html(over).find(id="form-error") is not None
        done = voter.follow(voter.form("/vote/cast", {"code": code, "project": chosen}))
        receipt = html(voter.get(done)).find(id="receipt")
        assert receipt is not None and len(receipt.get_text()) == 32
        again = voter.form("/vote/cast", {"code": code, "project": chosen})
        assert again.status_code == 422
        voter.close()
    unknown = Browser(live_server.base_url, htmx=htmx)
    assert (
        unknown.form("/vote/ballot", {"code": "0000-0000-0000-0000-0000-0000"}).status_code == 422
    )
    unknown.close()

    # 6. Voting closes; the tally runs once; results are published.
    organizer.follow(organizer.form(f"/cycles/{cycle_id}/phase", {"phase": "tallying"}))
    published = organizer.form(f"/cycles/{cycle_id}/results", {})
    organizer.follow(published)
    results = organizer.get(f"/api/cycles/{cycle_id}/results").json()
    north = next(d for d in results["districts"] if d["district"] == "North")
    by_title = {p["title"]: p for p in north["projects"]}
    assert {t: p["votes"] for t, p in by_title.items()} == {
        "Shade trees": 2,
        "Bike lanes": 1,
        "Benches": 2,
    }
    # Tie at 2 votes: the cheaper project first (Benches), then Shade trees; Bike lanes no
    # longer fits (30k + 60k + 50k > 100k).
    assert {t for t, p in by_title.items() if p["funded"]} == {"Shade trees", "Benches"}
    assert north["budget_used_minor"] == 90_000_00 and north["ballots"] == 3
    assert organizer.form(f"/cycles/{cycle_id}/results", {}).status_code == 409

    # 7. Anyone reads the results page; the auditor sees cycle, projects, results, no
    # personal data, and cannot change anything.
    auditor = log_in(live_server, Role.auditor, htmx)
    for url in (
        f"/cycles/{cycle_id}",
        f"/cycles/{cycle_id}/results",
        f"/cycles/{cycle_id}/proposals",
        f"/cycles/{cycle_id}/access-codes",
        "/audit",
    ):
        response = auditor.get(url)
        assert response.status_code == 200, url
        assert "@example.org" not in response.text and "Resident Rita" not in response.text, url
    page = html(auditor.get(f"/cycles/{cycle_id}/results"))
    rows = page.select("section.district-result tbody tr")
    assert len(rows) == 4
    assert auditor.form(f"/cycles/{cycle_id}/results", {}).status_code == 403
    assert (
        auditor.form(
            f"/cycles/{cycle_id}/districts/{districts['North']}/access-codes", {"count": "1"}
        ).status_code
        == 403
    )
    for browser in (organizer, resident, auditor):
        browser.close()
