"""Cycle verbs: create, edit, districts and budgets, voting rules, phase moves.

Each verb is one write path; it flushes, never commits, and raises ``DomainError`` with a
reason a person can act on.  Phase moves that depend on proposals (voting needs an accepted
project) are checked by ``app.proposals.service.move_phase``, which calls ``move_to_phase``
here with the counts; results are published only by the results service
(``publishing=True``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import date
from fractions import Fraction
from typing import cast

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
from app.ledger.verify.recount import seed_commitment
from app.tally import RULES, TIE_BREAKS, BallotKind, BallotRules, Election, TallyError, tally

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


#: Counting rules a resident can read about: rule id -> (label, one-line explanation).
TALLY_RULE_TEXT: dict[str, tuple[str, str]] = {
    "greedy": (
        N_("Greedy"),
        N_(
            "Projects with the most votes first; a project that no longer fits in the budget "
            "is skipped and counting goes on with the next."
        ),
    ),
    "greedy-no-skip": (
        N_("Greedy, stop at the first that does not fit"),
        N_("Projects with the most votes first; counting stops at the first that does not fit."),
    ),
    "greedy-threshold": (
        N_("Greedy with a minimum score"),
        N_("Like greedy, but only projects that reach a minimum number of votes can win."),
    ),
    "equalshares": (
        N_("Method of Equal Shares"),
        N_(
            "Each voter gets an equal share of the budget; a project is funded when its "
            "supporters can pay for it together, the cheapest per supporter first."
        ),
    ),
    "equalshares/add1": (
        N_("Method of Equal Shares, completed by add-one"),
        N_(
            "Equal shares, with every voter's share raised one unit at a time for as long as "
            "the outcome stays within the budget, so less money is left unspent."
        ),
    ),
    "equalshares/add1-greedy": (
        N_("Method of Equal Shares, add-one, then greedy"),
        N_(
            "Equal shares completed by add-one; money still left funds the projects with the "
            "most votes that fit."
        ),
    ),
    "equalshares/add1-comparison": (
        N_("Method of Equal Shares, add-one, with a comparison step"),
        N_(
            "Equal shares completed by add-one, then compared with the greedy outcome: the "
            "outcome most voters prefer is taken."
        ),
    ),
    "phragmen": (
        N_("Sequential Phragmén"),
        N_(
            "Projects are bought one by one, each time the one whose supporters' shared load "
            "stays lowest."
        ),
    ),
    "utilitarian": (
        N_("Most approvals in total"),
        N_("The set of projects within the budget that has the most approvals in total."),
    ),
}

TIE_BREAK_TEXT: dict[str, tuple[str, str]] = {
    "default": (
        N_("Lower cost, then more votes, then a lot"),
        N_(
            "Exact ties go to the cheaper project, then to the one with more votes, then to a "
            "lot drawn from a seed fixed when voting opens."
        ),
    ),
    "pabutools": (
        N_("pabutools order"),
        N_("Exact ties are broken in the order the pabutools reference implementation uses."),
    ),
}


def tally_rules_for(ballot_kind: str) -> list[str]:
    """The rule ids the tally engine can count ``ballot_kind`` ballots with (a budget cap).

    Asks the engine itself: a rule it refuses for this kind (or that needs data a cycle does
    not have, such as a score threshold) is not offered.
    """
    kind = cast(BallotKind, ballot_kind)
    empty = Election(budget=Fraction(0), projects={}, rules=BallotRules(kind=kind), ballots=())
    usable = []
    for rule in RULES:
        try:
            tally(empty, rule)
        except TallyError:
            continue
        usable.append(rule)
    return usable


def rule_label(rule: str) -> str:
    return _(TALLY_RULE_TEXT[rule][0]) if rule in TALLY_RULE_TEXT else rule


def rule_explanation(rule: str) -> str:
    return _(TALLY_RULE_TEXT[rule][1]) if rule in TALLY_RULE_TEXT else ""


def tie_break_label(tie_break: str) -> str:
    return _(TIE_BREAK_TEXT[tie_break][0]) if tie_break in TIE_BREAK_TEXT else tie_break


def tie_break_commitment(cycle: Cycle) -> str | None:
    """The public SHA-256 commitment to the tie-break seed (None before voting opens)."""
    if not cycle.tie_break_seed:
        return None
    return seed_commitment(bytes.fromhex(cycle.tie_break_seed))


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
    title: str | None = None,
    description: str | None = None,
    planned_starts: Mapping[str, date | None] | None = None,
) -> Cycle:
    """Change title, description and planned dates (allowed in every phase).

    None leaves a field as it is.  ``planned_starts`` sets the phases it names (a None date
    clears that phase's date) and keeps the others; the resulting plan must go forward.
    """
    clean_title = _clean_title(title) if title is not None else cycle.title
    clean_description = (
        _clean_description(description) if description is not None else cycle.description
    )
    if planned_starts is not None:
        rows = phase_plan(session, cycle.id or 0)
        current = {row.phase: row.planned_start for row in rows}
        plan = _check_plan({**current, **planned_starts})
        for row in rows:
            row.planned_start = plan[row.phase]
            session.add(row)
    cycle.title = clean_title
    cycle.description = clean_description
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
    if tally_rule not in tally_rules_for(ballot_kind):
        raise DomainError(
            _("The counting rule %(rule)s cannot count this kind of ballot.")
            % {"rule": rule_label(tally_rule)},
            field="tally_rule",
        )
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
        # The tie-break lot's seed is fixed now, before any ballot, and kept secret until the
        # results are published; its commitment is public from now on.
        cycle.tie_break_seed = secrets.token_hex(32)
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
