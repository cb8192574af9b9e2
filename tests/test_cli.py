from __future__ import annotations

import pytest

from app.cli import main


def test_unknown_command_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code != 0
    assert "invalid choice" in capsys.readouterr().err


@pytest.fixture
def temp_database(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from app.core.config import get_settings

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("PLAZA_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    monkeypatch.undo()
    get_settings.cache_clear()


def test_migrate_and_demo(temp_database, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import inspect

    from app.core.db import engine_for

    assert main(["migrate"]) == 0
    assert "user_account" in inspect(engine_for(temp_database)).get_table_names()
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "demo city loaded" in out
    assert "organizer@demo.plaza.example" in out
    assert main(["demo"]) == 0
    assert "already loaded" in capsys.readouterr().out


def test_demo_is_refused_in_production(temp_database, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from app.core.config import get_settings

    monkeypatch.setenv("PLAZA_ENVIRONMENT", "production")
    get_settings.cache_clear()
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("plaza: ") and len(err.strip().splitlines()) == 1


def test_bad_settings_are_one_line(temp_database, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from app.core.config import get_settings

    monkeypatch.setenv("PLAZA_ENVIRONMENT", "production")
    monkeypatch.setenv("PLAZA_SECRET_KEY", "dev-secret-change-me")
    get_settings.cache_clear()
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert "PLAZA_SECRET_KEY" in err and len(err.strip().splitlines()) == 1


def test_bad_port_is_one_line(temp_database, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PORT", "eighty")
    assert main(["serve"]) == 1
    assert "PORT" in capsys.readouterr().err


def test_create_account(temp_database, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PLAZA_NEW_PASSWORD", "a good long password")
    assert main(["migrate"]) == 0
    assert main(["create-account", "--role", "auditor", "--email", "aud@example.org"]) == 0
    assert "created auditor account" in capsys.readouterr().out
    assert main(["create-account", "--role", "auditor", "--email", "aud@example.org"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_database_errors_are_one_line(temp_database, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PLAZA_NEW_PASSWORD", "a good long password")
    # Not migrated: the table does not exist.
    assert main(["create-account", "--role", "auditor", "--email", "aud@example.org"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("plaza: database error") and len(err.strip().splitlines()) == 1
