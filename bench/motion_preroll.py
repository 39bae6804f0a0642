"""Motion to recording over real RTSP: detection latency and pre-roll completeness per trial
(issue 18 target: 20 trials out of 20 with the full pre-roll).

    .venv/bin/python -m bench.motion_preroll [--trials 20] [--pre-roll 5] [--post-roll 10]

One fake-camera server serves the `walk` scene (tests/support/scenes.py: a person crosses at
6-9 s and 20-24 s of every 40 s loop) twice: as the main stream (1080p 20 fps, 2 s GOP) and as
the sub-stream (640x360 5 fps). The detection thread (recorder/motion_watch.py) watches the
sub-stream; a camera loop like the recorder's demuxes the main stream and routes every packet
through the record gate and pre-roll buffer (recorder/gate.py, preroll.py), collecting what
it would write. This is the worker's path without the segment files (design/0038: the
worker wiring is not built yet).

Per walk: the truth is the main stream's media time the person enters (the loop restarts the
clip at the mount's first client); the run written for it must start at or before that minus
the pre-roll (complete) and reach past its end plus the post-roll. Latency is host time from
the main-stream packet at the true start to the gate opening the run (less the fake camera's
phase gap between its two streams, see Gatekeeper); the reference is the sub-stream's frame
interval (the least a detector confirming on 2 frames can take).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import av

from bench.common import OUT, command_line, environment, log, table
from recorder.gate import RecordGate
from recorder.motion import MotionSettings
from recorder.motion_watch import Ended, MotionWatch, Started
from recorder.preroll import Buffered, PreRollBuffer
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer
from tests.support.scenes import SECONDS, WALKS, scene_clip

S = 1_000_000
SUB_FPS = 5


class Gatekeeper:
    """The detection thread's reports, moved onto the main stream's phase, passed to the gate
    and kept. (The fake camera starts each mount's loop at its first client, so the two
    streams show the walk at different host times: by the difference of their anchors, the
    host time of each stream's media time 0; a real camera's two streams show one scene.
    `shift_us` undoes that.)"""

    def __init__(self, gate: RecordGate):
        self.gate = gate
        self.reports: list = []
        self.shift_us: int | None = None
        self.lags: list[float] = []

    def __call__(self, r) -> None:
        shift = self.shift_us or 0
        if isinstance(r, Started):
            # How long after the confirming picture's (anchored) time the report came.
            self.lags.append((SYSTEM.now_us() - r.detected_us) / S)
            r = Started(r.camera, r.start_us - shift, r.detected_us - shift, r.score)
            self.gate.motion_started(r.start_us)
        elif isinstance(r, Ended):
            r = Ended(r.camera, r.start_us - shift, r.end_us - shift, r.record_until_us - shift, r.peak,
                      r.frames)
            self.gate.motion_ended(r.record_until_us)
        self.reports.append(r)


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
    pre_us, post = int(args.pre_roll * S), args.post_roll
    loops = (args.trials + len(WALKS) - 1) // len(WALKS)
    seconds = (loops + 1) * SECONDS + 5  # a first loop of warm-up
    log("running %d walk(s): %.0f s ..." % (args.trials, seconds))

    buffer = PreRollBuffer(pre_roll_us=pre_us, max_bytes=64 * 1024 * 1024)
    gate = RecordGate(buffer)
    keeper = Gatekeeper(gate)
    runs: list[dict] = []        # per run: first media time, host time it opened and closed
    arrivals: list[tuple[float, int]] = []  # (media s, arrival host us) of every main-stream frame
    written: set[float] = set()  # media times of the frames the gate let through
    with RtspServer({"main": main_clip.spec(), "sub": sub_clip.spec()}) as server:
        watch = MotionWatch("bench", server.url("sub"), MotionSettings(post_roll=post), keeper)
        container = av.open(server.url("main"), options={"rtsp_transport": "tcp", "timeout": "10000000"},
                            timeout=(10, 10))
        watch.start()
        try:
            video = container.streams.video[0]
            tb = video.time_base
            first_pts, untimed, anchor = None, 0, None
            started = time.monotonic()
            for pkt in container.demux(video):
                if time.monotonic() - started > seconds:
                    break
                if pkt.size == 0:
                    continue
                if pkt.pts is None:
                    untimed += first_pts is None
                    continue
                wall = SYSTEM.now_us()
                if first_pts is None:
                    first_pts = pkt.pts
                # The connection's first frame (the IDR) comes without a timestamp: it is clip
                # frame 0, so the first timed packet is frame `untimed`.
                media = float((pkt.pts - first_pts) * tb) + untimed / main_clip.fps
                off = wall - round(media * S)
                anchor = off if anchor is None else min(anchor, off)
                if watch.anchor_us is not None:
                    keeper.shift_us = watch.anchor_us - anchor
                arrivals.append((media, wall))
                r = gate.route(Buffered(wall, pkt.is_keyframe, pkt.size, item=media))
                if r.close and runs:
                    runs[-1]["close_wall"] = wall
                if r.opened is not None:
                    assert r.write[0].key, "a run that does not open on a keyframe"
                    runs.append({"first": r.write[0].item, "open_wall": wall, "close_wall": None})
                written.update(e.item for e in r.write)
        finally:
            container.close()
            watch.stop(timeout=20)

    # Truth: each walk's entry in the main stream's media time, and that frame's arrival. The
    # first loop is warm-up (the buffer starts at the connection's second keyframe).
    def media_of(wall: int) -> float:
        return next((m for m, w in arrivals if w >= wall), float("nan"))

    rows = []
    lat, pre_got, complete = [], [], 0
    trials = 0
    starts = [s for s in keeper.reports if isinstance(s, Started)]
    end_media = arrivals[-1][0] if arrivals else 0.0
    for loop in range(1, loops + 2):
        for a, b in WALKS:
            t0, t1 = loop * SECONDS + a, loop * SECONDS + b
            if trials >= args.trials or t1 + post > end_media:
                continue
            trials += 1
            wall0 = next(w for m, w in arrivals if m >= t0)
            due = [m for m, _ in arrivals if t0 - args.pre_roll <= m <= t1 + post]
            missing = [m for m in due if m not in written]
            # How far back the written footage reaches, contiguously, from the walk's entry.
            back = t0
            for m, _ in reversed([x for x in arrivals if x[0] <= t0]):
                if m not in written:
                    break
                back = m
            full = not missing
            complete += full
            pre_got.append(t0 - back)
            open_at = next((r for r in runs if r["open_wall"] <= wall0 and
                            (r["close_wall"] is None or r["close_wall"] > wall0)), None)
            if open_at is not None:
                latency_txt = "already recording"
            else:
                nxt = next((r for r in runs if r["open_wall"] > wall0), None)
                # The sub-stream shows the walk shift_us later than the main one here, and the
                # report comes that much later in host time too: take it off.
                latency = (nxt["open_wall"] - wall0 - (keeper.shift_us or 0)) / S if nxt else float("nan")
                lat.append(latency)
                latency_txt = "%.2f" % latency
            det = next((s for s in starts if abs(s.start_us - wall0) < 5 * S), None)
            rows.append([str(trials), "%.1f" % t0,
                         "%.2f" % media_of(det.start_us) if det else "-",
                         "%.2f" % (t0 - back), "yes" if full else "NO (%d frames)" % len(missing),
                         latency_txt, "%.2f" % ((det.detected_us - det.start_us) / S) if det else "-"])
    print()
    print("## Motion to recording over RTSP (pre-roll %.0f s, post-roll %.0f s)" % (args.pre_roll, post))
    print()
    print(table(["trial", "walk enters (main, media s)", "detector's start (main, media s)",
                 "footage before entry (s)", "every frame from -pre to +post", "motion to recording (s)",
                 "detector confirm (s)"], rows))
    print()
    ref = 1 / SUB_FPS
    print("- complete: %d/%d (target %d/%d)" % (complete, trials, trials, trials))
    if pre_got:
        print("- footage before the entry: min %.2f s, median %.2f s (asked %.1f s; a run opens on the "
              "keyframe at or before)" % (min(pre_got), statistics.median(pre_got), args.pre_roll))
    if lat:
        print("- motion to recording (runs opened by a walk): median %.2f s, max %.2f s (%.1fx / %.1fx "
              "the sub-stream's frame interval, %.1f s)" % (statistics.median(lat), max(lat),
                                                           statistics.median(lat) / ref, max(lat) / ref, ref))
    if keeper.lags:
        print("- detection reports came %s s after their confirming picture's time (decode, "
              "analysis, and the sub-stream's delivery after the least-delayed frame)"
              % ", ".join("%.2f" % x for x in keeper.lags))
    print("- runs written: %d; detection reports: %d; buffer packets dropped: %d; the sub-stream's loop "
          "began %.2f s after the main stream's (undone)" % (len(runs), len(keeper.reports),
                                                           buffer.dropped_packets, (keeper.shift_us or 0) / S))
    print()
    print("command: %s" % command_line("bench.motion_preroll"))
    print("environment: %s" % environment())
    return 0 if trials and complete == trials else 1


if __name__ == "__main__":
    sys.exit(main())
