"""Cycle verbs: create, edit, districts and budgets, voting rules, phase moves.

Each verb is one write path; it flushes, never commits, and raises ``DomainError`` with a
reason a person can act on.  Phase moves that depend on proposals (voting needs an accepted
project) are checked by ``app.proposals.service.move_phase``, which calls ``move_to_phase``
here with the counts; results are published only by the results service
(``publishing=True``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from babel.numbers import list_currencies
from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import DomainError, NotFoundError
from app.core.i18n import N_, _
from app.cycles.models import (
    PHASES,
    PLANNED_PHASES,
    Cycle,
    CyclePhase,
    District,
    Phase,
    PhaseChange,
)
from app.tally import RULES, TIE_BREAKS

# Ballot kinds the ballot pages support today (app.tally counts more).
SUPPORTED_BALLOT_KINDS: tuple[str, ...] = ("approval",)
VOTING_AND_AFTER = frozenset({Phase.voting, Phase.tallying, Phase.results, Phase.implementation})

PHASE_LABELS: dict[str, str] = {
    Phase.draft: N_("Draft"),
    Phase.intake: N_("Proposal intake"),
    Phase.review: N_("Review"),
    Phase.voting: N_("Voting"),
    Phase.tallying: N_("Tallying"),
    Phase.results: N_("Results"),
    Phase.implementation: N_("Implementation"),
}


def phase_label(phase: str) -> str:
    return _(PHASE_LABELS.get(phase, phase))


# --- reading ---------------------------------------------------------------------------------


def get_cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFoundError(_("There is no such budget cycle."))
    return cycle


def list_cycles(session: Session) -> list[Cycle]:
    return list(
        session.exec(select(Cycle).order_by(col(Cycle.created_at).desc(), col(Cycle.id).desc()))
    )


def list_districts(session: Session, cycle_id: int) -> list[District]:
    return list(
        session.exec(
            select(District)
            .where(District.cycle_id == cycle_id)
            .order_by(col(District.position), col(District.id))
        )
    )


def get_district(session: Session, cycle_id: int, district_id: int) -> District:
    district = session.get(District, district_id)
    if district is None or district.cycle_id != cycle_id:
        raise NotFoundError(_("There is no such district in this cycle."))
    return district


def phase_plan(session: Session, cycle_id: int) -> list[CyclePhase]:
    rows = {
        row.phase: row
        for row in session.exec(select(CyclePhase).where(CyclePhase.cycle_id == cycle_id))
    }
    return [
        rows.get(p.value) or CyclePhase(cycle_id=cycle_id, phase=p.value) for p in PLANNED_PHASES
    ]


def phase_history(session: Session, cycle_id: int) -> list[PhaseChange]:
    return list(
        session.exec(
            select(PhaseChange)
            .where(PhaseChange.cycle_id == cycle_id)
            .order_by(col(PhaseChange.at), col(PhaseChange.id))
        )
    )


def rules_frozen(cycle: Cycle) -> bool:
    return cycle.rules_frozen_at is not None or Phase(cycle.phase) in VOTING_AND_AFTER


def next_phase(cycle: Cycle) -> Phase | None:
    index = PHASES.index(Phase(cycle.phase))
    return PHASES[index + 1] if index + 1 < len(PHASES) else None


# --- validation ------------------------------------------------------------------------------


def _clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise DomainError(_("Give the cycle a title."), field="title")
    if len(title) > 200:
        raise DomainError(_("Use at most 200 characters for the title."), field="title")
    return title


def _clean_description(description: str) -> str:
    description = (description or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(description) > 10_000:
        raise DomainError(
            _("Use at most 10,000 characters for the description."), field="description"
        )
    return description


def _clean_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or code not in list_currencies():
        raise DomainError(
            _("Use a three-letter ISO 4217 currency code, such as EUR, USD or CNY."),
            field="currency",
        )
    return code


def _clean_district_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(_("Give every district a name."), field="districts")
    if len(name) > 100:
        raise DomainError(_("Use at most 100 characters for a district name."), field="districts")
    return name


def _check_budget(budget_minor: int) -> int:
    if budget_minor < 0:
        raise DomainError(_("A budget cannot be negative."), field="districts")
    if budget_minor > 10**15:
        raise DomainError(_("That amount is too large."), field="districts")
    return budget_minor


def _check_plan(planned: Mapping[str, date | None]) -> dict[str, date | None]:
    unknown = [p for p in planned if p not in {q.value for q in PLANNED_PHASES}]
    if unknown:
        raise DomainError(_("Unknown phase in the plan: %(p)s.") % {"p": unknown[0]}, field="plan")
    previous: date | None = None
    for phase in PLANNED_PHASES:
        when = planned.get(phase.value)
        if when is None:
            continue
        if previous is not None and when < previous:
            raise DomainError(
                _("The phase plan must go forward in time: %(phase)s starts too early.")
                % {"phase": phase_label(phase)},
                field="plan",
            )
        previous = when
    return {p.value: planned.get(p.value) for p in PLANNED_PHASES}


def _refuse_after_voting_opened(cycle: Cycle, what: str) -> None:
    if rules_frozen(cycle):
        raise DomainError(what)


# --- verbs -----------------------------------------------------------------------------------


def create_cycle(
    session: Session,
    *,
    title: str,
    description: str,
    currency: str,
    districts: Sequence[tuple[str, int]],
    planned_starts: Mapping[str, date | None] | None = None,
    actor_id: int | None,
) -> Cycle:
    """A new cycle in the draft phase, with its districts and phase plan."""
    title = _clean_title(title)
    description = _clean_description(description)
    code = _clean_currency(currency)
    if not districts:
        raise DomainError(_("Add at least one district with its budget."), field="districts")
    if len(districts) > 100:
        raise DomainError(_("A cycle can have at most 100 districts."), field="districts")
    cleaned = [(_clean_district_name(n), _check_budget(b)) for n, b in districts]
    names = [n.casefold() for n, _b in cleaned]
    if len(set(names)) != len(names):
        raise DomainError(_("Two districts have the same name."), field="districts")
    plan = _check_plan(planned_starts or {})
    now = utcnow()
    cycle = Cycle(
        title=title,
        description=description,
        currency=code,
        phase=Phase.draft.value,
        created_by_id=actor_id,
        created_at=now,
        updated_at=now,
    )
    session.add(cycle)
    session.flush()
    assert cycle.id is not None
    for position, (name, budget) in enumerate(cleaned):
        session.add(District(cycle_id=cycle.id, name=name, budget_minor=budget, position=position))
    for phase in PLANNED_PHASES:
        session.add(
            CyclePhase(cycle_id=cycle.id, phase=phase.value, planned_start=plan[phase.value])
        )
    session.flush()
    return cycle


def update_cycle(
    session: Session,
    *,
    cycle: Cycle,
    title: str,
    description: str,
    planned_starts: Mapping[str, date | None] | None = None,
) -> Cycle:
    """Change title, description and planned dates (allowed in every phase)."""
    clean_title = _clean_title(title)
    clean_description = _clean_description(description)
    plan = _check_plan(planned_starts) if planned_starts is not None else None
    cycle.title = clean_title
    cycle.description = clean_description
    if plan is not None:
        for row in phase_plan(session, cycle.id or 0):
            row.planned_start = plan[row.phase]
            session.add(row)
    cycle.updated_at = utcnow()
    session.add(cycle)
    session.flush()
    return cycle


def add_district(session: Session, *, cycle: Cycle, name: str, budget_minor: int) -> District:
    _refuse_after_voting_opened(
        cycle, _("Districts and budgets cannot change once voting has opened.")
    )
    name = _clean_district_name(name)
    existing = list_districts(session, cycle.id or 0)
    if any(d.name.casefold() == name.casefold() for d in existing):
        raise DomainError(_("Two districts have the same name."), field="districts")
    if len(existing) >= 100:
        raise DomainError(_("A cycle can have at most 100 districts."), field="districts")
    district = District(
        cycle_id=cycle.id or 0,
        name=name,
        budget_minor=_check_budget(budget_minor),
        position=len(existing),
    )
    session.add(district)
    session.flush()
    return district


def update_district(
    session: Session, *, cycle: Cycle, district: District, name: str, budget_minor: int
) -> District:
    _refuse_after_voting_opened(
        cycle, _("Districts and budgets cannot change once voting has opened.")
    )
    name = _clean_district_name(name)
    others = [d for d in list_districts(session, cycle.id or 0) if d.id != district.id]
    if any(d.name.casefold() == name.casefold() for d in others):
        raise DomainError(_("Two districts have the same name."), field="districts")
    district.name = name
    district.budget_minor = _check_budget(budget_minor)
    session.add(district)
    session.flush()
    return district


def set_voting_rules(
    session: Session,
    *,
    cycle: Cycle,
    ballot_kind: str,
    min_choices: int,
    max_choices: int | None,
    tally_rule: str,
    tie_break: str,
) -> Cycle:
    """Choose the ballot kind, its limits, the tally rule and the tie-break (before voting)."""
    if rules_frozen(cycle):
        raise DomainError(_("The voting rules are frozen: voting has already opened."))
    if ballot_kind not in SUPPORTED_BALLOT_KINDS:
        raise DomainError(
            _("Plaza's ballots support these kinds: %(kinds)s.")
            % {"kinds": ", ".join(SUPPORTED_BALLOT_KINDS)},
            field="ballot_kind",
        )
    if tally_rule not in RULES:
        raise DomainError(_("Unknown tally rule."), field="tally_rule")
    if tie_break not in TIE_BREAKS:
        raise DomainError(_("Unknown tie-break rule."), field="tie_break")
    if min_choices < 0 or min_choices > 10_000:
        raise DomainError(_("The minimum number of choices is out of range."), field="min_choices")
    if max_choices is not None and (max_choices < 1 or max_choices > 10_000):
        raise DomainError(_("The maximum number of choices is out of range."), field="max_choices")
    if max_choices is not None and max_choices < min_choices:
        raise DomainError(
            _("The maximum number of choices cannot be below the minimum."), field="max_choices"
        )
    cycle.ballot_kind = ballot_kind
    cycle.min_choices = min_choices
    cycle.max_choices = max_choices
    cycle.tally_rule = tally_rule
    cycle.tie_break = tie_break
    cycle.updated_at = utcnow()
    session.add(cycle)
    session.flush()
    return cycle


def move_to_phase(
    session: Session,
    *,
    cycle: Cycle,
    to: Phase | str,
    actor_id: int | None,
    accepted_projects: int | None = None,
    pending_proposals: int | None = None,
    publishing: bool = False,
) -> Cycle:
    """Move ``cycle`` to phase ``to``, or refuse with the reason.

    Phases go forward one step at a time; the only step back is review -> intake (reopen
    intake), never once voting has opened.  Opening voting needs ``accepted_projects`` > 0
    and no proposal still waiting for review (``pending_proposals`` == 0), and freezes the
    voting rules.  Results are published by the results service (``publishing=True``).
    """
    try:
        target = Phase(to)
    except ValueError:
        raise DomainError(_("Unknown phase."), field="phase") from None
    current = Phase(cycle.phase)
    if target == current:
        raise DomainError(_("The cycle is already in this phase."), field="phase")
    if target == Phase.intake and current in VOTING_AND_AFTER:
        raise DomainError(
            _("Proposal intake cannot reopen: voting has already opened."), field="phase"
        )
    step_back = current == Phase.review and target == Phase.intake
    if not step_back and target != next_phase(cycle):
        if PHASES.index(target) < PHASES.index(current):
            raise DomainError(_("A cycle cannot go back to an earlier phase."), field="phase")
        nxt = next_phase(cycle)
        raise DomainError(
            _("Phases go in order: the next phase is %(next)s.")
            % {"next": phase_label(nxt) if nxt else "-"},
            field="phase",
        )
    if target == Phase.intake:
        districts = list_districts(session, cycle.id or 0)
        if not districts:
            raise DomainError(_("Add at least one district before opening intake."), field="phase")
        if all(d.budget_minor == 0 for d in districts):
            raise DomainError(
                _("Give at least one district a budget before opening intake."), field="phase"
            )
    if target == Phase.voting:
        if accepted_projects is None or pending_proposals is None:
            raise ValueError("opening voting needs the proposal counts (use proposals.move_phase)")
        if accepted_projects == 0:
            raise DomainError(
                _("Voting cannot open: no proposal has been accepted for the ballot."),
                field="phase",
            )
        if pending_proposals:
            raise DomainError(
                _("Voting cannot open: %(n)d proposals are still waiting for review.")
                % {"n": pending_proposals},
                field="phase",
            )
    if target == Phase.results and not publishing:
        raise DomainError(
            _("Results are published by running the tally on the results page."), field="phase"
        )
    now = utcnow()
    if target == Phase.voting:
        cycle.rules_frozen_at = now
    session.add(
        PhaseChange(
            cycle_id=cycle.id or 0,
            from_phase=current.value,
            to_phase=target.value,
            actor_id=actor_id,
            at=now,
        )
    )
    for row in phase_plan(session, cycle.id or 0):
        if row.phase == target.value:
            row.started_at = now
            session.add(row)
    cycle.phase = target.value
    cycle.updated_at = now
    session.add(cycle)
    session.flush()
    return cycle
