"""Schemathesis over /openapi.json, through the ASGI app, as each role and anonymously.

Every operation the schema lists (the JSON API and the page routes) gets generated, valid
and invalid, inputs, with and without HX-Request.  The property is the issue's promise: never
a 5xx, and every /api/ error is a JSON problem.  Bounded: a few examples per operation and
role, no shrinking, a time budget, so the file stays well under two minutes on both databases.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.core.security import CSRF_COOKIE, SESSION_COOKIE, Role, start_session
from app.cycles.models import Phase as CyclePhase
from app.eligibility import service as eligibility_service
from tests.factories import districts_of, make_cycle, make_proposal, make_user

ROLES: tuple[str | None, ...] = (None, "resident", "organizer", "auditor")
EXAMPLES = 8
TIME_BUDGET_SECONDS = 40.0  # per database; after it, 2 examples per operation


@pytest.fixture
def world(db_session, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A cycle open for voting (with projects and codes) and one in intake, ids 1.. exist."""
    voting = make_cycle(db_session, phase=CyclePhase.voting)
    district = districts_of(db_session, voting)[0]
    for _ in range(3):
        make_proposal(db_session, cycle=voting, district=district, status="accepted")
    intake = make_cycle(db_session, phase=CyclePhase.intake)
    make_proposal(db_session, cycle=intake)
    key = settings.access_code_key.get_secret_value().encode()
    eligibility_service.issue_access_codes(db_session, district_id=district.id, count=20, key=key)
    users = {role: make_user(db_session, role=Role(role)) for role in ROLES if role}
    return {"users": users}


def test_no_api_operation_answers_5xx(app, client, db_session, settings, world) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    failures: list[str] = []
    calls = 0
    csrf = client.csrf_token()
    csrf_seed = client.cookies.get(CSRF_COOKIE)
    for role in ROLES:
        for operation in operations:
            # A fresh session per operation: the fuzzed logout routes revoke it.
            cookies = {CSRF_COOKIE: csrf_seed}
            if role:
                user = world["users"][role]
                cookies[SESSION_COOKIE] = start_session(db_session, user=user, settings=settings)
                db_session.commit()
            # Past the budget (a loaded machine), keep covering every operation and role,
            # with fewer examples: the run stays bounded and never fails on time.
            examples = EXAMPLES if time.monotonic() < deadline else 2
            calls += fuzz(operation, role, {"X-CSRF-Token": csrf}, cookies, failures, examples)
    assert not failures, "\n".join(sorted(set(failures))[:30])
    assert calls >= len(operations) * len(ROLES)


FUZZ = hypothesis_settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def fuzz(
    operation: Any,
    role: str | None,
    headers: dict[str, str],
    cookies: dict[str, str],
    failures: list[str],
    examples: int,
) -> int:
    calls = 0

    @hypothesis_settings(FUZZ, max_examples=examples)
    @given(case=operation.as_strategy(), htmx=st.booleans())
    def run(case: Any, htmx: bool) -> None:
        nonlocal calls
        sent = dict(headers, **({"HX-Request": "true"} if htmx else {}))
        where = f"{case.method} {case.formatted_path} as {role or 'anonymous'}"
        calls += 1
        try:
            response = case.call(headers=sent, cookies=cookies)
        except Exception as exc:  # the test client re-raises what the app did not handle
            failures.append(f"{where}: unhandled {type(exc).__name__}: {exc!s:.120}")
            return
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {case.body!r:.200}")
        elif (
            response.status_code >= 400
            and case.formatted_path.startswith("/api/")
            and "json" not in str(response.headers.get("content-type", ""))
        ):
            failures.append(f"{where}: {response.status_code} is not a JSON problem")

    run()
    return calls
