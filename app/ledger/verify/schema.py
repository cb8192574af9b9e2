"""The event schema of a Plaza ledger (docs/ledger.md) and its mapping to app.tally types.

Every event is ``{"cycle": str, "seq": int, "type": str, "body": {...}}`` in RFC 8785 form.
Exact numbers (money, points) are JSON integers or, when not whole, ``"p/q"`` strings in
lowest terms.  The functions here raise :class:`SchemaError` with the reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from app.tally import BALLOT_KINDS, Ballot, BallotRules, Project

EVENT_TYPES = (
    "configured",
    "amended",
    "voting_opened",
    "ballot",
    "ballot_invalidated",
    "voting_closed",
    "result",
)
CHANNELS = ("online", "kiosk", "paper", "import")
CONFIG_KEYS = ("ballot", "districts", "log", "privacy", "projects", "tally", "title")
AMENDABLE_KEYS = frozenset({"ballot", "districts", "projects", "tally", "title"})
PRIVACY = {"ballot_bodies": "after_close", "voter_identifiers": "none"}
MAX_INT = 2**53 - 1
_HEX128 = re.compile(r"[0-9a-f]{32}")
_HEX256 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"(?:[0-9a-f]{2})*")
_FRACTION = re.compile(r"(-?[1-9][0-9]*)/([1-9][0-9]*)")
_CYCLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_RULE_LIMITS = (
    "min_length",
    "max_length",
    "min_sum_cost",
    "max_sum_cost",
    "min_points",
    "max_points",
    "min_sum_points",
    "max_sum_points",
)


class SchemaError(ValueError):
    """An event does not follow the schema."""


def number_to_json(value: Fraction | int) -> int | str:
    """An exact number as a JSON integer, or a ``"p/q"`` string when it is not whole."""
    value = Fraction(value)
    if value.denominator == 1 and abs(value.numerator) <= MAX_INT:
        return value.numerator
    if value.denominator == 1:
        raise SchemaError(f"{value} is too large for a ledger number")
    return f"{value.numerator}/{value.denominator}"


def number_from_json(value: Any, what: str) -> Fraction:
    if isinstance(value, bool):
        raise SchemaError(f"{what} is a number, not a boolean")
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise SchemaError(f"{what} is beyond the exact integer range")
        return Fraction(value)
    if isinstance(value, str):
        m = _FRACTION.fullmatch(value)
        if m:
            frac = Fraction(int(m.group(1)), int(m.group(2)))
            if frac.denominator == int(m.group(2)) and frac.denominator > 1:
                return frac
        raise SchemaError(f"{what} {value!r} is not a fraction 'p/q' in lowest terms")
    raise SchemaError(f"{what} is an integer or a 'p/q' string")


def _obj(value: Any, keys: tuple[str, ...] | frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError(f"{what} is an object")
    if set(value) != set(keys):
        missing = sorted(set(keys) - set(value))
        extra = sorted(set(value) - set(keys))
        raise SchemaError(f"{what}: missing {missing}, unexpected {extra}")
    return value


def _str(value: Any, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise SchemaError(f"{what} is a {'' if empty else 'non-empty '}string")
    return value


def _int(value: Any, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_INT:
        raise SchemaError(f"{what} is an integer >= {low}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaError(f"{what} is a list")
    return value


def _hex(value: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SchemaError(f"{what} is lower-case hex of the right length")
    return value


def check_cycle_id(cycle: Any) -> str:
    if not isinstance(cycle, str) or not _CYCLE_ID.fullmatch(cycle):
        raise SchemaError("the cycle id is 1-200 characters of A-Z a-z 0-9 . _ -")
    return cycle


def origin_for(cycle: str) -> str:
    """The checkpoint origin line of a cycle's log."""
    return f"plaza.ledger/{cycle}"


@dataclass(frozen=True)
class District:
    id: str
    name: str
    budget: Fraction


@dataclass(frozen=True)
class Config:
    """The effective configuration of a cycle, as tally types."""

    title: str
    origin: str
    key: str
    checkpoint_every: int
    districts: dict[str, District]
    projects: dict[str, dict[str, Project]]  # district id -> project id -> project
    project_district: dict[str, str]
    rules: BallotRules
    rule: str
    rule_version: str
    tie_break: str
    seed_commitment: str
    score_threshold: Fraction | None


def _rules(value: Any) -> BallotRules:
    body = _obj(value, ("kind", *_RULE_LIMITS, "rank_points"), "ballot rules")
    kind = body["kind"]
    if kind not in BALLOT_KINDS:
        raise SchemaError(f"ballot kind {kind!r} is not one of {', '.join(BALLOT_KINDS)}")
    limits: dict[str, Any] = {}
    for name in _RULE_LIMITS:
        raw = body[name]
        if raw is None:
            limits[name] = None
        elif name.endswith("_length"):
            limits[name] = _int(raw, f"ballot {name}")
        else:
            limits[name] = number_from_json(raw, f"ballot {name}")
    rank_points = body["rank_points"]
    ranks = None
    if rank_points is not None:
        ranks = tuple(number_from_json(p, "rank points") for p in _list(rank_points, "rank points"))
    return BallotRules(kind=kind, rank_points=ranks, **limits)


def rules_to_json(rules: BallotRules) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": rules.kind}
    for name in _RULE_LIMITS:
        raw = getattr(rules, name)
        out[name] = raw if raw is None or name.endswith("_length") else number_to_json(raw)
    out["rank_points"] = (
        None if rules.rank_points is None else [number_to_json(p) for p in rules.rank_points]
    )
    return out


def parse_config(body: Mapping[str, Any], cycle: str, rule_versions: Mapping[str, str]) -> Config:
    """Check a ``configured`` body (or one merged with amendments) and return it typed."""
    body = _obj(body, CONFIG_KEYS, "configuration")
    title = _str(body["title"], "title", empty=True)
    log = _obj(body["log"], ("checkpoint_every", "key", "origin"), "log")
    origin = _str(log["origin"], "log origin")
    if origin != origin_for(cycle):
        raise SchemaError(f"log origin {origin!r} does not name the cycle ({origin_for(cycle)!r})")
    key = _str(log["key"], "log key")
    every = _int(log["checkpoint_every"], "checkpoint_every", 1)
    if body["privacy"] != PRIVACY:
        raise SchemaError(f"privacy settings are {PRIVACY}")
    districts: dict[str, District] = {}
    for d in _list(body["districts"], "districts"):
        d = _obj(d, ("budget", "id", "name"), "district")
        did = _str(d["id"], "district id")
        if did in districts:
            raise SchemaError(f"district {did!r} appears twice")
        budget = number_from_json(d["budget"], f"budget of {did}")
        if budget < 0:
            raise SchemaError(f"budget of {did} is negative")
        districts[did] = District(did, _str(d["name"], "district name", empty=True), budget)
    if not districts:
        raise SchemaError("a cycle has at least one district")
    projects: dict[str, dict[str, Project]] = {did: {} for did in districts}
    where: dict[str, str] = {}
    for p in _list(body["projects"], "projects"):
        p = _obj(p, ("cost", "district", "id", "name"), "project")
        pid = _str(p["id"], "project id")
        if pid in where:
            raise SchemaError(f"project {pid!r} appears twice")
        did = p["district"]
        if did not in districts:
            raise SchemaError(f"project {pid!r} names an unknown district {did!r}")
        cost = number_from_json(p["cost"], f"cost of {pid}")
        if cost < 0:
            raise SchemaError(f"cost of {pid} is negative")
        projects[did][pid] = Project(pid, cost, _str(p["name"], "project name", empty=True))
        where[pid] = did
    rules = _rules(body["ballot"])
    t = _obj(
        body["tally"],
        ("rule", "rule_version", "score_threshold", "seed_commitment", "tie_break"),
        "tally settings",
    )
    rule = _str(t["rule"], "rule")
    if rule not in rule_versions:
        raise SchemaError(f"rule {rule!r} is not a rule this verifier implements")
    threshold = t["score_threshold"]
    return Config(
        title=title,
        origin=origin,
        key=key,
        checkpoint_every=every,
        districts=districts,
        projects=projects,
        project_district=where,
        rules=rules,
        rule=rule,
        rule_version=_str(t["rule_version"], "rule version"),
        tie_break=_str(t["tie_break"], "tie-break"),
        seed_commitment=_hex(t["seed_commitment"], _HEX256, "seed commitment"),
        score_threshold=None if threshold is None else number_from_json(threshold, "threshold"),
    )


def merge_amendment(config: dict[str, Any], body: Any) -> dict[str, Any]:
    body = _obj(body, ("changes", "reason"), "amendment")
    _str(body["reason"], "amendment reason")
    changes = body["changes"]
    if not isinstance(changes, dict) or not changes or not set(changes) <= AMENDABLE_KEYS:
        raise SchemaError(f"an amendment changes some of {sorted(AMENDABLE_KEYS)}")
    return {**config, **changes}


@dataclass(slots=True)
class BallotEvent:
    seq: int
    ballot_id: str
    district: str
    channel: str
    projects: tuple[str, ...]
    points: tuple[Fraction, ...] | None
    raw_points: tuple[Any, ...] | None
    ballot: Ballot


_BALLOT_KEYS = frozenset({"ballot_id", "channel", "choices", "district", "salt"})
_CHOICE_KEYS = frozenset({"points", "projects"})


def parse_ballot(seq: int, body: Any) -> BallotEvent:
    if type(body) is not dict or body.keys() != _BALLOT_KEYS:
        _obj(body, _BALLOT_KEYS, "ballot")
    ballot_id = body["ballot_id"]
    if type(ballot_id) is not str or not _HEX128.fullmatch(ballot_id):
        raise SchemaError("ballot_id is 32 lower-case hex digits (128 random bits)")
    salt = body["salt"]
    if type(salt) is not str or not _HEX128.fullmatch(salt):
        raise SchemaError("salt is 32 lower-case hex digits (128 random bits)")
    channel = body["channel"]
    if channel not in CHANNELS:
        raise SchemaError(f"channel is one of {', '.join(CHANNELS)}")
    district = body["district"]
    if type(district) is not str:
        raise SchemaError("district is a string")
    choices = body["choices"]
    if type(choices) is not dict or choices.keys() != _CHOICE_KEYS:
        _obj(choices, _CHOICE_KEYS, "choices")
    projects = choices["projects"]
    if type(projects) is not list or not all(type(p) is str for p in projects):
        raise SchemaError("choices.projects is a list of project ids")
    raw = choices["points"]
    points = None
    if raw is not None:
        raw = tuple(_list(raw, "choices.points"))
        try:
            points = _points(raw)
        except TypeError as exc:  # unhashable: not a number anyway
            raise SchemaError("points are integers or 'p/q' strings") from exc
    ids = tuple(projects)
    return BallotEvent(seq, ballot_id, district, channel, ids, points, raw, Ballot(ids, points))


@functools.lru_cache(maxsize=4096)
def _points(raw: tuple[Any, ...]) -> tuple[Fraction, ...]:
    return tuple(number_from_json(p, "points") for p in raw)


def parse_invalidation(body: Any) -> tuple[str, str]:
    body = _obj(body, ("ballot_id", "reason"), "ballot_invalidated")
    return _hex(body["ballot_id"], _HEX128, "ballot_id"), _str(body["reason"], "reason")


def check_empty(body: Any, what: str) -> None:
    _obj(body, (), what)


@dataclass(frozen=True)
class DistrictResult:
    district: str
    selected: tuple[str, ...]
    totals: dict[str, Any]
    money_used: Any


@dataclass(frozen=True)
class Result:
    rule: str
    rule_version: str
    tie_break: str
    seed: bytes
    districts: tuple[DistrictResult, ...]


def parse_result(body: Any) -> Result:
    body = _obj(body, ("districts", "rule", "rule_version", "seed", "tie_break"), "result")
    seed = bytes.fromhex(_hex(body["seed"], _HEX, "seed"))
    districts = []
    for d in _list(body["districts"], "result districts"):
        d = _obj(d, ("district", "money_used", "selected", "totals"), "district result")
        selected = _list(d["selected"], "selected")
        if not all(isinstance(s, str) for s in selected):
            raise SchemaError("selected is a list of project ids")
        if not isinstance(d["totals"], dict):
            raise SchemaError("totals is an object")
        districts.append(
            DistrictResult(
                _str(d["district"], "district"), tuple(selected), d["totals"], d["money_used"]
            )
        )
    return Result(
        _str(body["rule"], "rule"),
        _str(body["rule_version"], "rule version"),
        _str(body["tie_break"], "tie-break"),
        seed,
        tuple(districts),
    )
