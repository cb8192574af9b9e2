"""Voting pages (enter a code, fill the ballot, cast it) and their JSON API twins.

No account is needed: the access code is the voter's credential. Failed code attempts count
against the client's rate-limit bucket in the database (shared by every worker); the count is
committed even though the attempt fails: whatever the failed attempt did is rolled back first,
then the count is written in a fresh transaction (no SAVEPOINT on the hot path).

The ballot page works without JavaScript: "Update the total" re-renders the page with the
meter. With htmx, ticking a box posts the form to the same URL and only the meter comes back,
as an out-of-band swap (``hx-swap-oob`` is set only when the meter is rendered as a fragment).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.ballots import service
from app.ballots.models import Ballot
from app.ballots.rules import parse_choices
from app.ballots.schemas import (
    BallotCast,
    BallotOpen,
    BallotReceipt,
    BallotSheetRead,
    ProjectOnBallot,
)
from app.core.db import SessionDep, commit_in_threadpool
from app.core.errors import DomainError, FormError, NotFoundError, form_page, problem
from app.core.htmx import is_htmx, see_other
from app.core.templating import render
from app.eligibility import service as eligibility_service
from app.eligibility.dependencies import (
    AccessCodeKey,
    ClientBucket,
    client_bucket_of,
    code_key_of,
)

router = APIRouter(tags=["pages: voting"])
# Input refused before a handler runs shows these pages again (app.core.errors).
form_page("ballots:ballot", "ballots:start")
form_page("ballots:cast", "ballots:start")
api = APIRouter(prefix="/api", tags=["voting"])

# Ballot pages carry the code and the choices: never keep them in a cache (shared kiosks).
NO_STORE = {"Cache-Control": "no-store"}
CodeField = Annotated[str, Form(max_length=100)]
ProjectsField = Annotated[list[str], Form(max_length=1000)]


def _code_page(
    request: Request, *, code: str = "", error: str | None = None, status_code: int = 200
) -> Response:
    return render(
        request,
        "ballots/start.html",
        {"code": code, "error": error},
        block="main_content",
        status_code=status_code,
        headers=NO_STORE,
    )


def _ballot_context(
    sheet: service.BallotSheet, *, code: str, chosen: list[int], error: str | None = None
) -> dict[str, Any]:
    return {
        "sheet": sheet,
        "cycle": sheet.cycle,
        "district": sheet.district,
        "projects": sheet.projects,
        "code": code,
        "chosen": set(chosen),
        "meter": sheet.meter(chosen),
        "error": error,
        "meter_oob": False,
    }


def _count_failure(session: Session, *, bucket: str, exc: DomainError) -> DomainError:
    """Roll back the failed attempt, then count it (the request commits the count alone).

    Returns the refusal to show: a client already at its limit is told so (and not counted
    again), whatever else was wrong with the attempt.
    """
    session.rollback()
    if isinstance(exc, eligibility_service.TooManyAttemptsError):
        return exc
    now = int(time.time())
    try:
        eligibility_service.check_attempts(session, bucket=bucket, now=now)
    except eligibility_service.TooManyAttemptsError as limited:
        return limited
    eligibility_service.record_failed_attempt(session, bucket=bucket, now=now)
    return exc


def _refuse_code(
    session: Session, request: Request, *, bucket: str, code: str, exc: DomainError
) -> Response:
    """A wrong, used or unknown code: count the failure (committed) and show the code form."""
    exc = _count_failure(session, bucket=bucket, exc=exc)
    return _code_page(request, code=code, error=exc.message, status_code=exc.status_code)


@router.get("/vote", name="ballots:start")
def start(request: Request) -> Response:
    return _code_page(request)


@router.post("/vote/ballot", name="ballots:ballot")
def ballot(
    request: Request,
    session: SessionDep,
    key: AccessCodeKey,
    bucket: ClientBucket,
    code: CodeField = "",
    project: ProjectsField = [],  # noqa: B006  (FastAPI copies defaults)
) -> Response:
    """Open the ballot for a code, or show it again with the meter updated."""
    try:
        eligibility_service.check_attempts(session, bucket=bucket, now=int(time.time()))
        _code, sheet = service.open_ballot(session, code_text=code, key=key)
    except eligibility_service.AccessCodeError as exc:
        return _refuse_code(session, request, bucket=bucket, code=code, exc=exc)
    chosen, _bad = parse_choices(project)
    ctx = _ballot_context(sheet, code=code, chosen=[c for c in chosen if c in sheet.costs])
    if is_htmx(request):
        ctx["meter_oob"] = True
        return render(request, "ballots/ballot.html", ctx, block="meter", headers=NO_STORE)
    return render(request, "ballots/ballot.html", ctx, headers=NO_STORE)


@router.post("/vote/cast", name="ballots:cast")
def cast(
    request: Request,
    session: SessionDep,
    key: AccessCodeKey,
    bucket: ClientBucket,
    code: CodeField = "",
    project: ProjectsField = [],  # noqa: B006
) -> Response:
    chosen, bad = parse_choices(project)
    try:
        ballot = service.cast_ballot(
            session,
            code_text=code,
            chosen=chosen,
            key=key,
            garbage=bad,
            client=bucket,
            now=int(time.time()),
        )
    except eligibility_service.AccessCodeError as exc:
        return _refuse_code(session, request, bucket=bucket, code=code, exc=exc)
    except service.BallotInvalidError as exc:
        sheet = exc.sheet
        assert sheet is not None
        ctx = _ballot_context(
            sheet, code=code, chosen=[c for c in chosen if c in sheet.costs], error=exc.message
        )
        raise FormError(
            render(
                request,
                "ballots/ballot.html",
                ctx,
                block="ballot_form",
                status_code=422,
                headers=NO_STORE,
            )
        ) from exc
    return see_other(request, request.app.url_path_for("ballots:done", receipt=ballot.id))


@router.get("/vote/done/{receipt}", name="ballots:done")
def done(request: Request, receipt: str, session: SessionDep) -> Response:
    if len(receipt) != 32 or session.get(Ballot, receipt) is None:
        raise NotFoundError()
    # No Referer from this page (its URL holds the receipt) in the logs of a proxy in front.
    headers = {**NO_STORE, "Referrer-Policy": "no-referrer"}
    return render(request, "ballots/done.html", {"receipt": receipt}, headers=headers)


# --- JSON API --------------------------------------------------------------------------------


def _code_problem(session: Session, *, bucket: str, exc: DomainError) -> JSONResponse:
    exc = _count_failure(session, bucket=bucket, exc=exc)
    title = "Too many requests" if exc.status_code == 429 else "Invalid access code"
    return problem(exc.status_code, title, exc.message, code=exc.code)


@api.post(
    "/ballots/open",
    name="api:open_ballot",
    response_model=BallotSheetRead,
    responses={422: {"description": "Unknown, used or mistyped code"}, 429: {}},
)
def api_open(
    body: BallotOpen, session: SessionDep, key: AccessCodeKey, bucket: ClientBucket
) -> Any:
    """The ballot an access code gives (the code is not used up)."""
    try:
        eligibility_service.check_attempts(session, bucket=bucket, now=int(time.time()))
        _code, sheet = service.open_ballot(session, code_text=body.code, key=key)
    except eligibility_service.AccessCodeError as exc:
        return _code_problem(session, bucket=bucket, exc=exc)
    return BallotSheetRead(
        cycle_id=sheet.cycle.id or 0,
        district_id=sheet.district.id or 0,
        district=sheet.district.name,
        currency=sheet.cycle.currency,
        budget_minor=sheet.district.budget_minor,
        min_choices=sheet.cycle.min_choices,
        max_choices=sheet.cycle.max_choices,
        projects=[
            ProjectOnBallot(id=p.id or 0, title=p.title, cost_minor=p.final_cost_minor or 0)
            for p in sheet.projects
        ],
    )


@api.post(
    "/ballots",
    name="api:cast_ballot",
    response_model=BallotReceipt,
    status_code=201,
    responses={422: {"description": "Invalid code or ballot"}, 429: {}},
)
async def api_cast(body: BallotCast, request: Request, session: SessionDep) -> Any:
    """Cast an approval ballot with an access code (the code is used up)."""
    # The hot path of an election day: key and bucket without dependencies of their own
    # (FastAPI solves each dependency on every request), the whole transaction, commit
    # included, in one thread hop, and the receipt sent as is.
    key = code_key_of(request)
    bucket = client_bucket_of(request)

    def cast_and_answer() -> Response:
        try:
            ballot = service.cast_ballot(
                session,
                code_text=body.code,
                chosen=body.projects,
                key=key,
                client=bucket,
                now=int(time.time()),
            )
        except eligibility_service.AccessCodeError as exc:
            return _code_problem(session, bucket=bucket, exc=exc)
        receipt = BallotReceipt(
            receipt=ballot.id, district_id=ballot.district_id, total_cost_minor=ballot.total_cost
        )
        return Response(receipt.model_dump_json(), status_code=201, media_type="application/json")

    return await commit_in_threadpool(session, cast_and_answer)
