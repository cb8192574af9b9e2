from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from app.core.db import begin_write, engine_for, utcnow, write_transaction
from app.core.security import UserSession
from tests.factories import make_user


def test_sqlite_write_transactions_begin_immediate(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    with write_transaction(engine) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert statements[0] == "BEGIN IMMEDIATE"
    assert "BEGIN DEFERRED" in statements
    with engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        fks = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    assert (mode, fks) == ("wal", 1)
    assert timeout and timeout > 0


def test_write_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'r.db'}")
    with write_transaction(engine) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    with pytest.raises(RuntimeError), write_transaction(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("boom")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_begin_write_is_a_no_op_inside_a_transaction(db_session) -> None:  # type: ignore[no-untyped-def]
    db_session.execute(text("SELECT 1"))
    begin_write(db_session)  # must not raise


def test_times_round_trip_as_aware_utc(db_session, db_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db_session)
    moment = datetime(2030, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    db_session.add(UserSession(id="x" * 64, user_id=user.id, expires_at=moment))
    db_session.flush()
    db_session.expire_all()
    row = db_session.get(UserSession, "x" * 64)
    assert row.expires_at == moment
    assert row.expires_at.tzinfo is not None
    assert row.expires_at.utcoffset() == timedelta(0)
    assert utcnow().tzinfo is UTC


def test_naive_datetimes_are_refused(db_session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db_session)
    db_session.add(UserSession(id="y" * 64, user_id=user.id, expires_at=datetime(2030, 1, 1)))
    with pytest.raises(Exception, match="naive"):
        db_session.flush()
    db_session.rollback()


def test_a_connection_that_died_while_idle_in_the_pool_is_replaced() -> None:
    """PostgreSQL: pooled connections are pinged only after sitting idle (not at every
    checkout), and a dead one is replaced before anyone uses it: no error for the caller."""
    from app.core import db
    from tests.conftest import postgres_url

    url = postgres_url()
    separator = "&" if "?" in url else "?"
    engine = engine_for(f"{url}{separator}application_name=plaza_ping_test")
    other = engine_for(f"{url}{separator}application_name=plaza_ping_killer")
    try:
        with engine.connect() as connection:
            first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as connection:  # back at once: the same connection, no ping
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
        with other.connect() as killer:
            assert killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            killer.commit()
        time.sleep(db.PING_AFTER_IDLE_SECONDS + 0.2)
        with engine.connect() as connection:
            second = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()
        other.dispose()


def test_driver_statements_bind_by_name_on_both_databases(db_session) -> None:  # type: ignore[no-untyped-def]
    """``DriverStatement``: written once with SQLAlchemy, run on the DBAPI cursor; the
    parameters arrive by name (SQLite's are positional underneath), literals included."""
    from sqlalchemy import bindparam, literal, select, update

    from app.core.db import DriverStatement
    from app.core.security import User

    user = make_user(db_session)
    pick = DriverStatement(
        select(User.id, User.email, literal("constant").label("c")).where(  # type: ignore[call-overload]
            User.email == bindparam("email"), User.id == bindparam("user_id")
        )
    )
    rename = DriverStatement(
        update(User).where(User.id == bindparam("user_id")).values(display_name=bindparam("name"))  # type: ignore[arg-type]
    )
    connection = db_session.connection()
    # Given in the other order than the statement's: binding is by name.
    assert pick.rows(connection, {"user_id": user.id, "email": user.email}) == [
        (user.id, user.email, "constant")
    ]
    assert pick.rows(connection, {"user_id": user.id, "email": "nobody@example.org"}) == []
    assert rename.count(connection, {"name": "Renamed", "user_id": user.id}) == 1
    assert rename.count(connection, {"name": "Renamed", "user_id": -1}) == 0
    db_session.expire_all()
    assert db_session.get(User, user.id).display_name == "Renamed"
    # A driver error comes as SQLAlchemy's exception (the app's error handlers know those).
    from sqlalchemy.exc import IntegrityError

    clash = DriverStatement(update(User).where(User.id == bindparam("user_id")).values(id=-5))  # type: ignore[arg-type]
    other = make_user(db_session)
    clash.count(connection, {"user_id": user.id})
    with pytest.raises(IntegrityError):
        clash.count(connection, {"user_id": other.id})


def test_a_request_ends_its_transaction_even_when_every_pool_thread_is_taken(
    tmp_path: Path,
) -> None:
    """``get_session`` commits (and rolls back) on threads of its own: a request whose
    transaction holds locks must be able to end it even when every thread of the shared pool
    is taken, as by requests waiting on those locks (with the pool's threads, 50
    simultaneous attempts with one code deadlocked a worker). Here the pool has one thread
    and something holds it; the commit must still happen."""
    import threading
    from types import SimpleNamespace

    import anyio
    import anyio.to_thread
    from starlette.requests import Request

    from app.core.config import Settings
    from app.core.db import get_session

    url = f"sqlite:///{tmp_path / 'finish.db'}"
    with engine_for(url).begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    settings = Settings(environment="development", database_url=url)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    request = Request({"type": "http", "method": "POST", "app": app, "headers": []})
    gate = threading.Event()

    async def scenario() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, gate.wait)  # the pool's one thread
            await anyio.sleep(0.05)
            try:
                with anyio.fail_after(10):
                    sessions = get_session(request)
                    session = await sessions.__anext__()
                    session.execute(text("INSERT INTO t VALUES (1)"))
                    with pytest.raises(StopAsyncIteration):
                        await sessions.__anext__()  # the request ends: commit
            finally:
                gate.set()

    anyio.run(scenario)
    with engine_for(url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
