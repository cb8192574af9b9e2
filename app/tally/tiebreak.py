"""Explicit, recorded tie-breaking.

``default`` is equalshares.net's order: lower cost first, then more votes (supporters), then a
lot drawn from a seed fixed before voting opens (SHA-256 of the seed and the project id, so
anyone can redraw it). ``pabutools`` reproduces pabutools' default (lexicographic order of the
project ids as strings), so that the two implementations can be compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction

from app.tally.model import Election, TallyError, counted_ballots

TIE_BREAKS = ("default", "pabutools")
TieKey = tuple[Fraction | int | str | bytes, ...]


def lot(seed: bytes, project_id: str) -> bytes:
    """The lot of a project: SHA-256(len(seed) || seed || project id); lower draws first."""
    data = len(seed).to_bytes(4, "big") + seed + project_id.encode("utf-8")
    return hashlib.sha256(data).digest()


def supporters(election: Election) -> dict[str, int]:
    """Number of ballots that include each project."""
    counts = dict.fromkeys(election.projects, 0)
    counted = counted_ballots(election.ballots)
    for pid, n in zip(counted.ids, counted.votes(), strict=True):
        counts[pid] += n
    return counts


def tie_key_function(
    election: Election, tie_break: str, seed: bytes, votes: Mapping[str, int] | None = None
) -> Callable[[str], TieKey]:
    """A sort key: among tied projects, the smallest key wins."""
    if tie_break == "pabutools":
        return lambda pid: (pid,)
    if tie_break != "default":
        raise TallyError(
            f"unknown tie-break {tie_break!r} (expected one of {', '.join(TIE_BREAKS)})"
        )
    counts = votes if votes is not None else supporters(election)
    projects = election.projects
    keys = {pid: (projects[pid].cost, -counts[pid], lot(seed, pid)) for pid in projects}
    return keys.__getitem__


def describe_tie(tied: Iterable[str], winner: str, tie_break: str) -> str:
    names = ", ".join(sorted(tied))
    if tie_break == "pabutools":
        how = "pabutools' order (lowest project id as text)"
    else:
        how = "lower cost, then more votes, then the seeded lot"
    return f"tie between {names}; {winner} chosen by {how}"
