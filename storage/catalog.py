"""The SQLite catalog: cameras, segments and gaps.

The daemon is its only writer, through one thread (`CatalogWriter`); edgectl and other
readers open it read-only (WAL lets them read while the daemon writes).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import sqlite_utils
from sqlite_utils import Migrations

from storage import audit, people_store
from storage.clock import SYSTEM, Clock

T = TypeVar("T")

# Segment states, the only place they are named (design/0033). Only `complete` and `recovered`
# are footage (docs/requirements.md, invariant 3); `tampered`: something other than edged changed the file.
WRITING, COMPLETE, RECOVERED, MISSING, QUARANTINED = "writing", "complete", "recovered", "missing", "quarantined"
TAMPERED = "tampered"
SEGMENT_STATES = (WRITING, COMPLETE, RECOVERED, MISSING, QUARANTINED, TAMPERED)
FOOTAGE_STATES = (COMPLETE, RECOVERED)
STORAGE_LOST_NOTE = "storage lost: "  # the note of a `missing` row whose disk may come back
# The SQL test for footage; the same text as the partial index segments_footage_start.
FOOTAGE = "state IN ('complete', 'recovered')"

migrations = Migrations("edged.catalog")
# The columns of a camera's inventory entry (R3.5): a change to one is a change of the camera list.
INVENTORY = ("name", "enabled", "location", "kind", "purpose", "coverage", "manager", "contact", "recording_period",
             "machine_room", "asset_number")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE cameras (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            url TEXT NOT NULL,              -- redacted: never a password
            enabled INTEGER NOT NULL,
            audio_expected INTEGER NOT NULL DEFAULT 0,
            location TEXT NOT NULL DEFAULT '',
            configured INTEGER NOT NULL DEFAULT 1,  -- 0 once removed from the config
            state TEXT NOT NULL DEFAULT 'connecting',
            state_since_us INTEGER,
            last_error TEXT,
            last_packet_us INTEGER,
            fps REAL, bitrate INTEGER, codec TEXT, width INTEGER, height INTEGER, audio INTEGER,
            lateness_us INTEGER,            -- packet arrival minus its mapped wall time
            reconnects INTEGER NOT NULL DEFAULT 0,
            ts_fixes INTEGER NOT NULL DEFAULT 0,
            updated_us INTEGER
        );
        CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL REFERENCES cameras(id),
            start_us INTEGER NOT NULL,
            end_us INTEGER,
            path TEXT NOT NULL UNIQUE,       -- relative to the data folder
            bytes INTEGER,
            frames INTEGER,
            codec TEXT, width INTEGER, height INTEGER, audio INTEGER,
            sha256 TEXT,
            state TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            closed_us INTEGER,
            note TEXT
        );
        CREATE INDEX segments_camera_start ON segments(camera, start_us);
        CREATE INDEX segments_open ON segments(state) WHERE state = 'writing';
        CREATE TABLE gaps (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL REFERENCES cameras(id),
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX gaps_camera_from ON gaps(camera, from_us);
        CREATE TABLE node (
            key TEXT PRIMARY KEY,
            value TEXT
        );
        """
    )


@migrations()
def m002_retention(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The oldest footage first, for the capacity rule of the retention engine.
        CREATE INDEX segments_footage_start ON segments(start_us) WHERE state IN ('complete', 'recovered');
        -- Rows being destroyed: moved here in the same transaction as their record is written,
        -- removed once the file is unlinked and its folder fsynced. Start-up finishes the rest.
        CREATE TABLE garbage (
            segment_id INTEGER PRIMARY KEY,
            path TEXT NOT NULL
        );
        -- The permanent record of every destruction (R1.6): never deleted.
        CREATE TABLE destructions (
            id INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL,
            camera TEXT NOT NULL,
            start_us INTEGER NOT NULL,
            end_us INTEGER,
            path TEXT NOT NULL,
            bytes INTEGER,
            sha256 TEXT,
            reason TEXT NOT NULL,
            destroyed_us INTEGER NOT NULL,
            pass_id INTEGER NOT NULL
        );
        CREATE INDEX destructions_camera_start ON destructions(camera, start_us);
        CREATE TABLE retention_passes (
            id INTEGER PRIMARY KEY,
            started_us INTEGER NOT NULL,
            finished_us INTEGER,
            destroyed INTEGER NOT NULL DEFAULT 0,
            bytes INTEGER NOT NULL DEFAULT 0,
            free_before INTEGER, free_after INTEGER, reserve INTEGER,
            note TEXT
        );
        CREATE TABLE holds (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,               -- evidence | legal
            cameras TEXT,                     -- JSON list; NULL: every camera
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            reason TEXT NOT NULL,
            case_ref TEXT NOT NULL,
            placed_by TEXT NOT NULL,
            placed_us INTEGER NOT NULL,
            expires_us INTEGER,               -- NULL for a legal hold
            ended_us INTEGER,                 -- released or expired
            ended_how TEXT,                   -- released | expired
            ended_by TEXT,
            end_reason TEXT,
            approved_by TEXT
        );
        CREATE TABLE alarms (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,                -- stable: kind[:camera]; one active row per key
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            camera TEXT,
            message TEXT NOT NULL,
            detail TEXT,                      -- JSON
            raised_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            cleared_us INTEGER
        );
        CREATE UNIQUE INDEX alarms_active ON alarms(key) WHERE cleared_us IS NULL;
        """
    )


@migrations()
def m003_audit_and_maintenance(db: sqlite_utils.Database) -> None:
    audit.ensure_table(db)
    db.executescript(
        """
        CREATE TABLE maintenance (
            id INTEGER PRIMARY KEY,
            reason TEXT NOT NULL,
            began_by TEXT NOT NULL,
            began_us INTEGER NOT NULL,
            backup TEXT,                  -- consistent copy of the catalog taken at the start
            verified INTEGER,             -- recent segments whose hash was checked
            mismatches TEXT,              -- JSON list of paths whose hash did not match
            ended_by TEXT,
            ended_us INTEGER,
            end_note TEXT
        );
        CREATE UNIQUE INDEX maintenance_open ON maintenance((1)) WHERE ended_us IS NULL;
        """
    )


@migrations()
def m004_health(db: sqlite_utils.Database) -> None:
    """Camera health, the camera inventory (R3.5), reference pictures and inspections (R3.1-R3.2)."""
    for col, typ in (("kind", "TEXT NOT NULL DEFAULT 'network'"), ("purpose", "TEXT NOT NULL DEFAULT ''"),
                     ("coverage", "TEXT NOT NULL DEFAULT ''"), ("manager", "TEXT NOT NULL DEFAULT ''"),
                     ("contact", "TEXT NOT NULL DEFAULT ''"), ("keyframe_interval", "REAL"),
                     ("clock_skew_us", "INTEGER"), ("image", "TEXT"), ("health", "TEXT"),
                     ("compliance", "TEXT"), ("compliance_reasons", "TEXT")):
        db.execute(f"ALTER TABLE cameras ADD COLUMN {col} {typ}")
    db.executescript(
        """
        CREATE TABLE camera_references (
            camera TEXT PRIMARY KEY,
            thumb BLOB NOT NULL,              -- downscaled grey picture, row-major uint8
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            set_by TEXT NOT NULL,
            set_us INTEGER NOT NULL
        );
        CREATE TABLE inspection_runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,               -- scheduled | manual
            due_us INTEGER,                   -- the scheduled time (NULL for a manual run)
            ran_us INTEGER NOT NULL,
            ran_by TEXT NOT NULL,
            cameras INTEGER NOT NULL,
            anomalies INTEGER NOT NULL,
            inspector TEXT,                   -- the technician's signature (name as typed, and account)
            signed_us INTEGER,
            supervisor TEXT,                  -- the countersignature
            countersigned_us INTEGER
        );
        CREATE UNIQUE INDEX inspection_runs_due ON inspection_runs(due_us) WHERE due_us IS NOT NULL;
        CREATE TABLE inspections (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES inspection_runs(id),
            camera TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            items TEXT NOT NULL,              -- JSON {item: {"ok": bool, "detail": str}}
            ok INTEGER NOT NULL,
            anomalies TEXT NOT NULL,          -- what was found, for the register
            handling TEXT                     -- the technician's handling note
        );
        CREATE INDEX inspections_run ON inspections(run_id);
        """
    )


@migrations()
def m005_people(db: sqlite_utils.Database) -> None:
    """Accounts, sessions, failed logins, retrieval requests, grants and exports (R4, R5, R7)."""
    people_store.create_tables(db)


@migrations()
def m006_login_client_and_retention_grace(db: sqlite_utils.Database) -> None:
    """The client address of a failed login; the grace periods of lowered max retentions (design/0022)."""
    db.execute("ALTER TABLE login_failures ADD COLUMN client TEXT")
    db.executescript(
        """
        CREATE TABLE retention_grace (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL,
            at_us INTEGER NOT NULL,           -- when the lower max took effect
            old_max_us INTEGER NOT NULL,      -- kept until grace_until_us
            new_max_us INTEGER NOT NULL,
            grace_until_us INTEGER NOT NULL
        );
        CREATE INDEX retention_grace_until ON retention_grace(grace_until_us);
        """
    )


@migrations()
def m007_camera_error_kind(db: sqlite_utils.Database) -> None:
    """Why a camera is not recording as a stable word for scripts (recorder/diagnose.py's kinds),
    beside `last_error`'s sentence (design/0024)."""
    db.execute("ALTER TABLE cameras ADD COLUMN error_kind TEXT")


@migrations()
def m008_request_chains(db: sqlite_utils.Database) -> None:
    """Site policy (design/0036): a request keeps the approval chain it was filed under, the
    steps signed so far and its copy rules; a grant names every approver."""
    db.executescript(
        """
        ALTER TABLE requests ADD COLUMN chain TEXT;        -- JSON [{name, approvers}]; NULL: one approver
        ALTER TABLE requests ADD COLUMN steps TEXT;        -- JSON [{step, name, by, at_us, approve, reason}]
        ALTER TABLE requests ADD COLUMN copy_to TEXT;      -- anyone | requester (copies only)
        ALTER TABLE requests ADD COLUMN receipt INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE grants ADD COLUMN approvers TEXT;      -- JSON list, in chain order
        """
    )


@migrations()
def m010_maintenance_protection(db: sqlite_utils.Database) -> None:
    """A maintenance window says what it protected (R1.7): the footage on record when it began,
    the catalog copy's hash and whether it is on the footage's own disk; who attended (R8.2); and
    what was destroyed during it because the disk ran short (design/0043)."""
    db.executescript(
        """
        ALTER TABLE maintenance ADD COLUMN attended_by TEXT;          -- the manager who attended
        ALTER TABLE maintenance ADD COLUMN protected_segments INTEGER;  -- footage on record at the start
        ALTER TABLE maintenance ADD COLUMN protected_bytes INTEGER;
        ALTER TABLE maintenance ADD COLUMN backup_sha256 TEXT;        -- of the catalog copy
        ALTER TABLE maintenance ADD COLUMN backup_same_disk INTEGER;  -- 1: the copy is on the footage's disk
        ALTER TABLE maintenance ADD COLUMN yielded_segments INTEGER NOT NULL DEFAULT 0;  -- destroyed in the window
        ALTER TABLE maintenance ADD COLUMN yielded_bytes INTEGER NOT NULL DEFAULT 0;
        """
    )


@migrations()
def m011_motion_events(db: sqlite_utils.Database) -> None:
    """Recording modes (design/0038): motion events, why a camera has no footage for a while
    by policy (no motion, live mode: not gaps), and each camera's mode. storage/events.py."""
    db.executescript(
        """
        CREATE TABLE motion_events (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL REFERENCES cameras(id),
            start_us INTEGER NOT NULL,
            end_us INTEGER,                  -- NULL: going on, or cut short by a stop
            peak REAL,                       -- the largest moving share of the picture
            thumb BLOB,                      -- a small JPEG of the most moving picture
            created_us INTEGER NOT NULL
        );
        CREATE INDEX motion_events_camera_start ON motion_events(camera, start_us);
        CREATE TABLE not_recorded (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL REFERENCES cameras(id),
            from_us INTEGER NOT NULL,
            to_us INTEGER NOT NULL,
            reason TEXT NOT NULL             -- storage/events.py NO_MOTION, LIVE_MODE
        );
        CREATE INDEX not_recorded_camera_from ON not_recorded(camera, from_us);
        ALTER TABLE cameras ADD COLUMN mode TEXT NOT NULL DEFAULT 'continuous';
        """
    )


@migrations()
def m012_camera_inventory(db: sqlite_utils.Database) -> None:
    """The inventory's recording period, machine room and asset number (R3.5), and when each
    camera's inventory entry last changed: the public notice shows when the list last changed."""
    for col in ("recording_period", "machine_room", "asset_number"):
        db.execute(f"ALTER TABLE cameras ADD COLUMN {col} TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE cameras ADD COLUMN listed_us INTEGER")  # NULL: not changed since the upgrade


def open_db(path: Path) -> sqlite_utils.Database:
    """Open for writing, migrated. Only the catalog writer thread calls this."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA secure_delete=ON")  # purged personal data (R5.7) is zeroed, not left in free space
    migrations.apply(db)
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
                     limit: int = 1000) -> list[dict[str, Any]]:
    """Segments overlapping [start, end), by camera then time (edgectl segments, export)."""
    sql = ("SELECT * FROM segments WHERE camera IN (SELECT id FROM cameras) AND start_us < ? AND start_us > ?"
           " AND coalesce(end_us, start_us) >= ?")
    params: list[Any] = [end_us, start_us - SEGMENT_LOOKBACK_US, start_us]
    if camera is not None:
        sql += " AND camera = ?"
        params.append(camera)
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
                self.db["cameras"].upsert({**cam, "configured": 1, **({"listed_us": now} if changed else {})}, pk="id")

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
                self.db["cameras"].update(row["id"], {k: v for k, v in row.items() if k != "id"})

    # segments -----------------------------------------------------------------------
    def open_segment(self, camera: str, start_us: int, path: str, now_us: int) -> None:
        self.db.execute(
            "INSERT INTO segments (camera, start_us, path, state, created_us) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(path) DO NOTHING",
            [camera, start_us, path, WRITING, now_us],
        )

    def close_segment(self, path: str, fields: dict[str, Any], state: str = COMPLETE) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE segments SET {cols}, state = ? WHERE path = ?", [*fields.values(), state, path]
        )

    def strand_segment(self, path: str, error: str) -> None:
        """A segment whose file is not at its path (its disk went away): `missing`, never
        `writing` or `complete`; recovered if the disk comes back (storage/reconcile.py)."""
        self.db.execute("UPDATE segments SET state = ?, note = ? WHERE path = ? AND state = ?",
                        [MISSING, STORAGE_LOST_NOTE + error, path, WRITING])

    def add_segment(self, row: dict[str, Any]) -> None:
        """An adopted file the catalog had not heard of."""
        self.db["segments"].insert(row)

    def segments_in(self, state: str) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM segments WHERE state = ? ORDER BY start_us", [state]))

    def stranded_since(self, since_us: int) -> list[dict[str, Any]]:
        """Segments marked missing because their disk went away (by the tail, with an index)."""
        return list(self.db.query(
            "SELECT * FROM segments WHERE camera IN (SELECT id FROM cameras) AND start_us >= ? AND state = ?"
            " AND note LIKE ? ORDER BY start_us", [since_us, MISSING, STORAGE_LOST_NOTE + "%"]))

    def known_paths_since(self, since_us: int) -> set[str]:
        # `camera IN (...)` lets SQLite use segments_camera_start instead of reading the table.
        return {r["path"] for r in self.db.query(
            "SELECT path FROM segments WHERE camera IN (SELECT id FROM cameras) AND start_us >= ?", [since_us])}

    def footage_since(self, since_us: int) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "SELECT id, path, start_us FROM segments WHERE start_us >= ? AND " + FOOTAGE,
                [since_us],
            )
        )

    def set_state(self, segment_id: int, state: str, note: str) -> None:
        self.db.execute("UPDATE segments SET state = ?, note = ? WHERE id = ?", [state, note, segment_id])

    def last_end(self, camera: str) -> int | None:
        row = next(
            self.db.query(
                "SELECT max(end_us) AS e FROM segments WHERE camera = ? AND " + FOOTAGE,
                [camera],
            )
        )
        return row["e"]

    def last_end_before(self, camera: str, before_us: int) -> int | None:
        """The end of the camera's footage that started before `before_us` (the segment a new
        one follows), by index."""
        row = next(self.db.query(
            "SELECT max(end_us) AS e FROM segments WHERE camera = ? AND start_us < ? AND " + FOOTAGE,
            [camera, before_us]))
        return row["e"]

    def latest_start(self) -> int | None:
        # Per camera, so each max() is one index probe (a plain max() scans the whole index).
        return next(self.db.query(
            "SELECT max((SELECT max(start_us) FROM segments WHERE camera = cameras.id)) AS s FROM cameras"))["s"]

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

        return await loop.run_in_executor(self._pool, call)

    async def close(self) -> None:
        if self._catalog is not None:
            await self.run(lambda c: c.db.conn.close())
        self._pool.shutdown(wait=True)
