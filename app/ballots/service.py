"""Ballot verbs: open a ballot for an access code, cast it.

``cast_ballot`` is the one write path for a vote. In one transaction it checks the code, the
phase and the choices, marks the code used with a conditional UPDATE (only one transaction can
win it, whatever the concurrency) and inserts the ballot. The ballot row holds a random receipt
id and no reference to the code, and no time of casting.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import and_, bindparam, insert, select, text, update
from sqlmodel import Session

from app.ballots.models import Ballot, BallotItem
from app.ballots.rules import Meter, check_approval_ballot, meter
from app.core import ratelimit
from app.core.db import DriverStatement
from app.core.errors import DomainError
from app.core.i18n import _
from app.core.money import format_money
from app.cycles.models import Cycle, District, Phase
from app.eligibility import service as eligibility_service
from app.eligibility.codes import code_hash
from app.eligibility.models import AccessCode
from app.proposals.models import Proposal, ProposalStatus


class VotingClosedError(DomainError):
    code = "voting-closed"

    def __init__(self) -> None:
        super().__init__(_("Voting is not open for this budget cycle."))


class BallotInvalidError(DomainError):
    code = "ballot-invalid"

    def __init__(
        self, problems: Sequence[str], *, budget_text: str = "", sheet: BallotSheet | None = None
    ) -> None:
        self.sheet = sheet
        messages = {
            "empty": _("Choose at least one project."),
            "too_few": _("Choose more projects: this ballot asks for a minimum number."),
            "too_many": _("Choose fewer projects: this ballot has a maximum number."),
            "unknown_project": _("One of the chosen projects is not on this ballot."),
            "duplicate": _("A project was chosen twice."),
            "over_budget": _(
                "The projects you chose cost more than the budget of %(budget)s. "
                "Remove a project and try again."
            )
            % {"budget": budget_text},
            "bad_value": _("The form sent a value that is not a project."),
        }
        self.problems = list(problems)
        super().__init__(" ".join(messages.get(p, p) for p in self.problems), field="project")


@dataclass(frozen=True)
class BallotSheet:
    """Everything a voter's ballot page needs: the district, its projects, the rules."""

    cycle: Cycle
    district: District
    projects: tuple[Proposal, ...]

    @property
    def costs(self) -> dict[int, int]:
        return {p.id: p.final_cost_minor or 0 for p in self.projects if p.id is not None}

    def meter(self, chosen: Sequence[int]) -> Meter:
        return meter(self.costs, self.district.budget_minor, chosen)


def ballot_projects(session: Session, *, district_id: int) -> tuple[Proposal, ...]:
    """The projects on a district's ballot: its accepted proposals, cheapest first."""
    rows = session.execute(
        select(Proposal)
        .where(
            Proposal.district_id == district_id,  # type: ignore[arg-type]
            Proposal.status == ProposalStatus.accepted.value,  # type: ignore[arg-type]
        )
        .order_by(Proposal.final_cost_minor, Proposal.id)  # type: ignore[arg-type]
    ).scalars()
    return tuple(rows)


def sheet_for_district(session: Session, *, district_id: int, lock: bool = False) -> BallotSheet:
    district = session.get(District, district_id)
    if district is None:
        raise VotingClosedError()
    stmt = select(Cycle).where(Cycle.id == district.cycle_id)  # type: ignore[arg-type]
    if lock:
        # Closing voting updates this row: it waits for ballots in flight (PostgreSQL), so a
        # tally started after the close sees every acknowledged ballot.
        stmt = stmt.with_for_update(read=True)
    cycle = session.execute(stmt).scalar_one()
    if cycle.phase != Phase.voting.value:
        raise VotingClosedError()
    return BallotSheet(
        cycle=cycle, district=district, projects=ballot_projects(session, district_id=district_id)
    )


def open_ballot(session: Session, *, code_text: str, key: bytes) -> tuple[AccessCode, BallotSheet]:
    """The ballot an access code gives (refuses typos, unknown or used codes, closed voting)."""
    code = eligibility_service.find_access_code(session, text=code_text, key=key)
    return code, sheet_for_district(session, district_id=code.district_id)


def problems_of(sheet: BallotSheet, chosen: Sequence[int]) -> list[str]:
    return _problems(
        sheet.costs,
        sheet.district.budget_minor,
        sheet.cycle.min_choices,
        sheet.cycle.max_choices,
        chosen,
    )


def _problems(
    costs: dict[int, int],
    budget: int,
    min_choices: int,
    max_choices: int | None,
    chosen: Sequence[int],
) -> list[str]:
    problems = check_approval_ballot(costs, budget, list(chosen))
    distinct = len(set(chosen))
    if chosen and distinct < min_choices:
        problems.append("too_few")
    if max_choices is not None and distinct > max_choices:
        problems.append("too_many")
    return problems


# The cast path runs these prebuilt statements on the session's connection (no ORM objects):
# it is the hot path of an election day. Four statements: the lookup, the conditional UPDATE
# of the code, the ballot, its items (one multi-row INSERT). bench/bench_web.py sends the same
# statements through bare psycopg as the reference rate: keep the two in step.
_code = AccessCode.__table__  # type: ignore[attr-defined]
_district = District.__table__  # type: ignore[attr-defined]
_cycle = Cycle.__table__  # type: ignore[attr-defined]
_proposal = Proposal.__table__  # type: ignore[attr-defined]
# The code, its district and cycle, the projects on that district's ballot (one row per
# project, or one row without a project) and the failed attempts counted for the client:
# everything the checks need, in one round trip.
_CAST_LOOKUP = (
    select(
        _code.c.id,
        _code.c.used,
        _district.c.id.label("district_id"),
        _district.c.budget_minor,
        _cycle.c.id.label("cycle_id"),
        _cycle.c.phase,
        _cycle.c.min_choices,
        _cycle.c.max_choices,
        _proposal.c.id.label("project_id"),
        _proposal.c.final_cost_minor.label("project_cost"),
        ratelimit.FAILURES_IN_WINDOW.label("client_failures"),
    )
    .select_from(
        _code.join(_district, _district.c.id == _code.c.district_id)
        .join(_cycle, _cycle.c.id == _district.c.cycle_id)
        .outerjoin(
            _proposal,
            and_(
                _proposal.c.district_id == _district.c.id,
                _proposal.c.status == ProposalStatus.accepted.value,
            ),
        )
    )
    .where(_code.c.code_hash == bindparam("code_hash"))
    # Closing voting updates the cycle row: it waits for ballots in flight (PostgreSQL), so
    # a tally started after the close sees every acknowledged ballot. SQLite: BEGIN IMMEDIATE.
    .with_for_update(read=True, of=_cycle)
)
_CAST_LOOKUP_RUN = DriverStatement(_CAST_LOOKUP)
_INSERT_BALLOT = DriverStatement(
    insert(Ballot.__table__).values(  # type: ignore[attr-defined]
        id=bindparam("id"),
        cycle_id=bindparam("cycle_id"),
        district_id=bindparam("district_id"),
        total_cost=bindparam("total_cost"),
    )
)
_INSERT_ITEMS: dict[int, DriverStatement] = {}


def _insert_items(count: int) -> DriverStatement:
    """``INSERT INTO ballot_item ... VALUES (:b0, :p0), (:b1, :p1), ...`` with ``count`` rows:
    one statement, one round trip. Text, because SQLAlchemy does not cache the compiled form
    of a multi-row ``insert().values([...])``; a ``text()`` is cached (built once per count)."""
    stmt = _INSERT_ITEMS.get(count)
    if stmt is None:
        rows = ", ".join(f"(:b{i}, :p{i})" for i in range(count))
        stmt = DriverStatement(
            text(f"INSERT INTO ballot_item (ballot_id, proposal_id) VALUES {rows}")
        )
        _INSERT_ITEMS[count] = stmt
    return stmt


@dataclass(frozen=True, slots=True)
class CastBallot:
    """A stored ballot's values as a cast returns them (``id`` is the voter's receipt)."""

    id: str
    cycle_id: int
    district_id: int
    total_cost: int


class _Looked(NamedTuple):
    """A row of ``_CAST_LOOKUP``, in its column order."""

    id: int
    used: bool
    district_id: int
    budget_minor: int
    cycle_id: int
    phase: str
    min_choices: int
    max_choices: int | None
    project_id: int | None
    project_cost: int | None
    client_failures: int | None


def cast_ballot(
    session: Session,
    *,
    code_text: str,
    chosen: Sequence[int],
    key: bytes,
    garbage: bool = False,
    client: str | None = None,
    now: int = 0,
) -> CastBallot:
    """Cast the approval ballot ``chosen`` with an access code (one transaction, flushed).

    ``garbage``: the form also sent values that are not project ids (refused). ``client``:
    the client's rate-limit bucket (``now``: the time, in seconds); a client that reached its
    limit of failed attempts is refused, whatever the code (read in the same statement as the
    code; the caller checks it when the code is refused, see ``eligibility_service``). Returns
    the stored ballot's values.
    """
    canonical = eligibility_service.canonical_code(code_text)
    connection = session.connection()
    params = eligibility_service.attempts_params(client, now=now)
    params["code_hash"] = code_hash(key, canonical)
    rows = _CAST_LOOKUP_RUN.rows(connection, params)
    if not rows:
        raise eligibility_service.AccessCodeUnknownError()
    row = _Looked(*rows[0])
    eligibility_service.refuse_over_limit(row.client_failures)
    if row.used:
        raise eligibility_service.AccessCodeUsedError()
    if row.phase != Phase.voting.value:
        raise VotingClosedError()
    costs = {r[8]: r[9] or 0 for r in rows if r[8] is not None}
    problems = _problems(costs, row.budget_minor, row.min_choices, row.max_choices, chosen)
    if garbage:
        problems.append("bad_value")
    if problems:
        sheet = sheet_for_district(session, district_id=row.district_id)
        budget_text = format_money(sheet.district.budget_minor, sheet.cycle.currency)
        raise BallotInvalidError(problems, budget_text=budget_text, sheet=sheet)
    eligibility_service.use_access_code(session, code_id=row.id)
    picked = sorted(set(chosen))
    ballot = CastBallot(
        id=secrets.token_hex(16),
        cycle_id=row.cycle_id,
        district_id=row.district_id,
        total_cost=sum(costs[p] for p in picked),
    )
    _INSERT_BALLOT.count(
        connection,
        {
            "id": ballot.id,
            "cycle_id": ballot.cycle_id,
            "district_id": ballot.district_id,
            "total_cost": ballot.total_cost,
        },
    )
    items: dict[str, object] = {}
    for i, p in enumerate(picked):
        items[f"b{i}"] = ballot.id
        items[f"p{i}"] = p
    _insert_items(len(picked)).count(connection, items)
    return ballot


def ballot_count(session: Session, *, district_id: int) -> int:
    from sqlalchemy import func

    return int(
        session.execute(
            select(func.count()).select_from(Ballot).where(Ballot.district_id == district_id)  # type: ignore[arg-type]
        ).scalar_one()
    )


def unlink_row_versions(session: Session, *, cycle_id: int) -> None:
    """Rewrite every ballot, ballot item and access code of a cycle in this one transaction.

    PostgreSQL stamps each row version with the id of the transaction that wrote it
    (``xmin``).  A cast writes its ballot and marks its code used in one transaction, so the
    stamps join a ballot to its code exactly.  Rewritten together, all of a cycle's ballots
    and codes carry one stamp and the join says nothing.  The physical order of the rows is
    a second clock (codes and ballots were both written in casting order), so on PostgreSQL
    the three tables are then rewritten in key order (``CLUSTER``: random receipts for
    ballots, issuance order for codes), which also drops the old row versions.  Run when
    voting has closed (results publication); on SQLite nothing records the order of use.
    """
    districts = select(District.id).where(District.cycle_id == cycle_id)  # type: ignore[call-overload]
    session.execute(
        update(AccessCode)
        .where(AccessCode.district_id.in_(districts))  # type: ignore[attr-defined]
        .values(used=AccessCode.used)
    )
    ballots = select(Ballot.id).where(Ballot.cycle_id == cycle_id)  # type: ignore[call-overload]
    session.execute(
        update(Ballot)
        .where(Ballot.cycle_id == cycle_id)  # type: ignore[arg-type]
        .values(total_cost=Ballot.total_cost)
    )
    session.execute(
        update(BallotItem)
        .where(BallotItem.ballot_id.in_(ballots))  # type: ignore[attr-defined]
        .values(proposal_id=BallotItem.proposal_id)
    )
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # Codes first, in the order a cast takes its locks (code, ballot, item): no deadlock.
        for table in ("access_code", "ballot", "ballot_item"):
            session.execute(text(f"CLUSTER {table} USING pk_{table}"))
