"""The dashboard's month page of a site and its CSV files (issue 43 item 6, design/0117): what
central/month.py gathers, in the sites' language, printable (central.css's print rules), for the
auditor role only (accesses name people). `/site/S/month/YYYY-MM?page=N` pages the destructions;
`/site/S/month/YYYY-MM/SECTION.csv` is one section whole, streamed as it is read (design/0141,
design/0273); both take `camera=`, `day=` and `verdict=` for the destructions."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import datetime
from urllib.parse import urlencode
from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from central.report import compliance, month as mo, report_html
from central.pages.pages import HEADERS, ROLE, _page, _table, e, el
from central.config import CentralConfig
from central.i18n import N_, Speaker
from central.store.store import Store, now_us

T = TypeVar("T")


class Dashboard(Protocol):
    """What the month page needs of central/dashboard.Dashboard (no import cycle)."""
    cfg: CentralConfig
    sp: Speaker

    async def _read(self, fn: Callable[[Store], T]) -> T: ...


def shift(month: str, by: int) -> str:
    """YYYY-MM moved by `by` months."""
    y, m = (int(x) for x in month.split("-"))
    n = y * 12 + m - 1 + by
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def this_month(tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(now_us() / 1e6, tz).strftime("%Y-%m")


def filters(request: web.Request) -> mo.Filters:
    """The destructions' filters of the query (an empty field: none)."""
    q = request.query
    return mo.Filters(*(q.get(k) or None for k in mo.Filters._fields))


def _is_month(month: str, tz: ZoneInfo) -> bool:
    try:
        compliance.month_days(month, tz)
    except ValueError:
        return False
    return True


def _auditor(dash: Dashboard, request: web.Request) -> None:
    if request[ROLE] != "auditor":
        raise web.HTTPForbidden(text=dash.sp._("The month's accesses name people: the auditor's role only.") + "\n",
                                headers=HEADERS)


async def _month(dash: Dashboard, request: web.Request, *, page: int, per_page: int | None) -> dict[str, Any]:
    site, month = request.match_info["site"], request.match_info["month"]
    _ = dash.sp._
    _auditor(dash, request)
    f = filters(request)
    try:
        compliance.month_days(month, dash.cfg.tz)
        return await dash._read(lambda s: mo.gather(s, site, month, dash.cfg.tz, now_us(), page=page,
                                                    per_page=per_page, filters=f))
    except ValueError:
        if f.day is not None and _is_month(month, dash.cfg.tz):
            raise web.HTTPNotFound(text=_("{day} is not a day of {month}").format(day=f.day, month=month) + "\n",
                                   headers=HEADERS) from None
        raise web.HTTPNotFound(text=_("{month} is not a month (YYYY-MM)").format(month=month) + "\n",
                               headers=HEADERS) from None
    except LookupError:
        raise web.HTTPNotFound(text=_("no node of site {site} has reported").format(site=site) + "\n",
                               headers=HEADERS) from None


async def page(dash: Dashboard, request: web.Request) -> web.Response:
    sp, _ = dash.sp, dash.sp._
    try:
        n = max(1, int(request.query.get("page", "1")))
    except ValueError:
        n = 1
    m = await _month(dash, request, page=n, per_page=mo.PAGE)
    site, month = str(m["site"]), str(m["month"])
    base = f"/site/{e(site)}/month/{e(month)}"
    f = filters(request)
    keep = e(urlencode({k: v for k, v in f._asdict().items() if v}))
    title = _("Site {site}, {month}").format(site=site, month=sp.month(month))
    nav = ("<p class=\"noprint\">" + el("a", _("site"), f" href=\"/site/{e(site)}\"") + " · "
           + el("a", _("previous month"), f" href=\"/site/{e(site)}/month/{shift(month, -1)}\"") + " · "
           + el("a", _("next month"), f" href=\"/site/{e(site)}/month/{shift(month, 1)}\"") + " · "
           + e(_("CSV:")) + " " + " ".join(el("a", sp.word(mo.HEADINGS[s]),
                                             f" href=\"{base}/{s}.csv{'?' + keep if keep and s == 'destructions' else ''}\""
                                             " download")
                                          for s in mo.SECTIONS) + "</p>")
    body = [el("h1", title), nav,
            el("p", _("Made {when} from what the nodes published; times in {zone}.").format(
                when=sp.when(now_us()), zone=str(dash.cfg.tz)), ' class="muted"')]
    for name, rows in mo.sections(m).items():
        body.append(el("h2", sp.word(mo.HEADINGS[name]), f" id=\"{name}\""))
        if name == "destructions":
            total, per = int(m["destructions_total"]), mo.PAGE
            last = max(1, -(-total // per))
            body.append(el("p", _("{total} destructions; page {page} of {pages}.").format(
                total=total, page=n, pages=last)))
            body += [el("p", t, ' class="archived"') for t in report_html.archived_notes(sp, m.get("archived", []))]
            body.append(_form(sp, f))
            amp = "&amp;" + keep if keep else ""
            links = [el("a", _("previous page"), f" href=\"{base}?page={n - 1}{amp}#destructions\"") if n > 1 else "",
                     el("a", _("next page"), f" href=\"{base}?page={n + 1}{amp}#destructions\"") if n < last else ""]
            if any(links):
                body.append("<p class=\"noprint\">" + " ".join(x for x in links if x) + "</p>")
        if not rows:
            body.append(el("p", _("None.")))
            continue
        cls = {"alarms": "suspect"}.get(name, "bad")
        body.append(_table(mo.headers(sp, name), [(cls if mo.bad(name, r) else "",
                                                   [e(str(v)) for v in mo.cells(sp, name, r)]) for r in rows]))
    return _page(sp, title, body, refresh=False, request=request)


def _form(sp: Speaker, f: mo.Filters) -> str:
    """The destructions' filters, a GET form (no script)."""
    _ = sp._
    options = "".join(f"<option value=\"{e(v)}\"{' selected' if v == f.verdict else ''}>{e(sp.word(w))}</option>"
                      for v, w in (("", N_("every verdict")), *mo.VERDICTS.items()))
    camera, day, verdict, show = _("camera"), _("day"), _("verdict"), _("show")
    return ("<form class=\"noprint\" method=\"get\" action=\"#destructions\">"
            f"<label>{e(camera)} <input name=\"camera\" value=\"{e(f.camera or '')}\" size=\"10\"></label> "
            f"<label>{e(day)} <input name=\"day\" value=\"{e(f.day or '')}\" placeholder=\"YYYY-MM-DD\""
            " size=\"10\"></label> "
            f"<label>{e(verdict)} <select name=\"verdict\">{options}</select></label> "
            f"<button>{e(show)}</button></form>")


async def _section(dash: Dashboard, request: web.Request) -> tuple[str, str, str, mo.Filters, ZoneInfo]:
    """The section, site, month, filters and zone a CSV of the month asks for, the asker an
    auditor and the month one the site has (else 404: what is missing, in the reader's language)."""
    name = request.match_info["section"]
    if name not in mo.SECTIONS:
        raise web.HTTPNotFound(headers=HEADERS)
    _auditor(dash, request)
    site, month, f, tz = request.match_info["site"], request.match_info["month"], filters(request), dash.cfg.tz
    _ = dash.sp._
    try:
        await dash._read(lambda s: mo.check(s, site, month, tz, f))
    except LookupError:
        raise web.HTTPNotFound(text=_("no node of site {site} has reported").format(site=site) + "\n",
                               headers=HEADERS) from None
    except ValueError:
        text = (_("{day} is not a day of {month}").format(day=f.day, month=month) if _is_month(month, tz)
                else _("{month} is not a month (YYYY-MM)").format(month=month))
        raise web.HTTPNotFound(text=text + "\n", headers=HEADERS) from None
    return name, site, month, f, tz


async def csv_file(dash: Dashboard, request: web.Request) -> web.StreamResponse:
    """One section of the month as CSV, written as it is read from the store (a thread reads it
    through a cursor; at most a few chunks wait in between): constant memory for 6.9 million
    destructions and for every other section alike (design/0141, design/0273)."""
    name, site, month, f, tz = await _section(dash, request)
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)
    stop = threading.Event()
    made = now_us()

    def put(item: bytes | None) -> None:
        asyncio.run_coroutine_threadsafe(chunks.put(item), loop).result()

    def work() -> None:
        try:
            store = dash.cfg.open_store(readonly=True)
        except BaseException:
            put(None)
            raise
        try:
            for chunk in mo.csv_chunks(dash.sp, name, mo.section_rows(store, name, site, month, tz, made, f)):
                if stop.is_set():
                    return
                put(chunk)
        finally:
            store.close()
            put(None)

    filename = re.sub(r"[^A-Za-z0-9._-]", "_", f"{site}-{month}-{name}.csv")
    resp = web.StreamResponse(headers={**HEADERS, "Content-Type": "text/csv; charset=utf-8",
                                       "Content-Disposition": f"attachment; filename=\"{filename}\""})
    reader = asyncio.create_task(asyncio.to_thread(work))
    try:
        await resp.prepare(request)
        while (chunk := await chunks.get()) is not None:
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionResetError:  # the reader went away: stop reading the store, nothing to answer
        pass
    finally:
        stop.set()
        while not reader.done():  # let the reader end (it waits for room to put its last chunk)
            try:
                await asyncio.wait_for(chunks.get(), 1.0)
            except asyncio.TimeoutError:
                pass
        await reader
    return resp
