"""`plaza tally`: one JSON line per file, per-file errors, exit status, --explain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.cli import main

SMALL = "equalshares_net_explanation_example1.pb"


def test_json_line_per_file_and_errors_do_not_stop_the_others(
    pabulib_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.pb"
    broken.write_text(
        "META\nkey;value\nbudget;x\nvote_type;approval\nPROJECTS\n"
        "project_id;cost\na;1\nVOTES\nvoter_id;vote\n1;a\n"
    )
    paths = [
        str(pabulib_dir / SMALL),
        str(pabulib_dir / "Hungary_Veszprem_2025.pb"),  # rule unknown
        str(broken),
        str(tmp_path / "missing.pb"),
        str(pabulib_dir / "Poland_Gdynia_2021_Redlowo__small.pb"),
    ]
    code = main(["tally", *paths])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 1
    assert captured.err == ""  # no progress bar when standard error is not a terminal
    assert [line["file"] for line in lines] == paths
    assert lines[0]["rule"] == "equalshares"
    assert lines[0]["selected"] == ["bike", "playground", "library"]
    assert lines[0]["cost"] == 1000
    assert "unsupported rule 'unknown'" in lines[1]["error"]
    assert "line 3" in lines[2]["error"] and "budget" in lines[2]["error"]
    assert lines[3]["error"] == "cannot read: No such file or directory"
    assert lines[4]["rule"] == "greedy-no-skip"
    assert lines[4]["selected"] == ["RED/0012", "RED/0006", "RED/0009", "RED/0005"]


def test_rule_and_tie_break_options(pabulib_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(pabulib_dir / "Hungary_Veszprem_2025.pb")
    assert main(["tally", path, "--rule", "greedy", "--tie-break", "pabutools"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["rule"] == "greedy" and line["tie_break"] == "pabutools"
    assert main(["tally", path, "--rule", "phragmen", "--seed", "zz"]) == 2
    assert "--seed must be hexadecimal" in capsys.readouterr().err
    cumulative = str(pabulib_dir / "Poland_Gdansk_2020_Rudniki.pb")
    assert main(["tally", cumulative, "--rule", "phragmen"]) == 1
    assert "does not support cumulative ballots" in capsys.readouterr().out


def test_explain_prints_a_table(pabulib_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tally", "--explain", str(pabulib_dir / SMALL)]) == 0
    out = capsys.readouterr().out
    assert "rule equalshares (version 1)" in out
    assert "bike" in out and "Funded in round 1" in out
    assert "Not funded: its supporters had 200 left, 50 short of its cost 250." in out


OK = "META\nkey;value\nbudget;100\nvote_type;approval\nrule;greedy\nPROJECTS\nproject_id;cost\n"
OK += "1;50\nVOTES\nvoter_id;vote\n1;1\n"


def test_a_number_too_long_for_python_is_an_error_line_and_the_next_file_is_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge, ok = tmp_path / "huge.pb", tmp_path / "ok.pb"
    huge.write_text(OK.replace("budget;100", "budget;" + "9" * 4301))
    ok.write_text(OK)
    assert main(["tally", str(huge), str(ok)]) == 1
    captured = capsys.readouterr()
    first, second = (json.loads(line) for line in captured.out.splitlines())
    assert first == {
        "file": str(huge),
        "error": "huge.pb: line 3: META budget has too many digits (4301; at most 4300)",
    }
    assert second["selected"] == ["1"]
    assert captured.err == ""


def test_a_bug_fails_its_file_only_with_one_line_and_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception that is not a file's fault (a bug) is not hidden: its file gets one
    ``internal error`` line, the traceback goes to standard error and the exit status is 1;
    the other files are still counted."""
    from app.tally import cli

    real = cli.read_election

    def buggy(path: str) -> Any:
        if path.endswith("bug.pb"):
            raise KeyError("oops")
        return real(path)

    monkeypatch.setattr(cli, "read_election", buggy)
    ok = tmp_path / "ok.pb"
    ok.write_text(OK)
    paths = [str(tmp_path / "bug.pb"), str(ok)]
    assert main(["tally", *paths]) == 1
    captured = capsys.readouterr()
    first, second = (json.loads(line) for line in captured.out.splitlines())
    assert first == {"file": paths[0], "error": "internal error: KeyError: 'oops'"}
    assert second["selected"] == ["1"]
    assert "internal error on" in captured.err and "KeyError: 'oops'" in captured.err
