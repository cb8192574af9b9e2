"""The .pb reader and writer on every real file, and on broken ones."""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.tally import Ballot, PbFormatError, parse_pb, read_election, read_pb, write_pb
from tests.tally.conftest import pabulib_files

FILES = pabulib_files()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem[:60])
def test_every_file_reads_and_round_trips(path: Path) -> None:
    pb = read_pb(path)
    election = pb.election()
    assert len(election.projects) == len(pb.projects) > 0
    assert len(election.ballots) == len(pb.votes)
    if pb.meta.get("num_votes"):
        assert len(pb.votes) == int(pb.meta["num_votes"])
    back = parse_pb(write_pb(pb), name=pb.name)
    assert back == pb
    assert back.election() == election
    lean, selected = read_election(path)
    assert lean.ballots == election.ballots
    # the reader's distinct ballots and counts against a plain count of the raw votes
    points_count = (
        pb.meta["vote_type"] in ("cumulative", "scoring")
        or any("points" in row for row in pb.votes.values())
        and pb.meta["vote_type"] == "ordinal"
    )
    naive: Counter[Ballot] = Counter()
    for row in pb.votes.values():
        ids = tuple(p.strip() for p in row["vote"].split(",")) if row["vote"].strip() else ()
        points = None
        if points_count:
            text = row.get("points", "").strip()
            points = tuple(Fraction(p) for p in text.split(",")) if text else ()
        naive[Ballot(ids, points)] += 1
    counted: Counter[Ballot] = Counter()
    for ballot, n in lean.ballots.counted:
        counted[ballot] += n
    assert counted == naive == Counter(lean.ballots)
    assert set(selected) == set(pb.projects)


def test_decimal_budget_is_exact(pabulib_dir: Path) -> None:
    election = read_pb(pabulib_dir / "Poland_Krakow_2024_Mistrzejowice.pb").election()
    assert election.budget == Fraction(187424257, 100)


def test_quoted_fields_and_string_ids(pabulib_dir: Path) -> None:
    pb = read_pb(pabulib_dir / "France_Toulouse_2022.pb")
    assert pb.projects["135"]["name"] == 'Restructuration "verte" de la place Roger Arnaud'
    assert pb.projects["116"]["cost"] == "4000.0"
    assert pb.election().projects["116"].cost == 4000
    gdynia = read_pb(pabulib_dir / "Poland_Gdynia_2021_Redlowo__small.pb").election()
    assert "RED/0012" in gdynia.projects


def test_empty_ballots_are_kept(pabulib_dir: Path) -> None:
    pb = read_pb(pabulib_dir / "Poland_Krakow_2024.pb")
    election = pb.election()
    assert election.rules.kind == "ordinal"
    assert all(b.points is None for b in election.ballots)  # no points column: rank scoring
    text = "META\nkey;value\nbudget;10\nvote_type;approval\nPROJECTS\nproject_id;cost\na;5\n"
    text += "VOTES\nvoter_id;vote\n1;\n2;a\n"
    e = parse_pb(text).election()
    assert [b.projects for b in e.ballots] == [(), ("a",)]


def test_ordinal_points_column_is_read(pabulib_dir: Path) -> None:
    election = read_pb(pabulib_dir / "Poland_Krakow_2022_Nowa_Huta.pb").election()
    assert election.ballots[0].points == (3, 2, 1)


GOOD = (
    "META\nkey;value\nbudget;100.5\nvote_type;cumulative\nPROJECTS\nproject_id;cost;name\n"
    'p1;50;"a; b"\np2;60;x\nVOTES\nvoter_id;vote;points\nv1;p1,p2;2,1\n'
)


def test_small_cumulative_file() -> None:
    pb = parse_pb(GOOD)
    assert pb.projects["p1"]["name"] == "a; b"
    e = pb.election()
    assert e.budget == Fraction(201, 2)
    assert e.ballots[0].points == (2, 1)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (GOOD.replace("p1;50;", "p1;5O;"), 7, "cost of project 'p1' is not a decimal number"),
        (GOOD.replace("v1;p1,p2;2,1", "v1;p1,p9;2,1"), 11, "unknown project 'p9'"),
        (GOOD.replace("v1;p1,p2;2,1", "v1;p1,p2;2"), 11, "2 projects but 1 points"),
        (GOOD.replace("v1;p1,p2;2,1", "v1;p1,p1;2,1"), 11, "lists project 'p1' twice"),
        (GOOD.replace("p2;60;x", "p2;60;x;y"), 8, "row has 4 fields, header has 3"),
        (GOOD.replace("p2;60;x", "p1;60;x"), 8, "duplicate project_id 'p1'"),
        (GOOD.replace("budget;100.5", "budget;lots"), 3, "META budget is not a decimal number"),
        (GOOD.replace("vote_type;cumulative", "vote_type;borda"), 4, "unknown vote_type"),
        (GOOD.replace("PROJECTS\n", "VOTES\n", 1), 5, "expected section PROJECTS"),
        (GOOD.replace("voter_id;vote;points", "voter_id;vote"), 10, "needs a points column"),
        (GOOD.replace('"a; b"', '"a; b'), 7, "bad CSV quoting"),
        (GOOD + "v1;p2;3\n", 0, None),  # duplicate voter id, checked below
        ("hello\n" + GOOD, 1, "must start with META"),
        (GOOD.split("VOTES")[0], 0, "missing section VOTES"),
    ],
)
def test_broken_files_are_rejected_with_line_and_reason(
    text: str, line: int, reason: str | None
) -> None:
    with pytest.raises(PbFormatError) as info:
        parse_pb(text, name="broken.pb")
    error = info.value
    if reason is None:
        assert error.line == 12 and "duplicate voter_id 'v1'" in error.reason
        return
    assert reason in error.reason
    if line:
        assert error.line == line
    assert str(error).startswith("broken.pb: ")


def test_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "x.pb"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert read_pb(path) == parse_pb(GOOD, name="x.pb")


def test_one_leading_bom_is_the_encodings_and_a_second_is_text(tmp_path: Path) -> None:
    """Both readers drop one byte-order mark, as ``utf-8-sig`` does, and no more: a file
    that starts with two (CI's mutation test found one) is refused alike by both."""
    assert parse_pb("\ufeff" + GOOD, name="x.pb") == parse_pb(GOOD, name="x.pb")
    path = tmp_path / "x.pb"
    path.write_bytes(("\ufeff\ufeff" + GOOD).encode())
    errors = []
    for read in (lambda: read_election(path), lambda: parse_pb("\ufeff\ufeff" + GOOD)):
        with pytest.raises(PbFormatError) as info:
            read()
        errors.append((info.value.line, info.value.reason))
    assert errors == [(1, "the file must start with META")] * 2


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.pb"
    path.write_bytes(GOOD.replace("x", "\xe9").encode("latin-1"))
    with pytest.raises(PbFormatError, match="not UTF-8"):
        read_pb(path)


def test_identical_votes_are_one_distinct_ballot_and_points_keep_them_apart(
    tmp_path: Path,
) -> None:
    """The reader keeps each distinct vote once, counted (the rules walk distinct ballots):
    the same projects with other points are another ballot where points count, and the same
    ballot where they do not (an approval file's points column is ignored). The same vote
    written with spaces is an equal ballot, counted apart (no rule minds)."""
    votes = "v1;p1,p2;2,1\nv2;p1,p2;2,1\nv3;p1,p2;1,2\nv4;p2;3\nv5; p1 ,p2;2,1\n"
    path = tmp_path / "c.pb"
    path.write_text(GOOD.replace("v1;p1,p2;2,1\n", votes))
    e, _ = read_election(path)
    a, b, c, d, f = e.ballots
    assert a == b == f and a.points == (2, 1)
    assert c.projects == a.projects and c.points == (1, 2)
    assert d.projects == ("p2",) and d.points == (3,)
    assert list(e.ballots.counted) == [(a, 2), (c, 1), (d, 1), (f, 1)]
    path.write_text(GOOD.replace("v1;p1,p2;2,1\n", votes).replace("cumulative", "approval"))
    e, _ = read_election(path)
    a, b, c, d, f = e.ballots
    assert a == b == c == f and a.projects == ("p1", "p2") and a.points is None
    assert d.projects == ("p2",)
    assert list(e.ballots.counted) == [(a, 3), (d, 1), (f, 1)]  # (``PackedBallots``)


def test_votes_whose_hashes_collide_stay_apart(tmp_path: Path, monkeypatch: Any) -> None:
    """The reader finds repeated votes by a hash of their text: a hash shared by different
    votes (forced here: every vote hashes alike) never merges them."""
    import builtins

    monkeypatch.setattr(builtins, "hash", lambda _value: 12345)
    votes = "".join(
        f"v{i};{ids};{pts}\n"
        for i, (ids, pts) in enumerate(
            [("p1,p2", "2,1"), ("p2,p1", "1,2"), ("p1,p2", "1,2"), ("p1,p2", "2,1"), ("p2", "3")]
            * 300
        )
    )
    path = tmp_path / "c.pb"
    path.write_text(GOOD.replace("v1;p1,p2;2,1\n", votes))
    e, _ = read_election(path)
    assert [(b.projects, b.points, n) for b, n in e.ballots.counted] == [
        (("p1", "p2"), (2, 1), 600),
        (("p2", "p1"), (1, 2), 300),
        (("p1", "p2"), (1, 2), 300),
        (("p2",), (3,), 300),
    ]
    assert [b.points for b in e.ballots[:5]] == [(2, 1), (1, 2), (1, 2), (2, 1), (3,)]


@pytest.mark.parametrize("collide", [False, True])
def test_the_streaming_reader_refuses_a_repeated_voter_id_on_its_line(
    tmp_path: Path, monkeypatch: Any, collide: bool
) -> None:
    """``read_election`` keeps no vote rows, only a hash per voter id: a repeat is refused
    on its line, as ``parse_pb`` refuses it, and ids whose hashes are equal (forced here:
    every id hashes alike) are not repeats."""
    import builtins

    if collide:
        monkeypatch.setattr(builtins, "hash", lambda _value: -7)
    votes = "".join(f"v{i};p{1 + i % 2};{i % 3 + 1}\n" for i in range(40))
    path = tmp_path / "v.pb"
    path.write_text(GOOD.replace("v1;p1,p2;2,1\n", votes))
    election, _ = read_election(path)
    assert len(election.ballots) == 40
    repeated = GOOD.replace("v1;p1,p2;2,1\n", votes + "\nv17;p2;3\nv40;p1;1\n")
    path.write_text(repeated)
    with pytest.raises(PbFormatError) as info:
        read_election(path)
    assert (info.value.line, info.value.reason) == (52, "duplicate voter_id 'v17'")
    with pytest.raises(PbFormatError) as info:
        parse_pb(repeated)
    assert (info.value.line, info.value.reason) == (52, "duplicate voter_id 'v17'")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["0", "1", "2", "3", "10", "11", "007", "7", "x", " 5"]), max_size=9),
    st.booleans(),
)
def test_the_streaming_reader_finds_repeats_as_parse_pb_does(ids: list[str], collide: bool) -> None:
    """Voter ids that are increasing whole numbers, then anything (a repeat, a smaller
    number, a number written with zeros in front, a word), with every hash alike or not:
    ``read_election`` accepts or refuses (on the same line) what ``parse_pb`` does."""
    import builtins
    import tempfile
    from unittest import mock

    rows = "".join(f"{voter};p1;1\n" for voter in ids)
    text = GOOD.replace("v1;p1,p2;2,1\n", rows)
    try:
        parse_pb(text)
        expected: tuple[int, str] | None = None
    except PbFormatError as exc:
        expected = (exc.line, exc.reason)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ids.pb"
        path.write_text(text)
        with mock.patch.object(builtins, "hash", lambda _v: 99) if collide else nullcontext():
            try:
                read_election(path)
                streamed: tuple[int, str] | None = None
            except PbFormatError as exc:
                streamed = (exc.line, exc.reason)
    assert streamed == expected


def test_a_pipe_is_read_once_and_a_repeated_voter_id_still_refused(tmp_path: Path) -> None:
    """A pipe (``plaza tally <(gunzip -c x.pb.gz)``) cannot be read twice to confirm a
    repeat: its ids are kept whole, and a repeat is refused on its line all the same."""
    import os
    import threading

    votes = "".join(f"v{i};p{1 + i % 2};{i % 3 + 1}\n" for i in range(40))
    for extra, expected in [("", None), ("v17;p2;3\n", (51, "duplicate voter_id 'v17'"))]:
        fifo = tmp_path / "pipe.pb"
        os.mkfifo(fifo)
        text = GOOD.replace("v1;p1,p2;2,1\n", votes + extra)
        writer = threading.Thread(target=fifo.write_text, args=(text,))
        writer.start()
        try:
            if expected is None:
                assert len(read_election(fifo)[0].ballots) == 40
            else:
                with pytest.raises(PbFormatError) as info:
                    read_election(fifo)
                assert (info.value.line, info.value.reason) == expected
        finally:
            writer.join(timeout=10)
            fifo.unlink()


def test_ballots_count_their_own_and_nothing_derived_from_them() -> None:
    """``Ballots.counted`` always describes the very tuple it is on: a slice or a product is
    a plain tuple (rules count those themselves), and a pickled copy keeps its counts."""
    import pickle

    from app.tally import Ballot, Ballots
    from app.tally.model import counted_ballots

    x, y = Ballot(("p1",)), Ballot(("p2",))
    twin = Ballot(("p1",))  # equal to x, another object: counted apart, which rules allow
    ballots = Ballots([x, y, x, twin, x])
    assert ballots == (x, y, x, twin, x)
    assert list(ballots.counted) == [(x, 3), (y, 1), (twin, 1)]
    assert list(ballots.counted.distinct) == [x, y, twin]
    assert ballots.counted.distinct[-1] == twin and ballots.counted.distinct[:2] == (x, y)
    for derived in (ballots[:2], ballots * 2, ballots + (y,)):
        assert type(derived) is tuple
        assert sum(counted_ballots(derived).counts) == len(derived)
    assert list(counted_ballots(ballots[1:])) == [(y, 1), (x, 2), (twin, 1)]
    copy = pickle.loads(pickle.dumps(ballots))
    assert type(copy) is Ballots and copy == ballots
    assert [(b.projects, k) for b, k in copy.counted] == [(("p1",), 3), (("p2",), 1), (("p1",), 1)]
    assert len(Ballots().counted) == 0


def test_packed_ballots_behave_as_a_tuple_of_ballots(tmp_path: Path) -> None:
    """The reader's ``PackedBallots``: each voter's ballot in file order, equal to the same
    ballots in any sequence; a slice or a product is a plain tuple; a pickled copy keeps
    its counts; ballots with and without points keep which they are."""
    import pickle

    from app.tally import Ballot
    from app.tally.model import Ballots, PackedBallots, count_ballots

    votes = "v1;p1,p2;2,1\nv2;p2;3\nv3;p1,p2;2,1\nv4;;\n"
    path = tmp_path / "c.pb"
    path.write_text(GOOD.replace("v1;p1,p2;2,1\n", votes))
    e, _ = read_election(path)
    ballots = e.ballots
    assert isinstance(ballots, PackedBallots)
    plain = (Ballot(("p1", "p2"), (2, 1)), Ballot(("p2",), (3,)), Ballot(("p1", "p2"), (2, 1)))
    plain += (Ballot((), ()),)
    assert ballots == plain and plain == ballots and list(ballots) == list(plain)
    assert ballots != plain[:3] and ballots != "abcd"
    assert ballots[1] == plain[1] and ballots[-1] == plain[-1]
    assert ballots[1:3] == plain[1:3] and type(ballots[1:3]) is tuple
    assert ballots * 2 == plain * 2 and 2 * ballots == plain * 2 and type(ballots * 2) is tuple
    assert ballots + (plain[0],) == (*plain, plain[0])
    assert list(ballots.counted) == [(plain[0], 2), (plain[1], 1), (plain[3], 1)]
    copy = pickle.loads(pickle.dumps(ballots))
    assert copy == ballots and list(copy.counted) == list(ballots.counted)
    mixed = (Ballot(("a",)), Ballot(("b", "a"), (Fraction(1, 3), 2)), Ballot(("b",)))
    counted = count_ballots(Ballots(mixed))
    assert list(counted.distinct) == list(mixed) and counted.votes() == [2, 2]


def test_rows_with_and_without_points_in_one_file_are_rejected() -> None:
    """An ordinal file's fields built by hand (``PbFile``) where some voters have a points
    field and others none: rejected with the voter named, not counted half one way."""
    pb = parse_pb(
        "META\nkey;value\nbudget;10\nvote_type;ordinal\nPROJECTS\nproject_id;cost\n"
        "a;5\nb;5\nVOTES\nvoter_id;vote;points\nv1;a,b;2,1\nv2;b;1\n"
    )
    del pb.votes["v2"]["points"]
    with pytest.raises(PbFormatError, match="voter 'v2': a points field where others have none"):
        pb.election()


def test_a_ballot_whose_points_do_not_match_its_projects_is_refused() -> None:
    """Built by hand (not read from a file): refused with ``TallyError``, never counted."""
    from app.tally import Ballot, BallotRules, Election, Project, TallyError, tally

    projects = {p: Project(p, Fraction(5)) for p in "ab"}
    bad = (Ballot(("a", "b"), (Fraction(1),)),)
    election = Election(Fraction(10), projects, BallotRules("cumulative"), bad)
    with pytest.raises(TallyError, match="not as many points as projects"):
        tally(election, "greedy")


def _both_readers(tmp_path: Path, text: str) -> list[tuple[int, str] | None]:
    """What ``parse_pb`` and ``read_election`` make of ``text``: ``None`` if they read it,
    else the line and reason each refuses it with."""
    path = tmp_path / "both.pb"
    path.write_bytes(text.encode())
    outcomes: list[tuple[int, str] | None] = []
    for read in (lambda: parse_pb(text, name="both.pb").election(), lambda: read_election(path)):
        try:
            read()
            outcomes.append(None)
        except PbFormatError as exc:
            outcomes.append((exc.line, exc.reason))
    return outcomes


MANY = "9" * 4301


@pytest.mark.parametrize(
    ("old", "new", "line", "what"),
    [
        ("budget;100.5", f"budget;{MANY}", 3, "META budget"),
        ("budget;100.5", f"budget;0.{MANY[1:]}", 3, "META budget"),  # (4,300 places)
        ("p1;50;", f"p1;+{MANY};", 7, "cost of project 'p1'"),
        ("v1;p1,p2;2,1", f"v1;p1,p2;2,{MANY}", 11, "points of voter 'v1'"),
    ],
)
def test_a_number_with_too_many_digits_is_refused_with_its_line(
    tmp_path: Path, old: str, new: str, line: int, what: str
) -> None:
    """Past Python's 4,300-digit limit on reading an int, ``Fraction(text)`` raised a bare
    ValueError (``plaza tally`` stopped with a traceback): both readers refuse the number
    on its line instead."""
    reason = f"{what} has too many digits (4301; at most 4300)"
    assert _both_readers(tmp_path, GOOD.replace(old, new)) == [(line, reason)] * 2


def test_a_number_of_4300_digits_is_read(tmp_path: Path) -> None:
    for budget in ("9" * 4300, "1." + "5" * 4299, "-." + "5" * 4300):
        text = GOOD.replace("budget;100.5", f"budget;{budget}")
        expected = None if budget[0] != "-" else (3, "budget is negative")
        assert _both_readers(tmp_path, text) == [expected] * 2
        if expected is None:
            assert parse_pb(text).election().budget == Fraction(budget)


@pytest.mark.parametrize(
    ("text", "projects_header", "votes_header"),
    [
        (GOOD.replace("v1;p1,p2;2,1\n", ""), "project_id;cost;name", "voter_id;vote;points"),
        (
            GOOD.replace("v1;p1,p2;2,1\n", "").replace("cumulative", "approval"),
            "project_id;cost;name",
            "voter_id;vote",
        ),
        (
            "META\nkey;value\nbudget;10\nvote_type;scoring\nPROJECTS\nproject_id;cost;name\n"
            "VOTES\nvoter_id;vote;points;age\n",
            "project_id;cost",
            "voter_id;vote;points",
        ),
    ],
)
def test_sections_without_rows_are_written_with_their_required_columns(
    text: str, projects_header: str, votes_header: str
) -> None:
    """A section with no rows was written with its id column alone (``VOTES\\nvoter_id``),
    which the reader refuses, and a cumulative or scoring file lost its points column."""
    pb = parse_pb(text)
    written = write_pb(pb)
    assert f"\nPROJECTS\n{projects_header}\n" in written
    assert written.endswith(f"\nVOTES\n{votes_header}\n")
    assert parse_pb(written) == pb


SHORT = (
    "META\nkey;value\nbudget;100\nvote_type;approval\nPROJECTS\nproject_id;cost;name;category\n"
    "1;50;Park\n2;60;Road;transport\nVOTES\nvoter_id;vote;age;sex\n1;1,2;30;M\n2;1\n3\n"
)


def test_missing_trailing_fields_are_empty(tmp_path: Path) -> None:
    """A row with fewer fields than its header (pabutools and pabulib-checker read it; the
    checker fills the missing fields with ""): its missing trailing fields are empty, and
    a voter row with no vote field is an empty ballot, as ``3;`` is."""
    pb = parse_pb(SHORT)
    assert pb.projects["1"] == {"project_id": "1", "cost": "50", "name": "Park", "category": ""}
    assert pb.votes["2"] == {"voter_id": "2", "vote": "1", "age": "", "sex": ""}
    assert pb.votes["3"] == {"voter_id": "3", "vote": "", "age": "", "sex": ""}
    assert [b.projects for b in pb.election().ballots] == [("1", "2"), ("1",), ()]
    assert _both_readers(tmp_path, SHORT) == [None, None]
    assert read_election(tmp_path / "both.pb")[0] == pb.election()
    assert parse_pb(write_pb(pb)) == pb


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        ("1;50;Park", "1", 7, "project '1' has no cost"),
        ("1;50;Park", ";50", 7, "empty project_id"),
        ("voter_id;vote;age;sex\n1;1,2;30;M", "vote;voter_id;age;sex\n1,2", 11, "empty voter_id"),
        ("1;1,2;30;M", ";1", 11, "empty voter_id"),
        ("1;1,2;30;M", "1;1,2;30;M;x", 11, "VOTES row has 5 fields, header has 4"),
    ],
)
def test_a_short_row_missing_a_required_field_is_refused_for_it(
    tmp_path: Path, old: str, new: str, line: int, reason: str
) -> None:
    assert _both_readers(tmp_path, SHORT.replace(old, new)) == [(line, reason)] * 2


def test_a_points_file_row_missing_its_points_is_refused_unless_its_vote_is_empty(
    tmp_path: Path,
) -> None:
    text = GOOD.replace("v1;p1,p2;2,1\n", "v1;p1,p2;2,1\nv2;\nv3\nv4;p1\n")
    assert _both_readers(tmp_path, text) == [(14, "voter 'v4': 1 projects but 0 points")] * 2
    text = text.replace("v4;p1\n", "")
    assert _both_readers(tmp_path, text) == [None, None]
    assert [b.points for b in parse_pb(text).election().ballots] == [(2, 1), (), ()]


@pytest.mark.parametrize("kind", ["approval", "choose-1", "ordinal"])
def test_empty_items_in_a_vote_are_dropped(tmp_path: Path, kind: str) -> None:
    """``1,2,`` or ``1,,2`` (pabutools and pabulib-checker drop the empty item): read as
    ``1,2``, in both readers; ``,`` alone is an empty ballot."""
    votes = "v1;p1,p2,\nv2;p1,,p2\nv3;,p1, ,p2\nv4;p1,p2\nv5;,\nv6;p2,\n"
    text = GOOD.replace("v1;p1,p2;2,1\n", votes).replace("cumulative", kind)
    text = text.replace("voter_id;vote;points", "voter_id;vote")
    assert _both_readers(tmp_path, text) == [None, None]
    election = parse_pb(text).election()
    assert [b.projects for b in election.ballots] == [("p1", "p2")] * 4 + [(), ("p2",)]
    assert read_election(tmp_path / "both.pb")[0] == election


def test_an_ordinal_points_column_drops_its_empty_items_too(tmp_path: Path) -> None:
    votes = "v1;p1,p2,;2,1,\nv2;p2,,p1;2,,1\nv3;,;,\n"
    text = GOOD.replace("v1;p1,p2;2,1\n", votes).replace("cumulative", "ordinal")
    assert _both_readers(tmp_path, text) == [None, None]
    ballots = parse_pb(text).election().ballots
    assert [(b.projects, b.points) for b in ballots] == [
        (("p1", "p2"), (2, 1)),
        (("p2", "p1"), (2, 1)),
        ((), ()),
    ]


@pytest.mark.parametrize("kind", ["cumulative", "scoring"])
@pytest.mark.parametrize("vote", ["p1,p2,;2,1,", "p1,,p2;2,,1", "p1,p2,;2,1"])
def test_an_empty_item_in_a_points_vote_is_refused(tmp_path: Path, kind: str, vote: str) -> None:
    """Where points go with the projects in order, pabulib-checker drops empty items from
    each list apart but pabutools fails (``invalid digits``, ``IndexError``): the two
    differ, so the vote is refused, saying why."""
    text = GOOD.replace("v1;p1,p2;2,1", f"v1;{vote}").replace("cumulative", kind)
    ids = vote.split(";")[0]
    reason = (
        f"voter 'v1': empty project id in vote {ids!r} "
        f"(in a {kind} vote, whose points go with its projects in order)"
    )
    assert _both_readers(tmp_path, text) == [(11, reason)] * 2


def test_a_meta_value_with_an_unquoted_semicolon_is_kept_whole(tmp_path: Path) -> None:
    """``comment;#1: first round; paper ballots`` was refused (pabutools keeps the first
    part, pabulib-checker warns): the value is the rest of the row, so nothing is lost;
    trailing empty fields are not part of it, as before."""
    text = GOOD.replace(
        "vote_type;cumulative\n",
        "vote_type;cumulative\ncomment;#1: first round; paper ballots;;\nnote;a;;b\nbudget_2;7;\n",
    )
    assert _both_readers(tmp_path, text) == [None, None]
    pb = parse_pb(text)
    assert pb.meta["comment"] == "#1: first round; paper ballots"
    assert pb.meta["note"] == "a;;b" and pb.meta["budget_2"] == "7"
    assert read_election(tmp_path / "both.pb")[0].meta == pb.meta
    assert parse_pb(write_pb(pb)) == pb


def test_a_stray_quote_is_read_as_pabutools_and_the_checker_read_it(tmp_path: Path) -> None:
    """``1;50;"Konikowo" - plac zabaw`` was refused (``bad CSV quoting``: the reader was
    strict); pabutools and pabulib-checker read CSV leniently: the quotes that close a field
    early are dropped, a quote inside an unquoted field is text."""
    text = GOOD.replace('p1;50;"a; b"', 'p1;50;"Konikowo" - plac zabaw').replace(
        "p2;60;x", 'p2;60;bi"ke ""path"'
    )
    assert _both_readers(tmp_path, text) == [None, None]
    pb = parse_pb(text)
    assert pb.projects["p1"]["name"] == "Konikowo - plac zabaw"
    assert pb.projects["p2"]["name"] == 'bi"ke ""path"'
    assert parse_pb(write_pb(pb)) == pb


def test_line_numbers_after_quoted_fields_over_several_lines(tmp_path: Path) -> None:
    """A quoted field may hold line ends (and be followed by stray text): later rows keep
    their own line numbers, and a quoted field never closed is refused on its row's line."""
    text = GOOD.replace('"a; b"', '"a;\nb\r\n" - c').replace("p2;60;x", "p2;6O;x")
    assert (
        _both_readers(tmp_path, text)
        == [(10, "cost of project 'p2' is not a decimal number: '6O'")] * 2
    )
    assert parse_pb(text.replace("6O", "60")).projects["p1"]["name"] == "a;\nb\r\n - c"
    never_closed = "bad CSV quoting: a quoted field is never closed"
    for broken, line in [
        (GOOD.replace('"a; b"', '"a; b'), 7),
        (GOOD.replace("v1;p1,p2;2,1\n", 'v1;p1,p2;"2,1\n'), 11),
        (GOOD.replace("v1;p1,p2;2,1\n", 'v1;p1,p2;2,1\n"'), 12),  # (no line end after it)
        (GOOD + '"\n', 12),
    ]:
        assert _both_readers(tmp_path, broken) == [(line, never_closed)] * 2
    for end in ("\uffff\n", "\uffff"):  # (the text of the line fed after the file's last)
        assert _both_readers(tmp_path, GOOD + end) == [None, None]
        assert parse_pb(GOOD + end).votes["\uffff"]["vote"] == ""


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        ("budget;100.5", "budget;lots", 3, "META budget is not a decimal number: 'lots'"),
        ("budget;100.5", "budget;-1", 3, "budget is negative"),
        ("budget;100.5\n", "budget;100.5\nmax_length;2.5\n", 4, "META max_length is not a whole"),
        ("vote_type;cumulative\n", "vote_type;cumulative\nmin_points;x\n", 5, "META min_points"),
    ],
)
def test_a_bad_meta_number_is_reported_before_a_later_error(
    tmp_path: Path, old: str, new: str, line: int, reason: str
) -> None:
    """META's numbers were checked only once the whole file was read, so a bad cost on a
    later line was reported first: now the first error in file order is."""
    text = GOOD.replace(old, new).replace("p1;50;", "p1;5O;")  # (a bad cost on line 7 or 8)
    first, second = _both_readers(tmp_path, text)
    assert first == second and first is not None
    assert first[0] == line and first[1].startswith(reason)
    # and before an unknown vote_type on a later line, after one on an earlier line
    borda = text.replace("vote_type;cumulative", "vote_type;borda")
    vote_type_line = borda.splitlines().index("vote_type;borda") + 1
    first, _ = _both_readers(tmp_path, borda)
    assert first is not None and first[0] == min(line, vote_type_line)


@pytest.mark.parametrize("kind", ["cumulative", "scoring"])
def test_empty_items_at_the_end_of_points_are_dropped(tmp_path: Path, kind: str) -> None:
    """``p1,p2;2,1,``: pabutools reads as many points as projects and pabulib-checker drops
    empty items, so both read ``2,1``; an empty item before the last point is refused."""
    text = GOOD.replace("v1;p1,p2;2,1", "v1;p1,p2;2,1, ,").replace("cumulative", kind)
    assert _both_readers(tmp_path, text) == [None, None]
    assert parse_pb(text).election().ballots[0].points == (2, 1)
    text = text.replace("2,1, ,", "2,,1")
    reason = "voter 'v1': 2 projects but 3 points"
    assert _both_readers(tmp_path, text) == [(11, reason)] * 2
