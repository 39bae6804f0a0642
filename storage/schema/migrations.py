"""The catalog's schema, one migration at a time (sqlite-utils' Migrations, applied in the
order they are defined here by `storage.catalog.open_db`).

Add a migration at the end, named `mNNN_what`, never edit one that has shipped: a catalog
records which it has applied. `migrations` is the one object; `storage.catalog` re-exports it.
Over 400 lines on purpose: the schema's history in its order, read as one; a long step's body
lives in a module of its own in this room (segments, people, identity). The room imports nothing
of storage/'s table rooms (tests/test_layers.py), so the catalog that applies it stands below them;
today's schema, all of it applied, is docs/ref/catalog-schema.md (`python -m refdocs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlite_utils import Migrations

from storage.schema import identity, people, script, segments

if TYPE_CHECKING:
    import sqlite_utils

migrations = Migrations("edged.catalog")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    script.run(db,
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


# Over 60 lines on purpose: one schema step's DDL, read as the tables it makes.
@migrations()
def m002_retention(db: sqlite_utils.Database) -> None:
    script.run(db,
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
    db.execute("""
        CREATE TABLE IF NOT EXISTS audit (
            seq INTEGER PRIMARY KEY,
            at_us INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,      -- canonical JSON
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""")  # the chain's records and their hashes: storage/audit.py
    script.run(db,
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
    script.run(db,
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
    people.create_tables(db)


@migrations()
def m006_login_client_and_retention_grace(db: sqlite_utils.Database) -> None:
    """The client address of a failed login; the grace periods of lowered max retentions (design/0022)."""
    db.execute("ALTER TABLE login_failures ADD COLUMN client TEXT")
    script.run(db,
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
    script.run(db,
        """
        ALTER TABLE requests ADD COLUMN chain TEXT;        -- JSON [{name, approvers}]; NULL: one approver
        ALTER TABLE requests ADD COLUMN steps TEXT;        -- JSON [{step, name, by, at_us, approve, reason}]
        ALTER TABLE requests ADD COLUMN copy_to TEXT;      -- anyone | requester (copies only)
        ALTER TABLE requests ADD COLUMN receipt INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE grants ADD COLUMN approvers TEXT;      -- JSON list, in chain order
        """
    )


@migrations()
def m009_hold_approvals_and_one_time_passwords(db: sqlite_utils.Database) -> None:
    """Holds by policy (design/0041): a hold may wait for an approver and be extended; a password an
    admin set is one-time, changed at the holder's first login (design/0042)."""
    script.run(db,
        """
        ALTER TABLE holds ADD COLUMN state TEXT NOT NULL DEFAULT 'active';  -- pending | active
        ALTER TABLE holds ADD COLUMN wanted_expires_us INTEGER;  -- a pending evidence hold's expiry once approved
        ALTER TABLE holds ADD COLUMN decided_by TEXT;            -- the approver who approved or rejected it
        ALTER TABLE holds ADD COLUMN decided_us INTEGER;
        ALTER TABLE holds ADD COLUMN decision_reason TEXT;
        ALTER TABLE holds ADD COLUMN extended_by TEXT;           -- the last extension (each is an audit record)
        ALTER TABLE holds ADD COLUMN extended_us INTEGER;
        ALTER TABLE accounts ADD COLUMN must_change INTEGER NOT NULL DEFAULT 0;  -- set by an admin: one-time
        """
    )


@migrations()
def m010_maintenance_protection(db: sqlite_utils.Database) -> None:
    """A maintenance window says what it protected (R1.7): the footage on record when it began,
    the catalog copy's hash and whether it is on the footage's own disk; who attended (R8.2); and
    what was destroyed during it because the disk ran short (design/0043)."""
    script.run(db,
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
    by policy (no motion, live mode: not gaps), and each camera's mode. storage/footage/events.py."""
    script.run(db,
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
            reason TEXT NOT NULL             -- storage/footage/events.py NO_MOTION, LIVE_MODE
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



@migrations()
def m013_compact_segments(db: sqlite_utils.Database) -> None:
    """The segment rows in a third of the bytes behind a `segments` view (design/0054):
    storage/schema/segments.py, frozen with this migration. One transaction."""
    segments.m013(db)


@migrations()
def m014_restamps(db: sqlite_utils.Database) -> None:
    """Segments stamped by a host clock later found wrong (design/0059): the correction next to
    the row, never in it. The row keeps its original stamps (its file's path is derived from
    them, design/0054); `shift_us` is what the true interval adds to them, known from monotonic
    time. `shift_us` NULL: it could not be re-stamped; a person must look (never destroyed by age)."""
    db.execute("""CREATE TABLE restamps (
        segment_id INTEGER PRIMARY KEY,   -- segment_rows.id
        shift_us INTEGER,                 -- corrected = original + shift_us; NULL: flagged for a person
        at_us INTEGER NOT NULL,           -- when (on the corrected clock)
        steps INTEGER NOT NULL DEFAULT 1  -- how many host clock steps it has been corrected for
    )""")


@migrations()
def m015_flag_resolutions(db: sqlite_utils.Database) -> None:
    """A person resolves a segment flagged for a host clock that was behind (design/0059): who,
    when and why, next to the flag, which stays (`shift_us` NULL). The footage is not touched."""
    for col, kind in (("resolved_us", "INTEGER"), ("resolved_by", "TEXT"), ("resolved_reason", "TEXT")):
        db.execute(f"ALTER TABLE restamps ADD COLUMN {col} {kind}")


@migrations()
def m016_hold_review(db: sqlite_utils.Database) -> None:
    """A legal hold's review date (design/0076): an alarm when it passes, until an approver
    reviews the hold (a new date) or releases it."""
    db.execute("ALTER TABLE holds ADD COLUMN review_us INTEGER")  # legal: reviewed by then


@migrations()
def m017_register_units(db: sqlite_utils.Database) -> None:
    """The register per site's annex (design/0082): each camera's row keeps its managing unit
    when the inspection ran, the countersignature of that unit's chief, and the inspector's
    "repair requested?" answer (004 annex 4's 是否申請修復; NULL: the site does not ask)."""
    for col, kind in (("unit", "TEXT"), ("supervisor", "TEXT"), ("countersigned_us", "INTEGER"),
                      ("repair", "INTEGER")):
        db.execute(f"ALTER TABLE inspections ADD COLUMN {col} {kind}")


@migrations()
def m018_ethics_vendor_maintenance(db: sqlite_utils.Database) -> None:
    """A vendor-attended maintenance window (002 §6(3)) and the footage a window that touches
    storage copied before it opened (002 §15), design/0083: the vendor named, when and by whom
    the superuser password was changed after it, and what the copy held (JSON)."""
    for col, kind in (("vendor", "TEXT"), ("password_changed_us", "INTEGER"), ("password_changed_by", "TEXT"),
                      ("footage_copy", "TEXT")):
        db.execute(f"ALTER TABLE maintenance ADD COLUMN {col} {kind}")


@migrations()
def m019_ids_never_reused(db: sqlite_utils.Database) -> None:
    """Segment and motion-event ids are never given twice (invariant 11; design/0096): the tables
    rebuilt with AUTOINCREMENT, every id kept, storage/schema/identity.py."""
    identity.m019(db)


@migrations()
def m020_records_follow_true_time(db: sqlite_utils.Database) -> None:
    """Every record follows the true time (design/0096): the corrections of host-clock stamps
    (storage/footage/corrections.py), and the time a person gives a flagged segment when resolving it."""
    db.execute("""CREATE TABLE clock_corrections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        from_us INTEGER NOT NULL,         -- the window of stamps made on the clock found wrong ...
        to_us INTEGER NOT NULL,           -- ... inclusive, on that clock
        shift_us INTEGER NOT NULL,        -- what they add to reach the true time
        at_us INTEGER NOT NULL,           -- when (on the corrected clock)
        audit_seq INTEGER NOT NULL        -- its records.restamp record: the chain's records before it are on the old clock
    )""")
    db.execute("ALTER TABLE restamps ADD COLUMN resolved_shift_us INTEGER")  # true = original + this; NULL: none given


@migrations()
def m021_segment_retimed(db: sqlite_utils.Database) -> None:
    """Each segment row counts the pictures the recorder re-timed (design/0093):
    storage/schema/segments.py m021."""
    segments.m021(db)


@migrations()
def m022_backfill(db: sqlite_utils.Database) -> None:
    """Backfill (design/0106): a segment's `source` (NULL: recorded live; 'backfilled': from the
    camera's own recording), on the view too; a gap's backfill state, time fetched up to, and why not."""
    db.execute("ALTER TABLE segment_rows ADD COLUMN source TEXT")
    for col, kind in (("backfill", "TEXT"), ("backfill_to_us", "INTEGER"), ("backfill_note", "TEXT")):
        db.execute(f"ALTER TABLE gaps ADD COLUMN {col} {kind}")
    segments.m022_view(db)


@migrations()
def m023_standby(db: sqlite_utils.Database) -> None:
    """A standby's footage (design/0107): each camera row names the box whose camera it is
    (NULL: this box's own), and `standins` keeps when this box stood in for which box, and why."""
    db.execute("ALTER TABLE cameras ADD COLUMN box TEXT")
    db.execute("CREATE TABLE standins (id INTEGER PRIMARY KEY AUTOINCREMENT, box TEXT NOT NULL,"
               " recorded_by TEXT NOT NULL, cameras TEXT NOT NULL, why TEXT, started_us INTEGER NOT NULL,"
               " ended_us INTEGER)")
    db.execute("CREATE INDEX standins_box ON standins (box, started_us)")


@migrations()
def m024_live_permission(db: sqlite_utils.Database) -> None:
    """Live view is a permission an admin gives per person (design/0108; 001 §15, 002 §7): an
    account watches live only with `live` set, whatever its roles. Existing accounts start without."""
    db.execute("ALTER TABLE accounts ADD COLUMN live INTEGER NOT NULL DEFAULT 0")


@migrations()
def m025_standby_backfill(db: sqlite_utils.Database) -> None:
    """A box fetches a gap back from its standby (design/0115): each gap says whether it was
    asked of the standby (`standby`: NULL not yet, 'done', 'none'), and how much came back."""
    db.execute("ALTER TABLE gaps ADD COLUMN standby TEXT")


@migrations()
def m026_session_end_reason(db: sqlite_utils.Database) -> None:
    """Why a session ended (design/0113): the desk tells a person whose session ended while they
    filled in a form why it did (logged out, idle, the password changed, locked, revoked)."""
    db.execute("ALTER TABLE sessions ADD COLUMN end_reason TEXT")


@migrations()
def m027_request_purpose(db: sqlite_utils.Database) -> None:
    """What a request's footage is for (用途, design/0113): 002 §8(1)(2) asks for the reason and the use;
    purged with the request's other personal data."""
    db.execute("ALTER TABLE requests ADD COLUMN purpose TEXT")


@migrations()
def m028_grant_whole_picture(db: sqlite_utils.Database) -> None:
    """An approver's allowance of the whole picture on a citizen's grant (design/0276): who, when
    and why, kept with the grant it lifts the redaction of (also on the audit chain)."""
    for column in ("unredacted_by TEXT", "unredacted_reason TEXT", "unredacted_us INTEGER"):
        db.execute(f"ALTER TABLE grants ADD COLUMN {column}")


@migrations()
def m029_intake(db: sqlite_utils.Database) -> None:
    """A portable camera's recording taken in (issue 76, design/0346, 0349): each segment remuxed from
    it carries `intake_us` (the box's time of the intake; NULL: recorded here), read by the
    retention pass, and `source` 'imported' (its stamps are the device's claim); `intakes` keeps
    each intake: the original's SHA-256 (one intake per hash), where it is kept byte for byte, who
    brought it, the device and what its stamps claim."""
    db.execute("ALTER TABLE segment_rows ADD COLUMN intake_us INTEGER")
    db.execute("""CREATE TABLE intakes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sha256 TEXT NOT NULL UNIQUE,      -- the original file's, hashed as it arrived
        bytes INTEGER NOT NULL,
        camera TEXT NOT NULL,             -- the device's camera id (portable.<device>)
        device TEXT NOT NULL,             -- the device's name as given (a plain name, design/0315)
        recorded_by TEXT NOT NULL,        -- who recorded it, as the person taking it in said
        taken_by TEXT NOT NULL,           -- the account that took it in
        request INTEGER,                  -- the request (or case) it belongs to, if named
        intake_us INTEGER NOT NULL,       -- the box's time of the intake
        original TEXT NOT NULL,           -- the original, byte for byte, relative to the data folder
        claimed_start_us INTEGER,         -- what the device's stamps claim; NULL: it claims nothing
        claimed_from TEXT,                -- 'creation_time' (the file's), 'stream' (a stream's), NULL
        model TEXT,                       -- the device's model as its file claims it
        segments INTEGER NOT NULL,        -- how many segments were remuxed from it (0: the original alone)
        note TEXT,                        -- why not remuxed, or what of it was (a truncated file)
        audit_seq INTEGER                 -- its evidence.imported record
    )""")
    segments.m029_view(db)


@migrations()
def m030_intake_original_destroyed(db: sqlite_utils.Database) -> None:
    """An intake's original file destroyed by the retention rules (issue 76, design/0354): when
    (`destroyed_us`, the box's time) and by which pass; NULL while it is kept. The intake's row
    stays for ever, as a destruction's does: it names the original's hash, size and path."""
    db.execute("ALTER TABLE intakes ADD COLUMN destroyed_us INTEGER")
    db.execute("ALTER TABLE intakes ADD COLUMN destroyed_pass INTEGER")


@migrations()
def m031_intake_file_name(db: sqlite_utils.Database) -> None:
    """The device's file name as sent with an intake (issue 87 item 7, design/0403): its last path
    part, under the free-text rule (escaped where it does not print); NULL for intakes before."""
    db.execute("ALTER TABLE intakes ADD COLUMN file_name TEXT")
