"""An intake's original file destroyed by the retention rules (issue 76, design/0354): the I/O around
the planner's `originals_due` (storage/retention/intake_original.py). A retention pass, after its segments,
reads each kept original's facts from the catalog, records those due (the intake's row says when and
by which pass; `evidence.original_destroyed` on the audit chain, which the office hears as every
record), then removes the intake's folder, `imports/<sha256>/`. Record, then remove: a crash in
between is finished by the next pass (`finish`), as the garbage of segments is.

Blocking: runs on the catalog writer thread, inside the retention pass (storage/retention/run.py).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlite_utils

from storage import audit
from storage.disk.fsutil import fsync_dir
from storage.footage.intakes import IMPORTS_DIR
from storage.retention.intake_original import Original, originals_due
from storage.retention.plan import MAX_RETENTION, Grace, Hold, Policy

log = logging.getLogger(__name__)

ORIGINAL_DESTROYED = "evidence.original_destroyed"   # edged/rules/audit_words.py says it in words


def _under(sha256: str) -> tuple[str, str]:
    """The path range of an intake's files (`imports/<sha256>/...`): an index range of the stored paths."""
    return f"{IMPORTS_DIR}/{sha256}/", f"{IMPORTS_DIR}/{sha256}0"


def kept(db: sqlite_utils.Database) -> list[tuple[Original, dict[str, Any]]]:
    """Every original not destroyed yet, with its intake's row. Its footage's time: its segments'
    stamps, those still kept and those destroyed; an original edged could not remux has none and
    is placed at its claimed start (else its intake)."""
    out = []
    for row in db.query("SELECT * FROM intakes WHERE destroyed_us IS NULL ORDER BY id"):
        low, high = _under(row["sha256"])
        left, first, last = db.execute(
            "SELECT count(*), min(start_us), max(start_us + dur_us) FROM segment_rows WHERE path >= ? AND path < ?",
            [low, high]).fetchone()
        gone_first, gone_last = db.execute(
            "SELECT min(start_us), max(coalesce(end_us, start_us)) FROM destructions WHERE camera = ? AND path >= ?"
            " AND path < ?", [row["camera"], low, high]).fetchone()
        starts = [x for x in (first, gone_first) if x is not None]
        ends = [x for x in (last, gone_last) if x is not None]
        at = row["claimed_start_us"] if row["claimed_start_us"] is not None else row["intake_us"]
        start = min(starts) if starts else at
        out.append((Original(row["id"], row["camera"], row["intake_us"], start, max(ends) if ends else start, left),
                    dict(row)))
    return out


def run(db: sqlite_utils.Database, data_dir: Path, holds: Iterable[Hold], policy: Policy, now_us: int,
        graces: Iterable[Grace], age_trusted: bool, pass_id: int, at_us: int, *,
        expect: Callable[[str, str], None] | None = None, unlink: Callable[[Path], None] | None = None,
        errors: list[str] | None = None) -> int:
    """This pass's originals: those due recorded, then every recorded one's folder removed. Returns
    how many were destroyed on record by this pass. `now_us`: the time age is judged at."""
    found = kept(db)
    rows = {o.intake: row for o, row in found}
    due = originals_due([o for o, _row in found], holds, policy, now_us, graces, age_trusted)
    with db.atomic():
        for o in due:
            row = rows[o.intake]
            db.execute("UPDATE intakes SET destroyed_us = ?, destroyed_pass = ? WHERE id = ?",
                       [at_us, pass_id, o.intake])
            audit.append(db, "edged", ORIGINAL_DESTROYED, {
                "intake": o.intake, "camera": o.camera, "sha256": row["sha256"], "bytes": row["bytes"],
                "original": row["original"], "intake_us": o.intake_us, "start_us": o.start_us, "end_us": o.end_us,
                "reason": MAX_RETENTION, "pass": pass_id}, at_us=at_us)
    finish(db, data_dir, expect=expect, unlink=unlink, errors=errors)
    return len(due)


def finish(db: sqlite_utils.Database, data_dir: Path, *, expect: Callable[[str, str], None] | None = None,
           unlink: Callable[[Path], None] | None = None, errors: list[str] | None = None) -> int:
    """Remove the folder of every original destroyed on record that is still on the disk (a crash,
    or a file that could not be removed at its pass): each file, then the folder, then the
    imports folder synced. A failure is noted in `errors` and tried again at the next pass.
    Returns how many folders went."""
    unlink = unlink or os.unlink
    done = 0
    for row in db.query("SELECT sha256 FROM intakes WHERE destroyed_us IS NOT NULL"):
        folder = data_dir / IMPORTS_DIR / row["sha256"]
        if not folder.is_dir():
            continue
        try:
            for f in sorted(folder.iterdir()):
                rel = f"{IMPORTS_DIR}/{row['sha256']}/{f.name}"
                if expect is not None:
                    expect(rel, "deleted")
                try:
                    unlink(f)
                except FileNotFoundError:
                    pass
            if expect is not None:
                expect(f"{IMPORTS_DIR}/{row['sha256']}", "deleted")
            folder.rmdir()
            fsync_dir(folder.parent)
        except OSError as exc:
            message = f"cannot remove {IMPORTS_DIR}/{row['sha256']}: {exc.strerror or exc}"
            log.error("retention: %s; tried again at the next pass", message)
            if errors is not None:
                errors.append(message)
            continue
        done += 1
    return done
