"""The data model of an election: projects, ballot rules, ballots, and errors.

Money and points are exact: ``fractions.Fraction`` (budgets and costs may have decimals in
real files, e.g. ``1874242.57``). Nothing here is ever a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

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
