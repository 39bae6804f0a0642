"""The compact segment rows of migration m013 (storage/schema/migrations.py; design/0054), frozen with it:
a later change of the rows' shape is a new migration, never an edit here.

`segment_rows` holds each segment in about a third of the old bytes: camera and state as small
integers, the path only when it is not the one derived from camera and start, SHA-256 as 32
bytes, times as offsets from the start. The view `segments` shows the old columns, so reads are
unchanged; writes go through storage/footage/segment_rows.py.
"""

from __future__ import annotations

import sqlite_utils


# The derived path of a segment_rows row `s` whose camera row is `k`: layout.segment_relpath in SQL
# (UTC day folder, then the start to the microsecond). Frozen here with m013; the view uses it.
_PATH_SQL = ("'video/' || k.camera || '/' || strftime('%Y-%m-%d/%Y%m%dT%H%M%S', s.start_us / 1000000, 'unixepoch')"
             " || '.' || printf('%06d', s.start_us % 1000000) || 'Z.mp4'")  # one strftime: it is most of the cost
_M013_STATES = ("writing", "complete", "recovered", "missing", "quarantined", "tampered")  # code = position


def _m013_sha(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    """A hex SHA-256 as its 32 bytes; anything else (NULL, a test's placeholder) as it was."""
    if isinstance(value, str) and len(value) == 64 and value == value.lower():
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return value
        return raw if len(raw) == 32 else value  # fromhex skips blanks: only a true 64-digit hash is packed
    return value


# Over 60 lines on purpose: one schema step, read as the tables, the copy and the view it makes.
def m013(db: sqlite_utils.Database) -> None:
    """The segment rows in a third of the bytes (design/0054): cameras and states as small
    integers, the path derived from camera and start (stored only when it is not the derived
    one), SHA-256 as 32 bytes, times as offsets from the start; one index on (camera, start)
    and a small one on the rows being written. `segments` is a view with the old columns.
    One transaction (execute, never executescript: that commits first); rows keep their ids."""
    state_code = "CASE s.state " + " ".join(f"WHEN '{n}' THEN {i}" for i, n in enumerate(_M013_STATES)) + " END"
    state_name = "CASE s.state " + " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(_M013_STATES)) + " END"
    db.conn.create_function("edged_m013_sha", 1, _m013_sha, deterministic=True)
    # The old table holds no personal data, and open_db VACUUMs right after: zeroing its ~300 bytes
    # a row as it is dropped (secure_delete=ON, open_db's setting) would write the whole old table
    # again for nothing.
    secure = next(db.query("PRAGMA secure_delete"))["secure_delete"]
    db.execute("PRAGMA secure_delete=FAST")
    for sql in (
        "CREATE TABLE camera_keys (num INTEGER PRIMARY KEY, camera TEXT NOT NULL UNIQUE)",
        "INSERT INTO camera_keys (camera) SELECT id FROM cameras ORDER BY rowid",
        "INSERT OR IGNORE INTO camera_keys (camera) SELECT DISTINCT camera FROM segments",
        """CREATE TABLE segment_rows (
            id INTEGER PRIMARY KEY,            -- the segment's id, as before (destructions, garbage)
            cam INTEGER NOT NULL,              -- camera_keys.num
            start_us INTEGER NOT NULL,
            dur_us INTEGER,                    -- end_us - start_us; NULL while writing
            bytes INTEGER, frames INTEGER, codec TEXT, width INTEGER, height INTEGER, audio INTEGER,
            sha256 BLOB,                       -- 32 bytes (a value that is not a hex SHA-256: as text)
            state INTEGER NOT NULL,            -- 0 writing 1 complete 2 recovered 3 missing 4 quarantined 5 tampered
            created_d INTEGER NOT NULL,        -- created_us - start_us
            closed_d INTEGER,                  -- closed_us - start_us
            note TEXT,
            path TEXT                          -- NULL: the derived path (layout.segment_relpath); else as recorded
        )""",
        f"""INSERT INTO segment_rows (id, cam, start_us, dur_us, bytes, frames, codec, width, height, audio, sha256,
                                      state, created_d, closed_d, note, path)
            SELECT s.id, k.num, s.start_us, s.end_us - s.start_us, s.bytes, s.frames, s.codec, s.width, s.height,
                   s.audio, edged_m013_sha(s.sha256), {state_code}, s.created_us - s.start_us,
                   s.closed_us - s.start_us, s.note,
                   CASE WHEN s.start_us >= 0 AND s.path = {_PATH_SQL} THEN NULL ELSE s.path END
            FROM segments s JOIN camera_keys k ON k.camera = s.camera ORDER BY s.id""",
        "DROP TABLE segments",
        # The one index every camera-and-time query uses; unique like the old path column was.
        "CREATE UNIQUE INDEX segment_rows_key ON segment_rows(cam, start_us, ifnull(path, ''))",
        "CREATE INDEX segment_rows_writing ON segment_rows(start_us) WHERE state = 0",
        "CREATE INDEX segment_rows_path ON segment_rows(path) WHERE path IS NOT NULL",
        f"""CREATE VIEW segments AS SELECT s.id AS id, k.camera AS camera, s.start_us AS start_us,
                s.start_us + s.dur_us AS end_us, coalesce(s.path, {_PATH_SQL}) AS path, s.bytes AS bytes,
                s.frames AS frames, s.codec AS codec, s.width AS width, s.height AS height, s.audio AS audio,
                CASE WHEN typeof(s.sha256) = 'blob' THEN lower(hex(s.sha256)) ELSE s.sha256 END AS sha256,
                {state_name} AS state, s.start_us + s.created_d AS created_us,
                s.start_us + s.closed_d AS closed_us, s.note AS note
            FROM segment_rows s JOIN camera_keys k ON k.num = s.cam""",
    ):
        db.execute(sql)
    db.execute(f"PRAGMA secure_delete={secure}")


def m021(db: sqlite_utils.Database) -> None:
    """How many of a segment's pictures the recorder re-timed (design/0093: no stamp, stamped
    alike, before its own decode time), next to its frames; NULL for segments recorded before.
    The view gains the column; nothing else changes."""
    state_name = "CASE s.state " + " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(_M013_STATES)) + " END"
    for sql in (
        "ALTER TABLE segment_rows ADD COLUMN retimed INTEGER",
        "DROP VIEW segments",
        f"""CREATE VIEW segments AS SELECT s.id AS id, k.camera AS camera, s.start_us AS start_us,
                s.start_us + s.dur_us AS end_us, coalesce(s.path, {_PATH_SQL}) AS path, s.bytes AS bytes,
                s.frames AS frames, s.codec AS codec, s.width AS width, s.height AS height, s.audio AS audio,
                CASE WHEN typeof(s.sha256) = 'blob' THEN lower(hex(s.sha256)) ELSE s.sha256 END AS sha256,
                {state_name} AS state, s.start_us + s.created_d AS created_us,
                s.start_us + s.closed_d AS closed_us, s.note AS note, s.retimed AS retimed
            FROM segment_rows s JOIN camera_keys k ON k.num = s.cam""",
    ):
        db.execute(sql)


def m022_view(db: sqlite_utils.Database) -> None:
    """The `segments` view with m021's `retimed` and each segment's `source` (migration m022,
    design/0106): 'live' (recorded by edged) or 'backfilled' (fetched from the camera's own recording)."""
    state_name = "CASE s.state " + " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(_M013_STATES)) + " END"
    db.execute("DROP VIEW segments")
    db.execute(f"""CREATE VIEW segments AS SELECT s.id AS id, k.camera AS camera, s.start_us AS start_us,
                s.start_us + s.dur_us AS end_us, coalesce(s.path, {_PATH_SQL}) AS path, s.bytes AS bytes,
                s.frames AS frames, s.codec AS codec, s.width AS width, s.height AS height, s.audio AS audio,
                CASE WHEN typeof(s.sha256) = 'blob' THEN lower(hex(s.sha256)) ELSE s.sha256 END AS sha256,
                {state_name} AS state, s.start_us + s.created_d AS created_us,
                s.start_us + s.closed_d AS closed_us, s.note AS note, s.retimed AS retimed,
                coalesce(s.source, 'live') AS source
            FROM segment_rows s JOIN camera_keys k ON k.num = s.cam""")


def m029_view(db: sqlite_utils.Database) -> None:
    """The `segments` view with m022's columns and an import's `intake_us` (migration m029, issue 76,
    design/0349): NULL for footage recorded here."""
    state_name = "CASE s.state " + " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(_M013_STATES)) + " END"
    db.execute("DROP VIEW segments")
    db.execute(f"""CREATE VIEW segments AS SELECT s.id AS id, k.camera AS camera, s.start_us AS start_us,
                s.start_us + s.dur_us AS end_us, coalesce(s.path, {_PATH_SQL}) AS path, s.bytes AS bytes,
                s.frames AS frames, s.codec AS codec, s.width AS width, s.height AS height, s.audio AS audio,
                CASE WHEN typeof(s.sha256) = 'blob' THEN lower(hex(s.sha256)) ELSE s.sha256 END AS sha256,
                {state_name} AS state, s.start_us + s.created_d AS created_us,
                s.start_us + s.closed_d AS closed_us, s.note AS note, s.retimed AS retimed,
                coalesce(s.source, 'live') AS source, s.intake_us AS intake_us
            FROM segment_rows s JOIN camera_keys k ON k.num = s.cam""")
