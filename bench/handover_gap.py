"""What an upgrade's restart costs each camera: a plain restart (SIGTERM, then a new daemon) against a
handover (SIGUSR2: the next daemon holds every camera before the running one lets it go, design/0353).

    .venv/bin/python -m bench.handover_gap [--rounds 3] [--cameras 4]   # from the repository root

One daemon records `--cameras` RTSP cameras (real fake cameras: rtsp_server.py looping a pre-encoded
1080p clip at 25 fps with a keyframe a second; the last camera 10 fps with a keyframe every 2 s, as
issue 78's slow camera). Rounds alternate the two kinds on the same data folder. The figure is
tests/test_package.py's: per camera, the longest gap between consecutive segments of the catalog
over the window from the signal to a closed segment of every camera after the new daemon wrote its
node row. Without systemd (no RestartSec, no unit): a restart here is the daemon's own stop and start.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import time

from bench.common import OUT, command_line, environment, log, table
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.handover import alive, gaps_across, node_pid


def _recording(d: Daemon, cameras: list[str], after_us: int) -> bool:
    return all(any(s["start_us"] > after_us and s["end_us"] for s in d.segments(c)) for c in cameras)


def one_round(kind: str, d: Daemon, cameras: list[str]) -> tuple[Daemon, dict[str, float], float]:
    """(the daemon recording after it, the gap per camera, the seconds from the signal to the new node row)."""
    old_pid = node_pid(d)
    assert old_pid is not None
    began_us = SYSTEM.now_us()
    t0 = time.monotonic()
    if kind == "restart":  # the daemon recording may be a handover's, not this process's child
        os.kill(old_pid, signal.SIGTERM)
        wait_for(lambda: not alive(old_pid), 120, "the daemon's stop")
        d = Daemon(d.config, d.data_dir, d.log_path, init_data=False).start()
    else:
        os.kill(old_pid, signal.SIGUSR2)
    wait_for(lambda: (p := node_pid(d)) is not None and p != old_pid, 300, f"the new daemon of the {kind}", 0.1)
    took = time.monotonic() - t0
    if kind == "handover":
        wait_for(lambda: not alive(old_pid), 120, "the running daemon's end")
    ended_us = SYSTEM.now_us()
    wait_for(lambda: _recording(d, cameras, ended_us), 120, "a closed segment of every camera after")
    return d, gaps_across(d, cameras, began_us, ended_us), took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each kind")
    ap.add_argument("--cameras", type=int, default=4)
    args = ap.parse_args(argv)
    log(f"command: {command_line('bench.handover_gap')}")
    log(f"environment: {environment()}")
    out = OUT / "handover_gap"
    out.mkdir(parents=True, exist_ok=True)
    fast = make_clip(OUT / "clips", width=1920, height=1080, fps=25, gop=25, seconds=10, bitrate="4M")
    slow = make_clip(OUT / "clips", width=1920, height=1080, fps=10, gop=20, seconds=10, bitrate="2M")
    cameras = [f"cam{i}" for i in range(args.cameras)]
    mounts = {c: (slow if i == len(cameras) - 1 else fast).spec() for i, c in enumerate(cameras)}
    results: dict[str, list[dict[str, float]]] = {"restart": [], "handover": []}
    took: dict[str, list[float]] = {"restart": [], "handover": []}
    with RtspServer(mounts) as srv:
        data = out / f"data-{int(time.time())}"
        cfg = write_config(out / "edged.toml", data, [{"id": c, "url": srv.url(c)} for c in cameras],
                           storage={"segment_length": "10s"}, tables={"control": {"socket": str(out / "control.sock")}})
        d = Daemon(cfg, data, out / "edged.log").start()
        try:
            wait_for(lambda: _recording(d, cameras, 0), 180, "every camera recording")
            for r in range(args.rounds * 2):
                kind = ("restart", "handover")[r % 2]
                time.sleep(3)  # a segment of every camera's own between rounds
                d, gaps, secs = one_round(kind, d, cameras)
                results[kind].append(gaps)
                took[kind].append(secs)
                log(f"round {r + 1} {kind}: " + ", ".join(f"{c} {g:.3f} s" for c, g in gaps.items())
                    + f" (signal to the new daemon's node row {secs:.1f} s)")
        finally:
            pid = node_pid(d)
            if pid is not None and alive(pid):
                os.kill(pid, signal.SIGTERM)
                wait_for(lambda: not alive(pid), 120, "the last daemon's stop")
    rows = []
    for kind, rounds in results.items():
        worst = [max(g.values()) for g in rounds]
        rows.append([kind, str(len(rounds)), f"{statistics.median(worst):.3f}", f"{max(worst):.3f}",
                     f"{max(g[cameras[-1]] for g in rounds):.3f}", f"{statistics.median(took[kind]):.1f}",
                     "yes" if max(worst) <= 1.0 else "NO"])
    log(table(["kind", "rounds", "worst camera's gap s (median)", "worst gap s (max)", "10 fps camera's gap s (max)",
               "signal -> new node row s (median)", "<= 1 s"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

