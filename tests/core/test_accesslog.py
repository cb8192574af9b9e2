"""The server's logs never join a client to a receipt (ADR 0001; ``app.core.accesslog``).

The end-to-end check (``plaza demo --serve`` in a subprocess, a real vote, its output read)
is ``tests/test_cli.py::test_served_access_log_carries_no_receipt``.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from uvicorn.logging import AccessFormatter

from app.core import accesslog
from app.core.config import Settings
from app.main import create_app

RECEIPT = "88e6c0ffee0123456789abcdef0042b1"


@pytest.fixture
def served(settings: Settings) -> Iterator[FastAPI]:
    """The app with the filter installed as ``server_app`` does; loggers restored after."""
    loggers = [logging.getLogger(name) for name in accesslog.LOGGERS]
    before = [list(logger.filters) for logger in loggers]
    application = create_app(settings)
    accesslog.install(application)
    yield application
    for logger, filters in zip(loggers, before, strict=True):
        logger.filters[:] = filters


def access_line(path: str, status: int = 200) -> str:
    """What uvicorn's access log writes for ``GET path`` (the call of its h11/httptools
    protocols, formatted by its ``AccessFormatter``)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    logger = logging.getLogger("uvicorn.access")
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info('%s - "%s %s HTTP/%s" %d', "203.0.113.9:49064", "GET", path, "1.1", status)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    return stream.getvalue().strip()


def test_the_receipt_page_is_logged_without_its_receipt(served: FastAPI) -> None:
    path = served.url_path_for("ballots:done", receipt=RECEIPT)
    for logged in (path, path + "/", path + "?lang=en", "/plaza" + path, path + "/x/y"):
        line = access_line(logged)
        assert RECEIPT not in line, line
        assert "203.0.113.9:49064" in line and line.endswith('HTTP/1.1" 200 OK')
        assert "/vote/done/{receipt}" in line
    assert access_line(path) == '203.0.113.9:49064 - "GET /vote/done/{receipt} HTTP/1.1" 200 OK'


def test_other_paths_are_logged_as_they_are(served: FastAPI) -> None:
    for path in ("/cycles/2?page=3", "/vote", "/vote/done", "/static/css/plaza.css"):
        assert access_line(path) == f'203.0.113.9:49064 - "GET {path} HTTP/1.1" 200 OK'
    # ...but a secret name in any query string loses its value.
    line = access_line(f"/cycles/2?receipt={RECEIPT}&page=3&ballot_id={RECEIPT}")
    assert line.endswith(
        '"GET /cycles/2?receipt={receipt}&page=3&ballot_id={ballot_id} HTTP/1.1" 200 OK'
    )


def test_plazas_own_error_lines_carry_no_receipt(
    served: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """The error handlers log the failed request's path (``app.core.errors``): next to the
    access line of the same request, that would join the client to the receipt."""
    path = served.url_path_for("ballots:done", receipt=RECEIPT)
    with caplog.at_level(logging.ERROR, logger="plaza"):
        logging.getLogger("plaza").error("database unavailable on %s %s: %s", "GET", path, "x")
    assert caplog.messages == ["database unavailable on GET /vote/done/{receipt}: x"]


def test_every_route_that_carries_a_ballot_id_is_secret(served: FastAPI) -> None:
    """A route whose path parameter names a receipt or ballot (under any name) is redacted:
    renaming ``{receipt}`` must not silently put receipts back in the log."""
    secret = accesslog.secret_templates(served.router.routes)
    assert "/vote/done/{receipt}" in secret
    paths = [route.path or "" for route in iter_route_contexts(served.routes)]
    assert "/vote/done/{receipt}" in paths and "/cycles/{cycle_id}" in paths
    for path in paths:
        names = re.findall(r"\{(\w+)", path)
        if any("receipt" in name or "ballot" in name for name in names):
            assert path in secret, f"{path}: name its parameter one of {accesslog.SECRET_PARAMS}"


def test_installing_twice_keeps_one_filter(served: FastAPI) -> None:
    accesslog.install(served)
    for name in accesslog.LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, accesslog.SecretPathFilter) for f in filters) == 1
