from __future__ import annotations

import pytest

from app.cli import main


def test_unknown_command_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code != 0
    assert "invalid choice" in capsys.readouterr().err
