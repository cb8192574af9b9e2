"""The Method of Equal Shares (MES) and its add-one completion, exact and fast.

Every voter starts with the same budget ``b`` (``budget / number of ballots`` for plain equal
shares). In each round the project that its supporters can buy at the lowest price per unit of
utility ``rho`` is bought: a supporter with utility ``u`` pays ``min(own money, rho * u)``.
Utilities are costs for approval and choose-1 ballots (so supporters pay equal shares) and
points for cumulative and scoring ballots. A project whose supporters together hold less
money than its cost is out for good. Free projects with a supporter are funded first.

How it is fast (the arithmetic stays exact ``Fraction``):

* voters are bits of Python integers; the supporters of a project are one bitset per utility
  value, and voters whose remaining money is equal form one *class* (a bitset). Counting the
  supporters of a project in a class is one ``&`` and one ``bit_count()``;
* a project is re-evaluated only when it may have become the cheapest (prices only rise
  during a run, so the last price is a lower bound) and only if one of its supporters paid
  since its last evaluation;
* add-one: every voter's money is an affine function ``alpha + gamma * b`` of the per-voter
  budget ``b``, and so is every price. A run at ``b`` records, for each comparison it made, the
  smallest ``b' >= b`` at which that comparison could change; below the smallest of them the
  run at ``b'`` makes the very same decisions, so the outcome is the same and the budgets of
  equalshares.net's schedule up to there need no run at all (the idea of ADD-OPT, arXiv
  2502.11797). With a threshold exactly on a schedule point, that point is run in full.
"""

from __future__ import annotations

import heapq
import importlib
import math
import operator
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from app.tally.model import Election, ballot_points
from app.tally.outcome import Number, Outcome, money
from app.tally.tiebreak import TieKey, describe_tie

INF = math.inf
ZERO = Fraction(0)


def _load_mpq() -> Callable[..., Any] | None:
    """gmpy2's exact rationals (~10x faster than Fraction), if installed and not disabled."""
    if os.environ.get("PLAZA_TALLY_PURE"):
        return None
    try:
        module = importlib.import_module("gmpy2")
    except ImportError:  # pragma: no cover - the standard library gives the same results
        return None
    mpq: Callable[..., Any] = module.mpq
    return mpq


_UNSET: Any = object()
_MPQ: Any = _UNSET  # loaded on first use, so that `plaza tally` with greedy never imports it


def accelerator() -> str:
    """Which exact rationals equal shares uses: "gmpy2" or "none" (Fraction)."""
    global _MPQ
    if _MPQ is _UNSET:
        _MPQ = _load_mpq()
    return "gmpy2" if _MPQ is not None else "none"


def Q(x: Fraction | int) -> Any:  # noqa: N802 - the exact rational type used in runs
    if _MPQ is _UNSET:
        accelerator()
    if _MPQ is None:
        return Fraction(x)
    if isinstance(x, Fraction):
        return _MPQ(x.numerator, x.denominator)
    return _MPQ(x)


def _frac(x: Any) -> Fraction:
    """An exact Fraction from a Fraction or a gmpy2 rational."""
    if isinstance(x, Fraction):
        return x
    return Fraction(int(x.numerator), int(x.denominator))


@dataclass
class Prepared:
    """What a run needs from the election, independent of the per-voter budget."""

    n: int
    cost: dict[str, Fraction]
    #: project -> [(utility, bitset of voters with that utility)]
    groups: dict[str, list[tuple[Fraction, int]]]
    union: dict[str, int]
    candidates: list[str]  # supported, cost > 0
    free: list[str]  # supported, cost 0
    unsupported: list[str]
    all_voters: int
    cost_utilities: bool
    qcost: dict[str, Any] = field(default_factory=dict)  # costs as accelerated rationals
    qgroups: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)


def prepare(election: Election) -> Prepared:
    cost_utilities = election.rules.kind in ("approval", "choose-1")
    bits: dict[str, dict[Fraction, list[int]]] = {pid: {} for pid in election.projects}
    rules = election.rules
    projects = election.projects
    for index, ballot in enumerate(election.ballots):
        if not ballot.projects:
            continue
        if cost_utilities:
            for pid in ballot.projects:
                u = projects[pid].cost
                bits[pid].setdefault(u, []).append(index)
        else:
            for pid, u in zip(ballot.projects, ballot_points(rules, ballot), strict=True):
                if u > 0:
                    bits[pid].setdefault(u, []).append(index)
    n = len(election.ballots)
    groups: dict[str, list[tuple[Fraction, int]]] = {}
    union: dict[str, int] = {}
    for pid, by_u in bits.items():
        entries = []
        total = 0
        for u, indices in sorted(by_u.items()):
            mask = _bitset(indices, n)
            entries.append((u, mask))
            total |= mask
        groups[pid] = entries
        union[pid] = total
    candidates = [pid for pid in projects if union[pid] and projects[pid].cost > 0]
    free = [pid for pid in projects if union[pid] and projects[pid].cost == 0]
    unsupported = [pid for pid in projects if not union[pid]]
    qcost = {pid: Q(p.cost) for pid, p in projects.items()}
    qgroups = {pid: [(Q(u), mask) for u, mask in entries] for pid, entries in groups.items()}
    return Prepared(
        qcost=qcost,
        qgroups=qgroups,
        n=n,
        cost={pid: p.cost for pid, p in projects.items()},
        groups=groups,
        union=union,
        candidates=candidates,
        free=free,
        unsupported=unsupported,
        all_voters=(1 << n) - 1,
        cost_utilities=cost_utilities,
    )


def _bitset(indices: list[int], n: int) -> int:
    raw = bytearray(b"0" * n)
    for i in indices:
        raw[n - 1 - i] = 49  # ASCII "1"; bit i of the integer is voter i
    return int(raw, 2)


@dataclass
class Affine:
    """``a + g * b`` as a function of the per-voter budget ``b``, with its value at the run's b."""

    a: Any
    g: Any
    v: Any


def _first_drop(da: Any, dg: Any, b: Any) -> Any:
    """Smallest ``t >= b`` where ``da + dg * t`` (>= 0 at b) reaches 0 going down, else inf."""
    if dg >= 0:
        return INF
    t = -da / dg
    return t if t > b else b


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
    threshold: float | Fraction | None = INF  # None: not tracked
    evaluations: int = 0
    ties: list[str] = field(default_factory=list)


class _Class:
    """Voters with the same remaining money ``a + g * b`` (value ``v`` at this run's b)."""

    __slots__ = ("a", "g", "v", "mask")

    def __init__(self, a: Any, g: Any, v: Any, mask: int) -> None:
        self.a = a
        self.g = g
        self.v = v
        self.mask = mask


_money = operator.attrgetter("v")


def _by_price(classes: list[_Class], u: Any, mask: int) -> Iterator[tuple[Any, int, Any, int]]:
    """The classes (sorted by money) as (money / u, index, u, mask), lazily."""
    for index, cls in enumerate(classes):
        yield cls.v / u, index, u, mask


_Payer = tuple[_Class, Any, int, bool]  # class, utility, number of voters, pays all


def run(
    prep: Prepared,
    b: Fraction,
    tie_key: Callable[[str], TieKey],
    tie_break: str,
    *,
    track: bool = False,
) -> RunResult:
    """One run of MES with per-voter budget ``b``.

    With ``track``, also the smallest budget ``>= b`` at which any decision of this run could
    change (``threshold``; ``inf`` if none can). Arithmetic is exact throughout (gmpy2's
    rationals when installed, else Fraction); results are Fractions.
    """
    cost = prep.qcost
    groups = prep.qgroups
    union = prep.union
    zero = Q(0)
    bq = Q(b)
    classes: list[_Class] = [_Class(zero, Q(1), bq, prep.all_voters)]
    alive = prep.all_voters  # voters with money left (untracked runs)
    threshold: Any = INF
    selected: list[str] = list(sorted(prep.free, key=tie_key))
    rounds: list[Round] = []
    ties: list[str] = []
    remaining = set(prep.candidates)
    zero_bound = Affine(zero, zero, zero)  # every project is evaluated in round 1
    lower: dict[str, Affine] = dict.fromkeys(remaining, zero_bound)
    dirty = set(remaining)
    last_rho: dict[str, Any] = {}
    shortfall: dict[str, Any] = {}
    evaluations = 0
    cache: dict[str, tuple[Affine, list[_Payer]]] = {}

    def evaluate_walk(pid: str) -> tuple[Affine, list[_Payer]] | None:
        """Untracked price: walk the classes from the poorest up to the first supporter who
        can pay the price; the richer ones only count (one popcount per utility value)."""
        nonlocal evaluations
        evaluations += 1
        c = cost[pid]
        entries = groups[pid]
        left_u = zero
        for u, mask in entries:
            left_u += (alive & mask).bit_count() * u
        paid_v = zero
        if len(entries) == 1:
            u, mask = entries[0]
            for cls in classes:  # sorted by money, poorest first
                k = (cls.mask & mask).bit_count()
                if not k:
                    continue
                factor = (c - paid_v) / left_u
                if factor * u <= cls.v:
                    return Affine(zero, zero, factor), []
                paid_v += k * cls.v
                left_u -= k * u
        else:
            # classes are sorted by money, so each utility's stream is sorted by money/u:
            # merge them lazily, computing only the prefix that is walked
            stream = heapq.merge(
                *(_by_price(classes, u, mask) for u, mask in entries),
                key=lambda item: item[0],
            )
            for _, index, u, mask in stream:
                cls = classes[index]
                k = (cls.mask & mask).bit_count()
                if not k:
                    continue
                factor = (c - paid_v) / left_u
                if factor * u <= cls.v:
                    return Affine(zero, zero, factor), []
                paid_v += k * cls.v
                left_u -= k * u
        shortfall[pid] = c - paid_v
        return None

    def evaluate(pid: str) -> tuple[Affine, list[_Payer]] | None:
        """Price of ``pid`` now (affine in b) with its payers, or None if unaffordable."""
        nonlocal threshold, evaluations
        evaluations += 1
        c = cost[pid]
        items: list[tuple[Any, _Class, Any, int]] = []
        money_v = zero
        total_u = zero
        for u, mask in groups[pid]:
            count = 0
            for cls in classes:
                k = (cls.mask & mask).bit_count()
                if k:
                    items.append((cls.v / u, cls, u, k))
                    money_v += k * cls.v
                    count += k
            total_u += count * u
        if money_v < c:
            if track:
                money_a = sum((k * cls.a for _, cls, _, k in items), zero)
                money_g = sum((k * cls.g for _, cls, _, k in items), zero)
                threshold = min(threshold, _first_drop(c - money_a, -money_g, bq))
            shortfall[pid] = c - money_v
            return None
        if track:
            money_a = sum((k * cls.a for _, cls, _, k in items), zero)
            money_g = sum((k * cls.g for _, cls, _, k in items), zero)
            threshold = min(threshold, _first_drop(money_a - c, money_g, bq))
        items.sort(key=lambda item: item[0])
        paid_v = zero
        left_u = total_u
        split = len(items)
        rho_v = zero
        for index, (_, cls, u, k) in enumerate(items):
            factor = (c - paid_v) / left_u
            if factor * u <= cls.v:
                split = index
                rho_v = factor
                break
            paid_v += k * cls.v
            left_u -= k * u
        else:  # pragma: no cover - money_v >= c guarantees a rich supporter
            raise AssertionError("equal shares: no supporter can pay")
        if track:
            paid_a = sum((k * cls.a for _, cls, _, k in items[:split]), zero)
            paid_g = sum((k * cls.g for _, cls, _, k in items[:split]), zero)
            rho = Affine((c - paid_a) / left_u, -paid_g / left_u, rho_v)
            for index, (_, cls, u, _k) in enumerate(items):
                # poor: rho*u - money > 0 must hold; rich: money - rho*u >= 0 must hold
                da = rho.a * u - cls.a
                dg = rho.g * u - cls.g
                if index >= split:
                    da, dg = -da, -dg
                threshold = min(threshold, _first_drop(da, dg, bq))
        else:
            rho = Affine(zero, zero, rho_v)
        payers = [(cls, u, k, index < split) for index, (_, cls, u, k) in enumerate(items)]
        return rho, payers

    while remaining:
        order = sorted(remaining, key=lambda p: (lower[p].v, tie_key(p)))
        best: Affine | None = None
        tied: list[str] = []
        evaluated: dict[str, Affine] = {}
        skipped: list[str] = []
        for pid in order:
            if best is not None and lower[pid].v > best.v:
                skipped.append(pid)
                continue
            if pid in dirty:
                walk = not track and len(groups[pid]) == 1
                result = evaluate_walk(pid) if walk else evaluate(pid)
                dirty.discard(pid)
                if result is None:
                    remaining.discard(pid)
                    cache.pop(pid, None)
                    continue
                cache[pid] = result
                lower[pid] = result[0]
            rho = cache[pid][0]
            evaluated[pid] = rho
            last_rho[pid] = rho.v
            if best is None or rho.v < best.v:
                best = rho
                tied = [pid]
            elif rho.v == best.v:
                tied.append(pid)
        if best is None:
            break
        winner = min(tied, key=tie_key)
        if len(tied) > 1:
            ties.append(describe_tie(tied, winner, tie_break))
        if track:
            w = evaluated[winner]
            for pid, rho in evaluated.items():
                if pid != winner:
                    threshold = min(threshold, _first_drop(rho.a - w.a, rho.g - w.g, bq))
            for pid in skipped:
                lb = lower[pid]
                threshold = min(threshold, _first_drop(lb.a - w.a, lb.g - w.g, bq))
        rho, payers = cache.pop(winner)
        touched = union[winner]
        entries = groups[winner]
        moves: list[tuple[_Class, Any, int, bool, int]] = []  # class, u, count, pays all, voters
        if track:
            for cls, u, k, poor in payers:
                moves.append((cls, u, k, poor, cls.mask & _group_mask(entries, u)))
        else:
            for cls in classes:
                inter = cls.mask & touched
                if not inter:
                    continue
                for u, mask in entries:
                    part = inter & mask if len(entries) > 1 else inter
                    k = part.bit_count()
                    if k:
                        moves.append((cls, u, k, cls.v < rho.v * u, part))
        remaining.discard(winner)
        selected.append(winner)
        payments: list[Payment] = []
        # every payer (class, utility) moves to a new class; the rest of the class stays
        by_affine: dict[tuple[Any, Any], _Class] = {}
        fresh: list[_Class] = []
        paid: dict[tuple[Any, Any, bool], int] = {}
        dropped = 0
        changed: dict[int, _Class] = {}
        for cls, u, k, poor, part in moves:
            changed[id(cls)] = cls
            if poor:
                paid[(u, cls.v, True)] = paid.get((u, cls.v, True), 0) + k
                dropped |= part
                continue
            pay = rho.v * u
            paid[(u, pay, False)] = paid.get((u, pay, False), 0) + k
            nv = cls.v - pay
            if track:
                na = cls.a - rho.a * u
                ng = cls.g - rho.g * u
                if na == 0 and ng == 0:
                    dropped |= part
                    continue  # voters left with nothing drop out of the classes
                key = (na, ng)
            else:
                if nv == 0:
                    dropped |= part
                    continue
                na = ng = zero
                key = (nv, zero)
            same = by_affine.get(key)
            if same is None:
                same = _Class(na, ng, nv, part)
                by_affine[key] = same
                fresh.append(same)
            else:
                same.mask |= part
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
                payments.append(Payment(_frac(u), k, _frac(total / k), True, average=True))
        for (u, amount, poor), k in paid.items():
            payments.append(Payment(_frac(u), k, _frac(amount), poor))
        for cls in changed.values():
            cls.mask &= ~touched
        kept = [cls for cls in classes if cls.mask]
        if track:
            classes = kept + fresh
        else:
            classes = kept + fresh
            classes.sort(key=_money)  # two sorted runs: a linear merge
            alive &= ~dropped
        rounds.append(Round(winner, _frac(rho.v), payments, tied))
        for pid in remaining:
            if pid not in dirty and union[pid] & touched:
                dirty.add(pid)
    return RunResult(
        b=b,
        selected=selected,
        rounds=rounds,
        rho={pid: _frac(v) for pid, v in last_rho.items()},
        shortfall={
            pid: _frac(shortfall.get(pid, zero)) for pid in prep.candidates if pid not in selected
        },
        threshold=(threshold if threshold == INF else _frac(threshold)) if track else None,
        evaluations=evaluations,
        ties=ties,
    )


def _group_mask(entries: list[tuple[Any, int]], u: Any) -> int:
    for value, mask in entries:
        if value == u:
            return mask
    return 0


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
    skipped (see the module docstring); ``fast=False`` runs every step (the reference)."""
    n = prep.n
    b0 = budget / n
    base = b0.numerator // b0.denominator
    everything = len(prep.candidates) + len(prep.free)
    first = run(prep, b0, tie_key, tie_break, track=fast)
    runs = 1
    if sum(prep.cost.values(), ZERO) <= budget:
        return Add1Result(first, 0, runs, "everything fits: plain equal shares")
    if total_cost(prep, first.selected) > budget:  # pragma: no cover - MES is always feasible
        raise AssertionError("equal shares exceeded the budget")
    last = first
    last_k = 0
    k = 1
    if len(first.selected) == everything:
        return Add1Result(first, 0, runs, "every supported project is funded")
    # Tracking costs about as much as it saves when the outcome changes at almost every
    # step; after a tracked run that skips nothing, the next runs go untracked for a while.
    misses = 0
    wait = 0
    while True:
        t = last.threshold
        if t is not None:
            if t == INF:
                return Add1Result(last, last_k, runs, "the outcome cannot change any more")
            need = math.ceil(Fraction(t) - base)  # first schedule point >= t
            if need > k:
                misses = 0
                k = need
            else:
                misses += 1
                wait = min(2**misses, 64)
        track = fast and wait == 0
        if wait:
            wait -= 1
        current = run(prep, Fraction(base + k), tie_key, tie_break, track=track)
        runs += 1
        if total_cost(prep, current.selected) > budget:
            stop = f"per-voter budget {base + k} goes over"
            if k - 1 > last_k:
                # the outcome is unchanged up to the schedule point before; recount there so
                # that payments and explanations are those of the last budget of the schedule
                final = run(prep, Fraction(base + k - 1), tie_key, tie_break)
                runs += 1
                if final.selected != last.selected:  # pragma: no cover - guarded invariant
                    raise AssertionError("add-one skip-ahead changed the outcome")
                last, last_k = final, k - 1
            return Add1Result(last, last_k, runs, stop)
        last, last_k = current, k
        k += 1
        if len(current.selected) == everything:
            return Add1Result(last, last_k, runs, "every supported project is funded")


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
            support = f"effective support {_num(1 / rnd.rho)} votes"
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
