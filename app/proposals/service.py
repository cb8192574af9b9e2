"""Proposal verbs: submit, edit, review; reading by cycle, district, status and author;
the ballot's projects; and ``move_phase``, the one write path for phase moves (it knows the
proposal counts that opening voting depends on).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import DomainError, NotFoundError, PermissionDeniedError
from app.core.i18n import N_, _
from app.core.money import MAX_MINOR
from app.core.security import Role, User
from app.cycles import service as cycles_service
from app.cycles.models import Cycle, Phase
from app.proposals.models import Proposal, ProposalStatus

STATUS_LABELS: dict[str, str] = {
    ProposalStatus.submitted: N_("Waiting for review"),
    ProposalStatus.accepted: N_("Accepted for the ballot"),
    ProposalStatus.rejected: N_("Not accepted"),
}


def status_label(status: str) -> str:
    return _(STATUS_LABELS.get(status, status))


# --- reading ---------------------------------------------------------------------------------


def get_proposal(session: Session, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFoundError(_("There is no such proposal."))
    return proposal


def list_proposals(
    session: Session,
    *,
    cycle_id: int,
    district_id: int | None = None,
    status: str | None = None,
) -> list[Proposal]:
    query = select(Proposal).where(Proposal.cycle_id == cycle_id)
    if district_id is not None:
        query = query.where(Proposal.district_id == district_id)
    if status is not None:
        query = query.where(Proposal.status == status)
    return list(session.exec(query.order_by(col(Proposal.created_at), col(Proposal.id))))


def list_by_author(session: Session, author_id: int) -> list[Proposal]:
    return list(
        session.exec(
            select(Proposal)
            .where(Proposal.author_id == author_id)
            .order_by(col(Proposal.created_at).desc(), col(Proposal.id).desc())
        )
    )


def status_counts(session: Session, cycle_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Proposal.status, func.count())
        .where(Proposal.cycle_id == cycle_id)
        .group_by(col(Proposal.status))
    ).all()
    counts = {s.value: 0 for s in ProposalStatus}
    counts.update({status: int(n) for status, n in rows})
    return counts


def ballot_projects(session: Session, *, cycle_id: int, district_id: int) -> list[Proposal]:
    """The accepted proposals of a district: the projects on its ballot (cost: final cost)."""
    return list(
        session.exec(
            select(Proposal)
            .where(
                Proposal.cycle_id == cycle_id,
                Proposal.district_id == district_id,
                Proposal.status == ProposalStatus.accepted.value,
            )
            .order_by(col(Proposal.id))
        )
    )


def can_edit(proposal: Proposal, cycle: Cycle, user: User | None) -> bool:
    return (
        user is not None
        and proposal.author_id == user.id
        and cycle.phase == Phase.intake.value
        and proposal.status == ProposalStatus.submitted.value
    )


# --- validation ------------------------------------------------------------------------------


def _clean(
    session: Session,
    *,
    cycle: Cycle,
    district_id: int | None,
    title: str,
    description: str,
    estimated_cost_minor: int,
) -> tuple[int, str, str, int]:
    if district_id is None:
        raise DomainError(_("Choose the district of your project."), field="district_id")
    try:
        district = cycles_service.get_district(session, cycle.id or 0, district_id)
    except NotFoundError:
        raise DomainError(_("Choose one of this cycle's districts."), field="district_id") from None
    title = " ".join((title or "").split())
    if len(title) < 3:
        raise DomainError(_("Give your project a title of at least 3 characters."), field="title")
    if len(title) > 200:
        raise DomainError(_("Use at most 200 characters for the title."), field="title")
    description = (description or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(description) < 10:
        raise DomainError(
            _("Describe your project in at least 10 characters."), field="description"
        )
    if len(description) > 5000:
        raise DomainError(
            _("Use at most 5,000 characters for the description."), field="description"
        )
    if estimated_cost_minor <= 0:
        raise DomainError(_("Estimate a cost above zero."), field="estimated_cost")
    if estimated_cost_minor > MAX_MINOR:
        raise DomainError(_("That amount is too large."), field="estimated_cost")
    assert district.id is not None
    return district.id, title, description, estimated_cost_minor


# --- verbs -----------------------------------------------------------------------------------


def submit_proposal(
    session: Session,
    *,
    cycle: Cycle,
    author: User,
    district_id: int | None,
    title: str,
    description: str,
    estimated_cost_minor: int,
) -> Proposal:
    """A resident proposes a project during intake."""
    if author.role != Role.resident.value:
        raise PermissionDeniedError(_("Only residents can propose projects."))
    if cycle.phase != Phase.intake.value:
        raise DomainError(_("This cycle is not taking proposals: intake is closed."))
    district, title, description, cost = _clean(
        session,
        cycle=cycle,
        district_id=district_id,
        title=title,
        description=description,
        estimated_cost_minor=estimated_cost_minor,
    )
    now = utcnow()
    proposal = Proposal(
        cycle_id=cycle.id or 0,
        district_id=district,
        author_id=author.id,
        title=title,
        description=description,
        estimated_cost_minor=cost,
        status=ProposalStatus.submitted.value,
        created_at=now,
        updated_at=now,
    )
    session.add(proposal)
    session.flush()
    return proposal


def edit_proposal(
    session: Session,
    *,
    proposal: Proposal,
    cycle: Cycle,
    author: User,
    district_id: int | None,
    title: str,
    description: str,
    estimated_cost_minor: int,
) -> Proposal:
    """Its author edits a proposal until review starts."""
    if proposal.author_id != author.id:
        raise PermissionDeniedError(_("Only the author of a proposal can edit it."))
    if cycle.phase != Phase.intake.value or proposal.status != ProposalStatus.submitted.value:
        raise DomainError(_("Proposals can be edited only until review starts."))
    district, title, description, cost = _clean(
        session,
        cycle=cycle,
        district_id=district_id,
        title=title,
        description=description,
        estimated_cost_minor=estimated_cost_minor,
    )
    proposal.district_id = district
    proposal.title = title
    proposal.description = description
    proposal.estimated_cost_minor = cost
    proposal.updated_at = utcnow()
    session.add(proposal)
    session.flush()
    return proposal


def review_proposal(
    session: Session,
    *,
    proposal: Proposal,
    cycle: Cycle,
    reviewer: User,
    decision: str,
    final_cost_minor: int | None = None,
    reason: str = "",
) -> Proposal:
    """Accept with a final cost (it goes on the ballot) or reject with a public reason."""
    if reviewer.role != Role.organizer.value:
        raise PermissionDeniedError()
    if cycle.phase != Phase.review.value:
        raise DomainError(_("Proposals are reviewed during the review phase."))
    if decision == "accept":
        if final_cost_minor is None or final_cost_minor <= 0:
            raise DomainError(_("Enter the final cost, above zero."), field="final_cost")
        district = cycles_service.get_district(session, cycle.id or 0, proposal.district_id)
        if final_cost_minor > district.budget_minor:
            raise DomainError(
                _("The final cost is more than the whole budget of the district."),
                field="final_cost",
            )
        proposal.status = ProposalStatus.accepted.value
        proposal.final_cost_minor = final_cost_minor
        proposal.rejection_reason = None
    elif decision == "reject":
        reason = (reason or "").strip()
        if len(reason) < 5:
            raise DomainError(
                _("Give a reason of at least 5 characters; it is shown publicly."), field="reason"
            )
        if len(reason) > 2000:
            raise DomainError(_("Use at most 2,000 characters for the reason."), field="reason")
        proposal.status = ProposalStatus.rejected.value
        proposal.rejection_reason = reason
        proposal.final_cost_minor = None
    else:
        raise DomainError(_("Choose to accept or to reject."), field="decision")
    proposal.reviewed_at = utcnow()
    proposal.reviewed_by_id = reviewer.id
    proposal.updated_at = proposal.reviewed_at
    session.add(proposal)
    session.flush()
    return proposal


def move_phase(session: Session, *, cycle: Cycle, to: str, actor: User) -> Cycle:
    """Move a cycle to another phase (organizers); opening voting needs accepted projects."""
    if actor.role != Role.organizer.value:
        raise PermissionDeniedError()
    counts = status_counts(session, cycle.id or 0)
    return cycles_service.move_to_phase(
        session,
        cycle=cycle,
        to=to,
        actor_id=actor.id,
        accepted_projects=counts[ProposalStatus.accepted.value],
        pending_proposals=counts[ProposalStatus.submitted.value],
    )
