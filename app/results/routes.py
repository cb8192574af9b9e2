"""Results pages and API: the organizer runs the tally once voting has closed; anyone reads the
stored outcome (never recounted per request)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlmodel import Session

from app.core.db import SessionDep
from app.core.errors import DomainError, FormError, form_page
from app.core.htmx import see_other
from app.core.security import OrganizerUser
from app.core.templating import render
from app.cycles import service as cycles_service
from app.cycles.models import Cycle, Phase
from app.eligibility.dependencies import CycleFromPath
from app.results import service
from app.results.explain import explain
from app.results.schemas import CycleResultsRead, DistrictResultRead, ProjectResultRead

router = APIRouter(tags=["pages: results"])
# Input refused before a handler runs shows these pages again (app.core.errors).
form_page("results:publish", "results:show")
api = APIRouter(prefix="/api", tags=["results"])


def _context(session: Session, cycle: Cycle, error: str | None = None) -> dict[str, Any]:
    outcomes = service.published_results(session, cycle=cycle)
    facts = {o.result.id: json.loads(o.result.outcome_json).get("explain", {}) for o in outcomes}
    return {
        "cycle": cycle,
        "outcomes": outcomes,
        "facts": facts,
        "explain": explain,
        "rule_label": cycles_service.rule_label,
        "rule_explanation": cycles_service.rule_explanation,
        "tie_break_label": cycles_service.tie_break_label,
        "seed_commitment": cycles_service.tie_break_commitment(cycle),
        "can_publish": cycle.phase == Phase.tallying.value,
        "error": error,
    }


@router.get("/cycles/{cycle_id}/results", name="results:show")
def show(request: Request, cycle: CycleFromPath, session: SessionDep) -> Response:
    response = render(request, "results/show.html", _context(session, cycle))
    return response


@router.post("/cycles/{cycle_id}/results", name="results:publish")
def publish(
    request: Request, user: OrganizerUser, cycle: CycleFromPath, session: SessionDep
) -> Response:
    try:
        service.publish_results(session, cycle=cycle, actor_id=user.id)
    except DomainError as exc:
        raise FormError(
            render(
                request,
                "results/show.html",
                _context(session, cycle, error=exc.message),
                block="main_content",
                status_code=exc.status_code,
            )
        ) from exc
    return see_other(request, request.app.url_path_for("results:show", cycle_id=str(cycle.id)))


def _read(cycle: Cycle, outcomes: list[service.DistrictOutcome]) -> CycleResultsRead:
    return CycleResultsRead(
        cycle_id=cycle.id or 0,
        currency=cycle.currency,
        districts=[
            DistrictResultRead(
                district_id=o.district.id or 0,
                district=o.district.name,
                budget_minor=o.result.budget,
                budget_used_minor=o.result.budget_used,
                ballots=o.result.ballot_count,
                rule=o.result.rule,
                rule_version=o.result.rule_version,
                tie_break=o.result.tie_break,
                published_at=o.result.published_at,
                outcome=json.loads(o.result.outcome_json),
                projects=[
                    ProjectResultRead(
                        proposal_id=p.proposal_id,
                        title=p.title,
                        cost_minor=p.cost,
                        votes=p.votes,
                        funded=p.funded,
                        explanation=p.explanation,
                    )
                    for p in o.projects
                ],
            )
            for o in outcomes
        ],
    )


@api.get("/cycles/{cycle_id}/results", name="api:results", response_model=CycleResultsRead)
def api_show(cycle: CycleFromPath, session: SessionDep) -> CycleResultsRead:
    return _read(cycle, service.require_published(session, cycle=cycle))


@api.post(
    "/cycles/{cycle_id}/results",
    name="api:publish_results",
    response_model=CycleResultsRead,
    status_code=201,
)
def api_publish(user: OrganizerUser, cycle: CycleFromPath, session: SessionDep) -> CycleResultsRead:
    return _read(cycle, service.publish_results(session, cycle=cycle, actor_id=user.id))
