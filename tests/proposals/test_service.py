from __future__ import annotations

import pytest

from app.core.errors import DomainError, PermissionDeniedError
from app.cycles.models import Phase
from app.proposals import service
from tests.factories import districts_of, make_cycle, make_proposal, make_user


def submit(db_session, cycle, author, **overrides):  # type: ignore[no-untyped-def]
    values = {
        "district_id": districts_of(db_session, cycle)[0].id,
        "title": "Benches",
        "description": "Ten benches in the park.",
        "estimated_cost_minor": 5_000_00,
    }
    values.update(overrides)
    return service.submit_proposal(db_session, cycle=cycle, author=author, **values)


def test_resident_submits_during_intake(db_session) -> None:  # type: ignore[no-untyped-def]
    resident = make_user(db_session)
    cycle = make_cycle(db_session, phase=Phase.intake)
    proposal = submit(db_session, cycle, resident, title="  Benches   in  the park ")
    assert proposal.status == "submitted"
    assert proposal.title == "Benches in the park"
    assert service.list_by_author(db_session, resident.id) == [proposal]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": "ab"}, "at least 3"),
        ({"description": "short"}, "at least 10"),
        ({"estimated_cost_minor": 0}, "above zero"),
        ({"district_id": 999_999}, "this cycle's districts"),
        ({"district_id": None}, "Choose the district"),
    ],
)
def test_submit_refuses_bad_input(db_session, overrides, message) -> None:  # type: ignore[no-untyped-def]
    resident = make_user(db_session)
    cycle = make_cycle(db_session, phase=Phase.intake)
    with pytest.raises(DomainError, match=message):
        submit(db_session, cycle, resident, **overrides)


def test_district_of_another_cycle_is_refused(db_session) -> None:  # type: ignore[no-untyped-def]
    resident = make_user(db_session)
    cycle = make_cycle(db_session, phase=Phase.intake)
    other = make_cycle(db_session, phase=Phase.intake)
    with pytest.raises(DomainError, match="this cycle's districts"):
        submit(db_session, cycle, resident, district_id=districts_of(db_session, other)[0].id)


def test_only_residents_during_intake(db_session) -> None:  # type: ignore[no-untyped-def]
    organizer = make_user(db_session, role="organizer")
    resident = make_user(db_session)
    cycle = make_cycle(db_session, phase=Phase.review)
    with pytest.raises(DomainError, match="intake is closed"):
        submit(db_session, cycle, resident)
    with pytest.raises(PermissionDeniedError):
        submit(db_session, make_cycle(db_session, phase=Phase.intake), organizer)


def test_author_edits_until_review(db_session) -> None:  # type: ignore[no-untyped-def]
    resident = make_user(db_session)
    stranger = make_user(db_session)
    cycle = make_cycle(db_session, phase=Phase.intake)
    proposal = submit(db_session, cycle, resident)
    south = districts_of(db_session, cycle)[1]
    service.edit_proposal(
        db_session,
        proposal=proposal,
        cycle=cycle,
        author=resident,
        district_id=south.id,
        title="Better benches",
        description="Twelve benches in the park.",
        estimated_cost_minor=6_000_00,
    )
    assert (proposal.district_id, proposal.title) == (south.id, "Better benches")
    with pytest.raises(PermissionDeniedError):
        service.edit_proposal(
            db_session,
            proposal=proposal,
            cycle=cycle,
            author=stranger,
            district_id=south.id,
            title="Mine now",
            description="Twelve benches in the park.",
            estimated_cost_minor=1,
        )
    cycle.phase = Phase.review.value
    with pytest.raises(DomainError, match="until review starts"):
        service.edit_proposal(
            db_session,
            proposal=proposal,
            cycle=cycle,
            author=resident,
            district_id=south.id,
            title="Too late",
            description="Twelve benches in the park.",
            estimated_cost_minor=1,
        )
    assert proposal.title == "Better benches"


def test_review_accept_and_reject(db_session) -> None:  # type: ignore[no-untyped-def]
    organizer = make_user(db_session, role="organizer")
    cycle = make_cycle(db_session, phase=Phase.review, districts=(("North", 100_00),))
    north = districts_of(db_session, cycle)[0]
    a = make_proposal(db_session, cycle=cycle, district=north)
    b = make_proposal(db_session, cycle=cycle, district=north)
    with pytest.raises(DomainError, match="whole budget"):
        service.review_proposal(
            db_session,
            proposal=a,
            cycle=cycle,
            reviewer=organizer,
            decision="accept",
            final_cost_minor=100_01,
        )
    with pytest.raises(DomainError, match="final cost"):
        service.review_proposal(
            db_session, proposal=a, cycle=cycle, reviewer=organizer, decision="accept"
        )
    with pytest.raises(DomainError, match="reason"):
        service.review_proposal(
            db_session, proposal=b, cycle=cycle, reviewer=organizer, decision="reject", reason=" "
        )
    with pytest.raises(DomainError, match="accept or to reject"):
        service.review_proposal(
            db_session, proposal=b, cycle=cycle, reviewer=organizer, decision="maybe"
        )
    service.review_proposal(
        db_session,
        proposal=a,
        cycle=cycle,
        reviewer=organizer,
        decision="accept",
        final_cost_minor=100_00,
    )
    service.review_proposal(
        db_session,
        proposal=b,
        cycle=cycle,
        reviewer=organizer,
        decision="reject",
        reason="Already planned by the city.",
    )
    assert (a.status, a.final_cost_minor) == ("accepted", 100_00)
    assert (b.status, b.rejection_reason) == ("rejected", "Already planned by the city.")
    assert service.ballot_projects(db_session, cycle_id=cycle.id, district_id=north.id) == [a]
    assert service.status_counts(db_session, cycle.id) == {
        "submitted": 0,
        "accepted": 1,
        "rejected": 1,
    }
    # A decision can change during review; a rejection clears the cost and vice versa.
    service.review_proposal(
        db_session,
        proposal=a,
        cycle=cycle,
        reviewer=organizer,
        decision="reject",
        reason="On second thought, no.",
    )
    assert (a.status, a.final_cost_minor) == ("rejected", None)


def test_review_only_in_review_phase(db_session) -> None:  # type: ignore[no-untyped-def]
    organizer = make_user(db_session, role="organizer")
    cycle = make_cycle(db_session, phase=Phase.voting)
    proposal = make_proposal(db_session, cycle=cycle, status="accepted")
    with pytest.raises(DomainError, match="review phase"):
        service.review_proposal(
            db_session,
            proposal=proposal,
            cycle=cycle,
            reviewer=organizer,
            decision="reject",
            reason="Changed my mind.",
        )
    assert proposal.status == "accepted"


def test_database_enforces_accepted_has_cost(db_session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import IntegrityError

    cycle = make_cycle(db_session)
    proposal = make_proposal(db_session, cycle=cycle)
    proposal.status = "accepted"
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_line_endings_are_normalised(db_session) -> None:  # type: ignore[no-untyped-def]
    resident = make_user(db_session)
    cycle = make_cycle(db_session, phase=Phase.intake)
    proposal = submit(db_session, cycle, resident, description="First part.\r\n\r\nSecond part.")
    assert proposal.description == "First part.\n\nSecond part."
