"""RFC 8785 JSON Canonicalization Scheme (JCS), standard library only.

``canonicalize(value)`` returns the canonical UTF-8 bytes of a JSON value made of ``dict``
(string keys), ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``:

- no whitespace; object members sorted by the UTF-16 code units of their names;
- strings escaped minimally: ``\\"``, ``\\\\``, ``\\b \\t \\n \\f \\r``, other controls as
  ``\\u00xx`` (lower-case hex), everything else verbatim in UTF-8;
- numbers as ECMAScript ``Number.prototype.toString`` prints the IEEE-754 double
  (integers must be exactly representable as doubles).

``canonical_line(line)`` is the check the verifier uses: it parses one line and returns the
value only if the line is byte-for-byte its own canonical form.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_SAFE_INTEGER = 2**53


class CanonicalJSONError(ValueError):
    """The value cannot be canonicalized, or a line is not canonical JSON."""


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def _string(s: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError("string holds a lone surrogate (not valid Unicode)") from exc
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, s) + '"'


def format_number(x: float | int) -> str:
    """ECMAScript Number.prototype.toString of an IEEE-754 double (RFC 8785 section 3.2.2.3)."""
    if isinstance(x, int):
        if abs(x) <= MAX_SAFE_INTEGER:
            return str(x)
        try:
            as_double = float(x)
        except OverflowError as exc:
            raise CanonicalJSONError(f"integer {x} is beyond IEEE-754 doubles") from exc
        if as_double != x:
            raise CanonicalJSONError(f"integer {x} is not exactly an IEEE-754 double")
        x = as_double
    if math.isnan(x) or math.isinf(x):
        raise CanonicalJSONError("NaN and Infinity are not JSON")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() gives the shortest round-tripping digits, as ECMAScript requires.
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    n = len(whole) + (int(exp_text) if exp_text else 0)  # value = 0.<digits> * 10**n
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp = ("+" if e > 0 else "-") + str(abs(e))
    if k == 1:
        return sign + digits + "e" + exp
    return sign + digits[0] + "." + digits[1:] + "e" + exp


def _utf16_key(s: str) -> bytes:
    return s.encode("utf-16-be", "surrogatepass")


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int | float):
        out.append(format_number(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalJSONError(f"object key {key!r} is not a string")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    else:
        raise CanonicalJSONError(f"{type(value).__name__} is not a JSON value")


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 encoding of ``value``."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


class _NotFast(Exception):
    """The line needs the full canonicalizer (it holds a number with a fraction or exponent)."""


def _refuse_constant(name: str) -> Any:
    raise CanonicalJSONError(f"{name} is not JSON")


def _no_fast_float(text: str) -> Any:
    raise _NotFast


def _fast_int(text: str) -> int:
    if len(text) > 15:
        raise _NotFast  # may be beyond the exact double range: let the full path decide
    return int(text)


_FOUR_BYTE_UTF8 = re.compile(rb"[\xf0-\xff]")
_fast_decoder = json.JSONDecoder(
    parse_float=_no_fast_float, parse_int=_fast_int, parse_constant=_refuse_constant
)
_fast_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _parse_int(text: str) -> int | float:
    value = int(text)
    # JSON numbers are IEEE-754 doubles (RFC 8785 section 3.2.2.3): big ones are read as such.
    return value if abs(value) <= MAX_SAFE_INTEGER else float(value)


_full_decoder = json.JSONDecoder(parse_int=_parse_int, parse_constant=_refuse_constant)


def parse_canonical(line: bytes) -> Any:
    """Parse ``line`` (no trailing newline) and return its value if and only if the line is
    exactly the RFC 8785 form of that value; raise CanonicalJSONError otherwise.

    Fast path: for lines without fractional numbers, integers of 16+ digits or 4-byte UTF-8
    characters, json.dumps with sorted keys produces exactly the RFC 8785 bytes (code-point
    order equals UTF-16 order on the BMP; integers print the same), so the C encoder is used.
    Everything else goes through ``canonicalize``.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalJSONError("not valid UTF-8") from exc
    fast = line.isascii() or _FOUR_BYTE_UTF8.search(line) is None
    value: Any
    if fast:
        try:
            value = _fast_decoder.decode(text)
        except _NotFast:
            fast = False
        except json.JSONDecodeError as exc:
            raise CanonicalJSONError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    if fast:
        try:
            again = _fast_encoder.encode(value).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CanonicalJSONError("string holds a lone surrogate (not valid Unicode)") from exc
    else:
        try:
            value = _full_decoder.decode(text)
        except json.JSONDecodeError as exc:
            raise CanonicalJSONError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
        again = canonicalize(value)
    if again != line:
        raise CanonicalJSONError("not in RFC 8785 canonical form")
    return value
