"""What an export takes (R5.5, R6): the plan (which segments, which holes: pure), the catalog
rows it needs, each source checked against its recorded SHA-256, and progress in source bytes.
Shared by the remux (storage/export/remux.py) and the fragment copy (storage/export/copy.py)."""

from __future__ import annotations

import hashlib
import io
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from storage.export.signed_video import MAX_TAIL_US
from storage.footage import intakes, segments as segment_table
from storage.footage.segment_rows import FOOTAGE_STATES, MISSING, QUARANTINED, WRITING
from storage.disk.hashing import sha256_file

if TYPE_CHECKING:
    import sqlite_utils

GAP_TOLERANCE_US = 1_000          # a run's segments abut exactly; more than this is a hole
LEAD_LOOKBACK_US = 24 * 3600 * 1_000_000  # how far back a recording run's first segment is looked for
IN_MEMORY_MAX = 128 << 20         # segments up to this size are read once: hashed and remuxed from memory
PROGRESS_EVERY_S = 0.25

Progress = Callable[[dict[str, Any]], None]


class ExportError(Exception):
    """The export was refused or failed; the message names the file and says what to do."""



# --- the plan: which segments, which holes (pure) ------------------------------------------------
@dataclass(frozen=True, slots=True)
class CameraPlan:
    camera: str
    sources: list[dict[str, Any]]   # footage rows in time order
    gaps: list[dict[str, Any]]      # {from_us, to_us, reason}
    # the footage rows right after the range, from which a signing camera's clip takes the rest
    # of its last GOP's signature (storage/export/signed_video.py, design/0135); used only then
    tail: list[dict[str, Any]] = field(default_factory=list)
    # the footage rows before the range where a signing camera's certificate SEI may be: the one
    # just before it and the first of its recording run (design/0135); used only then
    lead: list[dict[str, Any]] = field(default_factory=list)


def plan_camera(camera: str, rows: list[dict[str, Any]], from_us: int, to_us: int,
                explain: Sequence[dict[str, Any]] = (), lead: Sequence[dict[str, Any]] = ()) -> CameraPlan:
    """The footage segments overlapping [from, to) and the holes between them.

    `rows` are the camera's catalog segment rows (any state); `explain` are records that say
    why footage is absent (the catalog's gaps, destructions), each with from_us, to_us, reason.
    """
    footage = sorted((r for r in rows if r["state"] in FOOTAGE_STATES and r["start_us"] < to_us
                      and (r["end_us"] or r["start_us"]) > from_us), key=lambda r: r["start_us"])
    absent = [{"from_us": r["start_us"], "to_us": r["end_us"] or to_us, "reason": _state_reason(r)}
              for r in rows if r["state"] not in FOOTAGE_STATES]
    gaps = []
    cursor = from_us
    for r in footage:
        if r["start_us"] > cursor + GAP_TOLERANCE_US:
            gaps.append(_gap(cursor, r["start_us"], [*absent, *explain]))
        cursor = max(cursor, r["end_us"] or r["start_us"])
    if cursor < to_us - GAP_TOLERANCE_US:
        gaps.append(_gap(cursor, to_us, [*absent, *explain]))
    tail = sorted((r for r in rows if r["state"] in FOOTAGE_STATES and to_us <= r["start_us"] < to_us + MAX_TAIL_US),
                  key=lambda r: r["start_us"])
    return CameraPlan(camera, footage, gaps, tail, [r for r in lead if r["state"] in FOOTAGE_STATES])


def _state_reason(row: dict[str, Any]) -> str:
    return {WRITING: "still being recorded: export again once the segment is closed",
            MISSING: "the segment file is missing", QUARANTINED: "the segment was unreadable after a crash "
            "and is quarantined"}.get(row["state"], f"segment {row['state']}")


def _gap(start: int, end: int, explain: list[dict[str, Any]]) -> dict[str, Any]:
    reasons = []
    for e in explain:
        if e["from_us"] < end and e["to_us"] > start and e["reason"] not in reasons:
            reasons.append(e["reason"])
    return {"from_us": start, "to_us": end, "seconds": round((end - start) / 1e6, 3),
            "reason": "; ".join(reasons) or "no footage recorded"}


def gather(db: sqlite_utils.Database, cameras: list[str], from_us: int, to_us: int) -> list[dict[str, Any]]:
    """What the export needs from the catalog, as plain data (any thread with a connection)."""
    out = []
    for cam in cameras:
        row = next(db.query("SELECT id, name, location FROM cameras WHERE id = ?", [cam]), None)
        if row is None:
            raise ExportError(f"no camera {cam!r} in the catalog")
        segs = segment_table.between(db, from_us, to_us + MAX_TAIL_US, cam, limit=1_000_000)  # a signed tail's too
        for seg in segs:   # a portable device's footage says so, with its original's hash (issue 76)
            if seg.get("intake_us") is not None:
                seg["imported"] = intakes.provenance(db, seg["path"])
        explain = [{"from_us": g["from_us"], "to_us": g["to_us"], "reason": g["reason"]} for g in db.query(
            "SELECT * FROM gaps WHERE camera = ? AND from_us < ? AND to_us > ?", [cam, to_us, from_us])]
        explain += [{"from_us": d["start_us"], "to_us": d["end_us"] or d["start_us"],
                     "reason": f"destroyed by the retention engine ({d['reason']})"} for d in db.query(
            "SELECT * FROM destructions WHERE camera = ? AND start_us < ? AND coalesce(end_us, start_us) > ?",
            [cam, to_us, from_us])]
        out.append({"camera": cam, "name": row["name"], "location": row["location"], "segments": segs,
                    "explain": explain, "lead": run_lead(db, cam, segs, from_us)})
    return out


def run_lead(db: sqlite_utils.Database, camera: str, segs: list[dict[str, Any]], from_us: int) -> list[dict[str, Any]]:
    """The first segment of the recording run the range starts in, and the one just before the
    range (oldest first; none when the range starts a run): where a signing camera's certificate
    SEI, sent when its stream starts (or every so often), is (design/0135)."""
    first = min((r["start_us"] for r in segs if r["start_us"] <= from_us), default=from_us)
    before = [r for r in segment_table.between(db, first - LEAD_LOOKBACK_US, first, camera, limit=1_000_000)
              if r["start_us"] < first and r["state"] in FOOTAGE_STATES]
    run: list[dict[str, Any]] = []
    for r in sorted(before, key=lambda r: r["start_us"], reverse=True):
        if r["end_us"] is None or abs(r["end_us"] - (run[-1]["start_us"] if run else first)) > GAP_TOLERANCE_US:
            break
        run.append(r)
    return [run[-1], run[0]] if len(run) > 1 else run


# --- progress ------------------------------------------------------------------------------
@dataclass
class Meter:
    """Progress over all cameras in bytes: in the media worker each source byte is hashed, then
    remuxed (`passes` 2); in the signing process each clip byte is written once by the C2PA SDK
    (`passes` 1; the daemon maps each stage to its share of the export: evidence._share)."""

    total: int
    report: Progress | None
    done: float = 0.0
    _last: float = field(default=0.0)
    passes: int = 2

    def add(self, n: float, camera: str, final: bool = False) -> None:
        self.done += n
        now = time.monotonic()
        if self.report is not None and (final or now - self._last >= PROGRESS_EVERY_S):
            self._last = now
            whole = self.passes * self.total
            fraction = 1.0 if final else round(min(1.0, self.done / max(1, whole)), 4)
            self.report({"stage": "export", "camera": camera, "done_bytes": min(self.total, int(self.done / self.passes)),
                         "total_bytes": self.total, "fraction": fraction})


def utc(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the manifest's entries, the same whichever way the clip was made ----------------------------------
def clip_entry(path: Path, sha256: str, origin_us: int, duration_us: int, frames: int,
               video: dict[str, Any], audio: dict[str, Any] | None) -> dict[str, Any]:
    return {"file": path.name, "sha256": sha256, "bytes": path.stat().st_size,
            "duration_s": round(duration_us / 1e6, 6), "frames": frames,
            "from_us": origin_us, "to_us": origin_us + duration_us,
            "from_utc": utc(origin_us), "to_utc": utc(origin_us + duration_us),
            "video": video, "audio": audio}


def source_entry(row: dict[str, Any], clip: str) -> dict[str, Any]:
    """A source segment's entry; `clip_offset_s` is set when its first sample is written."""
    entry = {"path": row["path"], "sha256": row["sha256"], "bytes": row["bytes"], "state": row["state"],
             "start_us": row["start_us"], "end_us": row["end_us"], "clip": clip, "clip_offset_s": None}
    return {**entry, **corrected_stamps(row), **({"imported": row["imported"]} if row.get("imported") else {})}


def corrected_stamps(row: dict[str, Any]) -> dict[str, Any]:
    """A segment the host clock watch corrected (design/0059): its stamps as corrected next to the
    originals, or `flagged` (stamped by a clock that was behind; its time is unknown), with who
    resolved the flag, when and why once a person has (`resolved`, with the true start they gave)."""
    if not row.get("restamped"):
        return {}
    shift = row.get("shift_us")
    if shift is None:
        if row.get("resolved_us") is None:
            return {"flagged": True}
        resolved = {"by": row["resolved_by"], "at_us": row["resolved_us"], "reason": row["resolved_reason"]}
        given = row.get("resolved_shift_us")
        if given is not None:  # the time a person found it began (design/0096)
            resolved["true_start_us"] = row["start_us"] + given
        return {"flagged": True, "resolved": resolved}
    end = row["end_us"]
    return {"corrected_start_us": row["start_us"] + shift, "corrected_end_us": None if end is None else end + shift}


def name_clips(out: Path, camera: str, clips: list[dict[str, Any]], sources: list[dict[str, Any]]) -> None:
    """One clip (the usual case) is named for the camera; sources none of whose samples fell in
    the range name no clip."""
    if len(clips) == 1:
        name = f"{camera}.mp4"
        os.rename(out / clips[0]["file"], out / name)
        for s in sources:
            s["clip"] = name if s["clip"] == clips[0]["file"] else s["clip"]
        clips[0]["file"] = name
    for s in sources:
        if s["clip_offset_s"] is None:
            s["clip"] = None


def source_path(data_dir: Path, row: dict[str, Any]) -> Path:
    """The segment's file, refused if the catalog points outside the data folder or has no hash."""
    rel = row["path"]
    path: Path = (data_dir / rel).resolve()
    if data_dir.resolve() not in path.parents:
        raise ExportError(f"{rel}: the catalog points outside the data folder; export refused")
    if not row.get("sha256"):
        raise ExportError(f"{rel}: the catalog has no hash for it, so it cannot be vouched for; export refused")
    return path


def gone(row: dict[str, Any]) -> ExportError:
    return ExportError(f"{row['path']}: the segment file is gone (destroyed by retention meanwhile, or removed "
                       "by hand: see `edgectl alarms`); export refused")


def check_hash(row: dict[str, Any], actual: str) -> None:
    if actual != row["sha256"]:
        raise ExportError(f"{row['path']}: its SHA-256 is {actual}, but the catalog recorded {row['sha256']} when "
                          "it was written: the file was changed. Export refused; report it as possible tampering")


def open_verified(data_dir: Path, row: dict[str, Any]) -> Any:
    """The segment's bytes (or path, if large) after checking its SHA-256 against the catalog.
    Runs a segment ahead of the remux, on its own thread (hashing releases the GIL)."""
    path = source_path(data_dir, row)
    try:
        if (row["bytes"] or 0) <= IN_MEMORY_MAX:
            with open(path, "rb") as f:
                data = f.read()
            actual = hashlib.sha256(data).hexdigest()
            source: Any = io.BytesIO(data)
        else:
            actual, source = sha256_file(path), str(path)
    except FileNotFoundError:
        raise gone(row) from None
    check_hash(row, actual)
    return source
