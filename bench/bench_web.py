"""Web benchmarks on PostgreSQL (loopback only, bounded counts and time, stops by itself).

1. Casting: ballots per second through HTTP (``uvicorn`` with several workers, keep-alive
   clients on loopback, ``POST /api/ballots``) beside the rate of the same transaction
   (``ballots.service.cast_ballot`` in one write transaction) issued straight to the database,
   measured in the same run with the same number of client threads. Target: HTTP >= 40% of
   direct, p99 < 250 ms.
2. Results: the results page of a cycle with 100,000 ballots (published once by the tally,
   then read from stored rows). Target: < 100 ms per page; the one-off tally time is printed
   as the reference of what a recount per request would cost.

Needs PLAZA_TEST_POSTGRES_URL (``make bench`` exports it and starts PostgreSQL). A database of
its own is created and dropped. ``PLAZA_BENCH_WEB_CASTING_ONLY=1`` skips part 2 (while tuning
the cast path; ``make bench`` runs both).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORKERS = 2
CLIENTS = 8
DIRECT_BALLOTS = 1800
RAW_BALLOTS = 3000
HTTP_BALLOTS = 2400
ROUNDS = 3
RESULT_BALLOTS = 100_000
PAGE_REQUESTS = 40
TIME_LIMIT_S = 90.0
KEY = "bench-access-code-key-0123456789abcdef"
# The rate-limit bucket the direct casts read in passing, as HTTP casts read their client's.
CLIENT_BUCKET = "code:" + "0" * 64

os.environ.update(
    {
        "PLAZA_ENVIRONMENT": "test",
        "PLAZA_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "PLAZA_ACCESS_CODE_KEY": KEY,
        "PLAZA_VOTER_KEY": "bench-voter-key-0123456789abcdef",
        "PLAZA_ARGON2_TIME_COST": "1",
        "PLAZA_ARGON2_MEMORY_COST_KIB": "8",
        "PLAZA_ARGON2_PARALLELISM": "1",
    }
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_clients(n: int, work: list[object], call: object) -> tuple[float, list[float], int]:
    """Run ``call(worker_index, item)`` over ``work`` from ``n`` threads; (seconds, latencies,
    failures)."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    chunks = [work[i::n] for i in range(n)]
    deadline = time.monotonic() + TIME_LIMIT_S

    def run(index: int) -> None:
        nonlocal failures
        mine: list[float] = []
        bad = 0
        for item in chunks[index]:
            if time.monotonic() > deadline:
                break
            t0 = time.perf_counter()
            ok = call(index, item)  # type: ignore[operator]
            mine.append(time.perf_counter() - t0)
            bad += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            failures += bad

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, failures


def main() -> int:
    base_url = os.environ.get("PLAZA_TEST_POSTGRES_URL", "")
    if not base_url:
        print("bench_web: PLAZA_TEST_POSTGRES_URL is not set (run `make bench`)", file=sys.stderr)
        return 1
    from sqlalchemy import create_engine, func, select, text
    from sqlalchemy.engine import make_url

    name = f"plaza_bench_{os.getpid()}"
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    os.environ["PLAZA_DATABASE_URL"] = url
    server: subprocess.Popen[bytes] | None = None
    try:
        from app.core import migrations
        from app.core.config import get_settings
        from app.core.db import engine_for

        get_settings.cache_clear()
        engine = engine_for(url)
        migrations.upgrade(engine)
        cycle_id, project_ids, codes = _seed_voting(
            engine, DIRECT_BALLOTS + RAW_BALLOTS + HTTP_BALLOTS
        )
        picks = _random_ballots(project_ids, DIRECT_BALLOTS + RAW_BALLOTS + HTTP_BALLOTS)

        # --- direct: the same transaction, straight to the database -------------------------
        from app.ballots import service as ballots_service
        from app.core.db import write_transaction

        key = KEY.encode()

        def direct(_i: int, item: object) -> bool:
            code, chosen = item  # type: ignore[misc]
            with write_transaction(engine) as session:
                ballots_service.cast_ballot(
                    session,
                    code_text=code,
                    chosen=chosen,
                    key=key,
                    client=CLIENT_BUCKET,
                    now=int(time.time()),
                )
            return True

        # --- raw: the same SQL statements through psycopg, no ORM, no Plaza code ------------
        raw_cast, raw_close = _raw_sql_caster(base_url, name)

        # --- HTTP: uvicorn workers, keep-alive clients on loopback ----------------------------
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:server_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(WORKERS),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_ready(port)
        connections = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(CLIENTS)
        ]
        headers = [_session_headers(c) for c in connections]

        def over_http(i: int, item: object) -> bool:
            code, chosen = item  # type: ignore[misc]
            body = json.dumps({"code": code, "projects": chosen})
            connections[i].request("POST", "/api/ballots", body=body, headers=headers[i])
            response = connections[i].getresponse()
            response.read()
            return response.status == 201

        work = list(zip(codes, picks, strict=True))
        work_direct = work[:DIRECT_BALLOTS]
        work_raw = work[DIRECT_BALLOTS : DIRECT_BALLOTS + RAW_BALLOTS]
        work_http = work[DIRECT_BALLOTS + RAW_BALLOTS :]
        _run_clients(CLIENTS, [work_http.pop() for _ in range(CLIENTS * 5)], over_http)  # warm-up
        # The three run in turns, a slice of each per round (the order rotating), so that a
        # load on the machine that comes and goes (other jobs) weighs on all three alike. The
        # slices last about as long as each other (more raw casts: they are the fastest), and
        # long enough (~0.5 s) that starting and draining the client threads costs each ~1 %.
        ways = [("direct", work_direct, direct), ("raw", work_raw, raw_cast)]
        ways.append(("http", work_http, over_http))
        totals: dict[str, tuple[float, list[float], int]] = {w: (0.0, [], 0) for w, _, _ in ways}
        for round_ in range(ROUNDS):
            for way, items, call in ways[round_ % 3 :] + ways[: round_ % 3]:
                share = items[round_ * len(items) // ROUNDS : (round_ + 1) * len(items) // ROUNDS]
                seconds, lat, fail = _run_clients(CLIENTS, share, call)  # type: ignore[arg-type]
                t, all_lat, all_fail = totals[way]
                totals[way] = (t + seconds, all_lat + lat, all_fail + fail)
        raw_close()
        for c in connections:
            c.close()
        d_time, d_lat, d_fail = totals["direct"]
        r_time, r_lat, r_fail = totals["raw"]
        h_time, h_lat, h_fail = totals["http"]
        d_rate = len(d_lat) / d_time
        r_rate = len(r_lat) / r_time
        h_rate = len(h_lat) / h_time

        from app.ballots.models import Ballot

        with engine.connect() as connection:
            stored = connection.execute(
                select(func.count()).select_from(Ballot).where(Ballot.cycle_id == cycle_id)  # type: ignore[arg-type]
            ).scalar_one()
        expected = len(d_lat) - d_fail + len(r_lat) - r_fail + len(h_lat) - h_fail + CLIENTS * 5
        ratio = h_rate / d_rate
        print(f"casting ({CLIENTS} client threads, {WORKERS} uvicorn workers, PostgreSQL)")
        for label, rate, lat, fail in (
            ("direct (Plaza service)", d_rate, d_lat, d_fail),
            ("direct (raw SQL)", r_rate, r_lat, r_fail),
            ("through HTTP", h_rate, h_lat, h_fail),
        ):
            p50_ms = 1000 * statistics.median(lat)
            print(
                f"  {label:<23}: {rate:8.1f} ballots/s  p50 {p50_ms:6.1f} ms"
                f"  p99 {1000 * _percentile(lat, 0.99):6.1f} ms"
                f"  ({len(lat)} ballots, {fail} failed)"
            )
        p99_ms = 1000 * _percentile(h_lat, 0.99)
        print(
            f"  HTTP / direct service  : {100 * ratio:6.1f} %  (target >= 40 %: "
            f"{'met' if ratio >= 0.4 else 'NOT met'}; p99 target < 250 ms: "
            f"{'met' if p99_ms < 250 else 'NOT met'})"
        )
        raw_ratio = h_rate / r_rate
        print(
            f"  HTTP / direct raw SQL  : {100 * raw_ratio:6.1f} %  (same target against the bare"
            f" statements: {'met' if raw_ratio >= 0.4 else 'NOT met'})"
        )
        print(f"  ballots stored         : {stored} (expected {expected})")

        if os.environ.get("PLAZA_BENCH_WEB_CASTING_ONLY") == "1":
            return 0
        # --- results page of a cycle with 100,000 ballots --------------------------------------
        results_cycle, count_s, publish_s, insert_s = _seed_results(engine, RESULT_BALLOTS)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        page_lat = []
        size = 0
        for _ in range(PAGE_REQUESTS):
            t0 = time.perf_counter()
            conn.request("GET", f"/cycles/{results_cycle}/results")
            response = conn.getresponse()
            body = response.read()
            page_lat.append(time.perf_counter() - t0)
            assert response.status == 200, response.status
            size = len(body)
        conn.close()
        p50 = 1000 * statistics.median(page_lat)
        worst = 1000 * max(page_lat[5:])
        print(f"results page, cycle with {RESULT_BALLOTS:,} ballots ({size:,} bytes)")
        print(
            f"  stored results page    : p50 {p50:6.1f} ms  max {worst:6.1f} ms"
            f" over {PAGE_REQUESTS} requests"
            f" (target < 100 ms: {'met' if worst < 100 else 'NOT met'})"
        )
        print(
            f"  reference: counting (reading the ballots and the tally) took {1000 * count_s:,.0f}"
            f" ms; publishing (counting again, storing, and rewriting every ballot and code"
            f" so that no row version links them) {publish_s:,.1f} s; bulk-loading the"
            f" ballots {insert_s:,.1f} s"
        )
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        from app.core.db import engine_for

        engine_for(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The statements ``ballots.service.cast_ballot`` sends (as SQLAlchemy compiles them for
# psycopg): keep them in step with the service, or the reference measures something else.
_RAW_LOOKUP = (
    "SELECT access_code.id, access_code.used, district.id AS district_id,"
    " district.budget_minor, cycle.id AS cycle_id, cycle.phase, cycle.min_choices,"
    " cycle.max_choices, proposal.id AS project_id, proposal.final_cost_minor AS project_cost,"
    " (SELECT rate_limit_bucket.failures FROM rate_limit_bucket"
    " WHERE rate_limit_bucket.bucket = %(bucket)s::VARCHAR"
    " AND rate_limit_bucket.window_start = %(window_start)s::INTEGER) AS client_failures"
    " FROM access_code JOIN district ON district.id = access_code.district_id"
    " JOIN cycle ON cycle.id = district.cycle_id"
    " LEFT OUTER JOIN proposal ON proposal.district_id = district.id"
    " AND proposal.status = %(status_1)s::VARCHAR"
    " WHERE access_code.code_hash = %(code_hash)s::VARCHAR FOR SHARE OF cycle"
)
_RAW_USE_CODE = (
    "UPDATE access_code SET used=%(used)s"
    " WHERE access_code.id = %(code_id)s::INTEGER AND access_code.used = false"
)
_RAW_INSERT_BALLOT = (
    "INSERT INTO ballot (id, cycle_id, district_id, total_cost)"
    " VALUES (%s::VARCHAR, %s::INTEGER, %s::INTEGER, %s::BIGINT)"
)


def _raw_sql_caster(base_url: str, name: str) -> tuple[Any, Any]:
    """``(cast, close)``: ``cast(i, (code, chosen))`` sends the statements ``cast_ballot``
    issues through psycopg on client ``i``'s own connection; ``close()`` closes them."""
    import hashlib
    import hmac

    import psycopg
    from sqlalchemy.engine import make_url

    from app.eligibility.codes import normalize_code

    url = make_url(base_url).set(database=name, drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)
    connections = [psycopg.connect(dsn) for _ in range(CLIENTS)]
    key = KEY.encode()

    def cast(i: int, item: object) -> bool:
        code, chosen = item  # type: ignore[misc]
        digest = hmac.new(
            key, b"plaza-access-code:" + normalize_code(code).encode(), hashlib.sha256
        ).hexdigest()
        conn = connections[i]
        with conn.transaction():
            now = int(time.time())
            params = {
                "bucket": CLIENT_BUCKET,
                "window_start": now - now % 600,
                "status_1": "accepted",
                "code_hash": digest,
            }
            rows = conn.execute(_RAW_LOOKUP, params).fetchall()
            assert rows and not rows[0][1] and (rows[0][10] or 0) < 10
            code_id, _used, district_id, _budget, cycle_id = rows[0][:5]
            costs = {r[8]: r[9] for r in rows if r[8] is not None}
            done = conn.execute(_RAW_USE_CODE, {"used": True, "code_id": code_id})
            if done.rowcount != 1:
                raise RuntimeError("code used twice")
            ballot_id = secrets.token_hex(16)
            picked = sorted(set(chosen))
            conn.execute(
                _RAW_INSERT_BALLOT,
                (ballot_id, cycle_id, district_id, sum(costs[p] for p in picked)),
            )
            conn.execute(
                "INSERT INTO ballot_item (ballot_id, proposal_id) VALUES "
                + ", ".join(["(%s, %s)"] * len(picked)),
                [v for p in picked for v in (ballot_id, p)],
            )
        return True

    def close() -> None:
        for conn in connections:
            conn.close()

    return cast, close


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("bench_web: server did not start")


def _session_headers(conn: http.client.HTTPConnection) -> dict[str, str]:
    conn.request("GET", "/api/session")
    response = conn.getresponse()
    token = json.loads(response.read())["csrf_token"]
    cookies = [
        value.split(";", 1)[0]
        for name, value in response.getheaders()
        if name.lower() == "set-cookie"
    ]
    return {
        "Content-Type": "application/json",
        "X-CSRF-Token": token,
        "Cookie": "; ".join(cookies),
        "Connection": "keep-alive",
    }


def _seed_voting(engine: object, n_codes: int) -> tuple[int, list[int], list[str]]:
    from app.core.db import write_transaction
    from app.cycles.models import Cycle, District, Phase
    from app.eligibility import service as eligibility_service
    from app.proposals.models import Proposal

    with write_transaction(engine) as session:  # type: ignore[arg-type]
        cycle = Cycle(
            title="Bench cycle",
            currency="EUR",
            phase=Phase.voting.value,
            tie_break_seed=secrets.token_hex(32),  # drawn when voting opens (cycles service)
        )
        session.add(cycle)
        session.flush()
        district = District(cycle_id=cycle.id or 0, name="Bench", budget_minor=1_000_000_00)
        session.add(district)
        session.flush()
        projects = []
        for i in range(8):
            p = Proposal(
                cycle_id=cycle.id or 0,
                district_id=district.id or 0,
                title=f"Project {i}",
                description="-",
                estimated_cost_minor=(i + 1) * 50_000_00,
                final_cost_minor=(i + 1) * 50_000_00,
                status="accepted",
            )
            session.add(p)
            projects.append(p)
        session.flush()
        _batch, codes = eligibility_service.issue_access_codes(
            session, district_id=district.id or 0, count=n_codes, key=KEY.encode()
        )
        return cycle.id or 0, [p.id or 0 for p in projects], codes


def _random_ballots(project_ids: list[int], n: int) -> list[list[int]]:
    rng = random.Random(7)
    costs = {pid: (i + 1) * 50_000_00 for i, pid in enumerate(project_ids)}
    out = []
    for _ in range(n):
        chosen: list[int] = []
        total = 0
        for pid in rng.sample(project_ids, rng.randint(1, 4)):
            if total + costs[pid] <= 1_000_000_00:
                chosen.append(pid)
                total += costs[pid]
        out.append(chosen)
    return out


def _seed_results(engine: object, n_ballots: int) -> tuple[int, float, float, float]:
    """A cycle with ``n_ballots`` ballots (bulk COPY, as if cast), counted, then published once:
    the id, the seconds of the count, of the publication and of the bulk load."""
    from sqlalchemy import Engine

    from app.core.db import write_transaction
    from app.cycles.models import Cycle, District, Phase
    from app.proposals.models import Proposal
    from app.results import service as results_service

    assert isinstance(engine, Engine)
    with write_transaction(engine) as session:
        cycle = Cycle(
            title="Bench results",
            currency="EUR",
            phase=Phase.tallying.value,
            tie_break_seed=secrets.token_hex(32),  # drawn when voting opened (cycles service)
        )
        session.add(cycle)
        session.flush()
        districts = []
        for d in range(2):
            district = District(
                cycle_id=cycle.id or 0, name=f"District {d}", budget_minor=500_000_00, position=d
            )
            session.add(district)
            districts.append(district)
        session.flush()
        layout: list[tuple[int, list[int], dict[int, int]]] = []
        for district in districts:
            costs = {}
            for i in range(10):
                p = Proposal(
                    cycle_id=cycle.id or 0,
                    district_id=district.id or 0,
                    title=f"Project {district.name}/{i}",
                    description="-",
                    estimated_cost_minor=(i % 5 + 1) * 40_000_00,
                    final_cost_minor=(i % 5 + 1) * 40_000_00,
                    status="accepted",
                )
                session.add(p)
                session.flush()
                costs[p.id or 0] = p.final_cost_minor or 0
            layout.append((district.id or 0, list(costs), costs))
        cycle_id = cycle.id or 0
    rng = random.Random(11)
    t0 = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        ballots = []
        items = []
        for n in range(n_ballots):
            district_id, ids, costs = layout[n % 2]
            chosen = []
            total = 0
            for pid in rng.sample(ids, rng.randint(1, 5)):
                if total + costs[pid] <= 500_000_00:
                    chosen.append(pid)
                    total += costs[pid]
            bid = secrets.token_hex(16)
            ballots.append((bid, cycle_id, district_id, total))
            items.extend((bid, pid) for pid in chosen)
        with cursor.copy("COPY ballot (id, cycle_id, district_id, total_cost) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in ballots:
                copy.write_row(row)
        with cursor.copy("COPY ballot_item (ballot_id, proposal_id) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in items:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    insert_s = time.perf_counter() - t0
    from sqlmodel import Session

    from app.tally import tally

    t1 = time.perf_counter()
    with Session(engine) as session:  # what a recount costs: read every district, count it
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        seed = results_service.tie_break_seed(cycle)
        for district in session.query(District).filter_by(cycle_id=cycle_id):
            election = results_service.district_election(session, cycle=cycle, district=district)
            tally(election, cycle.tally_rule, tie_break=cycle.tie_break, seed=seed)
    count_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    with write_transaction(engine) as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        results_service.publish_results(session, cycle=cycle)
    return cycle_id, count_s, time.perf_counter() - t2, insert_s


if __name__ == "__main__":
    sys.exit(main())
