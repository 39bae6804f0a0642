"""The retention engine's I/O shell: feed the planner from the catalog, carry out its plan
so that a crash at any point leaves nothing half-done, and keep holds and records. Retention
changes and their grace: storage/retention/grace.py; reports: storage/retention/report.py.

Blocking: runs on the catalog writer thread. The only code in edged that unlinks footage
(docs/requirements.md, invariant 4; R1.6).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import AbstractSet, Any, Callable, Iterable

import sqlite_utils

from storage import audit
from storage.retention import originals
from storage.footage import events, restamps, segment_rows
from storage.footage.segment_rows import FOOTAGE, PORTABLE_PREFIX
from storage.time.clock import SYSTEM, Clock
from storage.disk.fsutil import fsync_dir
from storage.retention.holds import active_holds, expire_holds, hold_from_row
from storage.retention.plan import (
    CAPACITY,
    MAX_RETENTION,
    Destroy,
    Disk,
    Grace,
    Hold,
    Plan,
    Policy,
    Segment,
)
from storage.retention.budget import plan_at
from storage.retention.grace import active_graces
from storage.retention.policy import policy_for
from storage.retention.report import Standing, standing
from storage import alarm_kinds as kinds

log = logging.getLogger(__name__)

FIRST_BATCH = 2_000     # oldest segments fetched per pass, shared among the cameras
PER_CAMERA_FLOOR = 16


# holds released in their grace (design/0022) ------------------------------------------
def released_in_grace(db: sqlite_utils.Database, now: int, grace_us: int) -> list[Hold]:
    """Holds released early whose footage is still in its grace period (rule 4)."""
    rows = db.query("SELECT * FROM holds WHERE ended_how = 'released' AND ended_us > ?", [now - grace_us])
    return [replace(hold_from_row(r), grace_until_us=r["ended_us"] + grace_us) for r in rows]


class InUse:
    """Footage being read (an export): retention passes leave it alone until the reader is done.

    Readers register on the catalog writer thread, where passes run, so no pass slips in
    between choosing the footage and claiming it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: Counter[str] = Counter()

    def add(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._paths.update(paths)

    def remove(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._paths.subtract(paths)
            self._paths = +self._paths  # drop the ones no reader holds any more

    def snapshot(self) -> set[str]:
        with self._lock:
            return set(self._paths)


def _segments(rows: Iterable[dict[str, Any]]) -> list[Segment]:
    return [Segment(r["id"], r["camera"], r["start_us"], r["end_us"], r["bytes"] or 0, not r.get("flagged"),
                    r.get("end_bound_us"), r.get("intake_us")) for r in rows]


def candidates(db: sqlite_utils.Database, policy: Policy, cameras: Iterable[str], now: int, limit: int,
               busy: set[str]) -> tuple[list[Segment], set[str]]:
    """Footage past max retention (per camera) plus each camera's oldest, sorted oldest first.

    Per camera, not the site's oldest: a camera with a long minimum holds the oldest footage,
    and the planner needs every camera's surplus to see it (design/0035). Each camera gets an
    equal share of `limit` (at least PER_CAMERA_FLOOR); `limit` 0 (the disk is not short):
    past max retention only. Returns (segments, cut): the cameras whose oldest batch was cut
    short, which may hold more.
    """
    # Stamps as corrected after a host clock step (storage/footage/restamps.py; design/0059): a re-stamped
    # segment is judged by its true interval; one flagged for a person (shift NULL) by the time a
    # person gave it, else only by the bound on its end (design/0096).
    shift, flagged = restamps.SHIFT_SQL, restamps.UNKNOWN_SQL
    cols = f"id, camera, start_us + {shift} AS start_us, end_us + {shift} AS end_us, bytes, path, {flagged} AS flagged, intake_us"
    cameras = list(cameras)
    share = max(PER_CAMERA_FLOOR, limit // max(1, len(cameras)))
    rows: dict[int, dict[str, Any]] = {}
    cut: set[str] = set()
    for cam in cameras:
        cutoff = now - policy.limits(cam).max_us
        # a portable device's footage by its intake, whatever it claims (design/0381): a claim
        # years ahead never keeps it past its maximum; its few rows, by the camera's index. The box's own by
        # its stamps as made (the index), or re-stamped back (stamped by a clock that was ahead: its stamps
        # as made are later than its true time, by the step; design/0364): AGE_OK judges its corrected end
        if cam.startswith(PORTABLE_PREFIX):
            by_age, args = "(intake_us < ? OR intake_us IS NULL AND start_us < ? AND end_us < ?)", [cutoff] * 3
        else:
            by_age, args = "(start_us < ? AND end_us < ? OR id IN (" + restamps.BACK_SQL + "))", [cutoff] * 2
        for r in db.query(f"SELECT {cols} FROM segments WHERE camera = ? AND {by_age} AND " + FOOTAGE + " AND "
                          + restamps.AGE_OK, [cam, *args, cutoff]):
            rows[r["id"]] = r
        bounds = restamps.end_bounds(db, cam)
        due = [i for i, bound in bounds.items() if bound is not None and bound < cutoff]
        for r in db.query(f"SELECT {cols} FROM segments WHERE id IN (SELECT value FROM json_each(?)) AND {FOOTAGE}",
                          [json.dumps(due)]) if due else ():
            rows[r["id"]] = {**r, "end_bound_us": bounds[r["id"]]}
        oldest = [] if not limit else list(db.query(
            f"SELECT {cols} FROM segments WHERE camera = ? AND {FOOTAGE} ORDER BY segments.start_us LIMIT ?",
            [cam, share]))
        for r in oldest:
            rows.setdefault(r["id"], r)  # a flagged one keeps its bound
        if len(oldest) == share:
            cut.add(cam)
    keep = sorted((r for r in rows.values() if r["path"] not in busy), key=lambda r: (r["start_us"], r["id"]))
    return _segments(keep), cut


def exhausted(segs: list[Segment], p: Plan, holds: list[Hold], cut: set[str], now: int) -> set[str]:
    """Cameras whose batch was cut and that the plan used up (every unheld segment taken):
    under disk pressure their next footage may come before what was taken elsewhere."""
    if not cut or not (p.short_bytes or p.stop_recording or any(d.reason == CAPACITY for d in p.destroy)):
        return set()
    taken = {d.segment.id for d in p.destroy}
    active = [h for h in holds if h.active(now)]
    left = {s.camera for s in segs if s.id not in taken and not any(h.covers(s) for h in active)}
    return cut - left


@dataclass
class PassResult:
    """A pass and what the catalog says once it is done, read in the pass's own trip to the writer:
    what follows it (the alarms, the holds' room) asks the catalog nothing more (issue 57)."""
    pass_id: int
    plan: Plan
    destroyed: int
    bytes: int
    expired_holds: list[int]
    free_before: int
    free_after: int
    policy: Policy                      # the one the pass planned with (the disk's size as it read it)
    total_bytes: int                    # the data disk's size, as the pass read it
    after: Standing                     # breaches raised, retention achieved, notice, holds' bytes, rates
    errors: list[str] = field(default_factory=list)   # files skipped (kept in `garbage` for the next pass)
    originals: int = 0                  # intakes' original files destroyed (design/0354)


def run_pass(db: sqlite_utils.Database, data_dir: Path, retention: Any, cameras: list[Any],
             disk_usage: Callable[[Path], Any], *, clock: Clock = SYSTEM, busy: AbstractSet[str] = frozenset(),
             expect: Callable[[str, str], None] | None = None,
             unlink: Callable[[Path], None] | None = None, age_trusted: bool = True,
             age_now_us: int | None = None, measured_from_us: int | None = None,
             unrecorded: Iterable[Grace] = ()) -> PassResult:
    """One retention pass at the clock's time: expire holds, plan, destroy, record. With
    `age_trusted` False (the host clock just stepped: design/0059) nothing goes by age and no
    hold expires: only the disk's reserve is kept. `age_now_us` (an uncorroborated host clock,
    design/0095): age and hold expiry are judged at that time, never later than the clock's; with
    `measured_from_us` (design/0305) that time judges only footage ending before it (recorded before
    this boot), and the clock's the rest. `unrecorded`: lowered maxima whose change is not on the
    record yet (grace.unrecorded_graces): the old max holds for them too."""
    now = clock.now_us()
    judged = now if age_now_us is None else min(now, age_now_us)
    expired = expire_holds(db, judged) if age_trusted else []
    usage = disk_usage(data_dir)
    policy = policy_for(retention, cameras, usage.total)
    disk = Disk(usage.free, usage.total)
    holds = active_holds(db, judged if age_trusted else 0) + released_in_grace(db, judged, retention.grace_us)
    graces = active_graces(db, judged) + list(unrecorded)
    # Every camera with footage has a row in `cameras` (foreign key; rows are never deleted).
    cam_ids = sorted({c.id for c in cameras} | {r["id"] for r in db.query("SELECT id FROM cameras")})
    limit = FIRST_BATCH if usage.free < policy.reserve_bytes else 0  # capacity needs the oldest, nothing else
    while True:
        segs, cut = candidates(db, policy, cam_ids, now, limit, set(busy))
        p = plan_at(segs, holds, policy, disk, now, graces, age_trusted, age_now_us, measured_from_us)
        if not exhausted(segs, p, holds, cut, now):
            break
        limit *= 4  # a camera's oldest batch was used up (or held): look further
    pass_id = db.table("retention_passes").insert({"started_us": now, "free_before": usage.free,
                                                   "reserve": policy.reserve_bytes}).last_pk
    assert pass_id is not None
    errors: list[str] = []
    destroy(db, data_dir, p.destroy, pass_id, expect, unlink=unlink, errors=errors, clock=clock)
    gone_originals = originals.run(db, data_dir, holds, policy, judged, graces, age_trusted, pass_id, clock.now_us(),
                                   expect=expect, unlink=unlink, errors=errors)  # after its segments (design/0354)
    destroyed = len(p.destroy)
    freed = sum(d.segment.bytes for d in p.destroy)
    free_after = disk_usage(data_dir).free
    db.execute("UPDATE retention_passes SET finished_us = ?, destroyed = ?, bytes = ?, free_after = ? WHERE id = ?",
               [clock.now_us(), destroyed, freed, free_after, pass_id])
    if destroyed or gone_originals:  # the pass summary goes on the audit record (R7); each segment has its own row
        by_reason: dict[str, int] = {}
        for d in p.destroy:
            by_reason[d.reason] = by_reason.get(d.reason, 0) + 1
        audit.append(db, "edged", "retention.pass", {"pass": pass_id, "destroyed": destroyed, "bytes": freed,
                                                     "by_reason": by_reason, **pass_breaches(p),
                                                     **({"originals": gone_originals} if gone_originals else {})})
    after = standing(db, clock.now_us())
    return PassResult(pass_id, p, destroyed, freed, expired, usage.free, free_after, policy, usage.total, after, errors,
                      gone_originals)


def due_if_confirmed(db: sqlite_utils.Database, retention: Any, cameras: list[Any], total_bytes: int, now_us: int,
                     age_now_us: int | None, measured_from_us: int | None) -> dict[str, dict[str, int]]:
    """What an approver's `confirm-time` makes due by age (issue 90 item 3, design/0373), reading only:
    the segments past their maximum at the host's time that are not at the time retention proves now
    (`age_now_us`, for footage ending before `measured_from_us`), per camera: how many, their bytes, the
    oldest start and the newest end (true stamps). Holds and graces as they stand at each time; the disk
    is taken as not short (overwrite for space does not wait for anyone)."""
    policy = policy_for(retention, cameras, total_bytes)
    disk = Disk(total_bytes, total_bytes)
    cam_ids = sorted({c.id for c in cameras} | {r["id"] for r in db.query("SELECT id FROM cameras")})
    segs, _cut = candidates(db, policy, cam_ids, now_us, 0, set())
    judged = now_us if age_now_us is None else min(now_us, age_now_us)

    def by_age(at: int, age: int | None, since: int | None) -> set[int]:
        holds = active_holds(db, at) + released_in_grace(db, at, retention.grace_us)
        p = plan_at(segs, holds, policy, disk, now_us, active_graces(db, at), True, age, since)
        return {d.segment.id for d in p.destroy if d.reason == MAX_RETENTION}

    made = by_age(now_us, None, None) - by_age(judged, age_now_us, measured_from_us)
    out: dict[str, dict[str, int]] = {}
    for seg in segs:
        if seg.id in made:
            c = out.setdefault(seg.camera, {"segments": 0, "bytes": 0, "oldest_us": seg.start_us, "newest_us": seg.end_us})
            c["segments"] += 1
            c["bytes"] += seg.bytes
            c["oldest_us"], c["newest_us"] = min(c["oldest_us"], seg.start_us), max(c["newest_us"], seg.end_us)
    return out


def pass_breaches(p: Plan) -> dict[str, Any]:
    """What the pass record says about minimums it could not keep (design/0035): per breached
    camera the retention kept and its minimum; with on_full = stop, the cameras it protected."""
    out: dict[str, Any] = {}
    breached = {a.camera: {"achieved_us": a.achieved_us, "min_us": a.min_us}
                for a in p.alarms if a.kind == kinds.MIN_RETENTION_BREACH.name and a.camera}
    if breached:
        out["breached"] = breached
    if p.stop_recording:
        out["stopped_for"] = p.blocked_by
    return out


def destroy(db: sqlite_utils.Database, data_dir: Path, destroys: list[Destroy], pass_id: int,
            expect: Callable[[str, str], None] | None = None, *,
            unlink: Callable[[Path], None] | None = None, errors: list[str] | None = None,
            clock: Clock = SYSTEM) -> int:
    """Record, then unlink, then forget; safe to interrupt anywhere (finish_garbage completes it)."""
    if not destroys:
        return finish_garbage(db, data_dir, expect, unlink=unlink, errors=errors)  # a failed unlink's retry
    at = clock.now_us()
    gone: list[int] = []
    with db.atomic():
        for d in destroys:
            row = next(db.query("SELECT * FROM segments WHERE id = ?", [d.segment.id]), None)
            if row is None:
                continue
            db.execute("INSERT INTO destructions (segment_id, camera, start_us, end_us, path, bytes, sha256, reason,"
                       " destroyed_us, pass_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [row["id"], row["camera"], row["start_us"], row["end_us"], row["path"], row["bytes"],
                        row["sha256"], d.reason, at, pass_id])
            db.execute("INSERT INTO garbage (segment_id, path) VALUES (?, ?)", [row["id"], row["path"]])
            segment_rows.delete(db, row["id"])
            gone += events.destroy_with(db, row["camera"], row["start_us"], row["end_us"] or row["start_us"])
        if gone:  # motion events are footage metadata: destroyed with the footage, on the record
            audit.append(db, "edged", "events.destroyed", {"pass": pass_id, "events": len(gone), "ids": gone})
    return finish_garbage(db, data_dir, expect, unlink=unlink, errors=errors)


def finish_garbage(db: sqlite_utils.Database, data_dir: Path,
                   expect: Callable[[str, str], None] | None = None, *,
                   unlink: Callable[[Path], None] | None = None, errors: list[str] | None = None) -> int:
    """Unlink what the garbage table names, fsync the folders, then forget the rows.

    A file that cannot be unlinked (EPERM, EROFS, EMFILE...) or whose folder cannot be synced
    keeps its row, so the next pass tries again; it is named in `errors` (an alarm for the
    caller), never raised: one bad file must not stop a pass, let alone recording."""
    unlink = unlink or os.unlink
    rows = list(db.query("SELECT segment_id, path FROM garbage"))
    gone: dict[Path, list[int]] = {}
    for r in rows:
        path = data_dir / r["path"]
        if expect is not None:
            expect(r["path"], "deleted")
        try:
            unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            _note(errors, f"cannot remove {r['path']}: {exc.strerror or exc}")
            continue
        gone.setdefault(path.parent, []).append(r["segment_id"])
    done: list[int] = []
    for folder, ids in gone.items():
        try:
            if folder.exists():
                fsync_dir(folder)
        except OSError as exc:
            _note(errors, f"cannot sync folder {folder.relative_to(data_dir)}: {exc.strerror or exc}")
            continue
        done.extend(ids)
    with db.atomic():
        for segment_id in done:
            db.execute("DELETE FROM garbage WHERE segment_id = ?", [segment_id])
    return len(done)


def _note(errors: list[str] | None, message: str) -> None:
    log.error("retention: %s; the file is skipped and tried again at the next pass", message)
    if errors is not None:
        errors.append(message)
