"""Broken ``.pb`` files, made by mutating real ones: the reader either reads a file or
rejects it with ``PbFormatError`` (a line and a reason), and a file it reads is written back
by ``write_pb`` to text that reads back equal, and counted or refused with ``TallyError``;
never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.tally import (
    Election,
    PbFormatError,
    TallyError,
    parse_pb,
    read_election,
    tally,
    write_pb,
)
from app.tally.engine import RULES
from tests.tally.conftest import pabulib_files

#: the beginnings of a few real files of every ballot kind (whole files would make every
#: example slow; the sections and the first votes are what a mutation can break)
SOURCES: list[str] = []
for _path in pabulib_files():
    _lines = _path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    _votes = next((i for i, line in enumerate(_lines) if line.strip().upper() == "VOTES"), None)
    if _votes is not None:
        SOURCES.append("".join(_lines[: _votes + 12]))
        SOURCES.append("".join(_lines[: _votes + 2]))  # (no voters: the writer's edge)
# (no scoring file in ../shared/pabulib: a cumulative one read as scoring)
SOURCES += [s.replace("vote_type;cumulative", "vote_type;scoring") for s in SOURCES[:]]
SOURCES = list(dict.fromkeys(SOURCES))
KINDS_SEEN = {
    next(line for line in source.splitlines() if line.startswith("vote_type")) for source in SOURCES
}
PIECES = [";", ",", '"', "\n", "\r\n", "x", "1", "0", ".", "-", " ", "\ufeff", "META", "VOTES"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True)
        what = draw(st.sampled_from(["delete", "insert", "line-drop", "line-copy", "swap"]))
        if what in ("delete", "insert") and text:
            at = draw(st.integers(0, len(text) - 1))
            if what == "delete":
                text = text[:at] + text[at + draw(st.integers(1, 3)) :]
            else:
                text = text[:at] + draw(st.sampled_from(PIECES)) + text[at:]
        elif len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if what == "line-drop":
                del lines[i]
            elif what == "line-copy":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return text


def test_the_sources_cover_every_ballot_kind() -> None:
    assert len(KINDS_SEEN) == 5, KINDS_SEEN


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.sampled_from(sorted(RULES)), st.sampled_from(["default", "pabutools"]))
def test_a_broken_file_is_rejected_with_a_line_and_reason(text: str, rule: str, tie: str) -> None:
    """Both readers (``parse_pb``, which keeps every field, and ``read_election``, which
    ``plaza tally`` streams a file through) accept the same files, alike, and reject the
    same ones with the same line and reason."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.pb"
        path.write_bytes(text.encode("utf-8"))
        try:
            streamed: Election | PbFormatError = read_election(path)[0]
        except PbFormatError as exc:
            streamed = exc
    try:
        pb = parse_pb(text, name="x.pb")
        election = pb.election()
    except PbFormatError as exc:
        assert str(exc).startswith("x.pb: ") and exc.reason
        assert isinstance(streamed, PbFormatError), exc
        assert (streamed.line, streamed.reason) == (exc.line, exc.reason)
        event("rejected by the reader")
        return
    assert isinstance(streamed, Election) and streamed == election
    assert parse_pb(write_pb(pb), name="x.pb") == pb  # (what is read is written back alike)
    try:
        outcome = tally(election, rule, tie_break=tie)
    except TallyError as exc:
        assert str(exc)
        event("refused by the rule")
        return
    event("counted")
    assert sum(election.projects[p].cost for p in outcome.selected) <= election.budget
