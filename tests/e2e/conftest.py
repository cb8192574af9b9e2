"""A real server for end-to-end tests: ``uvicorn`` worker processes on a fresh database.

``live_server`` is parametrized over SQLite (a file, WAL) and PostgreSQL (a database of its own
next to the test database, created and dropped here). The schema is built by Alembic; data is
set up through the services in one committed write transaction (``seed``) or over HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.core import migrations
from app.core.db import engine_for
from app.core.security import SESSION_COOKIE
from tests.conftest import REPO, postgres_url

WORKERS = 2


@dataclass
class LiveServer:
    base_url: str
    database_url: str
    engine: Engine
    kind: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_postgres(name: str) -> str:
    base = make_url(postgres_url())
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # server down: skip locally, fail in CI
        from tests.conftest import database_unavailable

        database_unavailable(f"cannot create {name}: {type(exc).__name__}: {exc}")
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_postgres(name: str) -> None:
    admin = create_engine(make_url(postgres_url()), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def start_server(
    database_url: str, *, workers: int = WORKERS, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PLAZA_DATABASE_URL": database_url, **(extra_env or {})}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"server exited early: {err[-2000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(process)
    raise RuntimeError("server did not start within 60 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr:
        process.stderr.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    kind = request.param
    name = f"plaza_e2e_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**6}"
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'live.sqlite3'}"
    else:
        url = _fresh_postgres(name)
    engine = engine_for(url)
    migrations.upgrade(engine)
    process, base = start_server(url)
    try:
        yield LiveServer(base_url=base, database_url=url, engine=engine, kind=kind)
    finally:
        stop_server(process)
        engine.dispose()
        if kind == "postgresql":
            _drop_postgres(name)


class Browser:
    """An HTTP client that behaves like a browser (cookies, CSRF field) or like htmx."""

    def __init__(self, base_url: str, *, htmx: bool = False, language: str = "en") -> None:
        self.http = httpx.Client(
            base_url=base_url,
            follow_redirects=False,
            timeout=30,
            headers={"Accept-Language": language},
        )
        self.htmx = htmx
        self._token: tuple[str | None, str] | None = None

    def token(self) -> str:
        """The CSRF token for the current session (a page rendered now would carry it)."""
        session_cookie = self.http.cookies.get(SESSION_COOKIE)
        if self._token is None or self._token[0] != session_cookie:
            token = str(self.http.get("/api/session").json()["csrf_token"])
            self._token = (session_cookie, token)
        return self._token[1]

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(url, **kwargs)

    def form(self, url: str, data: dict[str, Any]) -> httpx.Response:
        """A form post: plain (field ``csrf_token``) or htmx (``HX-Request``, token header)."""
        if self.htmx:
            return self.http.post(
                url, data=data, headers={"HX-Request": "true", "X-CSRF-Token": self.token()}
            )
        return self.http.post(url, data={**data, "csrf_token": self.token()})

    def api(self, method: str, url: str, json: Any = None) -> httpx.Response:
        return self.http.request(method, url, json=json, headers={"X-CSRF-Token": self.token()})

    def follow(self, response: httpx.Response) -> str:
        """Where a successful post sends the browser (303 Location or HX-Redirect)."""
        if self.htmx:
            assert response.status_code == 200, response.text[:500]
            return str(response.headers["HX-Redirect"])
        assert response.status_code == 303, response.text[:500]
        return str(response.headers["location"])

    def close(self) -> None:
        self.http.close()


__all__ = ["Browser", "LiveServer", "Path", "start_server", "stop_server"]
