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
from typing import Literal, Self

BallotKind = Literal["approval", "choose-1", "cumulative", "ordinal", "scoring"]
BALLOT_KINDS: tuple[BallotKind, ...] = ("approval", "choose-1", "cumulative", "ordinal", "scoring")
POINTS_KINDS: frozenset[str] = frozenset({"cumulative", "scoring"})


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


@dataclass(frozen=True, slots=True)
class Counted:
    """Each distinct ballot *object* of a sequence once, in order of first appearance, with how
    many voters cast it: compact (a city of 65,000 voters and 31,000 distinct ballots holds
    0.4 MB here; as pairs of Python objects it was 7 MB)."""

    distinct: tuple[Ballot, ...]
    counts: array[int]  # ("I")

    def __iter__(self) -> Iterator[tuple[Ballot, int]]:
        return zip(self.distinct, self.counts, strict=True)

    def __len__(self) -> int:
        return len(self.distinct)


def count_ballots(ballots: Sequence[Ballot]) -> Counted:
    """``Counted`` by identity: readers give identical ballots one shared object, so this
    collapses them without hashing a ballot (C loops only: about 0.1 us a voter). Equal
    ballots that are separate objects are counted apart, which no rule minds (each sums over
    what it is given)."""
    objects = dict(zip(map(id, ballots), ballots, strict=True))  # (first appearance order)
    counts = Counter(map(id, ballots))  # (the same order)
    return Counted(tuple(objects.values()), array("I", counts.values()))


class Ballots(tuple[Ballot, ...]):
    """An election's ballots (a tuple) that know their ``Counted``: counted here by identity,
    or handed over by the ``.pb`` reader, which counts as it reads. A rule then walks distinct
    ballots, not voters. A slice or a concatenation of it is a plain tuple again (counted when
    a rule asks, ``counted_ballots``), so the counts never describe other ballots."""

    counted: Counted

    def __new__(cls, ballots: Iterable[Ballot] = (), counted: Counted | None = None) -> Self:
        self = super().__new__(cls, ballots)
        self.counted = count_ballots(self) if counted is None else counted
        return self


def counted_ballots(ballots: Sequence[Ballot]) -> Counted:
    """``count_ballots``, kept by ``Ballots``."""
    return ballots.counted if isinstance(ballots, Ballots) else count_ballots(ballots)


@dataclass(frozen=True)
class Election:
    """Everything a rule needs: the budget, the projects, the ballot rules and the ballots.

    ``score_threshold`` is pabulib's META ``min_project_score_threshold`` (used by
    ``greedy-threshold``).
    """

    budget: Fraction
    projects: dict[str, Project]
    rules: BallotRules
    ballots: tuple[Ballot, ...]
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
