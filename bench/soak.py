"""Soak: N cameras recorded for a long time with everything on, sampled every minute.

    .venv/bin/python -m bench.soak [--cameras 64] [--minutes 60] [--disk 8G] [--reserve 2GB] [--sample 60]

One fake-camera RTSP server serves the record_throughput 1080p clip (20 fps, 2 s GOP,
4 Mbit/s) on N mounts; edged records them into a data folder on a tmpfs of --disk (so the
disk fills within minutes and the retention pass, run every minute, destroys footage on every
pass from then on), with the image health checks on and MQTT reporting to a real mosquitto
that a subscriber drains. Every --sample seconds it records, for the daemon and for each
recorder worker: RSS (MiB), CPU (% of one core over the sample), open descriptors and
threads; for the cameras: the worst lateness (packet arrival minus its mapped wall time) and
the frames lost in the segments closed during the sample (expected from their duration at
20 fps, against those written); and the retention passes, destructions and MQTT messages
seen. Targets (issue 20): no RSS growth after the first 10 minutes, no lag growth, no frames
lost, no CPU drift, flat descriptor and thread counts. Growth and drift compare the mean of the
first and the last third of the samples taken after the first 10 minutes (after the first
third of a shorter run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import CLK_TCK, FPS, OUT, bench_clip, cam_ids, command_line, cpu_ticks, environment, log, memory, source_state, table, tree
from tests.support.broker import Broker, Subscriber
from tests.support.cameras import RtspServer
from tests.support.daemon import Daemon, wait_for, write_config

SETTLE_MIN = 10           # growth is judged after this many minutes
RSS_GROWTH_MAX = 0.05     # 5 % of the settled RSS (or 10 MiB) counts as no growth
LAG_GROWTH_MAX_S = 1.0
CPU_DRIFT_MAX = 0.15      # 15 % of the settled CPU


@dataclass
class Sample:
    minute: float
    daemon_rss: float
    worker_rss: list[float]
    daemon_cpu: float
    worker_cpu: float
    fds: int
    threads: int
    lag_s: float | None
    lost: int
    closed: int
    destroyed: int
    passes: int
    mqtt: int


@dataclass
class Probe:
    """What is read from /proc and the catalog between samples."""

    root: int
    ticks: dict[int, int] = field(default_factory=dict)
    at: float = 0.0
    closed_until_us: int = 0


def proc_counts(pids: list[int]) -> tuple[int, int]:
    fds = threads = 0
    for p in pids:
        try:
            fds += len(os.listdir(f"/proc/{p}/fd"))
            threads += int(next(ln for ln in Path(f"/proc/{p}/status").read_text().splitlines()
                                if ln.startswith("Threads:")).split()[1])
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            pass
    return fds, threads


def take(d: Daemon, probe: Probe, sub: Subscriber, start: float) -> Sample:
    pids = tree(probe.root)
    now = time.monotonic()
    ticks = {p: t for p in pids if (t := cpu_ticks(p)) is not None}
    span = max(1e-6, now - probe.at)
    cpu = {p: (t - probe.ticks.get(p, t)) / CLK_TCK / span * 100 for p, t in ticks.items()}
    probe.ticks, probe.at = ticks, now
    workers = [p for p in pids if p != probe.root]
    fds, threads = proc_counts(pids)
    lat = d.query("SELECT max(lateness_us) AS m FROM cameras WHERE configured = 1")
    segs = d.query("SELECT start_us, end_us, frames FROM segments WHERE state = 'complete' AND end_us > ?",
                   [probe.closed_until_us])
    lost = sum(max(0, round((s["end_us"] - s["start_us"]) * FPS / 1e6) - s["frames"]) for s in segs)
    if segs:
        probe.closed_until_us = max(s["end_us"] for s in segs)
    destroyed = d.query("SELECT count(*) AS k FROM destructions")
    passes = d.query("SELECT count(*) AS k FROM audit WHERE action = 'retention.pass'")
    return Sample(minute=(now - start) / 60, daemon_rss=memory([probe.root])[0],
                  worker_rss=[memory([p])[0] for p in workers], daemon_cpu=cpu.get(probe.root, 0.0),
                  worker_cpu=sum(cpu.get(p, 0.0) for p in workers), fds=fds, threads=threads,
                  lag_s=(lat[0]["m"] / 1e6) if lat and lat[0]["m"] is not None else None, lost=lost,
                  closed=len(segs), destroyed=destroyed[0]["k"] if destroyed else 0,
                  passes=passes[0]["k"] if passes else 0, mqtt=len(sub.messages))


def _thirds(samples: list[Sample], value) -> tuple[float, float]:
    """Mean of `value` over the first and the last third of the samples (one sample is noise)."""
    k = max(1, len(samples) // 3)
    return statistics.mean(value(s) for s in samples[:k]), statistics.mean(value(s) for s in samples[-k:])


def verdicts(samples: list[Sample]) -> list[str]:
    """Each target against the samples after the first SETTLE_MIN minutes (or the first third)."""
    settle = next((i for i, s in enumerate(samples) if s.minute >= SETTLE_MIN), len(samples) // 3)
    later = samples[settle:] if len(samples) - settle >= 2 else samples
    out = []
    for name, value in (("daemon RSS", lambda s: s.daemon_rss), ("workers' RSS", lambda s: sum(s.worker_rss))):
        a, b = _thirds(later, value)
        ok = b - a <= max(RSS_GROWTH_MAX * a, 10)
        out.append(f"{name} {a:.0f} -> {b:.0f} MiB (first and last third from minute {later[0].minute:.0f}): "
                   + ("MET" if ok else "NOT MET") + " (no growth)")
    lags = [s for s in later if s.lag_s is not None]
    if len(lags) >= 2:
        a, b = _thirds(lags, lambda s: s.lag_s)
        out.append(f"worst lateness {a:.2f} -> {b:.2f} s: " + ("MET" if b - a < LAG_GROWTH_MAX_S else "NOT MET")
                   + " (no lag growth)")
    lost = sum(s.lost for s in samples)
    out.append(f"frames lost {lost} in {sum(s.closed for s in samples)} segments: " + ("MET" if not lost else "NOT MET"))
    a, b = _thirds(later, lambda s: s.daemon_cpu + s.worker_cpu)
    out.append(f"CPU {a:.1f} -> {b:.1f} % of a core: " + ("MET" if b - a <= CPU_DRIFT_MAX * a else "NOT MET")
               + " (no drift)")
    first, last = later[0], later[-1]
    out.append(f"descriptors {first.fds} -> {last.fds}, threads {first.threads} -> {last.threads}: "
               + ("MET" if last.fds <= first.fds and last.threads <= first.threads else "NOT MET") + " (flat)")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=64)
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--disk", default="8G", help="size of the tmpfs holding the data folder (default %(default)s)")
    p.add_argument("--reserve", default="2GB", help="[retention] reserve: must hold more than one retention "
                   "interval of writes, 64 cameras write ~1.9 GB a minute (default %(default)s)")
    p.add_argument("--sample", type=float, default=60, help="seconds between samples (default %(default)s)")
    args = p.parse_args(argv)
    log(f"command: {command_line('bench.soak')}")
    log(f"environment: {environment()}")
    code = source_state()
    base = OUT / "soak"
    shutil.rmtree(base, ignore_errors=True)
    data = base / "data"
    data.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.disk},mode=0700", "tmpfs", str(data)], check=True)
    server = broker = sub = d = None
    samples: list[Sample] = []
    try:
        clip = bench_clip(OUT)
        server = RtspServer({c: f"clip:{clip}@{FPS}" for c in cam_ids(args.cameras)}).start()
        broker = Broker(base / "broker").start()
        sub = Subscriber(broker, "#").start()
        config = write_config(base / "edged.toml", data, [{"id": c, "url": server.url(c)} for c in cam_ids(args.cameras)],
                              storage={"segment_length": "60s"},
                              tables={"retention": {"interval": "60s", "reserve": args.reserve},
                                      "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port}})
        d = Daemon(config, data, base / "edged.log").start()
        wait_for(lambda: (d.query("SELECT count(DISTINCT camera) AS k FROM segments") or [{"k": 0}])[0]["k"]
                 == args.cameras, 60 + args.cameras, "every camera recording", interval=1)
        log(f"all {args.cameras} cameras recording; sampling every {args.sample:.0f} s for {args.minutes:.0f} min")
        start = time.monotonic()
        probe = Probe(d.proc.pid, at=start)
        take(d, probe, sub, start)  # the CPU baseline
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(args.sample)  # a sampling period, not a wait for a condition
            if d.proc.poll() is not None:
                log(f"edged exited with {d.proc.returncode}; see {d.log_path}")
                break
            s = take(d, probe, sub, start)
            samples.append(s)
            log(f"min {s.minute:5.1f}: daemon {s.daemon_rss:.0f} MiB {s.daemon_cpu:.1f} %, workers "
                f"{sum(s.worker_rss):.0f} MiB {s.worker_cpu:.1f} %, fds {s.fds}, threads {s.threads}, "
                f"lag {s.lag_s if s.lag_s is None else round(s.lag_s, 2)} s, lost {s.lost}/{s.closed} segs, "
                f"destroyed {s.destroyed}, passes {s.passes}, mqtt {s.mqtt}")
    finally:
        if d is not None and d.proc is not None and d.proc.poll() is None:
            d.stop(timeout=120)
        for part in (sub, broker, server):
            if part is not None:
                part.stop()
        subprocess.run(["umount", "-l", str(data)], check=False)
    print()
    print(f"Soak: {args.cameras} cameras (1080p, 20 fps, 4 Mbit/s) on a {args.disk} tmpfs, health checks, MQTT, "
          f"retention every minute; {len(samples)} samples")
    print(table(["min", "daemon MiB", "workers MiB", "daemon %", "workers %", "fds", "threads", "lag s", "lost",
                 "segments", "destroyed", "passes", "mqtt msgs"],
                [[f"{s.minute:.1f}", f"{s.daemon_rss:.0f}", f"{sum(s.worker_rss):.0f}", f"{s.daemon_cpu:.1f}",
                  f"{s.worker_cpu:.1f}", s.fds, s.threads, "-" if s.lag_s is None else f"{s.lag_s:.2f}", s.lost,
                  s.closed, s.destroyed, s.passes, s.mqtt] for s in samples]))
    if len(samples) >= 2:
        for line in verdicts(samples):
            print(line)
    print(f"command: {command_line('bench.soak')}")
    print(f"environment: {environment()}")
    if source_state() != code:
        print(f"NOTE: edged's code changed during the run ({code} -> {source_state()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
