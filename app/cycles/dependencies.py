"""Load a cycle (or district) from the URL or answer 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.db import SessionDep
from app.cycles import service
from app.cycles.models import Cycle, District


def valid_cycle(cycle_id: int, session: SessionDep) -> Cycle:
    return service.get_cycle(session, cycle_id)


def valid_district(cycle_id: int, district_id: int, session: SessionDep) -> District:
    return service.get_district(session, cycle_id, district_id)


ValidCycle = Annotated[Cycle, Depends(valid_cycle)]
ValidDistrict = Annotated[District, Depends(valid_district)]
