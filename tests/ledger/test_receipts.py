"""Receipts (tlog-proofs): every receipt issued while building an export verifies; broken or
foreign ones fail."""

from __future__ import annotations

import pytest

from app.ledger.frompb import Conversion
from app.ledger.verify.note import TlogProof
from app.ledger.verify.verifier import ExportData, verify_export
from tests.ledger.conftest import SWEEP_FILES, export_data


def _check(data: ExportData, receipts: dict[str, str]) -> dict[str, bool]:
    data.receipts = {name: text.encode() for name, text in receipts.items()}
    report = verify_export(data)
    return {
        r.name.removeprefix("receipt "): r.ok
        for r in report.results
        if r.name != "recount" and r.name.startswith("receipt ")
    }


@pytest.mark.parametrize("name", SWEEP_FILES)
def test_every_issued_receipt_verifies(conversions: dict[str, Conversion], name: str) -> None:
    conversion = conversions[name]
    assert len(conversion.receipts) == len(conversion.election.ballots)
    results = _check(export_data(conversion), conversion.receipts)
    assert len(results) == len(conversion.receipts)
    assert all(results.values())


def _broken(conversion: Conversion, other: Conversion) -> dict[str, str]:
    ballot_id, text = next(iter(conversion.receipts.items()))
    proof = TlogProof.parse(text)
    later_id, later_text = list(conversion.receipts.items())[5]
    later = TlogProof.parse(later_text)
    flipped = bytes([proof.proof[0][0] ^ 0x01]) + proof.proof[0][1:]
    other_text = next(iter(other.receipts.values()))
    return (
        {
            "wrong index": TlogProof(
                proof.index + 1, proof.proof, proof.checkpoint, proof.extra
            ).encode(),
            "flipped bit": TlogProof(
                proof.index, (flipped, *proof.proof[1:]), proof.checkpoint, proof.extra
            ).encode(),
            "truncated proof": TlogProof(
                proof.index, proof.proof[:-1], proof.checkpoint, proof.extra
            ).encode(),
            "extended proof": TlogProof(
                proof.index, (*proof.proof, proof.proof[0]), proof.checkpoint, proof.extra
            ).encode(),
            "other cycle's checkpoint": TlogProof(
                proof.index, proof.proof, TlogProof.parse(other_text).checkpoint, proof.extra
            ).encode(),
            "other ballot id": TlogProof(
                proof.index, proof.proof, proof.checkpoint, later_id.encode()
            ).encode(),
            "another receipt's proof": TlogProof(
                proof.index, later.proof, proof.checkpoint, proof.extra
            ).encode(),
            "no ballot id": TlogProof(proof.index, proof.proof, proof.checkpoint).encode(),
            "altered checkpoint": text.replace("\n\n", "\n\n ", 1)[:-3] + "A=\n",
            "not a proof": "hello\n",
            "bit flip anywhere": text[:40] + chr(ord(text[40]) ^ 1) + text[41:],
        }
        | {"unchanged": text}
        | {"unchanged later": later_text}
        | {"_": ballot_id}
    )


def test_broken_receipts_fail(conversions: dict[str, Conversion]) -> None:
    conversion = conversions[SWEEP_FILES[1]]
    receipts = _broken(conversion, conversions[SWEEP_FILES[0]])
    del receipts["_"]
    results = _check(export_data(conversion), receipts)
    assert results.pop("unchanged") and results.pop("unchanged later")
    assert results == dict.fromkeys(results, False), results
