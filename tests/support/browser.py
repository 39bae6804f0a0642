"""Headless Debian Chromium driven by playwright, logged in to edged's web viewer.

Shared by tests/test_viewer.py and bench/viewer_bench.py. Playwright's own browsers are never
downloaded: scripts/bootstrap installs Debian's chromium-headless-shell, the same Chromium built as
the headless shell Playwright itself drives by default: a new page costs about a third of the CPU the full
browser's `--headless=new` spends on one (a profile's services started for every context), the
suite's largest single cost (design/0396).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aioice import ice

from edged.viewer.views import CONNECT_TIMEOUT_S
from tests.support.load import slack
from tests.support.people import password_for

CHROMIUM = "/usr/bin/chromium-headless-shell"


def view_end_s() -> float:
    """The longest the daemon may take to end a view whose page went away without a word (a
    context closed before its stop beacon, or before the view's answer named it): the never-connected
    bound (edged/viewer/views.py CONNECT_TIMEOUT_S) or ICE consent's failure (aioice: CONSENT_FAILURES
    checks CONSENT_INTERVAL apart, each up to 1.2 times that), then a sweep; with room for a loaded box."""
    return max(CONNECT_TIMEOUT_S, ice.CONSENT_FAILURES * ice.CONSENT_INTERVAL * 1.2) + 30.0


def launch() -> tuple[Any, Any]:
    """(playwright, browser); stop both when done."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    except BaseException:
        pw.stop()
        raise
    # every page's waits (playwright's 30 s by default) stretched by the box's load, as wait_for's
    opened = browser.new_context

    def new_context(*args: Any, **kwargs: Any) -> Any:
        context = opened(*args, **kwargs)
        context.set_default_timeout(30_000 * slack())
        return context

    browser.new_context = new_context
    return pw, browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser for a module's printed pages (import this fixture into the module)."""
    pw, b = launch()
    try:
        yield b
    finally:
        b.close()
        pw.stop()


def login_page(browser: Any, base: str, name: str) -> Any:
    """A fresh browser context logged in as `name` (its test password), on the live page."""
    # bypass_csp: the page's CSP forbids eval, which playwright's wait_for_function needs
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(base + "/login")
    page.fill("#name", name)
    page.fill("#password", password_for(name))
    page.click("#submit")
    page.wait_for_url("**/live")
    page.wait_for_selector("body[data-ready='1']")  # the page has asked who is logged in
    return page
