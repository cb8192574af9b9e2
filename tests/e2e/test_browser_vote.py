"""In real headless Chromium: a person votes in the demo cycle with a printed code, in English
and in Chinese, with JavaScript on and off; axe-core finds 0 violations on the voting pages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import start_server, stop_server

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CODE_LINE = re.compile(r"^\s+([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})\s*$")


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing (make test installs it)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """`plaza demo` on a fresh SQLite file (its printed codes), then a real server on it."""
    _require_chromium()
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
    env = {**os.environ, "PLAZA_DATABASE_URL": url}
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    codes = [m.group(1) for line in out.splitlines() if (m := CODE_LINE.match(line))]
    assert len(codes) >= 8, out
    process, base = start_server(url, workers=1)
    try:
        yield base, codes
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def assert_accessible(page: Any, checker: Any | None = None) -> None:
    """axe-core on the page. A page without JavaScript cannot run axe: its exact HTML is then
    loaded into ``checker`` (a JS-enabled page on the same origin, so styles apply)."""
    from axe_playwright_python.sync_playwright import Axe

    target = page
    if checker is not None:
        checker.set_content(page.content())
        target = checker
    results = Axe().run(target)
    assert results.violations_count == 0, results.generate_report()


TEXT = {
    "en": {
        "vote": "Vote with your access code",
        "open": "Open my ballot",
        "update": "Update the total",
        "cast": "Cast my ballot",
        "done": "your ballot is recorded",
        "code": "Access code",
        "lang": "en",
        "locale": "en-GB",
    },
    "zh_Hans": {
        "vote": "用投票码投票",
        "open": "打开我的选票",
        "update": "更新总额",
        "cast": "提交我的选票",
        "done": "您的选票已记录",
        "code": "投票码",
        "lang": "zh-Hans",
        "locale": "zh-CN",
    },
}


@pytest.mark.parametrize("js", [True, False], ids=["js-on", "js-off"])
@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_vote_in_the_demo_with_a_printed_code(
    demo: tuple[str, list[str]], chromium: Any, language: str, js: bool
) -> None:
    base, codes = demo
    t = TEXT[language]
    code = codes[["en", "zh_Hans"].index(language) * 2 + (0 if js else 1)]
    context = chromium.new_context(java_script_enabled=js, locale=t["locale"], base_url=base)
    page = context.new_page()
    page.set_default_timeout(20_000)
    checker = None
    if not js:
        checker_context = chromium.new_context(locale=t["locale"], base_url=base)
        checker = checker_context.new_page()
        checker.set_default_timeout(20_000)
        checker.goto("/healthz")
    try:
        page.goto("/")
        assert page.get_attribute("html", "lang") == t["lang"]
        page.get_by_role("link", name=t["vote"]).first.click()
        page.wait_for_url("**/vote")
        assert_accessible(page, checker)
        # As printed, but typed in lower case and with spaces instead of dashes.
        page.get_by_label(t["code"], exact=True).fill(code.lower().replace("-", " "))
        page.get_by_role("button", name=t["open"]).click()
        boxes = page.locator("input[name=project]")
        boxes.first.wait_for()
        assert boxes.count() >= 3
        assert_accessible(page, checker)
        meter = page.locator("#meter")
        before = meter.inner_text()
        if js:
            page.evaluate("window.__same_page = true")
            boxes.nth(0).check()
            page.wait_for_function(
                "(b) => document.querySelector('#meter').innerText !== b", arg=before
            )
            boxes.nth(1).check()
            page.wait_for_timeout(300)
            # The meter changed in place: no navigation happened.
            assert page.evaluate("window.__same_page") is True
        else:
            boxes.nth(0).check()
            boxes.nth(1).check()
            page.get_by_role("button", name=t["update"]).click()
            page.wait_for_load_state()
            assert page.locator("input[name=project]").nth(1).is_checked()
        assert page.locator("#meter").inner_text() != before
        assert_accessible(page, checker)
        page.get_by_role("button", name=t["cast"]).click()
        page.wait_for_url("**/vote/done/*")
        assert t["done"] in page.locator("h1").inner_text()
        assert len(page.locator("#receipt").inner_text()) == 32
        assert_accessible(page, checker)
        # The same code cannot vote twice.
        page.goto("/vote")
        page.get_by_label(t["code"], exact=True).fill(code)
        page.get_by_role("button", name=t["open"]).click()
        page.wait_for_load_state()
        assert page.locator("#form-error").is_visible()
        assert_accessible(page, checker)
    finally:
        context.close()
        if checker is not None:
            checker.context.close()
