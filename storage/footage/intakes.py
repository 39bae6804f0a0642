"""The `intakes` table and an intake's rows (issue 76, design/0349): the first intake of a hash, and
an intake recorded in one transaction (its camera's row, its segments' rows with `intake_us` and
source 'imported', its own row, its `evidence.imported` audit record), so a crash leaves all of it
or none. Its files are in place before (storage/intake/take.py). Here, below the intake's room, so
an export (storage/export/plan.py) says where its imported sources came from (`provenance`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storage import audit
from storage.footage import segment_rows
from storage.footage.segment_rows import IMPORTED, PORTABLE_PREFIX
from storage.states.cameras import STOPPED

if TYPE_CHECKING:
    import sqlite_utils

# IMPORTED: segment_rows.source of a segment remuxed from an intake, its stamps a claim (declared in segment_rows)
CAMERA_PREFIX = PORTABLE_PREFIX  # a device's camera id: never a config id (those have no dot), always a name
AUDIT_ACTION = "evidence.imported"
PORTABLE_KIND = "portable"     # the camera row's inventory kind
IMPORTS_DIR = "imports"        # imports/<the original's sha256>/: the original and its segments (storage/intake/take.py)
# A sound the segments cannot hold (an AVCHD's AC-3), in the intake's note (storage/intake/take.py `note_of`)
# and read back for an export's manifest (design/0402): one wording for both.
SOUND_LEFT = "sound {codec} in the original alone"
SOUND_CODEC = "[A-Za-z0-9_.-]{1,40}"   # an FFmpeg codec's name; the media worker's answer is checked against it
_SOUND_LEFT = re.compile("(?:^|; )" + re.escape(SOUND_LEFT).replace(r"\{codec\}", f"({SOUND_CODEC})") + "(?:;|$)")


def camera_id(device: str) -> str:
    """The catalog's camera id of a portable device (a plain name, design/0315: checked by the caller)."""
    return CAMERA_PREFIX + device


@dataclass(frozen=True)
class Intake:
    """What an intake records: its original, who and what, and the segments remuxed from it."""
    sha256: str
    bytes: int
    device: str
    recorded_by: str
    taken_by: str
    request: int | None
    intake_us: int
    original: str                               # relative to the data folder
    claimed_start_us: int | None
    claimed_from: str | None
    model: str | None
    note: str | None
    file_name: str | None = None                # the device's file name as sent (design/0403)
    segments: list[dict[str, Any]] = field(default_factory=list)   # the view's columns, path relative


def sound_left(note: str | None) -> str | None:
    """The codec of the sound an intake's note says is in its original alone, or None."""
    found = _SOUND_LEFT.search(note or "")
    return found.group(1) if found else None


def first_of(db: sqlite_utils.Database, sha256: str) -> dict[str, Any] | None:
    """The intake that took in a file of this hash, if any (a duplicate points to it)."""
    return next(db.query("SELECT id, intake_us, taken_by, device, original FROM intakes WHERE sha256 = ?",
                         [sha256]), None)


def provenance(db: sqlite_utils.Database, path: str) -> dict[str, Any] | None:
    """What an export's manifest says of an imported segment (issue 76), found by its path
    (`imports/<the original's sha256>/NNN.mp4`, which no clock correction moves): not recorded by
    this box, its original's hash, who took it in and when, whose device, its times a claim."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != IMPORTS_DIR:
        return None
    row = next(db.query("SELECT * FROM intakes WHERE sha256 = ?", [parts[1]]), None)
    if row is None:
        return None
    return {"intake": row["id"], "original_sha256": row["sha256"], "original_bytes": row["bytes"],
            "intake_us": row["intake_us"], "taken_by": row["taken_by"], "filmed_by": row["recorded_by"],
            "device": row["device"], "model": row["model"], "claimed_from": row["claimed_from"],
            "request": row["request"], "sound_left": sound_left(row["note"]), "file_name": row["file_name"],
            "note": "imported, not recorded by this box: its times are the device's claim"
                    + _sound_note(sound_left(row["note"]))}


def _sound_note(codec: str | None) -> str:
    return "" if codec is None else f"; its sound ({codec}) is in the original file alone, not in these clips"


def folders_since(db: sqlite_utils.Database, since_us: int) -> list[str]:
    """The folders (`imports/<sha256>`) of the intakes taken in since `since_us` whose original is
    not destroyed: the start-up reconcile's tail of imports (storage/footage/reconcile.py)."""
    return [f"{IMPORTS_DIR}/{r['sha256']}" for r in db.query(
        "SELECT sha256 FROM intakes WHERE intake_us >= ? AND destroyed_us IS NULL ORDER BY id", [since_us])]


def held_bytes(db: sqlite_utils.Database) -> int:
    """What the intakes hold on the disk now: every original kept, and the footage remuxed from them
    (the portable cameras' segments), for the site's share (design/0384). By the few intake rows and
    the portable cameras' index."""
    originals = next(db.query("SELECT coalesce(sum(bytes), 0) AS n FROM intakes WHERE destroyed_us IS NULL"))["n"]
    segs = next(db.query(f"SELECT coalesce(sum(bytes), 0) AS n FROM segments WHERE camera IN (SELECT id FROM cameras"
                         f" WHERE id LIKE '{CAMERA_PREFIX}%') AND {segment_rows.FOOTAGE}"))["n"]
    return int(originals) + int(segs)


def intake_row(db: sqlite_utils.Database, intake_id: int) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM intakes WHERE id = ?", [intake_id]), None)


def listing(db: sqlite_utils.Database, since_us: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """The intakes since a time, newest first."""
    return list(db.query("SELECT * FROM intakes WHERE intake_us >= ? ORDER BY id DESC LIMIT ?", [since_us, limit]))


def _camera_row(db: sqlite_utils.Database, camera: str, device: str) -> None:
    """The device's camera row, made on its first intake (footage refers to a camera row; the
    retention pass judges every camera with one: storage/retention/run.py)."""
    db.execute("INSERT OR IGNORE INTO cameras (id, name, url, enabled, configured, state, kind)"
               " VALUES (?, ?, '', 0, 0, ?, ?)", [camera, device, STOPPED, PORTABLE_KIND])


def record(db: sqlite_utils.Database, intake: Intake, actor: str) -> dict[str, Any]:
    """The intake on the catalog and the audit chain, in one transaction; its row (with `id` and
    `audit_seq`). The caller has checked the hash is not taken in already (`first_of`)."""
    camera = camera_id(intake.device)
    with db.atomic():
        _camera_row(db, camera, intake.device)
        segment_rows.insert(db, ({**s, "camera": camera, "source": IMPORTED, "intake_us": intake.intake_us}
                                 for s in intake.segments))
        row = {k: v for k, v in vars(intake).items() if k != "segments"}
        row.update(camera=camera, segments=len(intake.segments))
        intake_id = db.table("intakes").insert(row).last_pk
        detail = {"intake": intake_id, "device": intake.device, "camera": camera, "filmed_by": intake.recorded_by,
                  "sha256": intake.sha256, "bytes": intake.bytes, "request": intake.request,
                  "segments": len(intake.segments), "claimed_start_us": intake.claimed_start_us,
                  "claimed_from": intake.claimed_from, "model": intake.model, "note": intake.note,
                  "file_name": intake.file_name}
        seq = audit.append(db, actor, AUDIT_ACTION, detail, at_us=intake.intake_us)["seq"]
        db.execute("UPDATE intakes SET audit_seq = ? WHERE id = ?", [seq, intake_id])
    return {**row, "id": intake_id, "audit_seq": seq}
