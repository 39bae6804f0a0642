"""CPU of motion detection per camera: a 640x360 5 fps sub-stream decoded and analysed, and
the 1080p 20 fps main stream decoded at a reduced rate (keyframes only). Target (issue 18):
at most 1.5 % of a core per camera with a sub-stream.

    .venv/bin/python -m bench.motion_cpu [--rounds 3] [--threads 1]

The clips are the test suite's `walk` scene (tests/support/scenes.py: a still picture with
sensor noise and a person crossing it twice in 40 s), encoded once into bench/out/clips/ as
a camera would send them (sub-stream 400 kbit/s, main stream 4 Mbit/s, 2 s GOP, no
B-frames). Each pipeline runs over the whole clip `--rounds` times in this process; CPU is
the process's user+system time (every decoder thread included) over the clip's length, in %
of one core per camera, the median of the rounds. References measured in the same run: the
same decode without detection, and the demux alone. A worker gets its packets from RTSP
rather than a file; the RTSP client's share is the recorder's (bench/record_throughput.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import av
from av.video.reformatter import Interpolation, VideoReformatter

from bench.common import OUT, command_line, environment, fmt, log, table
from recorder.motion import MotionDetector, MotionEvents, MotionSettings
from tests.support.cameras import Clip
from tests.support.scenes import WALKS, scene_clip

TARGET_SUB = 1.5  # % of one core per camera, sub-stream
SMALL = (160, 90)  # the analysed picture (recorder.motion.ANALYSIS_HEIGHT rows, 16:9)


def packets(clip: Clip) -> list[tuple[bytes, bool]]:
    """The clip's packets in memory (bytes, keyframe), so file reads stay out of the timing."""
    with av.open(str(clip.video), format="h264") as c:
        return [(bytes(p), p.is_keyframe) for p in c.demux(c.streams.video[0]) if p.size]


def decoder(clip: Clip, threads: int) -> av.VideoCodecContext:
    ctx = av.CodecContext.create("h264", "r")
    ctx.thread_count = threads  # a worker runs many cameras: one decoder thread each
    return ctx


def pipeline(clip: Clip, pkts: list[tuple[bytes, bool]], threads: int, *, keyframes_only: bool,
             stage: str) -> tuple[float, int, list]:
    """Run one pipeline over the clip up to `stage` (decode, scale, detect, or numpy: detect
    on the full grey picture, shrunk in numpy); (CPU seconds, pictures, transitions)."""
    ctx = decoder(clip, threads)
    scaler = VideoReformatter()  # one per camera, as the image checks keep theirs
    s = MotionSettings(start_frames=1 if keyframes_only else 2)
    det, events = MotionDetector(s), MotionEvents.for_settings(s)
    found: list = []
    pictures = 0
    cpu0 = time.process_time()
    for n, (data, key) in enumerate(pkts):
        if keyframes_only and not key:
            continue
        t = n / clip.fps
        for frame in ctx.decode(av.Packet(data)):
            pictures += 1
            if stage == "decode":
                continue
            if stage == "numpy":
                grey = frame.to_ndarray(format="gray")
            else:
                grey = scaler.reformat(frame, SMALL[0], SMALL[1], "gray",
                                       interpolation=Interpolation.AREA).to_ndarray()
            if stage != "scale":
                found += events.update(det.detect(t, grey))
    for _ in ctx.decode(None):
        pictures += 1
    cpu = time.process_time() - cpu0
    last = events.finish()
    return cpu, pictures, found + ([last] if last else [])


def demux_only(clip: Clip) -> tuple[float, int, list]:
    cpu0 = time.process_time()
    with av.open(str(clip.video), format="h264") as c:
        n = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
    return time.process_time() - cpu0, n, []


def median_cpu(run: Callable[[], tuple[float, int, list]], rounds: int) -> tuple[float, int, list]:
    results = [run() for _ in range(rounds)]
    return statistics.median(r[0] for r in results), results[0][1], results[0][2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="runs of each pipeline (median)")
    ap.add_argument("--threads", type=int, default=1, help="decoder threads per camera")
    args = ap.parse_args(argv)
    clips_dir = OUT / "clips"
    log("encoding (or reusing) the scenes in %s ..." % clips_dir.relative_to(OUT.parent.parent))
    sub = scene_clip(clips_dir, "walk", width=640, height=360, fps=5)
    main_ = scene_clip(clips_dir, "walk", width=1920, height=1080, fps=20)
    sub_p, main_p = packets(sub), packets(main_)

    rows, figures = [], {}
    def run(clip, pkts, stage, keyframes_only=False):
        return lambda: pipeline(clip, pkts, args.threads, keyframes_only=keyframes_only, stage=stage)

    cases = [
        ("sub", "sub-stream 640x360 5 fps: demux alone (reference)", sub, lambda: demux_only(sub)),
        ("sub_dec", "sub-stream: decode every frame (reference)", sub, run(sub, sub_p, "decode")),
        ("sub_scale", "sub-stream: decode + swscale to 160x90 grey (reference)", sub,
         run(sub, sub_p, "scale")),
        ("sub_det", "sub-stream: decode + swscale + detect", sub, run(sub, sub_p, "detect")),
        ("sub_np", "sub-stream: decode + full grey + numpy shrink + detect", sub,
         run(sub, sub_p, "numpy")),
        ("main_key", "main 1080p 20 fps: decode keyframes only (reference)", main_,
         run(main_, main_p, "decode", True)),
        ("main_key_det", "main 1080p: keyframes (0.5 fps) + swscale + detect", main_,
         run(main_, main_p, "detect", True)),
        ("main_all", "main 1080p: decode every frame (reference)", main_, run(main_, main_p, "decode")),
    ]
    for key, label, clip, run in cases:
        cpu, pictures, found = median_cpu(run, args.rounds)
        pct = 100 * cpu / clip.seconds
        figures[key] = pct
        spans = ", ".join("%.1f-%.1f" % (e.start, e.end) for e in found if hasattr(e, "end"))
        rows.append([label, str(pictures), fmt(1000 * cpu / max(1, pictures), ".2f"),
                     fmt(pct, ".2f"), spans or "-"])
        log("  %s: %.2f %% of a core" % (label, pct))
    print()
    print("## Motion detection CPU per camera (%% of one core, median of %d rounds, %d decoder "
          "thread(s))" % (args.rounds, args.threads))
    print()
    print(table(["pipeline", "pictures / 40 s", "ms CPU per picture", "% of a core", "events found (s)"],
                rows))
    print()
    sub_det, sub_dec, main_det, main_key = (figures["sub_det"], figures["sub_dec"],
                                            figures["main_key_det"], figures["main_key"])
    print("- the scene's walks: %s s" % ", ".join("%.0f-%.0f" % w for w in WALKS))
    print("- sub-stream decode + detect: %.2f %% of a core per camera, target <= %.1f %%: %s"
          % (sub_det, TARGET_SUB, "MET" if sub_det <= TARGET_SUB else "NOT MET"))
    print("- detection's own share on the sub-stream: %.2f %% of a core (decode + swscale + detect "
          "= %.2fx decode + swscale alone, %.2fx the decode alone)"
          % (sub_det - figures["sub_scale"], sub_det / figures["sub_scale"], sub_det / sub_dec))
    print("- main stream at keyframes only: %.2f %% (%.2fx its decode alone; every frame "
          "decoded: %.2f %%, %.1fx)" % (main_det, main_det / main_key if main_key else float("nan"),
                                        figures["main_all"],
                                        figures["main_all"] / main_det if main_det else float("nan")))
    print()
    print("command: %s" % command_line("bench.motion_cpu"))
    print("environment: %s" % environment())
    return 0 if sub_det <= TARGET_SUB else 1


if __name__ == "__main__":
    sys.exit(main())
