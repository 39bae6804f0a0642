"""A citizen's redacted copy at the desk (issue 54, design/0232): where the site's [policy.citizen]
redacts, a citizen's grant is never played or exported whole. On the request's page the custodian
prepares the copy (`export.run` with "redacted": the grant used for a staging export that never
leaves the box), scrubs each clip and marks the applicant wherever they move (a drag on the
picture; the copy follows them between marks) and, where faces are hidden, leaves the applicant's
face visible and hides boxes the detector missed (design/0279, edged/viewer/desk/marks.py), makes
the copy (`redact.run`, at idle priority, a progress bar while it works), scrubs it and corrects
the marks if it is wrong (a new copy; only the one released counts), then releases it
(`redact.release`): to the accompanied viewing (seed 000: viewed only) or as the citizen's copy, downloaded once as a ZIP of
the redacted clips with the copy's signed manifest (seed 002). Where the site lists both modes the
custodian chooses one (design/0348). Where the site asks a second person to release the copy
([policy.citizen] release_by_another), the preparer is told why not and by whom, and a custodian or
approver who did not prepare it opens the copy's review page from the request's page (`redact.show`:
who prepared it, its moments to check), plays it and releases it (design/0347). The clips reach the
page through `export.read` and `redact.read` (each on the record), one piece per HTTP range, so a
long clip is never read whole to show it. Over 400 lines on purpose: one copy's pages (the
preparer's, the second person's) share one state, Job, and its routes; split, each half would reach
into the other's."""

from __future__ import annotations

import asyncio
import base64
import zipfile
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from edged.i18n import _
from edged.rules.redaction import NONE, modes_offered, release_refusal, shown
from edged.rules.words import REDACT_WORDS
from edged.viewer.desk import marks
from edged.viewer.desk.app import Desk, Refused, form_of
from edged.viewer.desk.exports import ZipSink
from edged.viewer.desk.page import Ctx, attr, button, esc, facts, form, link, message, radios, table
from storage.redact.release import FILES as SIGNED_FILES

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass
class Job:
    """One prepared copy at this desk: who prepared it, for which request, and how far it is."""
    account: str
    request: int
    use: str                                   # "view" or "copy": what the grant allows
    clips: list[str]
    task: asyncio.Task[Any] | None = None
    fraction: float = 0.0
    made: dict[str, Any] | None = None         # redact.run's answer
    error: str = ""
    released: bool = False
    downloaded: bool = False
    mode: str = "everything"                   # the site's [policy.citizen] redact
    resumed: int | None = None                 # the percent a copy taken up again went on from (design/0277)
    marks: dict[str, str] = field(default_factory=dict)   # clip -> the applicant's marks, as typed (marks.py)
    hides: dict[str, str] = field(default_factory=dict)   # clip -> the boxes hidden, as typed
    offered: tuple[str, ...] = ()              # the modes the site allows, its own first (design/0348)
    prepared_by: str = ""                      # who prepared the copy: this account, or another's (design/0347)
    reviewing: bool = False                    # a second person's page of another's copy, to play and release
    made_us: int | None = None
    released_by: str = ""                      # who released it, where that was another (design/0347)


def add_routes(desk: Desk, r: web.UrlDispatcher) -> None:
    pages = Pages(desk)
    r.add_post("/desk/redact/new", desk.page("redact.run", pages.prepare))
    r.add_get(r"/desk/redact/{export:\d+}", desk.page("redact.run", pages.show))
    r.add_post(r"/desk/redact/{export:\d+}/make", desk.page("redact.run", pages.make))
    r.add_post(r"/desk/redact/{export:\d+}/again", desk.page("redact.run", pages.again))
    r.add_post(r"/desk/redact/{export:\d+}/mode", desk.page("redact.run", pages.choose))
    r.add_get(r"/desk/redact/{export:\d+}/review", desk.page("redact.show", pages.review))
    r.add_get(r"/desk/redact/{export:\d+}/progress", desk.page("redact.run", pages.progress))
    r.add_get(r"/desk/redact/{export:\d+}/original/{file}", desk.page("export.read", pages.original))
    r.add_get(r"/desk/redact/{export:\d+}/copy/{file}", desk.page("redact.read", pages.redacted))
    r.add_post(r"/desk/redact/{export:\d+}/release", desk.page("redact.release", pages.release))
    r.add_post(r"/desk/redact/{export:\d+}/download", desk.page("redact.read", pages.download))


class Pages:
    def __init__(self, desk: Desk):
        self.desk = desk
        self.jobs: dict[tuple[int, str], Job] = {}   # (export id, account) -> its copy at this desk

    def _job(self, request: web.Request, ctx: Ctx) -> tuple[int, Job]:
        export_id = int(request.match_info["export"])
        job = self.jobs.get((export_id, ctx.account))
        if job is None or job.account != ctx.account:
            raise web.HTTPNotFound(text=_("export {id} is not one you made here").format(id=export_id))
        return export_id, job

    async def prepare(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        f = form_of(request)
        try:
            grant, request_id = int(f.get("grant") or 0), int(f.get("request") or 0)
        except ValueError:
            raise web.HTTPBadRequest() from None
        try:
            result = await self.desk.run(ctx, "export.run", {
                "grant": grant, "redacted": True, "recipient": str(f.get("recipient") or ""),
                "receipt": str(f.get("receipt") or "")})
        except Refused as exc:
            back = link(f"/desk/requests/{request_id}", _("Back to the request"))
            return self.desk.render(ctx, _("Redacted copy"), message("error", str(exc)) + f"<p>{back}</p>", status=422)
        clips = [c["file"] for c in result["clips"]]
        try:
            req = await self.desk.run(ctx, "request.show", {"id": request_id})
        except Refused:
            req = {}
        g = req.get("grant") or {}
        # what the copy is released for is the grant's: a viewing's copy is never offered for download
        use = "copy" if g.get("id") == result["grant"] and g.get("mode") == "copy" else "view"
        kind = str(req.get("kind") or "")
        rules = self.desk.cfg.policy.kinds.get(kind)
        mode = shown(kind, rules).redact if rules is not None else "everything"
        self.jobs[(result["export"], ctx.account)] = Job(ctx.account, request_id, use, clips,
                                                         mode=mode if mode != NONE else "everything",
                                                         offered=modes_offered(rules), prepared_by=ctx.account)
        raise web.HTTPSeeOther(f"/desk/redact/{result['export']}")

    async def show(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        export_id, job = self._job(request, ctx)
        back = link(f"/desk/requests/{job.request}", _("Back to the request"))
        body = f"<p>{back}</p>"
        if job.task is not None and not job.task.done():
            label = _("Making the redacted copy at low priority: recording goes first.")
            going = _("Going on from {pct}%: the work saved before it stopped is kept.")
            known = job.resumed is not None
            body += (f'<section class="card" id="making"><p>{esc(label)}</p>'
                     f'<p id="redact-resumed" data-text="{attr(going)}"{"" if known else " hidden"}>'
                     f'{esc(going.format(pct=job.resumed)) if known else ""}</p>'
                     f'<progress id="redact-progress" max="1" value="{job.fraction:.3f}" '
                     f'data-poll="/desk/redact/{export_id}/progress"></progress></section>')
            return self.desk.render(ctx, _("Redacted copy"), body)
        await self._released_by_another(ctx, export_id, job)
        if job.error:
            body += message("error", job.error)
        if job.made is not None:
            body += self._made(ctx, export_id, job)
        if not job.released:
            body += self._mark_form(ctx, export_id, job)
        return self.desk.render(ctx, _("Redacted copy"), body)

    def _mark_form(self, ctx: Ctx, export_id: int, job: Job) -> str:
        heading = _("Mark the applicant") if job.made is None else _("Correct the marks")
        hint = (_("Scrub each clip and drag a box around the applicant wherever they move: each box is a mark at that "
                  "moment, and the copy follows them by the picture from mark to mark (in a straight line where it "
                  "loses them: check those moments). Everything outside the region is filled in solid on every "
                  "frame.") if job.mode == "everything" else
                _("The detector finds the faces and hides each one. Scrub each clip and drag a box around the "
                  "applicant to leave their face visible, and with \"Hide a box\" cover a face it missed."))
        parts = [marks.figure(i, f"/desk/redact/{export_id}/original/{clip}", job.mode, job.marks.get(clip, ""),
                              job.hides.get(clip, "")) for i, clip in enumerate(job.clips)]
        return (self._mode_form(ctx, export_id, job)
                + f'<section class="card" id="mark"><h2>{esc(heading)}</h2><p class="hint">{esc(hint)}</p>'
                + form(ctx, f"/desk/redact/{export_id}/make", "".join(parts) + button(_("Make the redacted copy")))
                + "</section>")

    @staticmethod
    def _mode_form(ctx: Ctx, export_id: int, job: Job) -> str:
        """Where the site allows both modes (design/0348): the choice, the site's own first; else nothing."""
        if len(job.offered) < 2:
            return ""
        legend, heading = _("What the copy hides"), _("How to hide")
        hint = _("The site allows either; the marks typed are kept when you change it.")
        options = [(m, _(REDACT_WORDS[m])) for m in job.offered]
        return (f'<section class="card" id="redact-mode"><h2>{esc(heading)}</h2>'
                + form(ctx, f"/desk/redact/{export_id}/mode", radios("mode", options, job.mode, legend, hint)
                       + button(_("Hide this way"), cls="secondary")) + "</section>")

    async def choose(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The mode chosen where the site allows both (design/0348); redact.run refuses any other."""
        export_id, job = self._job(request, ctx)
        mode = str(form_of(request).get("mode") or "")
        if mode in job.offered and not job.released and (job.task is None or job.task.done()):
            job.mode, job.error = mode, ""
        raise web.HTTPSeeOther(f"/desk/redact/{export_id}")

    def _made(self, ctx: Ctx, export_id: int, job: Job) -> str:
        made = job.made or {}
        followed = any("to_check" in c or "applicant_check" in c for c in made.get("clips", []))
        rows = [[esc(i + 1), esc(c.get("frames")), esc(c.get("frames_filled_whole")),
                 *([marks.check_list(c)] if followed else []),
                 esc(_signed_words(c, made, job.released))]
                for i, c in enumerate(made.get("clips", []))]
        videos = "".join(f'<video class="redacted" controls preload="auto" '
                         f'src="/desk/redact/{export_id}/copy/{attr(c["file"])}"></video>' + marks.check_bar(c)
                         for c in made.get("clips", []))
        heading = _("The redacted copy")
        out = (f'<section class="card" id="made"><h2>{esc(heading)}</h2>'
               + message("ok", _("The redacted copy is made. The original footage is unchanged."))
               + (message("ok", _("It went on from {pct}%: the work saved before it stopped was kept.").format(
                   pct=job.resumed)) if job.resumed is not None else "")
               + table([_("Clip"), _("Frames"), _("Frames filled whole"),
                        *([_("Moments to check")] if followed else []),
                        _("Signature")], rows) + videos)
        return out + self._release_part(ctx, export_id, job) + "</section>"

    def _release_part(self, ctx: Ctx, export_id: int, job: Job) -> str:
        """The release, for whom the rule lets release it (rules/redaction.py release_refusal, the
        op's own); to anyone else why not and who may, in the site's words (design/0347); then
        what was released and, for a copy, its download once."""
        made = job.made or {}
        rules = self.desk.cfg.policy.kinds.get("citizen")
        by_another = bool(rules and rules.release_by_another)
        if not job.released:
            why = release_refusal(export_id, prepared_by=job.prepared_by or job.account, by=ctx.account,
                                  roles=ctx.caller.roles, by_another=by_another, moments=0, checked=False,
                                  names=ctx.names)
            if why is not None:
                return message("warn", why) + (message("warn", _(
                    "The request's page offers them the copy to play and release.")) if by_another else "")
            hint = (_("Play the copy through and check that nobody but the applicant can be made out; if not, mark "
                      "again below.") if not job.reviewing else
                    _("Play the copy through and check that nobody but the applicant can be made out; if someone "
                      "else can, do not release it: tell {who}, who prepared it, to correct it.").format(
                        who=ctx.who(job.prepared_by)))
            what = _("Release it for the accompanied viewing") if job.use == "view" else _("Release it as the copy")
            said = _("I played each moment to check and nobody but the applicant can be made out")
            looked = (f'<label><input type="checkbox" name="checked" value="yes" required> {esc(said)}</label>'
                      if any(marks.moments(c) for c in made.get("clips", [])) else "")
            return (f'<p class="hint">{esc(hint)}</p>'
                    + form(ctx, f"/desk/redact/{export_id}/release", looked + button(what)))
        if job.released_by and job.released_by != ctx.account:
            return message("ok", _("{who} released the copy; they show it or hand it over.").format(
                who=ctx.who(job.released_by)))
        if job.use == "view":
            return message("ok", _("Released for the accompanied viewing: show the copy above to the applicant. "
                                   "It is not handed over and no copy leaves the recorder."))
        if not job.downloaded:
            return ('<section id="download">' + message("ok", _("Released as the copy.")) +
                    form(ctx, f"/desk/redact/{export_id}/download", button(_("Download the redacted copy (ZIP)")))
                    + "</section>")
        return message("ok", _("The redacted copy was downloaded."))

    async def make(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        export_id, job = self._job(request, ctx)
        f = form_of(request)
        marked: dict[str, list[Any]] = {}
        hidden: dict[str, list[Any]] = {}
        errors = []
        for i, clip in enumerate(job.clips):   # every clip's lines kept as typed, the first wrong one said
            job.marks[clip] = str(f.get(f"marks-{i}") or "").strip()
            job.hides[clip] = str(f.get(f"hide-{i}") or "").strip()
            got = marks.read(job.marks[clip], job.hides[clip], need_mark=job.mode == "everything")
            errors += [got.error] if got.error else []
            marked[clip] = got.marks
            if got.hide:
                hidden[clip] = got.hide
        if errors:
            job.error = errors[0]
            raise web.HTTPSeeOther(f"/desk/redact/{export_id}")
        if job.task is not None and not job.task.done():
            raise web.HTTPSeeOther(f"/desk/redact/{export_id}")
        job.error, job.made, job.fraction, job.resumed = "", None, 0.0, None
        session = {**ctx.caller.session, "must_change": ctx.caller.must_change,
                   "send": lambda line: self._progress(job, line)}

        async def run() -> None:
            answer = await self.desk.viewer.operate("redact.run", {"export": export_id, "mode": job.mode,
                                                                   "marks": marked, "hide": hidden}, session)
            if answer.get("ok"):
                job.made = answer["result"]
            else:
                job.error = str(answer.get("error") or _("refused"))
        job.task = asyncio.get_running_loop().create_task(run())
        raise web.HTTPSeeOther(f"/desk/redact/{export_id}")

    async def again(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The copy of an export this custodian prepared, whose page is gone (the recorder
        restarted): `redact.run` {"again": true} goes on with it from what was saved (design/0277)."""
        export_id = int(request.match_info["export"])
        job = self.jobs.get((export_id, ctx.account))
        if job is not None and not job.reviewing:
            raise web.HTTPSeeOther(f"/desk/redact/{export_id}")
        try:
            request_id = int(form_of(request).get("request") or 0)
            req = await self.desk.run(ctx, "request.show", {"id": request_id})
        except (ValueError, Refused):
            raise web.HTTPNotFound() from None
        if export_id not in [e.get("id") for e in req.get("redacted_exports") or [] if e.get("custodian") == ctx.account]:
            raise web.HTTPNotFound(text=_("export {id} is not one you made here").format(id=export_id))
        use = "copy" if (req.get("grant") or {}).get("mode") == "copy" else "view"
        job = self.jobs[(export_id, ctx.account)] = Job(ctx.account or "", request_id, use, [], prepared_by=ctx.account,
                                                        mode=str(req.get("redacted") or "everything"))
        session = {**ctx.caller.session, "must_change": ctx.caller.must_change,
                   "send": lambda line: self._progress(job, line)}

        async def run() -> None:
            answer = await self.desk.viewer.operate("redact.run", {"export": export_id, "again": True}, session)
            if answer.get("ok"):
                job.made = answer["result"]
                job.clips = [c["file"] for c in job.made.get("clips", [])]
                for clip, asked in (job.made.get("asked") or {}).items():   # the marks again, to correct
                    job.marks[clip], job.hides[clip] = marks.text_of(asked.get("marks", []), asked.get("hide", []))
            else:
                job.error = str(answer.get("error") or _("refused"))
        job.task = asyncio.get_running_loop().create_task(run())
        raise web.HTTPSeeOther(f"/desk/redact/{export_id}")

    @staticmethod
    def _progress(job: Job, line: dict[str, Any]) -> None:
        fraction = (line.get("progress") or {}).get("fraction")
        if isinstance(fraction, (int, float)):
            job.fraction = float(fraction)
            if (line.get("progress") or {}).get("resumed") and job.resumed is None:   # its first line (design/0277)
                job.resumed = int(100 * job.fraction)

    async def progress(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        _id, job = self._job(request, ctx)
        done = job.task is None or job.task.done()
        return web.json_response({"fraction": 1.0 if done else job.fraction, "done": done, "resumed": job.resumed})

    async def original(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        export_id, job = self._job(request, ctx)
        name = request.match_info["file"]
        if name not in job.clips or job.released:
            raise web.HTTPNotFound()
        return await self._ranged(request, ctx, "export.read", {"export": export_id, "file": name})

    async def redacted(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        export_id, job = self._job(request, ctx)
        name = request.match_info["file"]
        if job.made is None or name not in job.clips:
            raise web.HTTPNotFound()
        return await self._ranged(request, ctx, "redact.read", {"export": export_id, "copy": job.made["copy"],
                                                                "file": name})

    async def _ranged(self, request: web.Request, ctx: Ctx, op: str, args: dict[str, Any]) -> web.StreamResponse:
        """One piece of a clip from the byte the browser asks for (a Range request), as 206."""
        start = 0
        rng = request.headers.get("Range", "")
        if rng.startswith("bytes="):
            try:
                start = int(rng[6:].split("-")[0] or 0)
            except ValueError:
                start = 0
        try:
            piece = await self.desk.run(ctx, op, {**args, "offset": start})
        except Refused as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        data, size = base64.b64decode(piece["data"]), int(piece["size"])
        headers = {"Content-Type": "video/mp4", "Accept-Ranges": "bytes", "Cache-Control": "no-store"}
        if start >= size:
            return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        headers["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{size}"
        return web.Response(status=206, body=data, headers=headers)

    async def _released_by_another(self, ctx: Ctx, export_id: int, job: Job) -> None:
        """The preparer's copy released meanwhile by a second person (design/0347): said so on her
        page, which then offers neither the release nor the download (the releaser hands it over)."""
        rules = self.desk.cfg.policy.kinds.get("citizen")
        if job.made is None or job.released or not (rules and rules.release_by_another):
            return
        try:
            now = await self.desk.run(ctx, "redact.show", {"export": export_id})
        except Refused:
            return
        if now.get("released") and now.get("copy") == job.made.get("copy"):
            job.released, job.released_by = True, str(now["released"].get("released_by") or "")
            job.error = ""   # a refusal of her own release before it is moot now

    async def review(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The copy another custodian prepared, for a second person to play and release where the
        site asks one (design/0347): `redact.show` says who prepared it, what it is for and its
        moments to check; the op refuses anyone it is not shown to."""
        export_id = int(request.match_info["export"])
        try:
            shown_ = await self.desk.run(ctx, "redact.show", {"export": export_id})
        except Refused as exc:
            return self.desk.render(ctx, _("Redacted copy"), message("error", str(exc)), status=404)
        old = self.jobs.get((export_id, ctx.account))
        if old is not None and not old.reviewing:   # her own copy: its own page
            raise web.HTTPSeeOther(f"/desk/redact/{export_id}")
        clips = [str(c["file"]) for c in shown_["clips"]]
        job = self.jobs[(export_id, ctx.account)] = Job(
            ctx.account, int(shown_.get("request") or 0), str(shown_["use"]), clips, prepared_by=shown_["prepared_by"],
            made={"copy": shown_["copy"], "clips": shown_["clips"],
                                                       "signed_at_release": shown_.get("signed_at_release")}, mode=str(shown_["mode"]), reviewing=True,
            released=shown_["released"] is not None, made_us=shown_.get("made_us"),
            downloaded=bool(old and old.downloaded), error=old.error if old else "")
        back = link(f"/desk/requests/{job.request}", _("Back to the request")) if job.request else ""
        moments = sum(len(marks.moments(c)) for c in shown_["clips"])
        released = shown_["released"] or {}
        about = facts([(_("Prepared by"), ctx.who(job.prepared_by)), (_("Made at"), ctx.when(job.made_us)),
                       (_("What the copy hides"), _(REDACT_WORDS.get(job.mode, job.mode))),
                       (_("Moments to check"), str(moments)),
                       *([(_("Released by"), ctx.who(str(released.get("released_by") or "")))] if released else [])])
        body = (f"<p>{back}</p>" if back else "") + f'<section class="card" id="review">{about}</section>'
        body += message("error", job.error) if job.error else ""
        return self.desk.render(ctx, _("Redacted copy"), body + self._made(ctx, export_id, job))

    async def release(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        export_id, job = self._job(request, ctx)
        page = f"/desk/redact/{export_id}" + ("/review" if job.reviewing else "")
        if job.made is None:
            raise web.HTTPSeeOther(page)
        try:
            checked = form_of(request).get("checked") == "yes"
            await self.desk.run(ctx, "redact.release", {"export": export_id, "copy": job.made["copy"], "use": job.use,
                                                        **({"checked": True} if checked else {})})
        except Refused as exc:
            job.error = str(exc)
        else:
            job.released, job.error = True, ""
        raise web.HTTPSeeOther(page)

    async def download(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        """The citizen's copy, once, as one ZIP: the redacted clips and, beside them, the copy's own
        manifest signed at its release, its signature and the node's public key (design/0328, 0347:
        `edgectl verify` and the checker verify the folder unzipped and name its original); never
        the original's files."""
        export_id, job = self._job(request, ctx)
        if job.use != "copy" or not job.released or job.downloaded or job.made is None:
            return self.desk.render(ctx, _("Redacted copy"), message("error", _(
                "the redacted copy of export {id} is not offered for download").format(id=export_id)), status=409)
        job.downloaded = True
        # Streamed a piece at a time as the daemon reads it (a clip of minutes is hundreds of MB: not
        # held whole in the desk's memory); zipfile writes to a sink it cannot seek, so each entry
        # carries its sizes after its data.
        response = web.StreamResponse(headers={
            "Content-Type": "application/zip", "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="export-{export_id}-redacted.zip"'})
        await response.prepare(request)
        sink = ZipSink()
        args = {"export": export_id, "copy": job.made["copy"]}
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as z:
            for name in [c["file"] for c in job.made["clips"]] + list(SIGNED_FILES):
                try:   # a copy released before design/0328 has no manifest of its own: its clips only
                    piece = await self.desk.run(ctx, "redact.read", {**args, "file": name, "offset": 0})
                except Refused:
                    if name in SIGNED_FILES:
                        continue
                    raise
                info = zipfile.ZipInfo(f"export-{export_id}-redacted/{name}", ZIP_DATE)
                with z.open(info, "w", force_zip64=True) as entry:
                    offset = 0
                    while True:
                        chunk, size = base64.b64decode(piece["data"]), int(piece["size"])
                        entry.write(chunk)
                        offset += len(chunk)
                        await response.write(sink.take())
                        if not chunk or offset >= size:
                            break
                        piece = await self.desk.run(ctx, "redact.read", {**args, "file": name, "offset": offset})
                await response.write(sink.take())
        await response.write(sink.take())
        await response.write_eof()
        return response


def _signed_words(clip: dict[str, Any], made: dict[str, Any], released: bool) -> str:
    """Whether a clip is signed: a review copy is not, until its release signs it (design/0435)."""
    if clip.get("c2pa") or (released and made.get("signed_at_release")):
        return _("signed by this recorder (C2PA)")
    if made.get("signed_at_release"):
        return _("a review copy, not signed: its release signs it")
    return _("not signed (the recorder is not enrolled)")
