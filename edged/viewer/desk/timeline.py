"""A camera's day at the desk (design/0084, issue 30 item 2): footage, gaps with their reasons,
time not recorded by the camera's mode, motion events (with their thumbnails when stored),
holds and destructions, as bands over the day; a range picked on it leads to the request and
hold forms, prefilled with the camera and the range.

The page serves `segments`, the operation `edgectl segments` runs: the role matrix and the
account's camera scope decide who sees it, and listing the footage is on the audit record
(`footage.list`), as from edgectl; the motion events come from `events` (`events.list` on the
record), the holds from `hold.list`, the destructions from `destructions`. The bands are built
by the pure edged/viewer/desk/bands.py. No script: a range is picked by following a span (a
link, reachable with Tab) or by typing it in the range form.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from edged.i18n import N_, _, local
from edged.viewer.desk.app import Desk, Refused
from edged.viewer.desk.bands import Span, day_bands, day_range, recorded_us
from edged.viewer.desk.cameras import said
from edged.viewer.desk.holds import kind_label
from edged.viewer.desk.page import (Ctx, date_input, attr, button, esc, field_, link, message, select, table)
from edged.viewer.desk.intake import claim_mark
from edged.viewer.http import HEADERS
from storage.footage.intakes import CAMERA_PREFIX
from storage.footage.segment_rows import IMPORTED
from storage.time import rocdate

ROWS = (("footage", N_("Footage")), ("backfilled", N_("Backfilled")), ("gap", N_("Gaps")), ("policy", N_("Not recorded by policy")),
        ("unknown", N_("No record")), ("motion", N_("Motion")), ("hold", N_("Holds")),
        ("destroyed", N_("Destroyed")))
THUMBS_SHOWN = 48            # thumbnails drawn on one page; the other events are marks
LIMIT = 100_000              # rows of one camera-day (1,440 at 60 s segments)
# the thumbnails are the events' own JPEG bytes, inlined: this page alone also allows data: images
CSP = HEADERS["Content-Security-Policy"].replace("img-src 'self'", "img-src 'self' data:")
MINUTE_US = 60_000_000


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    r.add_get("/desk/timeline", desk.page("segments", Pages(desk).day))


def minute_floor(us: int) -> int:
    return us - us % MINUTE_US


def minute_ceil(us: int) -> int:
    return minute_floor(us + MINUTE_US - 1)


def length_text(us: int) -> str:
    minutes = round(us / MINUTE_US)
    if us < MINUTE_US:
        return _("{n} s").format(n=max(0, round(us / 1e6)))
    return _("{h} h {m} min").format(h=minutes // 60, m=minutes % 60) if minutes >= 60 else \
        _("{n} min").format(n=minutes)


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    def cameras(self, ctx: Ctx) -> list[tuple[str, str]]:
        scope = ctx.caller.cameras
        return [(c.id, c.name or c.id) for c in self.desk.cfg.cameras if scope is None or c.id in scope]

    def href(self, camera: str, day: date, sel: tuple[int, int] | None = None, ctx: Ctx | None = None) -> str:
        q = {"camera": camera, "day": day.isoformat()}
        if sel and ctx:
            q |= {"from": ctx.input_time(sel[0]), "to": ctx.input_time(sel[1])}
        return "/desk/timeline?" + urlencode(q) + ("#range" if sel else "")

    async def day(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        q = request.query
        cams = self.cameras(ctx)
        camera = q.get("camera") or (cams[0][0] if cams else "")
        if camera.startswith(CAMERA_PREFIX) and camera not in dict(cams):   # a portable device's (design/0356)
            cams.append((camera, camera))
        today = local(ctx.now_us, ctx.tz).date()
        day = rocdate.parse_date(q.get("day", "")) or today   # 115/11/24 or 2026-11-24 (design/0113)
        title = _("Timeline")
        picker = self.picker(ctx, cams, camera, day)
        if not camera:
            return self.desk.render(ctx, title, picker + message("error", _("No camera in your scope.")))
        start, end = day_range(day, ctx.tz)
        try:   # the footage listing first: it is the one that checks the scope and goes on the record
            listing = await self.desk.run(ctx, "segments", {"camera": camera, "from_us": start, "to_us": end,
                                                            "limit": LIMIT})
            events = (await self.desk.run(ctx, "events", {"camera": camera, "since_us": start, "until_us": end,
                                                            "thumbs": True, "limit": 5000}))["events"]
            holds = await self.desk.run(ctx, "hold.list", {})
            gone = await self.desk.run(ctx, "destructions", {"camera": camera, "from_us": start, "to_us": end})
        except Refused as exc:
            return self.desk.render(ctx, title, picker + message("error", str(exc)), status=403)
        bands = day_bands(camera, start, end, ctx.now_us, segments=listing["segments"], gaps=listing["gaps"],
                          not_recorded=listing["not_recorded"], events=events, holds=holds, destructions=gone)
        sel = self.selection(ctx, q, start, end)
        name = dict(cams).get(camera, camera)
        body = picker
        body += ('<p class="lead">' + esc(_("{camera}, {day}: {recorded} recorded in {n} segments.").format(
            camera=name, day=ctx.date(start, long=True), recorded=length_text(recorded_us(bands)),
            n=len(listing["segments"]))) + "</p>")
        if camera.startswith(CAMERA_PREFIX) or any(g.get("source") == IMPORTED for g in listing["segments"]):
            body += f'<p class="lead">{claim_mark()}</p>'   # its times are the device's claim (design/0356)
        body += self.chart(ctx, camera, day, start, end, bands, sel)
        body += self.range_card(ctx, camera, day, sel or (start, min(end, max(start, ctx.now_us))))
        body += self.details(ctx, camera, day, bands, events)
        response = self.desk.render(ctx, title, body)
        response.headers["Content-Security-Policy"] = CSP
        return response

    def selection(self, ctx: Ctx, q: Any, start: int, end: int) -> tuple[int, int] | None:
        a, b = ctx.parse_time(q.get("from", "")), ctx.parse_time(q.get("to", ""))
        if a is None or b is None or b <= a:
            return None
        return a, b

    def picker(self, ctx: Ctx, cams: list[tuple[str, str]], camera: str, day: date) -> str:
        prev, nxt = day - timedelta(days=1), day + timedelta(days=1)
        nav = ""
        if camera:
            nav = ('<p class="actions">' + link(self.href(camera, prev), _("← Previous day")) + " "
                   + link(self.href(camera, nxt), _("Next day →")) + "</p>")
        return ('<form method="get" action="/desk/timeline" class="filters">'
                + field_(_("Camera"), select("camera", cams, camera, required=True))
                + field_(_("Day"), date_input(ctx, "day", ctx.input_date(day), time=False, required=True))
                + button(_("Show"), cls="quiet") + "</form>" + nav)

    # the chart -------------------------------------------------------------------------------
    def chart(self, ctx: Ctx, camera: str, day: date, start: int, end: int, bands: dict[str, list[Span]],
              sel: tuple[int, int] | None) -> str:
        width = end - start
        hours = (end - start) // 3_600_000_000
        axis = "".join(f"<span>{h:02d}</span>" for h in range(0, hours, 3))
        rows = [f'<div class="tl-row tl-axis" aria-hidden="true"><span class="tl-label"></span>'
                f'<div class="tl-hours tl-h{hours}">{axis}</div></div>']
        for kind, label in ROWS:
            spans = bands.get(kind, [])
            if kind in ("unknown", "destroyed", "hold", "backfilled") and not spans:
                continue
            marks = "".join(self.mark(ctx, camera, day, s, start, width) for s in spans)
            rows.append(f'<div class="tl-row"><span class="tl-label">{esc(_(label))}</span>'
                        f'<svg class="tl-band" viewBox="0 0 1000 20" preserveAspectRatio="none" role="group" '
                        f'aria-label="{attr(_(label))}">'
                        f'<rect class="tl-bg" x="0" y="0" width="1000" height="20"></rect>{marks}</svg></div>')
        if sel:
            a, b = max(sel[0], start), min(sel[1], end)
            if b > a:
                x, w = 1000 * (a - start) / width, max(2.0, 1000 * (b - a) / width)
                picked = esc(_("Range picked"))
                rows.append(f'<div class="tl-row"><span class="tl-label">{picked}</span>'
                            f'<svg class="tl-band" viewBox="0 0 1000 20" preserveAspectRatio="none" aria-hidden="true">'
                            f'<rect class="tl-bg" x="0" y="0" width="1000" height="20"></rect>'
                            f'<rect class="b-range" x="{x:.2f}" y="0" width="{w:.2f}" height="20"></rect></svg></div>')
        keys = {"tab": '<kbd translate="no">Tab</kbd>', "enter": '<kbd translate="no">Enter</kbd>'}
        hint = esc(_("Follow a span (click, or {tab} and {enter}) to pick its time range; then file a request or "
                     "place a hold for it below.")).format(**keys)
        return f'<section class="card timeline" id="chart"><p class="hint">{hint}</p>{"".join(rows)}</section>'

    def mark(self, ctx: Ctx, camera: str, day: date, s: Span, start: int, width: int) -> str:
        x = 1000 * (s.from_us - start) / width
        w = max(1.5, 1000 * s.length_us / width)   # a mark (an event without its end) still shows
        what = self.describe(ctx, s)
        href = self.href(camera, day, (minute_floor(s.from_us), minute_ceil(max(s.to_us, s.from_us + 1))), ctx)
        return (f'<a href="{attr(href)}" aria-label="{attr(what)}"><rect class="b-{s.kind}" x="{x:.2f}" y="2" '
                f'width="{w:.2f}" height="16"><title>{esc(what)}</title></rect></a>')

    def describe(self, ctx: Ctx, s: Span) -> str:
        when = f"{ctx.when(s.from_us)} ～ {ctx.when(s.to_us)}"
        if s.kind == "footage":
            return _("footage {when} ({n} segments)").format(when=when, n=s.count) + (
                " " + _("(being written)") if s.open else "")
        if s.kind == "backfilled":
            return (_("backfilled {when} from the camera's own recording ({n} segments)") if s.reason == "backfilled"
                    else _("backfilled {when} from the standby ({n} segments)")).format(when=when, n=s.count)
        if s.kind == "gap":
            return _("gap {when}: {reason}").format(when=when, reason=s.reason)
        if s.kind == "policy":
            return _("not recorded by policy {when}: {reason}").format(when=when, reason=s.reason)
        if s.kind == "unknown":
            return _("no record {when}").format(when=when)
        if s.kind == "motion":
            return _("motion {when}").format(when=when) if not s.open else \
                _("motion from {time}, not ended").format(time=ctx.when(s.from_us))
        if s.kind == "hold":
            return _("{kind} {id} {when}").format(kind=kind_label(s.reason), id=s.ref, when=when)
        return _("destroyed {when}: {reason}").format(when=when, reason=s.reason)

    # the range and what to do with it ----------------------------------------------------------
    def range_card(self, ctx: Ctx, camera: str, day: date, sel: tuple[int, int]) -> str:
        buttons = ""
        if ctx.may("request.file"):
            buttons += ('<button type="submit" class="primary" formaction="/desk/requests/new">'
                        + esc(_("File a request for this range")) + "</button>")
        if ctx.may("hold.add"):
            buttons += ('<button type="submit" class="primary" formaction="/desk/holds/new">'
                        + esc(_("Place a hold for this range")) + "</button>")
        buttons += button(_("Show the range"), cls="quiet")
        return ('<section class="card" id="range"><h2>' + esc(_("Time range")) + "</h2>"
                '<form method="get" action="/desk/timeline" class="filters">'
                f'<input type="hidden" name="camera" value="{attr(camera)}">'
                f'<input type="hidden" name="day" value="{attr(day.isoformat())}">'
                + field_(_("From"), date_input(ctx, "from", ctx.input_time(sel[0]), required=True))
                + field_(_("To"), date_input(ctx, "to", ctx.input_time(sel[1]), required=True))
                + f'<div class="buttons">{buttons}</div></form></section>')

    # the same spans as tables (read out by a screen reader, printed) -----------------------------
    def details(self, ctx: Ctx, camera: str, day: date, bands: dict[str, list[Span]], events: list[dict[str, Any]]
                ) -> str:
        def pick(s: Span) -> str:
            return link(self.href(camera, day, (minute_floor(s.from_us), minute_ceil(max(s.to_us, s.from_us + 1))),
                                  ctx), _("Pick this range"))

        def when(s: Span) -> str:
            return esc(f"{ctx.when(s.from_us)} ～ {ctx.when(s.to_us)}")

        out = ""
        holes = bands["gap"] + bands["policy"]
        out += "<h2>" + esc(_("Gaps and time not recorded")) + "</h2>"
        if holes:
            out += table([_("Time range"), _("Length"), _("Kind"), _("Reason"), _("Pick")],
                         [[when(s), esc(length_text(s.length_us)),
                           esc(_("gap") if s.kind == "gap" else _("not recorded by policy")), said(s.reason), pick(s)]
                          for s in sorted(holes, key=lambda s: s.from_us)])
        else:
            out += '<p class="empty">' + esc(_("No gap on this day.")) + "</p>"
        out += "<h2>" + esc(_("Motion events")) + "</h2>"
        motion = bands["motion"]
        if motion:
            thumbs = {e["id"]: e.get("thumb") for e in events}
            with_thumb = sum(1 for e in events if e.get("thumb"))
            if not with_thumb:
                out += '<p class="hint">' + esc(_("No thumbnail is stored for these events: each is a mark.")) + "</p>"
            elif len(motion) > THUMBS_SHOWN:
                out += '<p class="hint">' + esc(_("Thumbnails of the first {n} events; the others are marks.").format(
                    n=THUMBS_SHOWN)) + "</p>"
            out += table([_("Time range"), _("Thumbnail"), _("Pick")],
                         [[when(s) if not s.open else esc(_("from {time}, not ended").format(time=ctx.when(s.from_us))),
                           ('<img class="thumb" alt="' + attr(_("motion at {time}").format(time=ctx.when(s.from_us)))
                            + '" '
                            f'src="data:image/jpeg;base64,{attr(thumbs[s.ref])}">'
                            if i < THUMBS_SHOWN and thumbs.get(s.ref) else esc("-")), pick(s)]
                          for i, s in enumerate(motion)])
        else:
            out += '<p class="empty">' + esc(_("No motion event on this day.")) + "</p>"
        if bands["hold"]:
            out += "<h2>" + esc(_("Holds")) + "</h2>" + table(
                [_("No."), _("Kind"), _("Time range")],
                [[link(f"/desk/holds/{s.ref}", str(s.ref)), esc(kind_label(s.reason)), when(s)] for s in bands["hold"]])
        if bands["destroyed"]:
            out += "<h2>" + esc(_("Destroyed")) + "</h2>" + table(
                [_("Time range"), _("Segments"), _("Reason")],
                [[when(s), esc(s.count), said(s.reason)] for s in bands["destroyed"]])
        return out
