"""Proposal pages (browse, propose, edit, review, phase moves) and their JSON API twins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from app.core.db import SessionDep
from app.core.errors import DomainError, FormError, PermissionDeniedError, form_page
from app.core.htmx import see_other
from app.core.i18n import _
from app.core.money import minor_to_major_text, parse_money
from app.core.security import OptionalUser, OrganizerUser, ResidentUser
from app.core.templating import render
from app.cycles import service as cycles_service
from app.cycles.dependencies import ValidCycle
from app.cycles.models import PHASES, Cycle
from app.cycles.schemas import CycleRead
from app.cycles.views import cycle_context, cycle_read
from app.proposals import service
from app.proposals.dependencies import ValidProposal
from app.proposals.models import Proposal, ProposalStatus
from app.proposals.schemas import (
    BallotProject,
    PhaseMoveIn,
    ProposalCreate,
    ProposalRead,
    ProposalReview,
    ProposalUpdate,
)

router = APIRouter(tags=["pages: proposals"])
# Input refused before a handler runs shows these pages again (app.core.errors).
form_page("proposals:create", "proposals:new")
form_page("proposals:update", "proposals:edit")
form_page("proposals:move_phase", "proposals:review")
api = APIRouter(prefix="/api", tags=["proposals"])


def _int_or_none(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def _base_ctx(session: SessionDep, cycle: Cycle) -> dict[str, Any]:
    ctx = cycle_context(session, cycle)
    ctx["status_label"] = service.status_label
    ctx["statuses"] = [s.value for s in ProposalStatus]
    ctx["district_names"] = {d.id: d.name for d in ctx["districts"]}
    ctx["major"] = minor_to_major_text
    ctx["district_options"] = [(d.id, d.name) for d in ctx["districts"]]
    ctx["status_options"] = [(s, service.status_label(s)) for s in ctx["statuses"]]
    ctx["phase_options"] = [(p.value, cycles_service.phase_label(p)) for p in PHASES]
    return ctx


# --- browsing --------------------------------------------------------------------------------


@router.get("/cycles/{cycle_id}/proposals", name="proposals:index")
def index(
    request: Request,
    cycle: ValidCycle,
    session: SessionDep,
    district: str = "",
    status: str = "",
) -> Response:
    ctx = _base_ctx(session, cycle)
    district_id = _int_or_none(district)
    if district_id not in ctx["district_names"]:
        district_id = None
    chosen_status = status if status in ctx["statuses"] else None
    ctx.update(
        {
            "proposals": service.list_proposals(
                session, cycle_id=cycle.id or 0, district_id=district_id, status=chosen_status
            ),
            "filter_district": district_id,
            "filter_status": chosen_status,
        }
    )
    return render(request, "proposals/index.html", ctx, block="proposal_list")


@router.get("/proposals/{proposal_id}", name="proposals:detail")
def detail(
    request: Request, proposal: ValidProposal, session: SessionDep, user: OptionalUser
) -> Response:
    cycle = cycles_service.get_cycle(session, proposal.cycle_id)
    ctx = _base_ctx(session, cycle)
    ctx.update(
        {
            "proposal": proposal,
            "can_edit": service.can_edit(proposal, cycle, user),
            "is_author": user is not None and proposal.author_id == user.id,
            "error": None,
            "form": {},
        }
    )
    return render(request, "proposals/detail.html", ctx)


@router.get("/me/proposals", name="proposals:mine")
def mine(request: Request, user: ResidentUser, session: SessionDep) -> Response:
    proposals = service.list_by_author(session, user.id or 0)
    cycles = {p.cycle_id: cycles_service.get_cycle(session, p.cycle_id) for p in proposals}
    return render(
        request,
        "proposals/mine.html",
        {"proposals": proposals, "cycles": cycles, "status_label": service.status_label},
    )


# --- proposing -------------------------------------------------------------------------------


def _proposal_form_page(
    request: Request,
    session: SessionDep,
    cycle: Cycle,
    *,
    proposal: Proposal | None,
    form: dict[str, str],
    error: DomainError | None = None,
    status_code: int = 200,
) -> Response:
    ctx = _base_ctx(session, cycle)
    ctx.update({"proposal": proposal, "form": form, "error": error})
    return render(
        request, "proposals/form.html", ctx, block="proposal_form", status_code=status_code
    )


@router.get("/cycles/{cycle_id}/proposals/new", name="proposals:new")
def new_form(
    request: Request, user: ResidentUser, cycle: ValidCycle, session: SessionDep
) -> Response:
    return _proposal_form_page(request, session, cycle, proposal=None, form={})


@router.post("/cycles/{cycle_id}/proposals", name="proposals:create")
def create(
    request: Request,
    user: ResidentUser,
    cycle: ValidCycle,
    session: SessionDep,
    district_id: Annotated[str, Form(max_length=20)] = "",
    title: Annotated[str, Form(max_length=400)] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
    estimated_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    form = {
        "district_id": district_id,
        "title": title,
        "description": description,
        "estimated_cost": estimated_cost,
    }
    try:
        proposal = service.submit_proposal(
            session,
            cycle=cycle,
            author=user,
            district_id=_int_or_none(district_id),
            title=title,
            description=description,
            estimated_cost_minor=parse_money(
                estimated_cost, cycle.currency, field="estimated_cost"
            ),
        )
    except DomainError as exc:
        raise FormError(
            _proposal_form_page(
                request, session, cycle, proposal=None, form=form, error=exc, status_code=422
            )
        ) from exc
    return see_other(
        request, request.app.url_path_for("proposals:detail", proposal_id=str(proposal.id))
    )


@router.get("/proposals/{proposal_id}/edit", name="proposals:edit")
def edit_form(
    request: Request, user: ResidentUser, proposal: ValidProposal, session: SessionDep
) -> Response:
    cycle = cycles_service.get_cycle(session, proposal.cycle_id)
    if proposal.author_id != user.id:
        raise PermissionDeniedError(_("Only the author of a proposal can edit it."))
    form = {
        "district_id": str(proposal.district_id),
        "title": proposal.title,
        "description": proposal.description,
        "estimated_cost": minor_to_major_text(proposal.estimated_cost_minor, cycle.currency),
    }
    return _proposal_form_page(request, session, cycle, proposal=proposal, form=form)


@router.post("/proposals/{proposal_id}/edit", name="proposals:update")
def update(
    request: Request,
    user: ResidentUser,
    proposal: ValidProposal,
    session: SessionDep,
    district_id: Annotated[str, Form(max_length=20)] = "",
    title: Annotated[str, Form(max_length=400)] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
    estimated_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    cycle = cycles_service.get_cycle(session, proposal.cycle_id)
    form = {
        "district_id": district_id,
        "title": title,
        "description": description,
        "estimated_cost": estimated_cost,
    }
    try:
        service.edit_proposal(
            session,
            proposal=proposal,
            cycle=cycle,
            author=user,
            district_id=_int_or_none(district_id),
            title=title,
            description=description,
            estimated_cost_minor=parse_money(
                estimated_cost, cycle.currency, field="estimated_cost"
            ),
        )
    except DomainError as exc:
        if exc.status_code != 422:
            raise
        raise FormError(
            _proposal_form_page(
                request,
                session,
                cycle,
                proposal=proposal,
                form=form,
                error=exc,
                status_code=422,
            )
        ) from exc
    return see_other(
        request, request.app.url_path_for("proposals:detail", proposal_id=str(proposal.id))
    )


# --- organizer: review and phases --------------------------------------------------------------


def _review_page(
    request: Request,
    session: SessionDep,
    cycle: Cycle,
    *,
    error: DomainError | None = None,
    error_for: int | None = None,
    form: dict[str, str] | None = None,
    block: str | None = None,
    status_code: int = 200,
) -> Response:
    ctx = _base_ctx(session, cycle)
    ctx.update(
        {
            "proposals": service.list_proposals(session, cycle_id=cycle.id or 0),
            "counts": service.status_counts(session, cycle.id or 0),
            "phases": PHASES,
            "error": error,
            "error_for": error_for,
            "form": form or {},
        }
    )
    return render(request, "proposals/review.html", ctx, block=block, status_code=status_code)


@router.get("/cycles/{cycle_id}/review", name="proposals:review")
def review_page(
    request: Request, user: OrganizerUser, cycle: ValidCycle, session: SessionDep
) -> Response:
    return _review_page(request, session, cycle)


@router.post("/proposals/{proposal_id}/review", name="proposals:review_submit")
def review_submit(
    request: Request,
    user: OrganizerUser,
    proposal: ValidProposal,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=20)] = "",
    final_cost: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    cycle = cycles_service.get_cycle(session, proposal.cycle_id)
    form = {"decision": decision, "final_cost": final_cost, "reason": reason}
    try:
        cost = (
            parse_money(final_cost, cycle.currency, field="final_cost")
            if decision == "accept"
            else None
        )
        service.review_proposal(
            session,
            proposal=proposal,
            cycle=cycle,
            reviewer=user,
            decision=decision,
            final_cost_minor=cost,
            reason=reason,
        )
    except DomainError as exc:
        if back == "detail":
            ctx = _base_ctx(session, cycle)
            ctx.update(
                {
                    "proposal": proposal,
                    "can_edit": False,
                    "is_author": False,
                    "error": exc,
                    "form": form,
                }
            )
            raise FormError(
                render(request, "proposals/detail.html", ctx, block="review_form", status_code=422)
            ) from exc
        raise FormError(
            _review_page(
                request,
                session,
                cycle,
                error=exc,
                error_for=proposal.id,
                form=form,
                block="review_list",
                status_code=422,
            )
        ) from exc
    if back == "detail":
        target = request.app.url_path_for("proposals:detail", proposal_id=str(proposal.id))
    else:
        target = request.app.url_path_for("proposals:review", cycle_id=str(cycle.id))
        target += f"#proposal-{proposal.id}"
    return see_other(request, target)


@router.post("/cycles/{cycle_id}/phase", name="proposals:move_phase")
def move_phase(
    request: Request,
    user: OrganizerUser,
    cycle: ValidCycle,
    session: SessionDep,
    phase: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        service.move_phase(session, cycle=cycle, to=phase, actor=user)
    except DomainError as exc:
        raise FormError(
            _review_page(
                request, session, cycle, error=exc, error_for=0, block="phase_form", status_code=422
            )
        ) from exc
    return see_other(request, request.app.url_path_for("proposals:review", cycle_id=str(cycle.id)))


# --- JSON API --------------------------------------------------------------------------------


def _read(proposal: Proposal) -> ProposalRead:
    return ProposalRead.model_validate(proposal, from_attributes=True)


@api.get("/cycles/{cycle_id}/proposals", name="api:proposals", response_model=list[ProposalRead])
def api_proposals(
    cycle: ValidCycle,
    session: SessionDep,
    district_id: int | None = None,
    status: ProposalStatus | None = None,
) -> list[ProposalRead]:
    return [
        _read(p)
        for p in service.list_proposals(
            session,
            cycle_id=cycle.id or 0,
            district_id=district_id,
            status=status.value if status else None,
        )
    ]


@api.get(
    "/cycles/{cycle_id}/projects", name="api:ballot_projects", response_model=list[BallotProject]
)
def api_ballot_projects(
    cycle: ValidCycle, session: SessionDep, district_id: int
) -> list[BallotProject]:
    district = cycles_service.get_district(session, cycle.id or 0, district_id)
    return [
        BallotProject(
            id=p.id or 0,
            district_id=p.district_id,
            title=p.title,
            description=p.description,
            cost_minor=p.final_cost_minor or 0,
        )
        for p in service.ballot_projects(
            session, cycle_id=cycle.id or 0, district_id=district.id or 0
        )
    ]


@api.post(
    "/cycles/{cycle_id}/proposals",
    name="api:submit_proposal",
    response_model=ProposalRead,
    status_code=201,
)
def api_submit(
    body: ProposalCreate, user: ResidentUser, cycle: ValidCycle, session: SessionDep
) -> ProposalRead:
    proposal = service.submit_proposal(
        session,
        cycle=cycle,
        author=user,
        district_id=body.district_id,
        title=body.title,
        description=body.description,
        estimated_cost_minor=body.estimated_cost_minor,
    )
    return _read(proposal)


@api.get("/me/proposals", name="api:my_proposals", response_model=list[ProposalRead])
def api_my_proposals(user: ResidentUser, session: SessionDep) -> list[ProposalRead]:
    """The signed-in resident's proposals and their status."""
    return [_read(p) for p in service.list_by_author(session, user.id or 0)]


@api.get("/proposals/{proposal_id}", name="api:proposal", response_model=ProposalRead)
def api_proposal(proposal: ValidProposal) -> ProposalRead:
    return _read(proposal)


@api.patch("/proposals/{proposal_id}", name="api:edit_proposal", response_model=ProposalRead)
def api_edit(
    body: ProposalUpdate, user: ResidentUser, proposal: ValidProposal, session: SessionDep
) -> ProposalRead:
    cycle = cycles_service.get_cycle(session, proposal.cycle_id)
    service.edit_proposal(
        session,
        proposal=proposal,
        cycle=cycle,
        author=user,
        district_id=body.district_id,
        title=body.title,
        description=body.description,
        estimated_cost_minor=body.estimated_cost_minor,
    )
    return _read(proposal)


@api.post(
    "/proposals/{proposal_id}/review", name="api:review_proposal", response_model=ProposalRead
)
def api_review(
    body: ProposalReview, user: OrganizerUser, proposal: ValidProposal, session: SessionDep
) -> ProposalRead:
    cycle = cycles_service.get_cycle(session, proposal.cycle_id)
    service.review_proposal(
        session,
        proposal=proposal,
        cycle=cycle,
        reviewer=user,
        decision=body.decision,
        final_cost_minor=body.final_cost_minor,
        reason=body.reason,
    )
    return _read(proposal)


@api.post("/cycles/{cycle_id}/phase", name="api:move_phase", response_model=CycleRead)
def api_move_phase(
    body: PhaseMoveIn, user: OrganizerUser, cycle: ValidCycle, session: SessionDep
) -> CycleRead:
    service.move_phase(session, cycle=cycle, to=body.phase, actor=user)
    return cycle_read(session, cycle)
