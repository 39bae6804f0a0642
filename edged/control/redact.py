"""The `redact.run` and `redact.read` control operations (issue 54; design/0231): a redacted copy
of an export the caller made, made by the redaction worker (storage/redact/worker.py: its own
process, SCHED_IDLE and idle I/O, so recording never waits for it), with progress lines to the
client, each step on the audit chain (`redact.started`, `redact.made` or `redact.failed`,
`redact.read`).

The copy is a folder of its own beside the export in data_dir/exports/
(`<export>.redacted-<mode>-<digest of the job>`: the same request again is the same copy),
swept with the export's staging copies after a day (edged/control/export.py). The original
export's files are read only (the worker checks their SHA-256 before and after). Where the box is
enrolled, each redacted clip is signed as a derivative of its original (design/0173); the node
key stays in the daemon and signs only as many C2PA claims as there are clips.

A job asked again (the daemon restarted or was killed, the client went away) goes on where it
stopped (design/0172, 0277): from the last part of a few seconds saved, shown as such in the
progress lines (`resumed`) and in the answer (`run`: frames kept and made per clip and pass). Only the custodian who made the export asks for its redacted copy and reads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from edged import __version__
from edged.config import Config
from edged.control.export import read_piece
from edged.control.operation import Operations, op
from edged.control.protocol import RequestError
from edged.control.redact_marks import hides_of, marks_of
from edged.documents import Doc
from edged.documents.copy_readme import copy_readme_text
from edged.i18n import _, speaking, zone
from edged.rules import audit_words as words
from edged.rules.persons import names_of
from edged.rules.redaction import mode_refusal, modes_offered, not_installed_refusal, release_refusal
from edged.rules.roles import APPROVER, CUSTODIAN, Actor
from storage import audit
from storage.catalog import CatalogWriter
from storage.export import c2pa_claim
from storage.export.evidence import MANIFEST
from storage.keys import nodecert, nodekey
from storage.media.entry import Proc
from storage.people import accounts, retrieval_store
from storage.time.clock import SYSTEM
from storage.redact import job as jobs
from storage.redact import copies, installed
from storage.redact import release as release_manifest
from storage.redact.plan import COVERED, MODES
from storage.redact.jobfiles import write_json
from storage.redact.worker import run_job

STEPS = {"faces": ("detect", "render"), "everything": ("follow", "render")}   # a clip's steps (storage/redact/job.py)
COPY = re.compile(r"(everything|faces)-[0-9a-f]{12}")   # a copy's name: its mode and its job's digest


def _copy_readme(cfg: Config, original: dict[str, Any], export: int, release: dict[str, Any], now_us: int,
                 named: list[dict[str, Any]]) -> dict[str, str]:
    """The released copy's README.txt in the site's language (edged/documents/copy_readme.py)."""
    with speaking(cfg.site.language):
        names = names_of(named, cfg.policy.titles, cfg.policy.units)
    doc = Doc(cfg.site.language, zone(cfg.site.timezone), cfg.site.name, cfg.forms, names)
    with speaking(doc.lang):
        return {"language": doc.lang, "text": copy_readme_text(doc, original, export, release, now_us)}


def _copy_folder(export_dir: Path, copy: str) -> Path:
    """A redacted copy's folder, beside its export's in data_dir/exports/ (swept with it)."""
    return export_dir.with_name(f"{export_dir.name}.redacted-{copy}")


def _said(name: str, m: dict[str, Any]) -> dict[str, Any]:
    """What the record and the desk say of one redacted clip, from its summary (storage/redact/job.py)."""
    return {"file": name, **{k: m.get(k) for k in ("sha256", "bytes", "original_sha256", "frames", "masks",
                                                   "frames_filled_whole", "faces_followed")},
            **({"least_hidden": m["least_hidden"]} if "least_hidden" in m else {}),   # issue 74
            # how the applicant's region was found: frames of each, moments to check (design/0285, 0326)
            **{k: m[k] for k in ("applicant_followed", "applicant_check", "to_check", "to_check_why",
                                               "strangers_inside") if k in m},
            "c2pa": bool((m.get("c2pa") or {}).get("made"))}


RECORDED_SPANS = 20   # moments to check an audit record names a clip, the first ones (its size: the office's broker)


def _recorded(said: dict[str, Any]) -> dict[str, Any]:
    """A clip as its audit record says it: each list of moments cut to its first ones, `<key>_more` the rest (0538)."""
    out = dict(said)
    for k in ("applicant_check", "to_check", "to_check_why"):
        spans = out.get(k)
        if isinstance(spans, list) and len(spans) > RECORDED_SPANS:
            out[k], out[f"{k}_more"] = spans[:RECORDED_SPANS], len(spans) - RECORDED_SPANS
    return out


class RedactOps(Operations):
    def __init__(self, cfg: Config, writer: CatalogWriter, key: nodekey.NodeKey):
        self.cfg, self.writer, self.key = cfg, writer, key
        # one release of an export's copy at a time: the signing takes seconds, and a second asked meanwhile
        # would find no released.json yet and put a second release on the record; it waits, then finds one
        self._releasing: dict[int, asyncio.Lock] = {}

    async def _export(self, args: dict[str, Any]) -> dict[str, Any]:
        """The export `args` names ({"export": N}), whoever made it; refused in the words a caller
        who did not make it is told."""
        try:
            export_id = int(args["export"])
        except (KeyError, TypeError, ValueError):
            raise RequestError(_('redact needs {{"export": N}}, the number of an export you made')) from None
        row = await self.writer.run(lambda c: retrieval_store.export_row(c.db, export_id))
        if row is None:
            raise RequestError(_("export {id} is not one you made").format(id=export_id))
        return row

    async def _own_export(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        row = await self._export(args)
        if row["custodian"] != getattr(caller, "account", None):
            raise RequestError(_("export {id} is not one you made").format(id=row["id"]))
        return row

    async def _reviewed_export(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """The export whose copy `caller` may look through: one they made, or, where the site's
        [policy.citizen] release_by_another asks a second person (design/0328), any custodian's or
        approver's, to play it before releasing it."""
        rules = self.cfg.policy.kinds.get("citizen")
        roles = set(getattr(caller, "roles", ()) or ())
        if not (rules and rules.release_by_another and roles & {CUSTODIAN, APPROVER}):
            return await self._own_export(args, caller)
        return await self._export(args)

    @op("redact.run")
    async def run(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        row = await self._own_export(args, caller)
        export_id, actor, mode = row["id"], str(caller), str(args.get("mode") or "everything")
        if mode not in MODES:
            raise RequestError(_("unknown redaction mode {mode!r}: everything or faces").format(mode=mode))
        if not await installed.detector_installed():   # a box without edged-redact (design/0408)
            raise RequestError(not_installed_refusal(installed.PACKAGE))
        source = Path(row["out_dir"])
        detail = json.loads(row["detail"] or "{}") if isinstance(row["detail"], str) else (row["detail"] or {})
        clips = {c["file"]: c["sha256"] for c in detail.get("clips", [])}
        if args.get("again") and not args.get("marks"):   # the copy stopped before it was made, as it was asked
            return await self._again(export_id, source, list(clips), actor, caller)
        if detail.get("redacted") and (why := mode_refusal(mode, modes_offered(self.cfg.policy.kinds.get("citizen")))):
            raise RequestError(why)   # a citizen's copy only in a mode the site allows (design/0348)
        marks, hides = marks_of(args.get("marks"), list(clips)), hides_of(args.get("hide"), list(clips))
        if not await asyncio.to_thread(source.is_dir):
            raise RequestError(_("export {id} is no longer staged (a day has passed); a redacted copy is made from "
                                 "a staged export").format(id=export_id))
        job: dict[str, Any] = {"source": str(source), "mode": mode,
               "clips": [{"file": f, "sha256": clips[f], "marks": marks.get(f, []),
                          **({"hide": hides[f]} if f in hides else {})} for f in clips]}
        # the same request again goes on with its job; other marks are another copy (design/0231)
        copy = f"{mode}-{hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()[:12]}"
        folder = _copy_folder(source, copy)
        with speaking(self.cfg.site.language):   # drawn on the review copy, in the site's language (design/0479)
            job["review_mark"] = _("FOR REVIEW - NOT RELEASED")
        # made unsigned, a review copy: only its release signs it (issue 88, design/0435)
        chain = await asyncio.to_thread(nodecert.chain_pem, Path(self.cfg.storage.data_dir))
        if not await asyncio.to_thread((folder / jobs.JOB).exists):
            await asyncio.to_thread(jobs.write_job, folder, job)
        await self.writer.run(lambda c: audit.append(c.db, actor, words.REDACT_STARTED, {
            "export": export_id, "mode": mode, "clips": sorted(clips), "signed": bool(chain)}))
        return await self._make(export_id, folder, copy, mode, list(clips), actor, caller)

    async def _again(self, export_id: int, source: Path, clips: list[str], actor: str,
                     caller: Actor) -> dict[str, Any]:
        """`redact.run` {"export", "again": true}: the newest copy asked of the export, gone on with
        as it was asked (the same marks, the same folder, what it saved kept: design/0277), or
        answered as made if it was. The desk's way back to a copy whose page a restart lost."""
        def newest() -> tuple[Path, dict[str, Any]] | None:
            if not source.is_dir():
                return None
            found = [(p.stat().st_mtime, p.parent) for p in source.parent.glob(f"{source.name}.redacted-*/{jobs.JOB}")]
            for _t, folder in sorted(found, reverse=True):
                return folder, json.loads((folder / jobs.JOB).read_text())
            return None
        got = await asyncio.to_thread(newest)
        if got is None:
            raise RequestError(_("no redacted copy of export {id} was begun; mark the applicant to make one").format(
                id=export_id))
        folder, job = got
        if await asyncio.to_thread((folder / jobs.RELEASED).exists):
            raise RequestError(_("the redacted copy of export {id} was released already").format(id=export_id))
        copy = folder.name.rsplit(".redacted-", 1)[1]
        signs = bool(await asyncio.to_thread(nodecert.chain_pem, Path(self.cfg.storage.data_dir)))
        await self.writer.run(lambda c: audit.append(c.db, actor, words.REDACT_STARTED, {
            "export": export_id, "mode": job["mode"], "clips": sorted(clips), "signed": signs, "again": True}))
        made = await self._make(export_id, folder, copy, job["mode"], [c["file"] for c in job["clips"]], actor, caller)
        # what it was asked with, so the desk can offer the marks again to correct (design/0279)
        return {**made, "asked": {c["file"]: {"marks": c.get("marks", []), "hide": c.get("hide", [])}
                                  for c in job["clips"]}}

    async def _make(self, export_id: int, folder: Path, copy: str, mode: str, clips: list[str], actor: str,
                    caller: Actor) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        progress = getattr(caller, "progress", None)
        steps = STEPS[mode]

        def report(info: dict[str, Any]) -> None:  # on the worker's thread: hop to the loop
            if progress is None or "clip" not in info:
                return
            part = clips.index(info["clip"]) * len(steps) + steps.index(info["step"])
            fraction = (part + info["done"] / max(1, info["total"])) / (len(clips) * len(steps))
            loop.call_soon_threadsafe(progress, {**info, "fraction": min(1.0, fraction)})

        sign = c2pa_claim.guarded(self.key.sign, len(clips))
        workers: list[Proc] = []
        try:
            made = await asyncio.to_thread(run_job, folder, report, sign, workers.append)
        except asyncio.CancelledError:   # the daemon stops: end the worker, the job goes on next time
            for proc in workers:
                proc.kill()
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is recorded; the job goes on when asked again
            why = str(exc) or type(exc).__name__
            refused = COVERED in why   # the applicant's region over most of the picture (issue 74)
            await self.writer.run(lambda c: audit.append(c.db, actor, words.REDACT_FAILED, {
                "export": export_id, "mode": mode, "why": why, **({"refused": True} if refused else {})}))
            if refused:
                raise RequestError(_("the redacted copy was refused, nothing was made: the applicant's region "
                                     "covers most of the picture, so the copy would hide nobody ({why}). Mark a "
                                     "box around the applicant alone").format(why=why)) from None
            raise RequestError(_("the redacted copy failed: {why}. Ask again to go on where it stopped").format(
                why=why)) from None
        summary = [_said(name, m) for name, m in made.items()]
        # this run's work per clip and pass: frames kept from before a stop, frames made now (design/0277)
        ran = {name: m.get("run") or {} for name, m in made.items()}
        resumed = {name: r["render"]["kept"] for name, r in ran.items()
                   if r.get("render", {}).get("made") and r["render"].get("kept")}
        await self.writer.run(lambda c: audit.append(c.db, actor, words.REDACT_MADE, {
            "export": export_id, "mode": mode, "copy": copy, "clips": [_recorded(c) for c in summary],
            **({"resumed_frames": resumed} if resumed else {})}))
        signs = bool(await asyncio.to_thread(nodecert.chain_pem, Path(self.cfg.storage.data_dir)))
        return {"export": export_id, "mode": mode, "copy": copy, "dir": str(folder), "clips": summary,
                "review": True, "signed_at_release": signs,   # what the preparer gets: unsigned (design/0435)
                "files": [{"name": s["file"], "bytes": s["bytes"]} for s in summary], "run": ran}

    @op("redact.release")
    async def release(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """A copy made, scrubbed and released (design/0232): to the accompanied viewing or as the
        citizen's copy (`use`), by the custodian who prepared it or, where the site's
        [policy.citizen] release_by_another asks a second person, only by a custodian or approver
        who did not (rules/redaction.py release_refusal, design/0328). Every release and every
        refusal of one on the record; the release with the clips' SHA-256, who prepared and who
        released it, kept beside the copy (released.json) and in its manifest (design/0328)."""
        row = await self._export(args)
        async with self._releasing.setdefault(int(row["id"]), asyncio.Lock()):
            return await self._release(row, args, caller)

    async def _release(self, row: dict[str, Any], args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        grant = await self.writer.run(lambda c: retrieval_store.peek_grant(c.db, row["grant_id"])) \
            if row.get("grant_id") is not None else None
        # what it is released for is the grant's (as the desk says it): a viewing's copy is never handed over
        copy, use = str(args.get("copy") or ""), str(args.get("use") or (grant or {}).get("mode") or "")
        if not COPY.fullmatch(copy) or use not in ("view", "copy") or (use == "copy" and grant and grant["mode"] != "copy"):
            raise RequestError(_("redact.release needs {{\"export\": N, \"copy\": NAME, \"use\": \"view\" or \"copy\"}}"))
        folder = _copy_folder(Path(row["out_dir"]), copy)

        def made() -> dict[str, dict[str, Any]]:   # every clip of the job made, else none (nothing half released)
            got = {p.name.removesuffix(".summary.json"): json.loads(p.read_text())
                   for p in sorted(folder.glob("*.summary.json"))} if folder.is_dir() else {}
            asked = [c["file"] for c in json.loads((folder / jobs.JOB).read_text())["clips"]] if got else []
            return got if set(asked) <= set(got) else {}
        summaries = await asyncio.to_thread(made)
        prepared_by, by = str(row["custodian"]), str(getattr(caller, "account", None) or caller)
        rules = self.cfg.policy.kinds.get("citizen")
        by_another = bool(rules and rules.release_by_another)
        if by != prepared_by and not (by_another and summaries):   # nothing of another's shown to a third
            raise RequestError(_("export {id} is not one you made").format(id=row["id"]))
        if not summaries:
            raise RequestError(_("the redacted copy of export {id} is not made yet").format(id=row["id"]))
        if await asyncio.to_thread((folder / jobs.RELEASED).exists):
            raise RequestError(_("the redacted copy of export {id} was released already").format(id=row["id"]))
        clips = {name: str(s.get("sha256") or "") for name, s in summaries.items()}
        moments = sum(len(s.get("to_check") or []) for s in summaries.values())
        why = release_refusal(int(row["id"]), prepared_by=prepared_by, by=by,
                              roles=tuple(getattr(caller, "roles", ()) or ()), by_another=by_another,
                              moments=moments, checked=args.get("checked") is True)
        if why is not None:
            await self.writer.run(lambda c: audit.append(c.db, str(caller), words.REDACT_RELEASE_REFUSED, {
                "export": row["id"], "copy": copy, "use": use, "prepared_by": prepared_by, "why": why}))
            raise RequestError(why)
        # signed now, at the release and never before: the preparer held a review copy only (design/0435)
        summaries = await self._sign_clips(row, folder, summaries, prepared_by, by)
        clips = {name: str(s.get("sha256") or "") for name, s in summaries.items()}
        record = {"use": use, "by": by, "prepared_by": prepared_by, "released_by": by, "clips": clips,
                  **({"second_person": True} if by_another else {})}
        await self.writer.run(lambda c: audit.append(c.db, str(caller), words.REDACT_RELEASED, {
            "export": row["id"], "copy": copy, **{k: v for k, v in record.items() if k != "by"},
            **({"moments_checked": moments} if moments else {})}))
        await self._sign_release(row, folder, summaries, {"mode": copy.split("-")[0], **record, "clips": None,
                                                          **({"moments_checked": moments} if moments else {})})
        # kept with the copy: a copy released is never taken up again at the desk (design/0277)
        await asyncio.to_thread(jobs.write_released, folder, record)
        return {"export": row["id"], "copy": copy, "use": use, "clips": sorted(clips), "prepared_by": prepared_by,
                "released_by": by, "files": [{"name": n, "bytes": s["bytes"]} for n, s in summaries.items()]
                + [{"name": n, "bytes": (folder / n).stat().st_size} for n in release_manifest.FILES]}

    async def _sign_clips(self, row: dict[str, Any], folder: Path, summaries: dict[str, dict[str, Any]],
                          prepared_by: str, by: str) -> dict[str, dict[str, Any]]:
        """Each clip of the copy signed as a derivative of its original (design/0173), now that it is
        released (design/0435): the release's word to sign (SIGN, naming who prepared and who
        released it) and the job run again by the worker, which renders again without the review
        copy's watermark what carried it (design/0479) and signs what is made and unsigned.
        The clips' summaries as they are then; on a box not enrolled (nothing to sign with) the
        clips rendered again unsigned, or unchanged where no watermark was drawn (a copy begun before)."""
        chain = await asyncio.to_thread(nodecert.chain_pem, Path(self.cfg.storage.data_dir))
        if not chain and not any(s.get("watermark") for s in summaries.values()):
            return summaries
        how = {"chain": chain, "alg": "ed25519", "context": {
            "site": {"id": self.cfg.site.id, "name": self.cfg.site.name}, "node": self.cfg.site.node,
            "export": row["id"], "prepared_by": prepared_by, "reviewed_by": by,
            "node_key_fingerprint": self.key.fingerprint, "software": {"name": "edged", "version": __version__}}}
        await asyncio.to_thread(write_json, folder / copies.SIGN, how)
        sign = c2pa_claim.guarded(self.key.sign, len(summaries))
        workers: list[Proc] = []
        try:
            made = await asyncio.to_thread(run_job, folder, None, sign, workers.append)
        except asyncio.CancelledError:   # the daemon stops: nothing released, the release asked again signs it
            for proc in workers:
                proc.kill()
            raise
        except Exception as exc:  # noqa: BLE001 - the release is refused, said; asked again it goes on
            raise RequestError(_("the redacted copy of export {id} was not released: signing it failed ({why}); "
                                 "release it again").format(id=row["id"], why=str(exc) or type(exc).__name__)) from None
        return {name: {k: v for k, v in m.items() if k != "run"} for name, m in made.items()}

    async def _sign_release(self, row: dict[str, Any], folder: Path, summaries: dict[str, dict[str, Any]],
                            release: dict[str, Any]) -> None:
        """The copy's own manifest, signed now (storage/redact/release.py, design/0328): its original,
        who prepared and who released it; so the copy written out verifies as an export does; and
        its README.txt in the site's language, its text in the manifest (design/0358)."""
        named = await self.writer.run(lambda c: accounts.accounts(c.db))   # the README names people (design/0112)
        def write() -> None:
            source = Path(row["out_dir"]) / MANIFEST
            body = source.read_bytes() if source.is_file() else b"{}"
            chain = nodecert.chain_pem(Path(self.cfg.storage.data_dir))
            now_us = SYSTEM.now_us()
            readme = _copy_readme(self.cfg, json.loads(body), int(row["id"]), release, now_us, named)
            doc = release_manifest.manifest(
                header={"site": {"id": self.cfg.site.id, "name": self.cfg.site.name}, "node": self.cfg.site.node,
                        "export": row["id"], "software": {"name": "edged", "version": __version__}},
                original=json.loads(body), original_sha256=hashlib.sha256(body).hexdigest(), summaries=summaries,
                release={k: v for k, v in release.items() if k not in ("clips", "by")}, key_b64=self.key.public_b64,
                fingerprint=self.key.fingerprint, now_us=now_us, chain=chain or None, readme=readme)
            release_manifest.write(folder, json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode()
                                   + b"\n", self.key, readme["text"])
        await asyncio.to_thread(write)

    @op("redact.show")
    async def show(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """The redacted copy of an export, made and waiting to be released or released (design/0347):
        who prepared it, the request and grant it is for, what it is released for, its clips and
        their moments to check, and its release. For the custodian who prepared it and, where the
        site asks a second person to release it, for a custodian or approver who did not (to play
        it and release it at the desk). Reads only: nothing goes on the record."""
        row = await self._reviewed_export(args, caller)
        grant = await self.writer.run(lambda c: retrieval_store.peek_grant(c.db, row["grant_id"])) \
            if row.get("grant_id") is not None else None
        made = await asyncio.to_thread(copies.newest_made, Path(row["out_dir"]))
        if made is None:
            raise RequestError(_("the redacted copy of export {id} is not made yet").format(id=row["id"]))
        rules = self.cfg.policy.kinds.get("citizen")
        return {"export": row["id"], "prepared_by": row["custodian"], "grant": (grant or {}).get("id"),
                "request": (grant or {}).get("request_id"), "use": (grant or {}).get("mode") or "copy",
                "copy": made["copy"], "mode": made["copy"].split("-")[0], "made_us": made["made_us"],
                "by_another": bool(rules and rules.release_by_another),
                "signed_at_release": bool(await asyncio.to_thread(nodecert.chain_pem, Path(self.cfg.storage.data_dir))),
                "clips": [_said(name, m) for name, m in made["summaries"].items()],
                "released": None if made["released"] is None else {
                    k: made["released"].get(k) for k in ("use", "prepared_by", "released_by", "second_person")}}

    @op("redact.read")
    async def read(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """A piece of a redacted clip, for the custodian who made its export (while it is staged) or,
        where the site asks a second person to release it, for the one who looks it through and
        releases it (design/0328); once released, its signed manifest too (storage/redact/release.py)."""
        row = await self._reviewed_export(args, caller)
        copy, name = str(args.get("copy") or ""), str(args.get("file") or "")
        try:
            offset = int(args.get("offset", 0))
        except (TypeError, ValueError):
            offset = -1
        signed = name in release_manifest.FILES
        if not COPY.fullmatch(copy) or not (name.endswith(".mp4") or signed) or name != Path(name).name or offset < 0:
            raise RequestError(_("no redacted clip {name!r} of export {id}").format(name=name, id=row["id"]))
        folder = _copy_folder(Path(row["out_dir"]), copy)
        done = await asyncio.to_thread((folder / (jobs.RELEASED if signed else f"{name}.summary.json")).exists)
        if not done:
            raise RequestError(_("the redacted copy of {name} (export {id}) is not made yet").format(
                name=name, id=row["id"]))
        piece = await read_piece(folder, name, offset, row["id"])
        if offset == 0:
            await self.writer.run(lambda c: audit.append(c.db, str(caller), words.REDACT_READ, {
                "export": row["id"], "copy": copy, "file": name, "bytes": piece["size"]}))
        return piece
