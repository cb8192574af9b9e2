"""Results pages and API; access-code pages (organizer only)."""

from __future__ import annotations

import csv
import io
from typing import Any

from bs4 import BeautifulSoup
from sqlmodel import Session

from app.ballots import service as ballots_service
from app.cycles.models import Phase
from app.eligibility import service as eligibility_service
from app.eligibility.codes import normalize_code
from app.proposals.models import ProposalStatus
from tests.factories import districts_of, make_cycle, make_proposal

KEY = b"test-access-code-key-0123456789"


def test_publish_and_show_results(
    client: Any, db_session: Session, login_as: Any, htmx: dict[str, str]
) -> None:
    cycle = make_cycle(db_session, phase=Phase.voting, districts=(("North", 50_000_00),))
    district = districts_of(db_session, cycle)[0]
    a = make_proposal(
        db_session,
        cycle=cycle,
        district=district,
        status=ProposalStatus.accepted,
        final_cost_minor=30_000_00,
        title="Playground",
    )
    b = make_proposal(
        db_session,
        cycle=cycle,
        district=district,
        status=ProposalStatus.accepted,
        final_cost_minor=25_000_00,
        title="Bike racks",
    )
    _batch, codes = eligibility_service.issue_access_codes(
        db_session, district_id=district.id or 0, count=3, key=KEY
    )
    for code, chosen in zip(codes, [[a.id], [a.id], [b.id]], strict=True):
        ballots_service.cast_ballot(db_session, code_text=code, chosen=chosen, key=KEY)  # type: ignore[arg-type]
    url = f"/cycles/{cycle.id}/results"
    db_session.commit()
    assert client.get(url).status_code == 200
    assert client.get(f"/api/cycles/{cycle.id}/results").status_code == 404
    # Anonymous and residents cannot publish; voting still open cannot be counted.
    assert client.post(url).status_code in (303, 401)
    login_as("resident")
    db_session.commit()
    assert client.post(url).status_code == 403
    login_as("organizer")
    db_session.commit()  # keep the set-up when a refused request rolls back
    refused = client.post(url, headers=htmx)
    assert refused.status_code == 422
    cycle.phase = Phase.tallying.value
    db_session.add(cycle)
    db_session.commit()
    response = client.post(url, headers=htmx)
    assert response.status_code in (200, 303)
    page = BeautifulSoup(client.get(url).text, "html.parser")
    rows = {
        tr.find("th").get_text(strip=True): [td.get_text(strip=True) for td in tr.find_all("td")]
        for tr in page.select("section.district-result tbody tr")
    }
    assert rows["Playground"][0] == "2" and rows["Playground"][2] == "Funded"
    assert rows["Bike racks"][0] == "1" and rows["Bike racks"][2] == "Not funded"
    data = client.get(f"/api/cycles/{cycle.id}/results").json()
    assert data["districts"][0]["budget_used_minor"] == 30_000_00
    assert data["districts"][0]["ballots"] == 3
    again = client.post(f"/api/cycles/{cycle.id}/results")
    assert again.status_code == 409


def test_access_codes_pages(client: Any, db_session: Session, login_as: Any) -> None:
    cycle = make_cycle(db_session, phase=Phase.voting)
    district = districts_of(db_session, cycle)[0]
    index = f"/cycles/{cycle.id}/access-codes"
    issue = f"/cycles/{cycle.id}/districts/{district.id}/access-codes"
    db_session.commit()
    assert client.get(index).status_code in (303, 401)
    login_as("resident")
    db_session.commit()
    assert client.get(index).status_code == 403
    assert client.post(issue, data={"count": "5"}).status_code == 403
    login_as("organizer")
    db_session.commit()
    assert client.get(index).status_code == 200
    shown = client.post(issue, data={"count": "5", "output": "page"})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    page = BeautifulSoup(shown.text, "html.parser")
    codes = [c.get_text() for c in page.select("#access_codes code")]
    assert len(codes) == 5 and all(normalize_code(c) for c in codes)
    download = client.post(issue, data={"count": "3", "output": "csv"})
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 3 and all(normalize_code(r["access_code"]) for r in rows)
    for bad in ("0", "abc", "", "100001"):
        assert client.post(issue, data={"count": bad}).status_code == 422
    api = client.post(
        f"/api/cycles/{cycle.id}/districts/{district.id}/access-codes", json={"count": 2}
    )
    assert api.status_code == 201 and len(api.json()["codes"]) == 2
    counts = client.get(f"/api/cycles/{cycle.id}/access-codes").json()
    assert counts[0]["issued"] == 10 and counts[0]["used"] == 0
    wrong = client.get(f"/cycles/{cycle.id}/districts/999999/access-codes")
    assert wrong.status_code in (404, 405)
