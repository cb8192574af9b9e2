"""Tables of the eligibility domain: access-code batches and access codes (rate-limit buckets
live in ``app.core.ratelimit``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.ratelimit import RateLimitBucket as RateLimitBucket  # moved to app.core


class AccessCodeBatch(SQLModel, table=True):
    """A batch of codes generated at once for one district (codes are shown only then)."""

    __tablename__ = "access_code_batch"
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    size: int
    created_at: datetime = Field(sa_type=UTCDateTime)


class AccessCode(SQLModel, table=True):
    """One single-use code, stored only as HMAC-SHA256 under the dedicated key.

    ``used`` is a flag and nothing else: no time, no ballot reference, so a used code cannot be
    joined to the ballot it gave.
    """

    __tablename__ = "access_code"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="access_code_batch.id", index=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    used: bool = Field(default=False)
