"""The verifier's fast path for ballot lines agrees exactly with the general path (full
RFC 8785 parse and schema check), and never accepts a line the general path rejects."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.ledger.verify.jcs import CanonicalJSONError, canonicalize, parse_canonical
from app.ledger.verify.schema import SchemaError, parse_ballot
from app.ledger.verify.verifier import _BALLOT_LINE, _fast_ballot

CYCLE = "cycle-1"
ids = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from('[]"\\{},:'), max_size=6)
numbers = st.integers(-(2**53) + 1, 2**53 - 1) | st.sampled_from(["1/2", "-7/3", "2/4", "1/1"])
ballots = st.fixed_dictionaries(
    {
        "ballot_id": st.sampled_from(["0" * 32, "a" * 32, "A" * 32, "0" * 31]),
        "channel": st.sampled_from(["online", "kiosk", "paper", "import", "mail"]),
        "choices": st.fixed_dictionaries(
            {
                "projects": st.lists(ids, max_size=4),
                "points": st.none() | st.lists(numbers, max_size=4),
            }
        ),
        "district": ids,
        "salt": st.sampled_from(["1" * 32, "f" * 32]),
    }
)


def _general(line: bytes, seq: int) -> Any:
    try:
        event = parse_canonical(line)
        if event["cycle"] != CYCLE or event["seq"] != seq or event["type"] != "ballot":
            return None
        return parse_ballot(seq, event["body"])
    except (CanonicalJSONError, SchemaError, KeyError, TypeError):
        return None


def _fast(line: bytes, seq: int) -> Any:
    m = _BALLOT_LINE.fullmatch(line)
    if m is None:
        return None
    return _fast_ballot(m.groups(), seq, canonicalize(CYCLE), {}, {})


@given(body=ballots, seq=st.integers(0, 10**6), edit=st.sampled_from(["", "space", "escape"]))
def test_fast_path_agrees_with_general_path(body: dict[str, Any], seq: int, edit: str) -> None:
    try:
        line = canonicalize({"body": body, "cycle": CYCLE, "seq": seq, "type": "ballot"})
    except CanonicalJSONError:
        return  # lone surrogates
    if edit == "space":
        line = line.replace(b",", b", ", 1)
    elif edit == "escape":
        line = line.replace(b'"', b"\\u0022", 2).replace(b"\\u0022", b'"', 1)
    fast, general = _fast(line, seq), _general(line, seq)
    if fast is not None:
        assert general is not None
        assert fast == general


def test_fast_path_takes_ordinary_ballots() -> None:
    body = {
        "ballot_id": "0" * 32,
        "channel": "online",
        "choices": {"projects": ["a", "b]"], "points": [1, "1/2"]},
        "district": "Krak\u00f3w",
        "salt": "1" * 32,
    }
    line = canonicalize({"body": body, "cycle": CYCLE, "seq": 7, "type": "ballot"})
    assert _general(line, 7) is not None
    body["choices"]["projects"] = ["a", "b"]
    line = canonicalize({"body": body, "cycle": CYCLE, "seq": 7, "type": "ballot"})
    assert _fast(line, 7) == _general(line, 7) is not None
    assert _fast(line, 8) is None
    assert _fast(line.replace(b'"1/2"', b'"2/4"'), 7) is None


def test_plain_project_lists() -> None:
    for projects in ([], [""], ["a"], ["a", "b", ""], ["\u00f3", "\U0001f600", "x]y"], ["a\\b"]):
        body = {
            "ballot_id": "0" * 32,
            "channel": "paper",
            "choices": {"projects": projects, "points": None},
            "district": "d",
            "salt": "1" * 32,
        }
        line = canonicalize({"body": body, "cycle": CYCLE, "seq": 3, "type": "ballot"})
        general = _general(line, 3)
        assert general is not None
        fast = _fast(line, 3)
        assert fast is None or fast == general
        if "x]y" not in projects:
            assert fast == general
