"""Footage without waiting for a camera: real segment files written by the recorder's own
segment writer (recorder.segment.SegmentFile) from a pre-encoded clip, and their catalog rows.

For export tests and the export benchmark, which need an hour of footage or a hole at a known
place in seconds, not in real time.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import av

from recorder.segment import SegmentFile
from storage import datainit
from storage.footage import segment_rows
from storage import cameras as camera_table
from storage.catalog import Catalog, open_db
from storage.time.clock import SYSTEM
from storage.disk.hashing import sha256_file
from storage.disk.layout import CATALOG_FILE, segment_relpath
from tests.support.cameras import Clip

S = 1_000_000


def clip_mp4(clip: Clip) -> Path:
    """The clip's Annex-B H.264 (and ADTS AAC) in an MP4 with timestamps, made once with ffmpeg."""
    out = clip.video.with_suffix(".av.mp4" if clip.audio else ".mp4")
    if not out.exists():
        tmp = out.with_name(out.name + ".tmp.mp4")
        cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-framerate", str(clip.fps), "-i", str(clip.video)]
        if clip.audio:
            cmd += ["-i", str(clip.audio)]
        subprocess.run([*cmd, "-c", "copy", "-shortest", str(tmp)], check=True, capture_output=True, timeout=600)
        tmp.rename(out)
    return out


def write_segments(data_dir: Path, camera: str, source: Path, spans: list[tuple[int, float]],
                   segment_s: float = 60.0) -> list[dict[str, Any]]:
    """Record `spans` of (start_us, seconds) of `source`, looped, into segments of about
    `segment_s` cut at keyframes, as the recorder would; register them in the catalog."""
    rows: list[dict[str, Any]] = []
    with av.open(str(source)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        packets = [p for p in c.demux() if p.dts is not None and p.size > 0]
        clip_us = max(int((p.dts + (p.duration or 0)) * p.time_base * S) for p in packets if p.stream is v)
        for start_us, seconds in spans:
            seg: SegmentFile | None = None
            seg_origin = seg_start = end_us = 0
            rel = ""
            for loop_us, p in _looped(packets, clip_us):
                is_v = p.stream is v
                t_us = loop_us + int(p.dts * p.time_base * S)
                if t_us >= seconds * S:
                    break
                if is_v and p.is_keyframe and (seg is None or t_us - seg_origin >= segment_s * S - 1000):
                    if seg is not None:
                        rows.append(_close(seg, rel, camera, seg_start, start_us + t_us))
                    seg_origin, seg_start = t_us, start_us + t_us
                    rel = segment_relpath(camera, seg_start)
                    seg = SegmentFile(data_dir / rel, v, a, origin_us=t_us, fragment_us=S)
                if seg is None:
                    continue
                shift = round(loop_us / S / p.time_base)
                q = av.Packet(bytes(p))
                q.stream, q.time_base, q.duration, q.is_keyframe = p.stream, p.time_base, p.duration, p.is_keyframe
                q.dts, q.pts = p.dts + shift, (p.pts if p.pts is not None else p.dts) + shift
                seg.write(q, is_v)
                if is_v:
                    end_us = start_us + t_us + int((p.duration or 0) * p.time_base * S)
            if seg is not None:
                rows.append(_close(seg, rel, camera, seg_start, end_us))
    _register(data_dir, camera, rows)
    return rows


def _looped(packets: list, clip_us: int):
    loop = 0
    while True:
        for p in packets:
            yield loop * clip_us, p
        loop += 1


def _close(seg: SegmentFile, rel: str, camera: str, start_us: int, end_us: int) -> dict[str, Any]:
    size = seg.close()
    return {"camera": camera, "start_us": start_us, "end_us": end_us, "path": rel, "bytes": size,
            "frames": seg.frames, "sha256": sha256_file(seg.path), "state": "complete"}


def _register(data_dir: Path, camera: str, rows: list[dict[str, Any]]) -> None:
    if not datainit.initialised(data_dir):  # a new data folder, as `edged init-data` makes it (design/0023)
        datainit.init_data(data_dir, "test", "tests/support/footage.py")
    cat = Catalog(open_db(data_dir / CATALOG_FILE))
    try:
        if not camera_table.exists(cat.db, camera):
            known = [{k: r[k] for k in ("id", "name", "url", "enabled")} for r in camera_table.configured(cat.db)]
            camera_table.sync(cat.db, [*known, {"id": camera, "name": camera, "url": "test://" + camera, "enabled": 1}],
                              cat.clock.now_us())
        now = SYSTEM.now_us()
        with cat.db.atomic():
            for r in rows:
                segment_rows.insert(cat.db, [{**r, "created_us": now, "closed_us": now}])
    finally:
        cat.db.conn.close()
