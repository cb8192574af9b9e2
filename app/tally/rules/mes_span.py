"""Whether a whole span of per-voter budgets surely stays within the budget (ADR 0006).

Add-one needs, of the budgets of its schedule, only the first whose outcome goes over the
budget and the outcome just before it. ``within(prep, arrays, low, high, limit)`` proves
that no per-voter budget ``b`` in ``[low, high]`` does, without running them one by one: it
runs equal shares once for all of them, on money known only between two bounds, and follows
every decision that some budget in the span might take.

* **Brackets.** At the start every voter holds between ``low`` and ``high``. A project's
  price (the least ``rho`` with ``sum min(money, rho * u) >= cost``) only falls as money
  grows, so while every voter's money is between ``lo`` and ``hi``, every price is between
  its price at ``hi`` and its price at ``lo``. A project can win the round at some budget of
  the span only if its price at ``hi`` is at most the least price at ``lo`` of any project,
  ``R`` (the winner's price at any budget is at most every price there, each at most its
  price at ``lo``). If no project is surely affordable at ``lo``, some budget may stop here.
* **Decisions.** For each project that can win, a branch: its supporters pay at most
  ``R * u`` (its price there is at most ``R``) and at least its price at ``hi`` times ``u``,
  each never below nothing, so ``lo - R * u`` and ``hi - (its price at hi) * u`` (each at
  least 0) bracket what they keep; nobody else pays.
* **Merging.** What happens next depends only on the money and on what is funded, so
  branches that funded the same projects (in any order) become one, with the lower of their
  ``lo`` and the higher of their ``hi``: every budget of either is still bracketed. (What a
  branch knew of prices, lower bounds and the projects out of reach, does not survive a
  merge as it is: with the higher ``hi`` a price may be below both branches' bounds, and a
  project out of reach in both may be within it. Each is confirmed, or found again.)
* **The verdict.** Every outcome a budget of the span can have is the funded set of a
  branch that stops. The span is within the limit when every such set costs at most it and
  none funds every candidate (add-one stops at a budget that funds them all). A branch whose
  funded projects already cost more than the limit, too many branches, or too many rounds
  in all, and the answer is "not proved" (``False``): the caller runs the budgets.

Floats, made safe: brackets are rounded outwards (``lo`` down, ``hi`` up, by more than any
rounding of the operations that made them); a price bound is a float ``r`` whose side is
confirmed by the sum ``sum min(money, r * u)`` against the cost, with room for that sum's
rounding. Nothing here decides an outcome: a proof only lets add-one skip budgets whose
outcome it does not need, and every outcome it keeps is computed exactly at its own budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from app.tally.rules.mes import Prepared
from app.tally.rules.mes_np import Arrays, _fixed_point

EPS = 2.0**-53
#: a float price is moved this far (relatively) to the side being proved, then confirmed
SLACK = 1e-9
#: at most this many rounds (over all branches) in one proof
NODES = 240
#: at most this many branches alive at once
WIDTH = 6
#: merged bounds are confirmed over chunks of about this many supporters (memory)
CHUNK = 1 << 16

_INF = math.inf
#: tests only: called as ``_observe(funded, lo, hi, ends, bound)`` for every branch of every
#: round, before it is taken (``ends``: whether some budget may stop there; ``bound``: the
#: lower bound of the price at ``hi`` of every project still in reach, as the round began)
_observe: (
    Callable[[frozenset[str], np.ndarray, np.ndarray, bool, dict[str, float]], None] | None
) = None


def within(
    prep: Prepared,
    arrays: Arrays,
    low: Fraction | int,
    high: Fraction | int,
    limit: Fraction,
    *,
    nodes: int = NODES,
    width: int = WIDTH,
) -> bool:
    """True if equal shares at every per-voter budget ``b`` with ``low <= b <= high`` surely
    funds projects costing at most ``limit`` and not every candidate; False if that is not
    proved (too many branches, or a branch that may go over)."""
    if not 0 < low <= high:
        raise ValueError("a span of budgets needs 0 < low <= high")
    sup, uf, cost_f = arrays.sup, arrays.uf, arrays.cost_f
    cost = prep.cost
    everything = len(prep.candidates)
    ones = np.ones(arrays.n) if arrays.weight is None else arrays.weight.astype(np.float64)
    lo_f, hi_f = _down(Fraction(low)), _up(Fraction(high))
    # (a weight times a float: one rounding, undone outwards; held by the first branch alone,
    # let go of once it is taken)
    start = (ones * lo_f * (1 - 4 * EPS), ones * hi_f * (1 + 4 * EPS))
    del ones
    total_u = {
        pid: float(uf[pid].sum())
        if uf[pid].strides and uf[pid].strides[0]
        else float(uf[pid][0]) * len(uf[pid])
        if len(uf[pid])
        else 0.0
        for pid in prep.candidates
    }

    # (built at the first merge, if any): per chunk of candidates, the first one's index,
    # their numbers of supporters, where each begins, their supporters, and their utilities
    # (per supporter; or, where each candidate's supporters all give the same, as with cost
    # utilities, per candidate: an array per supporter would be as big as all the votes)
    flat: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]] = []
    all_lengths = np.array([len(sup[pid]) for pid in prep.candidates])
    all_cost = np.array([cost_f[pid] for pid in prep.candidates])

    def confirmed(
        hi: np.ndarray, guess: dict[str, float], funded: frozenset[str]
    ) -> dict[str, float]:
        """The bounds of a merged branch (money ``hi``): each branch's lower bounds of prices
        and the projects out of reach held for a lower ``hi`` than the merged one, so each
        guessed bound is kept only where the supporters' money ``hi`` surely pays less than
        the cost at that price (else 0), and a project out of reach in every branch merged
        stays out only where ``hi`` surely cannot afford it (else it is back, bound 0)."""
        if not flat:  # the candidates in chunks of about ``CHUNK`` supporters, each chunk's
            # supporters and utilities end to end: sums over a whole chunk at once (one
            # chunk of all of them would be as fast, and take memory in proportion to all
            # the election's votes, several times over)
            candidates = prep.candidates
            ends = np.cumsum(all_lengths) // CHUNK
            cuts = [0, *(np.flatnonzero(np.diff(ends)) + 1).tolist(), len(candidates)]
            for i, j in zip(cuts, cuts[1:], strict=False):
                part = candidates[i:j]
                lengths = all_lengths[i:j]
                alike = all(pid in arrays.flat for pid in part)
                flat.append(
                    (
                        i,
                        lengths,
                        np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.intp),
                        np.concatenate([sup[pid] for pid in part]),
                        None
                        if alike
                        else np.concatenate([np.asarray(uf[pid], np.float64) for pid in part]),
                        np.array([arrays.flat[pid][0] if alike else 0.0 for pid in part]),
                    )
                )
        rho = np.array([guess.get(pid, 0.0) for pid in prep.candidates])
        paid = np.empty(len(rho))
        total = np.empty(len(rho))
        for first, lengths, starts, chunk_sup, chunk_u, each_u in flat:
            last = first + len(lengths)
            money = hi[chunk_sup]
            pays = (
                np.repeat(rho[first:last] * each_u, lengths)  # (the same products)
                if chunk_u is None
                else np.repeat(rho[first:last], lengths) * chunk_u
            )
            paid[first:last] = np.add.reduceat(np.minimum(money, pays, out=pays), starts)
            total[first:last] = np.add.reduceat(money, starts)
        err = 2 * (all_lengths + 4) * EPS * (total + all_cost)
        bounds: dict[str, float] = {}
        for j, pid in enumerate(prep.candidates):
            if pid in funded:
                continue
            if pid in guess:
                bounds[pid] = guess[pid] if paid[j] + 2 * err[j] < all_cost[j] else 0.0
            elif total[j] + err[j] >= all_cost[j]:
                bounds[pid] = 0.0
        return bounds

    def gather(m: np.ndarray, pid: str) -> tuple[np.ndarray, np.ndarray, float, float, float]:
        """``pid``'s supporters' money in ``m``, their utilities, its cost, their money in all
        and a bound on the rounding of a sum over them (as floats)."""
        money = m[sup[pid]]
        c = cost_f[pid]
        total = float(money.sum())
        return money, uf[pid], c, total, 2 * (len(money) + 4) * EPS * (total + c)

    def at_most(m: np.ndarray, pid: str, start: float) -> float:
        """A lower bound of ``pid``'s price for any money up to ``m`` (its price at ``m``,
        less a little; ``start``, one already known); infinite if even ``m`` surely cannot
        afford it."""
        money, u, c, total, err = gather(m, pid)
        if total + err < c:
            return _INF
        guess, _, _ = _fixed_point(money / u, u, money, c, total_u[pid], start)
        r = guess * (1 - SLACK)
        if r > 0 and float(np.minimum(money, r * u).sum()) + 2 * err < c:
            return r  # even at ``r`` the supporters cannot pay it: the price is above
        return 0.0

    def at_least(m: np.ndarray, pid: str, start: float) -> float:
        """An upper bound of ``pid``'s price for any money at least ``m`` (``start``: a
        lower bound of it); infinite if ``m`` does not surely afford it."""
        money, u, c, total, err = gather(m, pid)
        if total - err < c:
            return _INF
        ratio = money / u
        guess, _, _ = _fixed_point(ratio, u, money, c, total_u[pid], start)
        r = guess * (1 + SLACK)
        if float(np.minimum(money, r * u).sum()) - 2 * err >= c:
            return r
        return float(ratio.max()) * (1 + SLACK)  # everyone paying all they have pays it

    def surely_pays(m: np.ndarray, pid: str, r: float) -> bool:
        """Whether ``pid``'s supporters with money ``m`` surely pay its cost at price ``r``
        (so its price there is at most ``r``)."""
        money, u, c, _, err = gather(m, pid)
        return float(np.minimum(money, r * u).sum()) - 2 * err >= c

    # A branch: funded projects -> (lo, hi, a lower bound of the price at ``hi`` of every
    # project still in reach)
    Branch = tuple[np.ndarray, np.ndarray, dict[str, float]]
    branches: dict[frozenset[str], Branch] = {
        frozenset(): (*start, dict.fromkeys(prep.candidates, 0.0))
    }
    del start
    spent: dict[frozenset[str], Fraction] = {frozenset(): Fraction(0)}
    count = 0
    while branches:
        if len(branches) > width:
            return False
        after: dict[frozenset[str], Branch] = {}
        merged: set[frozenset[str]] = set()
        for funded in list(branches):
            lo, hi, bound = branches.pop(funded)  # (let go of each branch once taken)
            count += 1
            if count > nodes:
                return False
            began = dict(bound) if _observe is not None else bound
            best = _INF  # R: the least price at ``lo`` found so far
            lows: dict[str, float] = {}  # projects that may win: a lower bound at ``hi``
            out: set[str] = set()  # surely out of money, from here on
            for pid in sorted(bound, key=bound.__getitem__):
                if bound[pid] > best:
                    break
                low_p = at_most(hi, pid, bound[pid])
                if low_p == _INF:
                    out.add(pid)
                    continue
                bound[pid] = lows[pid] = low_p
                if low_p < best and (best == _INF or surely_pays(lo, pid, best)):
                    best = min(best, at_least(lo, pid, low_p))
            reach = {pid: b for pid, b in bound.items() if pid not in out}
            if _observe is not None:
                _observe(funded, lo, hi, best == _INF, began)
            if best == _INF and (spent[funded] > limit or len(funded) == everything):
                return False  # some budget may stop here, over the limit or with everything
            for pid, low_p in lows.items():
                if low_p > best:
                    continue
                s = sup[pid]
                u = uf[pid]
                new_lo = lo.copy()
                new_hi = hi.copy()
                if best == _INF:
                    new_lo[s] = 0.0
                else:
                    pay = best * u
                    new_lo[s] = np.maximum(0.0, lo[s] - pay - 4 * EPS * (lo[s] + pay))
                pay = low_p * u
                new_hi[s] = np.minimum(
                    hi[s], np.maximum(0.0, hi[s] - pay + 4 * EPS * (hi[s] + pay))
                )
                key = funded | {pid}
                rest = {p: v for p, v in reach.items() if p != pid}
                if key in after:
                    lo2, hi2, bound2 = after[key]
                    np.minimum(lo2, new_lo, out=lo2)
                    np.maximum(hi2, new_hi, out=hi2)
                    for p in bound2.keys() | rest.keys():  # (confirmed below: ``merged``)
                        bound2[p] = min(bound2.get(p, _INF), rest.get(p, _INF))
                    merged.add(key)
                    continue
                if key not in spent:
                    spent[key] = spent[funded] + cost[pid]
                if spent[key] > limit:
                    return False
                after[key] = (new_lo, new_hi, rest)
                if len(after) > width:
                    return False
        for key in merged:
            lo2, hi2, bound2 = after[key]
            after[key] = (lo2, hi2, confirmed(hi2, bound2, key))
        branches = after
    return True


def _down(x: Fraction) -> float:
    f = float(x)
    return math.nextafter(f, 0.0) if Fraction(f) > x else f


def _up(x: Fraction) -> float:
    f = float(x)
    return math.nextafter(f, _INF) if Fraction(f) < x else f
