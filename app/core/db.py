"""Engines, sessions and transactions.

- ``engine_for(url)``: one engine per database URL (cached).  SQLite: WAL, ``busy_timeout``,
  foreign keys on, and transactions begun by us (the driver's implicit BEGIN is off) so that
  write transactions can start with ``BEGIN IMMEDIATE`` (a read-then-write race otherwise
  duplicates rows).  PostgreSQL: a connection pool sized from the settings.
- ``SessionDep``: one ``Session`` per request, committed when the handler returns normally
  and rolled back when it raises (declared with ``scope="function"`` so the commit happens
  before the response is sent).  Requests with an unsafe method (POST, PUT, PATCH, DELETE)
  begin with ``BEGIN IMMEDIATE`` on SQLite.  Services ``flush()``, never ``commit()``.
- ``write_transaction(engine)``: the same, for code outside a request (CLI, demo, tests):
  ``with write_transaction(engine) as session: ...`` commits at the end or rolls back.
- ``begin_write(session)``: make a fresh session's transaction a write transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Session

from app.core.config import SettingsDep, get_settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
    )


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


def get_session(request: Request, settings: SettingsDep) -> Iterator[Session]:
    """The request's session: commit on normal return, roll back on error."""
    with Session(engine_for(settings.database_url), expire_on_commit=False) as session:
        if request.method not in SAFE_METHODS:
            begin_write(session)
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
