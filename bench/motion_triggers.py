"""False and true triggers of the motion detector on the test scenes, per setting and pipeline.

    .venv/bin/python -m bench.motion_triggers [--sensitivities 50,80,100]

The scenes of tests/support/scenes.py (40 s each, encoded once into bench/out/clips/): `walk`
(a person crosses twice, WALKS) is the reference, what must be found; `noise`, `light` and
`clock` have no motion at all, so every moving picture and every event there is false.
Pipelines: the sub-stream (640x360) at 5 and at 15 fps, every frame; the 1080p 20 fps main
stream at keyframes only (one per 2 s GOP, start_frames=1). Default settings but for the
sensitivity. Prints moving pictures, events, the highest score (min_area is 0.003) and, for
the walk, the events' times against the truth.
"""

from __future__ import annotations

import argparse
import sys

from bench.common import OUT, command_line, environment, log, table
from recorder.motion import MotionDetector, MotionEnded, MotionEvents, MotionSettings
from tests.support.scenes import SCENES, WALKS, grey_frames, scene_clip

SMALL = (160, 90)
PIPELINES = (
    ("sub 640x360 5 fps", dict(width=640, height=360, fps=5), False),
    ("sub 640x360 15 fps", dict(width=640, height=360, fps=15), False),
    ("main 1080p 20 fps, keyframes", dict(width=1920, height=1080, fps=20), True),
)


def run(clip, sensitivity: int, keyframes_only: bool):
    s = MotionSettings(sensitivity=sensitivity, start_frames=1 if keyframes_only else 2)
    det, machine = MotionDetector(s), MotionEvents.for_settings(s)
    pictures = moving = 0
    top = 0.0
    events = []
    for t, grey in grey_frames(clip, keyframes_only=keyframes_only, size=SMALL):
        v = det.detect(t, grey)
        pictures += 1
        moving += v.moving
        top = max(top, v.score)
        events += [x for x in machine.update(v) if isinstance(x, MotionEnded)]
    last = machine.finish()
    return pictures, moving, top, events + ([last] if last else [])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sensitivities", default="50,80,100")
    args = ap.parse_args(argv)
    sens = [int(x) for x in args.sensitivities.split(",")]
    clips_dir = OUT / "clips"
    log("encoding (or reusing) the scenes in bench/out/clips/ (a few minutes the first time) ...")
    rows = []
    false_events = {}
    for label, size, kf in PIPELINES:
        for s in sens:
            for kind in SCENES:
                clip = scene_clip(clips_dir, kind, **size)
                pictures, moving, top, events = run(clip, s, kf)
                spans = ", ".join("%.1f-%.1f" % (e.start, e.end) for e in events) or "-"
                if kind != "walk":
                    false_events[(label, s)] = false_events.get((label, s), 0) + len(events)
                rows.append([label, str(s), kind, str(pictures), str(moving), str(len(events)),
                             "%.4f" % top, spans])
    print()
    print("## Motion triggers on the test scenes (40 s each; walks at %s s)"
          % ", ".join("%g-%g" % w for w in WALKS))
    print()
    print(table(["pipeline", "sensitivity", "scene", "pictures", "moving", "events", "top score",
                 "events (s)"], rows))
    print()
    for (label, s), n in false_events.items():
        print("- %s, sensitivity %d: %d false event(s) in %d s of still scenes"
              % (label, s, n, 40 * (len(SCENES) - 1)))
    print()
    print("command: %s" % command_line("bench.motion_triggers"))
    print("environment: %s" % environment())
    return 0


if __name__ == "__main__":
    sys.exit(main())
