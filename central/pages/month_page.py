"""The dashboard's month page of a site and its CSV files (issue 43 item 6, design/0117): what
central/report/month.py gathers, in the sites' language, printable (central.css's print rules), for the
auditor role only (accesses name people). `/site/S/month/YYYY-MM?page=N` pages the destructions;
`/site/S/month/YYYY-MM/SECTION.csv` is one section whole, streamed as it is read (design/0141,
design/0273); both take `camera=`, `day=` and `verdict=` for the destructions."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from datetime import datetime
from urllib.parse import urlencode
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from central.report import compliance, month as mo, report_html
from central.pages.pages import HEADERS, PAGE_END, ROLE, e, el, page_top
from central.config import CentralConfig
from central.i18n import N_, Speaker
from central.store.store import Store, now_us

T = TypeVar("T")


class Dashboard(Protocol):
    """What the month page needs of central/pages/dashboard.Dashboard (no import cycle)."""
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


async def page(dash: Dashboard, request: web.Request) -> web.StreamResponse:
    """The month page, written as the store is read (design/0287): each section's rows from its
    cursor (month.section_rows, the CSV's), the destructions a page of them; nothing of the
    month held whole, whatever the site's size. A wrong site, month or day is a 404 first."""
    sp, _ = dash.sp, dash.sp._
    try:
        n = max(1, int(request.query.get("page", "1")))
    except ValueError:
        n = 1
    site, month, f, tz = await _asked(dash, request)
    made = now_us()
    base = f"/site/{e(site)}/month/{e(month)}"
    keep = e(urlencode({k: v for k, v in f._asdict().items() if v}))
    title = _("Site {site}, {month}").format(site=site, month=sp.month(month))
    nav = ("<p class=\"noprint\">" + el("a", _("site"), f" href=\"/site/{e(site)}\"") + " · "
           + el("a", _("previous month"), f" href=\"/site/{e(site)}/month/{shift(month, -1)}\"") + " · "
           + el("a", _("next month"), f" href=\"/site/{e(site)}/month/{shift(month, 1)}\"") + " · "
           + e(_("CSV:")) + " " + " ".join(el("a", sp.word(mo.HEADINGS[s]),
                                             f" href=\"{base}/{s}.csv{'?' + keep if keep and s == 'destructions' else ''}\""
                                             " download")
                                          for s in mo.SECTIONS) + "</p>")
    top = page_top(sp, title, refresh=False, request=request) + "\n".join([
        el("h1", title), nav, el("p", _("Made {when} from what the nodes published; times in {zone}.").format(
            when=sp.when(made), zone=str(tz)), ' class="muted"')])

    now_month = month == this_month(tz)  # a node's `state` is what it says now: this month's page only

    def chunks(store: Store) -> Iterator[bytes]:
        yield top.encode()
        for name in mo.SECTIONS:
            head = ["\n" + el("h2", sp.word(mo.HEADINGS[name]), f" id=\"{name}\"")]
            note = mo.dispute_note(sp, mo.disputed_now(store, site)) if name == "retention" and now_month else None
            head += [el("p", note, ' class="clock-dispute"')] if note else []
            if name == "destructions":
                head += _paging(sp, base, keep, f, n, *mo.destructions_head(store, site, month, tz, f))
                rows: Iterator[dict[str, Any]] = iter(mo.destructions(store, site, month, tz, f, page=n, per_page=mo.PAGE))
            else:
                rows = mo.section_rows(store, name, site, month, tz, made, f)
            yield from (c.encode() for c in _section_html(sp, name, "\n".join(head), rows))
        yield PAGE_END.encode()
    return await _streamed(dash, request, web.StreamResponse(headers={**HEADERS, "Content-Type": "text/html; charset=utf-8"}),
                           chunks)


def _paging(sp: Speaker, base: str, keep: str, f: mo.Filters, n: int, total: int,
            archived: list[dict[str, Any]]) -> list[str]:
    """What stands above the destructions' table: how many, the page, what was archived, the filters."""
    _ = sp._
    last = max(1, -(-total // mo.PAGE))
    out = [el("p", _("{total} destructions; page {page} of {pages}.").format(total=total, page=n, pages=last))]
    out += [el("p", t, ' class="archived"') for t in report_html.archived_notes(sp, archived)]
    out.append(_form(sp, f))
    amp = "&amp;" + keep if keep else ""
    links = [el("a", _("previous page"), f" href=\"{base}?page={n - 1}{amp}#destructions\"") if n > 1 else "",
             el("a", _("next page"), f" href=\"{base}?page={n + 1}{amp}#destructions\"") if n < last else ""]
    if any(links):
        out.append("<p class=\"noprint\">" + " ".join(x for x in links if x) + "</p>")
    return out


def _section_html(sp: Speaker, name: str, head: str, rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """A section of the page: its heading, then its table as the rows come, a quarter of
    month.CHUNK_ROWS a piece (a row of the page is about four of the CSV)."""
    every = max(1, mo.CHUNK_ROWS // 4)
    first = next(rows, None)
    if first is None:
        yield head + "\n" + el("p", sp._("None."))
        return
    cls = {"alarms": "suspect"}.get(name, "bad")
    out = [head, "\n<table><thead><tr>", *(f"<th>{e(c)}</th>" for c in mo.headers(sp, name)), "</tr></thead><tbody>"]
    for i, r in enumerate(itertools.chain([first], rows), 1):
        out.append(f"<tr class=\"{cls if mo.bad(name, r) else ''}\">"
                   + "".join(f"<td>{e(str(v))}</td>" for v in mo.cells(sp, name, r)) + "</tr>")
        if i % every == 0:
            yield "".join(out)
            out.clear()
    out.append("</tbody></table>")
    yield "".join(out)


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


async def _asked(dash: Dashboard, request: web.Request) -> tuple[str, str, mo.Filters, ZoneInfo]:
    """The site, month, filters and zone a page or CSV of the month asks for, the asker an auditor
    and the month one the site has (else 404: what is missing, in the reader's language)."""
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
    return site, month, f, tz


async def csv_file(dash: Dashboard, request: web.Request) -> web.StreamResponse:
    """One section of the month as CSV, written as it is read from the store: constant memory for
    6.9 million destructions and for every other section alike (design/0141, design/0273)."""
    name = request.match_info["section"]
    if name not in mo.SECTIONS:
        raise web.HTTPNotFound(headers=HEADERS)
    site, month, f, tz = await _asked(dash, request)
    made = now_us()
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", f"{site}-{month}-{name}.csv")
    resp = web.StreamResponse(headers={**HEADERS, "Content-Type": "text/csv; charset=utf-8",
                                       "Content-Disposition": f"attachment; filename=\"{filename}\""})
    return await _streamed(dash, request, resp, lambda store: mo.csv_chunks(
        dash.sp, name, mo.section_rows(store, name, site, month, tz, made, f)))


async def _streamed(dash: Dashboard, request: web.Request, resp: web.StreamResponse,
                    chunks: Callable[[Store], Iterator[bytes]]) -> web.StreamResponse:
    """``resp`` written as ``chunks`` come: a thread reads the store (one read transaction) through
    the sections' cursors; at most a few chunks wait in between; a reader that goes away stops it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)
    stop = threading.Event()

    def put(item: bytes | None) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def work() -> None:
        try:
            store = dash.cfg.open_store(readonly=True)
        except BaseException:
            put(None)
            raise
        try:
            with store.reading():  # PostgreSQL: one snapshot, no transaction a cursor
                for chunk in chunks(store):
                    if stop.is_set():
                        return
                    put(chunk)
        finally:
            store.close()
            put(None)

    reader = asyncio.create_task(asyncio.to_thread(work))
    try:
        await resp.prepare(request)
        while (chunk := await queue.get()) is not None:
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionResetError:  # the reader went away: stop reading the store, nothing to answer
        pass
    finally:
        stop.set()
        while not reader.done():  # let the reader end (it may wait for room to put its last chunk)
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({reader, getter}, return_when=asyncio.FIRST_COMPLETED)
            getter.cancel()  # (polled a second at a time, each request after one kept its connection waiting)
        await reader
    return resp
