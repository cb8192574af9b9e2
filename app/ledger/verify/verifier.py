"""Verify a ledger export: every check, each with a pass/fail line.

An export is a directory with ``events.jsonl`` (line i is the canonical event i),
``checkpoints/`` (signed checkpoints, any file names) and ``key.pub`` (the log's verifier key).
``verify_export(data)`` runs on the bytes (so tests can mutate them in memory);
``load_export(path)`` reads a directory.
"""

from __future__ import annotations

import gc
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.ledger.verify.jcs import CanonicalJSONError, canonicalize, parse_canonical
from app.ledger.verify.merkle import MerkleTree, ProofError, hash_leaf, verify_consistency
from app.ledger.verify.merkle import verify_inclusion as check_inclusion
from app.ledger.verify.note import (
    Checkpoint,
    NoteError,
    TlogProof,
    VerifierKey,
    find_split_views,
    open_checkpoint,
)
from app.ledger.verify.recount import count, result_body, seed_commitment
from app.ledger.verify.schema import (
    EVENT_TYPES,
    BallotEvent,
    Config,
    SchemaError,
    check_cycle_id,
    check_empty,
    merge_amendment,
    number_from_json,
    parse_ballot,
    parse_config,
    parse_invalidation,
    parse_result,
)
from app.tally import RULES, Ballot, TallyError, validate_ballot

CHECKS = ("key", "encoding", "signatures", "checkpoints", "phases", "ballots", "recount")
_ENVELOPE = frozenset({"body", "cycle", "seq", "type"})


class ExportError(ValueError):
    """The export directory cannot be read at all (missing files)."""


@dataclass
class ExportData:
    events: bytes
    checkpoints: dict[str, bytes]
    key: bytes
    receipts: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass
class Report:
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.ok]

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.results.append(CheckResult(name, ok, detail))


def run(export: str | Path, receipts: list[str | Path] | None = None) -> int:
    """Print one PASS/FAIL line per check and a summary; 0 if all pass, 1 if one fails,
    2 (one line on stderr) if the export cannot be read."""
    try:
        data = load_export(export, receipts)
    except (ExportError, OSError) as exc:
        print(f"plaza verify: error: {exc}", file=sys.stderr)
        return 2
    report = verify_export(data)
    for result in report.results:
        print(result.line())
    failed = len(report.failed())
    print("verified: all checks pass" if report.ok else f"NOT verified: {failed} check(s) failed")
    return 0 if report.ok else 1


def load_export(path: str | Path, receipts: list[str | Path] | None = None) -> ExportData:
    root = Path(path)
    if not root.is_dir():
        raise ExportError(f"{root} is not a directory")
    events, key, cps = root / "events.jsonl", root / "key.pub", root / "checkpoints"
    for needed in (events, key):
        if not needed.is_file():
            raise ExportError(f"{needed} is missing")
    if not cps.is_dir():
        raise ExportError(f"{cps} is missing")
    data = ExportData(
        events.read_bytes(),
        {p.name: p.read_bytes() for p in sorted(cps.iterdir()) if p.is_file()},
        key.read_bytes(),
    )
    for r in receipts or []:
        rp = Path(r)
        if not rp.is_file():
            raise ExportError(f"receipt {rp} is missing")
        data.receipts[str(rp)] = rp.read_bytes()
    return data


@dataclass
class _State:
    """What the event pass learns, for the later checks."""

    n: int = 0
    cycle: str = ""
    config: Config | None = None
    raw_config: dict[str, Any] | None = None
    ballots: dict[str, BallotEvent] = field(default_factory=dict)
    invalidated: set[str] = field(default_factory=set)
    result: Any = None
    required_sizes: set[int] = field(default_factory=set)
    phase_error: str = ""
    ballot_error: str = ""


def _phase_error(state: _State, seq: int, message: str) -> None:
    if not state.phase_error:
        state.phase_error = f"event {seq}: {message}"


# A canonical ballot line has one shape; members in RFC 8785 order.  Lines that match it are
# checked piece by piece (each variable piece must itself be canonical JSON), which is exact
# and much faster than a full parse and re-encode; every other line takes the general path.
_BALLOT_LINE = re.compile(
    rb'\{"body":\{"ballot_id":"([0-9a-f]{32})","channel":"(online|kiosk|paper|import)",'
    rb'"choices":\{"points":(null|\[[^\[\]]*\]),"projects":(\[[^\[\]]*\])\},'
    rb'"district":("[^"\\]*(?:\\.[^"\\]*)*"),"salt":"[0-9a-f]{32}"\},'
    rb'"cycle":("[^"\\]*(?:\\.[^"\\]*)*"),'
    rb'"seq":(0|[1-9][0-9]*),"type":"ballot"\}'
)
_PLAIN_IDS = re.compile(rb'\[(?:"[^"\\\x00-\x1f]*"(?:,"[^"\\\x00-\x1f]*")*)?\]')
_Choice = tuple[tuple[str, ...], Any, Any, Any]


def _choice(points_raw: bytes, projects_raw: bytes) -> _Choice | None:
    """Projects, points, raw points and the tally Ballot of canonical choice pieces (None if
    the pieces are not canonical or not of the schema: the line then takes the general path)."""
    try:
        if _PLAIN_IDS.fullmatch(projects_raw):
            # Strings without escapes are their own canonical form: only UTF-8 to check.
            try:
                text = projects_raw[2:-2].decode("utf-8")
            except UnicodeDecodeError:
                return None
            ids = () if projects_raw == b"[]" else tuple(text.split('","'))
        else:
            projects = parse_canonical(projects_raw)
            if type(projects) is not list or not all(type(p) is str for p in projects):
                return None
            ids = tuple(projects)
        if points_raw == b"null":
            return ids, None, None, Ballot(ids, None)
        raw = parse_canonical(points_raw)
        if type(raw) is not list:
            return None
        points = tuple(number_from_json(p, "points") for p in raw)
    except (CanonicalJSONError, SchemaError):
        return None
    return ids, points, tuple(raw), Ballot(ids, points)


def _fast_ballot(
    groups: tuple[Any, ...],
    seq: int,
    cycle_json: bytes,
    choice_cache: dict[tuple[bytes, bytes], _Choice | None],
    district_cache: dict[bytes, str | None],
) -> BallotEvent | None:
    """The ballot of a line matching _BALLOT_LINE, or None if a piece is not canonical (the
    general path then gives the verdict)."""
    ballot_id, channel, points_raw, projects_raw, district_raw, cycle_raw, seq_raw = groups
    if cycle_raw != cycle_json or seq_raw != str(seq).encode():
        return None
    key = (points_raw, projects_raw)
    if key in choice_cache:
        choice = choice_cache[key]
    else:
        choice = choice_cache[key] = _choice(*key)
    if district_raw in district_cache:
        district = district_cache[district_raw]
    else:
        try:
            parsed = parse_canonical(district_raw)
        except CanonicalJSONError:
            parsed = None
        district = district_cache[district_raw] = parsed if isinstance(parsed, str) else None
    if choice is None or district is None:
        return None
    projects, points, raw_points, ballot = choice
    return BallotEvent(
        seq, ballot_id.decode(), district, channel.decode(), projects, points, raw_points, ballot
    )


def _events_pass(lines: list[bytes], state: _State) -> str:
    """Parse and walk every event; return the first encoding/schema error ('' if none).

    Phase and ballot-rule problems are recorded in ``state`` for their own checks."""
    encoding_error = ""
    phase = "start"  # start -> configured -> open -> closed -> resulted
    every = 1
    valid_cache: dict[tuple[str, tuple[str, ...], tuple[Any, ...] | None], str] = {}
    choice_cache: dict[tuple[bytes, bytes], _Choice | None] = {}
    district_cache: dict[bytes, str | None] = {}
    cycle_json = b""
    ballots = state.ballots
    fullmatch = _BALLOT_LINE.fullmatch
    for seq, line in enumerate(lines):
        if encoding_error:
            break
        b: BallotEvent | None = None
        if phase == "open":
            m = fullmatch(line)
            if m is not None:
                b = _fast_ballot(m.groups(), seq, cycle_json, choice_cache, district_cache)
        try:
            if b is None:
                event = parse_canonical(line)
                if type(event) is not dict or event.keys() != _ENVELOPE:
                    raise SchemaError("an event is {cycle, seq, type, body}")
                if event["seq"] != seq or type(event["seq"]) is not int:
                    raise SchemaError(f"sequence number {event['seq']!r}, expected {seq}")
                etype = event["type"]
                if etype not in EVENT_TYPES:
                    raise SchemaError(f"unknown event type {etype!r}")
                if seq == 0:
                    state.cycle = check_cycle_id(event["cycle"])
                    cycle_json = canonicalize(state.cycle)
                elif event["cycle"] != state.cycle:
                    raise SchemaError(f"cycle {event['cycle']!r} is not {state.cycle!r}")
                body = event["body"]
                if etype == "ballot":
                    b = parse_ballot(seq, body)
            else:
                etype = "ballot"
            if b is not None:
                if phase != "open":
                    _phase_error(state, seq, f"a ballot while voting is {phase}")
                if b.ballot_id in ballots:
                    _phase_error(state, seq, f"ballot id {b.ballot_id} used twice")
                ballots[b.ballot_id] = b
                config = state.config
                if config is not None and not state.ballot_error:
                    vkey = (b.district, b.projects, b.raw_points)
                    problem = valid_cache.get(vkey)
                    if problem is None:
                        if b.district not in config.districts:
                            problem = f"unknown district {b.district!r}"
                        else:
                            problems = validate_ballot(
                                config.rules, config.projects[b.district], b.ballot
                            )
                            problem = "; ".join(problems)
                        valid_cache[vkey] = problem
                    if problem:
                        state.ballot_error = f"event {seq} (ballot {b.ballot_id}): {problem}"
            elif etype == "configured":
                if seq != 0:
                    _phase_error(state, seq, "configured is only the first event")
                state.raw_config = body if isinstance(body, dict) else None
                state.config = parse_config(body, state.cycle, RULES)
                every = state.config.checkpoint_every
                phase = "configured"
            elif etype == "amended":
                if phase != "configured":
                    _phase_error(state, seq, f"an amendment while voting is {phase}")
                if state.raw_config is not None:
                    merged = merge_amendment(state.raw_config, body)
                    state.config = parse_config(merged, state.cycle, RULES)
                    state.raw_config = merged
            elif etype == "voting_opened":
                check_empty(body, "voting_opened")
                if phase != "configured":
                    _phase_error(state, seq, f"voting opened while {phase}")
                phase = "open"
            elif etype == "ballot_invalidated":
                ballot_id, _ = parse_invalidation(body)
                if phase not in ("open", "closed"):
                    _phase_error(state, seq, f"a correction while voting is {phase}")
                if ballot_id not in ballots:
                    _phase_error(state, seq, f"invalidates {ballot_id}, no earlier ballot")
                elif ballot_id in state.invalidated:
                    _phase_error(state, seq, f"invalidates {ballot_id} a second time")
                state.invalidated.add(ballot_id)
            elif etype == "voting_closed":
                check_empty(body, "voting_closed")
                if phase != "open":
                    _phase_error(state, seq, f"voting closed while {phase}")
                phase = "closed"
            else:  # result
                state.result = parse_result(body)
                if phase != "closed":
                    _phase_error(state, seq, f"a result while voting is {phase}")
                phase = "resulted"
            if etype not in ("ballot", "ballot_invalidated"):
                state.required_sizes.add(seq + 1)
            if (seq + 1) % every == 0:
                state.required_sizes.add(seq + 1)
        except (CanonicalJSONError, SchemaError) as exc:
            encoding_error = f"event {seq}: {exc}"
    state.n = len(lines)
    if not encoding_error and state.config is None:
        encoding_error = "the log does not start with a configured event"
    if not state.phase_error and phase != "resulted":
        state.phase_error = f"the log ends while voting is {phase} (no result)"
    if state.n:
        state.required_sizes.add(state.n)
    return encoding_error


def _split_lines(events: bytes) -> tuple[list[bytes], str]:
    if not events:
        return [], "events.jsonl is empty"
    if not events.endswith(b"\n"):
        return events.split(b"\n"), "events.jsonl does not end with a newline"
    lines = events[:-1].split(b"\n")
    return lines, ""


def verify_export(data: ExportData) -> Report:
    """Run every check on an export. The cyclic garbage collector is paused meanwhile: the
    pass allocates one small object per ballot and none of them form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _verify(data)
    finally:
        if enabled:
            gc.enable()


def _verify(data: ExportData) -> Report:
    report = Report()
    # key
    key: VerifierKey | None = None
    try:
        key_text = data.key.decode("utf-8")
        if key_text.count("\n") != 1 or not key_text.endswith("\n"):
            raise NoteError("key.pub is one line ending in a newline")
        key = VerifierKey.parse(key_text[:-1])
    except (UnicodeDecodeError, NoteError) as exc:
        key_problem = f"key.pub: {exc}"
    else:
        key_problem = ""

    # events: encoding, schema, tree, phases, ballots
    lines, split_problem = _split_lines(data.events)
    sha256 = hashlib.sha256
    tree = MerkleTree.from_leaf_hashes([sha256(b"\x00" + line).digest() for line in lines])
    state = _State()
    encoding_error = _events_pass(lines, state) if lines else ""
    encoding_error = split_problem or encoding_error
    config = state.config if not encoding_error else None

    if not key_problem and config is not None and key is not None and key.encode() != config.key:
        key_problem = "key.pub is not the log key named in the configured event"
    if key_problem:
        report.add("key", False, key_problem)
    elif key is None or config is None:
        report.add("key", False, "cannot compare key.pub with the configuration (bad events)")
    else:
        report.add("key", True, f"key.pub is the log key of the configuration ({key.name})")
    if encoding_error:
        report.add("encoding", False, encoding_error)
    else:
        report.add("encoding", True, f"{state.n} events, canonical, numbered 0..{state.n - 1}")

    # signatures
    checkpoints: list[tuple[str, Checkpoint]] = []
    origin = config.origin if config is not None else None
    if key is None or key_problem:
        report.add("signatures", False, "no trusted key to check the checkpoints with")
    elif not data.checkpoints:
        report.add("signatures", False, "checkpoints/ is empty")
    else:
        problem = ""
        for name, raw in sorted(data.checkpoints.items()):
            try:
                checkpoints.append((name, open_checkpoint(raw, key, origin)))
            except NoteError as exc:
                problem = problem or f"checkpoints/{name}: {exc}"
        if origin is None and not problem:
            problem = "cannot check checkpoint origins (bad events)"
        if problem:
            report.add("signatures", False, problem)
        else:
            report.add("signatures", True, f"{len(checkpoints)} checkpoints signed by {key.name}")

    # checkpoints: roots recomputed, no split view, all required sizes present, consistent
    problem = ""
    cps = [cp for _, cp in checkpoints]
    for size, _, _ in find_split_views(cps):
        problem = problem or f"misbehaviour: two different signed roots for size {size}"
    by_size = {cp.size: cp for cp in cps}
    for name, cp in checkpoints:
        if problem:
            break
        if cp.size > state.n:
            problem = f"checkpoints/{name}: size {cp.size} beyond the {state.n} events"
        elif cp.root != tree.root(cp.size):
            problem = (
                f"checkpoints/{name}: root differs from the root of the first {cp.size} events"
            )
    if not problem and not checkpoints:
        problem = "no valid checkpoint"
    if not problem and not lines:
        problem = "no events"
    if not problem:
        missing = sorted(s for s in state.required_sizes if s not in by_size)
        if missing:
            problem = f"no checkpoint for size {missing[0]} ({len(missing)} required sizes missing)"
    if not problem:
        sizes = sorted(by_size)
        for a, b in zip(sizes, sizes[1:], strict=False):
            try:
                proof = tree.consistency_proof(a, b) if a else []
                if a:
                    verify_consistency(a, b, proof, by_size[a].root, by_size[b].root)
            except ProofError as exc:
                problem = f"checkpoints {a} and {b} are not consistent: {exc}"
                break
    if problem:
        report.add("checkpoints", False, problem)
    else:
        report.add(
            "checkpoints",
            True,
            f"{len(by_size)} roots recomputed and mutually consistent; final size {state.n}",
        )

    # phases and ballots
    ready = config is not None
    if not ready:
        report.add("phases", False, "cannot check the phases (bad events)")
        report.add("ballots", False, "cannot check the ballots (bad events)")
    else:
        if state.phase_error:
            report.add("phases", False, state.phase_error)
        else:
            report.add("phases", True, "configured, voting opened, closed, result, in order")
        if state.ballot_error:
            report.add("ballots", False, state.ballot_error)
        else:
            report.add("ballots", True, f"{len(state.ballots)} ballots valid under the rules")

    # receipts
    for name, raw in data.receipts.items():
        ok, detail = _check_receipt(raw, key if not key_problem else None, origin, lines, tree)
        report.add(f"receipt {name}", ok, detail)

    # recount
    report.add("recount", *_recount(state, config))
    return report


def _check_receipt(
    raw: bytes,
    key: VerifierKey | None,
    origin: str | None,
    lines: list[bytes],
    tree: MerkleTree,
) -> tuple[bool, str]:
    if key is None or origin is None:
        return False, "no trusted key and origin to check the receipt with"
    try:
        proof = TlogProof.parse(raw)
        cp = open_checkpoint(proof.checkpoint, key, origin)
        if proof.extra is None:
            return False, "the receipt does not name its ballot id"
        ballot_id = proof.extra.decode("utf-8", "replace")
        if proof.index >= len(lines):
            return False, f"index {proof.index} beyond the {len(lines)} events"
        line = lines[proof.index]
        event: Any = None
        try:
            event = parse_canonical(line)
            body = event["body"] if isinstance(event, dict) else None
            named = body.get("ballot_id") if isinstance(body, dict) else None
        except CanonicalJSONError:
            named = None
        if not isinstance(event, dict) or event.get("type") != "ballot" or named != ballot_id:
            return False, f"entry {proof.index} is not ballot {ballot_id}"
        check_inclusion(proof.index, cp.size, hash_leaf(line), list(proof.proof), cp.root)
        if cp.size > tree.size:
            return False, f"its checkpoint (size {cp.size}) is beyond the log"
        if cp.size < tree.size:
            verify_consistency(
                cp.size, tree.size, tree.consistency_proof(cp.size), cp.root, tree.root()
            )
        elif cp.root != tree.root():
            return False, "its checkpoint differs from the final root"
    except ValueError as exc:  # NoteError, ProofError
        return False, str(exc)
    return True, f"ballot {ballot_id} is entry {proof.index}, included in checkpoint {cp.size}"


def _recount(state: _State, config: Config | None) -> tuple[bool, str]:
    if config is None:
        return False, "cannot recount (bad events)"
    if state.phase_error or state.ballot_error:
        return False, "cannot recount: the phases or ballots check failed"
    result = state.result
    if result is None:
        return False, "no result event"
    if seed_commitment(result.seed) != config.seed_commitment:
        return False, "the revealed tie-break seed does not match its commitment"
    if result.rule != config.rule or result.tie_break != config.tie_break:
        return False, "the result names another rule or tie-break than the configuration"
    if RULES.get(config.rule) != config.rule_version:
        return False, (
            f"configured {config.rule} version {config.rule_version}, this verifier has "
            f"version {RULES.get(config.rule)}"
        )
    counted = [b for bid, b in state.ballots.items() if bid not in state.invalidated]
    try:
        outcomes = count(config, counted, result.seed)
    except TallyError as exc:
        return False, f"the tally engine refused: {exc}"
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        # A hostile configuration must fail the check, never crash the verifier.
        return False, f"the tally engine failed: {type(exc).__name__}: {exc}"
    expected = result_body(config, outcomes, result.seed)
    published = {
        "rule": result.rule,
        "rule_version": result.rule_version,
        "tie_break": result.tie_break,
        "seed": result.seed.hex(),
        "districts": [
            {
                "district": d.district,
                "selected": list(d.selected),
                "totals": d.totals,
                "money_used": d.money_used,
            }
            for d in result.districts
        ],
    }
    if canonicalize(expected) != canonicalize(published):
        for want, got in zip(expected["districts"], published["districts"], strict=False):
            if want != got:
                return False, (
                    f"district {want['district']}: recount selects {want['selected']}, "
                    f"the result says {got['selected']}"
                    if want["selected"] != got["selected"]
                    else f"district {want['district']}: totals or money used differ"
                )
        return False, "the published result differs from the recount"
    winners = sum(len(d["selected"]) for d in expected["districts"])
    return True, (
        f"{config.rule} v{config.rule_version} on {len(counted)} ballots selects the same "
        f"{winners} projects, totals and money used"
    )
