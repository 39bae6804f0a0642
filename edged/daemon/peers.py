"""A box fetches its gap back from the site's standby (design/0115).

The standby (`[standby] for`, `[backfill] listen`) serves what it recorded of a box's cameras to
that box only: HTTPS with mutual TLS, each side showing the certificate the office issued it at
enrolment (storage/keys/nodecert.py, design/0097) and trusting only the office's CA it pinned;
the box's certificate must name this site and a box the standby stands in for. It offers each
segment with the hash it got as it was written.

The box (`[backfill] standby`) asks after each gap of its own cameras, fetches the standby's
segments overlapping the gap that it does not hold (whole: the standby's hash proves them), paced
to `[backfill] cap_mbit`, checks each one's size and SHA-256 on arrival, moves it into its video
folder and catalogues it as `source = 'standby'`, on the audit chain (storage/footage/from_standby.py).
Off the recording path: one task, one segment at a time, files written on threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import os
import ssl
import time
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from cryptography import x509

from edged.config import Config
from edged.rules import from_standby as rules
from edged.daemon.office_crl import OfficeCrl
from edged.rules.backfill import pace_s
from recorder.cut import Cut, cut
from storage import node as node_table
from storage.catalog import CatalogWriter
from storage.disk import layout
from storage.disk.fsutil import fsync_dir, private_dir
from storage.footage import from_standby as store
from storage.keys import nodecert, nodekey
from storage.time.clock import SYSTEM, Clock, wait_or_stop

if TYPE_CHECKING:  # aiohttp is imported by a box that has a standby, off the loop (`FromStandby.run`, design/0286)
    from aiohttp import ClientSession

log = logging.getLogger("edged.daemon.peers")
POLL_S = float(os.environ.get("EDGED_PEER_POLL_S", "10"))  # how often a box looks for gaps to ask (tests: less)
TIMEOUT_S = 30.0
CHUNK = 256 * 1024
STATUS_KEY = "from_standby"  # the node row's value: the gap being fetched from the standby, if any
INCOMING = "incoming"  # in the data folder, outside video/: a segment arriving, until its hash is checked


class NotEnrolled(RuntimeError):
    """The box has no certificate from the office yet: peers cannot know it."""


def _files(data_dir: Path) -> tuple[Path, Path, Path]:
    folder = Path(data_dir)
    cert, ca, key = folder / nodecert.CERT_FILE, folder / nodecert.CA_FILE, folder / nodekey.KEY_FILE
    if nodecert.node_chain(folder) is None:
        raise NotEnrolled("this box is not enrolled (no certificate from the office): run `edgectl enrol` "  # i18n: the journal's and another box's (machine to machine)
                          "(docs/guide/failover.md)")
    return cert, ca, key


def server_context(data_dir: Path) -> ssl.SSLContext:
    """The standby's side: its own certificate, and a client certificate from the office's CA required."""
    cert, ca, key = _files(data_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cafile=ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(data_dir: Path) -> ssl.SSLContext:
    """The box's side: its own certificate, the standby's checked against the office's CA. Boxes
    are addressed by IP and named by a URI (edged:site/node), not a DNS name: the name is
    checked after the handshake (`peer_identity`)."""
    cert, ca, key = _files(data_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cafile=ca)
    return ctx


def peer_identity(der: bytes | None, data_dir: Path, now_us: int,
                  crl: x509.CertificateRevocationList | None = None) -> nodecert.Identity:
    """Who the other side's certificate names (DER, as the handshake gave it), proven issued by
    the office's CA this box pinned and not on the office's revocation list `crl`."""
    ca = nodecert.pinned_ca(data_dir)
    if not der or ca is None:
        raise nodecert.CertError("no certificate from the other side")  # i18n: the journal's and another box's (machine to machine)
    return nodecert.check_chain([x509.load_der_x509_certificate(der)], ca, crl, now_us)


# the box --------------------------------------------------------------------------------------------
class FromStandby:
    def __init__(self, cfg: Callable[[], Config], writer: CatalogWriter, data_dir: Path, guard: Any = None,
                 clock: Clock = SYSTEM, poll_s: float = POLL_S, settle_us: int = rules.SETTLE_US,
                 crl: OfficeCrl | None = None):
        self.cfg, self.writer, self.data_dir, self.guard, self.clock = cfg, writer, Path(data_dir), guard, clock
        self.crl = crl if crl is not None else OfficeCrl(self.data_dir)  # the standby is checked against it
        self.poll_s, self.settle_us = poll_s, settle_us
        self.current: dict[str, Any] | None = None  # the gap being fetched (edgectl status)
        self.fetched_bytes = 0
        self.fetched_us = 0   # footage fetched, and how long it took (the speed in the log)
        self.took_s = 0.0

    async def run(self, stopping: asyncio.Event) -> None:
        if self.cfg().backfill.standby is None:
            return
        # edged/daemon/seen_connector.py and the aiohttp it imports, off the loop, once (design/0286)
        await asyncio.to_thread(importlib.import_module, "edged.daemon.seen_connector")
        await self.crl.load()
        while not stopping.is_set():
            try:
                await self.once(stopping)
            except asyncio.CancelledError:
                raise
            except NotEnrolled as exc:
                log.error("cannot fetch gaps from the standby: %s", exc)
            except Exception as exc:  # noqa: BLE001 - never ends the daemon; tried again next round
                log.warning("fetching gaps from the standby: %s", exc)
            if await wait_or_stop(stopping, self.poll_s, self.clock):
                return

    async def once(self, stopping: asyncio.Event) -> int:
        """Ask the standby for every gap due; the number of segments fetched."""
        cfg = self.cfg()
        if cfg.backfill.standby is None:
            return 0
        now = self.clock.now_us()
        mine = {c.id for c in cfg.cameras if c.box is None}
        gaps = rules.next_gaps(await self.writer.run(lambda c: store.open_gaps(c.db, now - rules.ASK_FOR_US)),
                               mine, now, self.settle_us)
        if not gaps:
            return 0
        from aiohttp import ClientSession, ClientTimeout

        from edged.daemon.seen_connector import SeenConnector  # `run` imported it off the loop: a look-up

        ctx = await asyncio.to_thread(client_context, self.data_dir)
        base = f"https://{cfg.backfill.standby}"
        total = 0
        async with ClientSession(connector=SeenConnector(ssl=ctx), timeout=ClientTimeout(total=None, sock_read=TIMEOUT_S,
                                                                                        sock_connect=TIMEOUT_S)) as http:
            for gap in gaps:
                if stopping.is_set():
                    break
                try:
                    total += await self._gap(http, base, dict(gap), cfg.backfill.cap_bytes_s, stopping)
                except _Later:
                    break  # the standby is not there now: every gap waits for the next round
        return total

    async def _gap(self, http: ClientSession, base: str, gap: dict[str, Any], cap: int, stopping: asyncio.Event) -> int:
        from aiohttp import ClientError

        cam = gap["camera"]
        try:
            async with http.get(f"{base}/v1/segments", params={"camera": cam, "from_us": str(gap["from_us"]),
                                                                "to_us": str(gap["to_us"])}) as r:
                who = self._standby(http)  # the standby, as the office named it
                if r.status != 200:
                    raise ClientError(f"the standby answered {r.status}: {(await r.text())[:200]}")  # i18n: the journal's and another box's (machine to machine)
                got = await r.json()
        except (ClientError, OSError, asyncio.TimeoutError, nodecert.CertError) as exc:
            log.warning("camera %s: the standby (%s) was not asked for gap %d: %s; asked again later", cam,
                        base, gap["id"], exc)
            raise _Later(str(exc)) from None
        if who.site != self.cfg().site.id:
            log.error("the standby at %s is %s, of another site: nothing fetched", base, who.name)
            return 0
        offered = [o for o in got.get("segments", []) if isinstance(o, dict)]
        held = await self.writer.run(lambda c: store.held(c.db, cam, gap["from_us"], gap["to_us"]))
        want = rules.to_fetch(gap["from_us"], gap["to_us"], offered, held)
        self.current = {"camera": cam, "from_us": gap["from_us"], "to_us": gap["to_us"], "standby": who.node,
                        "segments": len(want), "fetched": 0}
        fetched = 0
        try:
            if want:
                await self._publish()
            for seg in want:
                if stopping.is_set():
                    return fetched  # the gap stays unasked: the rest at the next start
                if await self._one(http, base, gap, seg, who.node, cap):
                    fetched += 1
                    self.current["fetched"] = fetched
        finally:
            self.current = None
            if want:
                await self._publish()
        overlapping = sum(1 for o in offered if o["start_us"] < gap["to_us"] and o["end_us"] > gap["from_us"])
        if got.get("writing"):  # the standby still writes some of it (design/0157): the gap is asked again
            log.info("camera %s: the standby still writes %s segments of gap %d: asked again later", cam,
                     got["writing"], gap["id"])
            return fetched
        await self.writer.run(lambda c: store.set_state(c.db, gap["id"], rules.state_after(fetched, overlapping)))
        if fetched:
            log.info("camera %s: %d segments of gap %d fetched from the standby %s (so far %.0f s of footage in %.1f s, "
                     "%.1f times real time)", cam, fetched, gap["id"], who.node, self.fetched_us / 1e6, self.took_s,
                     self.fetched_us / 1e6 / max(self.took_s, 1e-3))
        return fetched

    async def _publish(self) -> None:
        """What `edgectl status` shows while a gap is fetched from the standby (the node row)."""
        value = None if self.current is None else json.dumps(self.current)
        await self.writer.run(lambda c: node_table.set_values(c.db, {STATUS_KEY: value}))

    def _standby(self, http: ClientSession) -> nodecert.Identity:
        """Who the standby is: every connection's certificate must name the same enrolled box."""
        seen = getattr(http.connector, "certs", [])
        names = {peer_identity(der, self.data_dir, self.clock.now_us(), self.crl.crl) for der in seen}
        if len({(i.site, i.node) for i in names}) != 1:
            raise nodecert.CertError("no certificate from the standby" if not names else "the standby's certificate changed")  # i18n: the journal's and another box's (machine to machine)
        return next(iter(names))

    async def _one(self, http: ClientSession, base: str, gap: Mapping[str, Any], seg: Mapping[str, Any], standby: str,
                   cap: int) -> bool:
        cam, start = gap["camera"], int(seg["start_us"])
        rel = layout.segment_relpath(cam, start)
        part = private_dir(self.data_dir / INCOMING) / f"{cam}-{start}.part"
        digest, size, began = hashlib.sha256(), 0, time.monotonic()

        def put(chunk: bytes) -> None:   # hashed as written, on a thread: neither holds up the loop
            digest.update(chunk)
            out.write(chunk)

        out = await asyncio.to_thread(open, part, "wb")
        try:
            async with http.get(f"{base}/v1/segment", params={"camera": cam, "path": seg["path"]}) as r:
                if r.status != 200:
                    log.warning("camera %s: the standby would not hand over %s (%d)", cam, seg["path"], r.status)
                    part.unlink(missing_ok=True)   # closed below
                    return False
                async for chunk in r.content.iter_chunked(CHUNK):
                    await asyncio.to_thread(put, chunk)
                    size += len(chunk)
                    wait = pace_s(size, time.monotonic() - began, cap)
                    if wait > 0:
                        await asyncio.sleep(wait)
            await asyncio.to_thread(os.fsync, out.fileno())
        finally:
            await asyncio.to_thread(out.close)
        why = rules.arrived_ok(seg, digest.hexdigest(), size)
        if why is not None:
            part.unlink(missing_ok=True)
            log.error("camera %s: %s from the standby was not stored: %s", cam, seg["path"], why)
            return False
        kept = await self._lacking(part, cam, seg)
        if kept is None:
            return False
        start, row = kept
        rel = layout.segment_relpath(cam, start)
        dest = self.data_dir / rel
        if await asyncio.to_thread(dest.exists):  # never over a file of the box's own (a row a crash left)
            part.unlink(missing_ok=True)
            log.error("camera %s: %s from the standby was not stored: a file is at %s already", cam, seg["path"], rel)
            return False
        now = self.clock.now_us()
        await self.writer.run(lambda c: store.open_segment(c.db, cam, start, rel, now))
        if self.guard is not None:  # told before the file appears: the tamper watcher knows it is ours
            self.guard.expect(rel, "moved")
            self.guard.opened(rel)

        def move() -> None:
            private_dir(dest.parent)
            os.replace(part, dest)
            fsync_dir(dest.parent)
        await asyncio.to_thread(move)
        if self.guard is not None:
            self.guard.closed(rel)
        await self.writer.run(lambda c: store.close_segment(c.db, gap["id"], cam, rel, row, standby, self.clock.now_us()))
        self.fetched_bytes += size
        self.fetched_us += int(row["end_us"]) - start
        self.took_s += time.monotonic() - began
        return True


    async def _lacking(self, part: Path, cam: str, seg: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Only what the box lacks of a segment that arrived whole (design/0158): all of it, or the
        stretch it lacks cut at the standby's keyframes (`part` replaced by the cut, its row saying
        what it was cut from), or nothing (`part` removed)."""
        start, end = int(seg["start_us"]), int(seg["end_us"])
        held = await self.writer.run(lambda c: store.held(c.db, cam, start, end))
        lack = rules.lacking(start, end, [(h["start_us"], h["end_us"]) for h in held])
        if lack == [(start, end)]:
            return start, {**seg, "start_us": start}
        made = await asyncio.to_thread(_cut_part, part, lack[0][0] - start, lack[0][1] - start) if lack else None
        if made is None:
            part.unlink(missing_ok=True)
            log.info("camera %s: %s from the standby holds nothing this box lacks now: not stored", cam, seg["path"])
            return None
        first = start + made.first_us
        log.info("camera %s: %.1f s of %s from the standby stored (the rest is held already)", cam,
                 (made.end_us - made.first_us) / 1e6, seg["path"])
        return first, {**seg, "start_us": first, "end_us": min(start + made.end_us, lack[0][1], end),
                       "frames": made.frames, "bytes": made.bytes, "sha256": made.sha256,
                       "cut_of": {"sha256": seg["sha256"], "start_us": start, "end_us": end, "bytes": seg["bytes"]}}


def _cut_part(part: Path, from_us: int, to_us: int) -> Cut | None:
    """On a thread: `part` replaced by its cut [from, to) (from its first picture), made durable."""
    import av  # loaded by the cut before it can fail: a look-up

    out = part.with_suffix(".cut")
    try:
        made = cut(part, out, from_us, to_us)
    except (av.error.FFmpegError, OSError) as exc:
        log.error("cutting %s failed: %s", part.name, exc)
        made = None
    if made is None:
        out.unlink(missing_ok=True)
        return None
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(out, part)
    return made


class _Later(Exception):
    """The standby could not be asked now: the gap stays unasked, tried at the next round."""
