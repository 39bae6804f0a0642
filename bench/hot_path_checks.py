"""What the per-picture checks added since issue 60 cost a healthy TCP camera (issue 92): the
last-picture check (recorder/access_unit.py keeps each GOP's pictures, FFmpeg's reader only), the
handover's test and the open-GOP watch (recorder/placement.py `place`: an attribute test a picture
each), and per-GOP times (recorder/camera.py: a local test a picture while the camera stamps well).
Each is timed in process CPU (best of --repeat, over --pictures pictures, so a shared box's other
work is not counted), beside the same loop without it, and put against ffmpeg's CPU a picture
(`--ffmpeg-pct`: ffmpeg -c copy's % of one core a camera at 20 fps, bench/record_throughput.py).

    .venv/bin/python -m bench.hot_path_checks [--pictures 200000] [--repeat 5] [--ffmpeg-pct 0.607]
"""

from __future__ import annotations

import argparse
import time
import timeit
import types
from typing import Any, Callable

from bench.common import command_line, environment, table
from recorder.access_unit import GOP_KEPT, access_units


def _pictures(n: int) -> list[Any]:
    """Stand-ins with a demuxed packet's fields (one stream, a keyframe every 40, no two alike)."""
    stream = types.SimpleNamespace(index=0)
    return [types.SimpleNamespace(stream=stream, size=20_000, dts=i, pts=i, is_keyframe=i % 40 == 0) for i in range(n)]


def _loops(pictures: list[Any]) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    n = len(pictures)

    def bare() -> None:
        for _p in pictures:
            pass

    def joined() -> None:  # the whole layer: one picture one packet, and the GOP kept for the last-picture check
        units = access_units(pictures, 0, "h264")
        for _ in range(n - 1):
            next(units)

    def gop_kept() -> None:  # the last-picture check's share of it
        gop: list[Any] = []
        for p in pictures:
            if p.is_keyframe:
                gop = [p]
            elif len(gop) < GOP_KEPT:
                gop.append(p)

    class Place:
        handover = None
        leading = False

    place = Place()

    def attribute() -> None:  # `self.handover is not None` (and `self.leading`) in Placement.place
        for _p in pictures:
            if place.handover is not None:
                pass

    def local() -> None:  # `gops is not None and ...` in the record loop
        gops = None
        for p in pictures:
            if gops is not None and p:
                pass

    return {"access_units (join + last-picture GOP)": (joined, bare), "last-picture check's GOP list": (gop_kept, bare),
            "handover test (and the open-GOP watch, each)": (attribute, bare), "per-GOP times test": (local, bare)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pictures", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--ffmpeg-pct", type=float, default=0.607, help="ffmpeg -c copy's %% of one core a camera (20 fps)")
    a = p.parse_args()
    pictures = _pictures(a.pictures)
    per_picture_ns = a.ffmpeg_pct / 100 / 20 * 1e9
    rows = []
    for name, (with_it, without) in _loops(pictures).items():
        t = [min(timeit.repeat(f, number=1, repeat=a.repeat, timer=time.process_time)) / a.pictures * 1e9
             for f in (with_it, without)]
        cost = max(t[0] - t[1], 0.0)
        rows.append([name, f"{cost:.0f}", f"{cost / per_picture_ns * 100:.3f}"])
    print("## The per-picture checks on a healthy TCP camera, ns of process CPU a picture\n")
    print(table(["check", "ns a picture", "% of ffmpeg's CPU a picture"], rows))
    print(f"\nffmpeg -c copy a picture: {per_picture_ns / 1000:.0f} us ({a.ffmpeg_pct} % of one core a camera at 20 fps)")
    print("command:", command_line("bench.hot_path_checks"))
    print("environment:", environment())


if __name__ == "__main__":
    main()
