"""API shapes of published results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ProjectResultRead(BaseModel):
    proposal_id: int
    title: str
    cost_minor: int
    votes: int
    funded: bool
    explanation: str


class DistrictResultRead(BaseModel):
    district_id: int
    district: str
    budget_minor: int
    budget_used_minor: int
    ballots: int
    rule: str
    rule_version: str
    tie_break: str
    published_at: datetime
    projects: list[ProjectResultRead]
    outcome: dict[str, Any]


class CycleResultsRead(BaseModel):
    cycle_id: int
    currency: str
    districts: list[DistrictResultRead]
