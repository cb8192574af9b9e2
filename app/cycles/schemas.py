"""Cycle shapes for forms and the JSON API (non-table models).

Request integers are ``StrictInt``: only JSON integers, never ``true``, ``"4"`` or ``4.0``.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, StrictInt


class DistrictIn(BaseModel):
    name: str = Field(max_length=100)
    budget_minor: StrictInt = Field(ge=0, le=10**15, description="Budget in minor units (cents)")


class CycleCreate(BaseModel):
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=10_000)
    currency: str = Field(min_length=3, max_length=3)
    districts: list[DistrictIn] = Field(min_length=1, max_length=100)
    planned_starts: dict[str, date] = Field(
        default_factory=dict, description="Planned start per phase (intake..implementation)"
    )


class CycleUpdate(BaseModel):
    """A partial update (PATCH): only the fields sent change (``model_fields_set``), and
    ``planned_starts`` changes only the phases it names."""

    # default_factory, not default: an omitted field is left unchanged, not emptied, so the
    # OpenAPI schema must show no default.
    title: str = Field(default_factory=str, max_length=200, description="Omitted: unchanged")
    description: str = Field(
        default_factory=str, max_length=10_000, description="Omitted: unchanged"
    )
    planned_starts: dict[str, date | None] | None = Field(
        default=None,
        description="Planned start per phase (intake..implementation): a phase sent with null "
        "loses its date, a phase omitted keeps it; omitted or null: plan unchanged",
    )


class VotingRules(BaseModel):
    ballot_kind: str = Field(default="approval", max_length=20)
    min_choices: StrictInt = Field(default=0, ge=0, le=10_000)
    max_choices: StrictInt | None = Field(default=None, ge=1, le=10_000)
    tally_rule: str = Field(default="greedy", max_length=40)
    tie_break: str = Field(default="default", max_length=40)


class PhaseMove(BaseModel):
    phase: str = Field(max_length=20)


class DistrictRead(BaseModel):
    id: int
    name: str
    budget_minor: int


class PhaseRead(BaseModel):
    phase: str
    planned_start: date | None
    started_at: datetime | None


class CycleRead(BaseModel):
    id: int
    title: str
    description: str
    currency: str
    phase: str
    ballot_kind: str
    min_choices: int
    max_choices: int | None
    tally_rule: str
    tie_break: str
    tie_break_seed_commitment: str | None = None
    rules_frozen_at: datetime | None
    districts: list[DistrictRead]
    phase_plan: list[PhaseRead]
