"""Where a faces-mode copy's CPU goes (issue 75: "faces mode <= 1.0 core-second a second of 1080p20
with six faces a frame"; profile first).

    .venv/bin/python -m bench.redaction_profile [--seconds 5] [--top 20] [--model float] [--presets veryfast,ultrafast]
        [--x264 subme=0 --x264 subme=0:me=dia:bframes=0] [--mode everything] [--scene N]

Makes the crowd's copy (tests/support/crowd.py: six strangers 24-60 px and the applicant, 1080p20,
as `bench.redaction --crowd`) in faces mode in this process (storage/redact/job.py run, not the
idle-priority worker, so one profiler sees it), under cProfile timed by the main thread's own CPU
(time.thread_time): each part's CPU by where it is spent (the detector's network, scaling frames
for it and the face follower, the face follower, the fill, the encode, the rest), the network's by
what it ran on (each pass over the whole picture, the closer looks at regions), and the CPU of
the process's other threads (FFmpeg's decoding threads: the clip decoded once, the detector's
pass and the render in the same decode since design/0360) from the process's total. The
sum over the footage's seconds is the figure `bench.redaction --crowd` measures in the worker.
With `--presets`, the encode alone too, the copy's frames encoded again as the render does (one
thread, CRF 23) with each x264 preset named: its CPU a second of footage, the bytes it makes and
its luma PSNR and SSIM against the frames encoded; with `--x264`, likewise each set of x264's options on
the copy's own preset (design/0360 chose the copy's options so). `--mode everything` profiles everything mode's
copy instead (the applicant followed, the detector in and about her region: design/0326); `--scene N` another of
the bench's scenes (tests/support/crowd.py SCENES: 3 the profiles, 1, 2 and 4 on the held-out ones).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from bench.common import OUT, command_line, environment, log
from storage.disk.hashing import sha256_file
from storage.redact import job as jobs
from tests.support import crowd

FPS = 20
# a profiled function -> its part, by (file ends with, function name); the first that matches
PARTS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("detector network (CenterFace, onnxruntime)", lambda f, n: "onnxruntime" in n),
    ("scale (frame.reformat)", lambda f, n: "reformat" in n),
    ("encode (x264, one thread)", lambda f, n: n.startswith("<method 'encode' of 'av.")),
    ("the face follower's match", lambda f, n: f.endswith(("redact/track.py", "redact/ncc.py")) or "einsum" in n
     or "sliding_window" in n or "as_strided" in n or "cumsum" in n or "accumulate" in n),
    ("frames to and from arrays", lambda f, n: "ndarray" in n),
    ("writing the steps' files (JSON)", lambda f, n: f.endswith("json/encoder.py") or "json" in f),
    ("fill (the planes copied into a new frame and filled)", lambda f, n: f.endswith("redact/media.py") and n == "filled"),
    ("face follower", lambda f, n: f.endswith("redact/facetrack.py")),
    ("detector (pre/post)", lambda f, n: f.endswith("redact/detect.py") or "centerface" in f.lower()),
    ("plan", lambda f, n: f.endswith("redact/plan.py")),
]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _parts(stats: pstats.Stats) -> dict[str, float]:
    """Each part's own CPU (tottime), by the first of PARTS that names the function."""
    out: dict[str, float] = {name: 0.0 for name, _m in PARTS}
    out["the rest"] = 0.0
    for (file, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        part = next((p for p, match in PARTS if match(file, name)), "the rest")
        out[part] += tottime
    return out


def profile(seconds: float, top: int, model: str | None = None, mode: str = "faces", scene: int = 0) -> list[str]:
    frames = round(seconds * FPS)
    root = OUT / "redaction-profile"
    shutil.rmtree(root, ignore_errors=True)
    original = root / "export"
    original.mkdir(parents=True)
    cast = crowd.SCENES[scene]
    crowd.write_clip(original / "cam1.mp4", frames, (1920, 1080), FPS, cast=cast)
    marks = [[m.frame, list(m.box) if m.box else None] for m in crowd.applicant_marks(frames, cast=cast)]
    folder = root / mode
    jobs.write_job(folder, {"source": str(original), "mode": mode, "clips": [
        {"file": "cam1.mp4", "sha256": sha256_file(original / "cam1.mp4"), "marks": marks}],
        **({"model": model} if model else {})})
    prof = cProfile.Profile(time.thread_time)
    runs: dict[tuple[int, int], list[float]] = {}
    detector = _timed_detector(model, runs)   # the one the job makes when given none, its network's runs timed
    cpu, main = _cpu(), time.thread_time()
    prof.enable()
    jobs.run(folder, detector=detector)
    prof.disable()
    main_cpu, total = time.thread_time() - main, _cpu() - cpu
    stats = pstats.Stats(prof)
    got = crowd.judge(folder / "cam1.mp4", cast, original=original / "cam1.mp4")
    lines = [f"{mode} mode, {crowd.SCENE_NAMES[scene]} at 1080p{FPS}, {frames} frames ({seconds:g} s), in one process:",
             f"core-seconds per second of footage: {total / seconds:.2f} (the process: {total:.1f} s CPU; its main "
             f"thread {main_cpu:.1f} s, profiled; other threads {total - main_cpu:.1f} s)",
             f"strangers hidden: {float(got['recall']):.3f} of {got['faces']} faces >= 24 px seen; worst run "  # type: ignore[arg-type]
             f"{got['worst_run'][0]}; applicant masked {got['applicant_masked']}"]  # type: ignore[index]
    for part, spent in sorted(_parts(stats).items(), key=lambda kv: -kv[1]):
        lines.append(f"  {part}: {spent / seconds:.3f} core-s/s ({100 * spent / max(total, 1e-9):.0f} % of the process)")
    lines.append(f"  other threads (FFmpeg's decoding): {(total - main_cpu) / seconds:.3f} core-s/s")
    lines += _by_input(runs, seconds)
    lines.append(_decodes(stats, original / "cam1.mp4", seconds))
    lines.append(f"the {top} functions of most own CPU (main thread):")
    ranked = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    for (file, line, name), (_cc, calls, tottime, _ct, _callers) in ranked:
        lines.append(f"  {tottime / seconds:.3f} core-s/s  {calls:>7} calls  {Path(file).name}:{line} {name}")
    return lines


def _timed_detector(model: str | None, runs: dict[tuple[int, int], list[float]]) -> Any:
    """The detector a faces job on the crowd's 1080p makes (storage/redact/job.py `_detected`), its session wrapped so
    each run of the network is timed (this thread's CPU) into `runs` by its input (width, height): [runs, seconds]."""
    from storage.redact.detect import Detector, input_for

    detector = Detector(input_for(1920, 1080), model=model)
    session = detector.session

    class Timed:
        def run(self, names: Any, feed: dict[str, Any]) -> Any:
            start = time.thread_time()
            out = session.run(names, feed)
            height, width = next(iter(feed.values())).shape[2:]
            tally = runs.setdefault((width, height), [0, 0.0])
            tally[0] += 1
            tally[1] += time.thread_time() - start
            return out
    detector.session = Timed()
    return detector


def _by_input(runs: dict[tuple[int, int], list[float]], seconds: float) -> list[str]:
    """The network's CPU by what it ran on: each pass over the whole picture (storage/redact/detect.py passes_for on
    the crowd's 1920 x 1080) and the closer looks at regions (every other input) together."""
    from storage.redact.detect import passes_for

    whole = {p.input for p in passes_for(1920, 1080, 6)}
    total = sum(t for _n, t in runs.values()) or 1e-9
    lines = [f"the detector's network by what it ran on: {total / seconds:.3f} core-s/s in {sum(n for n, _t in runs.values())} runs"]
    for (w, h), (n, t) in sorted(((k, v) for k, v in runs.items() if k in whole), key=lambda kv: -kv[1][1]):
        lines.append(f"  the pass at {w} x {h}: {t / seconds:.3f} core-s/s, {int(n)} runs, {1000 * t / n:.1f} ms each "
                     f"({100 * t / total:.0f} %)")
    looks = [(n, t) for k, (n, t) in runs.items() if k not in whole]
    n, t = sum(n for n, _t in looks), sum(t for _n, t in looks)
    if n:
        lines.append(f"  closer looks at regions ({len(looks)} sizes): {t / seconds:.3f} core-s/s, {int(n)} runs, "
                     f"{1000 * t / n:.1f} ms each ({100 * t / total:.0f} %)")
    return lines


DECODES = ("detect", "detect_render", "render", "follow")   # storage/redact/media.py's passes that decode the clip


def _decodes(stats: pstats.Stats, clip: Path, seconds: float) -> str:
    """How many times the copy decoded the original (media.py's passes, by the profile's calls) and
    what one decode of it costs alone, in this thread, as the copy decodes (one thread; design/0502)."""
    import av

    from storage.redact.media import DECODE_THREADS

    calls = {name: nc for (file, _line, name), (_cc, nc, *_rest) in stats.stats.items()  # type: ignore[attr-defined]
             if file.endswith("redact/media.py") and name in DECODES}
    start = time.thread_time()
    with av.open(str(clip)) as f:
        v = f.streams.video[0]
        v.thread_type = DECODE_THREADS
        for _frame in f.decode(v):
            pass
    alone = (time.thread_time() - start) / seconds
    each = ", ".join(f"media.{n} {c}" for n, c in sorted(calls.items()))
    return (f"the original decoded {sum(calls.values())} times by the copy ({each}; the release decodes it once more); "
            f"one decode alone: {alone:.3f} core-s/s")


def presets(clip: Path, variants: list[tuple[str, dict[str, str]]], seconds: float) -> list[str]:
    """The encode alone with each variant (a name, x264's options): the clip's frames decoded
    first, then encoded as storage/redact/x264.py sets it (one thread, CRF 23), timed by this
    thread's CPU; its bytes, and its luma PSNR and SSIM against the frames it was given."""
    import io

    import av
    import numpy as np

    from storage.redact import x264

    with av.open(str(clip)) as f:
        planes = [frame.to_ndarray(format="yuv420p") for frame in f.decode(video=0)]
    lines = []
    for name, options in variants:
        sink = io.BytesIO()
        with av.open(sink, "w", format="mp4") as out:
            ov = out.add_stream("libx264", rate=FPS, options={"crf": str(x264.CRF), **options})
            ov.width, ov.height, ov.pix_fmt = 1920, 1080, "yuv420p"
            ov.codec_context.thread_count = 1
            start = time.thread_time()
            for i, p in enumerate(planes):
                frame = av.VideoFrame.from_ndarray(p, format="yuv420p")
                frame.pts = i
                out.mux(ov.encode(frame))
            out.mux(ov.encode(None))
            spent = time.thread_time() - start
        sink.seek(0)
        with av.open(sink, "r") as f:
            got = [fr.to_ndarray(format="yuv420p")[:1080] for fr in f.decode(video=0)]
        errors = [np.mean((a[:1080].astype(np.float64) - b) ** 2) for a, b in zip(planes, got)]
        psnr = 10 * np.log10(255 ** 2 / max(float(np.mean(errors)), 1e-12))
        ssim = np.mean([_ssim(a[:1080], b) for a, b in list(zip(planes, got))[::SSIM_EVERY]])
        lines.append(f"encode alone, x264 {name}: {spent / seconds:.3f} core-s/s, {len(sink.getvalue()):,} bytes, "
                     f"luma PSNR {psnr:.2f} dB, luma SSIM {ssim:.4f} (every {SSIM_EVERY}th frame)")
    return lines


SSIM_EVERY, SSIM_WINDOW = 4, 8   # luma SSIM on every 4th frame, 8x8 windows (the constants of Wang et al. 2004)


def _ssim(a: Any, b: Any) -> float:
    """The mean structural similarity of two luma planes, over every 8x8 window (box-weighted)."""
    import numpy as np

    def means(x: Any) -> Any:   # each window's mean, by summed-area table
        s = np.pad(x, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        k = SSIM_WINDOW
        return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)

    x, y = a.astype(np.float64), b.astype(np.float64)
    mx, my = means(x), means(y)
    vx, vy, cov = means(x * x) - mx * mx, means(y * y) - my * my, means(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(np.mean((2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))))


def _variants(presets: str, params: list[str]) -> list[tuple[str, dict[str, str]]]:
    """--presets (each alone, with the copy's own x264 options) and --x264 (each on the copy's preset)."""
    from storage.redact import x264

    out = [(p, {"preset": p, **x264.x264_params()}) for p in presets.split(",") if p]
    return out + [(f"{x264.PRESET} {p}", {"preset": x264.PRESET, "x264-params": p}) for p in params]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--model", choices=("int8", "int8-7bit", "float"), default=None,
                    help="the detector's model forced (default: the one this CPU runs, design/0363, 0533)")
    ap.add_argument("--presets", default="", help="x264 presets to encode the copy with alone, comma-separated")
    ap.add_argument("--x264", action="append", default=[],
                    help="x264-params to encode the copy with alone on the copy's preset (repeat to compare)")
    ap.add_argument("--mode", choices=("faces", "everything"), default="faces")
    ap.add_argument("--scene", type=int, default=0, help="the scene (tests/support/crowd.py SCENES; 0: the crowd)")
    args = ap.parse_args()
    for line in profile(args.seconds, args.top, args.model, args.mode, args.scene):
        log(line)
    if args.presets or args.x264:
        for line in presets(OUT / "redaction-profile" / args.mode / "cam1.mp4", _variants(args.presets, args.x264),
                            args.seconds):
            log(line)
    log(f"command: {command_line('bench.redaction_profile')}")
    log(f"environment: {environment()}")


if __name__ == "__main__":
    main()
