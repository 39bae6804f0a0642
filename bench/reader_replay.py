"""The edged reader's per-packet steps timed alone, on one camera's captured stream (issue 33).

    .venv/bin/python -m bench.reader_replay [--capture 20] [--reps 5]

Captures `--capture` seconds of one bench camera's RTSP interleave (the 1080p 20 fps 4 Mbit/s
clip of bench/record_throughput.py, over recorder/rtsp_session.py), then replays the bytes in
this process through the reader's steps, each added to the one before, timing this thread's
CPU (`time.thread_time`, the best of `--reps`; a loaded box's waiting is not counted):

1. framing: the bytes copied into `Interleave`'s buffer a read at a time (as `recv_into` does)
   and the `$` frames found;
2. + depacketize: `Depacketizer.push` per RTP packet, access units out;
3. + av.Packet: one per access unit, stream, time base, timestamps, key flag set (edged_source.demux);
4. + mux: `SegmentFile.write_video` (PyAV mux into fragmented MP4 through HashingFile: pwrite and
   SHA-256), a new segment every 60 s of media, no durability thread.

Printed per step: us per RTP packet, and the % of one core per camera at the capture's rate
(what the step costs a live camera). Then the socket read alone: `recv_into` on a TCP loopback
socket fed by a thread of this process, for one RTP packet per read (a camera's pace: each
arrival wakes the reader) against 16 KiB per read, us per call (this thread's CPU: the syscall
and Python's GIL release around it).
"""

from __future__ import annotations

import argparse
import io
import socket
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av

from bench.common import OUT, command_line, environment, log, table
from bench.record_throughput import serve_clip
from recorder import camera
from recorder.fastpath import COMPILED, rtp  # the module the reader runs: compiled where it was built
from recorder.camera import CameraRecorder, Settings
from recorder.edged_source import EdgedSource, _Codec, _Streams, _Video
from recorder.read_turns import drive
from recorder.rtsp_session import Session, parameter_sets
from recorder.segment import SegmentFile

TB = Fraction(1, 90000)


def capture(seconds: float) -> tuple[bytes, int, bytes, float]:
    """(interleaved bytes, RTP channel, parameter sets Annex B, seconds captured)."""
    server = serve_clip(1)
    try:
        s = Session(server.url("cam1"), 10)
        base, media = s.describe()
        video = next(m for m in media if m.kind == "video")
        s.setup_and_play(base, video)
        assert s.sock is not None
        s.sock.settimeout(5)
        chunks = [s.leftover]
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            chunks.append(s.sock.recv(1 << 16))
        took = time.monotonic() - t0
        s.close()
        return b"".join(chunks), s.channels[0], parameter_sets(video), took
    finally:
        server.stop()
        server.close()


def _frames(data: bytes, read: int):
    inter = rtp.Interleave()
    view = memoryview(data)
    at, size = 0, len(data)
    nxt, room, filled = inter.next, inter.room, inter.filled
    while at < size:
        r = room()
        n = min(read, size - at, len(r))
        r[:n] = view[at:at + n]
        filled(n)
        at += n
        while (got := nxt()) is not None:
            yield got


def run_steps(data: bytes, channel: int, params: bytes, step: int, out: Path) -> tuple[float, int, int]:
    """CPU seconds of this thread for steps 1..`step`; (cpu, RTP packets, access units)."""
    dep = rtp.Depacketizer("h264")
    packets = units = 0
    seg = None
    seg_ts = 0
    # the stream the muxer copies, made before the clock starts (once per connection, not per packet)
    probe = rtp.Depacketizer("h264")
    first = next(au for ch, payload in _frames(data, rtp.READ_BYTES) if ch == channel for au in probe.push(payload))
    template = av.open(io.BytesIO(params + bytes(first.data)), format="h264", options={"fpsprobesize": "0"})
    stream = template.streams.video[0]
    stream.time_base = TB
    origin = first.ts
    t0 = time.thread_time()
    for ch, payload in _frames(data, rtp.READ_BYTES):
        if ch != channel:
            continue
        packets += 1
        if step < 2:
            continue
        for au in dep.push(payload):
            units += 1
            if step < 3:
                continue
            pkt = av.Packet(au.data)
            pkt.stream = stream
            pkt.time_base = TB
            pkt.pts = pkt.dts = au.ts - origin
            pkt.is_keyframe = au.key
            if step < 4:
                continue
            if seg is None or (au.key and au.ts - seg_ts >= 60 * 90000):
                if seg is not None:
                    seg.close()
                seg_ts = au.ts
                path = out / f"seg-{au.ts}.mp4"
                path.unlink(missing_ok=True)
                seg = SegmentFile(path, stream, None, origin_us=(au.ts - origin) * 100 // 9, fragment_us=1_000_000,
                                  frame_us=50_000)
            seg.write_video(pkt)
    cpu = time.thread_time() - t0
    if seg is not None:
        seg.close()
    template.close()
    return cpu, packets, units


class _Replay(EdgedSource):
    """The captured stream as the edged reader's Source (steps 1-3 in its demux), for the camera loop."""

    def __init__(self, data: bytes, channel: int, stream: Any) -> None:  # no session: nothing read
        self.container, self.start_time_realtime, self._template = self, None, None
        self.streams = _Streams(_Video(stream, Fraction(20), _Codec(stream.codec_context)))
        self._data, self._channel, self._vstream = data, channel, stream
        self.cpu = 0.0
        self.arrival_us = 0  # read from memory: no low-water wait
        self.depth, self.leading, self.turns, self.counted = 0, 0, False, None  # what the camera loop reads

    def demux(self, *_streams: Any) -> Iterator[Any]:
        dep = rtp.Depacketizer("h264")
        stream, origin = self._vstream, None
        t0 = time.thread_time()
        for ch, payload in _frames(self._data, rtp.READ_BYTES):
            if ch != self._channel:
                continue
            for au in dep.push(payload):
                origin = au.ts if origin is None else origin
                pkt = av.Packet(au.data)
                pkt.stream = stream
                pkt.time_base = TB
                pkt.pts = pkt.dts = au.ts - origin
                pkt.is_keyframe = au.key
                yield pkt
        self.cpu = time.thread_time() - t0

    def close(self) -> None:
        pass


def camera_loop(data: bytes, channel: int, params: bytes, out: Path) -> float:
    """CPU seconds of this thread for steps 1-4 inside recorder/camera.py's per-packet loop."""
    probe = rtp.Depacketizer("h264")
    first = next(au for ch, payload in _frames(data, rtp.READ_BYTES) if ch == channel for au in probe.push(payload))
    template = av.open(io.BytesIO(params + bytes(first.data)), format="h264", options={"fpsprobesize": "0"})
    stream = template.streams.video[0]
    stream.time_base = TB
    try:
        settings = Settings(data_dir=out, segment_us=60_000_000, fragment_us=1_000_000, fsync_us=2_000_000,
                            connect_timeout_us=5_000_000, read_timeout_us=5_000_000, reconnect_max_us=1_000_000,
                            sample_us=0)
        rec = CameraRecorder({"id": "replay", "url": "rtsp://replay"}, settings, lambda e: None, lambda c: None)
        src = _Replay(data, channel, stream)
        camera.WARMUP_US = 0  # the replay runs faster than real time: no warm-up to wait for
        drive(rec._steps(src))  # on this thread: the loop the worker's reader steps (design/0302)
        rec._close_segment(None, "replay end")
        return src.cpu
    finally:
        template.close()


def recv_cost(per_read: int, total: int = 64 << 20) -> float:
    """us of this thread's CPU per recv_into call, reading `total` bytes sent in `per_read` pieces
    (the sender waits for each to be read before the next: one wake per piece)."""
    lst = socket.create_server(("127.0.0.1", 0))
    b = socket.create_connection(lst.getsockname())
    a, _ = lst.accept()
    lst.close()
    buf = bytearray(1 << 16)
    view = memoryview(buf)
    calls = 0
    done = threading.Event()
    chunk = bytes(per_read)
    go = threading.Semaphore(0)

    def send() -> None:
        for _ in range(total // per_read):
            b.sendall(chunk)
            go.acquire()
        done.set()
    t = threading.Thread(target=send, daemon=True)
    t.start()
    got = 0
    t0 = time.thread_time()
    while got < (total // per_read) * per_read:
        n = a.recv_into(view, 1 << 16)
        got += n
        calls += 1
        if got % per_read == 0:
            go.release()
    cpu = time.thread_time() - t0
    t.join()
    a.close()
    b.close()
    return cpu / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.reader_replay", description=__doc__.split("\n\n")[0])
    p.add_argument("--capture", type=float, default=20, help="seconds of stream captured (default %(default)s)")
    p.add_argument("--reps", type=int, default=5, help="replays per step, the best kept (default %(default)s)")
    args = p.parse_args(argv)
    log(f"command: {command_line('bench.reader_replay')}")
    log(f"environment: {environment()}")
    log(f"recorder/rtp.py: {'compiled (recorder._rtpc)' if COMPILED else 'the pure module (run scripts/build-compiled)'}")
    OUT.mkdir(parents=True, exist_ok=True)
    data, channel, params, took = capture(args.capture)
    log(f"captured {len(data)} bytes in {took:.1f} s ({len(data) * 8 / took / 1e6:.2f} Mbit/s)")
    names = ["framing (Interleave)", "+ depacketize", "+ av.Packet", "+ mux (PyAV, pwrite, SHA-256)"]
    rows, prev = [], 0.0
    with tempfile.TemporaryDirectory(prefix="edged-replay-", dir=OUT) as tmp:
        for step in range(1, 5):
            best, packets, units = min(run_steps(data, channel, params, step, Path(tmp)) for _ in range(args.reps))
            rate = packets / took
            rows.append([names[step - 1], f"{best / packets * 1e6:.2f}", f"{(best - prev) / packets * 1e6:.2f}",
                         f"{(best - prev) / max(units, 1) * 1e6:.1f}" if step >= 3 else "-",
                         f"{best / took * 100:.3f}", f"{(best - prev) / took * 100:.3f}"])
            prev = best
    with tempfile.TemporaryDirectory(prefix="edged-replay-", dir=OUT) as tmp:
        best = min(camera_loop(data, channel, params, Path(tmp)) for _ in range(args.reps))
    rows.append(["+ camera loop (recorder/camera.py)", f"{best / packets * 1e6:.2f}", f"{(best - prev) / packets * 1e6:.2f}",
                 f"{(best - prev) / max(units, 1) * 1e6:.1f}", f"{best / took * 100:.3f}",
                 f"{(best - prev) / took * 100:.3f}"])
    log(f"RTP packets {packets} ({packets / took:.0f}/s), access units {units} ({units / took:.1f}/s), "
        f"{len(data) / packets:.0f} bytes per packet")
    log("")
    log(table(["steps", "us/packet (cumulative)", "us/packet (this step)", "us/access unit (this step)",
               "% core/cam (cumulative)", "% core/cam (this step)"], rows))
    log("")
    size = round(len(data) / packets)
    rec = [[f"{per} bytes", f"{recv_cost(per):.2f}", f"{rate * size / per:.0f}",
            f"{recv_cost(per) * rate * size / per / 1e4:.3f}"] for per in (size, 4 * size, 16384)]
    log(table(["bytes per read", "us CPU per recv_into", "reads/s for this camera", "% core/cam"], rec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
