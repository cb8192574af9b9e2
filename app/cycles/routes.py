"""Cycle pages (public list and detail; organizer set-up) and their JSON API twins.

Phase moves are in ``app.proposals.routes`` (opening voting depends on the proposals).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from starlette.datastructures import FormData

from app.core.db import SessionDep
from app.core.errors import DomainError, FormError, form_page, read_form
from app.core.htmx import see_other
from app.core.i18n import _
from app.core.money import minor_to_major_text, parse_money
from app.core.security import OrganizerUser, StaffUser
from app.core.templating import render
from app.cycles import service
from app.cycles.dependencies import ValidCycle, ValidDistrict
from app.cycles.models import PLANNED_PHASES, Cycle
from app.cycles.schemas import (
    CycleCreate,
    CycleRead,
    CycleUpdate,
    DistrictIn,
    DistrictRead,
    VotingRules,
)
from app.cycles.views import cycle_context, cycle_read
from app.tally import TIE_BREAKS

router = APIRouter(tags=["pages: cycles"])
# Input refused before a handler runs shows these pages again (app.core.errors).
form_page("cycles:create", "cycles:new")
form_page("cycles:update", "cycles:settings", section="details")
form_page("cycles:add_district", "cycles:settings", section="districts")
form_page("cycles:update_district", "cycles:settings", section="districts")
form_page("cycles:set_rules", "cycles:settings", section="rules")
api = APIRouter(prefix="/api", tags=["cycles"])

NEW_DISTRICT_ROWS = 5


def _plan_from_form(form: FormData) -> dict[str, date | None]:
    plan: dict[str, date | None] = {}
    for phase in PLANNED_PHASES:
        raw = form.get(f"plan_{phase.value}")
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            plan[phase.value] = None
            continue
        try:
            plan[phase.value] = date.fromisoformat(text)
        except ValueError:
            raise DomainError(
                _("Enter dates as YYYY-MM-DD, for example 2030-03-01."), field="plan"
            ) from None
    return plan


def _rules_context(cycle: Cycle) -> dict[str, Any]:
    rules = service.tally_rules_for(cycle.ballot_kind)
    return {
        "ballot_kinds": service.SUPPORTED_BALLOT_KINDS,
        "tally_rules": [(r, service.rule_label(r)) for r in rules],
        "rule_help": [(service.rule_label(r), service.rule_explanation(r)) for r in rules],
        "tie_breaks": [(t, service.tie_break_label(t)) for t in TIE_BREAKS],
    }


# --- public pages ----------------------------------------------------------------------------


@router.get("/cycles", name="cycles:index")
def index(request: Request, session: SessionDep) -> Response:
    cycles = service.list_cycles(session)
    return render(
        request,
        "cycles/index.html",
        {"cycles": cycles, "phase_label": service.phase_label},
        block="cycle_list",
    )


@router.get("/cycles/new", name="cycles:new")
def new_form(request: Request, user: OrganizerUser) -> Response:
    return render(
        request,
        "cycles/new.html",
        {
            "form": {},
            "error": None,
            "rows": NEW_DISTRICT_ROWS,
            "plan_phases": PLANNED_PHASES,
            "phase_label": service.phase_label,
        },
        block="cycle_form",
    )


@router.post("/cycles", name="cycles:create")
async def create(request: Request, user: OrganizerUser, session: SessionDep) -> Response:
    form = await read_form(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        currency = values.get("currency", "").strip().upper()
        districts: list[tuple[str, int]] = []
        for i in range(NEW_DISTRICT_ROWS):
            name = values.get(f"district_name_{i}", "").strip()
            budget = values.get(f"district_budget_{i}", "").strip()
            if not name and not budget:
                continue
            if not name:
                raise DomainError(_("Give every district a name."), field="districts")
            districts.append(
                (name, parse_money(budget, service._clean_currency(currency), field="districts"))
            )
        cycle = service.create_cycle(
            session,
            title=values.get("title", ""),
            description=values.get("description", ""),
            currency=currency,
            districts=districts,
            planned_starts=_plan_from_form(form),
            actor_id=user.id,
        )
    except DomainError as exc:
        raise FormError(
            render(
                request,
                "cycles/new.html",
                {
                    "form": values,
                    "error": exc,
                    "rows": NEW_DISTRICT_ROWS,
                    "plan_phases": PLANNED_PHASES,
                    "phase_label": service.phase_label,
                },
                block="cycle_form",
                status_code=422,
            )
        ) from exc
    return _back_to_settings(request, cycle)


@router.get("/cycles/{cycle_id}", name="cycles:detail")
def detail(request: Request, cycle: ValidCycle, session: SessionDep) -> Response:
    return render(request, "cycles/detail.html", cycle_context(session, cycle))


# --- organizer set-up ------------------------------------------------------------------------


def _settings_page(
    request: Request,
    session: SessionDep,
    cycle: Cycle,
    *,
    error: DomainError | None = None,
    form: dict[str, str] | None = None,
    section: str = "",
    block: str | None = None,
    status_code: int = 200,
) -> Response:
    ctx = cycle_context(session, cycle)
    ctx.update(_rules_context(cycle))
    ctx.update(
        {
            "error": error,
            "section": section,
            "form": form or {},
            "plan_phases": PLANNED_PHASES,
            "major": minor_to_major_text,
        }
    )
    return render(request, "cycles/settings.html", ctx, block=block, status_code=status_code)


def _settings_error(
    request: Request,
    session: SessionDep,
    cycle: Cycle,
    error: DomainError,
    *,
    section: str,
    block: str,
    form: dict[str, str] | None = None,
) -> FormError:
    """The settings page again, its failing section showing the message (422)."""
    page = _settings_page(
        request,
        session,
        cycle,
        error=error,
        form=form,
        section=section,
        block=block,
        status_code=422,
    )
    return FormError(page)


def _back_to_settings(request: Request, cycle: Cycle) -> Response:
    return see_other(request, request.app.url_path_for("cycles:settings", cycle_id=str(cycle.id)))


@router.get("/cycles/{cycle_id}/settings", name="cycles:settings")
def settings_page(
    request: Request, user: OrganizerUser, cycle: ValidCycle, session: SessionDep
) -> Response:
    return _settings_page(request, session, cycle)


@router.post("/cycles/{cycle_id}/details", name="cycles:update")
async def update_details(
    request: Request, user: OrganizerUser, cycle: ValidCycle, session: SessionDep
) -> Response:
    form = await read_form(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        service.update_cycle(
            session,
            cycle=cycle,
            title=values.get("title", ""),
            description=values.get("description", ""),
            planned_starts=_plan_from_form(form),
        )
    except DomainError as exc:
        raise _settings_error(
            request, session, cycle, exc, section="details", block="details_form", form=values
        ) from exc
    return _back_to_settings(request, cycle)


@router.post("/cycles/{cycle_id}/districts", name="cycles:add_district")
def add_district(
    request: Request,
    user: OrganizerUser,
    cycle: ValidCycle,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    budget: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        service.add_district(
            session,
            cycle=cycle,
            name=name,
            budget_minor=parse_money(budget, cycle.currency, field="districts"),
        )
    except DomainError as exc:
        raise _settings_error(
            request,
            session,
            cycle,
            exc,
            section="districts",
            block="districts_section",
            form={"name": name, "budget": budget},
        ) from exc
    return _back_to_settings(request, cycle)


@router.post("/cycles/{cycle_id}/districts/{district_id}", name="cycles:update_district")
def update_district(
    request: Request,
    user: OrganizerUser,
    cycle: ValidCycle,
    district: ValidDistrict,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    budget: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        service.update_district(
            session,
            cycle=cycle,
            district=district,
            name=name,
            budget_minor=parse_money(budget, cycle.currency, field="districts"),
        )
    except DomainError as exc:
        raise _settings_error(
            request, session, cycle, exc, section="districts", block="districts_section"
        ) from exc
    return _back_to_settings(request, cycle)


def _int_or_error(text: str, field: str, *, allow_blank: bool) -> int | None:
    text = (text or "").strip()
    if not text:
        if allow_blank:
            return None
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > 6:  # (not "²", "٣")
        raise DomainError(_("Enter a whole number."), field=field)
    return int(text)


@router.post("/cycles/{cycle_id}/rules", name="cycles:set_rules")
def set_rules(
    request: Request,
    user: OrganizerUser,
    cycle: ValidCycle,
    session: SessionDep,
    ballot_kind: Annotated[str, Form(max_length=40)] = "",
    min_choices: Annotated[str, Form(max_length=20)] = "",
    max_choices: Annotated[str, Form(max_length=20)] = "",
    tally_rule: Annotated[str, Form(max_length=60)] = "",
    tie_break: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    values = {
        "ballot_kind": ballot_kind,
        "min_choices": min_choices,
        "max_choices": max_choices,
        "tally_rule": tally_rule,
        "tie_break": tie_break,
    }
    try:
        service.set_voting_rules(
            session,
            cycle=cycle,
            ballot_kind=ballot_kind,
            min_choices=_int_or_error(min_choices, "min_choices", allow_blank=False) or 0,
            max_choices=_int_or_error(max_choices, "max_choices", allow_blank=True),
            tally_rule=tally_rule,
            tie_break=tie_break,
        )
    except DomainError as exc:
        raise _settings_error(
            request, session, cycle, exc, section="rules", block="rules_form", form=values
        ) from exc
    return _back_to_settings(request, cycle)


@router.get("/audit", name="cycles:audit")
def audit(request: Request, user: StaffUser, session: SessionDep) -> Response:
    """Staff overview: every cycle with its phase history (no personal data)."""
    rows = [
        {
            "cycle": c,
            "history": service.phase_history(session, c.id or 0),
            "districts": service.list_districts(session, c.id or 0),
        }
        for c in service.list_cycles(session)
    ]
    return render(request, "cycles/audit.html", {"rows": rows, "phase_label": service.phase_label})


# --- JSON API --------------------------------------------------------------------------------


@api.get("/cycles", name="api:cycles", response_model=list[CycleRead])
def api_cycles(session: SessionDep) -> list[CycleRead]:
    return [cycle_read(session, c) for c in service.list_cycles(session)]


@api.post("/cycles", name="api:create_cycle", response_model=CycleRead, status_code=201)
def api_create_cycle(body: CycleCreate, user: OrganizerUser, session: SessionDep) -> CycleRead:
    plan: dict[str, date | None] = dict(body.planned_starts)
    cycle = service.create_cycle(
        session,
        title=body.title,
        description=body.description,
        currency=body.currency,
        districts=[(d.name, d.budget_minor) for d in body.districts],
        planned_starts=plan,
        actor_id=user.id,
    )
    return cycle_read(session, cycle)


@api.get("/cycles/{cycle_id}", name="api:cycle", response_model=CycleRead)
def api_cycle(cycle: ValidCycle, session: SessionDep) -> CycleRead:
    return cycle_read(session, cycle)


@api.patch("/cycles/{cycle_id}", name="api:update_cycle", response_model=CycleRead)
def api_update_cycle(
    body: CycleUpdate, user: OrganizerUser, cycle: ValidCycle, session: SessionDep
) -> CycleRead:
    """Change only the fields sent; ``planned_starts`` only the phases it names."""
    sent = body.model_fields_set
    service.update_cycle(
        session,
        cycle=cycle,
        title=body.title if "title" in sent else None,
        description=body.description if "description" in sent else None,
        planned_starts=body.planned_starts,
    )
    return cycle_read(session, cycle)


@api.post(
    "/cycles/{cycle_id}/districts",
    name="api:add_district",
    response_model=DistrictRead,
    status_code=201,
)
def api_add_district(
    body: DistrictIn, user: OrganizerUser, cycle: ValidCycle, session: SessionDep
) -> DistrictRead:
    district = service.add_district(
        session, cycle=cycle, name=body.name, budget_minor=body.budget_minor
    )
    return DistrictRead(id=district.id or 0, name=district.name, budget_minor=district.budget_minor)


@api.put(
    "/cycles/{cycle_id}/districts/{district_id}",
    name="api:update_district",
    response_model=DistrictRead,
)
def api_update_district(
    body: DistrictIn,
    user: OrganizerUser,
    cycle: ValidCycle,
    district: ValidDistrict,
    session: SessionDep,
) -> DistrictRead:
    service.update_district(
        session, cycle=cycle, district=district, name=body.name, budget_minor=body.budget_minor
    )
    return DistrictRead(id=district.id or 0, name=district.name, budget_minor=district.budget_minor)


@api.put("/cycles/{cycle_id}/rules", name="api:set_rules", response_model=CycleRead)
def api_set_rules(
    body: VotingRules, user: OrganizerUser, cycle: ValidCycle, session: SessionDep
) -> CycleRead:
    service.set_voting_rules(
        session,
        cycle=cycle,
        ballot_kind=body.ballot_kind,
        min_choices=body.min_choices,
        max_choices=body.max_choices,
        tally_rule=body.tally_rule,
        tie_break=body.tie_break,
    )
    return cycle_read(session, cycle)
