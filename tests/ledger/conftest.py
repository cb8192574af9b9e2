"""Small exports made from shared pabulib files, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ledger.frompb import Conversion, convert
from app.ledger.keys import NoteSigner
from app.ledger.verify.verifier import ExportData

# Small files of different ballot kinds and rules (see ../shared/pabulib/README.md).
SWEEP_FILES = (
    "Netherlands_Amsterdam_643.pb",  # choose-1, greedy, 66 voters
    "Poland_Gdynia_2025_Kamienna_Gora__small.pb",  # approval, greedy-no-skip, 214 voters
    "Poland_Gdansk_2020_Rudniki.pb",  # cumulative, greedy, 163 voters
)
SIGNER = NoteSigner.generate("plaza.test/ledger")


def export_data(conversion: Conversion) -> ExportData:
    ledger = conversion.ledger
    ledger.checkpoint()
    return ExportData(
        events=b"".join(line + b"\n" for line in ledger.events),
        checkpoints={str(size): note.encode() for size, note in ledger.checkpoints.items()},
        key=(ledger.verifier_key + "\n").encode(),
    )


@pytest.fixture(scope="session")
def conversions(shared_dir: Path) -> dict[str, Conversion]:
    return {
        name: convert(
            shared_dir / "pabulib" / name, signer=SIGNER, checkpoint_every=50, receipts=True
        )
        for name in SWEEP_FILES
    }
