"""``tally()``: run a rule by its stable id on an election."""

from __future__ import annotations

from app.tally.model import Election, TallyError
from app.tally.outcome import Outcome
from app.tally.rules import equalshares as mes_rules
from app.tally.rules import greedy as greedy_rules
from app.tally.rules.phragmen import phragmen
from app.tally.rules.utilitarian import utilitarian
from app.tally.tiebreak import TIE_BREAKS

#: Rule id -> version recorded with every outcome. Bump a version whenever a rule's outcome
#: on some election could change.
RULES: dict[str, str] = {
    "greedy": "1",
    "greedy-no-skip": "1",
    "greedy-threshold": "1",
    "equalshares": "1",
    "equalshares/add1": "1",
    "equalshares/add1-greedy": "1",
    "equalshares/add1-comparison": "1",
    "phragmen": "1",
    "utilitarian": "1",
}

_APPROVAL = frozenset({"approval", "choose-1"})
_SUPPORTED_KINDS: dict[str, frozenset[str]] = {
    "greedy": frozenset({"approval", "choose-1", "cumulative", "ordinal", "scoring"}),
    "greedy-no-skip": frozenset({"approval", "choose-1", "cumulative", "ordinal", "scoring"}),
    "greedy-threshold": frozenset({"approval", "choose-1", "cumulative", "ordinal", "scoring"}),
    "equalshares": frozenset({"approval", "choose-1", "cumulative", "scoring"}),
    "equalshares/add1": frozenset({"approval", "choose-1", "cumulative", "scoring"}),
    "equalshares/add1-greedy": frozenset({"approval", "choose-1", "cumulative", "scoring"}),
    "equalshares/add1-comparison": _APPROVAL,
    "phragmen": _APPROVAL,
    "utilitarian": _APPROVAL,
}


def tally(
    election: Election, rule: str, *, tie_break: str = "default", seed: bytes = b""
) -> Outcome:
    """Count ``election`` with ``rule`` (one of :data:`RULES`).

    Raises :class:`TallyError` for an unknown rule or tie-break, or a rule that does not fit
    the ballot kind.
    """
    if rule not in RULES:
        known = ", ".join(RULES)
        raise TallyError(f"unsupported rule {rule!r} (Plaza supports: {known})")
    if tie_break not in TIE_BREAKS:
        raise TallyError(f"unknown tie-break {tie_break!r} (expected default or pabutools)")
    kind = election.rules.kind
    if kind not in _SUPPORTED_KINDS[rule]:
        raise TallyError(f"rule {rule!r} does not support {kind} ballots")
    version = RULES[rule]
    if rule in ("greedy", "greedy-no-skip", "greedy-threshold"):
        return greedy_rules.greedy(
            election,
            rule=rule,
            version=version,
            tie_break=tie_break,
            seed=seed,
            skip=rule != "greedy-no-skip",
            threshold=election.score_threshold if rule == "greedy-threshold" else None,
        )
    if rule == "equalshares":
        return mes_rules.equalshares(
            election, rule=rule, version=version, tie_break=tie_break, seed=seed
        )
    if rule.startswith("equalshares/add1"):
        return mes_rules.add_one(
            election, rule=rule, version=version, tie_break=tie_break, seed=seed
        )
    if rule == "phragmen":
        return phragmen(election, rule=rule, version=version, tie_break=tie_break, seed=seed)
    return utilitarian(election, rule=rule, version=version, tie_break=tie_break, seed=seed)
