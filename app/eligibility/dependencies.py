"""Loaders for eligibility routes: the cycle / district from the URL, or 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.config import request_settings
from app.core.db import SessionDep
from app.core.errors import NotFoundError
from app.cycles.models import Cycle, District
from app.eligibility.service import client_bucket


def valid_cycle(cycle_id: int, session: SessionDep) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFoundError()
    return cycle


def valid_district(cycle_id: int, district_id: int, session: SessionDep) -> District:
    district = session.get(District, district_id)
    if district is None or district.cycle_id != cycle_id:
        raise NotFoundError()
    return district


def code_key_of(request: Request) -> bytes:
    """The dedicated HMAC key of access codes."""
    return request_settings(request).access_code_key.get_secret_value().encode()


def client_bucket_of(request: Request) -> str:
    """The client's rate-limit bucket: a keyed hash of its address (proxy headers applied
    by uvicorn's ``--proxy-headers`` when behind a load balancer)."""
    host = request.client.host if request.client else "unknown"
    return client_bucket(client=host, key=code_key_of(request))


async def access_code_key(request: Request) -> bytes:
    """``code_key_of`` as a dependency (async: no thread hop for a pure function)."""
    return code_key_of(request)


async def rate_limit_bucket(request: Request) -> str:
    """``client_bucket_of`` as a dependency."""
    return client_bucket_of(request)


CycleFromPath = Annotated[Cycle, Depends(valid_cycle)]
DistrictFromPath = Annotated[District, Depends(valid_district)]
AccessCodeKey = Annotated[bytes, Depends(access_code_key)]
ClientBucket = Annotated[str, Depends(rate_limit_bucket)]
