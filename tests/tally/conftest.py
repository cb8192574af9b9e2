"""Fixtures for the tally tests: the pabulib files in ../shared/pabulib."""

from __future__ import annotations

from pathlib import Path

import pytest

PABULIB = Path(__file__).resolve().parents[2].parent / "shared" / "pabulib"


def pabulib_files() -> list[Path]:
    files = sorted(PABULIB.glob("*.pb"))
    if not files:
        raise RuntimeError(f"no .pb files in {PABULIB}: tests need ../shared beside the checkout")
    return files


@pytest.fixture(scope="session")
def pabulib_dir(shared_dir: Path) -> Path:
    return shared_dir / "pabulib"
