from __future__ import annotations

from sqlmodel import select

from app.core.security import User, verify_password
from app.cycles import service as cycles_service
from app.cycles.models import Cycle
from app.demo import DEMO_ACCOUNTS, load_demo
from app.proposals import service as proposals_service
from app.proposals.models import Proposal


def test_demo_city(db_session, settings) -> None:  # type: ignore[no-untyped-def]
    summary = load_demo(db_session, settings)
    assert summary.created
    voting = db_session.get(Cycle, summary.voting_cycle_id)
    assert voting.phase == "voting"
    assert voting.rules_frozen_at is not None
    districts = cycles_service.list_districts(db_session, voting.id)
    assert len(districts) == 2
    assert all(d.budget_minor > 0 for d in districts)
    for district in districts:
        assert proposals_service.ballot_projects(
            db_session, cycle_id=voting.id, district_id=district.id
        )
    proposals = db_session.exec(select(Proposal)).all()
    assert len(proposals) == 20
    assert {p.status for p in proposals} == {"submitted", "accepted", "rejected"}
    for role, email, password, _name in DEMO_ACCOUNTS:
        user = db_session.exec(select(User).where(User.email == email)).one()
        assert user.role == role.value
        assert verify_password(user.password_hash, password, settings)
    again = load_demo(db_session, settings)
    assert not again.created
    assert again.voting_cycle_id == summary.voting_cycle_id
    assert len(db_session.exec(select(Proposal)).all()) == 20


def test_demo_pages_render_in_both_languages(client, db_session, settings) -> None:  # type: ignore[no-untyped-def]
    summary = load_demo(db_session, settings)
    for lang in ("en", "zh-CN"):
        for url in (
            "/",
            "/cycles",
            f"/cycles/{summary.voting_cycle_id}",
            f"/cycles/{summary.voting_cycle_id}/proposals",
        ):
            response = client.get(url, headers={"Accept-Language": lang})
            assert response.status_code == 200, url
