"""Reader and writer for pabulib ``.pb`` files (https://pabulib.org/format).

A file has three sections, ``META``, ``PROJECTS`` and ``VOTES``, each a marker line, a header
line, then ``;``-separated rows (CSV quoting: ``"a ""quoted"" name"``). Real files are messy:
CRLF line ends, a UTF-8 byte-order mark, decimal budgets (``1874242.57``), empty ballots,
string ids (``BO.OM.97/24``), redundant columns (an ordinal file's ``points``), and what
pabulib-checker lets through and pabutools reads (stray quotes, rows short of their header,
empty items in a vote, a ``;`` in a META value: docs/tally.md, "``.pb`` files"). The reader
accepts all of that and rejects a broken file with :class:`PbFormatError` (line number and
reason).

Two entry points read a file: :func:`read_pb` keeps every raw field (``PbFile``), and
:func:`read_election` streams the file straight into an :class:`Election` without keeping the
raw vote rows (what ``plaza tally`` uses: the distinct ballots packed into flat arrays and,
per voter, which one it cast, so memory stays a small multiple of the file size).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import stat
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from os import PathLike
from pathlib import Path

from app.tally.model import (
    BALLOT_KINDS,
    POINTS_KINDS,
    BallotKind,
    BallotRules,
    Election,
    PackedBallots,
    Packer,
    PbFormatError,
    Project,
)

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
#: the most digits a number may have: Python's default limit on converting text to an int
#: (``sys.get_int_max_str_digits``), fixed here so a file reads alike whatever the setting
MAX_DIGITS = 4300
_SECTIONS = ("meta", "projects", "votes")
RECENT = 4096  # votes the reader remembers by their text
_END = "\uffff"  # a line the CSV reader is given after the file's last (``_rows``)
_INT_META = ("min_length", "max_length")
_NUM_META = (
    "min_sum_cost",
    "max_sum_cost",
    "min_points",
    "max_points",
    "min_sum_points",
    "max_sum_points",
)
_NUMBERS = ("budget", *_INT_META, *_NUM_META, "min_project_score_threshold")  # (META numbers)


def parse_number(text: str, *, line: int = 0, what: str = "number", name: str = "") -> Fraction:
    """An exact decimal number (``12``, ``4000.0``, ``1874242.57``); never a float."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise PbFormatError(line, f"{what} is not a decimal number: {text!r}", name=name)
    if len(text) > MAX_DIGITS:
        digits = len(text) - ("." in text) - (text[0] in "+-")
        if digits > MAX_DIGITS:
            raise PbFormatError(
                line, f"{what} has too many digits ({digits}; at most {MAX_DIGITS})", name=name
            )
    try:
        return Fraction(text)
    except ValueError:  # (an interpreter whose int limit is set below MAX_DIGITS)
        raise PbFormatError(line, f"{what} has too many digits", name=name) from None


@dataclass
class PbFile:
    """A parsed ``.pb`` file: raw fields (stripped strings) in file order."""

    meta: dict[str, str] = field(default_factory=dict)
    projects: dict[str, dict[str, str]] = field(default_factory=dict)
    votes: dict[str, dict[str, str]] = field(default_factory=dict)
    name: str = ""

    def election(self) -> Election:
        """The election these fields describe (raises :class:`PbFormatError` if inconsistent)."""
        builder = _Builder(self.name)
        builder.set_meta(self.meta, {})
        for pid, row in self.projects.items():
            builder.add_project(pid, row, 0)
        builder.start_votes()
        for voter_id, row in self.votes.items():
            vote = row.get("vote")
            if vote is None:
                raise PbFormatError(0, f"voter {voter_id!r} has no vote field", name=self.name)
            builder.add_vote(vote, row.get("points"), 0, voter_id)
        return builder.finish()


class _Builder:
    """Turns raw rows into an Election, checking each as it comes (shared by both readers)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.meta: dict[str, str] = {}
        self.meta_lines: dict[str, int] = {}
        self.kind: BallotKind = "approval"
        self.projects: dict[str, Project] = {}
        self.index: dict[str, int] = {}  # project id -> its place in the file
        self.order: list[str] = []  # the project ids in the file's order
        self.which: array[int] = array("I")  # per voter: the distinct ballot cast
        self._packer = Packer()
        self._packer.index = self.index  # (projects as the file lists them)
        self._slots: array[int] = array("I", bytes(4 * 1024))  # hash table: distinct + 1
        self._hashes: array[int] = array("q")  # per distinct ballot: its vote's hash
        self._numbers: dict[str, Fraction] = {}
        self._meta_numbers: dict[str, Fraction | None] = {}  # (META's numbers, or None)
        self._budget = Fraction(0)
        self._with_points: bool | None = None
        self._recent: dict[str | tuple[str, str], int] = {}  # vote -> distinct ballot

    def fail(self, line: int, reason: str) -> PbFormatError:
        return PbFormatError(line, reason, name=self.name)

    def set_meta(self, meta: dict[str, str], lines: dict[str, int]) -> None:
        """Checks the META rows, each in file order (so a bad budget on line 3 is reported
        before a bad cost on line 7), then what META lacks."""
        self.meta = meta
        self.meta_lines = lines
        kind = meta.get("vote_type", "").strip().lower()
        numbers: dict[str, Fraction | None] = dict.fromkeys(_NUMBERS)
        for key, value in meta.items():
            where = lines.get(key, 0)
            if key == "vote_type" and kind not in BALLOT_KINDS and kind:
                raise self.fail(
                    where, f"unknown vote_type {kind!r} (expected one of {', '.join(BALLOT_KINDS)})"
                )
            if key not in numbers or (key != "budget" and not value.strip()):
                continue
            number = parse_number(value, line=where, what=f"META {key}", name=self.name)
            if key == "budget" and number < 0:
                raise self.fail(where, "budget is negative")
            if key in _INT_META and (number.denominator != 1 or number < 0):
                raise self.fail(where, f"META {key} is not a whole number")
            numbers[key] = number
        if kind not in BALLOT_KINDS:
            raise self.fail(lines.get("vote_type", 0), "META has no vote_type")
        self.kind = kind
        budget = numbers["budget"]
        if budget is None:
            raise self.fail(0, "META has no budget")
        self._budget = budget
        self._meta_numbers = numbers

    def add_project(self, pid: str, row: dict[str, str], line: int) -> None:
        if not pid:
            raise self.fail(line, "empty project_id")
        if pid in self.projects:
            raise self.fail(line, f"duplicate project_id {pid!r}")
        if "cost" not in row or not row["cost"]:
            raise self.fail(line, f"project {pid!r} has no cost")
        cost = parse_number(row["cost"], line=line, what=f"cost of project {pid!r}", name=self.name)
        if cost < 0:
            raise self.fail(line, f"cost of project {pid!r} is negative")
        self.projects[pid] = Project(pid, cost, row.get("name", ""))
        self.index[pid] = len(self.order)
        self.order.append(pid)

    def start_votes(self) -> None:
        if not self.projects and self.meta.get("num_projects", "0").strip() not in ("", "0"):
            raise self.fail(0, "PROJECTS section is empty")

    def add_vote(self, vote: str, points: str | None, line: int, voter_id: str) -> None:
        # Identical votes are one distinct ballot (``model.Counted``), found through a hash
        # table of the votes' texts (where points count, with the points) in a flat array:
        # a dict keyed by every text took 130 bytes a distinct ballot (only the last few
        # thousand votes are kept so, ``_remember``). A hash that matches is
        # confirmed exactly: by the text the ballot would have written plainly (a vote that
        # reads the same is that ballot), else on the parsed vote, so equal hashes of
        # different votes stay apart.
        if self.kind in POINTS_KINDS:
            points = points or ""
        elif self.kind != "ordinal":
            points = None
        if self._with_points is None:
            self._with_points = points is not None
        elif self._with_points != (points is not None):
            raise self.fail(line, f"voter {voter_id!r}: a points field where others have none")
        key = vote if points is None else (vote, points)
        j = self._recent.get(key)
        if j is not None:  # (a vote seen lately: a popular one)
            self.which.append(j)
            self._packer.counts[j] += 1
            return
        h = hash(key)
        slots, hashes, packer = self._slots, self._hashes, self._packer
        mask = len(slots) - 1
        at = h & mask
        parsed: tuple[list[int], list[Fraction] | None] | None = None
        while j := slots[at]:
            j -= 1
            if hashes[j] == h:
                order = self.order
                same = points is None and ",".join([order[k] for k in packer.items_of(j)]) == vote
                if not same:
                    if parsed is None:
                        parsed = self._parse_vote(vote, points, line, voter_id)
                    same = packer.same(j, *parsed)
                if same:
                    self.which.append(j)
                    packer.counts[j] += 1
                    self._remember(key, j)
                    return
            at = (at + 1) & mask
        if parsed is None:
            parsed = self._parse_vote(vote, points, line, voter_id)
        items, pts = parsed
        j = packer.add_items(items, pts, 1)
        self.which.append(j)
        self._remember(key, j)
        hashes.append(h)
        slots[at] = j + 1
        if 2 * len(hashes) > len(slots):  # (at most half full: short probes)
            self._slots = slots = array("I", bytes(4 * 2 * len(slots)))
            mask = len(slots) - 1
            for j, h in enumerate(hashes):
                at = h & mask
                while slots[at]:
                    at = (at + 1) & mask
                slots[at] = j + 1

    def _remember(self, key: str | tuple[str, str], j: int) -> None:
        """Keeps the last few thousand votes seen by their text (a dict finds a repeated
        vote faster than the hash table), forgetting them all when full: the memory stays
        bounded, and popular votes come back at once."""
        if len(self._recent) >= RECENT:
            self._recent.clear()
        self._recent[key] = j

    def _parse_vote(
        self, vote: str, points: str | None, line: int, voter_id: str
    ) -> tuple[list[int], list[Fraction] | None]:
        """The vote's projects (indices in the file's order) and points, checked.

        An empty item (``1,2,``, ``1,,2``) is dropped, as pabutools and pabulib-checker drop
        it, except in a cumulative or scoring vote, whose points go with its projects in
        order (pabutools fails on it there): refused; but empty items at the end of its points
        are dropped (``1,2;3,4,``: pabutools reads only as many points as projects, the
        checker drops empty items). An ordinal vote's points column drops its empty items
        too (pabulib-checker does; pabutools ignores that column)."""
        vote = vote.strip()
        items: list[int] = []
        if vote:
            index = self.index
            for raw in vote.split(","):
                pid = raw.strip()
                k = index.get(pid)
                if k is None:
                    if not pid:
                        if self.kind in POINTS_KINDS:
                            raise self.fail(
                                line,
                                f"voter {voter_id!r}: empty project id in vote {vote!r} (in a "
                                f"{self.kind} vote, whose points go with its projects in order)",
                            )
                        continue
                    raise self.fail(line, f"voter {voter_id!r} votes for unknown project {pid!r}")
                items.append(k)
            if len(set(items)) != len(items):
                first = next(k for i, k in enumerate(items) if k in items[:i])
                raise self.fail(
                    line, f"voter {voter_id!r} lists project {self.order[first]!r} twice"
                )
        if points is None:
            return items, None
        text = points.strip()
        if not text and not items:
            return items, []
        parts = text.split(",") if text else []
        if self.kind == "ordinal" and "," in text:
            parts = [part for part in parts if part.strip()]
        elif text.endswith(","):  # ('3,4,': both tools read it; only at the end for pabutools)
            while parts and not parts[-1].strip():
                parts.pop()
        if len(parts) != len(items):
            raise self.fail(
                line, f"voter {voter_id!r}: {len(items)} projects but {len(parts)} points"
            )
        known = self._numbers
        pts: list[Fraction] = []
        for part in parts:
            value = known.get(part)
            if value is None:
                value = parse_number(
                    part, line=line, what=f"points of voter {voter_id!r}", name=self.name
                )
                if len(known) < 4096:  # (points are few distinct values: parsed once each)
                    known[part] = value
            pts.append(value)
        return items, pts

    def finish(self) -> Election:
        nums = self._meta_numbers  # (read and checked by set_meta)
        ints: dict[str, int | None] = {}
        for key in _INT_META:
            number = nums[key]
            ints[key] = None if number is None else int(number)
        rules = BallotRules(
            kind=self.kind,
            min_length=ints["min_length"],
            max_length=ints["max_length"],
            min_sum_cost=nums["min_sum_cost"],
            max_sum_cost=nums["max_sum_cost"],
            min_points=nums["min_points"],
            max_points=nums["max_points"],
            min_sum_points=nums["min_sum_points"],
            max_sum_points=nums["max_sum_points"],
        )
        return Election(
            budget=self._budget,
            projects=self.projects,
            rules=rules,
            ballots=PackedBallots(self._packer.finish(), self.which),
            score_threshold=nums["min_project_score_threshold"],
            meta=self.meta,
        )


class _SeenVoters:
    """The voter ids read so far, for the streaming reader, which keeps no vote rows.

    Most files number their voters 1, 2, 3, ... (52 of the 65 files in ``../shared/pabulib``
    give increasing whole numbers): while every id is a whole number written plainly and
    larger than the one before, it is new, and only the numbers are kept (8 bytes a voter).
    From the first id that is not, each id's 64-bit hash goes in a flat open-addressing
    table (8 bytes a slot, at most half full; where a set would hold every id as a string),
    the numbers kept so far first. A matching hash is confirmed exactly by ``earlier``
    (reading the file again up to that line), so equal hashes of different ids never refuse
    a file, and a repeated id is refused on its line, as ``parse_pb`` does. Without
    ``earlier`` (a pipe, which cannot be read twice) the ids are kept as they are."""

    def __init__(self, earlier: Callable[[str, int], bool] | None) -> None:
        self._numbers: array[int] | None = array("q")  # (None: off the increasing numbers)
        self._last = -1
        self._table: array[int] = array("q", bytes(8 * 1024))
        self._count = 0
        self._earlier = earlier
        self._ids: set[str] = set()

    def seen(self, voter_id: str, line: int) -> bool:
        """Whether ``voter_id`` came before ``line``; if not, it is added."""
        numbers = self._numbers
        if numbers is not None:
            if (
                voter_id.isdigit()
                and voter_id.isascii()
                and len(voter_id) <= 18  # (fits the array)
                and (voter_id[0] != "0" or voter_id == "0")  # (written plainly)
            ):
                x = int(voter_id)
                if x > self._last:
                    self._last = x
                    numbers.append(x)
                    return False
            self._numbers = None  # every id so far, distinct, into the general way
            for x in numbers:
                self._add(str(x))
        if self._earlier is None:
            if voter_id in self._ids:
                return True
            self._ids.add(voter_id)
            return False
        h = hash(voter_id) or 1  # (0 marks an empty slot)
        table = self._table
        mask = len(table) - 1
        at = h & mask
        checked = False  # (one reading answers for every equal hash)
        while slot := table[at]:
            if slot == h and not checked:
                if self._earlier(voter_id, line):
                    return True
                checked = True
            at = (at + 1) & mask
        self._put(at, h)
        return False

    def _add(self, voter_id: str) -> None:
        """Adds an id known to be new."""
        if self._earlier is None:
            self._ids.add(voter_id)
            return
        h = hash(voter_id) or 1
        table = self._table
        mask = len(table) - 1
        at = h & mask
        while table[at]:
            at = (at + 1) & mask
        self._put(at, h)

    def _put(self, at: int, h: int) -> None:
        """Puts hash ``h`` in the empty slot ``at``, growing the table when half full."""
        table = self._table
        table[at] = h
        self._count += 1
        if 2 * self._count > len(table):  # (at most half full: short probes)
            self._table = bigger = array("q", bytes(8 * 2 * len(table)))
            mask = len(bigger) - 1
            for kept in table:
                if kept:
                    at = kept & mask
                    while bigger[at]:
                        at = (at + 1) & mask
                    bigger[at] = kept


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line number where each row starts (a quoted field may span lines).

    CSV is read as pabutools and pabulib-checker read it (``csv`` not strict): a stray
    quote is text, and a quote that closes a field early is dropped (``"Konikowo" - plac``
    is ``Konikowo - plac``). Only a quoted field never closed is refused, on its row's
    line: a line fed after the file's last (``_END``) ends up inside that field (where the
    strict reader said "unexpected end of data"), and is the last row otherwise."""
    ended = False

    def end() -> Iterator[str]:
        nonlocal ended
        ended = True
        yield _END

    reader = csv.reader(itertools.chain(lines, end()), delimiter=";", quotechar='"')
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # (a field past csv's size limit)
            raise PbFormatError(start, f"bad CSV quoting: {exc}") from None
        if ended:  # (the row that took the line after the file)
            if reader.line_num == start and row == [_END]:
                return
            raise PbFormatError(start, "bad CSV quoting: a quoted field is never closed")
        yield start, row


def _parse(
    lines: Iterable[str],
    name: str,
    keep_votes: bool,
    reopen: Callable[[], io.TextIOWrapper] | None = None,
) -> tuple[PbFile, _Builder]:
    """Read the rows into a ``PbFile`` (vote rows only with ``keep_votes``) and a
    ``_Builder``. Without ``keep_votes``, repeated voter ids are found by their hashes and
    confirmed by reading the file again through ``reopen`` (kept whole if it is None)."""
    pb = PbFile(name=name)
    builder = _Builder(name)
    meta_lines: dict[str, int] = {}
    section = ""
    seen: list[str] = []
    header: list[str] = []
    expect_header = False
    section_line = 0
    voter_col = vote_col = points_col = -1
    voters: _SeenVoters | None = None
    try:
        for line, row in _rows(lines):
            if not any(cell.strip() for cell in row):
                continue
            first = row[0].strip().lower()
            if first in _SECTIONS and all(not c.strip() for c in row[1:]):
                if first in seen:
                    raise builder.fail(line, f"section {first.upper()} appears twice")
                expected = _SECTIONS[len(seen)]
                if first != expected:
                    raise builder.fail(
                        line, f"expected section {expected.upper()}, found {first.upper()}"
                    )
                if first == "projects":
                    builder.set_meta(pb.meta, meta_lines)
                elif first == "votes":
                    builder.start_votes()
                seen.append(first)
                section = first
                section_line = line
                expect_header = True
                continue
            if not section:
                raise builder.fail(line, "the file must start with META")
            if expect_header:
                header = [h.strip() for h in row]
                expect_header = False
                if len(set(header)) != len(header):
                    raise builder.fail(line, f"duplicate column in {section.upper()} header")
                if section == "meta":
                    if [h.lower() for h in header[:2]] != ["key", "value"]:
                        raise builder.fail(line, "META header must be 'key;value'")
                elif section == "projects":
                    if "project_id" not in header or "cost" not in header:
                        raise builder.fail(line, "PROJECTS header needs project_id and cost")
                else:
                    if "voter_id" not in header or "vote" not in header:
                        raise builder.fail(line, "VOTES header needs voter_id and vote")
                    voter_col, vote_col = header.index("voter_id"), header.index("vote")
                    points_col = header.index("points") if "points" in header else -1
                    if not keep_votes:
                        again = None if reopen is None else _reread(reopen, line, voter_col)
                        voters = _SeenVoters(again)
                    if builder.kind in POINTS_KINDS and points_col < 0:
                        raise builder.fail(line, f"a {builder.kind} file needs a points column")
                continue
            if section == "meta":
                if len(row) < 2:
                    raise builder.fail(line, "a META row must be 'key;value'")
                key = row[0].strip()
                if key in pb.meta:
                    raise builder.fail(line, f"duplicate META key {key!r}")
                # An unquoted ';' in the value ('comment;#1: first round; paper ballots'):
                # the value is the rest of the row, trailing empty fields aside (pabutools
                # and pabulib-checker keep only its first part; the checker warns).
                end = len(row)
                while end > 2 and not row[end - 1].strip():
                    end -= 1
                pb.meta[key] = (row[1] if end == 2 else ";".join(row[1:end])).strip()
                meta_lines[key] = line
                continue
            if len(row) != len(header):
                if len(row) > len(header):  # (pabutools cannot read it: refused)
                    raise builder.fail(
                        line,
                        f"{section.upper()} row has {len(row)} fields, header has {len(header)}",
                    )
                row += [""] * (len(header) - len(row))  # (missing trailing fields are empty)
            if section == "projects":
                fields = dict(zip(header, (c.strip() for c in row), strict=True))
                pid = fields["project_id"]
                builder.add_project(pid, fields, line)
                pb.projects[pid] = fields
                continue
            voter_id = row[voter_col].strip()
            if not voter_id:
                raise builder.fail(line, "empty voter_id")
            points = row[points_col] if points_col >= 0 else None
            builder.add_vote(row[vote_col], points, line, voter_id)
            if keep_votes:
                if voter_id in pb.votes:
                    raise builder.fail(line, f"duplicate voter_id {voter_id!r}")
                pb.votes[voter_id] = dict(zip(header, (c.strip() for c in row), strict=True))
            elif voters is not None and voters.seen(voter_id, line):
                raise builder.fail(line, f"duplicate voter_id {voter_id!r}")
    except PbFormatError as exc:
        if not exc.name and name:
            raise PbFormatError(exc.line, exc.reason, name=name) from None
        raise
    if expect_header:
        raise builder.fail(section_line, f"section {section.upper()} has no header line")
    for needed in _SECTIONS:
        if needed not in seen:
            raise builder.fail(0, f"missing section {needed.upper()}")
    return pb, builder


def _reread(
    reopen: Callable[[], io.TextIOWrapper], header_line: int, voter_col: int
) -> Callable[[str, int], bool]:
    """Whether a voter id is on a vote row between the VOTES header and a line, read again
    from the file (every row there has passed the reader's checks)."""

    def earlier(voter_id: str, line: int) -> bool:
        with reopen() as again:
            for at, row in _rows(again):
                if at >= line:
                    break
                blank = not any(c.strip() for c in row)
                if at > header_line and not blank and row[voter_col].strip() == voter_id:
                    return True
        return False

    return earlier


def parse_pb(text: str, *, name: str = "") -> PbFile:
    """Parse the text of a ``.pb`` file, keeping every raw field. One leading byte-order
    mark is the encoding's, as when a file is opened (``utf-8-sig``); a second is text."""
    text = text.removeprefix("\ufeff")
    pb, _ = _parse(io.StringIO(text, newline=""), name, keep_votes=True)
    return pb


def _open(path: str | PathLike[str]) -> io.TextIOWrapper:
    return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115


def read_pb(path: str | PathLike[str]) -> PbFile:
    """Read a ``.pb`` file, keeping every raw field."""
    name = Path(path).name
    try:
        with _open(path) as handle:
            pb, _ = _parse(handle, name, keep_votes=True)
    except UnicodeDecodeError as exc:
        raise PbFormatError(0, f"not UTF-8 text ({exc.reason})", name=name) from None
    return pb


def read_election(path: str | PathLike[str]) -> tuple[Election, dict[str, str]]:
    """Stream a ``.pb`` file into an Election without keeping raw vote rows.

    Returns the election and the raw PROJECTS ``selected`` column (project id -> value) for
    comparison with a published outcome. Refuses what ``read_pb`` refuses, on the same line.
    """
    name = Path(path).name
    try:
        with _open(path) as handle:
            regular = stat.S_ISREG(os.fstat(handle.fileno()).st_mode)  # (not a pipe)
            reopen = (lambda: _open(path)) if regular else None
            pb, builder = _parse(handle, name, keep_votes=False, reopen=reopen)
    except UnicodeDecodeError as exc:
        raise PbFormatError(0, f"not UTF-8 text ({exc.reason})", name=name) from None
    selected = {pid: row.get("selected", "") for pid, row in pb.projects.items()}
    return builder.finish(), selected


def write_pb(pb: PbFile) -> str:
    """The ``.pb`` text of ``pb`` (LF line ends, minimal CSV quoting); reads back identically.

    A section's required columns are written even when it has no rows (``project_id;cost``,
    ``voter_id;vote``, and ``points`` for a cumulative or scoring file), the others as its
    rows have them."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quotechar='"', lineterminator="\n")
    writer.writerow(["META"])
    writer.writerow(["key", "value"])
    for key, value in pb.meta.items():
        writer.writerow([key, value])
    points = pb.meta.get("vote_type", "").strip().lower() in POINTS_KINDS
    for title, table, required in (
        ("PROJECTS", pb.projects, ["project_id", "cost"]),
        ("VOTES", pb.votes, ["voter_id", "vote"] + (["points"] if points else [])),
    ):
        first = required[0]
        columns = list(required)
        for row in table.values():
            for column in row:
                if column not in columns:
                    columns.append(column)
        writer.writerow([title])
        writer.writerow(columns)
        for ident, row in table.items():
            writer.writerow([ident if c == first else row.get(c, "") for c in columns])
    return out.getvalue()
