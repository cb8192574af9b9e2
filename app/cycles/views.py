"""Read models for cycle pages and the API (shared by both)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.cycles import service
from app.cycles.models import Cycle
from app.cycles.schemas import CycleRead, DistrictRead, PhaseRead


def cycle_read(session: Session, cycle: Cycle) -> CycleRead:
    assert cycle.id is not None
    return CycleRead(
        id=cycle.id,
        title=cycle.title,
        description=cycle.description,
        currency=cycle.currency,
        phase=cycle.phase,
        ballot_kind=cycle.ballot_kind,
        min_choices=cycle.min_choices,
        max_choices=cycle.max_choices,
        tally_rule=cycle.tally_rule,
        tie_break=cycle.tie_break,
        tie_break_seed_commitment=service.tie_break_commitment(cycle),
        rules_frozen_at=cycle.rules_frozen_at,
        districts=[
            DistrictRead(id=d.id or 0, name=d.name, budget_minor=d.budget_minor)
            for d in service.list_districts(session, cycle.id)
        ],
        phase_plan=[
            PhaseRead(phase=p.phase, planned_start=p.planned_start, started_at=p.started_at)
            for p in service.phase_plan(session, cycle.id)
        ],
    )


def cycle_context(session: Session, cycle: Cycle) -> dict[str, Any]:
    """What every cycle page shows: the cycle, districts, plan and labels."""
    assert cycle.id is not None
    districts = service.list_districts(session, cycle.id)
    return {
        "cycle": cycle,
        "districts": districts,
        "total_budget": sum(d.budget_minor for d in districts),
        "plan": service.phase_plan(session, cycle.id),
        "phase_label": service.phase_label,
        "rules_frozen": service.rules_frozen(cycle),
        "next_phase": service.next_phase(cycle),
        "rule_label": service.rule_label,
        "rule_explanation": service.rule_explanation,
        "tie_break_label": service.tie_break_label,
        "seed_commitment": service.tie_break_commitment(cycle),
    }
