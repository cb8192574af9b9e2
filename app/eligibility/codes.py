"""Access codes: generation, a readable printed form, typo detection and keyed lookup hashes.

A code is 22 random Crockford base32 symbols (110 bits from ``secrets``) followed by two check
symbols, printed in six groups of four: ``7K2M-XQ4R-...-9F3D``.  Crockford's alphabet has no
I, L, O or U, and reading accepts the usual confusions (``I``/``L`` as 1, ``O`` as 0), lower case,
spaces and dashes.

The check value is ``sum((i + 1) * d_i) mod 1021`` over the data symbols ``d_i`` (1021 is prime,
so every weight and every symbol difference is invertible): it catches every single wrong symbol
and every swap of two neighbouring symbols; other typos slip through with probability ~1/1021 and
are then refused as unknown codes.

The database never stores a code: it stores ``HMAC-SHA256(key, canonical code)``, with a key used
for nothing else, so a stolen database does not reveal usable codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DATA_SYMBOLS = 22
CHECK_SYMBOLS = 2
CODE_SYMBOLS = DATA_SYMBOLS + CHECK_SYMBOLS
GROUP = 4
ENTROPY_BITS = DATA_SYMBOLS * 5
_MODULUS = 1021
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_VALUE.update({"I": 1, "L": 1, "O": 0})


class CodeFormatError(ValueError):
    """The text cannot be an access code; ``reason`` says why in plain words (untranslated key)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check(data: str) -> str:
    total = sum((i + 1) * _VALUE[c] for i, c in enumerate(data)) % _MODULUS
    return ALPHABET[total // 32] + ALPHABET[total % 32]


def generate_code() -> str:
    """A fresh code in canonical form (24 symbols, no dashes), 110 bits from the OS CSPRNG."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(DATA_SYMBOLS))
    return data + _check(data)


def demo_code(label: str) -> str:
    """A predictable code derived from ``label``: for the demo only (printed at every start)."""
    digest = hashlib.sha256(b"plaza-demo-code:" + label.encode("utf-8")).digest()
    number = int.from_bytes(digest, "big")
    data = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in range(DATA_SYMBOLS))
    return data + _check(data)


def format_code(canonical: str) -> str:
    """The printed form: groups of four separated by dashes."""
    return "-".join(canonical[i : i + GROUP] for i in range(0, len(canonical), GROUP))


def normalize_code(text: str) -> str:
    """Canonical form of what a person typed, or ``CodeFormatError``.

    Reasons: ``empty``, ``bad_symbol``, ``bad_length``, ``typo`` (check symbols disagree).
    """
    cleaned = "".join(text.split()).replace("-", "").upper()
    if not cleaned:
        raise CodeFormatError("empty")
    if any(c not in _VALUE for c in cleaned):
        raise CodeFormatError("bad_symbol")
    if len(cleaned) != CODE_SYMBOLS:
        raise CodeFormatError("bad_length")
    canonical = "".join(ALPHABET[_VALUE[c]] for c in cleaned)
    if _check(canonical[:DATA_SYMBOLS]) != canonical[DATA_SYMBOLS:]:
        raise CodeFormatError("typo")
    return canonical


def code_hash(key: bytes, canonical: str) -> str:
    """The stored lookup value: hex HMAC-SHA256 of the canonical code under the dedicated key."""
    return hmac.new(
        key, b"plaza-access-code:" + canonical.encode("ascii"), hashlib.sha256
    ).hexdigest()


def client_hash(key: bytes, client: str) -> str:
    """A keyed hash of a client identifier (an IP address) for rate-limit buckets."""
    return hmac.new(key, b"plaza-client:" + client.encode("utf-8"), hashlib.sha256).hexdigest()
