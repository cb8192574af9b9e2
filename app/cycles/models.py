"""Tables of a PB cycle: the cycle (phase and voting rules), its districts and phase plan."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow


class Phase(StrEnum):
    draft = "draft"
    intake = "intake"
    review = "review"
    voting = "voting"
    tallying = "tallying"
    results = "results"
    implementation = "implementation"


PHASES: tuple[Phase, ...] = tuple(Phase)
PLANNED_PHASES: tuple[Phase, ...] = PHASES[1:]  # the phase plan: intake .. implementation
_PHASE_SQL = ", ".join(f"'{p.value}'" for p in PHASES)


class Cycle(SQLModel, table=True):
    __tablename__ = "cycle"
    __table_args__ = (
        CheckConstraint(f"phase IN ({_PHASE_SQL})", name="phase_known"),
        CheckConstraint("min_choices >= 0", name="min_choices_non_negative"),
        CheckConstraint(
            "max_choices IS NULL OR max_choices >= min_choices", name="max_choices_consistent"
        ),
        CheckConstraint("length(currency) = 3", name="currency_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    currency: str = Field(max_length=3)
    phase: str = Field(default=Phase.draft.value, max_length=20)
    # Voting rules: frozen (rules_frozen_at set) when voting opens.
    ballot_kind: str = Field(default="approval", max_length=20)
    min_choices: int = Field(default=0)
    max_choices: int | None = Field(default=None)
    tally_rule: str = Field(default="greedy", max_length=40)
    tie_break: str = Field(default="default", max_length=40)
    rules_frozen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Tie-break lot seed (hex), drawn with ``secrets`` when voting opens; revealed with results.
    tie_break_seed: str | None = Field(default=None, max_length=64)
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="SET NULL")),
    )
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class District(SQLModel, table=True):
    __tablename__ = "district"
    __table_args__ = (
        UniqueConstraint("cycle_id", "name"),
        UniqueConstraint("cycle_id", "id"),  # target of proposal's (cycle_id, district_id)
        CheckConstraint("budget_minor >= 0", name="budget_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("cycle.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    name: str = Field(max_length=100)
    budget_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    position: int = Field(default=0)


class CyclePhase(SQLModel, table=True):
    """The phase plan: when each phase is planned to start, and when it did."""

    __tablename__ = "cycle_phase"
    __table_args__ = (CheckConstraint(f"phase IN ({_PHASE_SQL})", name="phase_known"),)

    cycle_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("cycle.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    phase: str = Field(primary_key=True, max_length=20)
    planned_start: date | None = Field(default=None)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PhaseChange(SQLModel, table=True):
    """Every phase move, for the audit trail (who: a staff account, never a resident)."""

    __tablename__ = "phase_change"
    __table_args__ = (CheckConstraint(f"to_phase IN ({_PHASE_SQL})", name="to_phase_known"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("cycle.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    from_phase: str = Field(max_length=20)
    to_phase: str = Field(max_length=20)
    actor_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="SET NULL")),
    )
    at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
