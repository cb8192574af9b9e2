"""``plaza tally PATH...``: count pabulib ``.pb`` files (registered by app/cli.py).

For each file, one JSON object on its own line on standard output, or with ``--explain`` a
readable table. A file that cannot be counted (broken, unknown or unsupported rule) gives
``{"file": ..., "error": ...}`` and the other files go on; the exit status is 1 if any failed.
An unexpected exception (a bug) fails only its file too: ``"error": "internal error: ..."``
on standard output and the traceback on standard error.
A progress bar appears on standard error when a run takes over a second and standard error
is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

from app.tally.engine import RULES, tally
from app.tally.model import TallyError
from app.tally.outcome import Outcome, json_number, money
from app.tally.pb import read_election
from app.tally.tiebreak import TIE_BREAKS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``plaza tally`` to the ``plaza`` parser."""
    parser = sub.add_parser(
        "tally",
        help="count pabulib .pb files with a published rule",
        description="Count each .pb file and print one JSON line per file (or a table).",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="pabulib .pb files")
    parser.add_argument(
        "--rule",
        help=f"rule id (default: the file's META rule); one of: {', '.join(RULES)}",
    )
    parser.add_argument("--tie-break", choices=TIE_BREAKS, default="default")
    parser.add_argument(
        "--seed", default="", help="hex seed for the tie-break lot (fixed before voting opens)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print a readable table per file instead of JSON"
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    return tally_files(
        args.paths,
        rule=args.rule,
        tie_break=args.tie_break,
        seed_hex=args.seed,
        explain=args.explain,
        out=sys.stdout,
        err=sys.stderr,
    )


def tally_files(
    paths: Sequence[str],
    *,
    rule: str | None,
    tie_break: str,
    seed_hex: str,
    explain: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    try:
        seed = bytes.fromhex(seed_hex)
    except ValueError:
        print(f"plaza tally: --seed must be hexadecimal, not {seed_hex!r}", file=err)
        return 2
    failed = False
    progress = _Progress(err, len(paths))
    try:
        for index, path in enumerate(paths):
            progress.update(index, path)
            trace = ""
            try:
                record = _one(path, rule, tie_break, seed)
            except Exception as exc:  # a bug in Plaza: this file fails, the others go on
                trace = traceback.format_exc()
                record = {"file": path, "error": f"internal error: {type(exc).__name__}: {exc}"}
            failed |= "error" in record
            progress.clear()
            if trace:
                err.write(f"plaza tally: internal error on {path} (a bug; please report):\n")
                err.write(trace)
                err.flush()
            if explain:
                out.write(_table(record))
            else:
                out.write(
                    json.dumps(
                        {k: v for k, v in record.items() if k != "_outcome"}, ensure_ascii=False
                    )
                    + "\n"
                )
            out.flush()
    finally:
        progress.stop()
    return 1 if failed else 0


def _one(path: str, rule: str | None, tie_break: str, seed: bytes) -> dict[str, Any]:
    try:
        election, _ = read_election(path)
        chosen = rule or election.meta.get("rule", "").strip()
        if not chosen:
            raise TallyError("the file names no rule (META rule); pass --rule")
        if chosen not in RULES:
            raise TallyError(
                f"unsupported rule {chosen!r} (Plaza supports: {', '.join(RULES)}); pass --rule"
            )
        outcome = tally(election, chosen, tie_break=tie_break, seed=seed)
    except TallyError as exc:
        return {"file": path, "error": str(exc)}
    except OSError as exc:  # "cannot read: No such file or directory", not "[Errno 2] ..."
        return {"file": path, "error": f"cannot read: {exc.strerror or exc}"}
    except MemoryError:
        return {"file": path, "error": "not enough memory to read and count this file"}
    return {
        "file": path,
        "rule": outcome.rule,
        "rule_version": outcome.rule_version,
        "tie_break": outcome.tie_break,
        "seed": outcome.seed.hex(),
        "selected": list(outcome.selected),
        "cost": json_number(outcome.cost),
        "budget": json_number(outcome.budget),
        "_outcome": outcome,
    }


def _table(record: dict[str, Any]) -> str:
    if "error" in record:
        return f"{record['file']}: error: {record['error']}\n\n"
    outcome: Outcome = record["_outcome"]
    lines = [
        f"{record['file']}",
        f"rule {outcome.rule} (version {outcome.rule_version}), tie-break {outcome.tie_break}; "
        f"budget {money(outcome.budget)}, funded {money(outcome.cost)} "
        f"({len(outcome.selected)} projects)",
    ]
    order = list(outcome.selected) + [p for p in outcome.explanations if p not in outcome.selected]
    width = max((len(p) for p in order), default=7)
    width = max(width, len("project"))
    lines.append(f"  {'#':>3}  {'project':<{width}}  {'funded':<6}  explanation")
    for number, pid in enumerate(order, start=1):
        funded = "yes" if pid in outcome.selected else "no"
        rank = f"{number:>3}" if funded == "yes" else "  -"
        lines.append(f"  {rank}  {pid:<{width}}  {funded:<6}  {outcome.explanations.get(pid, '')}")
    return "\n".join(lines) + "\n\n"


class _Progress:
    """A one-line bar on a terminal's standard error, shown once a run passes one second."""

    def __init__(self, err: TextIO, total: int) -> None:
        self.err = err
        self.total = total
        self.enabled = bool(getattr(err, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.done = 0
        self.current = ""
        self.shown = False
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        if self.enabled:
            self.thread = threading.Thread(target=self._loop, daemon=True)
            self.thread.start()

    def update(self, done: int, current: str) -> None:
        with self.lock:
            self.done = done
            self.current = current

    def clear(self) -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.shown:
                self.err.write("\r\x1b[K")
                self.err.flush()

    def _loop(self) -> None:
        spinner = "|/-\\"
        tick = 0
        while not self.stopping.wait(0.2):
            if time.monotonic() - self.start < 1.0:
                continue
            with self.lock:
                width = 30
                filled = width * self.done // max(self.total, 1)
                bar = "#" * filled + "-" * (width - filled)
                name = self.current[-40:]
                self.err.write(
                    f"\r\x1b[K[{bar}] {self.done}/{self.total} {spinner[tick % 4]} {name}"
                )
                self.err.flush()
                self.shown = True
            tick += 1

    def stop(self) -> None:
        if self.thread is not None:
            self.stopping.set()
            self.thread.join()
            self.clear()
