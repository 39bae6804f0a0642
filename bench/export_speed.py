"""Export throughput for one hour of one camera, against `cp` of the same segment files
(target: export >= 0.8x cp's throughput).

    .venv/bin/python -m bench.export_speed [--reps 5] [--audio] [--cold]

One hour of footage (1080p, 20 fps, ~4 Mbit/s, 2 s GOP: the record_throughput clip looped)
is written once into `bench/out/export/data` as 60 one-minute fragmented-MP4 segments by the
recorder's own segment writer, with their catalog rows. Each repetition then, in alternating
order: `cp` of the 60 files into a fresh folder followed by `sync` of the copies (the export
fsyncs what it writes, so the baseline is made as durable), and the export of the hour by
storage.export.write_export (hash check of every segment, remux into one MP4, manifest, signature,
fsync), the code the daemon runs in a thread for `edgectl export`. Both read the same files,
from the page cache (read once before the first timing), or with --cold evicted from it
(posix_fadvise DONTNEED on those files only) before every timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.record_throughput import (
    OUT,
    bench_clip,
    command_line,
    environment,
    log,
    source_state,
    table,
)
from storage import export, nodekey
from storage.catalog import open_readonly
from tests.support.cameras import Clip, make_clip
from tests.support.footage import clip_mp4, write_segments

S = 1_000_000
T0 = 1_800_000_000_000_000
HOUR_S = 3600
CAM = "cam1"
TARGET = 0.8
MB = 1e6


def build_hour(base: Path, audio: bool) -> tuple[Path, list[dict]]:
    """60 one-minute segments of one camera, made once and reused (checked by count and size)."""
    data = base / ("data-av" if audio else "data")
    catalog = data / "catalog.db"
    if catalog.exists():
        db = open_readonly(catalog)
        rows = list(db.query("SELECT * FROM segments WHERE camera = ? ORDER BY start_us", [CAM]))
        db.conn.close()
        if len(rows) == 60 and all((data / r["path"]).stat().st_size == r["bytes"] for r in rows):
            return data, rows
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    h264 = bench_clip(OUT)
    sound = make_clip(OUT / "clips", seconds=60, audio=True).audio if audio else None
    src = clip_mp4(Clip(video=h264, audio=sound, fps=20, gop=40, width=1920, height=1080, seconds=60))
    log(f"writing one hour of segments into {data} (once)")
    t0 = time.monotonic()
    rows = write_segments(data, CAM, src, [(T0, HOUR_S)], segment_s=60)
    log(f"  {len(rows)} segments, {sum(r['bytes'] for r in rows) / MB:.0f} MB in {time.monotonic() - t0:.0f} s")
    return data, rows


def evict(data: Path, rows: list[dict]) -> None:
    """Drop these files' pages from the page cache (clean pages only; nothing else is touched)."""
    for r in rows:
        fd = os.open(data / r["path"], os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_cp(data: Path, rows: list[dict], dest: Path) -> tuple[float, float]:
    """Seconds for cp alone, and for cp followed by sync of the copies."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    files = [str(data / r["path"]) for r in rows]
    t0 = time.perf_counter()
    subprocess.run(["cp", *files, str(dest)], check=True)
    t1 = time.perf_counter()
    subprocess.run(["sync", *[str(p) for p in dest.iterdir()]], check=True)
    t2 = time.perf_counter()
    shutil.rmtree(dest)
    return t1 - t0, t2 - t0


def run_export(data: Path, rows: list[dict], dest: Path, key: nodekey.NodeKey) -> tuple[float, dict]:
    shutil.rmtree(dest, ignore_errors=True)
    start, end = rows[0]["start_us"], rows[-1]["end_us"]
    t0 = time.perf_counter()
    db = open_readonly(data / "catalog.db")
    cams = export.gather(db, [CAM], start, end)
    db.conn.close()
    manifest = export.write_export(data, dest, key=key, header={"site": {"id": "bench"}}, cameras=cams,
                                   from_us=start, to_us=end)
    took = time.perf_counter() - t0
    clip = manifest["cameras"][0]["clips"][0]
    shutil.rmtree(dest)
    return took, clip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.export_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5, help="repetitions of each (default %(default)s)")
    p.add_argument("--audio", action="store_true", help="footage with a 16 kHz AAC track as well")
    p.add_argument("--cold", action="store_true", help="evict the segment files from the page cache before each timing")
    args = p.parse_args(argv)
    log(f"command: {command_line('bench.export_speed')}")
    log(f"environment: {environment()}")
    code_at_start = source_state()
    base = OUT / "export"
    data, rows = build_hour(base, args.audio)
    total = sum(r["bytes"] for r in rows)
    key = nodekey.load_or_create(data)
    for r in rows:  # into the page cache, so neither side pays the first read
        (data / r["path"]).read_bytes()
    prep = (lambda: evict(data, rows)) if args.cold else (lambda: None)
    out_rows, ratios, ratios_sync = [], [], []
    for rep in range(1, args.reps + 1):
        if rep % 2:
            prep()
            cp_s, cps_s = run_cp(data, rows, base / "cp-out")
            prep()
            ex_s, clip = run_export(data, rows, base / "export-out", key)
        else:
            prep()
            ex_s, clip = run_export(data, rows, base / "export-out", key)
            prep()
            cp_s, cps_s = run_cp(data, rows, base / "cp-out")
        ratios.append(cp_s / ex_s)
        ratios_sync.append(cps_s / ex_s)
        out_rows.append([rep, f"{cp_s:.2f}", f"{total / MB / cp_s:.0f}", f"{cps_s:.2f}", f"{total / MB / cps_s:.0f}",
                         f"{ex_s:.2f}", f"{total / MB / ex_s:.0f}", f"{cp_s / ex_s:.2f}", f"{cps_s / ex_s:.2f}"])
        log(f"rep {rep}: cp {cp_s:.2f} s, cp+sync {cps_s:.2f} s, export {ex_s:.2f} s "
            f"({clip['duration_s']:.0f} s of video, {clip['frames']} frames)")
    print()
    print(f"One hour of one camera: {len(rows)} segments, {total / MB:.0f} MB "
          f"(1080p, 20 fps, ~4 Mbit/s, 2 s GOP{', 16 kHz AAC' if args.audio else ''}), "
          f"{'evicted from' if args.cold else 'in'} the page cache; throughput in MB/s of source")
    print(table(["rep", "cp s", "cp MB/s", "cp+sync s", "cp+sync MB/s", "export s", "export MB/s",
                 "export/cp", "export/(cp+sync)"], out_rows))
    med, med_sync = statistics.median(ratios), statistics.median(ratios_sync)
    print(f"\nmedian export throughput: {med:.2f}x cp, {med_sync:.2f}x cp+sync (target >= {TARGET}x): "
          + ("MET" if med_sync >= TARGET else "NOT MET") + " against cp+sync, "
          + ("MET" if med >= TARGET else "NOT MET") + " against cp alone")
    print(f"command: {command_line('bench.export_speed')}")
    print(f"environment: {environment()}")
    if source_state() != code_at_start:
        print(f"NOTE: edged's code changed during the run ({code_at_start} -> {source_state()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
