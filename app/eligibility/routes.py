"""Access-code pages (organizer) and their JSON API twins.

Codes exist in clear only in the answer to the request that generated them: shown on the page
(with a CSV download link that carries them) or sent as a CSV attachment for printing.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from sqlmodel import Session

from app.core.db import SessionDep
from app.core.errors import DomainError, FormError, form_page
from app.core.i18n import _
from app.core.security import OrganizerUser, StaffUser
from app.core.templating import render
from app.cycles.models import Cycle, District
from app.eligibility import service
from app.eligibility.codes import format_code
from app.eligibility.dependencies import AccessCodeKey, CycleFromPath, DistrictFromPath
from app.eligibility.schemas import AccessCodeBatchCreate, AccessCodeBatchRead, DistrictCodesRead

router = APIRouter(tags=["pages: access codes"])
# Input refused before a handler runs shows these pages again (app.core.errors).
form_page("eligibility:issue", "eligibility:index")
api = APIRouter(prefix="/api", tags=["access codes"])


def _districts(session: Session, cycle: Cycle) -> list[District]:
    from sqlalchemy import select

    return list(
        session.execute(
            select(District)
            .where(District.cycle_id == cycle.id)  # type: ignore[arg-type]
            .order_by(District.position, District.id)  # type: ignore[arg-type]
        ).scalars()
    )


def _index_context(session: Session, cycle: Cycle) -> dict[str, Any]:
    rows = []
    for district in _districts(session, cycle):
        issued, used = service.code_counts(session, district_id=district.id or 0)
        rows.append({"district": district, "issued": issued, "used": used})
    return {"cycle": cycle, "rows": rows, "max_batch": service.MAX_BATCH}


def codes_csv(cycle: Cycle, district: District, batch_id: int, codes: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["cycle", "district", "batch", "number", "access_code"])
    for number, code in enumerate(codes, start=1):
        writer.writerow([cycle.title, district.name, batch_id, number, format_code(code)])
    return out.getvalue()


@router.get("/cycles/{cycle_id}/access-codes", name="eligibility:index")
def index(request: Request, user: StaffUser, cycle: CycleFromPath, session: SessionDep) -> Response:
    return render(request, "eligibility/index.html", _index_context(session, cycle))


@router.post("/cycles/{cycle_id}/districts/{district_id}/access-codes", name="eligibility:issue")
def issue(
    request: Request,
    user: OrganizerUser,
    cycle: CycleFromPath,
    district: DistrictFromPath,
    session: SessionDep,
    key: AccessCodeKey,
    count: Annotated[str, Form(max_length=20)] = "",
    output: Annotated[str, Form(max_length=10)] = "page",
) -> Response:
    try:
        number = int(count.strip())
    except ValueError:
        number = 0
    try:
        batch, codes = service.issue_access_codes(
            session, district_id=district.id or 0, count=number, key=key
        )
    except DomainError as exc:
        ctx = _index_context(session, cycle)
        ctx.update(error=exc.message, error_district=district.id, count=count)
        raise FormError(
            render(request, "eligibility/index.html", ctx, block="main_content", status_code=422)
        ) from exc
    text = codes_csv(cycle, district, batch.id or 0, codes)
    filename = f"access-codes-cycle{cycle.id}-district{district.id}-batch{batch.id}.csv"
    no_store = {"Cache-Control": "no-store"}
    if output == "csv":
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', **no_store},
        )
    ctx = {
        "cycle": cycle,
        "district": district,
        "batch": batch,
        "codes": [format_code(c) for c in codes],
        "csv_href": "data:text/csv;charset=utf-8," + quote(text),
        "csv_name": filename,
    }
    return render(request, "eligibility/batch.html", ctx, block="main_content", headers=no_store)


@api.get(
    "/cycles/{cycle_id}/access-codes",
    name="api:access_codes",
    response_model=list[DistrictCodesRead],
)
def api_index(
    user: StaffUser, cycle: CycleFromPath, session: SessionDep
) -> list[DistrictCodesRead]:
    return [
        DistrictCodesRead(
            district_id=row["district"].id,
            name=row["district"].name,
            issued=row["issued"],
            used=row["used"],
        )
        for row in _index_context(session, cycle)["rows"]
    ]


@api.post(
    "/cycles/{cycle_id}/districts/{district_id}/access-codes",
    name="api:issue_access_codes",
    response_model=AccessCodeBatchRead,
    status_code=201,
)
def api_issue(
    body: AccessCodeBatchCreate,
    user: OrganizerUser,
    cycle: CycleFromPath,
    district: DistrictFromPath,
    session: SessionDep,
    key: AccessCodeKey,
    response: Response,
) -> AccessCodeBatchRead:
    batch, codes = service.issue_access_codes(
        session, district_id=district.id or 0, count=body.count, key=key
    )
    response.headers["Cache-Control"] = "no-store"
    return AccessCodeBatchRead(
        batch_id=batch.id or 0, district_id=district.id or 0, codes=[format_code(c) for c in codes]
    )


__all__ = ["api", "router", "_"]
