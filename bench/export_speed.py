"""Export time for one hour of one camera, against the same reads and hashes done by the
standard tools: `sha256sum` of the segment files followed by `cp` of them and `sync` of the
copies (target: export time <= 1.0x that reference), with the page cache warm and cold, in
one run.

    .venv/bin/python -m bench.export_speed [--reps 5] [--audio] [--remux]

One hour of footage (1080p, 20 fps, ~4 Mbit/s, 2 s GOP: the record_throughput clip looped)
is written once into `bench/out/export/data` as 60 one-minute fragmented-MP4 segments by the
recorder's own segment writer, with their catalog rows. Each repetition then, in alternating
order, times the reference and the export of the hour by storage.export.evidence.write_export (hash
check of every segment, fragment copy into one MP4 hashed as written, manifest, signature,
fsync), the code the daemon's export worker runs for `edgectl export`. Warm: the files are in
the page cache (read once before the first timing); cold: they are evicted from it
(posix_fadvise DONTNEED on those files only) before every timing. --remux also times the
remux path (PyAV), the one used for segments the fragment copy does not understand.
"""

from __future__ import annotations

import argparse
import functools
import resource
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.common import OUT, bench_clip, command_line, environment, log, source_state, table
from storage.keys import nodekey
from storage.export import evidence as export
from storage.readonly import open_readonly
from tests.support.cameras import Clip, make_clip
from tests.support.footage import clip_mp4, write_segments

S = 1_000_000
T0 = 1_800_000_000_000_000
HOUR_S = 3600
CAM = "cam1"
TARGET = 1.0
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


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_reference(data: Path, rows: list[dict], dest: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) for sha256sum of the sources, then cp of them, then sync of the copies."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    files = [str(data / r["path"]) for r in rows]
    t0, c0 = time.perf_counter(), children_cpu()
    subprocess.run(["sha256sum", *files], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cp", *files, str(dest)], check=True)
    subprocess.run(["sync", *[str(p) for p in dest.iterdir()]], check=True)
    took, cpu = time.perf_counter() - t0, children_cpu() - c0
    shutil.rmtree(dest)
    return took, cpu


def run_export(data: Path, rows: list[dict], dest: Path, key: nodekey.NodeKey,
               copy: bool = True) -> tuple[float, float, dict]:
    """Seconds (wall, CPU of this process's threads) for one export of the hour."""
    shutil.rmtree(dest, ignore_errors=True)
    start, end = rows[0]["start_us"], rows[-1]["end_us"]
    t0, c0 = time.perf_counter(), time.process_time()
    db = open_readonly(data / "catalog.db")
    cams = export.gather(db, [CAM], start, end)
    db.conn.close()
    manifest = export.write_export(data, dest, key=key, header={"site": {"id": "bench"}}, cameras=cams,
                                   from_us=start, to_us=end,
                                   clips_writer=functools.partial(export.write_clips, copy=copy))
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    clip = manifest["cameras"][0]["clips"][0]
    shutil.rmtree(dest)
    return took, cpu, clip


def measure(data: Path, rows: list[dict], base: Path, key: nodekey.NodeKey, cold: bool, reps: int,
            remux: bool) -> tuple[list[list], list[float]]:
    """Table rows and export/reference ratios for one cache state."""
    total = sum(r["bytes"] for r in rows)
    prep = (lambda: evict(data, rows)) if cold else (lambda: None)
    out, ratios = [], []
    for rep in range(1, reps + 1):
        timings: dict[str, float] = {}
        cpu: dict[str, float] = {}
        order = ["ref", "copy", "remux"] if rep % 2 else ["remux", "copy", "ref"]
        for what in order:
            if what == "remux" and not remux:
                continue
            prep()
            if what == "ref":
                timings[what], cpu[what] = run_reference(data, rows, base / "ref-out")
            else:
                timings[what], cpu[what], clip = run_export(data, rows, base / "export-out", key, copy=what == "copy")
        ratios.append(timings["copy"] / timings["ref"])
        row = [("cold" if cold else "warm"), rep, f"{timings['ref']:.2f}", f"{cpu['ref']:.2f}",
               f"{timings['copy']:.2f}", f"{cpu['copy']:.2f}", f"{total / MB / timings['copy']:.0f}",
               f"{timings['copy'] / timings['ref']:.2f}"]
        if remux:
            row += [f"{timings['remux']:.2f}", f"{cpu['remux']:.2f}", f"{timings['remux'] / timings['ref']:.2f}"]
        out.append(row)
        log(f"{row[0]} rep {rep}: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
            + f" ({clip['duration_s']:.0f} s of video, {clip['frames']} frames)")
    return out, ratios


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.export_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5, help="repetitions of each, warm and cold (default %(default)s)")
    p.add_argument("--audio", action="store_true", help="footage with a 16 kHz AAC track as well")
    p.add_argument("--remux", action="store_true", help="also time the remux path")
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
    table_rows, verdicts = [], []
    for cold in (False, True):
        got, ratios = measure(data, rows, base, key, cold, args.reps, args.remux)
        table_rows += got
        verdicts.append((cold, statistics.median(ratios), max(ratios)))
    print()
    print(f"One hour of one camera: {len(rows)} segments, {total / MB:.0f} MB "
          f"(1080p, 20 fps, ~4 Mbit/s, 2 s GOP{', 16 kHz AAC' if args.audio else ''}); "
          "reference = sha256sum + cp + sync of the sources; export = hash check, copy, clip hash, manifest, fsync")
    head = ["cache", "rep", "reference s", "ref CPU s", "export s", "export CPU s", "export MB/s", "export/ref"]
    print(table(head + (["remux s", "remux CPU s", "remux/ref"] if args.remux else []), table_rows))
    for cold, med, worst in verdicts:
        print(f"{'cold' if cold else 'warm'} page cache: export/reference median {med:.2f}x, worst {worst:.2f}x "
              f"(target <= {TARGET}x): " + ("MET" if med <= TARGET else "NOT MET"))
    print(f"command: {command_line('bench.export_speed')}")
    print(f"environment: {environment()}")
    if source_state() != code_at_start:
        print(f"NOTE: edged's code changed during the run ({code_at_start} -> {source_state()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
