from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from app.core.errors import DomainError
from app.cycles import service
from app.cycles.models import Cycle, CyclePhase, Phase, PhaseChange
from app.proposals import service as proposals_service
from tests.factories import districts_of, make_cycle, make_proposal, make_user


def create(db_session, **overrides):  # type: ignore[no-untyped-def]
    values = {
        "title": "Budget 2030",
        "description": "Spend it well.",
        "currency": "eur",
        "districts": [("North", 100_00), ("South", 50_00)],
        "actor_id": None,
    }
    values.update(overrides)
    return service.create_cycle(db_session, **values)


def test_create_cycle(db_session) -> None:  # type: ignore[no-untyped-def]
    cycle = create(
        db_session, planned_starts={"intake": date(2030, 1, 1), "voting": date(2030, 3, 1)}
    )
    assert cycle.phase == "draft"
    assert cycle.currency == "EUR"
    assert [(d.name, d.budget_minor) for d in service.list_districts(db_session, cycle.id)] == [
        ("North", 100_00),
        ("South", 50_00),
    ]
    plan = {p.phase: p.planned_start for p in service.phase_plan(db_session, cycle.id)}
    assert list(plan) == ["intake", "review", "voting", "tallying", "results", "implementation"]
    assert plan["intake"] == date(2030, 1, 1)
    assert plan["voting"] == date(2030, 3, 1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": "  "}, "title"),
        ({"currency": "XYZ"}, "ISO 4217"),
        ({"currency": "EURO"}, "ISO 4217"),
        ({"districts": []}, "at least one district"),
        ({"districts": [("A", 1), ("a", 2)]}, "same name"),
        ({"districts": [("", 1)]}, "name"),
        ({"districts": [("A", -1)]}, "negative"),
        ({"planned_starts": {"intake": date(2030, 5, 1), "review": date(2030, 1, 1)}}, "forward"),
        ({"planned_starts": {"party": date(2030, 5, 1)}}, "Unknown phase"),
    ],
)
def test_create_cycle_refuses_bad_input(db_session, overrides, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError, match=message):
        create(db_session, **overrides)
    assert db_session.exec(select(Cycle)).all() == []


def test_phases_move_in_order_with_reasons(db_session) -> None:  # type: ignore[no-untyped-def]
    organizer = make_user(db_session, role="organizer")
    cycle = create(db_session)
    move = lambda to: proposals_service.move_phase(db_session, cycle=cycle, to=to, actor=organizer)  # noqa: E731
    with pytest.raises(DomainError, match="next phase is Proposal intake"):
        move("voting")
    with pytest.raises(DomainError, match="already in this phase"):
        move("draft")
    with pytest.raises(DomainError, match="Unknown phase"):
        move("party")
    move("intake")
    move("review")
    move("intake")  # the one step back: reopen intake
    move("review")
    with pytest.raises(DomainError, match="no proposal has been accepted"):
        move("voting")
    district = districts_of(db_session, cycle)[0]
    pending = make_proposal(db_session, cycle=cycle, district=district)
    make_proposal(db_session, cycle=cycle, district=district, status="accepted")
    with pytest.raises(DomainError, match="1 proposals are still waiting"):
        move("voting")
    proposals_service.review_proposal(
        db_session,
        proposal=pending,
        cycle=cycle,
        reviewer=organizer,
        decision="reject",
        reason="Not in the city's remit.",
    )
    move("voting")
    assert cycle.rules_frozen_at is not None
    with pytest.raises(DomainError, match="cannot reopen"):
        move("intake")
    with pytest.raises(DomainError, match="earlier phase"):
        move("review")
    move("tallying")
    with pytest.raises(DomainError, match="running the tally"):
        move("results")
    service.move_to_phase(
        db_session, cycle=cycle, to="results", actor_id=organizer.id, publishing=True
    )
    move("implementation")
    history = db_session.exec(
        select(PhaseChange).where(PhaseChange.cycle_id == cycle.id).order_by(PhaseChange.id)
    ).all()
    assert [h.to_phase for h in history] == [
        "intake",
        "review",
        "intake",
        "review",
        "voting",
        "tallying",
        "results",
        "implementation",
    ]
    started = {
        p.phase: p.started_at
        for p in db_session.exec(select(CyclePhase).where(CyclePhase.cycle_id == cycle.id))
    }
    assert all(started[p] is not None for p in ("intake", "voting", "implementation"))


def test_intake_needs_a_budget(db_session) -> None:  # type: ignore[no-untyped-def]
    organizer = make_user(db_session, role="organizer")
    cycle = create(db_session, districts=[("North", 0)])
    with pytest.raises(DomainError, match="budget"):
        proposals_service.move_phase(db_session, cycle=cycle, to="intake", actor=organizer)
    assert cycle.phase == "draft"


def test_voting_rules_freeze_when_voting_opens(db_session) -> None:  # type: ignore[no-untyped-def]
    cycle = make_cycle(db_session, phase=Phase.review)
    service.set_voting_rules(
        db_session,
        cycle=cycle,
        ballot_kind="approval",
        min_choices=1,
        max_choices=3,
        tally_rule="equalshares",
        tie_break="default",
    )
    assert (cycle.min_choices, cycle.max_choices, cycle.tally_rule) == (1, 3, "equalshares")
    for kwargs, message in (
        ({"ballot_kind": "ranked-choice"}, "support these kinds"),
        ({"tally_rule": "coin-flip"}, "Unknown tally rule"),
        ({"tie_break": "oldest"}, "Unknown tie-break"),
        ({"min_choices": 3, "max_choices": 2}, "below the minimum"),
    ):
        values = {
            "ballot_kind": "approval",
            "min_choices": 0,
            "max_choices": None,
            "tally_rule": "greedy",
            "tie_break": "default",
        }
        values.update(kwargs)
        with pytest.raises(DomainError, match=message):
            service.set_voting_rules(db_session, cycle=cycle, **values)
    assert cycle.tally_rule == "equalshares"
    voting = make_cycle(db_session, phase=Phase.voting)
    with pytest.raises(DomainError, match="frozen"):
        service.set_voting_rules(
            db_session,
            cycle=voting,
            ballot_kind="approval",
            min_choices=0,
            max_choices=None,
            tally_rule="greedy",
            tie_break="default",
        )
    district = districts_of(db_session, voting)[0]
    with pytest.raises(DomainError, match="once voting has opened"):
        service.update_district(
            db_session, cycle=voting, district=district, name="X", budget_minor=1
        )
    with pytest.raises(DomainError, match="once voting has opened"):
        service.add_district(db_session, cycle=voting, name="East", budget_minor=1)


def test_districts_can_change_before_voting(db_session) -> None:  # type: ignore[no-untyped-def]
    cycle = make_cycle(db_session, phase=Phase.intake)
    east = service.add_district(db_session, cycle=cycle, name="East", budget_minor=10_00)
    assert east.position == 2
    with pytest.raises(DomainError, match="same name"):
        service.add_district(db_session, cycle=cycle, name="east", budget_minor=1)
    service.update_district(db_session, cycle=cycle, district=east, name="Far East", budget_minor=5)
    assert (east.name, east.budget_minor) == ("Far East", 5)


def test_database_refuses_negative_budgets(db_session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import IntegrityError

    cycle = make_cycle(db_session)
    district = districts_of(db_session, cycle)[0]
    district.budget_minor = -1
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_database_freezes_rules_and_budgets_once_voting_opened(db_session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    open_cycle = make_cycle(db_session, phase=Phase.review)
    db_session.execute(
        text("UPDATE cycle SET tally_rule = 'phragmen' WHERE id = :id"), {"id": open_cycle.id}
    )
    voting = make_cycle(db_session, phase=Phase.voting)
    district = districts_of(db_session, voting)[0]
    for statement in (
        "UPDATE cycle SET tally_rule = 'phragmen' WHERE id = :id",
        "UPDATE cycle SET max_choices = 1 WHERE id = :id",
        "UPDATE cycle SET rules_frozen_at = NULL WHERE id = :id",
        "UPDATE district SET budget_minor = budget_minor + 1 WHERE cycle_id = :id",
    ):
        with pytest.raises(DBAPIError, match="frozen"), db_session.begin_nested():
            db_session.execute(text(statement), {"id": voting.id})
    # Moving the phase (not a rule) stays possible.
    db_session.execute(
        text("UPDATE cycle SET phase = 'tallying' WHERE id = :id"), {"id": voting.id}
    )
    assert district.budget_minor > 0


def test_update_cycle_changes_only_what_is_given(db_session) -> None:  # type: ignore[no-untyped-def]
    plan = {"intake": date(2030, 1, 1), "review": date(2030, 2, 1), "voting": date(2030, 3, 1)}
    cycle = create(db_session, planned_starts=plan)

    def planned() -> dict[str, date | None]:
        rows = service.phase_plan(db_session, cycle.id)
        return {p.phase: p.planned_start for p in rows if p.planned_start}

    service.update_cycle(db_session, cycle=cycle, title="Renamed")
    assert (cycle.title, cycle.description) == ("Renamed", "Spend it well.")
    assert planned() == plan
    service.update_cycle(db_session, cycle=cycle, planned_starts={"review": None})
    assert planned() == {"intake": date(2030, 1, 1), "voting": date(2030, 3, 1)}
    service.update_cycle(db_session, cycle=cycle, planned_starts={"results": date(2030, 6, 1)})
    assert planned() == {
        "intake": date(2030, 1, 1),
        "voting": date(2030, 3, 1),
        "results": date(2030, 6, 1),
    }
    # The merged plan is checked: a date before an earlier phase's kept date is refused.
    with pytest.raises(DomainError, match="forward"):
        service.update_cycle(db_session, cycle=cycle, planned_starts={"tallying": date(2029, 1, 1)})
    with pytest.raises(DomainError, match="Unknown phase"):
        service.update_cycle(db_session, cycle=cycle, planned_starts={"party": date(2030, 1, 1)})
    with pytest.raises(DomainError, match="title"):
        service.update_cycle(db_session, cycle=cycle, title=" ")
    service.update_cycle(db_session, cycle=cycle, description="")
    assert (cycle.title, cycle.description) == ("Renamed", "")
