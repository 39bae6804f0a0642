"""The office's month page in zh-TW (design/0117, design/0361): the dashboard over a store the test fed
at ``tmp_path``/central-data/central.db (before opening), an auditor (`lin`) and a technician (`chen`)
who may log in.

A kind's section is read off the page as the dashboard serves it over HTTP, in-process, with no
browser (``rendered``: the auditor logs in as a browser would and the page's HTML is parsed), in the
kind's own module (tests/test_central_intakes.py), which stays in the pure tier. The page as a whole,
its links, print rules and downloads, is walked once in Chromium (``opened``:
tests/test_central_month_page.py): design/0390."""

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


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.toml"
    hashed = login.hash_password(PASSWORD)
    cfg.write_text('[storage]\ndata_dir = "central-data"\n[report]\nlanguage = "zh-TW"\ntimezone = "Asia/Taipei"\n'
                   f'[dashboard.accounts.lin]\nrole = "auditor"\npassword_hash = "{hashed}"\n'
                   f'[dashboard.accounts.chen]\nrole = "technician"\npassword_hash = "{hashed}"\n')
    return cfg


def rendered(tmp_path: Path, site: str, ym: str, user: str = "lin", path: str | None = None) -> Any:
    """The month page of ``site`` (or the page at ``path``: "/site/s") as the dashboard over
    ``store_path(tmp_path)`` serves it to ``user`` logged in (its login form and CSRF cookie as a
    browser sends them), parsed by lxml: a section is
    ``tree.xpath('//*[@id="intakes"]/following-sibling::table[1]')``."""
    import aiohttp
    import lxml.html

    from central.pages.dashboard import Dashboard

    async def fetch() -> str:
        port = free_port()
        dash = Dashboard(config.load(_config(tmp_path)))
        await dash.start("127.0.0.1", port)
        base = f"http://127.0.0.1:{port}"
        try:
            # unsafe: the jar keeps cookies of an IP address (127.0.0.1), as a browser does
            async with aiohttp.ClientSession(headers={"Origin": base}, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.get(f"{base}/login") as r:
                    token = lxml.html.fromstring(await r.text()).xpath('//input[@name="csrf"]/@value')[0]
                async with http.post(f"{base}/login", data={"csrf": token, "user": user, "password": PASSWORD},
                                     allow_redirects=False) as r:
                    assert r.status == 303, (r.status, await r.text())
                async with http.get(base + (path or f"/site/{site}/month/{ym}")) as r:
                    assert r.status == 200, (r.status, await r.text())
                    return await r.text()
        finally:
            await dash.close()

    return lxml.html.fromstring(asyncio.run(fetch()))


def section(tree: Any, name: str) -> tuple[str, list[str], list[list[str]]]:
    """A section of a ``rendered`` page: its heading's text, its table's column headers and its rows' cells,
    each as the page shows it (whitespace collapsed)."""
    def text(node: Any) -> str:
        return " ".join(node.text_content().split())

    heading = tree.get_element_by_id(name)
    table = heading.xpath("following-sibling::table[1]")[0]
    return (text(heading), [text(th) for th in table.xpath("./thead//th")],
            [[text(td) for td in tr.xpath("./td")] for tr in table.xpath("./tbody/tr")])


@contextmanager
def opened(tmp_path: Path) -> Iterator[MonthPage]:
    """The dashboard over ``store_path(tmp_path)`` in zh-TW, Asia/Taipei, and Chromium on it (the
    dashboard and the browser imported here: a pure test's module that imports this one is collected
    by the pure tier without them)."""
    from central.pages.dashboard import Dashboard
    from tests.support.browser import launch

    loop, port = asyncio.new_event_loop(), free_port()
    dash = Dashboard(config.load(_config(tmp_path)))
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
