"""A portable camera's recording taken into custody (issue 76, design/0349): `evidence.import`.

edgectl runs as the person, the daemon owns the data: the file comes over the control socket
after the request (server.py `Caller.upload`), once the daemon has checked what it can before a
byte is sent (the device's name, the request, the room above the disk's reserve). It is hashed as it
arrives, kept byte for byte, remuxed in a process of its own at the idle classes, and recorded with
its `evidence.imported` audit record in one transaction (storage/intake/). A refusal at any step
leaves nothing stored. One intake at a time per custodian (design/0404: a custodian's hour-long upload
never holds another's), at most INTAKES_AT_ONCE on the box, each on threads of their own at the idle
CPU and I/O classes: recording, in its worker processes, never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable, Protocol, TypeVar

from edged.config import Config
from edged.control.operation import CatalogReader, Operations, integer, limit_of, op, sees, text
from edged.control.protocol import RequestError
from edged.control.server import Caller
from edged.i18n import N_, _
from edged.rules.roles import Actor
from storage.catalog import CatalogWriter
from storage.footage import intakes as store
from storage.intake.take import MADE, Incoming, Refused, Who, place, run_remux, sweep_staging
from storage import free_text
from storage.names import RULE, is_name, shown
from storage.people import retrieval_store
from storage.redact.idle import lowest_priority
from storage.time.clock import Clock

T = TypeVar("T")
NAME_MAX = 63                      # the one rule's longest name (design/0315), the camera id's too
LIST_DEFAULT = 100                 # `evidence list`: the newest intakes
ROOM_FACTOR = 2                    # the original and the segments remuxed from it take about its size each
INTAKES_AT_ONCE = 4                # intakes under way on the box (threads; each remux up to its worker's memory)
log = logging.getLogger(__name__)
REFUSED = N_("import refused")
WHY = {
    "not_media": N_("{name} is not a media file edged can read (no video or sound in it)"),
    "truncated": N_("{name} is an MP4 whose end is missing (a plain MP4 keeps its index at the end, and "
                    "without it no picture can be placed): copy the whole file again from the device. A "
                    "fragmented MP4 cut short is taken up to its last whole fragment"),
    "too_big": N_("{name} came in larger than it said it was"),
    "times_back": N_("{name} could not be taken in: its times go back after {at} s of the file, as where two "
                     "recordings were joined into one file. Take in each recording as the device wrote it"),
    "unmuxable": N_("{name} could not be taken in: its pictures or sound at {at} s of the file could not be "
                    "copied into footage (the file is damaged there, or written in a way edged cannot keep). The "
                    "original on the device is unchanged; the box's journal has the detail"),
    "remux_failed": N_("{name} could not be taken in: {cause}. The box's journal has the detail"),
    "index": N_("{name} is an MP4 whose index claims more pictures and sound than its bytes can hold: it is "
                "damaged, or made to exhaust the box's memory, and was not read. Copy the file again from the "
                "device"),
}

CAUSE = {   # what of the media worker that reads the file failed (storage/intake/take.py `Refused.cause`)
    "gone": N_("the media worker that reads it could not be reached (is edged-media's socket running?)"),
    "timeout": N_("reading it took longer than an hour, and was stopped"),
    "crashed": N_("the media worker that reads it stopped on it, as a damaged file can make it"),
    "answer": N_("the media worker's answer was not one edged accepts"),
}


def refusal(exc: Refused, name: str) -> str:
    """What a person is told of a refused file, in their language: the device's file and what is wrong with
    it, never the worker's words (they name the box's staging folder: the journal has them)."""
    why = WHY.get(exc.kind) or WHY["remux_failed"]   # a kind the worker made up: a failed read
    at = "?" if exc.at_us is None else f"{exc.at_us / 1_000_000:.1f}"
    cause = CAUSE.get(exc.cause) or CAUSE["answer"]
    return _(why).format(name=name, at=at, cause=_(cause))


def said(result: dict[str, Any]) -> list[str]:
    """What of the file is not in its segments, in the asker's words (the intake's row keeps the
    same in storage's English, storage/intake/take.py `note_of`)."""
    lines = []
    if not result.get("segments") and result.get("video") in ("h264", "hevc"):   # a raw stream: no times
        lines.append(_("kept as the original file alone: its {codec} pictures carry no times of their own (a raw "
                       "stream, as some recorders export) or no keyframe, so none can be placed as footage; edged "
                       "never makes times up").format(codec=result["video"]))
    elif not result.get("segments"):
        lines.append(_("kept as the original file alone: its video ({codec}) is not H.264 or H.265, and edged "
                       "never re-encodes evidence").format(codec=result.get("video") or _("none")))
    if result.get("sound_left"):
        lines.append(_("its sound ({codec}) is not AAC or G.711: it is in the original alone").format(
            codec=result["sound_left"]))
    if result.get("truncated"):
        lines.append(_("the file's end is missing: its {n} whole fragments were remuxed, the rest is in the "
                       "original alone").format(n=result.get("whole_fragments")))
    return lines


class IntakePart(Protocol):
    """What an intake needs of the retention runner (edged/daemon/retention_runner.py): the config
    in force, the clock, and the data disk's free space (its one reader, design/0069)."""

    @property
    def cfg(self) -> Config: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def free(self) -> Any: ...


def _when(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def refused(why: str) -> RequestError:
    return RequestError(_("{refused}: {why}. Nothing was kept.").format(refused=_(REFUSED), why=why.rstrip(".")))


class EvidenceOps(Operations):
    def __init__(self, writer: CatalogWriter, part: IntakePart, reader: CatalogReader):
        self.writer = writer
        self.part = part
        self.reader = reader
        self._mine: dict[str, asyncio.Lock] = {}   # one intake at a time per custodian (design/0404)
        self._box = asyncio.Semaphore(INTAKES_AT_ONCE)
        self._enter = asyncio.Lock()   # the room's check, the staging sweep and a new staging folder, together
        self._staging: set[str] = set()   # the staging folders of the intakes under way: never swept
        self._reserved = 0             # the room they will take (ROOM_FACTOR times their size)
        self._hashes: set[str] = set()   # the files under way: the same file twice at once is one intake
        # its own threads, lowered once to the idle CPU and I/O classes (both are per thread on Linux),
        # never a shared pool's
        self._thread = ThreadPoolExecutor(max_workers=INTAKES_AT_ONCE, thread_name_prefix="intake",
                                          initializer=lowest_priority)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _who(self, args: dict[str, Any], caller: Actor) -> tuple[Who, int]:
        device, by = text(args, "device"), text(args, "by")
        if not is_name(device) or len(store.camera_id(device)) > NAME_MAX:
            raise refused(_("the device name {name} is not a plain name ({rule}), at most {n} characters").format(
                name=shown(device), rule=RULE, n=NAME_MAX - len(store.CAMERA_PREFIX)))
        if not by:
            raise refused(_("say who recorded it (--by)"))
        try:   # free text under the names rule's spirit (design/0383): any script, nothing that does not print
            free_text.check(by)
        except free_text.BadText as exc:
            raise refused(_("who recorded it, {text}, is not plain text: {why} (at most {n} characters, no line "
                            "break, control or direction mark)").format(
                text=free_text.quoted(by), why=exc, n=free_text.TEXT_MAX)) from None
        size = integer(args.get("bytes"), "bytes") or 0
        if size <= 0:
            raise refused(_("the file is empty"))
        account = caller.account if isinstance(caller, Caller) and caller.account else str(caller)
        return Who(device, by, account, integer(args.get("request"), "request"),
                   free_text.file_name(text(args, "name"))), size

    @op("evidence.list")
    async def evidence_list(self, args: dict[str, Any], caller: Actor) -> list[dict[str, Any]]:
        """The intakes, newest first (at most `limit`, default LIST_DEFAULT): who took each in, what
        its device claims, its original's SHA-256 and, once retention destroyed it, when. The
        caller's cameras only, as every read."""
        limit = limit_of(args, LIST_DEFAULT)
        rows = await self.reader.query(lambda db: store.listing(db, limit=limit))
        return [{**r, "at": _when(r["intake_us"]),
                 "claimed_start": None if r["claimed_start_us"] is None else _when(r["claimed_start_us"]),
                 "destroyed": None if r["destroyed_us"] is None else _when(r["destroyed_us"])}
                for r in rows if sees(caller, [r["camera"]])]

    async def _room(self, size: int, name: str) -> None:
        usage = await asyncio.to_thread(self.part.free.read)
        retention = self.part.cfg.retention
        room = usage.free - retention.reserve_for(usage.total) - self._reserved
        if size * ROOM_FACTOR > room:
            raise refused(_("{name} ({size} bytes) needs about {need} bytes with its segments, and the data disk has "
                            "{room} above its reserve").format(name=name, size=size, need=size * ROOM_FACTOR,
                                                               room=max(0, room)))
        # the site's share for intakes (design/0384): the cameras' footage keeps the rest of the disk, so
        # no intake is paid for by destroying a camera's footage under its minimum
        share, held = retention.intake_room(usage.total), await self.reader.query(store.held_bytes) + self._reserved
        if held + size * ROOM_FACTOR > share:
            raise refused(_("{name} ({size} bytes) needs about {need} bytes with its segments, and the intakes kept "
                            "already hold {held} of the {share} bytes the site gives them ({percent} of the data "
                            "disk, [retention] intake_share)").format(
                name=name, size=size, need=size * ROOM_FACTOR, held=held, share=share,
                percent=f"{retention.intake_share_percent:g}%"))

    @op("evidence.import")
    async def evidence_import(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """A portable device's file into custody: checked, received, hashed, remuxed, recorded."""
        if not isinstance(caller, Caller):
            raise refused(_("a file can only be sent over the control socket"))
        who, size = self._who(args, caller)
        name = free_text.shown(text(args, "name") or "FILE")   # a file name as itself, CJK too (design/0383)
        async with self._mine.setdefault(who.taken_by, asyncio.Lock()), self._box:
            if (n := who.request) is not None and await self.writer.run(
                    lambda c: retrieval_store.request_row(c.db, n)) is None:
                raise refused(_("there is no request {n}").format(n=n))
            staged = await self._staged(size, name)
            try:
                intake, result = await self._taken(staged, caller, size, who, name)
                try:
                    row = await self.writer.run(lambda c: store.record(c.db, intake, str(caller)))
                except BaseException:
                    await self._run(shutil.rmtree, self.part.cfg.storage.data_dir / intake.original.rsplit("/", 1)[0])
                    raise
                finally:
                    self._hashes.discard(intake.sha256)
            finally:   # under way until recorded: its room, its staging folder
                self._staging.discard(staged.folder.name)
                self._reserved -= size * ROOM_FACTOR
        return {**row, "at": _when(row["intake_us"]), "claimed_start": None if row["claimed_start_us"] is None
                else _when(row["claimed_start_us"]), "said": said(result), "truncated": bool(result.get("truncated"))}

    async def _taken(self, staged: Incoming, caller: Caller, size: int, who: Who,
                     name: str) -> tuple[store.Intake, dict[str, Any]]:
        """The file received, remuxed and placed, or refused with nothing kept; its hash stays under
        way (`_hashes`) until the caller has recorded it."""
        try:
            try:
                return await self._receive(staged, caller, size, who, name)
            except Refused as exc:
                if exc.detail or exc.kind not in WHY:   # root's journal: the worker's words, its staging path too
                    log.warning("evidence import of %s by %s: the remux refused it (%s): %s", name, who.taken_by,
                                exc.kind, exc.detail or "a kind of refusal edged does not know")
                raise refused(refusal(exc, name)) from None
        except RequestError as exc:
            log.info("evidence import of %s by %s refused: %s", name, who.taken_by, exc)
            raise
        finally:
            await self._run(staged.discard)

    async def _staged(self, size: int, name: str) -> Incoming:
        """The room checked with what the intakes under way will take, what an intake cut short left
        swept (never a folder under way), and this intake's staging folder: together, so no sweep
        meets a folder not yet counted as under way."""
        data_dir = self.part.cfg.storage.data_dir
        async with self._enter:
            await self._room(size, name)
            await self._run(sweep_staging, data_dir, frozenset(self._staging))
            staged = await self._run(Incoming, data_dir, size)
            self._staging.add(staged.folder.name)
            self._reserved += size * ROOM_FACTOR
        return staged

    async def _receive(self, staged: Incoming, caller: Caller, size: int, who: Who,
                       name: str) -> tuple[store.Intake, dict[str, Any]]:
        async for chunk in caller.upload(size):
            await self._run(staged.write, chunk)
        sha = await self._run(staged.finish)
        if sha in self._hashes:   # the same file being taken in by another intake right now
            raise refused(_("{name} is being taken in right now by another intake (SHA-256 {sha})").format(
                name=name, sha=sha))
        self._hashes.add(sha)   # until recorded (evidence_import) or refused
        try:
            return await self._first(staged, sha, who, name)
        except BaseException:
            self._hashes.discard(sha)
            raise

    async def _first(self, staged: Incoming, sha: str, who: Who, name: str) -> tuple[store.Intake, dict[str, Any]]:
        """The file remuxed and placed, unless it was taken in already."""
        first = await self.writer.run(lambda c: store.first_of(c.db, sha))
        if first is not None:
            raise refused(_("{name} was taken in already: intake {id} on {at} by {by} (SHA-256 {sha})").format(
                name=name, id=first["id"], at=_when(first["intake_us"]), by=first["taken_by"], sha=sha))
        result = await self._run(run_remux, staged.data_dir, staged.path, staged.folder / MADE,
                                 self.part.cfg.storage.segment_length_us)
        return await self._run(place, staged, sha, result, who, self.part.clock.now_us()), result
