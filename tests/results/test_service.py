"""Publishing results: greedy through app.tally, stored once (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session

from app.ballots import service as ballots_service
from app.cycles.models import Phase
from app.eligibility import service as eligibility_service
from app.proposals.models import ProposalStatus
from app.results import service
from tests.factories import districts_of, make_cycle, make_proposal

KEY = b"test-access-code-key-0123456789"


def test_greedy_results_are_published_once(db_session: Session) -> None:
    cycle = make_cycle(
        db_session, phase=Phase.voting, districts=(("North", 100_000_00), ("South", 10_000_00))
    )
    north, south = districts_of(db_session, cycle)
    big = make_proposal(
        db_session,
        cycle=cycle,
        district=north,
        status=ProposalStatus.accepted,
        final_cost_minor=70_000_00,
        title="Park",
    )
    mid = make_proposal(
        db_session,
        cycle=cycle,
        district=north,
        status=ProposalStatus.accepted,
        final_cost_minor=40_000_00,
        title="Library",
    )
    small = make_proposal(
        db_session,
        cycle=cycle,
        district=north,
        status=ProposalStatus.accepted,
        final_cost_minor=20_000_00,
        title="Benches",
    )
    lonely = make_proposal(
        db_session,
        cycle=cycle,
        district=south,
        status=ProposalStatus.accepted,
        final_cost_minor=5_000_00,
    )
    _b, codes = eligibility_service.issue_access_codes(
        db_session, district_id=north.id or 0, count=5, key=KEY
    )
    # Votes: Park 3, Library 4, Benches 2.  Greedy: Library (40k), Park does not fit (40+70 >
    # 100), Benches fits (60k used).
    for code, chosen in zip(
        codes,
        [[big.id, small.id], [big.id, small.id], [big.id], [mid.id], [mid.id]],
        strict=False,
    ):
        ballots_service.cast_ballot(db_session, code_text=code, chosen=chosen, key=KEY)  # type: ignore[arg-type]
    _b, codes2 = eligibility_service.issue_access_codes(
        db_session, district_id=north.id or 0, count=2, key=KEY
    )
    for code in codes2:
        ballots_service.cast_ballot(db_session, code_text=code, chosen=[mid.id or 0], key=KEY)

    with pytest.raises(service.VotingNotClosedError):
        service.publish_results(db_session, cycle=cycle)
    assert service.published_results(db_session, cycle=cycle) == []
    cycle.phase = Phase.tallying.value
    db_session.add(cycle)
    db_session.flush()

    outcomes = service.publish_results(db_session, cycle=cycle)
    assert [o.district.name for o in outcomes] == ["North", "South"]
    north_result = outcomes[0]
    rows = {p.title: p for p in north_result.projects}
    assert (rows["Library"].votes, rows["Park"].votes, rows["Benches"].votes) == (4, 3, 2)
    assert rows["Library"].funded and rows["Benches"].funded and not rows["Park"].funded
    assert north_result.result.budget_used == 60_000_00
    assert north_result.result.ballot_count == 7
    assert north_result.result.rule == "greedy"
    assert all(p.explanation for p in north_result.projects)
    assert json.loads(north_result.result.outcome_json)["selected"] == [str(mid.id), str(small.id)]
    south_result = outcomes[1]
    # No ballots: greedy (like pabutools) still funds what fits, at 0 votes.
    assert south_result.result.ballot_count == 0
    assert south_result.projects[0].votes == 0
    assert [p.proposal_id for p in south_result.projects] == [lonely.id]

    with pytest.raises(service.ResultsAlreadyPublishedError):
        service.publish_results(db_session, cycle=cycle)
    again = service.published_results(db_session, cycle=cycle)
    assert [p.funded for p in again[0].projects] == [p.funded for p in north_result.projects]
