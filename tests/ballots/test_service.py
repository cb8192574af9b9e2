"""Casting approval ballots with a budget cap (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, inspect, select
from sqlmodel import Session

from app.ballots import service
from app.ballots.models import Ballot, BallotItem
from app.cycles.models import Cycle, District, Phase
from app.eligibility import service as eligibility_service
from app.eligibility.models import AccessCode
from app.proposals.models import Proposal, ProposalStatus
from tests.factories import districts_of, make_cycle, make_proposal

KEY = b"test-access-code-key-0123456789"


def voting_cycle(
    db_session: Session, **rules: Any
) -> tuple[Cycle, District, list[Proposal], list[str]]:
    # Voting rules are frozen (in the database too) once voting opens: set them at creation.
    cycle = make_cycle(db_session, phase=Phase.voting, districts=(("North", 100_000_00),), **rules)
    district = districts_of(db_session, cycle)[0]
    projects = [
        make_proposal(
            db_session,
            cycle=cycle,
            district=district,
            status=ProposalStatus.accepted,
            final_cost_minor=cost,
        )
        for cost in (60_000_00, 40_000_00, 30_000_00)
    ]
    make_proposal(db_session, cycle=cycle, district=district, status=ProposalStatus.rejected)
    _batch, codes = eligibility_service.issue_access_codes(
        db_session, district_id=district.id or 0, count=3, key=KEY
    )
    return cycle, district, projects, codes


def ids(projects: list[Proposal]) -> list[int]:
    return [p.id or 0 for p in projects]


def count(db_session: Session, model: type) -> int:
    return int(db_session.execute(select(func.count()).select_from(model)).scalar_one())


def test_open_ballot_lists_accepted_projects_only(db_session: Session) -> None:
    _cycle, district, projects, codes = voting_cycle(db_session)
    _code, sheet = service.open_ballot(db_session, code_text=codes[0], key=KEY)
    assert sheet.district.id == district.id
    assert sorted(p.id for p in sheet.projects) == sorted(ids(projects))
    assert sheet.meter(ids(projects)[:2]).left == 0


def test_cast_stores_one_unlinkable_ballot_and_uses_the_code(db_session: Session) -> None:
    _cycle, district, projects, codes = voting_cycle(db_session)
    before = count(db_session, Ballot)
    ballot = service.cast_ballot(db_session, code_text=codes[0], chosen=ids(projects)[:2], key=KEY)
    assert len(ballot.id) == 32 and ballot.total_cost == 100_000_00
    assert count(db_session, Ballot) == before + 1
    items = (
        db_session.execute(
            select(BallotItem.proposal_id).where(BallotItem.ballot_id == ballot.id)  # type: ignore[call-overload]
        )
        .scalars()
        .all()
    )
    assert sorted(items) == sorted(ids(projects)[:2])
    # Nothing in a ballot points at a code or says when it was cast.
    inspector = inspect(db_session.connection())
    ballot_columns = {c["name"]: c for c in inspector.get_columns("ballot")}
    assert set(ballot_columns) == {"id", "cycle_id", "district_id", "total_cost"}
    for table in ("ballot", "ballot_item"):
        for fk in inspector.get_foreign_keys(table):
            assert fk["referred_table"] != "access_code"
    used = db_session.execute(select(func.count()).where(AccessCode.used)).scalar_one()  # type: ignore[arg-type]
    assert used >= 1
    with pytest.raises(eligibility_service.AccessCodeUsedError):
        service.cast_ballot(db_session, code_text=codes[0], chosen=ids(projects)[:1], key=KEY)
    assert count(db_session, Ballot) == before + 1


@pytest.mark.parametrize(
    ("pick", "problem"),
    [
        (lambda p: p, "over_budget"),
        (lambda p: [], "empty"),
        (lambda p: [p[0], p[0]], "duplicate"),
        (lambda p: [p[0], 10**9], "unknown_project"),
    ],
)
def test_invalid_ballots_write_nothing(db_session: Session, pick: object, problem: str) -> None:
    _cycle, _district, projects, codes = voting_cycle(db_session)
    before = count(db_session, Ballot)
    with pytest.raises(service.BallotInvalidError) as exc:
        service.cast_ballot(db_session, code_text=codes[1], chosen=pick(ids(projects)), key=KEY)  # type: ignore[operator]
    assert problem in exc.value.problems
    assert count(db_session, Ballot) == before
    # The code is still usable.
    service.cast_ballot(db_session, code_text=codes[1], chosen=ids(projects)[2:], key=KEY)


def test_rejected_proposal_of_the_district_is_not_on_the_ballot(db_session: Session) -> None:
    cycle, district, _projects, codes = voting_cycle(db_session)
    rejected = db_session.execute(
        select(Proposal.id).where(Proposal.cycle_id == cycle.id, Proposal.status == "rejected")  # type: ignore[call-overload,arg-type]
    ).scalar_one()
    with pytest.raises(service.BallotInvalidError) as exc:
        service.cast_ballot(db_session, code_text=codes[0], chosen=[rejected], key=KEY)
    assert exc.value.problems == ["unknown_project"]


def test_max_choices_of_the_cycle_is_enforced(db_session: Session) -> None:
    _cycle, _district, projects, codes = voting_cycle(db_session, max_choices=1)
    with pytest.raises(service.BallotInvalidError) as exc:
        service.cast_ballot(db_session, code_text=codes[0], chosen=ids(projects)[1:], key=KEY)
    assert "too_many" in exc.value.problems


@pytest.mark.parametrize("phase", [Phase.review, Phase.tallying, Phase.results])
def test_no_ballot_outside_voting(db_session: Session, phase: Phase) -> None:
    cycle, _district, projects, codes = voting_cycle(db_session)
    cycle.phase = phase.value
    db_session.add(cycle)
    db_session.flush()
    with pytest.raises(service.VotingClosedError):
        service.cast_ballot(db_session, code_text=codes[0], chosen=ids(projects)[:1], key=KEY)
