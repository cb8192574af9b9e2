"""API shapes of the eligibility domain.

Request integers are ``StrictInt``: only JSON integers, never ``true``, ``"4"`` or ``4.0``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt

from app.eligibility.service import MAX_BATCH


class AccessCodeBatchCreate(BaseModel):
    count: StrictInt = Field(ge=1, le=MAX_BATCH)


class AccessCodeBatchRead(BaseModel):
    batch_id: int
    district_id: int
    codes: list[str] = Field(description="Printed form; shown this once, never stored in clear.")


class DistrictCodesRead(BaseModel):
    district_id: int
    name: str
    issued: int
    used: int
