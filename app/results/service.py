"""Results verbs: run the tally once when voting has closed, publish, read what was published.

``publish_results`` is the one write path: it counts every district of a cycle with
``app.tally.tally`` using the cycle's rule, tie-break and tie-break seed, and stores per
district the outcome (with language-free explanation facts, see ``explain.py``) and one row per
project (votes, cost, funded, explanation). Pages and the API read those rows; nothing is
recounted per request.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import select
from sqlmodel import Session

from app.ballots.models import Ballot, BallotItem
from app.ballots.service import ballot_projects, unlink_row_versions
from app.core.db import utcnow
from app.core.errors import ConflictError, DomainError, NotFoundError
from app.core.i18n import _
from app.core.money import currency_exponent
from app.cycles import service as cycles_service
from app.cycles.models import Cycle, District, Phase
from app.results.explain import explanation_facts
from app.results.models import DistrictResult, ProjectResult
from app.tally import Ballot as TallyBallot
from app.tally import BallotRules, Ballots, Election, Project, TallyError, tally


class VotingNotClosedError(DomainError):
    code = "voting-not-closed"

    def __init__(self) -> None:
        super().__init__(_("Close voting first: results are counted once voting has closed."))


class ResultsAlreadyPublishedError(ConflictError):
    code = "results-published"

    def __init__(self) -> None:
        super().__init__(_("The results of this cycle are already published; they are final."))


@dataclass(frozen=True)
class DistrictOutcome:
    district: District
    result: DistrictResult
    projects: tuple[ProjectResult, ...]


class TieBreakSeedMissingError(DomainError):
    code = "tie-break-seed-missing"

    def __init__(self) -> None:
        super().__init__(_("This cycle has no tie-break seed: it was never opened for voting."))


def tie_break_seed(cycle: Cycle) -> bytes:
    """The seed of the lot that breaks exact ties: drawn (``secrets``) when voting opened."""
    if not cycle.tie_break_seed:
        raise TieBreakSeedMissingError()
    return bytes.fromhex(cycle.tie_break_seed)


def district_election(session: Session, *, cycle: Cycle, district: District) -> Election:
    """The district's ballots as an ``app.tally`` election (costs exact, in major units)."""
    scale = 10 ** currency_exponent(cycle.currency)
    projects = ballot_projects(session, district_id=district.id or 0)
    rows = session.execute(
        select(BallotItem.ballot_id, BallotItem.proposal_id)  # type: ignore[call-overload]
        .join(Ballot, Ballot.id == BallotItem.ballot_id)
        .where(Ballot.district_id == district.id)
        .order_by(BallotItem.ballot_id, BallotItem.proposal_id)
    ).all()
    by_ballot: dict[str, list[str]] = defaultdict(list)
    for ballot_id, proposal_id in rows:
        by_ballot[ballot_id].append(str(proposal_id))
    shared: dict[tuple[str, ...], TallyBallot] = {}
    ballots = []
    for items in by_ballot.values():
        key = tuple(items)
        if key not in shared:
            shared[key] = TallyBallot(projects=key)
        ballots.append(shared[key])
    return Election(
        budget=Fraction(district.budget_minor, scale),
        projects={
            str(p.id): Project(
                id=str(p.id), cost=Fraction(p.final_cost_minor or 0, scale), name=p.title
            )
            for p in projects
        },
        rules=BallotRules(kind="approval", max_sum_cost=Fraction(district.budget_minor, scale)),
        ballots=Ballots(ballots),
    )


def publish_results(
    session: Session, *, cycle: Cycle, actor_id: int | None = None
) -> list[DistrictOutcome]:
    """Tally every district of a cycle whose voting has closed and store the results (once)."""
    existing = session.execute(
        select(DistrictResult.id).where(DistrictResult.cycle_id == cycle.id)  # type: ignore[call-overload]
    ).first()
    if existing is not None:
        raise ResultsAlreadyPublishedError()
    if cycle.phase != Phase.tallying.value:
        raise VotingNotClosedError()
    scale = 10 ** currency_exponent(cycle.currency)
    now = utcnow()
    districts = session.execute(
        select(District)
        .where(District.cycle_id == cycle.id)  # type: ignore[arg-type]
        .order_by(District.position, District.id)  # type: ignore[arg-type]
    ).scalars()
    seed = tie_break_seed(cycle)
    for district in districts:
        election = district_election(session, cycle=cycle, district=district)
        try:
            outcome = tally(election, cycle.tally_rule, tie_break=cycle.tie_break, seed=seed)
        except TallyError as exc:
            raise DomainError(
                _("The counting rule cannot count this cycle: %(reason)s") % {"reason": str(exc)}
            ) from exc
        stored = outcome.to_json()
        stored["explain"] = explanation_facts(election, outcome, scale)
        selected = set(outcome.selected)
        votes = dict.fromkeys(election.projects, 0)
        for ballot in election.ballots:
            for pid in ballot.projects:
                votes[pid] += 1
        used = sum(int(election.projects[p].cost * scale) for p in outcome.selected)
        result = DistrictResult(
            cycle_id=cycle.id or 0,
            district_id=district.id or 0,
            rule=outcome.rule,
            rule_version=outcome.rule_version,
            tie_break=outcome.tie_break,
            budget=district.budget_minor,
            budget_used=used,
            ballot_count=len(election.ballots),
            published_at=now,
            outcome_json=json.dumps(stored, sort_keys=True),
        )
        session.add(result)
        session.flush()
        order = {pid: i for i, pid in enumerate(outcome.selected)}
        ranked = sorted(
            election.projects.values(),
            key=lambda p: (p.id not in selected, order.get(p.id, 0), -votes[p.id], p.cost, p.id),
        )
        for position, project in enumerate(ranked, start=1):
            session.add(
                ProjectResult(
                    district_result_id=result.id or 0,
                    proposal_id=int(project.id),
                    position=position,
                    title=project.name[:200],
                    cost=int(project.cost * scale),
                    votes=votes[project.id],
                    funded=project.id in selected,
                    explanation=outcome.explanations.get(project.id, ""),
                )
            )
        session.flush()
    # Last, so the tables are locked for the rewrite only, not for the whole tally.
    unlink_row_versions(session, cycle_id=cycle.id or 0)
    _move_to_results(session, cycle=cycle, actor_id=actor_id)
    return published_results(session, cycle=cycle)


def _move_to_results(session: Session, *, cycle: Cycle, actor_id: int | None) -> None:
    cycles_service.move_to_phase(
        session, cycle=cycle, to=Phase.results, actor_id=actor_id, publishing=True
    )


def published_results(session: Session, *, cycle: Cycle) -> list[DistrictOutcome]:
    """The stored results of a cycle (empty when not published): two indexed queries."""
    results = session.execute(
        select(DistrictResult, District)
        .join(District, District.id == DistrictResult.district_id)  # type: ignore[arg-type]
        .where(DistrictResult.cycle_id == cycle.id)  # type: ignore[arg-type]
        .order_by(District.position, District.id)  # type: ignore[arg-type]
    ).all()
    if not results:
        return []
    ids = [r.id for r, _d in results]
    projects: dict[int, list[ProjectResult]] = defaultdict(list)
    for row in session.execute(
        select(ProjectResult)
        .where(ProjectResult.district_result_id.in_(ids))  # type: ignore[attr-defined]
        .order_by(ProjectResult.district_result_id, ProjectResult.position)  # type: ignore[arg-type]
    ).scalars():
        projects[row.district_result_id].append(row)
    return [
        DistrictOutcome(district=d, result=r, projects=tuple(projects[r.id or 0]))
        for r, d in results
    ]


def require_published(session: Session, *, cycle: Cycle) -> list[DistrictOutcome]:
    outcomes = published_results(session, cycle=cycle)
    if not outcomes:
        raise NotFoundError(_("The results of this cycle are not published yet."))
    return outcomes
