"""Plaza's tally engine against pabutools, side by side in one run.

For every file in ../shared/pabulib with more than 5,000 voters and each rule pabutools can
run on its ballot kind, prints: pabutools' time for the rule call (identical ballots collapsed
with ``as_multiprofile()``, its default exact gmpy2 fractions, and its float mode for
reference), Plaza's time for the same rule, the ratio, Plaza's time to read and parse the file,
the ratio of Plaza's rule time to its parse time, and whether the outcomes agree. pabutools
runs are capped (``PLAZA_BENCH_CAP`` seconds, default 60); a capped run prints as ``>cap`` and
its ratio as a lower bound. A rule call under 0.1 s is repeated and the best of five is kept,
on both sides (single timings of a few milliseconds on a shared machine are mostly noise).

For ``equalshares/add1`` pabutools' own add-one is ``voter_budget_increment=1`` (it stops at
the first exhaustive outcome, so it runs no more steps than equalshares.net's schedule); the
agreement column compares Plaza with the conformance reference (pabutools' MES at each budget
of equalshares.net's schedule, tests/tally/reference/*.json) and, when pabutools' own add-one
happens to give the same outcome, says so.

Finally, the peak memory of ``plaza tally`` on the largest file, against the file's size
(the target), and for reference on a synthetic city of 250,000 voters under greedy and equal
shares.

A subset can be run: ``PLAZA_BENCH_FILES`` (comma-separated parts of file names),
``PLAZA_BENCH_RULES`` (comma-separated rule ids), ``PLAZA_BENCH_FLOAT=0`` (skip pabutools'
float mode); a subset skips the slow-file conformance pass and the memory measurement unless
``PLAZA_BENCH_FILES`` names them. For example::

    PLAZA_BENCH_FILES=Wieliczka,Mokotow PLAZA_BENCH_RULES=equalshares/add1 python -m bench
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PABULIB = ROOT.parent / "shared" / "pabulib"
REFERENCE = ROOT / "tests" / "tally" / "reference"
CAP = float(os.environ.get("PLAZA_BENCH_CAP", "60"))
MIN_VOTERS = 5000
SHORT, REPEAT = 0.1, 5  # calls under SHORT seconds: the best of REPEAT, on both sides
FILES = [part for part in os.environ.get("PLAZA_BENCH_FILES", "").split(",") if part]
RULES = [rule for rule in os.environ.get("PLAZA_BENCH_RULES", "").split(",") if rule]
FLOAT = os.environ.get("PLAZA_BENCH_FLOAT", "1") != "0"
#: Files whose add-one conformance is checked and timed here (the slowest of Plaza's add-one
#: runs; the test suite checks them too); see tests/tally/test_conformance.py.
SLOW_ADD1 = (
    "France_Toulouse_2022",
    "Hungary_Budapest_2023_VIII_Jozsefvaros",
    "Hungary_Budapest_2025_VIII_Jozsefvaros",
    "Netherlands_Amsterdam_166",
    "Netherlands_Amsterdam_252",
    "Poland_Czestochowa_2024",
    "Poland_Warszawa_2024_Srodmiescie",
)
KINDS = {
    "greedy": {"approval", "choose-1", "cumulative"},
    "equalshares": {"approval", "choose-1", "cumulative", "scoring"},
    "equalshares/add1": {"approval", "choose-1", "cumulative", "scoring"},
    "phragmen": {"approval", "choose-1"},
}


def _pabutools_call(path: str, rule: str, mode: str, queue: Any) -> None:
    import pabutools.fractions as pf

    pf.FRACTION = pf.FLOAT_FRAC if mode == "float" else pf.GMPY_FRAC
    sys.path.insert(0, str(ROOT))
    from pabutools.election import Additive_Cardinal_Sat, Cost_Sat, parse_pabulib
    from pabutools.rules import (
        greedy_utilitarian_welfare,
        method_of_equal_shares,
        sequential_phragmen,
    )

    from tests.tally.pabutools_ref import PointsCostSat

    instance, profile = parse_pabulib(path)
    kind = instance.meta["vote_type"]
    approval = kind in ("approval", "choose-1")
    multi = profile.as_multiprofile()

    def call() -> Any:
        if rule == "greedy":
            result = greedy_utilitarian_welfare(
                instance, multi, sat_class=Cost_Sat if approval else PointsCostSat
            )
        elif rule == "equalshares":
            result = method_of_equal_shares(
                instance, multi, sat_class=Cost_Sat if approval else Additive_Cardinal_Sat
            )
        elif rule == "equalshares/add1":
            result = method_of_equal_shares(
                instance,
                multi,
                sat_class=Cost_Sat if approval else Additive_Cardinal_Sat,
                voter_budget_increment=1,
            )
        else:
            result = sequential_phragmen(instance, multi)
        return result

    seconds, result = _best_of(call)
    queue.put((seconds, [p.name for p in result]))


def _best_of(call: Any) -> tuple[float, Any]:
    """(seconds, result) of ``call()``; a call under ``SHORT`` seconds is repeated and the
    best of ``REPEAT`` is kept (both sides are measured so: single millisecond timings on the
    shared machine are mostly noise)."""
    start = time.perf_counter()
    result = call()
    best = time.perf_counter() - start
    if best < SHORT:
        for _ in range(REPEAT - 1):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
    return best, result


def pabutools_time(path: Path, rule: str, mode: str) -> tuple[float | None, list[str] | None]:
    """(seconds, selection) of one pabutools rule call in a child process; None if capped."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_pabutools_call, args=(str(path), rule, mode, queue))
    proc.start()
    deadline = time.monotonic() + CAP + 30  # parsing is not timed, give it room
    result = None
    while time.monotonic() < deadline:
        try:
            result = queue.get(timeout=0.5)
            break
        except Exception:  # queue.Empty
            if not proc.is_alive():
                break
    if result is None:
        proc.kill()
        proc.join()
        return None, None
    proc.join()
    seconds, selected = result
    if seconds > CAP:
        return None, None
    return seconds, selected


def _fmt(seconds: float | None) -> str:
    return f">{CAP:.0f}" if seconds is None else f"{seconds:.3f}"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    import numpy  # noqa: F401 - loaded once per process, as pabutools' imports are outside its timing

    from app.tally import read_election, tally

    files = []
    for path in sorted(PABULIB.glob("*.pb")):
        head = path.read_text(encoding="utf-8-sig")[:4000]
        meta = dict(line.split(";", 1) for line in head.splitlines() if line.count(";") >= 1)
        if int(meta.get("num_votes", "0").strip() or 0) > MIN_VOTERS and _chosen(path.stem):
            files.append((path, meta.get("vote_type", "").strip()))
    status = memory() if not (FILES or RULES) else 0
    print(f"pabutools cap {CAP:.0f} s; times in seconds; ratio = pabutools exact / Plaza")
    header = (
        f"{'file':<44} {'rule':<17} {'pabu exact':>10} {'pabu float':>10} {'Plaza':>8} "
        f"{'ratio':>8} {'parse':>7} {'rule/parse':>10}  agree"
    )
    print(header)
    for path, kind in files:
        start = time.perf_counter()
        election, _ = read_election(path)
        parse = time.perf_counter() - start
        refs = {}
        ref_file = REFERENCE / f"{path.stem}.json"
        if ref_file.exists():
            refs = json.loads(ref_file.read_text())
        for rule in ("greedy", "equalshares", "equalshares/add1", "phragmen"):
            if kind not in KINDS[rule] or (RULES and rule not in RULES):
                continue
            plaza, outcome = _best_of(
                functools.partial(tally, election, rule, tie_break="pabutools")
            )
            exact, exact_sel = pabutools_time(path, rule, "exact")
            flt, _ = pabutools_time(path, rule, "float") if FLOAT else (None, None)
            got = list(outcome.selected)
            if rule == "equalshares/add1":
                ref = refs.get(rule, {}).get("selected")
                agree = "yes" if ref == got else ("no reference" if ref is None else "NO")
                if exact_sel is not None:
                    agree += (
                        " (= pabutools' own add-one)"
                        if exact_sel == got
                        else (" (pabutools' own add-one differs: first exhaustive outcome)")
                    )
            elif exact_sel is None:
                ref = refs.get(rule, {}).get("selected")
                agree = "capped; reference: " + ("yes" if _same(rule, ref, got) else "NO")
            else:
                agree = "yes" if _same(rule, exact_sel, got) else "NO"
            if "NO" in agree:
                status = 1
            ratio = f">{CAP / plaza:.0f}" if exact is None else f"{exact / plaza:.1f}"
            flt_text = _fmt(flt) if FLOAT else "-"
            print(
                f"{path.stem[:44]:<44} {rule:<17} {_fmt(exact):>10} {flt_text:>10} "
                f"{plaza:>8.3f} {ratio:>8} {parse:>7.3f} {plaza / parse:>10.2f}  {agree}",
                flush=True,
            )
        if kind == "ordinal" and (not RULES or "greedy" in RULES):
            start = time.perf_counter()
            tally(election, "greedy")
            plaza = time.perf_counter() - start
            print(
                f"{path.stem[:44]:<44} {'greedy':<17} {'n/a':>10} {'n/a':>10} {plaza:>8.3f} "
                f"{'':>8} {parse:>7.3f} {plaza / parse:>10.2f}  (pabutools: no pabulib ordinal "
                "greedy)",
                flush=True,
            )
    if not (FILES or RULES) or (RULES and "equalshares/add1" in RULES):
        status |= slow_add1(read_election, tally)
    return status


def _chosen(stem: str) -> bool:
    return not FILES or any(part in stem for part in FILES)


def slow_add1(read_election: Any, tally: Any) -> int:
    """Plaza's add-one against the conformance reference on the files the tests leave here."""
    print("add-one conformance on the files too slow for the test suite:")
    status = 0
    for stem in SLOW_ADD1:
        if not _chosen(stem):
            continue
        ref = json.loads((REFERENCE / f"{stem}.json").read_text()).get("equalshares/add1")
        election, _ = read_election(PABULIB / f"{stem}.pb")
        start = time.perf_counter()
        outcome = tally(election, "equalshares/add1", tie_break="pabutools")
        seconds = time.perf_counter() - start
        if ref is None:
            verdict = "no reference"
            status = 1
        else:
            same = ref["selected"] == list(outcome.selected)
            if ref.get("mode") == "endpoint":
                same = (
                    same
                    and ref["per_voter_budget"] == str(outcome.details["add1"]["per_voter_budget"])
                    and ref["next_step_over_budget"]
                )
            verdict = "agree" if same else "DISAGREE"
            status |= 0 if same else 1
        print(f"  {stem[:44]:<44} Plaza {seconds:8.2f} s  {verdict}", flush=True)
    return status


def _same(rule: str, a: list[str] | None, b: list[str]) -> bool:
    if a is None:
        return False
    return sorted(a) == sorted(b) if rule == "phragmen" else a == b


def _peak_kib(path: Path, rule: str | None = None) -> tuple[int, int]:
    """(peak resident KiB, exit status) of ``plaza tally PATH [--rule RULE]`` in a child.

    The child reads its own high-water mark (``VmHWM``) where Linux gives it: ``ru_maxrss``
    carries over an ``exec`` the peak of the memory it replaced, and a child that Python
    starts with ``vfork`` borrows the parent's, so it reported this benchmark's own peak."""
    code = (
        "import resource, sys\n"
        "from app.cli import main\n"
        "rc = main(['tally', *sys.argv[1:]])\n"
        "try:\n"
        "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    peak = int(status.split()[0])\n"
        "except (OSError, IndexError):\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(peak, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    extra = ["--rule", rule] if rule else []
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), *extra],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    return int(proc.stderr.strip().splitlines()[-1]), proc.returncode


def memory() -> int:
    """Peak resident memory of `plaza tally` on the largest file (the target), and, for
    reference, on a synthetic city of 250,000 voters (``bench.synthetic_city``, a 7 MB
    file) under its greedy and equal shares rules."""
    largest = max(PABULIB.glob("*.pb"), key=lambda p: p.stat().st_size)
    peak_kib, status = _peak_kib(largest)
    size = largest.stat().st_size
    print(
        f"peak memory of `plaza tally {largest.name}`: {peak_kib / 1024:.1f} MiB for a "
        f"{size / 1024 / 1024:.1f} MiB file = {peak_kib * 1024 / size:.1f}x the file size "
        f"(target < 10x); exit {status}",
        flush=True,
    )
    import tempfile

    from bench.synthetic_city import city

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic_city_250000.pb"
        path.write_text(city(250_000, 2026), encoding="utf-8")  # (`--voters 250000`)
        size = path.stat().st_size
        for rule in ("greedy", "equalshares", "equalshares/add1"):
            kib, code = _peak_kib(path, rule)
            status |= code
            print(
                f"  for reference, a synthetic city of 250,000 voters ({size / 1024 / 1024:.1f}"
                f" MiB), {rule}: {kib / 1024:.1f} MiB = {kib * 1024 / size:.1f}x; exit {code}",
                flush=True,
            )
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
