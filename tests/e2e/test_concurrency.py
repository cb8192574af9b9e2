"""50 simultaneous submissions with the same access code give exactly one ballot.

Real server processes (2 uvicorn workers), real threads, one connection each; on SQLite
(WAL, BEGIN IMMEDIATE) and on PostgreSQL (conditional UPDATE under row locks).
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from sqlalchemy import func, select

from app.ballots.models import Ballot
from app.core.db import write_transaction
from app.cycles.models import Phase
from app.eligibility import service as eligibility_service
from app.eligibility.codes import format_code
from app.eligibility.models import AccessCode
from app.proposals.models import ProposalStatus
from tests.e2e.conftest import LiveServer
from tests.factories import districts_of, make_cycle, make_proposal

SUBMISSIONS = 50


def test_fifty_simultaneous_casts_with_one_code_give_one_ballot(live_server: LiveServer) -> None:
    key = b"test-access-code-key-0123456789"
    with write_transaction(live_server.engine) as session:
        cycle = make_cycle(session, phase=Phase.voting, districts=(("Centre", 100_000_00),))
        district = districts_of(session, cycle)[0]
        project = make_proposal(
            session,
            cycle=cycle,
            district=district,
            status=ProposalStatus.accepted,
            final_cost_minor=10_000_00,
        )
        _batch, codes = eligibility_service.issue_access_codes(
            session, district_id=district.id or 0, count=1, key=key
        )
        district_id, project_id = district.id, project.id
    code = format_code(codes[0])

    clients = [httpx.Client(base_url=live_server.base_url, timeout=60) for _ in range(SUBMISSIONS)]
    tokens = [c.get("/api/session").json()["csrf_token"] for c in clients]
    barrier = threading.Barrier(SUBMISSIONS)
    statuses: list[int] = []
    lock = threading.Lock()

    def submit(i: int) -> None:
        barrier.wait()
        if i % 2:
            response = clients[i].post(
                "/api/ballots",
                json={"code": code, "projects": [project_id]},
                headers={"X-CSRF-Token": tokens[i]},
            )
        else:
            response = clients[i].post(
                "/vote/cast",
                data={"code": code, "project": str(project_id), "csrf_token": tokens[i]},
            )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(SUBMISSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()

    counts = Counter(statuses)
    accepted = counts[201] + counts[303]
    assert accepted == 1, counts
    assert set(counts) <= {201, 303, 422, 429}, counts
    with write_transaction(live_server.engine) as session:
        stored = session.execute(
            select(func.count()).select_from(Ballot).where(Ballot.district_id == district_id)  # type: ignore[arg-type]
        ).scalar_one()
        used = session.execute(
            select(func.count())
            .select_from(AccessCode)
            .where(
                AccessCode.district_id == district_id,
                AccessCode.used,  # type: ignore[arg-type]
            )
        ).scalar_one()
    assert (stored, used) == (1, 1)


def test_wrong_codes_are_counted_across_worker_processes(live_server: LiveServer) -> None:
    """Each attempt on a fresh connection (either of the 2 workers may answer): the 11th wrong
    code is refused with 429 because the count lives in the database, not in a process."""
    import time

    from sqlalchemy import delete

    from app.eligibility.models import RateLimitBucket

    window = eligibility_service.FAILURE_WINDOW_SECONDS
    limit = eligibility_service.FAILURE_LIMIT
    for _attempt in range(2):  # again if a rate-limit window boundary fell inside the run
        with write_transaction(live_server.engine) as session:
            session.execute(delete(RateLimitBucket))
        started = int(time.time()) // window
        statuses = []
        for n in range(limit + 3):
            with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
                token = client.get("/api/session").json()["csrf_token"]
                wrong = f"0000-0000-0000-0000-0000-{n:04d}"
                response = client.post(
                    "/api/ballots/open", json={"code": wrong}, headers={"X-CSRF-Token": token}
                )
                statuses.append(response.status_code)
        if int(time.time()) // window == started:
            break
    assert statuses == [422] * limit + [429] * 3, statuses
