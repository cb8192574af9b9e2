"""Engines, sessions and transactions.

- ``engine_for(url)``: one engine per database URL (cached).  SQLite: WAL, ``busy_timeout``,
  foreign keys on, and transactions begun by us (the driver's implicit BEGIN is off) so that
  write transactions can start with ``BEGIN IMMEDIATE`` (a read-then-write race otherwise
  duplicates rows).  PostgreSQL: a connection pool sized from the settings; connections
  that sat idle in the pool are pinged before use (``_ping_idle_connections``).
- ``SessionDep``: one ``Session`` per request, committed when the handler returns normally
  and rolled back when it raises (declared with ``scope="function"`` so the commit happens
  before the response is sent).  Requests with an unsafe method (POST, PUT, PATCH, DELETE)
  begin with ``BEGIN IMMEDIATE`` on SQLite.  Services ``flush()``, never ``commit()``.
- ``write_transaction(engine)``: the same, for code outside a request (CLI, demo, tests):
  ``with write_transaction(engine) as session: ...`` commits at the end or rolls back.
- ``begin_write(session)``: make a fresh session's transaction a write transaction.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import get_settings, request_settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (also on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Plaza stores UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.endswith(":memory:"):
        return None
    return Path(url[len(prefix) :].split("?", 1)[0])


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    """The engine for ``url`` (one per URL per process)."""
    settings = get_settings()
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        busy = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control away from the driver; we emit BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # FULL: in WAL mode NORMAL may lose the last commits on a power cut, and an
            # acknowledged ballot must never be lost.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            if mode not in ("DEFERRED", "IMMEDIATE"):
                raise ValueError(f"unknown SQLite begin mode {mode!r}")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    engine = create_engine(
        url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )
    _ping_idle_connections(engine)
    return engine


#: A pooled connection idle for longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling, for connections that sat idle in the pool.

    A connection that waited in the pool longer than ``PING_AFTER_IDLE_SECONDS`` (the
    database may have restarted meanwhile) is pinged at checkout; a dead one is replaced
    before the request sees it (``DisconnectionError`` makes the pool retry with a fresh
    connection).  ``pool_pre_ping`` would ping at every checkout: a round trip per request
    on a busy server, where connections come back to the pool milliseconds after use.
    """

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("connection found dead at checkout") from exc


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


def begin_write(session: Session) -> None:
    """Begin ``session``'s transaction as a write transaction (``BEGIN IMMEDIATE`` on SQLite).

    Call it before anything else uses the session; afterwards it is a no-op.
    """
    if session.in_transaction():
        return
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


@contextmanager
def write_transaction(engine: Engine | None = None) -> Iterator[Session]:
    """A session in one write transaction: committed at the end, rolled back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_session(engine: Engine | None = None) -> Iterator[Session]:
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        yield session


@lru_cache(maxsize=16)
def _write_bind(url: str) -> Engine:
    """``engine_for(url)`` whose transactions begin as write transactions (SQLite: IMMEDIATE)."""
    return engine_for(url).execution_options(sqlite_begin="IMMEDIATE")


#: threads that only end transactions (commit or roll back), apart from the shared pool (40
#: per process): a request whose transaction holds row locks must always be able to end it,
#: even when every thread of the pool is taken by requests waiting on those very locks (50
#: simultaneous attempts with one code, most on one worker, did exactly that: a deadlock
#: that lasted until the clients gave up). Ending a transaction never waits on a lock.
FINISH_THREADS = 8
_finishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _finish_limiter() -> anyio.CapacityLimiter:
    """This event loop's limiter for ``FINISH_THREADS`` (a limiter belongs to one loop)."""
    loop = asyncio.get_running_loop()
    limiter = _finishers.get(loop)
    if limiter is None:
        limiter = _finishers[loop] = anyio.CapacityLimiter(FINISH_THREADS)
    return limiter


async def _finish(end: Callable[[Session], None], session: Session) -> None:
    await anyio.to_thread.run_sync(end, session, limiter=_finish_limiter())


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session: commit on normal return, roll back on error.

    Async, and lazy: creating the session does no I/O (the connection is taken, and on SQLite
    ``BEGIN IMMEDIATE`` issued for unsafe methods, at its first statement), so a request costs
    no thread hop here; the commit or rollback at the end takes one, only when the session
    began a transaction (``commit_in_threadpool`` lets a handler commit in its own hop).
    """
    url = request_settings(request).database_url
    bind = engine_for(url) if request.method in SAFE_METHODS else _write_bind(url)
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
    except BaseException:
        await _finish(_rollback_and_close, session)
        raise
    if session.in_transaction():
        await _finish(_commit_and_close, session)
    else:
        session.close()


async def commit_in_threadpool(session: Session, fn: Callable[[], T]) -> T:
    """Run ``fn()`` and then commit ``session``, both in one threadpool hop.

    For a hot async handler: the request's transaction commits as ``SessionDep`` would commit
    it (before the response is sent), without a second hop.  If ``fn`` raises, nothing is
    committed and ``SessionDep`` rolls back.
    """

    def run() -> T:
        result = fn()
        session.commit()
        return result

    return await run_in_threadpool(run)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _wrapped(connection: Connection, exc: Exception, sql: str, values: Any) -> Exception:
    """A driver error as SQLAlchemy raises it (``OperationalError``, ``IntegrityError``...),
    so the app's error handlers treat it alike; a lost connection is invalidated (dropped
    from the pool), as SQLAlchemy does."""
    dialect = connection.dialect
    if not isinstance(exc, dialect.loaded_dbapi.Error):
        return exc
    lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
    if lost:
        connection.invalidate(exc)
    return DBAPIError.instance(
        sql,
        values,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )


class DriverStatement:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor.

    For the few statements of the hottest path (casting a ballot): the statement is written
    once, with SQLAlchemy, for every dialect, but each call skips SQLAlchemy's per-call work
    (execution context, result objects, events: about half of the CPU a small statement
    costs in the app).  Only for statements whose parameters and results need no type
    conversion (integers, strings, booleans; SQLite returns booleans as 0 or 1).  Driver
    errors are raised as SQLAlchemy's exceptions, as for any other statement.  Run it
    inside the session's transaction: ``rows(session.connection(), params)`` or ``count``.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_dialect: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _compiled(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            positions = tuple(compiled.positiontup or ()) if compiled.positional else None
            # The values bound at construction (literals in the statement); the others are
            # None here and come with each call.
            found = (compiled.string, positions, dict(compiled.params))
            self._by_dialect[dialect.name] = found
        return found

    def _run(self, connection: Connection, params: dict[str, Any]) -> Any:
        sql, positions, constants = self._compiled(connection.dialect)
        values = {**constants, **params}
        cursor = connection.connection.cursor()
        try:
            if positions is None:
                cursor.execute(sql, values)
            else:
                cursor.execute(sql, tuple(values[name] for name in positions))
        except Exception as exc:
            cursor.close()
            raise _wrapped(connection, exc, sql, values) from exc
        return cursor

    def rows(self, connection: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run with ``params`` (names as in the statement); the rows, as tuples."""
        cursor = self._run(connection, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def count(self, connection: Connection, params: dict[str, Any]) -> int:
        """Run with ``params``; the number of rows it changed."""
        cursor = self._run(connection, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()
