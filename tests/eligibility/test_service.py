"""Eligibility services on SQLite and PostgreSQL: issuing codes, finding them, rate limits."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlmodel import Session

from app.cycles.models import Phase
from app.eligibility import service
from app.eligibility.codes import code_hash, format_code
from app.eligibility.models import AccessCode
from tests.factories import districts_of, make_cycle

KEY = b"test-access-code-key-0123456789"


def test_codes_are_stored_only_as_hmac(db_session: Session) -> None:
    cycle = make_cycle(db_session, phase=Phase.voting)
    district = districts_of(db_session, cycle)[0]
    batch, codes = service.issue_access_codes(
        db_session, district_id=district.id or 0, count=25, key=KEY
    )
    assert batch.size == 25 and len(set(codes)) == 25
    stored = (
        db_session.execute(select(AccessCode).where(AccessCode.batch_id == batch.id))
        .scalars()
        .all()
    )  # type: ignore[arg-type]
    assert sorted(s.code_hash for s in stored) == sorted(code_hash(KEY, c) for c in codes)
    columns = {c["name"] for c in inspect(db_session.connection()).get_columns("access_code")}
    assert columns == {"id", "batch_id", "district_id", "code_hash", "used"}
    for row in stored:
        assert all(c not in row.code_hash for c in codes)
    assert service.code_counts(db_session, district_id=district.id or 0) == (25, 0)


@pytest.mark.parametrize("count", [0, -1, service.MAX_BATCH + 1])
def test_batch_size_is_bounded(db_session: Session, count: int) -> None:
    cycle = make_cycle(db_session)
    district = districts_of(db_session, cycle)[0]
    with pytest.raises(service.BatchSizeError):
        service.issue_access_codes(db_session, district_id=district.id or 0, count=count, key=KEY)


def test_find_refuses_typos_unknown_and_used_codes(db_session: Session) -> None:
    cycle = make_cycle(db_session, phase=Phase.voting)
    district = districts_of(db_session, cycle)[0]
    _batch, codes = service.issue_access_codes(
        db_session, district_id=district.id or 0, count=2, key=KEY
    )
    found = service.find_access_code(db_session, text=format_code(codes[0]).lower(), key=KEY)
    assert found.district_id == district.id
    typo = codes[0][:3] + ("A" if codes[0][3] != "A" else "B") + codes[0][4:]
    with pytest.raises(service.AccessCodeFormatError):
        service.find_access_code(db_session, text=typo, key=KEY)
    with pytest.raises(service.AccessCodeUnknownError):
        service.find_access_code(db_session, text=codes[1], key=b"another key")
    service.use_access_code(db_session, code_id=found.id or 0)
    with pytest.raises(service.AccessCodeUsedError):
        service.use_access_code(db_session, code_id=found.id or 0)
    db_session.expire_all()
    with pytest.raises(service.AccessCodeUsedError):
        service.find_access_code(db_session, text=codes[0], key=KEY)


def test_failed_attempts_are_limited_per_client_and_window(db_session: Session) -> None:
    bucket = service.client_bucket(client="203.0.113.9", key=KEY)
    other = service.client_bucket(client="203.0.113.10", key=KEY)
    assert "203.0.113.9" not in bucket
    now = 1_800_000_000 - 1_800_000_000 % 600
    for n in range(1, 4):
        service.check_attempts(db_session, bucket=bucket, now=now, limit=3)
        assert service.record_failed_attempt(db_session, bucket=bucket, now=now + n) == n
    db_session.expire_all()
    with pytest.raises(service.TooManyAttemptsError):
        service.check_attempts(db_session, bucket=bucket, now=now + 10, limit=3)
    service.check_attempts(db_session, bucket=other, now=now + 10, limit=3)
    # A new window starts from zero.
    later = now + service.FAILURE_WINDOW_SECONDS
    db_session.expire_all()
    service.check_attempts(db_session, bucket=bucket, now=later, limit=3)
    assert service.record_failed_attempt(db_session, bucket=bucket, now=later) == 1
