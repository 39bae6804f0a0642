"""Where one image check's time goes (recorder/imagecheck.py `check`, step by step), on the
keyframes of the record_throughput clip, with and without the decoder's loop filter
(design/0012 keeps it on).

    .venv/bin/python -m bench.imagecheck_cost [--keyframes 20]

Run bench.record_throughput once first: it encodes the clip into bench/out/clips/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import av

from bench.common import command_line, table
from recorder import imagecheck as ic

CLIP = Path(__file__).resolve().parent / "out" / "clips" / "testsrc2_1920x1080_20fps_g40_60s_4M_veryfast.h264"


def keyframes(n: int) -> list[bytes]:
    out = []
    with av.open(str(CLIP), format="h264") as c:
        for p in c.demux(c.streams.video[0]):
            if p.is_keyframe and p.size:
                out.append(bytes(p))
                if len(out) >= n:
                    break
    return out


def timed(keys: list[bytes], options: dict[str, str] | None) -> list[str]:
    """Median ms of: decode, scale, metrics, thumbnail, total; as `check` does them."""
    cam = ic.CameraSamples("bench", None)
    steps: list[list[float]] = [[], [], [], [], []]
    for k in keys:
        t0 = time.perf_counter()
        ctx = av.CodecContext.create("h264", "r")
        ctx.thread_count = 1
        if options:
            ctx.options = options
        frame = (ctx.decode(av.Packet(k)) or ctx.decode(None))[0]
        t1 = time.perf_counter()
        small = ic.scaler().reformat(frame, width=ic.WIDTH, height=ic.HEIGHT, format="yuv420p", interpolation="AREA",
                                     dst_color_range=av.video.reformatter.ColorRange.JPEG, threads=1)
        grey = ic.plane(small, 0).copy()
        t2 = time.perf_counter()
        ic.measure(grey, ic.plane(small, 1), ic.plane(small, 2), cam.previous)
        t3 = time.perf_counter()
        ic.encode_thumb(ic.thumbnail(grey))
        t4 = time.perf_counter()
        cam.previous = grey
        for i, d in enumerate((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
            steps[i].append(d * 1000)
    return [f"{statistics.median(s):.2f}" for s in steps]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.imagecheck_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--keyframes", type=int, default=20)
    args = p.parse_args(argv)
    if not CLIP.exists():
        p.error(f"no clip at bench/out/clips/{CLIP.name}: run bench.record_throughput once first")
    keys = keyframes(args.keyframes)
    print(f"command: {command_line('bench.imagecheck_cost')}")
    print(f"{len(keys)} keyframes, {sum(map(len, keys)) / len(keys) / 1024:.0f} KB each on average; median ms:")
    rows = []
    for name, options in (("as edged decodes", None), ("skip_loop_filter=all", {"skip_loop_filter": "all"})):
        rows.append([name, *timed(keys, options)])
    print(table(["decoder", "decode", "scale", "metrics", "thumbnail", "total"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
