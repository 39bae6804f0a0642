"""Segments clean through a camera that loses a datagram mid-stream, before and after the check of
design/0319 (issue 79), and what the check costs.

    .venv/bin/python -m bench.lost_datagram [--seconds 40] [--runs 1]

The scriptable camera (tests/support/quirk_camera.py, quirks "udp" and "lost": the 3rd RTP packet
of every 50th picture left out, its sequence number spent) is recorded for --seconds through the
edged reader (RTP over TCP) and FFmpeg's reader (RTP over UDP), the latter twice: as before
design/0319 (each picture joined, none decoded: what main did) and as now. Printed per run: the
closed segments, how many `ffmpeg -v error -xerror` reads clean with times that increase, the
pictures counted lost and the packets the camera left out. Then the check's cost: the seconds of
one thread to decode a picture of the 640x480 test clip and of the 1080p bench clip (their first
`PICTURES`), as the
check decodes them (one thread, err_detect=explode).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import OUT, bench_clip, command_line, environment, log, table
from recorder import whole_pictures
from recorder.whole_pictures import Decoder
from tests.support import rtp_clip
from tests.support.cameras import make_clip
from tests.support.daemon import wait_for
from tests.support.quirk_camera import QuirkCamera
from tests.support.recorders import recording
from tests.test_camera_edges import _settings, clean

PICTURES = 400  # decoded of each clip for the cost
RUNS = [("edged", "tcp", "now"), ("ffmpeg", "udp", "before 0319"), ("ffmpeg", "udp", "now")]


def one_run(clip: Path, reader: str, transport: str, way: str, seconds: float) -> list[str]:
    """Record the lossy camera for `seconds`; the row of the table."""
    checked = whole_pictures.CHECKED
    if way != "now":
        whole_pictures.CHECKED = ()  # no transport's pictures decoded: joined only, as before design/0319
    try:
        with tempfile.TemporaryDirectory(prefix="edged-lost-") as tmp:
            settings = _settings(Path(tmp))
            with QuirkCamera(clip, {"udp", "lost"}) as cam, \
                    recording({"q": cam.url}, settings, reader=reader, transport=transport) as run:
                time.sleep(seconds)
                wait_for(lambda: len(run.closed_of("q")) >= 2, 30, "segments")
            segs = run.closed_of("q")
            wrong = clean(run, "q", settings.data_dir)
            stats = [e for e in run.events if e["ev"] == "stats" and e["camera"] == "q"]
            lost = stats[-1]["pictures_lost"] if stats else 0
            first = next(iter(wrong.values()), "")
            return [reader, transport, way, str(len(segs)), str(len(segs) - len(wrong)), str(lost), str(cam.lost),
                    first[:70]]
    finally:
        whole_pictures.CHECKED = checked


def decode_cost(clip: Path) -> tuple[int, float]:
    """(pictures, seconds per picture) of decoding the clip's access units as the check does."""
    data = clip.read_bytes()
    aus = rtp_clip.access_units(data)[:PICTURES]
    pictures = [b"".join(b"\x00\x00\x00\x01" + n for n in au) for au in aus]
    decoder = Decoder("h264", None)
    start = time.process_time()
    bad = sum(not decoder.whole(_Packet(p)) for p in pictures)
    spent = time.process_time() - start
    if bad:
        log(f"{bad} pictures of {clip.name} did not decode")
    return len(pictures), spent / max(1, len(pictures))


class _Packet(bytes):
    """What Decoder.whole reads of a packet: its bytes."""


def main(argv: Any = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    clip = make_clip(OUT / "clips", width=640, height=480, gop=20, seconds=20, bitrate="2M").video
    rows = []
    for n in range(args.runs):
        for reader, transport, way in RUNS:
            log(f"run {n + 1}: {reader} over {transport}, {way}")
            rows.append(one_run(clip, reader, transport, way, args.seconds))
    print(table(["reader", "transport", "check", "segments", "clean", "pictures lost (counted)",
                 "packets left out", "first fault"], rows))
    cost = []
    for name, path in (("640x480 2 Mbit/s", clip), ("1080p 4 Mbit/s (bench clip)", bench_clip(OUT))):
        pictures, each = decode_cost(path)
        cost.append([name, str(pictures), f"{each * 1000:.2f} ms", f"{each * 20 * 100:.1f} %"])
    print(table(["clip", "pictures", "decode per picture (CPU)", "one core at 20 fps"], cost))
    print(command_line("bench.lost_datagram"))
    print(environment())


if __name__ == "__main__":
    main()
