"""Every shared pabulib election whose rule Plaza implements converts to an export that the
verifier accepts; its recount equals the result event, the result equals a direct tally of the
original file, and (where that tally reproduces it) the city's published selection."""

from __future__ import annotations

import pytest

from app.ledger.frompb import FromPbError, convert
from app.ledger.keys import NoteSigner
from app.ledger.verify.verifier import verify_export
from app.tally import RULES, TallyError, read_election, tally
from tests.conftest import SHARED
from tests.ledger.conftest import export_data

PABULIB = SHARED / "pabulib"
FILES = sorted(p.name for p in PABULIB.glob("*.pb"))
SIGNER = NoteSigner.generate("plaza.test/pabulib")
SEED = bytes(range(16))


def test_the_shared_files_are_there() -> None:
    assert len(FILES) == 65


@pytest.mark.parametrize("name", FILES)
def test_pabulib_file_converts_and_verifies(name: str) -> None:
    path = PABULIB / name
    election, published = read_election(path)
    rule = election.meta.get("rule", "").strip()
    if rule not in RULES:
        with pytest.raises(FromPbError, match="not one Plaza implements"):
            convert(path, signer=SIGNER, seed=SEED)
        return
    try:
        direct = tally(election, rule, tie_break="default", seed=SEED)
    except TallyError as exc:
        # The engine does not count this rule (yet): the conversion says so, clearly.
        with pytest.raises(FromPbError, match=str(exc).split("(")[0][:30]):
            convert(path, signer=SIGNER, seed=SEED)
        return
    conversion = convert(path, signer=SIGNER, seed=SEED, checkpoint_every=5000)
    report = verify_export(export_data(conversion))
    assert report.ok, [r.line() for r in report.results if not r.ok]
    district = conversion.result["districts"][0]
    assert district["selected"] == list(direct.selected)
    funded = {pid for pid, value in published.items() if value.strip() == "1"}
    if funded and funded == set(direct.selected):
        assert set(district["selected"]) == funded
