"""Time from a camera turning black to its `video_dark` alarm, through the real daemon.

    .venv/bin/python -m bench.health_alarm [--reps 3]

A 1080p 20 fps colour camera (the healthy test clip) is served by the fake camera server;
once edged has sampled it, the server is restarted with the black clip on the same mount
(the camera reconnects, as one whose lens is covered would not need to; the reconnect is
measured and printed apart). The time counts from the restart to the alarm's `raised_us` in
the catalog. Two settings: the defaults (sample every 10 s, raise after 30 s: what a site
gets), and `raise_after = 0s` (the detection alone: reconnect plus the wait for a sample).
Between repetitions the picture is healthy again until the alarm clears (`clear_after` 2 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from bench.common import command_line, environment, table
from tests.support.cameras import RtspServer
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.health_clips import health_clip

OUT = Path(__file__).resolve().parent / "out" / "health_alarm"


def now_us() -> int:
    return time.time_ns() // 1000


def one_setting(name: str, health: dict[str, str], reps: int, clips: dict) -> list[tuple[float, float]]:
    """[(seconds from the switch to the alarm, seconds of reconnect)] for `reps` switches."""
    work = OUT / name
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    results = []
    with RtspServer({"cam": clips["healthy"].spec()}) as server:
        config = write_config(work / "edged.toml", data, [{"id": "cam", "url": server.url("cam")}],
                              tables={"health": {**health, "clear_after": "2s"}})
        d = Daemon(config, data, work / "edged.log").start()
        try:
            for rep in range(reps):
                wait_for(lambda: (d.camera("cam") or {}).get("image"), 120, "a picture sample of the healthy camera")
                wait_for(lambda: not d.query("SELECT 1 FROM alarms WHERE cleared_us IS NULL"), 120, "no alarm")
                server.mounts = {"cam": clips["black"].spec()}
                switched = now_us()
                server.restart()
                wait_for(lambda: d.query("SELECT 1 FROM cameras WHERE id = 'cam' AND state_since_us > ? AND state IN "
                                         "('recording', 'degraded')", (switched,)), 60, "the camera back")
                back = d.query("SELECT state_since_us FROM cameras WHERE id = 'cam'")[0]["state_since_us"]
                row = wait_for(lambda: d.query("SELECT raised_us FROM alarms WHERE key = 'video_dark:cam' AND "
                                               "raised_us > ?", (switched,)), 120, "video_dark")[0]
                results.append(((row["raised_us"] - switched) / 1e6, (back - switched) / 1e6))
                print(f"  {name} rep {rep + 1}: alarm after {results[-1][0]:.1f} s "
                      f"(camera back after {results[-1][1]:.1f} s)", flush=True)
                server.mounts = {"cam": clips["healthy"].spec()}
                server.restart()
        finally:
            d.stop()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    clips = {k: health_clip(OUT / "clips", k) for k in ("healthy", "black")}
    settings = {"defaults (sample 10 s, raise after 30 s)": {},
                "raise_after = 0s (detection only)": {"raise_after": "0s"}}
    rows = []
    for name, health in settings.items():
        res = one_setting(name.split(" (")[0].replace(" ", "_").replace("=", ""), health, args.reps, clips)
        alarm = [a for a, _b in res]
        rows.append((name, statistics.median(alarm), max(alarm), statistics.median(b for _a, b in res)))
    print("\n" + table(["setting", "black to alarm, median", "max", "of which reconnect (median)"],
                       [[name, f"{med:.1f} s", f"{worst:.1f} s", f"{reconnect:.1f} s"]
                        for name, med, worst, reconnect in rows]))
    print(f"\ncommand: {command_line('bench.health_alarm')}")
    print(f"{environment()}; {args.reps} switches per setting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
