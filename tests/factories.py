"""Test data builders: plain functions writing real rows (they flush, never commit).

``make_user(session, role=...)``, ``make_cycle(session, **overrides)`` (with districts),
``make_proposal(session, cycle=..., **overrides)``.  Passwords use the test settings' cheap
Argon2id parameters.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import date
from typing import Any

from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.security import Role, User, hash_password
from app.cycles.models import PLANNED_PHASES, Cycle, CyclePhase, District, Phase
from app.proposals.models import Proposal, ProposalStatus

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_user(
    session: Session,
    *,
    role: Role | str = Role.resident,
    email: str | None = None,
    password: str = PASSWORD,
    display_name: str | None = None,
) -> User:
    n = next(_counter)
    role = Role(role)
    user = User(
        email=email or f"{role.value}{n}@example.org",
        display_name=display_name or f"{role.value.title()} {n}",
        password_hash=hash_password(password, get_settings()),
        role=role.value,
    )
    session.add(user)
    session.flush()
    return user


def make_cycle(
    session: Session,
    *,
    districts: tuple[tuple[str, int], ...] = (("North", 100_000_00), ("South", 50_000_00)),
    phase: Phase | str = Phase.intake,
    **overrides: Any,
) -> Cycle:
    n = next(_counter)
    values: dict[str, Any] = {
        "title": f"Cycle {n}",
        "description": "A test cycle.",
        "currency": "EUR",
        "phase": Phase(phase).value,
    }
    values.update(overrides)
    if Phase(values["phase"]) in (
        Phase.voting,
        Phase.tallying,
        Phase.results,
        Phase.implementation,
    ):
        values.setdefault("rules_frozen_at", utcnow())
        values.setdefault("tie_break_seed", secrets.token_hex(32))
    cycle = Cycle(**values)
    session.add(cycle)
    session.flush()
    assert cycle.id is not None
    for position, (name, budget) in enumerate(districts):
        session.add(District(cycle_id=cycle.id, name=name, budget_minor=budget, position=position))
    for offset, planned in enumerate(PLANNED_PHASES):
        session.add(
            CyclePhase(
                cycle_id=cycle.id, phase=planned.value, planned_start=date(2030, 1 + offset, 1)
            )
        )
    session.flush()
    return cycle


def districts_of(session: Session, cycle: Cycle) -> list[District]:
    from sqlmodel import select

    return list(
        session.exec(
            select(District).where(District.cycle_id == cycle.id).order_by(District.position)  # type: ignore[arg-type]
        )
    )


def make_proposal(
    session: Session,
    *,
    cycle: Cycle,
    district: District | None = None,
    author: User | None = None,
    status: ProposalStatus | str = ProposalStatus.submitted,
    **overrides: Any,
) -> Proposal:
    n = next(_counter)
    district = district or districts_of(session, cycle)[0]
    status = ProposalStatus(status)
    values: dict[str, Any] = {
        "cycle_id": cycle.id,
        "district_id": district.id,
        "author_id": author.id if author else None,
        "title": f"Proposal {n}",
        "description": f"Description of proposal {n}.",
        "estimated_cost_minor": 10_000_00,
        "status": status.value,
    }
    if status is ProposalStatus.accepted:
        values["final_cost_minor"] = overrides.pop("final_cost_minor", 12_000_00)
        values["reviewed_at"] = utcnow()
    if status is ProposalStatus.rejected:
        values["rejection_reason"] = overrides.pop("rejection_reason", "Not feasible.")
        values["reviewed_at"] = utcnow()
    values.update(overrides)
    proposal = Proposal(**values)
    session.add(proposal)
    session.flush()
    return proposal
