"""axe-core (WCAG 2.2 AA rules) over every public and organizer page of the demo.

A real server (uvicorn) on a fresh SQLite database with the demo city; Debian's Chromium
driven by Playwright.  Pages are found by crawling same-site links as an anonymous visitor,
a resident and the organizer, in English and in Simplified Chinese, plus the pages behind
forms (a ballot, a form shown again with errors, a fresh batch of codes, an error page).
A page passes with 0 violations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlparse

import pytest

from app.core.db import engine_for, write_transaction
from app.demo import DEMO_ACCOUNTS, load_demo
from tests.e2e.conftest import start_server, stop_server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": [
            "wcag2a",
            "wcag2aa",
            "wcag21a",
            "wcag21aa",
            "wcag22a",
            "wcag22aa",
            "best-practice",
        ],
    },
}
MAX_PAGES_PER_CRAWL = 40
# Links that change state or leave the page set (logout is a form; /static is not a page).
SKIP = re.compile(r"^/(static|api|healthz)|\.csv$")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from app.core import migrations
    from app.core.config import get_settings

    url = f"sqlite:///{tmp_path_factory.mktemp('a11y') / 'demo.sqlite3'}"
    engine = engine_for(url)
    migrations.upgrade(engine)
    with write_transaction(engine) as session:
        summary = load_demo(session, get_settings())
    codes = [line.strip() for line in summary.lines if re.fullmatch(r"\s+[0-9A-Z-]{29}", line)]
    process, base = start_server(url, workers=1)
    try:
        yield {"base": base, "codes": codes, "cycle_id": summary.voting_cycle_id}
    finally:
        stop_server(process)
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    found = []
    for violation in results.response["violations"]:
        targets = [str(node["target"]) for node in violation["nodes"][:3]]
        found.append(f"{violation['id']} ({violation['impact']}): {', '.join(targets)}")
    return found


def _log_in(page: Any, base: str, role: str) -> None:
    email, password = next((e, p) for r, e, p, _n in DEMO_ACCOUNTS if r.value == role)
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form[action='/login'] [type=submit]")


def _submit(page: Any, form_action: str) -> None:
    """Submit a form (htmx may swap a fragment instead of navigating) and wait for quiet."""
    page.click(f"form[action='{form_action}'] [type=submit]")
    page.wait_for_load_state("networkidle")


def _shape(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path)


def _crawl(page: Any, base: str, start: list[str]) -> dict[str, list[str]]:
    """Breadth-first over same-site links; at most two pages of each shape (/proposals/{id})."""
    queue, seen, report = list(start), set(start), {}
    shapes: dict[str, int] = {}
    while queue and len(report) < MAX_PAGES_PER_CRAWL:
        path = queue.pop(0)
        response = page.goto(base + path)
        assert response is not None and response.status < 500, path
        report[path] = _violations(page)
        for href in page.eval_on_selector_all(
            "a[href]", "els => els.map(e => e.getAttribute('href'))"
        ):
            target = urlparse(urljoin(base + path, href))
            if target.netloc != urlparse(base).netloc or SKIP.search(target.path):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link not in seen and shapes.get(_shape(link), 0) < 2:
                seen.add(link)
                shapes[_shape(link)] = shapes.get(_shape(link), 0) + 1
                queue.append(link)
    return report


CRAWLS = [
    (None, "en"),
    (None, "zh_Hans"),
    ("organizer", "en"),
    ("organizer", "zh_Hans"),
    ("resident", "en"),
    ("auditor", "zh_Hans"),
]


@pytest.mark.parametrize(("role", "locale"), CRAWLS)
def test_every_page_has_no_axe_violations(demo_server, browser, locale, role) -> None:  # type: ignore[no-untyped-def]
    base = demo_server["base"]
    context = browser.new_context(locale="zh-CN" if locale == "zh_Hans" else "en-US")
    try:
        context.add_cookies([{"name": "plaza_lang", "value": locale, "url": base}])
        page = context.new_page()
        if role:
            _log_in(page, base, role)
        start = ["/", "/cycles", "/vote", "/login", "/signup", "/no-such-page"]
        if role == "organizer":
            start += ["/cycles/new", "/audit"]
        report = _crawl(page, base, start)
        # Pages behind forms.
        if role is None:
            page.goto(base + "/login")
            page.fill("input[name=email]", "nobody@example.org")
            page.fill("input[name=password]", "wrong password")
            _submit(page, "/login")
            report["POST /login (error)"] = _violations(page)
            page.goto(base + "/vote")
            page.fill("input[name=code]", "NOT-A-CODE")
            _submit(page, "/vote/ballot")
            report["POST /vote/ballot (error)"] = _violations(page)
            page.goto(base + "/vote")
            page.fill("input[name=code]", demo_server["codes"][0 if locale == "en" else 1])
            _submit(page, "/vote/ballot")
            report["POST /vote/ballot (ballot)"] = _violations(page)
        failures = {path: v for path, v in report.items() if v}
        assert len(report) >= 10, sorted(report)
        if role == "organizer":
            for shape in (
                "/cycles/{id}/settings",
                "/cycles/{id}/review",
                "/cycles/{id}/access-codes",
            ):
                assert shape in {_shape(p) for p in report}, sorted(report)
        # The checker itself works: an unlabelled field and an image without text are caught.
        page.evaluate(
            "document.querySelector('main').insertAdjacentHTML('beforeend',"
            ' \'<img src="/static/none.png"><input type="text">\')'
        )
        caught = " ".join(_violations(page))
        assert "image-alt" in caught and "label" in caught, caught
        assert not failures, "\n".join(f"{p}: {v}" for p, v in failures.items())
    finally:
        context.close()


FOCUS_SCRIPT = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  return {
    tag: el.tagName + (el.name ? '[name=' + el.name + ']' : '') + ' '
      + (el.textContent || '').trim().slice(0, 30),
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    shadow: style.boxShadow !== 'none',
    visible: rect.width > 0 && rect.height > 0 && rect.bottom > 0 && rect.top < innerHeight,
  };
}"""


@pytest.mark.parametrize("path", ["/", "/vote", "/login", "/cycles/1/proposals", "ballot"])
def test_keyboard_focus_is_always_visible(demo_server, browser, path) -> None:  # type: ignore[no-untyped-def]
    """Tab through the page: every focused element shows a focus ring and is on screen."""
    base = demo_server["base"]
    context = browser.new_context()
    try:
        page = context.new_page()
        if path == "ballot":
            page.goto(base + "/vote")
            page.fill("input[name=code]", demo_server["codes"][2])
            _submit(page, "/vote/ballot")
        else:
            page.goto(base + path)
        stops = []
        for _ in range(60):
            page.keyboard.press("Tab")
            state = page.evaluate(FOCUS_SCRIPT)
            if state is None:
                break
            stops.append(state)
            assert state["outline"] or state["shadow"], f"{path}: no focus ring on {state['tag']}"
            assert state["visible"], f"{path}: focused {state['tag']} is off screen"
        assert len(stops) >= 3, path
    finally:
        context.close()
