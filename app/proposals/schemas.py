"""Proposal shapes for the JSON API (non-table models).

Request integers are ``StrictInt``: only JSON integers, never ``true``, ``"4"`` or ``4.0``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictInt


class ProposalCreate(BaseModel):
    district_id: StrictInt
    title: str = Field(max_length=200)
    description: str = Field(max_length=5000)
    estimated_cost_minor: StrictInt = Field(ge=0, le=10**15, description="In minor units (cents)")


class ProposalUpdate(ProposalCreate):
    pass


class ProposalReview(BaseModel):
    decision: Literal["accept", "reject"]
    final_cost_minor: StrictInt | None = Field(default=None, ge=0, le=10**15)
    reason: str = Field(default="", max_length=2000)


class PhaseMoveIn(BaseModel):
    phase: str = Field(max_length=20)


class ProposalRead(BaseModel):
    """A proposal as anyone may see it: no author, no personal data."""

    id: int
    cycle_id: int
    district_id: int
    title: str
    description: str
    estimated_cost_minor: int
    final_cost_minor: int | None
    status: str
    rejection_reason: str | None
    created_at: datetime
    reviewed_at: datetime | None


class BallotProject(BaseModel):
    id: int
    district_id: int
    title: str
    description: str
    cost_minor: int
