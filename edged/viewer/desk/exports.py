"""A signed export at the desk (design/0073, R5.5, R6): on an approved request's page, the
custodian turns its copy grant into the signed export (`export.run`, as `edgectl export`), then
downloads it once as one ZIP file, read from the daemon's staging folder through `export.read`
(the custodian who made it; each file on the audit record as `export.read`). Whether the form
is offered is edged/rules/retrieval.py's rule for using a grant, asked without writing."""

from __future__ import annotations

import base64
import zipfile
from typing import Any

from aiohttp import web

from edged.i18n import N_, _
from edged.rules import retrieval as rq
from edged.rules.redaction import allower_refusal
from edged.rules.downloads import Download, download_of, zip_order
from storage.export.evidence import RECEIPT
from edged.viewer.desk.app import Desk, Refused, form_of
from edged.viewer.desk.page import (Ctx, button, esc, facts, field_, form, link, message, table,
                                    text_input)

CHECK_IT = N_("Once downloaded, unpack the ZIP and check it where it arrived with the line below: its manifest "
               "SHA-256 must be the one above.")
RECEIPT_WAIT_S = 30.0  # how long the download waits for the office's receipt while the box hears it (design/0375)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the files' own times are in manifest.json; the ZIP's stay fixed
NOTE_ONCE = N_("The download is offered once: keep the file where the copy is handed over. The box keeps its "
               "staging copy for a day, then destroys it on the record.")


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_post("/desk/exports/new", desk.page("export.run", pages.make))
    r.add_post(r"/desk/exports/{id:\d+}/download", desk.page("export.read", pages.download))


def may_export(req: dict[str, Any], ctx: Ctx) -> bool:
    """The rules export.run applies to the grant (unused, in time, for a copy; not by one who
    signed the request), run without writing."""
    g = req.get("grant")
    if not g or not ctx.may("export.run"):
        return False
    signers = [s["by"] for s in rq.steps_signed(req)]
    return (rq.refuse_use(g, mode="copy", now_us=ctx.now_us) is None
            and rq.approver_refusal({"approvers": signers, "request_id": req["id"]}, ctx.account) is None
            and allower_refusal(g, ctx.account or "") is None)


def export_card(req: dict[str, Any], ctx: Ctx) -> str:
    """The form on the request's page, or nothing."""
    if not may_export(req, ctx):
        return ""
    fields = (f'<input type="hidden" name="grant" value="{int(req["grant"]["id"])}">'
              f'<input type="hidden" name="request" value="{int(req["id"])}">'
              + field_(_("Recipient"), text_input("recipient", req.get("requester_name") or ""),
                       _("who receives the copy"))
              + (field_(_("Receipt signed by"), text_input("receipt", required=True),
                        _("this copy needs the recipient's signed receipt")) if req.get("receipt") else "")
              + button(_("Make the signed export")))
    heading, hint = _("Signed export"), _("The grant is used once: the export is made now, signed by this recorder.")
    return (f'<section class="card" id="export"><h2>{esc(heading)}</h2><p class="hint">{esc(hint)}</p>'
            + form(ctx, "/desk/exports/new", fields) + "</section>")


class ZipSink:
    """A write-only stream for zipfile: the bytes written since the last take() (the export's ZIP
    here, the redacted copy's in edged/viewer/desk/redaction.py)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pos = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass

    def close(self) -> None:  # zipfile closes only a file it opened itself; this makes the sink one it can write
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk
        self.made: dict[int, tuple[str, dict[str, Any]]] = {}  # export id -> (custodian, export.run's answer)
        self.downloads: dict[int, Download] = {}                # what went out of each (issue 56)
        self.downloading: set[int] = set()                      # being downloaded

    async def make(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        try:
            grant, request_id = int(f.get("grant") or 0), int(f.get("request") or 0)
        except ValueError:
            raise web.HTTPBadRequest() from None
        try:
            result = await self.desk.run(ctx, "export.run", {"grant": grant, "recipient": str(f.get("recipient") or ""),
                                                             "receipt": str(f.get("receipt") or "")})
        except Refused as exc:
            back = link(f"/desk/requests/{request_id}", _("Back to the request"))
            return self.desk.render(ctx, _("Signed export"), message("error", str(exc)) + f"<p>{back}</p>",
                                    status=422)
        self.made[result["export"]] = (ctx.account, result)
        self.downloads[result["export"]] = download_of(result)
        body = message("ok", _("The export is made and signed."))
        body += facts([(_("Export"), esc(result["export"])), (_("Grant"), esc(grant)),
                       (_("Size"), esc(_("{n} MB").format(n=round(result["bytes"] / 1e6, 1)))),
                       (_("Manifest SHA-256"), f'<code translate="no" id="manifest-sha256">'
                                               f'{esc(result["manifest_sha256"])}</code>'),
                       (_("Signing key"), f'<code translate="no">{esc(result["key_fingerprint"])}</code> '
                                          f'<code translate="no" id="public-key" class="detail">{esc(result["public_key"])}</code>')])
        body += table([_("File"), _("Bytes")], [[f'<code translate="no">{esc(x["name"])}</code>', esc(x["bytes"])]
                                                for x in result["files"]])
        check = f"edgectl verify export-{int(result['export'])}"
        body += (f'<section class="card" id="download"><p>{esc(_(NOTE_ONCE))}</p>'
                 + form(ctx, f"/desk/exports/{result['export']}/download", button(_("Download the export (ZIP)")))
                 + f'<p class="hint">{esc(_(CHECK_IT))}</p><pre translate="no" id="verify-line">{esc(check)}</pre>'
                 + "</section>")
        return self.desk.render(ctx, _("Signed export"), body)

    async def download(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        export_id = int(request.match_info["id"])
        made = self.made.get(export_id)
        if made is None or made[0] != ctx.account:
            return self.desk.render(ctx, _("Signed export"), message("error", _(
                "export {id} is not one you made here").format(id=export_id)), status=404)
        ledger = self.downloads[export_id]
        if ledger.taken() or export_id in self.downloading:
            return self.desk.render(ctx, _("Signed export"), message("error", _(
                "export {id} was downloaded already; a further copy needs a new request").format(id=export_id)),
                status=409)
        self.downloading.add(export_id)   # taken once its clips or the whole ZIP went out (issues 45, 56)
        try:
            files = zip_order(made[1]["files"], ledger.clips)
            receipt = await self._receipt(ctx, export_id)
            if receipt is not None and RECEIPT not in {f["name"] for f in files}:
                files = [{"name": RECEIPT, "bytes": len(receipt), "data": receipt}, *files]
            return await self._send_zip(request, ctx, export_id, files, ledger)
        finally:
            self.downloading.discard(export_id)

    async def _receipt(self, ctx: Ctx, export_id: int) -> bytes | None:
        """The office's receipt for the export (design/0318), waited for up to RECEIPT_WAIT_S while the
        box hears the office (design/0375); None if it has not come."""
        try:
            got = await self.desk.run(ctx, "export.receipt", {"export": export_id, "wait_s": RECEIPT_WAIT_S})
        except Refused:
            return None
        text = (got or {}).get("receipt")
        return text.encode() if isinstance(text, str) else None

    async def _send_zip(self, request: web.Request, ctx: Ctx, export_id: int,
                        files: list[dict[str, Any]], ledger: Download) -> web.StreamResponse:
        try:
            first = await self._piece(ctx, export_id, files[0], 0)
        except Refused as exc:
            return self.desk.render(ctx, _("Signed export"), message("error", str(exc)), status=410)
        response = web.StreamResponse(headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="export-{export_id}.zip"', "Cache-Control": "no-store"})
        await response.prepare(request)
        sink = ZipSink()
        try:
            with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
                for i, f in enumerate(files):
                    piece = first if i == 0 else await self._piece(ctx, export_id, f, 0)
                    info = zipfile.ZipInfo(f"export-{export_id}/{f['name']}", ZIP_DATE)
                    info.file_size = piece["size"]
                    with z.open(info, "w", force_zip64=piece["size"] > 0x7FFFFFFF) as out:
                        offset = 0
                        while True:
                            data = base64.b64decode(piece["data"])
                            if not data:
                                break
                            out.write(data)
                            offset += len(data)
                            await self._out(response, sink, ledger)
                            if offset >= piece["size"]:
                                break
                            piece = await self._piece(ctx, export_id, f, offset)
                    if offset >= piece["size"]:
                        ledger.file_whole(f["name"])
            await self._out(response, sink, ledger)
            await response.write_eof()
        except (Refused, ConnectionError):
            # broken off (by the box, or the browser went away): the person may try again while it
            # is staged, unless what went out already counts as taken (edged/rules/downloads.py);
            # what did arrive is on the record as export.read
            return response
        ledger.ended = True
        return response

    async def _piece(self, ctx: Ctx, export_id: int, f: dict[str, Any], offset: int) -> dict[str, Any]:
        """A piece of one of the ZIP's files: read from the box (export.read), or the receipt in hand."""
        if "data" in f:
            data = f["data"][offset:]
            return {"data": base64.b64encode(data).decode(), "size": len(f["data"])}
        got: dict[str, Any] = await self.desk.run(ctx, "export.read", {"export": export_id, "file": f["name"],
                                                                       "offset": offset})
        return got

    @staticmethod
    async def _out(response: web.StreamResponse, sink: ZipSink, ledger: Download) -> None:
        data = sink.take()
        await response.write(data)
        ledger.went_out(len(data))
