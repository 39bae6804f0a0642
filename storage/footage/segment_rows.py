"""How the `segments` rows are stored (design/0054), and every write to them.

Rows live in `segment_rows`: camera and state as small integers (`camera_keys`, the place in
SEGMENT_STATES), times as offsets from the start, SHA-256 as 32 bytes, and the path stored only
when it is not `layout.segment_relpath(camera, start)` (nearly never). The view `segments` shows
them with the old columns, for reads; writes and lookups by path go through here, so a path
finds its row by the (camera, start) index. The segment states are declared here, once, with
the SQL test for footage on the view and the longest a segment can be. The reads of the view:
storage/footage/segments.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from storage.disk import layout
from storage.states.cameras import PORTABLE_PREFIX as PORTABLE_PREFIX  # declared there, for the rules too

if TYPE_CHECKING:
    import sqlite_utils

# Segment states, the only place they are named (design/0033). Only `complete` and `recovered`
# are footage (docs/requirements.md, invariant 3); `tampered`: something other than edged changed the file.
# Their order is their stored number (storage/schema/migrations.py m013): append, never reorder.
WRITING, COMPLETE, RECOVERED, MISSING, QUARANTINED = "writing", "complete", "recovered", "missing", "quarantined"
TAMPERED = "tampered"
SEGMENT_STATES = (WRITING, COMPLETE, RECOVERED, MISSING, QUARANTINED, TAMPERED)
FOOTAGE_STATES = (COMPLETE, RECOVERED)
# The SQL test for footage, on the `segments` view.
FOOTAGE = "state IN ('complete', 'recovered')"
STORAGE_LOST_NOTE = "storage lost: "  # the note of a `missing` row whose disk may come back
# The longest segment_length a config may set ([storage] and a camera's own: edged/config reads
# it here), and the catalog's look-back, tied to it (issue 41): a segment is cut at the first
# keyframe past its length (or forced, design/0060), so none is longer than the look-back, whose
# lower bound keeps a time-range query an index range scan at a year of footage. Raise the cap
# and the look-back follows.
MAX_SEGMENT_US = 3_600_000_000
SEGMENT_LOOKBACK_US = 24 * MAX_SEGMENT_US
# Footage the box did not record (a portable camera's file taken in, design/0349): its camera's id
# begins with this (a config camera's id has no dot) and its rows carry `source` IMPORTED. Its
# stamps are its device's claim, so it is never in a model of the box's own recording: the
# start-up tail, the host clock's history, the order of stamps (design/0380).
IMPORTED = "imported"
# The SQL of the box's own cameras (every camera row but a portable device's), for `IN (...)`.
BOX_CAMERAS = f"SELECT id FROM cameras WHERE id NOT LIKE '{PORTABLE_PREFIX}%'"
# The SQL test, on `segment_rows s`, of a row whose stamps the box made (not a device's claim).
BOX_STAMPED = f"coalesce(s.source, '') != '{IMPORTED}'"

_COLUMNS = ("id", "cam", "start_us", "dur_us", "bytes", "frames", "codec", "width", "height", "audio", "sha256",
            "state", "created_d", "closed_d", "note", "path", "retimed", "source", "intake_us")
_INSERT = f"INSERT INTO segment_rows ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_PLAIN = ("bytes", "frames", "codec", "width", "height", "audio", "note", "retimed")  # stored as given
_FROM_START = {"end_us": "dur_us", "created_us": "created_d", "closed_us": "closed_d"}  # stored minus start_us


def code(state: str) -> int:
    """A state's number in segment_rows (its place in SEGMENT_STATES)."""
    return SEGMENT_STATES.index(state)


def sha_value(sha256: Any) -> Any:
    """A hex SHA-256 as its 32 bytes; anything else (NULL, a placeholder) as it is."""
    if isinstance(sha256, str) and len(sha256) == 64 and sha256 == sha256.lower():
        try:
            raw = bytes.fromhex(sha256)
        except ValueError:
            return sha256
        return raw if len(raw) == 32 else sha256  # fromhex skips blanks: only a true 64-digit hash is packed
    return sha256


def stored_path(camera: str, start_us: int, path: str) -> str | None:
    """None when `path` is the one derived from camera and start (nearly always)."""
    return None if start_us >= 0 and layout.segment_relpath(camera, start_us) == path else path


def camera_key(db: sqlite_utils.Database, camera: str) -> int:
    """The camera's number in segment_rows, made on first use."""
    db.execute("INSERT OR IGNORE INTO camera_keys (camera) VALUES (?)", [camera])
    return cast(int, next(db.query("SELECT num FROM camera_keys WHERE camera = ?", [camera]))["num"])


def by_path(path: str) -> tuple[str, list[Any]]:
    """The WHERE clause finding the row of a path: by camera and start (the index) when the path
    is a derived one, or by the stored path of a rare row whose path is not derived from its
    own start (a small index). Both: a stored path may look like another start's derived one."""
    try:
        parsed = layout.parse_relpath(path)
    except ValueError:  # named like a segment, but no such time (a file planted by hand)
        parsed = None
    if parsed is not None and stored_path(*parsed, path) is None:
        return ("(cam = (SELECT num FROM camera_keys WHERE camera = ?) AND start_us = ? AND path IS NULL"
                " OR path = ?)", [parsed[0], parsed[1], path])
    return "path = ?", [path]


def row_values(db: sqlite_utils.Database, row: dict[str, Any], keys: dict[str, int]) -> tuple[Any, ...]:
    start = row["start_us"]
    cam = keys.get(row["camera"])
    if cam is None:
        cam = keys[row["camera"]] = camera_key(db, row["camera"])
    diff = {v: None if row.get(k) is None else row[k] - start for k, v in _FROM_START.items()}
    return (row.get("id"), cam, start, diff["dur_us"], *(row.get(k) for k in _PLAIN[:6]), sha_value(row.get("sha256")),
            code(row["state"]), diff["created_d"], diff["closed_d"], row.get("note"),
            stored_path(row["camera"], start, row["path"]), row.get("retimed"), row.get("source"), row.get("intake_us"))


def insert(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> None:
    """Rows with the view's columns (camera, end_us, path, sha256 hex, state name, ...)."""
    keys: dict[str, int] = {}
    db.conn.executemany(_INSERT, (row_values(db, r, keys) for r in rows))


def open_row(db: sqlite_utils.Database, camera: str, start_us: int, path: str, now_us: int) -> None:
    """A segment being written (nothing if its path is known already)."""
    db.execute("INSERT INTO segment_rows (cam, start_us, state, created_d, path) VALUES (?, ?, ?, ?, ?)"
               " ON CONFLICT DO NOTHING",
               [camera_key(db, camera), start_us, code(WRITING), now_us - start_us, stored_path(camera, start_us, path)])


def update(db: sqlite_utils.Database, path: str, fields: dict[str, Any], only_if: str = "") -> int:
    """Set the view's columns of the segment at `path` (`only_if`: more of the WHERE clause,
    on segment_rows); returns the rows changed."""
    sets, params = [], []
    for k, v in fields.items():
        if k in _FROM_START:
            sets.append(f"{_FROM_START[k]} = ? - start_us")
        elif k == "state":
            sets.append("state = ?")
            v = code(v)
        elif k == "sha256":
            sets.append("sha256 = ?")
            v = sha_value(v)
        elif k in _PLAIN:
            sets.append(f"{k} = ?")
        else:
            raise ValueError(f"segments has no column {k!r} to set")
        params.append(v)
    where, key = by_path(path)
    cur = db.execute(f"UPDATE segment_rows SET {', '.join(sets)} WHERE {where}{only_if}", [*params, *key])
    return cur.rowcount


def close(db: sqlite_utils.Database, path: str, fields: dict[str, Any], state: str = COMPLETE) -> None:
    """A segment closed (its end, size, hash...): `complete`, or the state given (`recovered`)."""
    update(db, path, {**fields, "state": state})


def strand(db: sqlite_utils.Database, path: str, error: str) -> None:
    """A segment whose file is not at its path (its disk went away): `missing`, never
    `writing` or `complete`; recovered if the disk comes back (storage/footage/reconcile.py)."""
    update(db, path, {"state": MISSING, "note": STORAGE_LOST_NOTE + error}, f" AND state = {code(WRITING)}")


def set_state(db: sqlite_utils.Database, segment_id: int, state: str, note: str) -> None:
    db.execute("UPDATE segment_rows SET state = ?, note = ? WHERE id = ?", [code(state), note, segment_id])


def set_state_of_footage(db: sqlite_utils.Database, segment_id: int, state: str, note: str) -> bool:
    """`set_state` if the row is still footage (`complete` or `recovered`); whether it was."""
    cur = db.execute(f"UPDATE segment_rows SET state = ?, note = ? WHERE id = ? AND state IN ({code(COMPLETE)},"
                     f" {code(RECOVERED)})", [code(state), note, segment_id])
    return cur.rowcount > 0


def delete(db: sqlite_utils.Database, segment_id: int) -> None:
    db.execute("DELETE FROM segment_rows WHERE id = ?", [segment_id])


def paths_since(db: sqlite_utils.Database, since_us: int, footage: bool = False) -> list[dict[str, Any]]:
    """id, start_us and path of the segments of the box's own cameras since `since_us` (only
    footage if `footage`), by index; the paths derived here, not by the view (reconcile reads
    two days of them at every start: the view's strftime costs ~6 us a row, this ~1 us). A
    portable device's are not among them: their stamps are its claim (`imported_of`)."""
    only = f" AND s.state IN ({code(COMPLETE)}, {code(RECOVERED)})" if footage else ""
    got = db.conn.execute("SELECT s.id, k.camera, s.start_us, s.path FROM segment_rows s JOIN camera_keys k"
                          f" ON k.num = s.cam WHERE k.camera IN ({BOX_CAMERAS}) AND s.start_us >= ?" + only,
                          [since_us])
    days: dict[tuple[str, int], str] = {}
    out = []
    for seg_id, camera, start, path in got:
        if path is None:
            secs, us = divmod(start, 1_000_000)
            day, in_day = divmod(secs, 86_400)
            prefix = days.get((camera, day))
            if prefix is None:  # video/<camera>/<YYYY-MM-DD>/<YYYYmmdd>T, once a camera-day
                prefix = days[(camera, day)] = layout.segment_relpath(camera, day * 86_400_000_000)[:-18]
            hh, rest = divmod(in_day, 3600)
            path = f"{prefix}{hh:02d}{rest // 60:02d}{rest % 60:02d}.{us:06d}Z.mp4"
        out.append({"id": seg_id, "start_us": start, "path": path})
    return out


def imported_of(db: sqlite_utils.Database, folder: str, footage: bool = False) -> list[dict[str, Any]]:
    """id, start_us and path of the segments remuxed into `folder` (`imports/<sha256>`, an intake's),
    only footage if `footage`: by the stored-path index (an import's path is always stored)."""
    only = f" AND state IN ({code(COMPLETE)}, {code(RECOVERED)})" if footage else ""
    return [{"id": i, "start_us": start, "path": path} for i, start, path in db.conn.execute(
        "SELECT id, start_us, path FROM segment_rows WHERE path > ? AND path < ?" + only,
        [folder + "/", folder + "0"])]


def known_paths_since(db: sqlite_utils.Database, since_us: int) -> set[str]:
    """The paths of the box's own cameras' segments since `since_us`, any state (by index)."""
    return {r["path"] for r in paths_since(db, since_us)}


def footage_since(db: sqlite_utils.Database, since_us: int) -> list[dict[str, Any]]:
    """id, path, start_us of the footage since `since_us` (by index)."""
    return paths_since(db, since_us, footage=True)


def in_state(db: sqlite_utils.Database, state: str) -> list[dict[str, Any]]:
    """The rows in a state, by start; by index for `writing` (the rows a crash leaves)."""
    # the number inline, not a parameter: only then can SQLite use the partial index (state = 0)
    ids = [r["id"] for r in db.query(f"SELECT id FROM segment_rows WHERE state = {code(state)} ORDER BY start_us")]
    return [next(db.query("SELECT * FROM segments WHERE id = ?", [i])) for i in ids]
