"""A portable camera's recording taken in at the desk (issue 76, design/0356): the custodian's upload
form, and the intake's result. The file is streamed as the browser sends it into `evidence.import`,
the operation `edgectl evidence import` runs (design/0349): the form's file part is handed to the
operation as its upload (edged/control/server.py `Caller.upload`), a megabyte at a time, never the
whole file in memory, and never through aiohttp's `post()` (client_max_size stays the viewer's
64 KiB). The refusals are the operation's, in the person's language; whoever is logged in took
it in. The browser shows how far the upload is (its own progress)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from aiohttp import BodyPartReader, web

from edged.i18n import _, local
from edged.viewer.desk.app import Desk, Refused
from edged.viewer.desk.page import OPEN, Ctx, attr, button, esc, facts, field_, link, message, table, text_input
from storage.free_text import printed

FIELD_MAX = 4096            # a text field of the form: a device name, a person, a request number
FIELDS = ("csrf", "device", "by", "request")
CHUNK = 1 << 20              # read from the browser and handed on this much at a time
IMPORTED_MARK = "imported"   # the CSS class of the mark on imported footage (the timeline's too)


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_get("/desk/intake", desk.page("evidence.import", pages.new))
    r.add_post("/desk/intake", desk.page("evidence.import", pages.take_in, streamed=True))
    r.add_get("/desk/intakes", desk.page("evidence.list", pages.register))


def claim_mark() -> str:
    """What imported footage carries wherever it is listed: its times are the device's claim."""
    words = esc(_("imported: times are the device's claim"))
    return f'<span class="state st-{OPEN} {IMPORTED_MARK}">{words}</span>'


async def _fields(reader: Any) -> tuple[dict[str, str], BodyPartReader | None]:
    """The form's text fields, each at most FIELD_MAX bytes, up to its file part (sent last)."""
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            break
        if part.filename is not None or part.name == "file":
            return fields, part
        data = b""
        while chunk := await part.read_chunk(FIELD_MAX):
            data += chunk
            if len(data) > FIELD_MAX:
                raise web.HTTPRequestEntityTooLarge(max_size=FIELD_MAX, actual_size=len(data))
        if part.name in FIELDS:
            fields[part.name] = data.decode("utf-8", "replace")
    return fields, None


def _source(part: BodyPartReader) -> Any:
    async def upload(_size: int) -> AsyncIterator[bytes]:
        while chunk := await part.read_chunk(CHUNK):
            yield chunk
    return upload


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk

    def upload_form(self, ctx: Ctx, f: dict[str, str], error: str = "") -> str:
        lead = _("A portable camera's or body-worn camera's file is kept byte for byte with its SHA-256, and its "
                 "video is remuxed, never re-encoded, into footage under {us}'s rules. Its times are the "
                 "device's claim. You are recorded as the one who took it in.").format(us=self.desk.us(ctx))
        body = ('<fieldset class="group"><legend>' + esc(_("The device's file")) + "</legend>"
                + field_(_("Device"), text_input("device", f.get("device", ""), required=True,
                                                 extra='pattern="[A-Za-z0-9._\\-]{1,54}" maxlength="54"'),
                         _("the device's name: letters, digits, '.', '_' or '-' (e.g. bwc-07)"))
                + field_(_("Filmed by"), text_input("by", f.get("by", ""), required=True), _("who recorded it"))
                + field_(_("Request"), text_input("request", f.get("request", ""), kind="number", extra='min="1"'),
                         _("the request it belongs to, if any"))
                + field_(_("File"), '<input type="file" name="file" id="f-file" required>',
                         _("the device's file (MP4, MOV, ...)"), wide=True)
                + "</fieldset>" + '<div class="buttons">' + button(_("Take in the file")) + "</div>")
        return (f'<p class="lead">{esc(lead)}</p>' + (message("error", error) if error else "")
                + f'<form method="post" action="/desk/intake" enctype="multipart/form-data" class="wide-form">'
                f'<input type="hidden" name="csrf" value="{attr(ctx.csrf)}">{body}</form>')

    async def new(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        return self.desk.render(ctx, _("Take in a portable camera's file"), self.upload_form(ctx, {}))

    async def take_in(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        self.desk.check_origin(request)
        if not request.content_type.startswith("multipart/"):
            raise web.HTTPBadRequest(text=_("send the form from the desk's page"))
        fields, part = await _fields(await request.multipart())
        self.desk.check_sent(request, ctx, fields.get("csrf", ""))
        title = _("Take in a portable camera's file")
        try:
            if part is None or request.content_length is None:
                raise Refused(_("choose the device's file"))
            request_no = fields.get("request", "").strip()
            if request_no and not request_no.isdigit():
                raise Refused(_("the request is a number"))
            args: dict[str, Any] = {"device": fields.get("device", "").strip(), "by": fields.get("by", "").strip(),
                                    "bytes": request.content_length, "name": part.filename or "FILE",
                                    **({"request": int(request_no)} if request_no else {})}
            result = await self.desk.run(ctx, "evidence.import", args, upload=_source(part))
        except Refused as exc:
            try:
                await request.release()   # the rest of a refused file read and dropped: the browser then hears why
            except ConnectionError:
                pass                      # the browser went away mid-file (the refusal says so): no one to answer
            return self.desk.render(ctx, title, self.upload_form(ctx, fields, str(exc)), status=422)
        return self.desk.render(ctx, _("Intake {id}").format(id=result["id"]), self.result(ctx, result, part.filename))

    async def register(self, _request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The intakes, newest first: who took each in, from which device, its SHA-256, and whether
        its original is kept or when retention destroyed it (edgectl evidence list)."""
        rows = await self.desk.run(ctx, "evidence.list", {})
        body = (link("/desk/intake", _("Take in a portable camera's file"), "button") if ctx.may("evidence.import")
                else "")
        if not rows:
            return self.desk.render(ctx, _("Intakes"), body + '<p class="empty">' + esc(_("No file taken in yet.")) + "</p>")
        kept, mark = _("kept"), claim_mark()
        cells = [(esc(str(r["id"])), esc(ctx.when(r["intake_us"])) + "<br>" + esc(ctx.who(r["taken_by"])),
                  esc(r["device"]) + (f" ({esc(printed(r['model']))})" if r.get("model") else ""),
                  # the device's own file name, as sent (design/0403): data, not words to translate
                  f'<span translate="no">{esc(printed(r["file_name"]))}</span>' if r.get("file_name") else "-",
                  esc(printed(r["recorded_by"])),
                  link(f"/desk/requests/{int(r['request'])}", str(r["request"])) if r.get("request") else "-",
                  (esc(ctx.when(r["claimed_start_us"])) + " " + mark) if r.get("claimed_start_us") is not None else "-",
                  self.timeline_link(ctx, r, _("{n} segments").format(n=r["segments"])),
                  esc(_("destroyed {time}").format(time=ctx.when(r["destroyed_us"])) if r.get("destroyed_us") else kept),
                  f'<code translate="no">{esc(r["sha256"])}</code>') for r in rows]
        return self.desk.render(ctx, _("Intakes"), body + table(
            [_("Intake"), _("Taken in"), _("Device"), _("File"), _("Filmed by"), _("Request"), _("Start"), _("Footage"),
             _("The original"), _("SHA-256")], cells))

    def result(self, ctx: Ctx, r: dict[str, Any], name: str | None) -> str:
        if r["segments"]:
            kept = _("{n} segments of the device {device}").format(n=r["segments"], device=r["device"])   # never its id
            start = (_("{time} (the device's claim)").format(time=ctx.when(r["claimed_start_us"]))
                     if r.get("claimed_start_us") is not None else _("it claims no time; placed at the intake"))
        else:
            kept, start = _("the original file alone"), "-"
        rows = [(_("File"), esc(name or "-")), (_("SHA-256"), f"<code>{esc(r['sha256'])}</code>"),
                (_("Size"), esc(_("{n} bytes").format(n=r["bytes"]))),
                (_("Device"), esc(r["device"]) + (f" ({esc(printed(r['model']))})" if r.get("model") else "")),
                (_("Filmed by"), esc(printed(r["recorded_by"]))), (_("Taken in"), esc(_("{time} by {by}").format(
                    time=ctx.when(r["intake_us"]), by=ctx.who(r["taken_by"])))),
                (_("Request"), link(f"/desk/requests/{int(r['request'])}", str(r["request"]))
                 if r.get("request") else "-"),
                (_("Footage"), esc(kept)), (_("Start"), esc(start) + " " + claim_mark() if r["segments"] else esc(start)),
                (_("The original"), f"<code>{esc(r['original'])}</code>")]
        notes = "".join(f"<li>{esc(line)}</li>" for line in r.get("said") or [])
        again = link("/desk/intake", _("Take in another file"), "button") + " " + link("/desk/intakes", _("Intakes"))
        return (message("ok", _("The file is taken in as intake {id}.").format(id=r["id"])) + facts(rows)
                + (f'<ul class="notes">{notes}</ul>' if notes else "")
                + f'<p class="actions">{self.timeline_link(ctx, r)}{again}</p>')

    @staticmethod
    def timeline_link(ctx: Ctx, r: dict[str, Any], words: str = "") -> str:
        """The device's footage on the timeline, on the day it claims (or of its intake); `words`
        alone where there is none to show."""
        if not r["segments"] or not ctx.may("segments"):
            return esc(words)
        day = local(r["claimed_start_us"] if r.get("claimed_start_us") is not None else r["intake_us"], ctx.tz).date()
        return link("/desk/timeline?" + urlencode({"camera": r["camera"], "day": day.isoformat()}),
                    words or _("Its footage on the timeline")) + ("" if words else " ")
