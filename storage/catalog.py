"""The SQLite catalog: cameras, segments and gaps.

The daemon is its only writer, through one thread (`CatalogWriter`); edgectl and other
readers open it read-only (WAL lets them read while the daemon writes).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar, cast

import sqlite_utils

from storage.clock import SYSTEM, Clock
from storage.full import is_disk_full
from storage import segment_rows
from storage.migrations import migrations  # the schema (storage/migrations.py); re-exported here
from storage.segment_rows import (  # re-exported ("as": for the type checker): the states' one declaration
    COMPLETE as COMPLETE, FOOTAGE_STATES as FOOTAGE_STATES, MISSING as MISSING, QUARANTINED as QUARANTINED,
    RECOVERED as RECOVERED, SEGMENT_STATES as SEGMENT_STATES, TAMPERED as TAMPERED, WRITING as WRITING)

T = TypeVar("T")

# Segment states: declared in storage/segment_rows.py (design/0033), re-exported here.
STORAGE_LOST_NOTE = "storage lost: "  # the note of a `missing` row whose disk may come back
# The SQL test for footage, on the `segments` view.
FOOTAGE = "state IN ('complete', 'recovered')"
# The columns of a camera's inventory entry (R3.5): a change to one is a change of the camera list.
INVENTORY = ("name", "enabled", "location", "kind", "purpose", "coverage", "manager", "contact", "recording_period",
             "machine_room", "asset_number")


COMPACT_ROWS = "m013_compact_segments"  # the migration after which open_db compacts the file once


def open_db(path: Path) -> sqlite_utils.Database:
    """Open for writing, migrated. Only the catalog writer thread calls this."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA secure_delete=ON")  # purged personal data (R5.7) is zeroed, not left in free space
    compacting = any(m.name == COMPACT_ROWS for m in migrations.pending(db)) and db["segments"].exists()
    log = logging.getLogger(__name__)
    if compacting:  # the first start after the upgrade is minutes long on a big site: say why
        log.warning("catalog: upgrading the segment rows to their compact form (design/0054); a large "
                    "catalog takes minutes (a year of 64 cameras: about 5)")
    began = time.monotonic()
    migrations.apply(db)
    if compacting:  # once, after m013 rewrote the rows: give the old table's pages back (design/0054)
        try:
            db.execute("VACUUM")
        except sqlite3.OperationalError as exc:  # VACUUM needs room for a copy: never a reason not to start
            if not is_disk_full(exc):
                raise
            log.warning("catalog not compacted after its upgrade (%s): its free pages are reused as it grows", exc)
        log.info("catalog: segment rows upgraded in %.0f s", time.monotonic() - began)
    return db


def open_readonly(path: Path) -> sqlite_utils.Database:
    if not path.exists():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    return sqlite_utils.Database(conn)


# No segment is longer than this (segment_length <= 1 h, cut at the next keyframe): the lower
# bound keeps a time-range query an index range scan at a year of footage.
SEGMENT_LOOKBACK_US = 86_400_000_000


def segments_between(db: sqlite_utils.Database, start_us: int, end_us: int, camera: str | None = None,
                     limit: int = 1000, state: str | None = None) -> list[dict[str, Any]]:
    """Segments overlapping [start, end), by camera then time (edgectl segments, export); only
    those in `state` if given (`edgectl segments --state missing`: the full list a
    `footage.missing` record counts, design/0091)."""
    # A host clock correction (design/0059) rides along: `restamped` 1 with `shift_us` (NULL:
    # flagged for a person, its time unknown; `resolved_*`: who resolved the flag, when, why).
    # The range is of the original stamps.
    sql = ("SELECT segments.*, r.segment_id IS NOT NULL AS restamped, r.shift_us AS shift_us,"
           " r.resolved_us AS resolved_us, r.resolved_by AS resolved_by, r.resolved_reason AS resolved_reason"
           " FROM segments"
           " LEFT JOIN restamps r ON r.segment_id = segments.id"
           " WHERE camera IN (SELECT id FROM cameras) AND start_us < ? AND start_us > ?"
           " AND coalesce(end_us, start_us) >= ?")
    params: list[Any] = [end_us, start_us - SEGMENT_LOOKBACK_US, start_us]
    if camera is not None:
        sql += " AND camera = ?"
        params.append(camera)
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    return list(db.query(sql + " ORDER BY camera, start_us LIMIT ?", [*params, limit]))


def alarms(db: sqlite_utils.Database, include_cleared: bool = False) -> list[dict[str, Any]]:
    """Alarm rows by the time raised (the active ones unless `include_cleared`)."""
    where = "" if include_cleared else " WHERE cleared_us IS NULL"
    return list(db.query("SELECT * FROM alarms" + where + " ORDER BY raised_us"))


class Catalog:
    """Plain synchronous operations; run them on the writer thread."""

    def __init__(self, db: sqlite_utils.Database, clock: Clock = SYSTEM):
        self.db = db
        self.clock = clock

    # cameras ------------------------------------------------------------------------
    def sync_cameras(self, cameras: Iterable[dict[str, Any]]) -> None:
        """Make the camera rows match the config; rows of removed cameras stay (footage). A
        camera added, removed, or whose inventory entry changed gets `listed_us` = now."""
        cameras = list(cameras)
        now = self.clock.now_us()
        with self.db.atomic():
            before = {r["id"]: r for r in self.db.query("SELECT * FROM cameras")}
            self.db.execute("UPDATE cameras SET listed_us = ? WHERE configured = 1 AND id NOT IN (SELECT value FROM"
                            " json_each(?))", [now, json.dumps([c["id"] for c in cameras])])
            self.db.execute("UPDATE cameras SET configured = 0")
            for cam in cameras:
                old = before.get(cam["id"])
                changed = old is None or not old["configured"] or any(
                    k in INVENTORY and old.get(k) != v for k, v in cam.items())
                self.db.table("cameras").upsert({**cam, "configured": 1, **({"listed_us": now} if changed else {})},
                                                pk="id")

    def set_camera_state(self, camera: str, state: str, error: str | None, at_us: int,
                         reconnects: int | None = None, last_packet_us: int | None = None,
                         kind: str | None = None) -> None:
        """A state change. The error (its words and its kind) is kept while the camera is not
        recording (a retry does not blank it); the reconnect count and the last frame's time
        come with it (design/0024)."""
        self.db.execute(
            "UPDATE cameras SET state = ?, last_error = CASE WHEN ? = 'recording' THEN NULL"
            " ELSE coalesce(?, last_error) END,"
            " error_kind = CASE WHEN ? = 'recording' THEN NULL WHEN ? IS NOT NULL THEN ? ELSE error_kind END,"
            " state_since_us = CASE WHEN state = ? THEN state_since_us ELSE ? END,"
            " reconnects = coalesce(?, reconnects), last_packet_us = coalesce(?, last_packet_us) WHERE id = ?",
            [state, state, error, state, error, kind, state, at_us, reconnects, last_packet_us, camera],
        )

    def set_camera_stats(self, rows: list[dict[str, Any]]) -> None:
        with self.db.atomic():
            for row in rows:
                self.db.table("cameras").update(row["id"], {k: v for k, v in row.items() if k != "id"})

    def in_one_transaction(self, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
        """Several writes, each `(Catalog.method, args)`, committed together: a recorder
        worker's batch of segment opens and closes costs one commit, not one each."""
        with self.db.atomic():
            for fn, args in calls:
                fn(self, *args)

    # segments -----------------------------------------------------------------------
    def open_segment(self, camera: str, start_us: int, path: str, now_us: int) -> None:
        segment_rows.open_row(self.db, camera, start_us, path, now_us)

    def close_segment(self, path: str, fields: dict[str, Any], state: str = COMPLETE) -> None:
        segment_rows.update(self.db, path, {**fields, "state": state})

    def strand_segment(self, path: str, error: str) -> None:
        """A segment whose file is not at its path (its disk went away): `missing`, never
        `writing` or `complete`; recovered if the disk comes back (storage/reconcile.py)."""
        segment_rows.update(self.db, path, {"state": MISSING, "note": STORAGE_LOST_NOTE + error},
                            f" AND state = {segment_rows.code(WRITING)}")

    def add_segment(self, row: dict[str, Any]) -> None:
        """An adopted file the catalog had not heard of."""
        segment_rows.insert(self.db, [row])

    def segments_in(self, state: str) -> list[dict[str, Any]]:
        return segment_rows.in_state(self.db, state)

    def stranded_since(self, since_us: int) -> list[dict[str, Any]]:
        """Segments marked missing because their disk went away (by the tail, with an index)."""
        return list(self.db.query(
            "SELECT * FROM segments WHERE camera IN (SELECT id FROM cameras) AND start_us >= ? AND state = ?"
            " AND note LIKE ? ORDER BY start_us", [since_us, MISSING, STORAGE_LOST_NOTE + "%"]))

    def known_paths_since(self, since_us: int) -> set[str]:
        return {r["path"] for r in segment_rows.paths_since(self.db, since_us)}

    def footage_since(self, since_us: int) -> list[dict[str, Any]]:
        """id, path, start_us of the footage since `since_us` (by index)."""
        return segment_rows.paths_since(self.db, since_us, footage=True)

    def set_state(self, segment_id: int, state: str, note: str) -> None:
        segment_rows.set_state(self.db, segment_id, state, note)

    def last_end(self, camera: str) -> int | None:
        return self.last_end_before(camera, None)

    def last_end_before(self, camera: str, before_us: int | None) -> int | None:
        """The end of the camera's footage that started before `before_us` (None: any): the segment
        a new one follows. By index, never a scan of the camera's year: the newest such start, then
        the ends of the segments that started up to SEGMENT_LOOKBACK_US before it (none is longer).
        A max(end_us) over every earlier row took 8-19 s on a year of 60 s segments (bench/desk),
        on the writer thread, at every new segment and for each camera at start."""
        cond, params = ("", [camera]) if before_us is None else (" AND start_us < ?", [camera, before_us])
        newest = next(self.db.query("SELECT start_us FROM segments WHERE camera = ?" + cond + " AND " + FOOTAGE
                                    + " ORDER BY start_us DESC LIMIT 1", params), None)
        if newest is None:
            return None
        row = next(self.db.query("SELECT max(end_us) AS e FROM segments WHERE camera = ?" + cond
                                 + " AND start_us >= ? AND " + FOOTAGE,
                                 [*params, newest["start_us"] - SEGMENT_LOOKBACK_US]))
        return cast("int | None", row["e"])

    def clock_history(self) -> tuple[int | None, int | None]:
        """(newest footage's end, last clean stop): a host clock earlier than either went back
        while edged was down (storage/trusted_time.behind_history). Per camera, by index."""
        cams = [r["id"] for r in self.db.query("SELECT id FROM cameras")]
        ends = [e for e in (self.last_end(c) for c in cams) if e is not None]
        row = next(self.db.query("SELECT value FROM node WHERE key = 'stopped_us'"), None)
        stop = int(row["value"]) if row and row["value"] not in (None, "None") else None
        return max(ends, default=None), stop

    def latest_start(self) -> int | None:
        # Per camera, so each max() is one index probe (a plain max() scans the whole index).
        return cast("int | None", next(self.db.query(
            "SELECT max((SELECT max(start_us) FROM segments WHERE camera = cameras.id)) AS s FROM cameras"))["s"])

    def add_gap(self, camera: str, from_us: int, to_us: int, reason: str) -> None:
        self.db.execute(
            "INSERT INTO gaps (camera, from_us, to_us, reason) VALUES (?, ?, ?, ?)", [camera, from_us, to_us, reason]
        )

    # alarms -------------------------------------------------------------------------
    def raise_alarm(self, key: str, kind: str, severity: str, camera: str | None, message: str,
                    detail: dict[str, Any] | None, now_us: int) -> bool:
        """Raise (or refresh) the alarm with this stable key; True if it is new."""
        detail_json = None if detail is None else json.dumps(detail, sort_keys=True)
        cur = self.db.execute(
            "UPDATE alarms SET severity = ?, message = ?, detail = ?, updated_us = ?"
            " WHERE key = ? AND cleared_us IS NULL", [severity, message, detail_json, now_us, key])
        if cur.rowcount:
            return False
        self.db.execute(
            "INSERT INTO alarms (key, kind, severity, camera, message, detail, raised_us, updated_us)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [key, kind, severity, camera, message, detail_json, now_us, now_us])
        return True

    def clear_alarm(self, key: str, now_us: int) -> bool:
        cur = self.db.execute("UPDATE alarms SET cleared_us = ? WHERE key = ? AND cleared_us IS NULL", [now_us, key])
        return bool(cur.rowcount)

    def active_alarms(self) -> list[dict[str, Any]]:
        return alarms(self.db)

    # node ---------------------------------------------------------------------------
    def set_node(self, values: dict[str, Any]) -> None:
        with self.db.atomic():
            for k, v in values.items():
                self.db.execute(
                    "INSERT INTO node (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [k, None if v is None else str(v)],
                )


class CatalogWriter:
    """Runs every catalog write on one dedicated thread, so the event loop never blocks."""

    def __init__(self, path: Path, clock: Clock = SYSTEM):
        self.path = path
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog")
        self._catalog: Catalog | None = None
        self.writes = 0  # progress counter for the watchdog

    async def start(self) -> None:
        self._catalog = await self.run(lambda _c: Catalog(open_db(self.path), self.clock), raw=True)

    async def run(self, fn: Callable[..., T], *args: Any, raw: bool = False) -> T:
        loop = asyncio.get_running_loop()

        def call() -> T:
            result = fn(None if raw else self._catalog, *args)
            self.writes += 1
            return result

        # the caller's context goes along (a refusal made on the thread speaks the asker's language)
        return await loop.run_in_executor(self._pool, contextvars.copy_context().run, call)

    async def close(self) -> None:
        if self._catalog is not None:
            await self.run(lambda c: c.db.conn.close())
        self._pool.shutdown(wait=True)
