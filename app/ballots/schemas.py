"""API shapes of the ballots domain.

Request integers are ``StrictInt``: only JSON integers, never ``true``, ``"4"`` or ``4.0``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt


class BallotOpen(BaseModel):
    code: str = Field(max_length=100, description="The access code as printed (dashes optional).")


class ProjectOnBallot(BaseModel):
    id: int
    title: str
    cost_minor: int


class BallotSheetRead(BaseModel):
    cycle_id: int
    district_id: int
    district: str
    currency: str
    budget_minor: int
    min_choices: int
    max_choices: int | None
    projects: list[ProjectOnBallot]


class BallotCast(BaseModel):
    code: str = Field(max_length=100)
    projects: list[StrictInt] = Field(max_length=1000)


class BallotReceipt(BaseModel):
    receipt: str = Field(description="Random id of the stored ballot; it says nothing of the code.")
    district_id: int
    total_cost_minor: int
