"""Shared test fixtures. Domain fixtures live in tests/<domain>/conftest.py.

Stable fixtures (other helpers build on them):

- ``settings``: the test ``Settings`` (environment "test", real secrets, cheap Argon2id).
- ``db_url`` / ``db_engine``: a database migrated with ``alembic upgrade head``, parametrized
  over SQLite and PostgreSQL (ids ``sqlite`` and ``postgresql``).  PostgreSQL comes from
  ``PLAZA_TEST_POSTGRES_URL`` (the Makefile exports it); when it is missing or down the
  PostgreSQL variants FAIL with the reason (never skip).
- ``db_session``: a session inside an outer transaction that is rolled back after the test
  (SQLAlchemy "joining a session into an external transaction"; service commits become
  savepoint releases).  Tests that need real commits (concurrency) use ``db_engine`` and
  clean up after themselves.
- ``app`` / ``client``: the app with its request session bound to ``db_session``; the
  client adds the CSRF token to unsafe requests (form field for ``data=``, header
  otherwise) unless called with ``csrf=False``; redirects are not followed.
- ``login_as(role_or_user)``: create (or take) a user and log the client in as them.
- ``htmx``: parametrization "without HX-Request" / "with HX-Request" (headers dict).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest

# Settings for the whole test run, before anything reads them.
os.environ.update(
    {
        "PLAZA_ENVIRONMENT": "test",
        "PLAZA_SECRET_KEY": "test-secret-key-0123456789abcdef",
        "PLAZA_ACCESS_CODE_KEY": "test-access-code-key-0123456789",
        "PLAZA_VOTER_KEY": "test-voter-key-0123456789abcdef",
        "PLAZA_ARGON2_TIME_COST": "1",
        "PLAZA_ARGON2_MEMORY_COST_KIB": "8",
        "PLAZA_ARGON2_PARALLELISM": "1",
        "PLAZA_DATABASE_URL": "sqlite:///" + str(Path(tempfile.gettempdir()) / "plaza-unused.db"),
    }
)
os.environ.pop("PLAZA_COOKIE_SECURE", None)

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.core import migrations  # noqa: E402
from app.core.config import Settings, get_settings  # noqa: E402
from app.core.db import engine_for, get_session  # noqa: E402
from app.core.security import (  # noqa: E402
    CSRF_FIELD,
    SESSION_COOKIE,
    Role,
    User,
    start_session,
)

get_settings.cache_clear()

# Hypothesis: `make test` and CI draw the same examples on every run (derandomize), so a
# red build is the code's, reproducible from a clean clone, not a roll of the dice. To
# search wider: HYPOTHESIS_PROFILE=explore (fresh random examples on every run, failures
# kept in .hypothesis/ and printed with a blob to reproduce them).
hypothesis.settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis.settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder (pabulib files, test vectors)."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests need ../shared beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


def database_unavailable(reason: str) -> None:
    """Fail with the reason: a database test never skips (`make test` installs PostgreSQL)."""
    where = "CI=true" if IN_CI else "run `make test`, which installs and starts it"
    pytest.fail(f"PostgreSQL required ({where}): {reason}", pytrace=False)


def postgres_url() -> str:
    url = os.environ.get("PLAZA_TEST_POSTGRES_URL", "")
    if not url:
        database_unavailable("PLAZA_TEST_POSTGRES_URL is not set (run through `make test`)")
    return url


def reset_postgres(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'plaza-test.sqlite3'}"
    url = postgres_url()
    try:
        reset_postgres(engine_for(url))
    except Exception as exc:  # connection refused, auth failed, ...
        database_unavailable(f"cannot use {url.split('@')[-1]}: {type(exc).__name__}: {exc}")
    return url


@pytest.fixture(scope="session")
def db_engine(db_url: str) -> Engine:
    """An engine on a database built by ``alembic upgrade head``."""
    engine = engine_for(db_url)
    migrations.upgrade(engine)
    return engine


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    connection = db_engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


class PlazaClient(TestClient):
    """A test client that sends the CSRF token on unsafe requests (unless csrf=False)."""

    _csrf: tuple[str | None, str] | None = None

    def csrf_token(self) -> str:
        # The token is bound to the session cookie: fetch a new one when that changes.
        session_cookie = self.cookies.get(SESSION_COOKIE)
        if self._csrf is None or self._csrf[0] != session_cookie:
            response = self.get("/api/session")
            assert response.status_code == 200, response.text
            self._csrf = (session_cookie, str(response.json()["csrf_token"]))
        return self._csrf[1]

    def request(self, method: str, url: Any, *args: Any, csrf: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        if csrf and method.upper() in UNSAFE:
            token = self.csrf_token()
            data = kwargs.get("data")
            if isinstance(data, dict):
                if CSRF_FIELD not in data:
                    kwargs["data"] = {**data, CSRF_FIELD: token}
            else:
                headers = dict(kwargs.get("headers") or {})
                headers.setdefault("X-CSRF-Token", token)
                kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)

    def post(self, url: Any, *, csrf: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.request("POST", url, csrf=csrf, **kwargs)

    def put(self, url: Any, *, csrf: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.request("PUT", url, csrf=csrf, **kwargs)

    def patch(self, url: Any, *, csrf: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.request("PATCH", url, csrf=csrf, **kwargs)

    def delete(self, url: Any, *, csrf: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.request("DELETE", url, csrf=csrf, **kwargs)


@pytest.fixture
def app(db_session: Session, settings: Settings) -> FastAPI:
    from app.main import create_app

    application = create_app(settings)

    def session_for_test() -> Iterator[Session]:
        # What the test set up so far becomes durable (inside the outer transaction), so a
        # request that rolls back undoes only its own work, as in production.
        db_session.commit()
        try:
            yield db_session
        except BaseException:
            db_session.rollback()
            raise
        db_session.commit()

    application.dependency_overrides[get_session] = session_for_test
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[PlazaClient]:
    with PlazaClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def login_as(
    client: PlazaClient, db_session: Session, settings: Settings
) -> Callable[[Role | str | User], User]:
    """Log the client in: ``login_as("organizer")`` or ``login_as(existing_user)``."""
    from tests.factories import make_user

    def log_in(who: Role | str | User) -> User:
        user = who if isinstance(who, User) else make_user(db_session, role=Role(who))
        token = start_session(db_session, user=user, settings=settings)
        client.cookies.set(SESSION_COOKIE, token)
        return user

    return log_in


@pytest.fixture(params=[False, True], ids=["without HX-Request", "with HX-Request"])
def htmx(request: pytest.FixtureRequest) -> dict[str, str]:
    """Headers of a plain browser request, or of an htmx request."""
    return {"HX-Request": "true"} if request.param else {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many tests ran on each database (acceptance: both, none skipped in CI)."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") != "call" and outcome in ("passed", "failed"):
                continue
            for database in ("sqlite", "postgresql"):
                if (
                    f"[{database}" in nodeid
                    or f"-{database}-" in nodeid
                    or f"-{database}]" in nodeid
                ):
                    per = counts.setdefault(database, {})
                    per[outcome] = per.get(outcome, 0) + 1
    if counts:
        terminalreporter.section("databases")
        for database, per in sorted(counts.items()):
            summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(per.items()))
            terminalreporter.write_line(f"{database}: {summary}")
