"""Two app instances on one real database (two workers), with the real request session.

- The failed-code rate limit is shared: failures counted by one worker stop the client at the
  other, and a valid code is refused too once the client is blocked.
- No half-written change: a ``DomainError`` (or any error) raised after a service has flushed
  leaves the database as it was, through the production ``get_session``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text

from app.core.config import Settings, get_settings
from app.core.db import SessionDep, engine_for, write_transaction
from app.core.errors import DomainError
from app.core.security import SESSION_COOKIE, start_session
from app.cycles.models import Phase
from app.eligibility import service as eligibility_service
from app.eligibility.codes import format_code
from app.main import create_app
from app.proposals.models import ProposalStatus
from tests.conftest import PlazaClient
from tests.e2e.conftest import _drop_postgres, _fresh_postgres
from tests.factories import districts_of, make_cycle, make_proposal, make_user


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, migrated database of its own (the test database's rows stay untouched)."""
    from app.core import migrations

    name = f"plaza_qa_{os.getpid()}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'shared.sqlite3'}"
    else:
        url = _fresh_postgres(name)
    migrations.upgrade(engine_for(url))
    try:
        yield url
    finally:
        engine_for(url).dispose()
        if request.param == "postgresql":
            _drop_postgres(name)


def _worker(url: str, settings: Settings) -> PlazaClient:
    """An app instance of its own, with its own settings object and request sessions."""
    app = create_app(settings.model_copy(update={"database_url": url}))
    return PlazaClient(app, follow_redirects=False)


def _seed_codes(engine: Engine, settings: Settings, count: int) -> list[str]:
    key = settings.access_code_key.get_secret_value().encode()
    with write_transaction(engine) as session:
        cycle = make_cycle(session, phase=Phase.voting)
        district = districts_of(session, cycle)[0]
        make_proposal(session, cycle=cycle, district=district, status=ProposalStatus.accepted)
        _batch, codes = eligibility_service.issue_access_codes(
            session, district_id=district.id or 0, count=count, key=key
        )
    return [format_code(c) for c in codes]


def test_rate_limit_is_shared_by_two_workers(shared_url: str, settings: Settings) -> None:
    engine = engine_for(shared_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM rate_limit_bucket"))
    good = _seed_codes(engine, settings, 1)[0]
    # Well-formed codes (checksums right) that are not stored under the server's key.
    other_key = Settings(
        environment="development",
        access_code_key="another-key-0123456789",  # type: ignore[arg-type]
    )
    unknown = _seed_codes(engine, other_key, eligibility_service.FAILURE_LIMIT)
    a, b = _worker(shared_url, settings), _worker(shared_url, settings)
    with a, b:
        statuses = []
        for index, guess in enumerate(unknown):
            worker = a if index % 2 == 0 else b
            statuses.append(worker.post("/api/ballots/open", json={"code": guess}).status_code)
        assert statuses == [422] * eligibility_service.FAILURE_LIMIT
        # Both workers now refuse this client, even with a valid code, form and API alike.
        for worker in (a, b):
            response = worker.post("/api/ballots/open", json={"code": good})
            assert response.status_code == 429, response.text
            assert response.json()["type"] == "/problems/too-many-attempts"
            page = worker.post("/vote/ballot", data={"code": good})
            assert page.status_code == 429
    with engine.begin() as connection:
        failures = connection.execute(text("SELECT failures FROM rate_limit_bucket")).scalars()
        assert list(failures) == [eligibility_service.FAILURE_LIMIT]
        connection.execute(text("DELETE FROM rate_limit_bucket"))


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
            for table in (
                "cycle",
                "district",
                "cycle_phase",
                "proposal",
                "access_code_batch",
                "access_code",
                "user_account",
                "user_session",
            )
        }


class BoomError(DomainError):
    pass


def _app_that_fails_midway(url: str, settings: Settings) -> FastAPI:
    """The real app plus one route that writes through real services, then fails."""
    app = create_app(settings.model_copy(update={"database_url": url}))
    key = settings.access_code_key.get_secret_value().encode()

    @app.post("/qa/half-write/{how}")
    @app.post("/api/qa/half-write/{how}")
    def half_write(how: str, session: SessionDep) -> dict[str, str]:
        cycle = make_cycle(session, phase=Phase.voting)
        district = districts_of(session, cycle)[0]
        make_proposal(session, cycle=cycle, district=district)
        eligibility_service.issue_access_codes(
            session, district_id=district.id or 0, count=3, key=key
        )
        user = make_user(session, role="resident")
        start_session(session, user=user, settings=get_settings())
        session.flush()
        if how == "domain":
            raise BoomError("refused after the first writes")
        if how == "integrity":  # a constraint fails at the database, mid-transaction
            make_user(session, role="resident", email=user.email)
        raise RuntimeError("a bug after the first writes")

    return app


@pytest.mark.parametrize("how", ["domain", "integrity", "bug"])
@pytest.mark.parametrize("api", [False, True], ids=["page", "api"])
def test_a_failure_midway_leaves_the_database_unchanged(
    shared_url: str, settings: Settings, how: str, api: bool
) -> None:
    engine = engine_for(shared_url)
    before = _counts(engine)
    app = _app_that_fails_midway(shared_url, settings)
    with PlazaClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        path = ("/api" if api else "") + f"/qa/half-write/{how}"
        response = client.post(path)
    expected = {"domain": 422, "integrity": 409, "bug": 500}[how]
    assert response.status_code == expected, response.text[:300]
    if api:
        assert response.headers["content-type"] == "application/problem+json"
    assert _counts(engine) == before


def test_session_rows_written_by_one_worker_are_seen_by_the_other(
    shared_url: str, settings: Settings
) -> None:
    """Logins live in the database: a session started at one worker is valid at the other,
    and a logout at the other ends it for both."""
    a, b = _worker(shared_url, settings), _worker(shared_url, settings)
    engine = engine_for(shared_url)
    with write_transaction(engine) as session:
        user = make_user(session, role="organizer")
        email = user.email
    with a, b:
        from tests.factories import PASSWORD

        login = a.post("/login", data={"email": email, "password": PASSWORD})
        assert login.status_code == 303
        token = login.cookies[SESSION_COOKIE]
        b.cookies.set(SESSION_COOKIE, token)
        assert b.get("/api/session").json()["user"]["role"] == "organizer"
        assert b.post("/logout").status_code == 303
        a.cookies.set(SESSION_COOKIE, token)
        assert a.get("/api/session").json()["user"] is None


def test_published_ballots_cannot_be_joined_to_codes_by_row_versions(
    shared_url: str, settings: Settings
) -> None:
    """PostgreSQL stamps every row with the id of the transaction that wrote it (``xmin``)
    and keeps rows in the order they were written (``ctid``).

    A cast writes the ballot and marks the code used in ONE transaction, so while voting runs
    ``ballot.xmin = access_code.xmin`` joins them exactly.  Publishing the results rewrites
    the cycle's ballots and codes in one transaction, so at rest afterwards every ballot
    shares its stamp with every used code: the join says nothing.  (SQLite keeps no such
    stamp; there the test checks the same publication path.)
    """
    from app.ballots import service as ballots_service
    from app.results import service as results_service

    engine = engine_for(shared_url)
    key = settings.access_code_key.get_secret_value().encode()
    with write_transaction(engine) as session:
        organizer = make_user(session, role="organizer")
        cycle = make_cycle(session, phase=Phase.voting)
        district = districts_of(session, cycle)[0]
        project = make_proposal(
            session, cycle=cycle, district=district, status=ProposalStatus.accepted
        )
        _batch, codes = eligibility_service.issue_access_codes(
            session, district_id=district.id or 0, count=4, key=key
        )
        cycle_id, project_id, organizer_id = cycle.id, project.id or 0, organizer.id
    for code in codes[:3]:  # one transaction per voter, as in production
        with write_transaction(engine) as session:
            ballots_service.cast_ballot(session, code_text=code, chosen=[project_id], key=key)
    postgres = engine.dialect.name == "postgresql"
    join = text(
        "SELECT count(*) FROM ballot b JOIN access_code c ON b.xmin::text = c.xmin::text"
        " WHERE b.cycle_id = :cycle"
    )
    if postgres:  # the link exists while voting runs (documented, not hidden)
        with engine.connect() as connection:
            assert connection.execute(join, {"cycle": cycle_id}).scalar_one() == 3
    with write_transaction(engine) as session:
        from app.cycles.models import Cycle

        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        cycle.phase = Phase.tallying.value
        session.flush()
        results_service.publish_results(session, cycle=cycle, actor_id=organizer_id)
    if postgres:
        with engine.connect() as connection:
            stamps = connection.execute(
                text(
                    "SELECT DISTINCT b.xmin::text FROM ballot b WHERE b.cycle_id = :cycle"
                    " UNION SELECT DISTINCT c.xmin::text FROM access_code c"
                    " JOIN district d ON d.id = c.district_id WHERE d.cycle_id = :cycle"
                ),
                {"cycle": cycle_id},
            ).all()
            assert len(stamps) == 1, stamps  # one stamp for all: nothing to join on
            # Nor does the physical order: ballots lie in receipt order, codes in id order.
            by_place = connection.execute(
                text("SELECT id FROM ballot WHERE cycle_id = :cycle ORDER BY ctid"),
                {"cycle": cycle_id},
            ).scalars()
            receipts = list(by_place)
            assert receipts == sorted(receipts)
            codes_by_place = connection.execute(
                text("SELECT id FROM access_code ORDER BY ctid")
            ).scalars()
            ids = list(codes_by_place)
            assert ids == sorted(ids)
