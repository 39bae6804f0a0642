"""CPU of a camera's sound in the viewer (issue 30 item 3, design/0087).

    .venv/bin/python -m bench.viewer_audio [--seconds 20]

A live view's media worker reads a gst-rtsp-server camera (tests/support/rtsp_server.py: a
G.711 PCMA 8 kHz tone, an AAC 16 kHz tone, each with the same 20 fps H.264 clip) for
`--seconds`, once without sound and once with (`"audio": true`: decode to PCM, one frame each
on the pipe); CPU is the worker's user+system time (/proc) in % of one core. Then aiortc's
Opus encoder (what the daemon runs once per viewer that hears) over the same length of 8 kHz
mono, in this process. Figures are noisy on a shared box: compare within one run.
"""

from __future__ import annotations

import argparse
import os
import time
from fractions import Fraction
from pathlib import Path

BENCH_OUT = Path(__file__).resolve().parent / "out"


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    import av
    import numpy as np
    from aiortc.codecs.opus import OpusEncoder

    from edged.viewer.frames import read_frame
    from edged.viewer.media_client import Worker, settings_doc
    from recorder.camera import Settings
    from tests.support.cameras import RtspServer, make_clip

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    clip = make_clip(BENCH_OUT / "clips", fps=20, gop=20, seconds=10, audio=True)
    settings = Settings(data_dir=Path("/tmp"), segment_us=60_000_000, fragment_us=1_000_000, fsync_us=1_000_000,
                        connect_timeout_us=5_000_000, read_timeout_us=5_000_000, reconnect_max_us=30_000_000)
    with RtspServer({"g711": f"clipsnd:{clip.video},pcma:440@20", "aac": clip.spec()}) as srv:
        for cam in ("g711", "aac"):
            for audio in (False, True):
                w = Worker({"op": "live", "camera": cam, "url": srv.url(cam), "settings": settings_doc(settings),
                            "max_height": 720, "audio": audio})
                try:
                    read_frame(w.stdout)
                    t0, c0, frames, pcm = time.monotonic(), _cpu(w.proc.pid), 0, 0
                    while time.monotonic() - t0 < args.seconds:
                        h, _ = read_frame(w.stdout)
                        frames, pcm = frames + 1, pcm + ("pcm" in h)
                    c1, dt = _cpu(w.proc.pid), time.monotonic() - t0
                finally:
                    w.kill()
                    w.close()
                print(f"{cam:4} sound {'on ' if audio else 'off'}: worker {100 * (c1 - c0) / dt:4.1f} % of a core "
                      f"({frames} frames, {pcm} of them PCM, {dt:.0f} s)")
    enc, n = OpusEncoder(), int(args.seconds * 50)
    tone = (np.sin(np.arange(160) * 2 * np.pi * 440 / 8000) * 8000).astype(np.int16).reshape(1, -1)
    t = time.process_time()
    for i in range(n):
        f = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        f.sample_rate, f.pts, f.time_base = 8000, i * 160, Fraction(1, 8000)
        enc.encode(f)
    cpu = time.process_time() - t
    print(f"Opus encode (one viewer) of {args.seconds:.0f} s 8 kHz mono: {100 * cpu / args.seconds:.1f} % of a core")


if __name__ == "__main__":
    main()
