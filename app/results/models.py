"""Published results: computed once by the tally when voting has closed, then only read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime


class DistrictResult(SQLModel, table=True):
    __tablename__ = "district_result"
    __table_args__ = (
        UniqueConstraint("district_id"),
        CheckConstraint("budget_used >= 0 AND budget_used <= budget", name="budget_used_fits"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    district_id: int = Field(foreign_key="district.id")
    rule: str = Field(max_length=40)
    rule_version: str = Field(max_length=40)
    tie_break: str = Field(max_length=40)
    budget: int = Field(sa_type=BigInteger)
    budget_used: int = Field(sa_type=BigInteger)
    ballot_count: int
    published_at: datetime = Field(sa_type=UTCDateTime)
    outcome_json: str = Field(sa_type=Text)


class ProjectResult(SQLModel, table=True):
    __tablename__ = "project_result"
    __table_args__ = (UniqueConstraint("district_result_id", "proposal_id"),)

    id: int | None = Field(default=None, primary_key=True)
    district_result_id: int = Field(foreign_key="district_result.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id")
    position: int
    title: str = Field(max_length=200)
    cost: int = Field(sa_type=BigInteger)
    votes: int
    funded: bool
    explanation: str = Field(sa_type=Text)
