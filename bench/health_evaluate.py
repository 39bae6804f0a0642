"""What the daemon's health evaluation costs (edged/daemon/health_monitor.py: every camera judged every EVAL_S):
one `evaluate` of N recording cameras with fresh stats, timed in-process (no catalog: the writer is a stub, so
only the judging is measured), design/0535.

    .venv/bin/python -m bench.health_evaluate [--counts 8,32,96] [--reps 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, cast

from bench.common import environment
from edged.config.loader import load_config
from edged.daemon.camera_states import CameraStates
from edged.daemon.health_monitor import EVAL_S, HealthMonitor
from recorder import events
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM
from tests.support.daemon import write_config


class _Writer:
    async def run(self, fn: Callable[..., Any], *args: Any) -> None:
        return None


def seconds_an_evaluation(n: int, reps: int) -> float:
    with tempfile.TemporaryDirectory(prefix="health-eval-") as tmp:
        base = Path(tmp)
        cfg = load_config(write_config(base / "edged.toml", base / "data",
                                       [{"id": f"cam{i}", "url": f"rtsp://camera/{i}"} for i in range(n)]))
    states = CameraStates(SYSTEM)
    monitor = HealthMonitor(cfg, cast(CatalogWriter, _Writer()), None, states)
    now = SYSTEM.now_us()
    for i in range(n):
        states.on_state(events.State(f"cam{i}", "recording", None, None, 0, now, now))
        states.on_stats(events.Stats(f"cam{i}", 20.0, 4_000_000, "h264", 1920, 1080, 0, now, 1000, 2.0, None, 0,
                                     None, 0, 0, 0, 0))

    async def timed() -> float:
        await monitor.evaluate()  # the first writes every row
        began = time.perf_counter()
        for _ in range(reps):
            await monitor.evaluate()
        return (time.perf_counter() - began) / reps
    return asyncio.run(timed())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="8,32,96")
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    print("| cameras | ms an evaluation | % of a core (one every EVAL_S) | % of a core a camera |")
    print("|---|---|---|---|")
    for n in map(int, args.counts.split(",")):
        s = seconds_an_evaluation(n, args.reps)
        print(f"| {n} | {s * 1e3:.2f} | {s / EVAL_S * 100:.3f} | {s / EVAL_S * 100 / n:.4f} |")
    print(f"\n    .venv/bin/python -m bench.health_evaluate --counts {args.counts} --reps {args.reps}")
    print(environment())


if __name__ == "__main__":
    main()
