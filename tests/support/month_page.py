"""The office's month page in Chromium, in zh-TW (design/0117, design/0361): the dashboard over a store
the test fed at ``tmp_path``/central-data/central.db (before opening), an auditor (`lin`) and a
technician (`chen`) who may log in, and a page logged in as the auditor. A kind's test shows its
section here, in its own module (tests/test_central_intakes.py), marked `@pytest.mark.browser` itself
so its module's other tests stay in the pure tier."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central import config, login
from tests.support.ports import free_port

TAIPEI = ZoneInfo("Asia/Taipei")
PASSWORD = "a month of footage"


def store_path(tmp_path: Path) -> Path:
    """Where the dashboard's store is: feed it there before `opened`."""
    (tmp_path / "central-data").mkdir(exist_ok=True)
    return tmp_path / "central-data" / "central.db"


def month_of(at_us: int) -> tuple[str, str]:
    """(the month "YYYY-MM" in Taipei, the ROC day "YYY/MM/DD" a row of that time starts with)."""
    when = datetime.fromtimestamp(at_us / 1e6, TAIPEI)
    return when.strftime("%Y-%m"), f"{when.year - 1911}/{when.month:02d}/{when.day:02d}"


@dataclass
class MonthPage:
    base: str       # http://127.0.0.1:port
    browser: Any
    page: Any       # the auditor's, logged in, downloads accepted

    def log_in(self, page: Any, user: str) -> None:
        page.goto(f"{self.base}/login")
        page.fill("input[name=user]", user)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.base}/")

    def month(self, site: str, ym: str) -> Any:
        """The auditor's page on the site's month."""
        self.page.goto(f"{self.base}/site/{site}/month/{ym}")
        return self.page


@contextmanager
def opened(tmp_path: Path) -> Iterator[MonthPage]:
    """The dashboard over ``store_path(tmp_path)`` in zh-TW, Asia/Taipei, and Chromium on it (the
    dashboard and the browser imported here: a pure test's module that imports this one is collected
    by the pure tier without them)."""
    from central.pages.dashboard import Dashboard
    from tests.support.browser import launch

    cfg = tmp_path / "c.toml"
    hashed = login.hash_password(PASSWORD)
    cfg.write_text('[storage]\ndata_dir = "central-data"\n[report]\nlanguage = "zh-TW"\ntimezone = "Asia/Taipei"\n'
                   f'[dashboard.accounts.lin]\nrole = "auditor"\npassword_hash = "{hashed}"\n'
                   f'[dashboard.accounts.chen]\nrole = "technician"\npassword_hash = "{hashed}"\n')
    loop, port = asyncio.new_event_loop(), free_port()
    dash = Dashboard(config.load(cfg))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(dash.start("127.0.0.1", port), loop).result(30)
        pw, browser = launch()
        try:
            month = MonthPage(f"http://127.0.0.1:{port}", browser, browser.new_context(accept_downloads=True).new_page())
            month.log_in(month.page, "lin")
            yield month
        finally:
            browser.close()
            pw.stop()
    finally:
        asyncio.run_coroutine_threadsafe(dash.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
