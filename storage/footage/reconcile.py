"""Make the catalog and the disk agree after a crash (docs/requirements.md, invariant 3).

Blocking throughout. Only the recent tail is scanned, so start-up stays fast however much
footage there is. The work is in steps of three kinds (design/0091): reads of the catalog,
file work with no catalog access (salvage_rows, walk, salvage_orphans), and short writes
(apply_outcomes, adopt, mark_missing). `reconcile` runs them in turn on one connection; the
daemon's start-up recovery runs the file work and the reads off the catalog writer, so the
writer is held only for the short writes and recording's rows never wait behind a salvage.
The short writes put each recovery on the audit chain in their own transaction (issue 40:
storage/footage/recovery_record.py). over 400 lines on purpose: the steps of one recovery, each
callable apart, read best side by side.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar, cast

from storage import audit
from storage.disk import layout
from storage.footage import intakes, segment_rows, segments as segment_table
from storage.footage.recovery_record import OPEN_WHY, ORPHAN_WHY, RECOVERY, item as _item, recovery_detail
from storage.states.cameras import DISABLED
from storage.catalog import Catalog
from storage.footage.segment_rows import MISSING, QUARANTINED, RECOVERED, WRITING
from storage.time.clock import SYSTEM, Clock
from storage.disk.fsutil import fsync_dir, fsync_file, private_dir
from storage.disk.hashing import sha256_file
from storage.mp4 import cut_to_whole, header_only, scan_media, whole_prefix

log = logging.getLogger(__name__)
T = TypeVar("T")

TAIL_US = 2 * 86_400 * 1_000_000  # look back two days from the newest segment
GONE_NOTE = "file gone at start-up"  # the note of a footage row whose file was not there at start


@dataclass
class Report:
    recovered: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # a header without a picture (issue 79)
    # files stamped after the new run's start, unknown to the catalog and held by nobody: adopted
    # by `adopt_later` once the new run's rows have reached the catalog (design/0059)
    later: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "recovered %d, adopted %d, quarantined %d, missing %d, removed %d (a header without a picture)" % (
            len(self.recovered), len(self.adopted), len(self.quarantined), len(self.missing), len(self.removed))


Expect = Callable[[str, str], None]


def _nothing_expected(_relpath: str, _kind: str) -> None:
    pass


def salvage(data_dir: Path, relpath: str, start_us: int, expect: Expect = _nothing_expected,
            clock: Clock = SYSTEM) -> dict[str, Any] | None:
    """Cut a file back to its last whole fragment, make it durable and describe it.

    Returns the catalog fields, or None when nothing playable is left in it.
    """
    path = data_dir / relpath
    if whole_prefix(path).end != path.stat().st_size:
        expect(relpath, "modified")  # our own truncation, not tampering
    whole = cut_to_whole(path)
    if whole.fragments == 0:
        return None
    fsync_file(path)
    fsync_dir(path.parent)
    try:
        info = scan_media(path)
    except Exception as exc:  # noqa: BLE001 - an unreadable file is quarantined, not fatal
        log.warning("segment %s is unreadable: %s", relpath, exc)
        return None
    if info.frames == 0:
        return None
    return {
        "end_us": start_us + info.duration_us,
        "bytes": whole.end,
        "frames": info.frames,
        "codec": info.codec,
        "width": info.width,
        "height": info.height,
        "audio": int(info.audio),
        "sha256": sha256_file(path),
        "closed_us": clock.now_us(),
    }


def quarantine(data_dir: Path, relpath: str, expect: Expect = _nothing_expected) -> str:
    """Move a file that is not footage aside; it is kept, never deleted."""
    expect(relpath, "moved")
    dest = data_dir / layout.QUARANTINE_DIR / relpath
    private_dir(dest.parent)
    os.replace(data_dir / relpath, dest)
    fsync_dir(dest.parent)
    return str(dest.relative_to(data_dir))


REMOVED_NOTE = "held no picture, only its header (a kill as the segment opened): the file removed, on the record"


def set_aside(data_dir: Path, relpath: str, bare: bool, expect: Expect = _nothing_expected) -> str | None:
    """A file with nothing playable in it: quarantined (kept), or, when it is a segment's header and
    nothing else (`bare`: mp4.header_only before any cut), removed: it holds no byte of a picture,
    and one such file a camera at every kill at a boundary filled quarantine/ (issue 79). The
    recovery record names it, its size and its SHA-256. None: removed."""
    if not bare:
        return quarantine(data_dir, relpath, expect)
    expect(relpath, "deleted")
    os.unlink(data_dir / relpath)
    fsync_dir((data_dir / relpath).parent)
    return None


@dataclass
class Outcome:
    """What the file work found for one segment left open; the catalog is told separately."""

    row: dict[str, Any]
    fields: dict[str, Any] | None = None   # recovered: the catalog fields
    moved: str | None = None               # quarantined: where to (None with no fields: removed, a bare header)
    absent: bool = False                   # the file is not at its path
    size: int = 0                          # its bytes before it was cut back or moved (the record's "how much")
    sha256: str | None = None              # a removed header's, for the record


def salvage_rows(data_dir: Path, rows: list[dict[str, Any]], expect: Expect = _nothing_expected,
                 clock: Clock = SYSTEM) -> list[Outcome]:
    """The file work of recovery (cut, fsync, scan, hash, quarantine): no catalog access, so it
    can run on any thread while recording and the catalog go on (design/0025)."""
    out = []
    for row in rows:
        relpath = row["path"]
        if not (data_dir / relpath).exists():
            out.append(Outcome(row, absent=True))
            continue
        size = (data_dir / relpath).stat().st_size
        bare = header_only(data_dir / relpath)
        digest = sha256_file(data_dir / relpath) if bare else None
        fields = salvage(data_dir, relpath, row["start_us"], expect, clock)
        out.append(Outcome(row, fields, size=size) if fields is not None else
                   Outcome(row, moved=set_aside(data_dir, relpath, bare, expect), size=size, sha256=digest))
    return out


def apply_outcomes(catalog: Catalog, outcomes: list[Outcome], report: Report,
                   absent: str = "file never reached the disk") -> None:
    db = catalog.db
    with db.atomic():
        for o in outcomes:
            relpath = o.row["path"]
            if o.absent:
                if o.row["state"] != MISSING:
                    segment_rows.set_state(db, o.row["id"], MISSING, absent)
                    report.missing.append(relpath)
            elif o.fields is None and o.moved is None:  # a bare header: not footage, and no file now
                segment_rows.set_state(db, o.row["id"], QUARANTINED, REMOVED_NOTE)
                report.removed.append(relpath)
            elif o.fields is None:
                segment_rows.set_state(db, o.row["id"], QUARANTINED, "no whole fragment; moved to " + str(o.moved))
                report.quarantined.append(relpath)
            else:
                segment_rows.close(db, relpath, {**o.fields, "note": "recovered after a crash"}, state=RECOVERED)
                report.recovered.append(relpath)
        done = [_item(o.row["path"], o.size, o.fields, o.moved, sha256=o.sha256) for o in outcomes if not o.absent]
        if done:  # in the same transaction as the rows: the recovery is on the record or did not happen
            audit.append(db, "edged", RECOVERY, recovery_detail(OPEN_WHY, done))


def recover_open(catalog: Catalog, data_dir: Path, rows: list[dict[str, Any]], report: Report,
                 expect: Expect = _nothing_expected, absent: str = "file never reached the disk") -> None:
    """Close segments left `writing` by a crash of the daemon or of a recorder worker (or
    stranded by a disk that went away and came back)."""
    apply_outcomes(catalog, salvage_rows(data_dir, rows, expect, catalog.clock), report, absent)


NICE = 10


def lower_priority() -> bool:
    """This thread at nice +10; a refusal (a seccomp filter without setpriority) is said in the
    log, not swallowed: recovery then competes with the cameras at full priority (issue 27)."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, NICE)
        # read back from the kernel: the boot test checks this line under the real unit's filter
        log.info("crash recovery thread %d runs at nice %+d", tid, os.getpriority(os.PRIO_PROCESS, tid))
        return True
    except OSError as exc:
        log.warning("crash recovery runs at normal CPU priority: setpriority(nice %+d) was refused (%s); the unit's "
                    "SystemCallFilter must allow setpriority (systemd/edged.service)", NICE, exc.strerror or exc)
        return False


def _settle(result: asyncio.Future[T], exc: BaseException | None, value: T | None) -> None:
    """On the loop: hand in_background's outcome to its awaiting task (unless it gave up)."""
    if result.done():
        return
    if exc is not None:
        result.set_exception(exc)
    else:
        result.set_result(cast(T, value))


async def in_background(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking recovery work on a thread of its own at a lower CPU priority (nice +10,
    for this thread only), so hashing and scanning what a crash left behind does not slow
    the camera threads that have just started recording again (design/0025)."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        lower_priority()
        try:
            value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            # bound now: Python unbinds `exc` when the except block ends, before the loop runs this
            loop.call_soon_threadsafe(_settle, result, exc, None)
        else:
            loop.call_soon_threadsafe(_settle, result, None, value)

    threading.Thread(target=work, name="recovery", daemon=True).start()
    return await result


@dataclass
class Orphan:
    """A file the catalog has not heard of; `fields` once salvaged (to be adopted), else `moved`
    (quarantined, where to)."""

    relpath: str
    parsed: tuple[str, int] | None
    fields: dict[str, Any] | None = None
    moved: str | None = None
    size: int = 0  # its bytes before it was cut back or moved
    sha256: str | None = None  # a removed bare header's (set_aside)


def parse(relpath: str) -> tuple[str, int] | None:
    """(camera, start) of a segment's path; None for a file that is not one (or names no real time)."""
    try:
        return layout.parse_relpath(relpath)
    except ValueError:  # named like a segment, but no such time (a file planted by hand)
        return None


def salvage_orphans(data_dir: Path, orphans: list[Orphan], expect: Expect = _nothing_expected,
                    clock: Clock = SYSTEM) -> list[Orphan]:
    """The file work of adopting (cut, fsync, scan, hash, or quarantine): no catalog access, any
    thread (design/0091). A file gone meanwhile is left out."""
    out = []
    for o in orphans:
        if not (data_dir / o.relpath).exists():
            continue
        o.size = (data_dir / o.relpath).stat().st_size
        bare = o.parsed is not None and header_only(data_dir / o.relpath)
        o.sha256 = sha256_file(data_dir / o.relpath) if bare else None
        o.fields = salvage(data_dir, o.relpath, o.parsed[1], expect, clock) if o.parsed else None
        if o.fields is None:
            o.moved = set_aside(data_dir, o.relpath, bare, expect)
        out.append(o)
    return out


def is_known(catalog: Catalog, relpath: str) -> bool:
    """Whether the catalog has a row for this path (one probe of an index)."""
    where, params = segment_rows.by_path(relpath)
    return next(catalog.db.query(f"SELECT 1 FROM segment_rows WHERE {where} LIMIT 1", params), None) is not None


def adopt(catalog: Catalog, orphans: list[Orphan], report: Report) -> None:
    """Salvaged orphans into the catalog (`recovered`, noted as adopted), in one short
    transaction; one catalogued meanwhile (the new run's row arrived) is left to its row."""
    cameras = {r["id"] for r in catalog.db.query("SELECT id FROM cameras")}
    with catalog.db.atomic():
        done = []
        for o in orphans:
            if o.fields is None:
                (report.quarantined if o.moved is not None else report.removed).append(o.relpath)
                done.append(_item(o.relpath, o.size, None, o.moved, sha256=o.sha256))
                continue
            if is_known(catalog, o.relpath):
                continue
            assert o.parsed is not None  # salvaged: parsed
            camera, start_us = o.parsed
            if camera not in cameras:
                catalog.db.table("cameras").insert(
                    {"id": camera, "name": camera, "url": "", "enabled": 0, "configured": 0, "state": DISABLED})
                cameras.add(camera)
            segment_rows.insert(catalog.db, [{"camera": camera, "start_us": start_us, "path": o.relpath,
                                              "state": RECOVERED, "created_us": o.fields["closed_us"],
                                              "note": "adopted: file was not in the catalog", **o.fields}])
            report.adopted.append(o.relpath)
            done.append(_item(o.relpath, o.size, o.fields, None, adopted=True))
        if done:
            audit.append(catalog.db, "edged", RECOVERY, recovery_detail(ORPHAN_WHY, done))


def later_orphans(catalog: Catalog, data_dir: Path, paths: list[str]) -> list[Orphan]:
    """Of the files `reconcile` put off (`Report.later`), those neither catalogued by now nor
    held open by a process (a read, then a look at /proc: no writes)."""
    parsed = {p: parse(p) for p in paths}
    starts = [v[1] for v in parsed.values() if v]
    known = segment_rows.known_paths_since(catalog.db, min(starts) - TAIL_US) if starts else set()
    held = layout.held_open(data_dir)
    return [Orphan(p, parsed[p]) for p in paths
            if p not in known and p not in held and (data_dir / p).exists()]


def adopt_later(catalog: Catalog, data_dir: Path, paths: list[str], report: Report,
                expect: Expect | None = None) -> Report:
    """The files `reconcile` put off (`Report.later`), some time after recording started: those
    the new run has catalogued meanwhile (their `open` was in a worker's pipe) or holds open
    now are its own; the rest are the last run's, stamped after this run's start because the
    clock went back across the restart, and are adopted (design/0059). The steps in one call;
    the daemon runs them apart, the file work off the writer (edged/daemon/recording/recovery.py)."""
    orphans = salvage_orphans(data_dir, later_orphans(catalog, data_dir, paths), expect or _nothing_expected,
                              catalog.clock)
    adopt(catalog, orphans, report)
    return report


def open_before(catalog: Catalog, before_us: int | None, before_id: int | None = None) -> list[dict[str, Any]]:
    """Segments left `writing` by an earlier run: up to id `before_id` (the newest id before the
    new run wrote any; ids are given in recording order), whatever their stamps; without it,
    those stamped before `before_us` (a run started then owns the rest)."""
    if before_id is not None:
        return [r for r in segment_rows.in_state(catalog.db, WRITING) if r["id"] <= before_id]
    return [r for r in segment_rows.in_state(catalog.db, WRITING) if before_us is None or r["start_us"] < before_us]


def open_rows(catalog: Catalog, before_us: int | None, before_id: int | None = None) -> list[dict[str, Any]]:
    """The rows whose files recovery looks at first: those an earlier run left `writing`
    (`open_before`), and those of the tail marked missing when their disk went away."""
    rows = open_before(catalog, before_us, before_id)
    latest = segment_table.latest_start(catalog.db)
    if latest is not None:
        rows += segment_table.stranded_since(catalog.db, latest - TAIL_US)
    return rows


@dataclass
class Tail:
    """The whole UTC days of the tail: every file in their folders is compared with the catalog.
    `imports`: the folders (`imports/<sha256>`) of the intakes taken in since the tail began and
    not destroyed, whose files are compared with their rows the same way (design/0380)."""

    since_us: int
    since_day: str
    imports: tuple[str, ...] = ()


def tail_of(catalog: Catalog) -> Tail:
    """The tail: from two days before the box's own newest recording (a portable device's claim is
    no reading of the box's clock); imports by their intake, the box's time of taking them in."""
    latest = segment_table.latest_start(catalog.db) or catalog.clock.now_us()
    since_day = time.strftime("%Y-%m-%d", time.gmtime((latest - TAIL_US) / 1e6))
    since_us = int(calendar.timegm(time.strptime(since_day, "%Y-%m-%d"))) * 1_000_000
    return Tail(since_us, since_day, tuple(intakes.folders_since(catalog.db, since_us)))


def walk(data_dir: Path, tail: Tail, known: set[str], report: Report, before_us: int | None = None,
         before_id: int | None = None) -> tuple[set[str], list[Orphan]]:
    """The files in the tail's day folders (`present`), and those the catalog (`known`) has not
    heard of that are the last run's (orphans); the new run's own are skipped, and those only
    `adopt_later` can judge go to `report.later`. No catalog access: any thread."""
    present: set[str] = set()
    orphans: list[Orphan] = []
    held: set[str] | None = None   # read once, when the first file stamped after the start is met
    video = data_dir / layout.VIDEO_DIR
    for cam_dir in sorted(video.iterdir()) if video.is_dir() else []:
        for day in layout.day_dirs(data_dir, cam_dir.name):
            if day.name < tail.since_day:
                continue
            for name in sorted(os.listdir(day)):
                relpath = f"{layout.VIDEO_DIR}/{cam_dir.name}/{day.name}/{name}"
                present.add(relpath)
                if relpath in known:
                    continue
                parsed = parse(relpath)
                if parsed and before_us is not None and parsed[1] >= before_us:
                    if before_id is None:
                        continue  # the new run's own file, its `open` not yet in the catalog
                    held = layout.held_open(data_dir) if held is None else held
                    if relpath not in held:  # held: being written, the new run's own
                        report.later.append(relpath)  # the new run's, its `open` still in a pipe, or the last run's
                    continue
                orphans.append(Orphan(relpath, parsed))
    for folder in tail.imports:  # an intake's files: never orphans (a folder no row names is no footage)
        if (data_dir / folder).is_dir():
            present.update(f"{folder}/{name}" for name in os.listdir(data_dir / folder))
    return present, orphans


def gone(catalog: Catalog, tail: Tail, present: set[str], before_us: int | None = None,
         before_id: int | None = None) -> list[dict[str, Any]]:
    """The footage rows of the tail (the last run's) whose file was not there (a read): the box's
    own, and those of the tail's intakes (whose rows and files were in place before `walk`)."""
    out = []
    imported = [r for folder in tail.imports for r in segment_rows.imported_of(catalog.db, folder, footage=True)]
    for row in imported:
        if row["path"] not in present:
            out.append(row)
    for row in segment_rows.footage_since(catalog.db, tail.since_us):
        mine = row["id"] > before_id if before_id is not None else \
            before_us is not None and row["start_us"] >= before_us
        if row["path"] not in present and not mine:
            out.append(row)
    return out


def mark_missing(catalog: Catalog, rows: list[dict[str, Any]], report: Report, note: str = GONE_NOTE) -> None:
    """These rows `missing`, in one short transaction; a row that stopped being footage meanwhile
    (destroyed, or marked by another pass) is left as it is."""
    with catalog.db.atomic():
        for row in rows:
            if segment_rows.set_state_of_footage(catalog.db, row["id"], MISSING, note):
                report.missing.append(row["path"])


def reconcile(catalog: Catalog, data_dir: Path, expect: Expect | None = None, before_us: int | None = None,
              report: Report | None = None, before_id: int | None = None) -> Report:
    """`before_us`: recording has already started again at this time; its files and rows are
    its own (not orphans, not crash leftovers), so only what is older is reconciled.

    `before_id`: the newest segment id before the new run wrote any. With it, the new run's own
    are told by what is known, not by stamps (design/0059: after the clock went back across a
    restart, the last run's files and rows are stamped after this run's start): rows above the
    id, and files not in the catalog that a process holds open (a worker writing them before
    its `open` reached the catalog); a file stamped after the start that nobody holds is the
    last run's and is adopted.

    The steps in one call, on one connection (blocking). At start-up the daemon runs the same
    steps apart (edged/daemon/recording/recovery.py, design/0091): the reads on a read-only
    connection and the file work on a thread of their own, only the short writes on the writer,
    so recording's rows never wait behind a salvage."""
    report = report or Report()
    expect = expect or _nothing_expected
    apply_outcomes(catalog, salvage_rows(data_dir, open_rows(catalog, before_us, before_id), expect, catalog.clock),
                   report)
    tail = tail_of(catalog)
    present, orphans = walk(data_dir, tail, segment_rows.known_paths_since(catalog.db, tail.since_us), report,
                            before_us, before_id)
    adopt(catalog, salvage_orphans(data_dir, orphans, expect, catalog.clock), report)
    mark_missing(catalog, gone(catalog, tail, present, before_us, before_id), report)
    return report
