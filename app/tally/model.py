"""The data model of an election: projects, ballot rules, ballots, and errors.

Money and points are exact: ``fractions.Fraction`` (budgets and costs may have decimals in
real files, e.g. ``1874242.57``). Nothing here is ever a float.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, Self, overload

BallotKind = Literal["approval", "choose-1", "cumulative", "ordinal", "scoring"]
BALLOT_KINDS: tuple[BallotKind, ...] = ("approval", "choose-1", "cumulative", "ordinal", "scoring")
POINTS_KINDS: frozenset[str] = frozenset({"cumulative", "scoring"})
ZERO = Fraction(0)


class TallyError(ValueError):
    """A rule or ballot kind the engine does not support, or an election it cannot count."""


class PbFormatError(TallyError):
    """A broken pabulib ``.pb`` file: ``line`` is the 1-based line number (0 if unknown)."""

    def __init__(self, line: int, reason: str, *, name: str = "") -> None:
        self.line = line
        self.reason = reason
        self.name = name
        where = f"{name}: " if name else ""
        at = f"line {line}: " if line else ""
        super().__init__(f"{where}{at}{reason}")


@dataclass(frozen=True, slots=True)
class Project:
    """A project on the ballot. ``cost`` is exact (Fraction, whole currency units)."""

    id: str
    cost: Fraction
    name: str = ""


@dataclass(frozen=True, slots=True)
class BallotRules:
    """What a valid ballot looks like.

    ``rank_points`` is the scoring of ranks for ordinal ballots (points of rank 1, 2, ...);
    ``None`` means the pabulib convention: a ballot ranking k projects gives k, k-1, ..., 1.
    """

    kind: BallotKind
    min_length: int | None = None
    max_length: int | None = None
    min_sum_cost: Fraction | None = None
    max_sum_cost: Fraction | None = None
    min_points: Fraction | None = None
    max_points: Fraction | None = None
    min_sum_points: Fraction | None = None
    max_sum_points: Fraction | None = None
    rank_points: tuple[Fraction, ...] | None = None


@dataclass(frozen=True, slots=True)
class Ballot:
    """One voter's ballot: project ids (in rank order for ordinal ballots) and, for points
    kinds (and ordinal files with an explicit ``points`` column), the points given to each."""

    projects: tuple[str, ...]
    points: tuple[Fraction, ...] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Counted:
    """Each distinct ballot once, packed into flat arrays, with how many voters cast it.

    A city of 250,000 voters has nearly as many distinct ballots: as ``Ballot`` objects (a
    tuple of ids each) they took about 150 bytes a ballot, packed they take about 40. The
    ``j``-th distinct ballot names the projects ``ids[k]`` for ``k`` in ``items[ends[j - 1]
    : ends[j]]``, in ballot order, with ``points`` in the same places (``None``: no ballot
    has points; ``pointless``: the ballots without points where others have them).
    ``distinct[j]`` (or iterating) gives it back as a ``Ballot``, built when asked."""

    ids: tuple[str, ...]
    items: array[int]  # ("I") indices in ``ids``
    ends: array[int]  # ("Q")
    counts: array[int]  # ("I")
    points: list[Fraction] | None = None
    pointless: frozenset[int] = frozenset()

    @property
    def distinct(self) -> BallotView:
        return BallotView(self, range(len(self.counts)))

    def ballot(self, j: int) -> Ballot:
        """The ``j``-th distinct ballot (a new object each time; equal ones compare equal)."""
        end = self.ends[j]
        start = self.ends[j - 1] if j else 0
        ids = self.ids
        projects = tuple([ids[k] for k in self.items[start:end]])
        if self.points is None or j in self.pointless:
            return Ballot(projects)
        return Ballot(projects, tuple(self.points[start:end]))

    def __iter__(self) -> Iterator[tuple[Ballot, int]]:
        return zip(map(self.ballot, range(len(self.counts))), self.counts, strict=True)

    def __len__(self) -> int:
        return len(self.counts)

    def votes(self) -> list[int]:
        """How many voters name each project (by index in ``ids``)."""
        votes = [0] * len(self.ids)
        items, start = self.items, 0
        for end, n in zip(self.ends, self.counts, strict=True):
            for k in items[start:end]:
                votes[k] += n
            start = end
        return votes


class BallotView(Sequence[Ballot]):
    """Ballots named by their place among ``counted``'s distinct ballots (``which``), each
    built as a ``Ballot`` when asked: ``Counted.distinct`` (each once) and ``PackedBallots``
    (one per voter)."""

    __slots__ = ("counted", "which")

    def __init__(self, counted: Counted, which: Sequence[int]) -> None:
        self.counted = counted
        self.which = which

    def __len__(self) -> int:
        return len(self.which)

    @overload
    def __getitem__(self, i: int) -> Ballot: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Ballot, ...]: ...
    def __getitem__(self, i: int | slice) -> Ballot | tuple[Ballot, ...]:
        if isinstance(i, slice):
            return tuple(map(self.counted.ballot, self.which[i]))
        return self.counted.ballot(self.which[i])

    def __iter__(self) -> Iterator[Ballot]:
        return map(self.counted.ballot, self.which)


class Packer:
    """Builds a ``Counted`` one distinct ballot at a time (the ``.pb`` reader and
    ``count_ballots``): project ids become small integers in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.items: array[int] = array("I")
        self.ends: array[int] = array("Q")
        self.counts: array[int] = array("I")
        self.points: list[Fraction] | None = None
        self.pointless: set[int] = set()

    def add(self, projects: Iterable[str], points: Sequence[Fraction] | None, n: int) -> int:
        """Adds a distinct ballot cast ``n`` times; returns its index."""
        index = self.index
        return self.add_items([index.setdefault(pid, len(index)) for pid in projects], points, n)

    def add_items(self, items: Sequence[int], points: Sequence[Fraction] | None, n: int) -> int:
        """``add``, with the projects already indices in ``index``."""
        j = len(self.counts)
        before = len(self.items)
        self.items.extend(items)
        if points is not None:
            if len(points) != len(items):
                del self.items[before:]
                raise TallyError("a ballot has not as many points as projects")
            if self.points is None:  # (the first ballot with points: those before had none)
                self.points = [ZERO] * before
                self.pointless.update(range(j))
            self.points.extend(points)
        elif self.points is not None:
            self.pointless.add(j)
            self.points.extend([ZERO] * len(items))
        self.ends.append(len(self.items))
        self.counts.append(n)
        return j

    def items_of(self, j: int) -> array[int]:
        """The ``j``-th ballot's projects (indices in ``index``)."""
        return self.items[self.ends[j - 1] if j else 0 : self.ends[j]]

    def same(self, j: int, items: Sequence[int], points: Sequence[Fraction] | None) -> bool:
        """Whether the ``j``-th ballot is ``items`` (indices) with ``points``."""
        mine = self.items_of(j)
        if mine.tolist() != list(items):
            return False
        end = self.ends[j]
        start = end - len(mine)
        if self.points is None or j in self.pointless:
            return points is None
        return points is not None and self.points[start:end] == list(points)

    def finish(self) -> Counted:
        ids = tuple(self.index)
        return Counted(
            ids, self.items, self.ends, self.counts, self.points, frozenset(self.pointless)
        )


def count_ballots(ballots: Sequence[Ballot]) -> Counted:
    """``Counted`` by identity: callers that build ballots (the results service, tests)
    give identical ones one shared object, so this collapses them without hashing a ballot
    (C loops only: about 0.1 us a voter), then packs them. Equal ballots that are separate
    objects are counted apart, which no rule minds (each sums over what it is given)."""
    objects = dict(zip(map(id, ballots), ballots, strict=True))  # (first appearance order)
    counts = Counter(map(id, ballots))  # (the same order)
    packer = Packer()
    for ballot, n in zip(objects.values(), counts.values(), strict=True):
        packer.add(ballot.projects, ballot.points, n)
    return packer.finish()


class Ballots(tuple[Ballot, ...]):
    """An election's ballots (a tuple) that know their ``Counted``, counted here by identity.
    A rule then walks distinct ballots, not voters. A slice or a concatenation of it is a
    plain tuple again (counted when a rule asks, ``counted_ballots``), so the counts never
    describe other ballots."""

    counted: Counted

    def __new__(cls, ballots: Iterable[Ballot] = (), counted: Counted | None = None) -> Self:
        self = super().__new__(cls, ballots)
        self.counted = count_ballots(self) if counted is None else counted
        return self


class PackedBallots(BallotView):
    """An election's ballots as the ``.pb`` reader keeps them: the distinct ballots packed
    (``counted``) and which of them each voter cast (``which``, 4 bytes a voter). Indexing or
    iterating builds each voter's ``Ballot`` when asked; it compares equal to any sequence of
    equal ballots, and a slice or a product of it is a plain tuple."""

    __slots__ = ()

    def __init__(self, counted: Counted, which: array[int]) -> None:
        super().__init__(counted, which)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Sequence[Ballot]) -> tuple[Ballot, ...]:
        return (*self, *other)

    def __mul__(self, times: int) -> tuple[Ballot, ...]:
        return tuple(self) * times

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"PackedBallots({len(self)} voters, {len(self.counted)} distinct ballots)"


def counted_ballots(ballots: Sequence[Ballot]) -> Counted:
    """``count_ballots``, kept by ``Ballots`` and ``PackedBallots``."""
    if isinstance(ballots, Ballots | PackedBallots):
        return ballots.counted
    return count_ballots(ballots)


@dataclass(frozen=True)
class Election:
    """Everything a rule needs: the budget, the projects, the ballot rules and the ballots.

    ``score_threshold`` is pabulib's META ``min_project_score_threshold`` (used by
    ``greedy-threshold``).
    """

    budget: Fraction
    projects: dict[str, Project]
    rules: BallotRules
    ballots: Sequence[Ballot]
    score_threshold: Fraction | None = None
    meta: dict[str, str] = field(default_factory=dict)


def ballot_points(rules: BallotRules, ballot: Ballot) -> tuple[Fraction, ...]:
    """The points a ballot gives to each of its projects (1 each for approval kinds)."""
    n = len(ballot.projects)
    if rules.kind in ("approval", "choose-1"):
        return (Fraction(1),) * n
    if ballot.points is not None:
        return ballot.points
    if rules.kind == "ordinal":
        if rules.rank_points is not None:
            scale = rules.rank_points
            return tuple(scale[i] if i < len(scale) else Fraction(0) for i in range(n))
        return tuple(Fraction(n - i) for i in range(n))
    raise TallyError(f"a {rules.kind} ballot needs points")
