"""The `export.run` control operation (R5.5, R6): a copy grant becomes a signed export.

The grant is checked and used on the catalog writer thread (single use: a second attempt is
refused and recorded); the export itself (hashing, remuxing, signing) runs in a thread,
with progress lines to the client. The daemon writes into data_dir/exports/ because it
runs as user edged; the data folder is its alone (design/0017), so `edgectl export` reads the
finished files through `export.read` (the custodian who made the export, for a day) and
writes them where the person wants. Staging folders are destroyed on the record once they
are a day old, by a sweep every hour (R7.4: keep no more copies of footage than needed).

Working copies made for a viewing go through `discard_working_copy`, which destroys them
on the record (R5.5).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Awaitable, Callable

from edged import __version__
from edged import people
from edged.config import Config
from edged.control.operation import Operations, op
from edged.control.protocol import RequestError
from edged.documents import Doc
from edged.documents.export_readme import readme_text
from edged.i18n import _, speaking, zone
from edged.rules import retrieval as rq
from edged.rules.persons import names_of
from edged.rules.redaction import REDACTED, not_installed_refusal, redacted_kinds, staged_read_refusal
from edged.rules.roles import Actor
from storage import audit
from storage.keys import nodecert, nodekey
from storage.people import accounts, retrieval_store
from storage.export import evidence as export
from storage.export.plan import ExportError, gather, plan_camera
from storage.time.clock import wait_or_stop, Clock, SYSTEM
from storage.export.worker import run_clips, run_signing
from storage.catalog import Catalog, CatalogWriter
from storage.disk.fsutil import private_dir
from storage.retention.run import InUse
from storage.redact import installed, job as redact_jobs

log = logging.getLogger(__name__)

STAGING_KEEP_US = 24 * 3600 * 1_000_000
STAGING_SWEEP_S = 3600.0
READ_CHUNK = 4 << 20  # bytes per export.read reply (base64 in one JSON line)


RECEIPT_WAIT_MAX_S = 600.0  # the longest `export.receipt` waits for the office's receipt (design/0375)


class ReceiptWaits:
    """Who waits for the office's receipt of an export (design/0375): `export.receipt` waits on an
    event per manifest SHA-256, which the reporter sets once it kept the receipt beside the export
    (edged/daemon/reporting.py `_keep_receipt`). `online`: whether the office can be heard now."""

    def __init__(self, online: Callable[[], bool] = lambda: False):
        self.online = online
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def expect(self, digest: str) -> asyncio.Event:
        ev = asyncio.Event()
        self._waiting.setdefault(digest, set()).add(ev)
        return ev

    def done(self, digest: str, ev: asyncio.Event) -> None:
        left = self._waiting.get(digest, set())
        left.discard(ev)
        if not left:
            self._waiting.pop(digest, None)

    def kept(self, digest: str) -> None:
        for ev in self._waiting.get(digest, set()):
            ev.set()


class ExportOps(Operations):
    def __init__(self, cfg: Config, writer: CatalogWriter, key: nodekey.NodeKey, in_use: InUse | None = None,
                 clock: Clock = SYSTEM, receipts: ReceiptWaits | None = None):
        self.cfg = cfg
        self.receipts = receipts or ReceiptWaits()
        self.writer = writer
        self.key = key
        self.in_use = InUse() if in_use is None else in_use  # segments being read: retention waits for them
        self.clock = clock

    @op("export.run")
    async def run(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        try:
            grant_id = int(args["grant"])
        except (KeyError, TypeError, ValueError):
            raise RequestError(_('export.run needs {{"grant": N}}, the number of an approved copy grant')) from None
        actor = str(caller)
        recipient = str(args.get("recipient") or "").strip()
        receipt_by = str(args.get("receipt") or "").strip() or None
        use = REDACTED if args.get("redacted") else "copy"   # the staging export a redacted copy is made from
        if use == REDACTED and not await installed.detector_installed():   # before the grant is used (design/0408)
            raise RequestError(not_installed_refusal(installed.PACKAGE))
        started = self.clock.now_us()
        try:
            grant, cameras = await self.writer.run(
                lambda c: self._take(c, grant_id, actor, recipient, started, receipt_by, use))
        except (retrieval_store.GrantError, ExportError) as exc:
            raise RequestError(_("export refused: {why}").format(why=exc)) from None
        reading = [r["path"] for x in cameras for r in x["segments"]]
        try:
            return await self._export(grant_id, grant, cameras, caller, started, receipt_by, use)
        finally:
            self.in_use.remove(reading)

    def _take(self, c: Catalog, grant_id: int, actor: str, recipient: str, started: int,
              receipt_by: str | None, use: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """On the writer thread: use the grant (or record why not), and read the footage it
        covers, in one go; the footage is marked in use before any retention pass can run."""
        grant = retrieval_store.peek_grant(c.db, grant_id)
        if grant is not None and not people.custodian_sees(c.db, actor, grant):
            grant = None   # scope first: use_grant answers "no grant" (issue 56)
        if grant is not None and grant["used_us"] is None and (grant["mode"] == "copy" or use == REDACTED):
            cams = gather(c.db, grant["cameras"], grant["from_us"], grant["to_us"])
            if not any(plan_camera(x["camera"], x["segments"], grant["from_us"], grant["to_us"]).sources
                       for x in cams):  # refuse before spending the grant on nothing
                audit.append(c.db, actor, "export.refused", {"grant": grant_id, "why": "no footage in range"})
                raise ExportError(_("there is no footage for grant {id} ({cameras} in its range); the grant "
                                           "was not used").format(id=grant_id, cameras=", ".join(grant["cameras"])))
            req = retrieval_store.request_row(c.db, grant["request_id"]) or {}
            why = (rq.copy_refusal(req, recipient=recipient, receipt_by=receipt_by)  # the site's [policy]
                   if grant["mode"] == "copy" else None)
            if why is not None:
                audit.append(c.db, actor, "export.refused", {"grant": grant_id, "why": why})
                raise ExportError(_("{why}; the grant was not used").format(why=why))
        watcher = recipient or (grant or {}).get("requester") or ""
        used = people.use_grant(c.db, grant_id, custodian=actor, watcher=watcher, mode=use, now_us=started,
                                titles=self.cfg.policy.titles, units=self.cfg.policy.units,
                                redacted=redacted_kinds(self.cfg.policy.kinds))
        footage = gather(c.db, used["cameras"], used["from_us"], used["to_us"])
        self.in_use.add(r["path"] for x in footage for r in x["segments"])
        return used, footage

    async def _export(self, grant_id: int, grant: dict[str, Any], cameras: list[dict[str, Any]], caller: Actor,
                      started: int, receipt_by: str | None, use: str = "copy") -> dict[str, Any]:
        """Write, sign and record the export of a used grant (hashing and remuxing on a thread,
        progress lines to the client); a failure is recorded against the grant."""
        cfg, key, actor = self.cfg, self.key, str(caller)
        data_dir = Path(cfg.storage.data_dir)
        loop = asyncio.get_running_loop()
        progress = getattr(caller, "progress", None)

        def report(info: dict[str, Any]) -> None:  # on the export thread: hop to the loop
            if progress is not None:
                loop.call_soon_threadsafe(progress, info)

        out = export.export_dir(data_dir, export.EXPORTS_DIR, grant_id, started)
        header = {
            "site": {"id": cfg.site.id, "name": cfg.site.name}, "node": cfg.site.node,
            "software": {"name": "edged", "version": __version__},
            "request": {"id": grant["request_id"], "requester": grant.get("requester"),
                        "approver": grant.get("approver")},
            "grant": {k: grant.get(k) for k in ("id", "mode", "cameras", "from_us", "to_us", "expires_us",
                                                "used_us", "approvers")},
            "custodian": getattr(caller, "account", None) or actor, "recipient": grant.get("watcher"),
            "receipt_signed_by": receipt_by,
        }
        named = await self.writer.run(lambda c: accounts.accounts(c.db))   # the README names people (design/0112)
        header["readme"] = _readme(cfg, header, grant, started, named)
        try:
            private_dir(out.parent)
            chain = await asyncio.to_thread(nodecert.chain_pem, data_dir)  # None until enrolled (design/0097)
            manifest = await asyncio.to_thread(
                export.write_export, data_dir, out, key=key, header=header, cameras=cameras,
                from_us=grant["from_us"], to_us=grant["to_us"], progress=report, clips_writer=run_clips,
                chain=chain, clip_signer=run_signing)
            body = await asyncio.to_thread((out / export.MANIFEST).read_bytes)
        except Exception as exc:  # noqa: BLE001 - any failure (a PyAV error too) is recorded against the grant
            why = str(exc) or type(exc).__name__
            await self.writer.run(lambda c: audit.append(c.db, actor, "export.failed", {"grant": grant_id, "why": why}))
            log.error("export for grant %d failed: %s", grant_id, why)
            raise RequestError(_("export failed: {why}. The grant is spent; once the cause is dealt with, "
                                 "a new request is needed").format(why=why)) from None
        clips = [c for cam in manifest["cameras"] for c in cam["clips"]]
        digest = hashlib.sha256(body).hexdigest()
        size = sum(c["bytes"] for c in clips)
        detail = {"clips": [{k: c[k] for k in ("file", "sha256", "bytes", "duration_s")} for c in clips],
                  "gaps": sum(len(cam["gaps"]) for cam in manifest["cameras"]), "recipient": header["recipient"],
                  "receipt_signed_by": receipt_by, "key": key.fingerprint, "c2pa": manifest["c2pa"]["made"],
                  **({"redacted": True} if use == REDACTED else {})}   # staged for its redacted copy only
        export_id = await self.writer.run(lambda c: retrieval_store.record_export(
            c.db, grant_id, out_dir=str(out), custodian=actor, now_us=self.clock.now_us(), bytes_=size,
            manifest_sha256=digest, detail=detail))
        await sweep_staging(self.writer, data_dir, keep=out)
        files = await asyncio.to_thread(lambda: [{"name": f.name, "bytes": f.stat().st_size}
                                                 for f in sorted(out.iterdir())])
        return {"export": export_id, "grant": grant_id, "dir": str(out), "files": files,
                "manifest_sha256": digest,
                "bytes": size, "clips": detail["clips"],
                "gaps": [{"camera": cam["camera"], **g} for cam in manifest["cameras"] for g in cam["gaps"]],
                "public_key": key.public_b64, "key_fingerprint": key.fingerprint, "c2pa": manifest["c2pa"],
                "ca": chain[-1] if chain else None}

    @op("export.read")
    async def read(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """A piece of a finished export's file, for the custodian who made it (while it is staged)."""
        try:
            export_id, name, offset = int(args["export"]), str(args["file"]), int(args.get("offset", 0))
        except (KeyError, TypeError, ValueError):
            raise RequestError(_('export.read needs {{"export": N, "file": NAME, "offset": BYTES}}')) from None
        row = await self.writer.run(lambda c: retrieval_store.export_row(c.db, export_id))
        if row is None or row["custodian"] != getattr(caller, "account", None):
            raise RequestError(_("export {id} is not one you made").format(id=export_id))
        folder = Path(row["out_dir"])
        if name != Path(name).name or name.startswith(".") or offset < 0:
            raise RequestError(_("no file {name!r} in export {id}").format(name=name, id=export_id))
        detail = row["detail"] if isinstance(row["detail"], dict) else json.loads(row["detail"] or "{}")
        if detail.get("redacted"):   # nothing but the redacted copy leaves for a citizen (issue 74)
            door = audit.DOOR.get() or {}
            done = await asyncio.to_thread(redact_jobs.released, folder)
            why = staged_read_refusal(detail, name, via=door.get("via"), released=done)
            if why is not None:
                await self.writer.run(lambda c: audit.append(c.db, str(caller), "export.refused", {
                    "export": export_id, "file": name, "why": "staged for a redacted copy"}))
                raise RequestError(why.format(id=export_id))
        piece = await read_piece(folder, name, offset, export_id)
        if offset == 0:  # each file taken from the box is on the record once per copy made (R7)
            await self.writer.run(lambda c: audit.append(c.db, str(caller), "export.read", {
                "export": export_id, "file": name, "bytes": piece["size"]}))
        return piece

    @op("export.receipt")
    async def receipt(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """The office's receipt for a finished export (design/0318, 0375), for the custodian who made
        it: {receipt: its text, or None; online: whether the office is heard now}. With `wait_s`, and
        the office heard, waits up to that long (at most RECEIPT_WAIT_MAX_S) for it to come."""
        try:
            export_id, wait_s = int(args["export"]), max(0.0, min(float(args.get("wait_s", 0)), RECEIPT_WAIT_MAX_S))
        except (KeyError, TypeError, ValueError):
            raise RequestError(_('export.receipt needs {{"export": N, "wait_s": SECONDS}}')) from None
        row = await self.writer.run(lambda c: retrieval_store.export_row(c.db, export_id))
        if row is None or row["custodian"] != getattr(caller, "account", None):
            raise RequestError(_("export {id} is not one you made").format(id=export_id))
        folder, digest = Path(row["out_dir"]), str(row["manifest_sha256"])
        ev = self.receipts.expect(digest)  # before the look: a receipt kept in between still wakes it
        try:
            text = await asyncio.to_thread(_kept_receipt, folder)
            if text is None and wait_s > 0 and self.receipts.online():
                try:
                    await asyncio.wait_for(ev.wait(), wait_s)
                except TimeoutError:
                    pass
                text = await asyncio.to_thread(_kept_receipt, folder)
        finally:
            self.receipts.done(digest, ev)
        if text is not None:  # each file taken from the box is on the record (R7), as export.read records it
            await self.writer.run(lambda c: audit.append(c.db, str(caller), "export.read", {
                "export": export_id, "file": export.RECEIPT, "bytes": len(text.encode())}))
        return {"export": export_id, "receipt": text, "online": self.receipts.online()}


def _kept_receipt(folder: Path) -> str | None:
    """The receipt kept beside the staged export (storage/export/receipt.py), its text; None if none."""
    try:
        fd = os.open(folder / export.RECEIPT, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read(64 << 10).decode("utf-8", "replace")


async def read_piece(folder: Path, name: str, offset: int, export_id: int) -> dict[str, Any]:
    """READ_CHUNK bytes of a staged file from `offset` (never through a link), base64 in a reply."""
    def read() -> tuple[bytes, int]:
        fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            size = os.fstat(fd).st_size
            return os.pread(fd, READ_CHUNK, offset), size
        finally:
            os.close(fd)
    try:
        data, size = await asyncio.to_thread(read)
    except FileNotFoundError:
        if name == export.RECEIPT and folder.is_dir():  # the office's receipt (design/0318) comes after the export
            raise RequestError(_("the office's receipt for export {id} has not come: the box has not reached the "
                                 "office since, or the office has not verified the export's record yet; try again "
                                 "later (without it the export's signing time is not corroborated)").format(
                                     id=export_id)) from None
        raise RequestError(_("export {id} is no longer staged (a day has passed, or the daemon restarted); "
                             "a new request is needed").format(id=export_id)) from None
    return {"data": base64.b64encode(data).decode(), "size": size, "offset": offset}


def staging_sweeper(writer: CatalogWriter, data_dir: Path, clock: Clock = SYSTEM
                    ) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The supervisor's task: staging copies go a day after they were made, on the record."""
    async def run(stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await sweep_staging(writer, data_dir, clock=clock)
            await wait_or_stop(stopping, STAGING_SWEEP_S, clock)
    return run


async def discard_working_copy(writer: CatalogWriter, data_dir: Path, folder: Path, actor: str,
                               why: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Destroy a working copy (a folder under data_dir/working/) on the record (R5.5).

    The viewer calls this when a viewing ends (and the daemon at start for any left behind
    by a crash); the audit record names each file with its size and SHA-256.
    """
    gone = await asyncio.to_thread(export.destroy_working_copy, data_dir, folder)
    await writer.run(lambda c: audit.append(c.db, actor, "copy.destroyed", {**gone, "why": why, **(context or {})}))
    return gone


async def sweep_staging(writer: CatalogWriter, data_dir: Path, keep: Path | None = None,
                        older_than_us: int = STAGING_KEEP_US, working_too: bool = False,
                        clock: Clock = SYSTEM) -> int:
    """Destroy, on the record, export staging folders older than a day (and, at start-up,
    every working copy: no viewing survives a restart). Returns how many went."""
    def stale() -> list[Path]:
        found = []
        now = clock.now_us() / 1e6
        roots = [(data_dir / export.EXPORTS_DIR, older_than_us)]
        if working_too:
            roots.append((data_dir / export.WORKING_DIR, 0))
        for root, age_us in roots:
            if not root.is_dir():
                continue
            for p in root.iterdir():
                if p.is_dir() and p != keep and (now - p.stat().st_mtime) * 1e6 >= age_us:
                    found.append(p)
        return found

    count = 0
    for folder in await asyncio.to_thread(stale):
        working = folder.parent.name == export.WORKING_DIR
        # i18n: a destruction's reason, on the record (the next two lines)
        kind = "working copy left by a viewing that did not end" if working else \
            "export staging copy older than a day (edgectl export copies it out at once)"
        try:
            await discard_working_copy(writer, data_dir, folder, "edged", kind)
            count += 1
        except (ExportError, OSError) as exc:
            log.error("could not destroy %s: %s", folder, exc)
    return count


def _readme(cfg: Config, header: dict[str, Any], grant: dict[str, Any], made_us: int,
            named: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """The export's README.txt in the site's language (edged/documents/export_readme.py)."""
    with speaking(cfg.site.language):
        names = names_of(named or [], cfg.policy.titles, cfg.policy.units)
    doc = Doc(cfg.site.language, zone(cfg.site.timezone), cfg.site.name, cfg.forms, names)
    with speaking(doc.lang):
        return {"language": doc.lang, "text": readme_text(doc, header, grant["from_us"], grant["to_us"], made_us)}
