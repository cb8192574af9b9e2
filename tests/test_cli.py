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


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_served_access_log_carries_no_receipt(temp_database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`plaza demo --serve` (what `make run` runs; `plaza serve` is the same server): a
    vote through the pages, then the server's whole output holds no receipt (ADR 0001)
    while its access log still shows each request."""
    import os
    import re
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx
    from bs4 import BeautifulSoup

    port = _free_port()
    output = tmp_path / "server.log"
    repo = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PLAZA_DATABASE_URL": temp_database,
        "PYTHONUNBUFFERED": "1",
        # This checkout's code, whatever checkout the virtualenv was installed from.
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "app.cli", "demo", "--serve", "--port", str(port)]
    with output.open("wb") as sink:
        server = subprocess.Popen(command, cwd=repo, env=env, stdout=sink, stderr=sink)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as browser:
            for _ in range(300):
                assert server.poll() is None, output.read_text()
                try:
                    if browser.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            code = re.findall(r"^ +([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})$", output.read_text(), re.M)[0]
            form = BeautifulSoup(browser.get("/vote").text, "html.parser")
            token = form.find("input", {"name": "csrf_token"})["value"]
            sheet = browser.post("/vote/ballot", data={"csrf_token": token, "code": code})
            assert sheet.status_code == 200
            project = BeautifulSoup(sheet.text, "html.parser").find("input", {"name": "project"})
            cast = browser.post(
                "/vote/cast", data={"csrf_token": token, "code": code, "project": project["value"]}
            )
            assert cast.status_code == 303, cast.text
            done = browser.get(cast.headers["location"])
            assert done.status_code == 200
            assert done.headers["referrer-policy"] == "no-referrer"
            receipt = BeautifulSoup(done.text, "html.parser").find(id="receipt").get_text()
            assert len(receipt) == 32
            assert browser.get(f"/vote/done/{receipt}/").status_code in (307, 404)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            server.kill()
            server.wait()
    log = output.read_text()
    assert receipt not in log
    assert re.search(r'127\.0\.0\.1:\d+ - "GET /vote/done/\{receipt\} HTTP/1\.1" 200', log), log
    assert re.search(r'127\.0\.0\.1:\d+ - "POST /vote/cast HTTP/1\.1" 303', log), log
