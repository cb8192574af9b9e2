"""Access-code API (the pages are tested with the results pages)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.cycles.models import Phase
from tests.factories import districts_of, make_cycle


def test_api_code_count_must_be_a_json_integer(
    client: Any, db_session: Session, login_as: Any
) -> None:
    login_as("organizer")
    cycle = make_cycle(db_session, phase=Phase.voting)
    district = districts_of(db_session, cycle)[0]
    url = f"/api/cycles/{cycle.id}/districts/{district.id}/access-codes"
    for bad in (True, "2", 2.0):
        response = client.post(url, json={"count": bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == "body.count"
    assert client.get(f"/api/cycles/{cycle.id}/access-codes").json()[0]["issued"] == 0
    response = client.post(url, json={"count": 2})
    assert response.status_code == 201, response.text
    assert len(response.json()["codes"]) == 2
