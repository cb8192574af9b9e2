"""The export on disk and the two commands: plaza ledger from-pb and plaza verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.ledger.frompb import Conversion
from app.ledger.verify.verifier import CHECKS, load_export, verify_export
from tests.ledger.conftest import SWEEP_FILES, export_data


@pytest.mark.parametrize("name", SWEEP_FILES)
def test_unmutated_exports_verify(conversions: dict[str, Conversion], name: str) -> None:
    report = verify_export(export_data(conversions[name]))
    assert report.ok, [r.line() for r in report.results]
    assert [r.name for r in report.results] == list(CHECKS)


def test_from_pb_then_verify_on_disk(
    shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pb = shared_dir / "pabulib" / "Netherlands_Amsterdam_643.pb"
    key = tmp_path / "log.key"
    assert main(["ledger", "keygen", "plaza.test/cli", str(key)]) == 0
    out = tmp_path / "export"
    receipts = tmp_path / "receipts"
    args = ["ledger", "from-pb", str(pb), str(out), "--key", str(key)]
    assert main([*args, "--receipts", str(receipts)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "events.jsonl", "key.pub"]
    assert (out / "key.pub").read_text().startswith("plaza.test/cli+")
    lines = (out / "events.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == 66 + 4
    capsys.readouterr()
    some = sorted(receipts.iterdir())[:3]
    assert main(["verify", str(out), *[a for r in some for a in ("--receipt", str(r))]]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(CHECKS) + len(some) + 1
    assert all(line.startswith("PASS ") for line in printed[:-1])
    # The same export refuses to be overwritten: one line, non-zero exit.
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an empty directory" in err[0]


def test_verify_fails_with_one_line_per_check(
    conversions: dict[str, Conversion], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conversions[SWEEP_FILES[0]].ledger.write_export(tmp_path / "e")
    events = tmp_path / "e" / "events.jsonl"
    events.write_bytes(events.read_bytes().replace(b'"voting_closed"', b'"voting_Closed"'))
    assert main(["verify", str(tmp_path / "e")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CHECKS) + 1
    assert any(line.startswith("FAIL encoding: ") for line in lines)
    assert lines[-1].startswith("NOT verified")


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "/nonexistent/export"],
        ["ledger", "from-pb", "/nonexistent/file.pb", "/tmp/x-never"],
        ["ledger", "from-pb", "README.md", "/tmp/x-never", "--key", "/nonexistent/key"],
    ],
)
def test_cli_errors_are_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("plaza ")


def test_from_pb_refuses_unimplemented_rule(
    shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pb = shared_dir / "pabulib" / "Switzerland_Zurich_SN.pb"  # rule "unknown"
    assert main(["ledger", "from-pb", str(pb), str(tmp_path / "z")]) == 2
    assert "not one Plaza implements" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()


def test_load_export_reads_a_directory(conversions: dict[str, Conversion], tmp_path: Path) -> None:
    conversions[SWEEP_FILES[1]].ledger.write_export(tmp_path / "d")
    assert verify_export(load_export(tmp_path / "d")).ok


@pytest.mark.parametrize(
    "argv", [["verify"], ["ledger"], ["ledger", "from-pb", "x.pb"], ["ledger", "keygen"]]
)
def test_usage_errors_are_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0], err
