"""Eligibility verbs: issue access codes, find and use a code, count failed attempts per client.

Services flush and never commit; the request (or CLI) transaction commits once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, case, func, select, update
from sqlmodel import Session

from app.core import ratelimit
from app.core.db import DriverStatement, utcnow
from app.core.errors import DomainError
from app.core.i18n import _
from app.eligibility.codes import (
    CodeFormatError,
    client_hash,
    code_hash,
    generate_code,
    normalize_code,
)
from app.eligibility.models import AccessCode, AccessCodeBatch

MAX_BATCH = 10_000
FAILURE_LIMIT = 10
FAILURE_WINDOW_SECONDS = 600


class AccessCodeError(DomainError):
    """Base of the errors a voter can get for the code they typed."""


class AccessCodeFormatError(AccessCodeError):
    code = "access-code-typo"

    def __init__(self, reason: str) -> None:
        messages = {
            "empty": _("Please enter the access code printed on your letter."),
            "bad_symbol": _("An access code has only digits and letters (no I, L, O or U)."),
            "bad_length": _("An access code has 24 characters in six groups of four."),
            "typo": _("This code has a typing mistake: please check each group again."),
        }
        super().__init__(messages.get(reason, messages["typo"]))
        self.reason = reason


class AccessCodeUnknownError(AccessCodeError):
    code = "access-code-unknown"

    def __init__(self) -> None:
        super().__init__(_("This access code is not valid. Please check it and try again."))


class AccessCodeUsedError(AccessCodeError):
    code = "access-code-used"

    def __init__(self) -> None:
        super().__init__(_("This access code has already been used to vote; each code works once."))


class TooManyAttemptsError(AccessCodeError):
    status_code = 429
    code = "too-many-attempts"

    def __init__(self) -> None:
        super().__init__(_("Too many wrong codes from this connection. Please wait a few minutes."))


class BatchSizeError(DomainError):
    def __init__(self) -> None:
        super().__init__(_("A batch holds between 1 and %(max)d codes.") % {"max": MAX_BATCH})


def issue_access_codes(
    session: Session,
    *,
    district_id: int,
    count: int,
    key: bytes,
    now: datetime | None = None,
    given: list[str] | None = None,
) -> tuple[AccessCodeBatch, list[str]]:
    """Create ``count`` fresh codes for a district; return them in canonical form.

    This is the only time the codes exist in clear: the caller shows them once (and as CSV).
    ``given``: use these canonical codes instead of random ones (the demo's known codes).
    """
    if not 1 <= count <= MAX_BATCH:
        raise BatchSizeError()
    batch = AccessCodeBatch(district_id=district_id, size=count, created_at=now or utcnow())
    session.add(batch)
    session.flush()
    assert batch.id is not None
    codes: list[str] = []
    seen: set[str] = set(given or [])
    if given is not None:
        codes = list(dict.fromkeys(given))[:count]
    while len(codes) < count:
        code = generate_code()
        if code not in seen:
            seen.add(code)
            codes.append(code)
    session.execute(
        AccessCode.__table__.insert(),  # type: ignore[attr-defined]
        [
            {"batch_id": batch.id, "district_id": district_id, "code_hash": code_hash(key, c)}
            for c in codes
        ],
    )
    session.flush()
    return batch, codes


def canonical_code(text: str) -> str:
    """What a voter typed, in canonical form; refuses typos (``AccessCodeFormatError``)."""
    try:
        return normalize_code(text)
    except CodeFormatError as exc:
        raise AccessCodeFormatError(exc.reason) from exc


def find_access_code(session: Session, *, text: str, key: bytes) -> AccessCode:
    """The stored code matching what a voter typed; refuses typos, unknown and used codes."""
    canonical = canonical_code(text)
    found: AccessCode | None = session.execute(
        select(AccessCode).where(AccessCode.code_hash == code_hash(key, canonical))  # type: ignore[arg-type]
    ).scalar_one_or_none()
    if found is None:
        raise AccessCodeUnknownError()
    if found.used:
        raise AccessCodeUsedError()
    return found


_USE_CODE = (
    update(AccessCode)
    .where(AccessCode.id == bindparam("code_id"), AccessCode.used == False)  # type: ignore[arg-type]  # noqa: E712
    .values(used=True)
)


_USE_CODE_RUN = DriverStatement(_USE_CODE)


def use_access_code(session: Session, *, code_id: int) -> None:
    """Mark a code used, atomically: a conditional UPDATE that only one transaction can win."""
    if _USE_CODE_RUN.count(session.connection(), {"code_id": code_id}) != 1:
        raise AccessCodeUsedError()


def code_is_used(session: Session, *, canonical: str, key: bytes) -> bool | None:
    """Whether a known code was used (None when it is not stored)."""
    used: bool | None = session.execute(
        select(AccessCode.used).where(AccessCode.code_hash == code_hash(key, canonical))  # type: ignore[call-overload]
    ).scalar_one_or_none()
    return used


def code_counts(session: Session, *, district_id: int) -> tuple[int, int]:
    """(issued, used) codes of a district."""
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(case((AccessCode.used, 1), else_=0)), 0))  # type: ignore[arg-type]
        .select_from(AccessCode)
        .where(AccessCode.district_id == district_id)  # type: ignore[arg-type]
    ).one()
    return int(row[0]), int(row[1])


def client_bucket(*, client: str, key: bytes) -> str:
    return "code:" + client_hash(key, client)[:64]


def check_attempts(
    session: Session,
    *,
    bucket: str,
    now: int,
    limit: int = FAILURE_LIMIT,
    window: int = FAILURE_WINDOW_SECONDS,
) -> None:
    """Refuse a client that made ``limit`` failed attempts in the current window."""
    if ratelimit.is_limited(session, bucket=bucket, now=now, limit=limit, window=window):
        raise TooManyAttemptsError()


def attempts_params(bucket: str | None, *, now: int) -> dict[str, object]:
    """Parameters of ``ratelimit.FAILURES_IN_WINDOW`` for a client's bucket (None: no client)."""
    return {"bucket": bucket, "window_start": ratelimit.window_start(now, FAILURE_WINDOW_SECONDS)}


def refuse_over_limit(failures: int | None, *, limit: int = FAILURE_LIMIT) -> None:
    """Refuse a client whose counted failures (read in passing) reached the limit."""
    if failures is not None and failures >= limit:
        raise TooManyAttemptsError()


def record_failed_attempt(
    session: Session, *, bucket: str, now: int, window: int = FAILURE_WINDOW_SECONDS
) -> int:
    """Count one failed attempt (atomic upsert, shared by every worker); returns the count."""
    return ratelimit.record(session, bucket=bucket, now=now, window=window)
