"""Evidence export (R5.5, R6): the footage of a copy grant as one MP4 per camera, a manifest
that says where every byte came from, and the node's Ed25519 signature over the manifest.

The clip is remuxed from the segments, never re-encoded. It starts at the keyframe at or
before the requested start (so it starts playable) and ends at the requested end. Clip time
maps to wall time: second t of a clip is its `from_us` + t. A hole in the footage stays a hole
in the clip's timestamps and is listed in the manifest with its reason; it is never closed up
silently. Each source segment's SHA-256 is checked against the catalog before it is used: a
file that changed since it was recorded fails the export, named.

A third party needs only the folder and the node's public key (published in the MQTT birth):
the signature covers manifest.json byte for byte, and the manifest holds each clip's SHA-256.

Blocking throughout (file I/O, hashing, PyAV): the daemon calls it from a thread.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import av

from storage import nodekey
from storage.catalog import FOOTAGE_STATES, MISSING, QUARANTINED, WRITING, segments_between
from storage.clock import SYSTEM
from storage.fsutil import PRIVATE_DIR, PRIVATE_FILE, fsync_dir, private_dir, write_new
from storage.hashing import sha256_file

FORMAT = "edged-export/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"        # raw 64-byte Ed25519 signature over manifest.json
PUBLIC_KEY = "node-public-key.pem"  # the node's public key (check it against the published one)
EXPORTS_DIR = "exports"           # staging for edgectl export, under the data folder
WORKING_DIR = "working"           # working copies for a viewing, destroyed after it (R5.5)
GAP_TOLERANCE_US = 1_000          # a run's segments abut exactly; more than this is a hole
IN_MEMORY_MAX = 128 << 20         # segments up to this size are read once: hashed and remuxed from memory
# find_stream_info would decode frames to learn what the MP4 header already says; a remux needs none.
INPUT_OPTIONS = {"skip_frame": "all"}
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


def plan_camera(camera: str, rows: list[dict[str, Any]], from_us: int, to_us: int,
                explain: list[dict[str, Any]] = ()) -> CameraPlan:
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
    return CameraPlan(camera, footage, gaps)


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


def gather(db: Any, cameras: list[str], from_us: int, to_us: int) -> list[dict[str, Any]]:
    """What the export needs from the catalog, as plain data (any thread with a connection)."""
    out = []
    for cam in cameras:
        row = next(db.query("SELECT id, name, location FROM cameras WHERE id = ?", [cam]), None)
        if row is None:
            raise ExportError(f"no camera {cam!r} in the catalog")
        segs = segments_between(db, from_us, to_us, cam, limit=1_000_000)
        explain = [{"from_us": g["from_us"], "to_us": g["to_us"], "reason": g["reason"]} for g in db.query(
            "SELECT * FROM gaps WHERE camera = ? AND from_us < ? AND to_us > ?", [cam, to_us, from_us])]
        explain += [{"from_us": d["start_us"], "to_us": d["end_us"] or d["start_us"],
                     "reason": f"destroyed by the retention engine ({d['reason']})"} for d in db.query(
            "SELECT * FROM destructions WHERE camera = ? AND start_us < ? AND coalesce(end_us, start_us) > ?",
            [cam, to_us, from_us])]
        out.append({"camera": cam, "name": row["name"], "location": row["location"], "segments": segs,
                    "explain": explain})
    return out


# --- writing an export ------------------------------------------------------------------------------
@dataclass
class _Meter:
    """Progress over all cameras in source bytes (each byte is hashed, then remuxed)."""

    total: int
    report: Progress | None
    done: float = 0.0
    _last: float = field(default=0.0)

    def add(self, n: float, camera: str, final: bool = False) -> None:
        self.done += n
        now = time.monotonic()
        if self.report is not None and (final or now - self._last >= PROGRESS_EVERY_S):
            self._last = now
            self.report({"stage": "export", "camera": camera, "done_bytes": int(self.done / 2),
                         "total_bytes": self.total, "fraction": round(min(1.0, self.done / max(1, 2 * self.total)), 4)})


def write_clips(data_dir: Path, tmp: Path, cameras: list[dict[str, Any]], from_us: int, to_us: int,
                progress: Progress | None = None) -> list[dict[str, Any]]:
    """Remux each camera's footage of the range into clips in `tmp`; the manifest's camera
    entries. This is the part that parses media (run by storage/export_worker.py in a worker
    process by the daemon, design/0020)."""
    plans = [plan_camera(c["camera"], c["segments"], from_us, to_us, c.get("explain", [])) for c in cameras]
    meter = _Meter(sum(r["bytes"] or 0 for p in plans for r in p.sources), progress)
    entries = []
    for cam, plan in zip(cameras, plans):
        clips, sources = _remux_camera(data_dir, tmp, plan, from_us, to_us, meter)
        first = min((c["from_us"] for c in clips), default=None)
        last = max((c["to_us"] for c in clips), default=None)
        for g in plan.gaps:
            g["in_clip"] = next((c["file"] for c in clips if c["from_us"] <= g["from_us"] < c["to_us"]), None)
            if g["in_clip"] is not None:
                clip = next(c for c in clips if c["file"] == g["in_clip"])
                g["clip_offset_s"] = round((g["from_us"] - clip["from_us"]) / 1e6, 6)
        entries.append({"camera": cam["camera"], "name": cam.get("name"), "location": cam.get("location"),
                        "actual": None if first is None else {"from_us": first, "to_us": last,
                                                              "from_utc": _utc(first), "to_utc": _utc(last)},
                        "clips": clips, "sources": sources, "gaps": plan.gaps})
    meter.add(0, "", final=True)
    return entries


ClipsWriter = Callable[[Path, Path, list[dict[str, Any]], int, int, "Progress | None"], list[dict[str, Any]]]


def write_export(data_dir: Path, out_dir: Path, *, key: nodekey.NodeKey, header: dict[str, Any],
                 cameras: list[dict[str, Any]], from_us: int, to_us: int,
                 progress: Progress | None = None, now_us: int | None = None,
                 clips_writer: ClipsWriter | None = None) -> dict[str, Any]:
    """Write clips, manifest, signature and public key into `out_dir` (made here; must not exist).

    `cameras` is what `gather` returns; `header` holds who and why (site, node, request,
    grant, custodian, recipient), copied into the manifest as is. Built in a hidden sibling
    folder and renamed at the end, so `out_dir` either holds a whole export or nothing.
    `clips_writer`: write_clips, or the same run elsewhere (the daemon's worker process); the
    manifest is signed here, so the key never goes where media is parsed. Returns the manifest.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if to_us <= from_us:
        raise ExportError("the range is empty: its end must be after its start")
    if out_dir.exists():
        raise ExportError(f"{out_dir} already exists; exports never overwrite")
    plans = [plan_camera(c["camera"], c["segments"], from_us, to_us, c.get("explain", [])) for c in cameras]
    if not any(p.sources for p in plans):
        raise ExportError("there is no footage in that range for " + ", ".join(c["camera"] for c in cameras))
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)  # a previous attempt that crashed (not footage: our own scratch)
    private_dir(tmp.parent)
    tmp.mkdir(mode=PRIVATE_DIR)
    os.chmod(tmp, PRIVATE_DIR)
    try:
        entries = (clips_writer or write_clips)(data_dir, tmp, cameras, from_us, to_us, progress)
        created = SYSTEM.now_us() if now_us is None else now_us
        manifest = {
            "format": FORMAT, **header,
            "requested": {"from_us": from_us, "to_us": to_us, "from_utc": _utc(from_us), "to_utc": _utc(to_us)},
            "cameras": entries,
            "created_us": created, "created_utc": _utc(created),
            "node_public_key": key.public_b64, "node_key_fingerprint": key.fingerprint,
            "time_note": "second t of a clip is its from_us + t (UTC microseconds); gaps are holes in "
                         "the clip's timestamps, listed here with their reason",
        }
        body = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"
        write_new(tmp / MANIFEST, body)
        write_new(tmp / SIGNATURE, key.sign(body))
        write_new(tmp / PUBLIC_KEY, key.public_pem())
        fsync_dir(tmp)
        os.rename(tmp, out_dir)
        fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _utc(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- remuxing one camera ------------------------------------------------------------------------------
def _open_verified(data_dir: Path, row: dict[str, Any]) -> Any:
    """The segment's bytes (or path, if large) after checking its SHA-256 against the catalog.
    Runs a segment ahead of the remux, on its own thread (hashing releases the GIL)."""
    rel = row["path"]
    path = (data_dir / rel).resolve()
    if data_dir.resolve() not in path.parents:
        raise ExportError(f"{rel}: the catalog points outside the data folder; export refused")
    if not row.get("sha256"):
        raise ExportError(f"{rel}: the catalog has no hash for it, so it cannot be vouched for; export refused")
    try:
        if (row["bytes"] or 0) <= IN_MEMORY_MAX:
            with open(path, "rb") as f:
                data = f.read()
            actual = hashlib.sha256(data).hexdigest()
            source: Any = io.BytesIO(data)
        else:
            actual, source = sha256_file(path), str(path)
    except FileNotFoundError:
        raise ExportError(f"{rel}: the segment file is gone (destroyed by retention meanwhile, or removed "
                          "by hand: see `edgectl alarms`); export refused") from None
    if actual != row["sha256"]:
        raise ExportError(f"{rel}: its SHA-256 is {actual}, but the catalog recorded {row['sha256']} when it "
                          "was written: the file was changed. Export refused; report it as possible tampering")
    return source


def _signature(v: Any, a: Any) -> tuple:
    """What must stay the same for segments to share one MP4 (one sample description)."""
    vc = v.codec_context
    sig: tuple = (vc.name, vc.width, vc.height, bytes(vc.extradata or b""), v.time_base)
    if a is not None:
        ac = a.codec_context
        sig += (ac.name, ac.sample_rate, ac.channels, bytes(ac.extradata or b""), a.time_base)
    return sig


def _us(ts: int, tb: Fraction) -> int:
    return ts * tb.numerator * 1_000_000 // tb.denominator


def _ticks(us: int, tb: Fraction) -> int:
    return round(Fraction(us, 1_000_000) / tb)


class _Clip:
    """One output MP4 while it is being written."""

    def __init__(self, path: Path, v: Any, a: Any, sig: tuple):
        self.path = path
        self.sig = sig
        self.out = av.open(str(path), "w", format="mp4")
        self.ov = self.out.add_stream_from_template(v)
        self.oa = self.out.add_stream_from_template(a) if a is not None else None
        self.vtb, self.atb = v.time_base, (a.time_base if a is not None else None)
        self.video = {"codec": v.codec_context.name, "width": v.codec_context.width, "height": v.codec_context.height}
        self.audio = None if a is None else {"codec": a.codec_context.name, "sample_rate": a.codec_context.sample_rate,
                                             "channels": a.codec_context.channels}
        self.origin_us: int | None = None   # wall time of clip second 0 (the first keyframe)
        self.last = {"v": None, "a": None}   # last muxed dts per kind, in the input time base
        self.last_vdur = 0
        self.frames = 0

    def close(self) -> dict[str, Any]:
        self.out.close()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        duration_us = _us(self.last["v"] + self.last_vdur, self.vtb) if self.last["v"] is not None else 0
        os.chmod(self.path, PRIVATE_FILE)
        return {"file": self.path.name, "sha256": sha256_file(self.path), "bytes": self.path.stat().st_size,
                "duration_s": round(duration_us / 1e6, 6), "frames": self.frames,
                "from_us": self.origin_us, "to_us": self.origin_us + duration_us,
                "from_utc": _utc(self.origin_us), "to_utc": _utc(self.origin_us + duration_us),
                "video": self.video, "audio": self.audio}


def _remux_camera(data_dir: Path, out: Path, plan: CameraPlan, from_us: int, to_us: int,
                  meter: _Meter) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One MP4 for the camera; a new part only where the stream itself changed (resolution,
    codec settings, audio), since one MP4 track holds one set of parameters."""
    clips: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    clip: _Clip | None = None
    pending: list[tuple[Any, str, int]] = []  # (packet, kind, wall) from the last keyframe before the start

    def finish() -> None:
        if clip.origin_us is not None:
            clips.append(clip.close())
        else:  # nothing in range was written to it
            clip.out.close()
            clip.path.unlink()

    pool = ThreadPoolExecutor(1, thread_name_prefix="export-hash")
    try:
        ahead = pool.submit(_open_verified, data_dir, plan.sources[0]) if plan.sources else None
        for i, row in enumerate(plan.sources):
            src = ahead.result()
            ahead = pool.submit(_open_verified, data_dir, plan.sources[i + 1]) if i + 1 < len(plan.sources) else None
            meter.add(row["bytes"] or 0, plan.camera)
            with av.open(src, format="mp4" if isinstance(src, io.BytesIO) else None, options=INPUT_OPTIONS) as c:
                if not c.streams.video:
                    raise ExportError(f"{row['path']}: no video stream; export refused")
                v = c.streams.video[0]
                a = next((s for s in c.streams.audio if s.codec_context.name == "aac"), None)
                sig = _signature(v, a)
                if clip is None or clip.sig != sig:
                    if clip is not None:
                        finish()
                    clip = _Clip(out / f"{plan.camera}-part{len(clips) + 1}.mp4", v, a, sig)
                entry = {"path": row["path"], "sha256": row["sha256"], "bytes": row["bytes"], "state": row["state"],
                         "start_us": row["start_us"], "end_us": row["end_us"], "clip": clip.path.name,
                         "clip_offset_s": None}
                _remux_segment(c, v, a, clip, row, from_us, to_us, pending, entry, meter, plan.camera)
                sources.append(entry)
        if clip is not None:
            finish()
            clip = None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if clip is not None:  # failed part-way: the caller removes the folder
            clip.out.close()
    if len(clips) == 1:  # the usual case: one clip, named for the camera
        name = f"{plan.camera}.mp4"
        os.rename(out / clips[0]["file"], out / name)
        for s in sources:
            s["clip"] = name if s["clip"] == clips[0]["file"] else s["clip"]
        clips[0]["file"] = name
    for s in sources:
        if s["clip_offset_s"] is None:
            s["clip"] = None  # nothing of it fell in the range
    return clips, sources


def _remux_segment(c: Any, v: Any, a: Any, clip: _Clip, row: dict[str, Any], from_us: int, to_us: int,
                   pending: list, entry: dict[str, Any], meter: _Meter, camera: str) -> None:
    """Copy the packets of one segment that fall in the range into the clip."""
    base = row["start_us"]  # the wall time of the segment's first keyframe, whose dts is 0
    vidx = v.index
    streams = [v] + ([a] if a is not None else [])
    offsets: dict[str, int] | None = None
    done = {"v": False, "a": a is None}
    size = max(1, row["bytes"] or 1)
    seen = count = 0

    def place() -> dict[str, int]:
        """Ticks to add to this segment's timestamps: its wall offset from the clip's start."""
        off = {"v": _ticks(base - clip.origin_us, clip.vtb)}
        if clip.last["v"] is not None and off["v"] <= clip.last["v"]:
            # The host clock stepped back: the segment overlaps the one before in wall time. Put it
            # right after, and say so; clip time no longer equals wall time from here.
            off["v"] = clip.last["v"] + max(1, clip.last_vdur)
            entry["note"] = "overlaps the previous segment in wall time (host clock stepped back); placed after it"
        placed = _us(off["v"], clip.vtb)
        entry["clip_offset_s"] = round(placed / 1e6, 6)
        if clip.atb is not None:
            off["a"] = _ticks(placed, clip.atb)
        return off

    def write(pkt: Any, kind: str) -> None:
        nonlocal offsets
        if offsets is None:
            offsets = place()
        dts = pkt.dts + offsets[kind]
        if clip.last[kind] is not None and dts <= clip.last[kind]:
            return  # audio overlapping the previous segment's (after a clock step): drop, never reorder
        pkt.pts = (pkt.pts if pkt.pts is not None else pkt.dts) + offsets[kind]
        pkt.dts = dts
        if dts < 0:
            return
        clip.last[kind] = dts
        if kind == "v":
            clip.last_vdur = pkt.duration or clip.last_vdur
            clip.frames += 1
        pkt.stream = clip.ov if kind == "v" else clip.oa
        clip.out.mux(pkt)

    def start(origin: int) -> None:
        clip.origin_us = origin
        for p, k, w in pending:
            if w >= origin:
                write(p, k)
        pending.clear()

    # Integer time-base arithmetic per packet: a Fraction per packet costs more than the mux.
    scale = {s.index: (s.time_base.numerator * 1_000_000, s.time_base.denominator) for s in streams}
    for pkt in c.demux(streams):
        if pkt.dts is None or pkt.size == 0:
            continue
        index = pkt.stream_index
        kind = "v" if index == vidx else "a"
        if kind == "a" and clip.oa is None:
            continue
        num, den = scale[index]
        wall = base + pkt.dts * num // den
        if wall >= to_us:
            done[kind] = True
            if done["v"] and done["a"]:
                break
            continue
        if clip.origin_us is None:  # looking for the keyframe at or before the start
            if kind == "v" and pkt.is_keyframe and wall <= from_us:
                pending.clear()
                pending.append((pkt, kind, wall))
            elif kind == "v" and pkt.is_keyframe and not pending:
                start(wall)  # footage begins after the requested start: its first keyframe
                write(pkt, kind)
            elif pending and (kind == "a" or wall < from_us):
                pending.append((pkt, kind, wall))
            elif pending:
                start(pending[0][2])
                write(pkt, kind)
            continue
        write(pkt, kind)
        count += 1
        if not count & 255 and pkt.pos is not None and pkt.pos > seen:  # progress within a long segment
            meter.add(pkt.pos - seen, camera)
            seen = pkt.pos
    if clip.origin_us is None and pending:
        start(pending[0][2])  # the segment ended before reaching the start: begin at its last keyframe
    meter.add(size - seen, camera)


# --- checking an export ----------------------------------------------------------------------------
def verify_export(folder: Path, public_key: str | bytes | None = None) -> list[str]:
    """Every problem with an export folder, each naming the file; empty means it is intact.

    `public_key` (base64 raw or PEM) is the node's published key; without it the key shipped
    in the folder is used, which proves integrity but not origin.
    """
    folder = Path(folder)
    problems: list[str] = []
    if not folder.is_dir():
        return [f"{folder}: not a folder"]
    try:
        body = (folder / MANIFEST).read_bytes()
    except FileNotFoundError:
        return [f"{MANIFEST}: missing; this is not a whole export"]
    try:
        sig = (folder / SIGNATURE).read_bytes()
    except FileNotFoundError:
        sig = None
        problems.append(f"{SIGNATURE}: missing, so the manifest cannot be trusted")
    shipped = None
    try:
        shipped = nodekey.load_public((folder / PUBLIC_KEY).read_bytes())
    except FileNotFoundError:
        if public_key is None:
            problems.append(f"{PUBLIC_KEY}: missing; give the node's public key to check the signature")
    except nodekey.NodeKeyError as exc:
        problems.append(f"{PUBLIC_KEY}: {exc}")
    key = shipped
    if public_key is not None:
        try:
            key = nodekey.load_public(public_key)
        except nodekey.NodeKeyError as exc:
            return [f"the key given: {exc}"]
        if shipped is not None and nodekey.public_raw(shipped) != nodekey.public_raw(key):
            problems.append(f"{PUBLIC_KEY}: not the key you gave: the export was signed by another key "
                            f"({nodekey.fingerprint(nodekey.public_raw(shipped))})")
    if sig is not None and key is not None and not nodekey.check(key, sig, body):
        problems.append(f"{MANIFEST}: the signature does not match: {MANIFEST} or {SIGNATURE} was changed "
                        "after the export was signed")
    try:
        manifest = json.loads(body)
        clips = [c for cam in manifest["cameras"] for c in cam["clips"]]
    except (ValueError, KeyError, TypeError):
        return problems + [f"{MANIFEST}: not a readable edged manifest"]
    if key is not None and manifest.get("node_public_key") not in (None, _b64(key)):
        problems.append(f"{MANIFEST}: names a different node key than the one that signed it")
    expected = {MANIFEST, SIGNATURE, PUBLIC_KEY}
    for clip in clips:
        name = str(clip.get("file", ""))
        expected.add(name)
        path = folder / name
        if "/" in name or name.startswith(".") or not name:
            problems.append(f"{MANIFEST}: names a clip file outside the folder ({name!r})")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != clip.get("bytes"):
            problems.append(f"{name}: {path.stat().st_size} bytes, the manifest says {clip.get('bytes')}: "
                            "the clip was changed")
        elif sha256_file(path) != clip.get("sha256"):
            problems.append(f"{name}: its SHA-256 does not match the manifest: the clip was changed")
    for extra in sorted(p.name for p in folder.iterdir() if p.name not in expected):
        problems.append(f"{extra}: not part of the export (added after it was made)")
    return problems


def _b64(key: Any) -> str:
    return base64.b64encode(nodekey.public_raw(key)).decode()


# --- working copies and staging folders --------------------------------------------------------------
_NAME = re.compile(r"^\.?[A-Za-z0-9][A-Za-z0-9._-]*$")  # a crashed export's ".x.partial" too


def export_dir(data_dir: Path, kind: str, grant_id: int, now_us: int) -> Path:
    """data_dir/exports/<grant>-<UTC time>/ (or working/ for a viewing's working copy)."""
    if kind not in (EXPORTS_DIR, WORKING_DIR):
        raise ValueError(kind)
    t = datetime.fromtimestamp(now_us / 1e6, timezone.utc)
    return Path(data_dir) / kind / f"{int(grant_id)}-{t:%Y%m%dT%H%M%S}.{now_us % 1_000_000:06d}Z"


def destroy_working_copy(data_dir: Path, folder: Path) -> dict[str, Any]:
    """Destroy a viewing's working copy (or a collected export's staging folder) and return
    what was destroyed (file names, sizes, SHA-256) for the audit record the caller writes.

    Only folders directly under data_dir/working or data_dir/exports: never footage.
    Blocking: run it in a thread, then append the record on the catalog writer.
    """
    data_dir = Path(data_dir).resolve()
    folder = Path(folder)
    target = folder.resolve()
    roots = {data_dir / WORKING_DIR, data_dir / EXPORTS_DIR}
    if target.parent not in roots or not _NAME.match(target.name) or folder.is_symlink():
        raise ExportError(f"{folder} is not a working copy or export staging folder of this node; "
                          "nothing was destroyed")
    if not target.is_dir():
        raise ExportError(f"{folder}: no such working copy")
    files = []
    for p in sorted(target.iterdir()):
        if p.is_dir() and not p.is_symlink():
            raise ExportError(f"{p}: unexpected folder inside a working copy; nothing was destroyed")
        files.append({"file": p.name, "bytes": p.lstat().st_size,
                      "sha256": sha256_file(p) if p.is_file() and not p.is_symlink() else None})
    for p in sorted(target.iterdir()):
        p.unlink()
    target.rmdir()
    fsync_dir(target.parent)
    return {"folder": str(target.relative_to(data_dir)), "files": files,
            "bytes": sum(f["bytes"] for f in files)}
