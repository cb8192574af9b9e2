"""Where Plaza's add-one time goes, per file (not part of ``make bench``; run by hand):

    .venv/bin/python -m bench.add1_anatomy Amsterdam_252 Mokotow Czestochowa_2024.pb

For each shared pabulib file whose name contains one of the arguments, prints:

* ``steps``: budgets of equalshares.net's schedule up to the last one within the budget;
* ``order changes`` and ``set changes``: at how many of those steps the winners' order, and
  the funded set, differ from the step before (stepping every budget with the filtered run).
  A search that proves "same order in between" (as Plaza's does) needs at least one run per
  order change, so ``order changes`` bounds from below the runs of any such search;
* ``runs`` and ``seconds``: what Plaza's search (``mes.add_one``) actually did;
* ``ms/run``: the mean cost of one equal-shares run at those budgets.

The 100x target against pabutools divides pabutools' time by at least (order changes + 1)
runs: that is the budget of one run (see docs/tally.md, "Speed").
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction
from pathlib import Path

from app.tally.pb import read_election
from app.tally.rules import mes
from app.tally.rules.mes_np import arrays_of, run_np
from app.tally.tiebreak import tie_key_function

PABULIB = Path(__file__).resolve().parent.parent.parent / "shared" / "pabulib"


def anatomy(path: Path) -> str:
    election, _ = read_election(path)
    prep = mes.prepare(election)
    key = tie_key_function(election, "pabutools", b"")
    arrays = arrays_of(prep)
    if prep.n == 0 or arrays is None:
        return f"{path.name}: no voters, or utilities the arrays cannot hold"
    started = time.perf_counter()
    result = mes.add_one(prep, election.budget, key, "pabutools")
    seconds = time.perf_counter() - started
    b0 = election.budget / prep.n
    base = b0.numerator // b0.denominator
    previous: tuple[list[str], set[str]] | None = None
    order_changes = set_changes = steps = 0
    spent = 0.0
    k = 0
    while True:
        b = b0 if k == 0 else Fraction(base + k)
        started = time.perf_counter()
        probe = run_np(prep, arrays, b, key, "pabutools", explain=False)
        spent += time.perf_counter() - started
        if mes.total_cost(prep, probe.selected) > election.budget:
            break
        steps += 1
        order = [winner for winner, _ in probe.path]
        if previous is not None:
            order_changes += order != previous[0]
            set_changes += set(probe.selected) != previous[1]
        previous = (order, set(probe.selected))
        if len(probe.selected) == len(prep.candidates) + len(prep.free):
            break
        k += 1
    return (
        f"{path.name[:48]:48} steps {steps:4d}  order changes {order_changes:4d}  "
        f"set changes {set_changes:3d}  runs {result.runs:4d}  seconds {seconds:6.2f}  "
        f"ms/run {1000 * spent / (k + 1):7.1f}"
    )


def main(argv: list[str]) -> int:
    if not argv:
        print("add1_anatomy: name at least one part of a file name", file=sys.stderr)
        return 2
    files = sorted(p for p in PABULIB.glob("*.pb") if any(part in p.name for part in argv))
    if not files:
        print(f"add1_anatomy: no file in {PABULIB} matches", file=sys.stderr)
        return 1
    for path in files:
        print(anatomy(path), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
