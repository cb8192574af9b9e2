"""Rate limits shared by every worker: failure counts per bucket in the database.

A bucket is a string such as ``"code:<keyed hash of the client address>"``; each holds the
number of counted events in the current fixed window.  ``check`` refuses a bucket that has
reached its limit; ``record`` counts one event with an atomic upsert (SQLite and PostgreSQL),
so several app processes behind a load balancer share the count.  Callers that refuse a
request must still commit the count (record it, then return the refusal rather than raise,
or record after rolling back to a savepoint).

Buckets do not pile up: whenever ``record`` opens a new window for a bucket it also deletes a
bounded batch of buckets whose window ended over a day ago (``purge_expired``). On PostgreSQL
the batch skips rows other transactions hold, so concurrent purges never wait on each other.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import CheckConstraint, Index, bindparam, case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel


class RateLimitBucket(SQLModel, table=True):
    """Counted events (failed attempts, sign-ups) of one bucket in a fixed time window.

    Lives in the database so that every worker process sees the same count.
    """

    __tablename__ = "rate_limit_bucket"
    __table_args__ = (
        CheckConstraint("failures >= 0", name="failures_non_negative"),
        Index("ix_rate_limit_bucket_window_start", "window_start"),
    )

    bucket: str = Field(primary_key=True, max_length=80)
    window_start: int
    failures: int = Field(default=0)


def bucket_for(kind: str, value: str, key: bytes) -> str:
    """``kind:`` and a keyed hash of ``value`` (a client address, an e-mail): no raw data."""
    digest = hmac.new(key, f"plaza-{kind}:".encode() + value.encode("utf-8"), hashlib.sha256)
    return f"{kind}:" + digest.hexdigest()[: 78 - len(kind)]


_COUNT = select(RateLimitBucket.window_start, RateLimitBucket.failures).where(  # type: ignore[call-overload]
    RateLimitBucket.bucket == bindparam("bucket")
)


def is_limited(session: Session, *, bucket: str, now: int, limit: int, window: int) -> bool:
    """Whether ``bucket`` has counted ``limit`` events in the current window."""
    start = now - now % window
    row = session.connection().execute(_COUNT, {"bucket": bucket}).first()
    return row is not None and row.window_start == start and row.failures >= limit


#: a bucket whose window started this long ago is over (the longest window is an hour)
PURGE_AFTER_SECONDS = 86_400
PURGE_BATCH = 500


def purge_expired(session: Session, *, now: int) -> int:
    """Delete up to ``PURGE_BATCH`` buckets whose window is long over; returns how many."""
    table = RateLimitBucket.__table__  # type: ignore[attr-defined]
    victims = (
        select(table.c.bucket)
        .where(table.c.window_start < now - PURGE_AFTER_SECONDS)
        .limit(PURGE_BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        victims = victims.with_for_update(skip_locked=True)
    result = session.execute(delete(table).where(table.c.bucket.in_(victims)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def record(session: Session, *, bucket: str, now: int, window: int) -> int:
    """Count one event in ``bucket`` (atomic upsert shared by every worker); returns the count.

    The first event of a window also purges a batch of long-expired buckets.
    """
    start = now - now % window
    table = RateLimitBucket.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(table)
        .values(bucket=bucket, window_start=start, failures=1)
        .on_conflict_do_update(
            index_elements=["bucket"],
            set_={
                "failures": case((table.c.window_start == start, table.c.failures + 1), else_=1),
                "window_start": start,
            },
        )
        .returning(table.c.failures)
    )
    count = int(session.execute(stmt).scalar_one())
    if count == 1:
        purge_expired(session, now=now)
    return count
