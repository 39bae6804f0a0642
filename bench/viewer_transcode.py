"""CPU of showing an H.265 camera in the viewer (issue 18 item 5, design/0050), per transcode.

    .venv/bin/python -m bench.viewer_transcode [--seconds 20] [--rounds 3] [--height 720]

A 1080p 20 fps H.265 camera stream (testsrc2 + noise, libx265, 2 s GOP, no B-frames, 4 Mbit/s)
is encoded once into bench/out/clips/ and held in memory as packets. The viewer's transcoder
(edged/viewer/transcode.py: decode, scale to `--height` lines, libx264 ultrafast/zerolatency
with the source's key frames) runs over it `--rounds` times in this process; CPU is the
process's user+system time (every decoder and encoder thread) over the clip's length, in % of
one core, the median. One transcode serves one live camera (all its viewers share it) or one
granted playback: the cost "per viewer" of an H.265 camera.

References in the same run: the H.265 decode alone, decode + scale, and the same transcode by
the `ffmpeg` command line (`-vf scale=-2:H -c:v libx264 -preset ultrafast -tune zerolatency`,
to /dev/null), its CPU from the child's rusage with its start-up (a 1-frame input) taken off.
An H.264 camera costs none of this: it is relayed untouched (bench/viewer_bench.py).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av

from bench.common import OUT, command_line, environment, fmt, log, table
from edged.viewer.transcode import BITS_PER_PIXEL, ToH264, out_size
from tests.support.cameras import make_clip
from tests.support.footage import clip_mp4

FPS = 20


def run_edged(source: Path, height: int, stage: str) -> tuple[float, int]:
    """(CPU seconds, packets out) of one pass of the viewer's pipeline up to `stage`."""
    with av.open(str(source)) as c:
        v = c.streams.video[0]
        pkts = [p for p in c.demux(v) if p.size]
        t0 = time.process_time()
        n = 0
        if stage == "transcode":
            recode = ToH264(v, height)
            for p in pkts:
                n += len(recode.feed(p))
        else:
            w, h = out_size(v.codec_context.width, v.codec_context.height, height)
            for p in pkts:
                for frame in v.codec_context.decode(p):
                    if stage == "scale":
                        frame.reformat(w, h, format="yuv420p", interpolation="FAST_BILINEAR")
                    n += 1
        return time.process_time() - t0, n


def ffmpeg_cpu(source: Path, height: int, frames: int | None = None) -> float:
    w, h = out_size(1920, 1080, height)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), *(["-frames:v", str(frames)] if frames
                                                                               else []),
                    "-vf", f"scale={w}:{h}:flags=fast_bilinear", "-c:v", "libx264", "-preset", "ultrafast",
                    "-tune", "zerolatency", "-b:v", str(int(w * h * FPS * BITS_PER_PIXEL)), "-f", "null", "-"],
                   check=True, timeout=900)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=20, help="length of the H.265 clip")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each pipeline (median)")
    ap.add_argument("--height", type=int, default=720, help="[viewer] transcode_max_height")
    args = ap.parse_args(argv)
    log("encoding (or reusing) a 1080p H.265 clip in bench/out/clips ...")
    clip = make_clip(OUT / "clips", width=1920, height=1080, fps=FPS, gop=2 * FPS, seconds=args.seconds,
                     bitrate="4M", codec="h265")
    source = clip_mp4(clip)

    def median(run) -> tuple[float, int]:
        results = [run() for _ in range(args.rounds)]
        return statistics.median(r[0] for r in results), results[0][1]

    startup, _ = median(lambda: (ffmpeg_cpu(source, args.height, 1), 1))
    cases = [
        ("decode", "H.265 1080p decode alone (reference)", lambda: run_edged(source, args.height, "decode")),
        ("scale", "decode + scale (reference)", lambda: run_edged(source, args.height, "scale")),
        ("edged", "edged: decode + scale + libx264 (edged/viewer/transcode.py)",
         lambda: run_edged(source, args.height, "transcode")),
        ("ffmpeg", "ffmpeg CLI: the same transcode, start-up taken off (reference)",
         lambda: (max(0.0, ffmpeg_cpu(source, args.height) - startup), args.seconds * FPS)),
    ]
    figures, rows = {}, []
    for key, label, run in cases:
        cpu, n = median(run)
        figures[key] = pct = 100 * cpu / args.seconds
        rows.append([label, str(n), fmt(1000 * cpu / max(1, n), ".1f"), fmt(pct, ".1f")])
        log("  %s: %.1f %% of a core" % (label, pct))
    w, h = out_size(1920, 1080, args.height)
    print()
    print("## H.265 1080p 20 fps shown as H.264 %dx%d: CPU per transcode (%% of one core, median of %d rounds "
          "over %d s)" % (w, h, args.rounds, args.seconds))
    print()
    print(table(["pipeline", "frames", "ms CPU per frame", "% of a core"], rows))
    print()
    print("- edged per H.265 live camera watched (any number of viewers) or per H.265 playback: %.1f %% of a "
          "core (%.2fx the ffmpeg command line's %.1f %%)" % (
              figures["edged"], figures["edged"] / figures["ffmpeg"] if figures["ffmpeg"] else float("nan"),
              figures["ffmpeg"]))
    print("- of which the H.265 decode: %.1f %%, the scaling: %.1f %%, the H.264 encode: %.1f %%" % (
        figures["decode"], figures["scale"] - figures["decode"], figures["edged"] - figures["scale"]))
    print("- ffmpeg start-up taken off its figure: %.2f CPU s" % startup)
    print()
    print("command: %s" % command_line("bench.viewer_transcode"))
    print("environment: %s" % environment())
    return 0


if __name__ == "__main__":
    sys.exit(main())
