"""The verifier runs in a fresh process from a copy of app.ledger.verify and app.tally alone,
with an export and a receipt: no other Plaza module is needed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from app.ledger.frompb import Conversion
from tests.conftest import REPO
from tests.ledger.conftest import SWEEP_FILES


def test_verifier_runs_from_its_own_packages(
    conversions: dict[str, Conversion], tmp_path: Path
) -> None:
    conversion = conversions[SWEEP_FILES[0]]
    export = conversion.ledger.write_export(tmp_path / "export")
    receipt = tmp_path / "mine.tlog-proof"
    receipt.write_text(next(iter(conversion.receipts.values())))
    copy = tmp_path / "auditor"
    (copy / "app" / "ledger").mkdir(parents=True)
    (copy / "app" / "__init__.py").write_text("")
    (copy / "app" / "ledger" / "__init__.py").write_text("")
    ignore = shutil.ignore_patterns("__pycache__", "cli.py")
    shutil.copytree(
        REPO / "app" / "ledger" / "verify", copy / "app" / "ledger" / "verify", ignore=ignore
    )
    shutil.copytree(REPO / "app" / "tally", copy / "app" / "tally", ignore=ignore)
    # app/tally/__init__ may not import its cli; keep the copy honest about what exists.
    assert not (copy / "app" / "cli.py").exists()
    # The copy comes first on the path; prove it is what runs and that nothing else of Plaza
    # (the editable install of this checkout) can be imported.
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1));"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()];"
        "import app, importlib.util, runpy;"
        "assert app.__file__.startswith(sys.path[0]), app.__file__;"
        "assert importlib.util.find_spec('app.cli') is None;"
        "assert importlib.util.find_spec('app.ledger.log') is None;"
        "runpy.run_module('app.ledger.verify', run_name='__main__')"
    )
    argv = [sys.executable, "-I", "-c", code, str(copy), str(export), "--receipt", str(receipt)]
    done = subprocess.run(argv, cwd=copy, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "verified: all checks pass"
    assert sum(line.startswith("PASS ") for line in lines) == 8  # 7 checks + 1 receipt
    (export / "events.jsonl").write_bytes((export / "events.jsonl").read_bytes()[:-2] + b"\n")
    done = subprocess.run(argv, cwd=copy, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "FAIL encoding" in done.stdout
