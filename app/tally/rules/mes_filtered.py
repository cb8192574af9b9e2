"""Equal-shares runs for the add-one search: floating point as a filter, exact decisions.

A run of equal shares decides three kinds of things: which project has the lowest price in a
round (and ties), which projects its supporters can no longer afford, and, for the add-one
search, whether a certificate comparison holds (see ``mes._add_one_bracketed``). Each decision
compares exact rationals. Here every price is first computed in floating point together with
a proven bound on its error; a decision is taken from the floats only when the floats are
further apart than their error bounds, and otherwise from the exact rationals (gmpy2's or
``Fraction``), computed then and only for the projects concerned. The money of every class of
voters is kept exactly (and as the nearest float), the winner's price is always computed
exactly and every payment is exact, so the state of a run never drifts: only the search for
the cheapest project is filtered. The outcome is therefore the exact run's, decision for
decision (checked by a Hypothesis property on elections full of exact ties, and against the
exact runs on real files).

The error bound of a float price. Money ``v`` of a class is rounded once to a float ``f``
(relative error at most ``EPS = 2**-53``); the walk sums ``m`` products ``k * f`` (poorer
supporters who pay all they have), subtracts the sum from the cost and divides by the
remaining utility. Standard floating-point analysis bounds the error of that price by
``(m + 4) * EPS * ((cost + paid) / left + price)`` to first order; the bound used is eight
times larger (``(m + 8)`` and a factor 2 on the price term as well). The split between poor
and rich supporters is accepted only if both classes next to it are further from the price
than the bound, and an unaffordable project only if its shortfall exceeds the error of the
sum. Anything closer is decided exactly.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from app.tally.rules.mes import Prepared, Q
from app.tally.tiebreak import TieKey

EPS = 2.0**-53
SAFETY = 8.0
INF = float("inf")
_UNSURE: Any = object()  # the floats cannot decide: compute exactly
_OUT: Any = object()  # the supporters cannot afford the project


class _Cls:
    """Voters with the same remaining money: exact ``v``, nearest float ``f``."""

    __slots__ = ("v", "f", "mask")

    def __init__(self, v: Any, mask: int) -> None:
        self.v = v
        self.f = float(v)
        self.mask = mask


_money = operator.attrgetter("v")


@dataclass
class Floats:
    """What the float walk needs per project, computed once per add-one search."""

    cost: dict[str, float]
    #: project -> [(exact utility, float utility, integer utility or None, voters)]
    groups: dict[str, list[tuple[Any, float, int | None, int]]]


def floats_of(prep: Prepared) -> Floats:
    groups: dict[str, list[tuple[Any, float, int | None, int]]] = {}
    for pid, entries in prep.groups.items():
        groups[pid] = [
            (Q(u), float(u), u.numerator if u.denominator == 1 else None, mask)
            for u, mask in entries
        ]
    return Floats(cost={pid: float(c) for pid, c in prep.cost.items()}, groups=groups)


@dataclass
class Probe:
    """What the add-one search needs from a run: the selection, and per round the winner
    with its exact price; ``certified`` as in ``mes.run``."""

    b: Fraction
    selected: list[str]
    path: list[tuple[str, Any]]
    certified: bool
    exact_evaluations: int = 0
    float_evaluations: int = 0
    complete: bool = True


def run_filtered(
    prep: Prepared,
    fl: Floats,
    b: Fraction,
    tie_key: Callable[[str], TieKey],
    *,
    certify: list[tuple[str, Any]] | None = None,
    give_up: bool = False,
) -> Probe:
    """Equal shares at per-voter budget ``b``: the same selection as ``mes.run``.

    With ``give_up``, a run that fails to certify ``certify`` stops there and returns an
    incomplete probe (``complete`` false): the search only wanted the certificate."""
    qcost = prep.qcost
    qgroups = prep.qgroups
    union = prep.union
    fcost = fl.cost
    fgroups = fl.groups
    zero = Q(0)
    classes: list[_Cls] = [_Cls(Q(b), prep.all_voters)]
    alive = prep.all_voters
    selected: list[str] = sorted(prep.free, key=tie_key)
    remaining = set(prep.candidates)
    lower: dict[str, float] = dict.fromkeys(remaining, -INF)  # float lower bound on the price
    price: dict[str, tuple[float, float, Any]] = {}  # low, high, exact (or None)
    dirty = set(remaining)
    path: list[tuple[str, Any]] = []
    certified = certify is not None
    counts = [0, 0]  # exact, float evaluations

    def exact(pid: str) -> Any:
        """The exact price of ``pid`` now, or ``_OUT``."""
        counts[0] += 1
        c = qcost[pid]
        entries = qgroups[pid]
        left_u = zero
        for u, mask in entries:
            left_u += (alive & mask).bit_count() * u
        paid = zero
        if len(entries) == 1:
            u, mask = entries[0]
            walk: list[tuple[Any, int, Any]] = []
            for cls in classes:  # sorted by exact money
                k = (cls.mask & mask).bit_count()
                if k:
                    walk.append((cls.v, k, u))
        else:
            items = []
            for cls in classes:
                inter = cls.mask & union[pid]
                if inter:
                    for u, mask in entries:
                        k = (inter & mask).bit_count()
                        if k:
                            items.append((cls.v / u, cls.v, k, u))
            items.sort(key=operator.itemgetter(0))
            walk = [(v, k, u) for _, v, k, u in items]
        for v, k, u in walk:
            factor = (c - paid) / left_u
            if factor * u <= v:
                return factor
            paid += k * v
            left_u -= k * u
        return _OUT

    def floating(pid: str) -> Any:
        """(price, error bound) from floats, ``_OUT`` if surely unaffordable, else _UNSURE."""
        counts[1] += 1
        c = fcost[pid]
        entries = fgroups[pid]
        paid = 0.0
        m = 0
        prev = -1.0  # the last poor supporter's money (one utility) or money / utility
        if len(entries) == 1:
            _, u, _, mask = entries[0]
            count = (alive & mask).bit_count()
            for cls in classes:
                k = (cls.mask & mask).bit_count()
                if not k:
                    continue
                left = count * u
                factor = (c - paid) / left
                share = factor * u
                f = cls.f
                if share <= f:
                    err = SAFETY * (m + 8) * EPS * ((c + paid) / left + 2 * factor)
                    margin = 2 * (err * u + 2 * EPS * (share + f))
                    if f - share <= margin:
                        return _UNSURE
                    if prev >= 0 and share - prev <= 2 * (err * u + 2 * EPS * (share + prev)):
                        return _UNSURE
                    return factor, err
                paid += k * f
                count -= k
                m += 1
                prev = f
        else:
            integral: list[tuple[int, int]] = []
            for _, _, ui, mask in entries:
                if ui is None:
                    return _UNSURE  # fractional points: decided exactly
                integral.append((ui, mask))
            un = union[pid] & alive
            items: list[tuple[float, float, int, int]] = []
            left_i = 0
            for ui, mask in integral:
                left_i += (un & mask).bit_count() * ui
            for cls in classes:
                inter = cls.mask & un
                if inter:
                    f = cls.f
                    for ui, mask in integral:
                        k = (inter & mask).bit_count()
                        if k:
                            items.append((f / ui, f, k, ui))
            items.sort(key=operator.itemgetter(0))
            for ratio, f, k, ui in items:
                left = float(left_i)
                factor = (c - paid) / left
                share = factor * ui
                if share <= f:
                    err = SAFETY * (m + 8) * EPS * ((c + paid) / left + 2 * factor)
                    if ratio - factor <= 2 * (err + 4 * EPS * (factor + ratio)):
                        return _UNSURE
                    if prev >= 0 and factor - prev <= 2 * (err + 4 * EPS * (factor + prev)):
                        return _UNSURE
                    return factor, err
                paid += k * f
                left_i -= k * ui
                m += 1
                prev = ratio
        if c - paid > SAFETY * (m + 8) * EPS * (c + paid):
            return _OUT
        return _UNSURE

    def settle(pid: str) -> Any:
        """The exact price of ``pid`` (cached); ``_OUT`` if unaffordable."""
        low, high, q = price[pid]
        if q is None:
            q = exact(pid)
            if q is _OUT:  # pragma: no cover - the float bound said affordable
                raise AssertionError("filtered equal shares: float bound violated")
            f = float(q)
            price[pid] = (f * (1 - 4 * EPS), f * (1 + 4 * EPS), q)
            lower[pid] = f * (1 - 4 * EPS)
        return q

    while remaining:
        target: Any = None
        target_hi = target_lo = INF
        if certified and certify is not None and len(path) < len(certify):
            target = certify[len(path)][1]
            tf = float(target)
            target_hi, target_lo = tf * (1 + 4 * EPS), tf * (1 - 4 * EPS)
        best_hi = INF
        seen: list[str] = []
        for pid in sorted(remaining, key=lower.__getitem__):
            bound = lower[pid]
            if bound > best_hi and (target is None or bound > target_hi):
                break  # this one and all after it: sorted by their lower bounds
            if pid in dirty:
                dirty.discard(pid)
                got = floating(pid)
                if got is _UNSURE:
                    q = exact(pid)
                    if q is _OUT:
                        got = _OUT
                    else:
                        f = float(q)
                        price[pid] = (f * (1 - 4 * EPS), f * (1 + 4 * EPS), q)
                else:
                    if got is not _OUT:
                        rho, err = got
                        price[pid] = (rho - err, rho + err, None)
                if got is _OUT:
                    remaining.discard(pid)
                    price.pop(pid, None)
                    continue
                lower[pid] = price[pid][0]
            seen.append(pid)
            if price[pid][1] < best_hi:
                best_hi = price[pid][1]
        if not seen:
            break
        contenders = [pid for pid in seen if price[pid][0] <= best_hi]
        if len(contenders) == 1:
            winner = contenders[0]
            rho = settle(winner)
        else:
            exact_prices = {pid: settle(pid) for pid in contenders}
            rho = min(exact_prices.values())
            winner = min((p for p, q in exact_prices.items() if q == rho), key=tie_key)
        if certified and certify is not None:  # (a round the lower run did not have fails)
            certified = target is not None and winner == certify[len(path)][0]
            key = tie_key(winner)
            for pid in seen:
                if not certified:
                    break
                if pid == winner:
                    continue
                low, high, _ = price[pid]
                if low > target_hi:
                    continue
                if high < target_lo:
                    certified = False
                    break
                q = settle(pid)
                certified = q > target or (q == target and tie_key(pid) > key)
            if give_up and not certified:
                return Probe(b, selected, path, False, counts[0], counts[1], complete=False)
        # the winner's supporters pay, exactly (as in mes.run)
        touched = union[winner]
        entries = qgroups[winner]
        by_money: dict[Any, _Cls] = {}
        fresh: list[_Cls] = []
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
                nv = cls.v - rho * u
                if nv <= 0:
                    dropped |= part
                    continue
                same = by_money.get(nv)
                if same is None:
                    same = _Cls(nv, part)
                    by_money[nv] = same
                    fresh.append(same)
                else:
                    same.mask |= part
        classes = [cls for cls in classes if cls.mask] + fresh
        classes.sort(key=_money)
        alive &= ~dropped
        remaining.discard(winner)
        price.pop(winner, None)
        selected.append(winner)
        path.append((winner, rho))
        for pid in remaining:
            if pid not in dirty and union[pid] & touched:
                dirty.add(pid)
    return Probe(
        b=b,
        selected=selected,
        path=path,
        certified=certified and certify is not None and len(certify) == len(path),
        exact_evaluations=counts[0],
        float_evaluations=counts[1],
    )
