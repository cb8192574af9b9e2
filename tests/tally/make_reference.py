"""Precompute pabutools' outcomes for the conformance tests (run by hand, results committed).

    .venv/bin/python -m tests.tally.make_reference [--rules greedy,...] [--timeout S] [FILE...]

Writes tests/tally/reference/<file stem>.json: for each rule, pabutools' selection (see
tests/tally/pabutools_ref.py for exactly which pabutools call), the pabutools version, the
seconds it took and this command. The conformance tests compare Plaza with these files, and
re-run pabutools live wherever it is fast, so the cache is kept honest; ``make bench``
re-checks the big ones live.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from fractions import Fraction
from pathlib import Path

from app.tally import read_election, tally
from tests.tally.conftest import pabulib_files
from tests.tally.pabutools_ref import KINDS, RULES, VERSION, add1_endpoint, reference

#: add-one schedules longer than this are checked at their end point only (see add1_endpoint)
MAX_STEPS = 600

OUT = Path(__file__).resolve().parent / "reference"


def _work(path: str, rule: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    start = time.perf_counter()
    selected = reference(path, rule)
    queue.put((selected, time.perf_counter() - start))


def compute(path: Path, rule: str, timeout: float) -> dict[str, object] | None:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=_work, args=(str(path), rule, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None
    if queue.empty():
        return None
    selected, seconds = queue.get()
    return {
        "selected": selected,
        "seconds": round(seconds, 3),
        "pabutools": VERSION,
        "command": "python -m tests.tally.make_reference",
    }


def endpoint(path: Path, per_voter: Fraction, plaza: dict[str, object]) -> dict[str, object]:
    start = time.perf_counter()
    selected, next_over = add1_endpoint(str(path), per_voter)
    return {
        "mode": "endpoint",
        "per_voter_budget": str(per_voter),
        "schedule_step": plaza["schedule_step"],
        "selected": selected,
        "next_step_over_budget": next_over,
        "seconds": round(time.perf_counter() - start, 3),
        "pabutools": VERSION,
        "command": "python -m tests.tally.make_reference",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*")
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    files = [Path(f) for f in args.files] or sorted(pabulib_files(), key=lambda p: p.stat().st_size)
    OUT.mkdir(exist_ok=True)
    for path in files:
        kind = ""
        for line in path.read_text(encoding="utf-8-sig").splitlines()[:60]:
            if line.startswith("vote_type;"):
                kind = line.split(";")[1].strip()
        target = OUT / f"{path.stem}.json"
        data = json.loads(target.read_text()) if target.exists() else {}
        for rule in args.rules.split(","):
            if kind not in KINDS[rule] or rule in data:
                continue
            result = None
            if rule == "equalshares/add1":
                election, _ = read_election(path)
                plaza = tally(election, rule, tie_break="pabutools").details["add1"]
                if plaza["schedule_step"] > MAX_STEPS:
                    result = endpoint(path, Fraction(plaza["per_voter_budget"]), plaza)
            if result is None:
                result = compute(path, rule, args.timeout)
            if result is None:
                print(f"{path.name}: {rule}: no result within {args.timeout} s", flush=True)
                continue
            data[rule] = result
            target.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            print(f"{path.name}: {rule}: {result['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
