"""In real headless Chromium, JavaScript on and off, English and Chinese: a resident signs up
and proposes a project in the demo's intake cycle (a bad amount first: the form comes back
with its message) and finds it under "My proposals"; the organizer's set-up and review pages
and the auditor's page load; anyone finds the new proposal by status.  axe-core finds 0
violations on every page on the way (with JavaScript off: on the form with its error)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.test_browser_vote import assert_accessible, chromium, demo  # noqa: F401

pytestmark = pytest.mark.browser

LOCALES = {"en": ("en-GB", "en"), "zh_Hans": ("zh-CN", "zh-Hans")}


def _log_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(password)
    page.locator("#login_form button[type=submit]").click()
    page.wait_for_url(lambda url: not url.endswith("/login"))


def _log_out(page: Any) -> None:
    page.locator("header form[action='/logout'] button").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("js", [True, False], ids=["js-on", "js-off"])
@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_propose_review_and_browse(
    demo: tuple[str, list[str]],  # noqa: F811
    chromium: Any,  # noqa: F811
    language: str,
    js: bool,
) -> None:
    base, _codes = demo
    browser_locale, html_lang = LOCALES[language]
    context = chromium.new_context(java_script_enabled=js, locale=browser_locale, base_url=base)
    page = context.new_page()
    page.set_default_timeout(20_000)
    checker = None
    if not js:
        checker = chromium.new_context(locale=browser_locale, base_url=base).new_page()
        checker.goto("/healthz")

    def check(page: Any, checker: Any, *, always: bool = False) -> None:
        # The HTML does not depend on JavaScript: axe runs on every page with it on, and on
        # the form-with-errors page with it off (to keep the suite fast).
        if js or always:
            assert_accessible(page, checker)

    try:
        for url in (
            "/",
            "/cycles",
            "/cycles/1",
            "/cycles/1/proposals",
            "/cycles/2",
            "/proposals/1",
            "/signup",
            "/login",
        ):
            page.goto(url)
            assert page.get_attribute("html", "lang") == html_lang
            check(page, checker)

        # A resident signs up and proposes a project in the intake cycle.
        email = f"browser-{language}-{'js' if js else 'nojs'}@example.org"
        page.goto("/signup")
        page.locator("#f-email").fill(email)
        page.locator("#f-password").fill("a long browser password")
        page.locator("#signup_form button[type=submit]").click()
        page.wait_for_url(base + "/")
        page.goto("/cycles/2/proposals/new")
        check(page, checker)
        page.locator("#f-district_id").select_option(index=1)
        title = f"Bird boxes ({language}, js={js})"
        page.locator("#f-title").fill(title)
        page.locator("#f-description").fill("Forty bird boxes in the riverside trees.")
        page.locator("#f-estimated_cost").fill("12,50")
        page.locator("#proposal_form button[type=submit]").click()
        error = page.locator("#proposal_form .field-error")
        error.wait_for()
        assert "1500.00" in error.inner_text()
        assert page.locator("#f-title").input_value() == title
        check(page, checker, always=True)
        page.locator("#f-estimated_cost").fill("1250.50")
        page.locator("#proposal_form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/proposals/\d+$"))
        proposal_url = page.url
        assert page.locator("h1").inner_text() == title
        check(page, checker)
        page.goto("/me/proposals")
        assert page.get_by_role("link", name=title).is_visible()
        check(page, checker)
        _log_out(page)

        # The organizer's pages; the review form is on the proposal page.
        _log_in(page, "organizer@demo.plaza.example", "demo-organizer-pass")
        for url in ("/cycles/new", "/cycles/2/settings", "/cycles/2/review", "/audit"):
            page.goto(url)
            check(page, checker)
        page.goto(proposal_url)
        assert page.locator("#review_form").is_visible()
        _log_out(page)

        _log_in(page, "auditor@demo.plaza.example", "demo-auditor-pass")
        page.goto("/audit")
        assert email not in page.content()
        check(page, checker)
        _log_out(page)

        # Anyone: the new proposal is listed, filtered by status.
        page.goto("/cycles/2/proposals?status=submitted")
        assert page.get_by_role("link", name=title).is_visible()
    finally:
        context.close()
        if checker is not None:
            checker.context.close()
