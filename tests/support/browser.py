"""Headless Debian Chromium driven by playwright, logged in to edged's web viewer.

Shared by tests/test_viewer.py and bench/viewer_bench.py. Playwright's own browsers are never
downloaded: scripts/bootstrap installs Debian's chromium-headless-shell, the same Chromium built as
the headless shell Playwright itself drives by default: a new page costs about a third of the CPU the full
browser's `--headless=new` spends on one (a profile's services started for every context), the
suite's largest single cost (design/0396).
"""

from __future__ import annotations

import asyncio
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


class _Lent:
    """The test process's one Chromium, lent to a caller: the contexts it opens are its own, each with its waits
    stretched by the box's load, and its close() closes them, not the browser (a module's pages never see
    another's: a context shares no cookie, storage or cache with another)."""

    def __init__(self, browser: Any) -> None:
        self._browser, self._contexts = browser, []

    def new_context(self, *args: Any, **kwargs: Any) -> Any:
        context = self._browser.new_context(*args, **kwargs)
        # every page's waits (playwright's 30 s by default) stretched by the box's load, as wait_for's
        context.set_default_timeout(30_000 * slack())
        self._contexts.append(context)
        return context

    def new_page(self, *args: Any, **kwargs: Any) -> Any:
        """A page in a context of its own, as Browser.new_page makes one."""
        return self.new_context(*args, **kwargs).new_page()

    def close(self) -> None:
        contexts, self._contexts = self._contexts, []
        for context in contexts:
            try:
                context.close()
            except Exception:  # noqa: BLE001 - closed already (its page crashed, or the test closed it)
                pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


class _Playwright:
    """The process's playwright, lent: stop() hands it back (shutdown() at the process's end stops it). Its
    sync API runs its event loop in a greenlet of this thread, which asyncio takes for the thread's running
    loop while the driver is up: handed back, the thread has none (a later test's asyncio.run works as after
    a stop), and lent again, it is playwright's once more."""

    def __init__(self, pw: Any, loop: asyncio.AbstractEventLoop | None) -> None:
        self._pw, self._loop = pw, loop
        asyncio.events._set_running_loop(loop)

    def stop(self) -> None:
        if asyncio.events._get_running_loop() is self._loop:
            asyncio.events._set_running_loop(None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pw, name)


_shared: tuple[Any, Any, asyncio.AbstractEventLoop | None] | None = None


def launch() -> tuple[Any, Any]:
    """(playwright, browser), lent: stop and close both when done. One playwright driver and one Chromium a test
    process (its first caller starts them; tests/conftest.py stops them at the session's end): each launch was a
    node driver and a browser started again, about 3 s of CPU a module (design/0471)."""
    global _shared
    if _shared is None or not _shared[1].is_connected():
        shutdown()
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        except BaseException:
            pw.stop()
            raise
        _shared = (pw, browser, asyncio.events._get_running_loop())
    return _Playwright(_shared[0], _shared[2]), _Lent(_shared[1])


def shutdown() -> None:
    """The process's Chromium and playwright stopped, if started."""
    global _shared
    if _shared is not None:
        pw, browser, loop = _shared
        _shared = None
        asyncio.events._set_running_loop(loop)
        try:
            browser.close()
        finally:
            pw.stop()


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
