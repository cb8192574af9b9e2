"""A database that cannot be reached gives a clear 503 (page or JSON problem), never a 500.

A real, unreachable PostgreSQL address (nothing listens on port 9), not a mock.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app


def test_unreachable_database_gives_503_with_retry_after(settings: Settings) -> None:
    broken = settings.model_copy(
        update={
            "database_url": "postgresql+psycopg://plaza:plaza@127.0.0.1:9/plaza?connect_timeout=2"
        }
    )
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        page = client.get("/cycles", headers={"Accept-Language": "en"})
        assert page.status_code == 503
        assert page.headers["retry-after"] == "5"
        assert "cannot reach its database" in page.text and "<form" in page.text  # full page
        api = client.get("/api/cycles")
        assert api.status_code == 503
        assert api.headers["content-type"].startswith("application/problem+json")
        assert api.json()["type"] == "/problems/unavailable"
        zh = client.get("/cycles", headers={"Accept-Language": "zh-CN"})
        assert zh.status_code == 503 and "cannot reach" not in zh.text
