"""The Method of Equal Shares (MES) and its add-one completion, exact and fast.

Every voter starts with the same budget ``b`` (``budget / number of ballots`` for plain equal
shares). In each round the project that its supporters can buy at the lowest price per unit of
utility ``rho`` is bought: a supporter with utility ``u`` pays ``min(own money, rho * u)``.
Utilities are costs for approval and choose-1 ballots (so supporters pay equal shares) and
points for cumulative and scoring ballots. A project whose supporters together hold less
money than its cost is out for good. Free projects with a supporter are funded first.

This module is the reference run (``run``, in ``Fraction``s) and the add-one search; the runs
themselves are made on numpy arrays by ``mes_np`` whenever the election fits them (whole units
of utility, money within floats' safe range), with the same result. Here:

* voters are bits of Python integers; the supporters of a project are one bitset per utility
  value, and voters whose remaining money is equal form one *class* (a bitset). Counting the
  supporters of a project in a class is one ``&`` and one ``bit_count()``;
* a project is re-evaluated only when it may have become the cheapest (prices only rise
  during a run, so the last price is a lower bound) and only if one of its supporters paid
  since its last evaluation; a price is found by walking the classes from the poorest up to
  the first supporter who can pay;
* add-one does not run every budget of the schedule: two runs at budgets ``b1 < b2`` that
  pass a certificate (``_add_one_bracketed``) prove that every budget in between gives the
  same outcome, and the schedule is searched by galloping over such certificates.
"""

from __future__ import annotations

import functools
import math
import operator
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from app.tally.model import Election, ballot_points, counted_ballots
from app.tally.outcome import Number, Outcome, money, plural
from app.tally.tiebreak import TieKey, describe_tie

ZERO = Fraction(0)
QUICK = 0.002  # seconds: a first add-one run on bitsets this fast keeps the search on them
FEW = 12  # candidates: at most this many, add-one tries bitsets first
#: a first run on bitsets with more rounds than this goes to the arrays however quick: the
#: bitsets' money classes multiply with the rounds (on the small files of ../shared/pabulib,
#: first runs of 5-7 rounds ran add-one 3-7 times faster on the arrays; of 0-2 rounds, up
#: to 3 times faster on bitsets, but for one 1.2 times slower)
FEW_ROUNDS = 3
#: budgets of the add-one schedule run one by one at a time where certificates fail (on the
#: large files of ../shared/pabulib, 8 did better than 4 or than doubling to 16)
BLOCK = 8
#: on bitsets, the galloping's next step after the very next budget certified (on the small
#: files of ../shared/pabulib: 304 runs in all against 326 with 2)
NEXT_STEP = 16
#: a proof over a span of budgets (``mes_span.within``) may take twice the rounds of a run
#: and this many more
SPAN_NODES = 8


@dataclass
class Prepared:
    """What a run needs from the election, independent of the per-voter budget."""

    n: int
    cost: dict[str, Fraction]
    #: project -> the utilities its supporters give it, ascending
    utilities: dict[str, list[Fraction]]
    union: dict[str, int]  # project -> bitset of its supporters
    candidates: list[str]  # supported, cost > 0
    free: list[str]  # supported, cost 0
    unsupported: list[str]
    all_voters: int
    cost_utilities: bool
    #: project -> the voters giving it each of its ``utilities``, in the same order, as sorted
    #: numpy index arrays (what ``mes_np.arrays_of`` runs on)
    members: dict[str, list[Any]] = field(repr=False)
    #: candidate -> (its price while nobody has paid anything, the largest share of it one
    #: voter pays, its number of supporters): with every voter holding ``b >=`` that share,
    #: everyone pays it, at every budget; with ``b`` times the supporters below its cost, it
    #: is out of reach (the first round, computed once for all of add-one's runs)
    first: dict[str, tuple[Fraction, Fraction, int]] = field(repr=False)
    #: how many voters cast each distinct ballot: voters are numbered by distinct ballot, so
    #: the voters of the ``j``-th are the next ``ballot_counts[j]`` (a numpy array)
    ballot_counts: Any = field(repr=False)
    #: as ``members``, the distinct ballots (their indices, ascending) instead of the voters
    ballots_of: dict[str, list[Any]] = field(repr=False)

    @functools.cached_property
    def groups(self) -> dict[str, list[tuple[Fraction, int]]]:
        """project -> [(utility, bitset of the voters giving it)]: what ``run`` (on bitsets)
        counts with; built when first needed (the arrays never need them)."""
        return {
            pid: [
                (u, _bitset(found, self.n))
                for u, found in zip(self.utilities[pid], self.members[pid], strict=True)
            ]
            for pid in self.utilities
        }


def prepare(election: Election) -> Prepared:
    import numpy as np  # (equal shares runs on numpy arrays wherever it can)

    cost_utilities = election.rules.kind in ("approval", "choose-1")
    rules = election.rules
    projects = election.projects
    # Voters are numbered by distinct ballot (``counted_ballots``): the voters who cast the
    # ``j``-th one are ``starts[j] .. starts[j] + counts[j] - 1``. Nothing here is done per
    # voter in Python; a rule does not depend on the order of the voters.
    counted = counted_ballots(election.ballots)
    counts = np.frombuffer(counted.counts, dtype=f"u{counted.counts.itemsize}").astype(np.intp)
    starts = np.cumsum(counts) - counts
    counts32 = counts.astype(np.int32)  # (an index-sized copy per approval would be twice as big)
    # project -> utility -> the distinct ballots giving it (compact arrays: a city of 250,000
    # voters has nearly as many distinct ballots, and a list of ints is 9 times larger)
    chosen: dict[str, dict[Fraction, Any]] = {pid: {} for pid in projects}  # (int32 buffers)
    if cost_utilities:  # the utility is the cost: one group per project
        # the packed ballots' projects sorted by project (stably: each project's distinct
        # ballots ascending), with the distinct ballot each came from
        items = np.frombuffer(counted.items, dtype=f"u{counted.items.itemsize}")
        ends = np.frombuffer(counted.ends, dtype=f"u{counted.ends.itemsize}").astype(np.intp)
        lengths = np.diff(ends, prepend=0)
        owner = np.repeat(np.arange(len(counted), dtype=f"i{array('i').itemsize}"), lengths)
        owner = owner[np.argsort(items, kind="stable")]
        per = np.bincount(items, minlength=len(counted.ids))
        for k, group in enumerate(np.split(owner, np.cumsum(per)[:-1])):
            if len(group):
                pid = counted.ids[k]
                chosen[pid][projects[pid].cost] = group
        del items, owner, ends, lengths
    else:  # (keyed by (numerator, denominator): hashing a Fraction per vote is slow)
        by_pair: dict[str, dict[tuple[int, int], array[int]]] = {pid: {} for pid in projects}
        for j, ballot in enumerate(counted.distinct):
            for pid, u in zip(ballot.projects, ballot_points(rules, ballot), strict=True):
                if u.numerator > 0:  # (faster than comparing Fractions)
                    pair = (u.numerator, u.denominator)
                    if pair in by_pair[pid]:
                        by_pair[pid][pair].append(j)
                    else:
                        by_pair[pid][pair] = array("i", (j,))
        for pid, pairs in by_pair.items():
            for (num, den), js in pairs.items():
                chosen[pid][Fraction(num, den)] = js
    # a group per project and utility (ascending): ``which`` holds every group's distinct
    # ballots in turn, ``sizes`` how many each has
    utilities = {pid: sorted(by_u) for pid, by_u in chosen.items()}
    parts = [chosen[pid][u] for pid in projects for u in utilities[pid]]
    which = np.frombuffer(b"".join(parts), dtype=f"i{array('i').itemsize}")
    sizes = np.fromiter(map(len, parts), dtype=np.intp, count=len(parts))
    n = len(election.ballots)
    # every group's distinct ballots expanded to voters at once (numpy calls per group cost
    # more than the work: Częstochowa has 805 groups), then cut into the groups
    voters_of = counts32[which]
    group_ends = (
        np.cumsum(np.add.reduceat(voters_of, np.cumsum(sizes) - sizes, dtype=np.intp))
        if len(sizes)  # (every group has a ballot)
        else sizes
    )
    del voters_of
    expanded = _ranges(starts, counts32, which)
    expanded.flags.writeable = False  # (shared by ``members`` and the arrays' ``sup``)
    cut = iter(np.split(expanded, group_ends[:-1]))
    members = {pid: [next(cut) for _ in utilities[pid]] for pid in projects}
    cut = iter(np.split(which, np.cumsum(sizes)[:-1]))  # (views: no copy)
    ballots_of = {pid: [next(cut) for _ in utilities[pid]] for pid in projects}
    union = {
        pid: _bitset(found[0] if len(found) == 1 else np.concatenate(found), n) if found else 0
        for pid, found in members.items()
    }
    candidates = [pid for pid in projects if union[pid] and projects[pid].cost > 0]
    free = [pid for pid in projects if union[pid] and projects[pid].cost == 0]
    unsupported = [pid for pid in projects if not union[pid]]
    backers = {pid: sum(map(len, members[pid])) for pid in candidates}
    return Prepared(
        n=n,
        cost={pid: p.cost for pid, p in projects.items()},
        utilities=utilities,
        union=union,
        candidates=candidates,
        free=free,
        unsupported=unsupported,
        all_voters=(1 << n) - 1,
        cost_utilities=cost_utilities,
        members=members,
        ballot_counts=counts,
        ballots_of=ballots_of,
        first={
            pid: (price, price * utilities[pid][-1], backers[pid])
            for pid in candidates
            for price in [
                projects[pid].cost
                / sum(
                    (u * len(found) for u, found in zip(utilities[pid], members[pid], strict=True)),
                    ZERO,
                )
            ]
        },
    )


def _ranges(starts: Any, lengths: Any, which: Any, chunk: int = 1 << 16) -> Any:
    """The integers of the ranges ``starts[i] .. starts[i] + lengths[i] - 1`` for ``i`` in
    ``which``, in order, as one numpy array (sorted where the ranges are). Built ``chunk``
    ranges at a time: the temporaries stay small beside the result (a city of 250,000 voters
    has 1.4 million approvals: 11 MB each)."""
    import numpy as np

    total = int(lengths[which].sum(dtype=np.intp))
    out = np.empty(total, dtype=np.intp)
    done = 0
    for first in range(0, len(which), chunk):
        part = which[first : first + chunk]
        begin, size = starts[part].astype(np.intp), lengths[part].astype(np.intp)
        piece = out[done : done + int(size.sum())]
        done += len(piece)
        if len(piece) == len(part):  # (ranges of one: every ballot cast once)
            piece[:] = begin
            continue
        # steps of one, and at each range's first place the jump from the end of the one
        # before, summed in place
        piece.fill(1)
        firsts = np.cumsum(size)
        firsts -= size
        jumps = np.subtract(begin[1:], begin[:-1], dtype=np.intp)
        jumps -= size[:-1]
        jumps += 1
        piece[firsts[1:]] = jumps
        piece[0] = begin[0]
        np.cumsum(piece, out=piece)
    return out


def _bitset(indices: Any, n: int) -> int:
    if len(indices) > 64 and not isinstance(indices, list):  # (prepare's compact or numpy
        # arrays, for equal shares, which loads numpy anyway): one byte per voter, packed to
        # bits by numpy
        import numpy as np

        flags = np.zeros(n, dtype=np.uint8)
        if isinstance(indices, array):
            flags[np.frombuffer(indices, dtype=f"i{indices.itemsize}")] = 1
        else:
            flags[indices] = 1
        return int.from_bytes(np.packbits(flags, bitorder="little").tobytes(), "little")
    if len(indices) > n >> 4:  # dense: one character per voter, read as binary digits
        text = bytearray(b"0" * n)
        for i in indices:
            text[n - 1 - i] = 49  # ASCII "1"; bit i of the integer is voter i
        return int(text, 2)
    raw = bytearray((n + 7) >> 3)  # sparse: one bit per voter
    for i in indices:
        raw[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(raw, "little")


@dataclass
class Payment:
    utility: Fraction
    voters: int
    paid_each: Fraction
    all_they_had: bool
    average: bool = False  # paid_each is the average of different leftovers


@dataclass
class Round:
    project: str
    rho: Fraction
    payments: list[Payment]
    tied: list[str]


@dataclass
class RunResult:
    b: Fraction
    selected: list[str]
    rounds: list[Round]
    rho: dict[str, Fraction]  # last price seen per project (selection price for winners)
    shortfall: dict[str, Fraction]  # unfunded candidates: cost - supporters' money at the end
    evaluations: int = 0
    ties: list[str] = field(default_factory=list)
    #: (winner, exact price) per round, in the accelerated rational type
    path: list[tuple[str, Any]] = field(default_factory=list)
    #: with ``certify``: whether every budget between the two runs makes the same decisions
    certified: bool = False
    #: with ``keep_bounds`` (``mes_np.run_np``): per round, a lower bound of the price of every
    #: project still in the running (projects out of money are absent), for a run at a lower
    #: budget (``above``)
    bounds: list[dict[str, float]] | None = field(default=None, compare=False, repr=False)
    #: with ``certify`` and ``limit`` (``run``, ``mes_np.run_np``): the certificate failed, but
    #: every budget between the two runs surely spends at most ``limit``
    within: bool = field(default=False, compare=False)


class _Class:
    """Voters with the same remaining money ``v``."""

    __slots__ = ("v", "mask")

    def __init__(self, v: Any, mask: int) -> None:
        self.v = v
        self.mask = mask


_money = operator.attrgetter("v")
_first = operator.itemgetter(0)


def run(
    prep: Prepared,
    b: Fraction,
    tie_key: Callable[[str], TieKey],
    tie_break: str,
    *,
    certify: list[tuple[str, Any]] | None = None,
    limit: Fraction | None = None,
) -> RunResult:
    """One run of MES with per-voter budget ``b``, in exact arithmetic (``Fraction``s): the
    reference that ``mes_np.run_np`` equals, and the run for elections the arrays cannot hold.

    With ``certify`` (the ``path`` of a run at a lower budget), also whether this run certifies
    that every budget in between makes the same decisions (see ``_add_one_bracketed``); with
    ``limit`` too, where that fails, whether every budget in between surely spends at most
    ``limit`` (``within``: see ``mes_np.run_np``)."""
    cost = prep.cost
    groups = prep.groups
    union = prep.union
    first = prep.first
    zero = ZERO
    classes: list[_Class] = [_Class(b, prep.all_voters)]  # sorted by money
    alive = prep.all_voters  # voters with money left
    selected: list[str] = list(sorted(prep.free, key=tie_key))
    rounds: list[Round] = []
    ties: list[str] = []
    remaining = set(prep.candidates)
    lower: dict[str, Any] = dict.fromkeys(remaining, zero)  # prices only rise during a run
    dirty = set(remaining)
    last_rho: dict[str, Any] = {}
    shortfall: dict[str, Any] = {}
    evaluations = 0
    cache: dict[str, Any] = {}
    path: list[tuple[str, Any]] = []
    certified = certify is not None
    within = False

    def evaluate(pid: str) -> Any:
        """The price of ``pid`` now, or None if its supporters cannot afford it: walk the
        supporters from the poorest (by money per utility) up to the first who can pay the
        price; the richer ones only count (one popcount per utility value)."""
        nonlocal evaluations
        evaluations += 1
        if not rounds:  # nobody has paid yet: every voter holds ``b``
            price, share, backers = first[pid]
            if share <= b:
                return price
            held = backers * b
            if held < cost[pid]:  # out of reach from the start
                shortfall[pid] = cost[pid] - held
                return None
        c = cost[pid]
        entries = groups[pid]
        left_u = zero
        for u, mask in entries:
            left_u += (alive & mask).bit_count() * u
        paid_v = zero
        if len(entries) == 1:
            u, mask = entries[0]
            for cls in classes:  # sorted by money
                k = (cls.mask & mask).bit_count()
                if not k:
                    continue
                factor = (c - paid_v) / left_u
                if factor * u <= cls.v:
                    return factor
                paid_v += k * cls.v
                left_u -= k * u
        else:
            items = []
            supporters = union[pid]
            for cls in classes:
                inter = cls.mask & supporters
                if inter:
                    for u, mask in entries:
                        k = (inter & mask).bit_count()
                        if k:
                            items.append((cls.v / u, cls.v, k, u))
            items.sort(key=_first)
            for _, v, k, u in items:
                factor = (c - paid_v) / left_u
                if factor * u <= v:
                    return factor
                paid_v += k * v
                left_u -= k * u
        shortfall[pid] = c - paid_v
        return None

    while remaining:
        order = sorted(remaining, key=lambda p: (lower[p], tie_key(p)))
        best: Any = None
        tied: list[str] = []
        evaluated: dict[str, Any] = {}
        target: Any = None
        if certified and certify is not None and len(rounds) < len(certify):
            target = certify[len(rounds)][1]
        for pid in order:
            if best is not None and lower[pid] > best and (target is None or lower[pid] > target):
                continue
            if pid in dirty:
                result = evaluate(pid)
                dirty.discard(pid)
                if result is None:
                    remaining.discard(pid)
                    cache.pop(pid, None)
                    continue
                cache[pid] = result
                lower[pid] = result
            rho = cache[pid]
            evaluated[pid] = rho
            last_rho[pid] = rho
            if best is None or rho < best:
                best = rho
                tied = [pid]
            elif rho == best:
                tied.append(pid)
        if best is None:
            break
        winner = min(tied, key=tie_key)
        if len(tied) > 1:
            ties.append(describe_tie(tied, winner, tie_break))
        if certified and certify is not None:  # (a round the lower run did not have fails)
            certified = target is not None and _beats_all(
                winner, certify[len(rounds)][0], target, evaluated, tie_key
            )
            if not certified and limit is not None:
                # what any budget in between can still buy: projects whose supporters hold
                # their cost here now (see mes_np.run_np); exact, by classes of money
                maybe = [
                    pid
                    for pid in remaining
                    if sum((cls.v * (cls.mask & union[pid]).bit_count() for cls in classes), zero)
                    >= cost[pid]
                ]
                within = (
                    len(selected) + len(maybe) < len(prep.candidates) + len(prep.free)
                    and total_cost(prep, selected + maybe) <= limit
                )
        rho = cache.pop(winner)
        touched = union[winner]
        entries = groups[winner]
        # every payer (class, utility) moves to a new class; the rest of the class stays
        by_money: dict[Any, _Class] = {}
        fresh: list[_Class] = []
        paid: dict[tuple[Any, Any, bool], int] = {}
        dropped = 0
        for cls in classes:
            inter = cls.mask & touched
            if not inter:
                continue
            cls.mask &= ~touched
            for u, mask in entries:
                part = inter & mask if len(entries) > 1 else inter
                if not part:
                    continue
                k = part.bit_count()
                pay = rho * u
                if cls.v < pay:  # pays all it has left
                    paid[(u, cls.v, True)] = paid.get((u, cls.v, True), 0) + k
                    dropped |= part
                    continue
                paid[(u, pay, False)] = paid.get((u, pay, False), 0) + k
                nv = cls.v - pay
                if nv == 0:
                    dropped |= part  # voters left with nothing drop out of the classes
                    continue
                same = by_money.get(nv)
                if same is None:
                    same = _Class(nv, part)
                    by_money[nv] = same
                    fresh.append(same)
                else:
                    same.mask |= part
        payments: list[Payment] = []
        if len(paid) > 8:  # many poor supporters with different leftovers: summarise them
            rich = {key: k for key, k in paid.items() if not key[2]}
            poor_by_u: dict[Any, list[Any]] = {}
            for (u, amount, poor), k in paid.items():
                if poor:
                    entry = poor_by_u.setdefault(u, [0, zero])
                    entry[0] += k
                    entry[1] += k * amount
            paid = dict(rich)
            for u, (k, total) in poor_by_u.items():
                payments.append(Payment(u, k, total / k, True, average=True))
        for (u, amount, poor), k in paid.items():
            payments.append(Payment(u, k, amount, poor))
        payments.sort(key=_payment_order)
        classes = [cls for cls in classes if cls.mask] + fresh
        classes.sort(key=_money)  # two sorted runs: a linear merge
        alive &= ~dropped
        remaining.discard(winner)
        selected.append(winner)
        rounds.append(Round(winner, rho, payments, tied))
        path.append((winner, rho))
        for pid in remaining:
            if pid not in dirty and union[pid] & touched:
                dirty.add(pid)
    return RunResult(
        b=b,
        selected=selected,
        rounds=rounds,
        rho=dict(last_rho),
        shortfall={pid: shortfall.get(pid, zero) for pid in prep.candidates if pid not in selected},
        evaluations=evaluations,
        ties=ties,
        path=path,
        certified=certified and certify is not None and len(certify) == len(rounds),
        within=within,
    )


def _payment_order(pay: Payment) -> tuple[bool, Fraction, Fraction]:
    """Shares first, by utility; then those who paid all they had, by utility and amount."""
    return pay.all_they_had, pay.utility, pay.paid_each


def _beats_all(
    winner: str,
    expected: str,
    target: Any,
    evaluated: dict[str, Any],
    tie_key: Callable[[str], TieKey],
) -> bool:
    """The certificate of one round (see ``_add_one_bracketed``): this run (at the higher
    budget) picks the same winner as the lower run, and every other project's price here is
    above the winner's price there (or equal to it and behind the winner in the tie-break
    order). Projects not evaluated in this round have a lower bound above ``target``."""
    if winner != expected:
        return False
    key = tie_key(winner)
    for pid, rho in evaluated.items():
        if pid == winner:
            continue
        if rho < target or (rho == target and tie_key(pid) < key):
            return False
    return True


def total_cost(prep: Prepared, selected: list[str]) -> Fraction:
    return sum((prep.cost[pid] for pid in selected), ZERO)


@dataclass
class Add1Result:
    final: RunResult
    steps_in_schedule: int  # schedule points covered (k of the last feasible budget)
    runs: int
    stopped_by: str


def add_one(
    prep: Prepared,
    budget: Fraction,
    tie_key: Callable[[str], TieKey],
    tie_break: str,
    *,
    fast: bool = True,
) -> Add1Result:
    """equalshares.net's add-one completion: per-voter budgets ``budget/n`` then
    ``floor(budget/n) + 1, + 2, ...``; keep the last outcome within ``budget`` and stop at the
    first one over it. If all projects together fit in the budget, plain MES (as
    equalshares.net does).

    With ``fast``, budgets of the schedule on which the outcome provably cannot change are
    skipped (``_add_one_bracketed``); ``fast=False`` runs every step (the reference)."""
    n = prep.n
    b0 = budget / n
    base = b0.numerator // b0.denominator
    everything = len(prep.candidates) + len(prep.free)
    if sum(prep.cost.values(), ZERO) <= budget:
        from app.tally.rules import mes_np

        return Add1Result(
            mes_np.run(prep, b0, tie_key, tie_break), 0, 1, "everything fits: plain equal shares"
        )
    if fast:
        return _add_one_bracketed(prep, budget, b0, tie_key, tie_break)
    first = run(prep, b0, tie_key, tie_break)
    runs = 1
    if total_cost(prep, first.selected) > budget:  # pragma: no cover - MES is always feasible
        raise AssertionError("equal shares exceeded the budget")
    last = first
    last_k = 0
    k = 1
    if len(first.selected) == everything:
        return Add1Result(first, 0, runs, "every supported project is funded")
    while True:
        current = run(prep, Fraction(base + k), tie_key, tie_break)
        runs += 1
        if total_cost(prep, current.selected) > budget:
            return Add1Result(last, last_k, runs, f"per-voter budget {base + k} goes over")
        last, last_k = current, k
        k += 1
        if len(current.selected) == everything:
            return Add1Result(last, last_k, runs, "every supported project is funded")


def _add_one_bracketed(
    prep: Prepared,
    budget: Fraction,
    b0: Fraction,
    tie_key: Callable[[str], TieKey],
    tie_break: str,
) -> Add1Result:
    """Add-one without running every budget of the schedule.

    For a fixed sequence of decisions, every voter's money after each round is non-decreasing
    in the per-voter budget ``b`` and every project's price is non-increasing (by induction
    over the rounds: a higher budget leaves each supporter at least as much money, so a price
    -- the least ``rho`` with ``sum min(money, rho * u) >= cost`` -- can only fall, and what a
    supporter keeps, ``max(0, money - rho * u)``, can only grow). So if the runs at ``b1 < b2``
    pick the same winner in every round, and in every round each other project's price at
    ``b2`` is above the winner's price at ``b1`` (or equal and behind it in the tie-break
    order), then at every ``b`` in between, each round picks that same winner too (its price
    is at most its price at ``b1``, the others' at least theirs at ``b2``), the projects out
    of money at ``b2`` are out of money at ``b``, and the outcome is the same. ``run`` checks
    this certificate at ``b2`` (``certify``) exactly. The schedule is then searched by
    galloping: a certified probe skips everything up to it and the next probe is twice as
    far (the first one 64 steps far); a failed one is given up at its first failed round and
    retried a quarter as far, never again as far as a failed one (bisecting below it), down to
    the very next budget. There a block of the next ``BLOCK`` budgets begins: a probe at its
    top runs to its end; if it fails, the budgets below it are bisected, each probe run to
    its end and given the lower bounds of the nearest run above it (``run_np``'s ``above``:
    with the same winners so far, prices at a lower budget are at least those at a higher
    one); a probe that passes skips the budgets below it, and once one fails, the rest of
    the block is run one by one from the top down, each run bounded by the one above it, so
    every budget of the block is run at most once. The search goes on from the top of the
    block with a probe ``BLOCK`` budgets further that runs to its end: passed, the galloping
    resumes; not, it tops the next block.

    A probe passes where its certificate holds, and also where it fails but every budget in
    between surely spends at most ``budget`` (``run_np``'s ``limit``, ADR 0005): add-one
    needs only the first budget that goes over, so a stretch that cannot go over is skipped
    whatever its outcomes, the probe's own (run to its end) becoming the last one.

    Where a block would begin, the search first tries to prove a whole span of budgets within
    ``budget`` without running them (``spans``: ``mes_span.within``, ADR 0006: one run for
    all of them, on money bracketed between the span's ends, following every decision some
    budget of it might take). The first span is ``BLOCK`` budgets; proved, the next is twice
    as long; a longer one that fails caps spans at half its length and a quarter of it is
    tried at once; a ``BLOCK`` one that fails sends the search to the block, and the next
    ``2**f - 1`` block starts (after the ``f``-th such failure) try none. ``last`` then stays
    the last exact run, below ``last_k``: ``done`` runs the final budget from ``last_k``.
    """
    from app.tally.rules.mes_np import HUGE, TINY, Arrays, arrays_of, collapsed, run_np
    from app.tally.rules.mes_span import within

    everything = len(prep.candidates) + len(prep.free)
    base = b0.numerator // b0.denominator
    arrays: Arrays | None = None
    probing: Arrays | None = None  # the arrays of the probes: identical voters collapsed

    def exact_run(b: Fraction, **options: Any) -> RunResult:
        if probing is None:  # (bitsets: no bounds, and a probe runs to its end)
            for option in ("give_up", "above", "keep_bounds"):
                options.pop(option, None)
            return run(prep, b, tie_key, tie_break, **options)
        return run_np(prep, probing, b, tie_key, tie_break, explain=False, **options)

    # Small elections run on bitsets, whose cost per call is lower than the arrays' fixed
    # costs; both give the same result. A first run on bitsets that is quick and short keeps
    # them.
    started = time.perf_counter()
    first = run(prep, b0, tie_key, tie_break) if len(prep.candidates) <= FEW else None
    if first is None or len(first.rounds) > FEW_ROUNDS or time.perf_counter() - started >= QUICK:
        arrays = arrays_of(prep)  # None: utilities not whole units, or money beyond floats
        if arrays is not None and not TINY < b0 < HUGE:
            arrays = None
        if arrays is not None:
            probing = collapsed(prep, arrays) or arrays
        if arrays is not None or first is None:
            first = exact_run(b0)
    last: RunResult = first
    last_k = 0
    runs = 1
    step = 64  # a first long jump: where the outcome is stable for long, it pays at once

    def done(stopped_by: str) -> Add1Result:
        nonlocal runs
        if arrays is None:
            return Add1Result(last, last_k, runs, stopped_by)
        b = b0 if last_k == 0 else Fraction(base + last_k)  # (``last`` may be a run below it:
        # see ``spans``)
        final = run_np(prep, arrays, b, tie_key, tie_break)  # with the payments
        runs += 1
        return Add1Result(final, last_k, runs, stopped_by)

    if total_cost(prep, last.selected) > budget:  # pragma: no cover - MES is always feasible
        raise AssertionError("equal shares exceeded the budget")
    if len(last.selected) == everything:
        return done("every supported project is funded")

    def take(k: int, probe: RunResult) -> Add1Result | None:
        """The uncertified run at schedule point ``k`` as the outcome so far, or the search's
        end where it goes over the budget or funds every supported project."""
        nonlocal last, last_k
        if total_cost(prep, probe.selected) > budget:
            return done(f"per-voter budget {base + k} goes over")
        last, last_k = probe, k
        if len(probe.selected) == everything:
            return done("every supported project is funded")
        return None

    def spans(first: int, final: int, rounds: int) -> bool:
        """Whether every budget from schedule point ``first`` to ``final`` surely spends at
        most ``budget`` and funds less than everything (``mes_span.within``, ADR 0006), given
        about as many rounds as running them would take (a run has about ``rounds``)."""
        if probing is None:
            return False
        return within(
            prep,
            probing,
            base + first,
            base + final,
            budget,
            nodes=2 * rounds + SPAN_NODES,
        )

    def probe_at(k: int, give_up: bool, above: RunResult | None = None) -> RunResult:
        return exact_run(
            Fraction(base + k),
            certify=last.path,
            give_up=give_up,
            above=above,
            keep_bounds=True,
            limit=budget,
        )

    failed: int | None = None  # a probe beyond the current outcome that failed to certify
    ceiling: RunResult | None = None  # that probe (its bounds hold below it)
    after_block = False
    span, span_failures, span_wait = BLOCK, 0, 1  # the next span to prove, and the back-off
    span_most = 2**62  # (lowered where a long span fails)
    # Below the smallest budget at which the supporters of some project together hold its
    # cost, nothing is affordable: while nothing is bought, the search can jump right there.
    waking = min(prep.cost[pid] / prep.union[pid].bit_count() for pid in prep.candidates)
    wake_k = math.ceil(waking) - base - 1  # the last schedule point below it
    while True:
        if not last.path and wake_k > last_k + 1:
            probe = probe_at(wake_k, False)
            runs += 1
            if probe.certified:  # (nothing affordable there either, as computed)
                last, last_k, step, failed = probe, wake_k, 1, None
                continue
            wake_k = 0  # pragma: no cover - (never again)
        k = last_k + step
        if failed is not None and k >= failed:
            k = last_k + max(1, (failed - last_k) // 2)  # stay below it: bisect
        if k == last_k + 1 and probing is None:  # (bitsets: no bounds to pass down, so no
            # blocks: the next budget, certified or not; a probe that failed there ran to its
            # end, on bitsets, and is that budget's run)
            if failed == k and ceiling is not None:
                probe = ceiling
            else:
                probe = probe_at(k, False)
                runs += 1
                if probe.certified or probe.within:
                    step, last, last_k = NEXT_STEP, probe, k
                    continue
            ended = take(k, probe)
            if ended is not None:
                return ended
            step, failed = 1, None
            continue
        block_starts = probing is not None and (k == last_k + 1 or after_block)
        if block_starts and not (span_wait := max(0, span_wait - 1)):
            # where budgets would be run one by one: first try to prove a whole span of them
            # within the budget (``spans``); proved, the next span is twice as long
            if spans(last_k + 1, last_k + span, len(last.rounds)):
                last_k += span  # (``last`` stays the run below it: ``done`` runs the final one)
                if failed is not None and failed <= last_k:
                    failed = ceiling = None
                span, span_failures = min(span_most, 2 * span), 0
                step, after_block = 1, False
                continue
            if span > BLOCK:  # too long: never again longer than half of it, and a quarter
                # of it at once
                span_most, span, span_wait = span // 2, max(BLOCK, span // 4), 1
                continue
            span_failures += 1
            span_wait = 2**span_failures  # back off: where proofs fail, they fail again
        if k == last_k + 1:
            top = last_k + BLOCK
            roof = ceiling if failed is not None and failed > top else None
            highest = probe_at(top, False, roof)  # (it certifies the block, or tops it)
            runs += 1
            if highest.certified or highest.within:
                step, last, last_k, after_block = 2 * BLOCK, highest, top, False
                if failed is not None and failed <= top:
                    failed = ceiling = None
                continue
        else:
            # right after a block a probe runs to its end: if it fails, it tops the next block
            roof = ceiling if failed is not None and failed > k else None
            probe = probe_at(k, not after_block, roof)
            runs += 1
            if probe.certified or probe.within:
                step = 2 * (k - last_k)
                last, last_k = probe, k
                after_block = False
                if failed is not None and failed <= k:  # pragma: no cover - bisection stays below
                    failed = ceiling = None
                continue
            if not after_block:
                failed, ceiling = k, probe
                step = max(1, (k - last_k) // 4)
                continue
            top, highest = k, probe
        # The budgets below ``top``, where the top is within the budget: bisected, a probe
        # halfway to the nearest run above (whose bounds spare it most of its estimates)
        # that passes skips the budgets below it; once one fails (it is one of the block's
        # runs), the rest of the block is run one by one from the top down, each bounded by
        # the run just above it (cheaper than probes: the nearest bounds and no certificate
        # to check). Every budget is run at most once. Where the top goes over the budget
        # (the end of the schedule is in the block), from the bottom up, bounded by the top,
        # to stop at the first budget over.
        if total_cost(prep, highest.selected) > budget:
            for j in range(last_k + 1, top):
                probe = exact_run(Fraction(base + j), above=highest)
                runs += 1
                ended = take(j, probe)
                if ended is not None:
                    return ended
            ended = take(top, highest)
            if ended is not None:
                return ended
        else:
            # runs above, nearest first
            pending: list[tuple[int, RunResult]] = [(top, highest)]
            volatile = False  # a probe of the block failed: the rest of it is run one by one
            while pending:
                near, near_run = pending[0]
                if near - last_k > 1 and volatile:
                    chain: list[tuple[int, RunResult]] = []  # from the top down
                    above = near_run
                    for j in range(near - 1, last_k, -1):
                        above = exact_run(Fraction(base + j), above=above, keep_bounds=True)
                        chain.append((j, above))
                        runs += 1
                    pending[:0] = reversed(chain)
                    continue
                if near - last_k > 1:
                    middle = (last_k + near) // 2
                    probe = probe_at(middle, False, near_run)
                    runs += 1
                    if probe.certified or probe.within:
                        last, last_k = probe, middle
                    else:
                        pending.insert(0, (middle, probe))
                        volatile = True
                    continue
                pending.pop(0)
                ended = take(near, near_run)
                if ended is not None:
                    return ended
        if failed is not None and failed <= last_k:
            failed = ceiling = None
        step, after_block = BLOCK, True


def explain(
    prep: Prepared, result: RunResult, budget_note: str, cost_utilities: bool
) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, rnd in enumerate(result.rounds, start=1):
        paid = []
        for pay in rnd.payments:
            who = f"{pay.voters:,} supporter{'s' if pay.voters != 1 else ''}"
            if not cost_utilities:
                who += f" giving {_num(pay.utility)} points"
            if pay.all_they_had:
                each = "on average" if pay.average else "each"
                paid.append(f"{who} paid all they had left ({money(pay.paid_each)} {each})")
            else:
                paid.append(f"{who} paid {money(pay.paid_each)} each")
        cost = prep.cost[rnd.project]
        if cost_utilities:
            votes = 1 / rnd.rho
            support = f"effective support {_num(votes)} {plural(votes, 'vote', 'votes')}"
        else:
            support = f"price {money(rnd.rho)} per point"
        out[rnd.project] = (
            f"Funded in round {number} ({support}); cost {money(cost)}: " + "; ".join(paid) + "."
        )
    for pid in prep.free:
        out[pid] = "Funded first: it costs nothing and has supporters."
    for pid, short in result.shortfall.items():
        cost = prep.cost[pid]
        have = cost - short
        if short > 0:
            out[pid] = (
                f"Not funded: its supporters had {money(have)} left, {money(short)} short of "
                f"its cost {money(cost)}{budget_note}."
            )
        else:
            out[pid] = f"Not funded{budget_note}."
    for pid in prep.unsupported:
        out[pid] = "Not funded: nobody supported it."
    return out


def _num(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator:,}"
    approx = round(value * 100)
    return f"~{approx // 100:,}.{approx % 100:02d}"


def scores_of(prep: Prepared, result: RunResult) -> dict[str, Number]:
    scores: dict[str, Number] = {}
    for pid in prep.cost:
        rho = result.rho.get(pid)
        scores[pid] = (1 / rho) if rho else 0
    return scores


def outcome_of(
    prep: Prepared,
    result: RunResult,
    *,
    rule: str,
    version: str,
    tie_break: str,
    seed: bytes,
    budget: Fraction,
    extra: dict[str, object] | None = None,
    budget_note: str = "",
) -> Outcome:
    selected = tuple(result.selected)
    details: dict[str, object] = {
        "per_voter_budget": result.b,
        "rounds": [
            {
                "project": r.project,
                "rho": r.rho,
                "tied": r.tied,
                "payments": [
                    {
                        "utility": p.utility,
                        "voters": p.voters,
                        "paid_each": p.paid_each,
                        "all_they_had": p.all_they_had,
                        "average": p.average,
                    }
                    for p in r.payments
                ],
            }
            for r in result.rounds
        ],
        "ties": result.ties,
    }
    if extra:
        details.update(extra)
    return Outcome(
        rule=rule,
        rule_version=version,
        tie_break=tie_break,
        seed=seed,
        selected=selected,
        cost=total_cost(prep, list(selected)),
        budget=budget,
        scores=scores_of(prep, result),
        explanations=explain(prep, result, budget_note, prep.cost_utilities),
        details=details,
    )
