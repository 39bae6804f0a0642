"""Motion to recording through a real recorder worker writing segments (issue 18 target: 20
trials out of 20 with the full pre-roll).

    .venv/bin/python -m bench.motion_recording [--trials 20] [--pre-roll 5] [--post-roll 10]

One fake-camera server serves the `walk` scene (tests/support/scenes.py: a person crosses at
6-9 s and 20-24 s of every 40 s loop) as a main stream (1080p 20 fps, 2 s GOP) and a
sub-stream (640x360 5 fps). A recorder worker process (`python -m recorder.worker`, as the
daemon starts it) records one camera in `motion` mode with the sub-stream as `detect_url`;
its segment files and events are the result.

Truth: a watcher client joins both mounts at once before the worker (the server starts a
mount's loop at its first client, so this starts both loops together and keeps them going)
and anchors the main stream's media time to the host clock, as the recorder does
(design/0004): walk k enters at anchor + its media time. Per walk: complete when the
closed segments cover [entry - pre_roll, exit + post_roll] without a hole and the run's
first frame is a keyframe (ffprobe). Latency: from the entry to the worker's `open` event
(the first packet written) for a walk that opened a run; the reference is the sub-stream's
frame interval (the least a detector confirming on 2 pictures can take).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import av

from bench.common import OUT, command_line, environment, log, table
from recorder.motion import MotionSettings, settings_json
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer
from tests.support.scenes import SECONDS, WALKS, scene_clip

S = 1_000_000
SUB_FPS = 5
GOP_S = 2.0


class Watcher(threading.Thread):
    """Reads a mount to the end and keeps the least (arrival - media time): the host time of
    media time 0, the loop's start."""

    def __init__(self, url: str, fps: int, stop: threading.Event, go: threading.Barrier):
        super().__init__(daemon=True)
        self.url, self.fps, self.stop, self.go = url, fps, stop, go
        self.anchor_us: int | None = None

    def run(self) -> None:
        self.go.wait()
        c = av.open(self.url, options={"rtsp_transport": "tcp", "timeout": "10000000"}, timeout=(10, 10))
        try:
            video = c.streams.video[0]
            first, untimed = None, 0
            for pkt in c.demux(video):
                if self.stop.is_set():
                    return
                if pkt.size == 0:
                    continue
                if pkt.pts is None:  # the connection's first frame (the IDR): clip frame 0
                    untimed += first is None
                    continue
                wall = SYSTEM.now_us()
                first = pkt.pts if first is None else first
                media_us = round(float((pkt.pts - first) * video.time_base) * S) + untimed * S // self.fps
                off = wall - media_us
                self.anchor_us = off if self.anchor_us is None else min(self.anchor_us, off)
        finally:
            c.close()


def first_frame_is_key(path: Path) -> bool:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame",
                          "-read_intervals", "%+#1", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=30).stdout.split()
    return [line.split(",")[0] for line in out[:1]] == ["1"]  # "1," when the frame has side data


def run_worker(data: Path, camera: dict, seconds: float) -> list[dict]:
    """A recorder worker recording `camera` for `seconds`; its events, in order."""
    proc = subprocess.Popen([sys.executable, "-m", "recorder.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    events: list[dict] = []
    reader = threading.Thread(target=lambda: events.extend(json.loads(line) for line in proc.stdout), daemon=True)
    reader.start()
    settings = {"data_dir": str(data), "segment_us": 60 * S, "fragment_us": S, "fsync_us": 2 * S,
                "connect_timeout_us": 10 * S, "read_timeout_us": 10 * S, "reconnect_max_us": 2 * S,
                "sample_us": 0, "site": "bench", "node": "bench"}
    proc.stdin.write(json.dumps(settings) + "\n" + json.dumps({"cmd": "add", "camera": camera}) + "\n")
    proc.stdin.flush()
    time.sleep(seconds)  # the measurement's own length, not a wait for a condition
    proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
    proc.stdin.close()
    proc.wait(60)
    reader.join(10)
    return events


def runs_of(closed: list[dict], opened: dict[str, dict], by_gate: bool = False) -> list[dict]:
    """Contiguous stretches of footage (by_gate: the gate's runs, which end at a `motion
    ended` close even when the next run starts on that very keyframe): start, end, first
    segment path, open event's time."""
    out: list[dict] = []
    for c in sorted(closed, key=lambda c: opened[c["path"]]["start_us"]):
        start = opened[c["path"]]["start_us"]
        if out and out[-1]["end"] == start and not (by_gate and out[-1]["reason"] == "motion ended"):
            out[-1]["end"], out[-1]["reason"] = c["end_us"], c["reason"]
        else:
            out.append({"start": start, "end": c["end_us"], "path": c["path"], "open_at": opened[c["path"]]["at"],
                        "reason": c["reason"]})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=20, help="walks to measure (two per 40 s loop)")
    ap.add_argument("--pre-roll", type=float, default=5.0)
    ap.add_argument("--post-roll", type=float, default=10.0)
    args = ap.parse_args(argv)
    clips_dir = OUT / "clips"
    log("encoding (or reusing) the scenes in bench/out/clips/ ...")
    main_clip = scene_clip(clips_dir, "walk", width=1920, height=1080, fps=20)
    sub_clip = scene_clip(clips_dir, "walk", width=640, height=360, fps=SUB_FPS)
    loops = (args.trials + len(WALKS) - 1) // len(WALKS)
    seconds = (loops + 1) * SECONDS + args.post_roll + 2 * GOP_S + 3  # a first loop of warm-up
    pre, post = round(args.pre_roll * S), args.post_roll
    with tempfile.TemporaryDirectory(prefix="edged-bench-motion-") as tmp, \
            RtspServer({"main": main_clip.spec(), "sub": sub_clip.spec()}) as server:
        stop, go = threading.Event(), threading.Barrier(2)
        watchers = [Watcher(server.url("main"), 20, stop, go), Watcher(server.url("sub"), SUB_FPS, stop, go)]
        for w in watchers:
            w.start()
        while any(w.anchor_us is None for w in watchers):
            time.sleep(0.05)
        camera = {"id": "bench", "url": server.url("main"), "mode": "motion", "detect_url": server.url("sub"),
                  "motion": {"pre_roll_us": pre, "settings": settings_json(MotionSettings(post_roll=post))}}
        log("recording %d walk(s) through a worker: %.0f s ..." % (args.trials, seconds))
        events = run_worker(Path(tmp), camera, seconds)
        stop.set()
        anchor, sub_anchor = watchers[0].anchor_us, watchers[1].anchor_us
        opened = {e["path"]: e for e in events if e["ev"] == "open"}
        closed = [e for e in events if e["ev"] == "closed"]
        runs, gate_runs = runs_of(closed, opened), runs_of(closed, opened, by_gate=True)
        keyframe_first = {r["path"]: first_frame_is_key(Path(tmp) / r["path"]) for r in runs + gate_runs}
    starts = [e for e in events if e["ev"] == "motion" and e["phase"] == "start"]
    rows, lat, before, complete, trials = [], [], [], 0, 0
    end_wall = max((r["end"] for r in runs), default=0)
    for loop in range(1, loops + 2):
        for a, b in WALKS:
            t0, t1 = anchor + round((loop * SECONDS + a) * S), anchor + round((loop * SECONDS + b) * S)
            if trials >= args.trials or t1 + post * S > end_wall:
                continue
            trials += 1
            run = next((r for r in runs if r["start"] <= t0 - pre and r["end"] >= t1 + post * S), None)
            ok = run is not None and keyframe_first[run["path"]]
            complete += ok
            footage = next((r for r in runs if r["start"] <= t0 <= r["end"]), None)
            before.append((t0 - footage["start"]) / S if footage else float("nan"))
            holding = next((r for r in gate_runs if r["start"] <= t0 <= r["end"]), None)
            if holding is not None and holding["open_at"] < t0:
                latency_txt = "already recording"
            elif holding is not None:
                lat.append((holding["open_at"] - t0) / S)
                latency_txt = "%.2f" % lat[-1]
            else:
                latency_txt = "-"
            det = next((s for s in starts if abs(s["start_us"] - t0) < 5 * S), None)
            rows.append([str(trials), "%.2f" % ((det["start_us"] - t0) / S) if det else "-",
                         "%.2f" % before[-1], "yes" if ok else "NO", latency_txt])
    print()
    print("## Motion to recording through a recorder worker (pre-roll %.0f s, post-roll %.0f s)"
          % (args.pre_roll, post))
    print()
    print(table(["trial", "detector's start - entry (s)", "footage before entry (s)",
                 "covered -pre..+post, keyframe first", "entry to first packet written (s)"], rows))
    print()
    ref = 1 / SUB_FPS
    print("- complete: %d/%d (target %d/%d)" % (complete, trials, trials, trials))
    got = [x for x in before if x == x]
    if got:
        print("- footage before the entry: min %.2f s, median %.2f s (asked %.1f s; a run opens on the keyframe "
              "at or before)" % (min(got), statistics.median(got), args.pre_roll))
    if lat:
        print("- motion to recording (runs opened by a walk): median %.2f s, max %.2f s (%.1fx / %.1fx the "
              "sub-stream's frame interval, %.1f s)" % (statistics.median(lat), max(lat), statistics.median(lat) / ref,
                                                         max(lat) / ref, ref))
    print("- runs opened by the gate: %d, as %d stretches of footage (runs that touch are contiguous; segments %d, "
          "every run's first frame a keyframe: %s); motion events: %d; the two loops' start differed by %.2f s"
          % (len(gate_runs), len(runs), len(closed), all(keyframe_first.values()), len(starts),
             (sub_anchor - anchor) / S))
    print()
    print("command: %s" % command_line("bench.motion_recording"))
    print("environment: %s" % environment())
    return 0 if trials and complete == trials else 1


if __name__ == "__main__":
    sys.exit(main())
