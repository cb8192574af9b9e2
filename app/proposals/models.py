"""Proposals: submitted by residents, reviewed by organizers; accepted ones are ballot projects."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    Text,
)
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow


class ProposalStatus(StrEnum):
    submitted = "submitted"  # waiting for review (editable by its author during intake)
    accepted = "accepted"  # on the ballot, at final_cost_minor
    rejected = "rejected"  # with a public reason


class Proposal(SQLModel, table=True):
    __tablename__ = "proposal"
    __table_args__ = (
        ForeignKeyConstraint(
            ["cycle_id", "district_id"],
            ["district.cycle_id", "district.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("status IN ('submitted', 'accepted', 'rejected')", name="status_known"),
        CheckConstraint("estimated_cost_minor >= 0", name="estimated_cost_non_negative"),
        CheckConstraint(
            "final_cost_minor IS NULL OR final_cost_minor > 0", name="final_cost_positive"
        ),
        CheckConstraint(
            "status <> 'accepted' OR final_cost_minor IS NOT NULL", name="accepted_has_cost"
        ),
        CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejected_has_reason"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("cycle.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    district_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    author_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="SET NULL"), index=True),
    )
    title: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    estimated_cost_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    final_cost_minor: int | None = Field(default=None, sa_column=Column(BigInteger))
    status: str = Field(default=ProposalStatus.submitted.value, max_length=20)
    rejection_reason: str | None = Field(default=None, sa_column=Column(Text))
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="SET NULL")),
    )
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
