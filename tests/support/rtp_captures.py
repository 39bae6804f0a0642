"""Captured RTP streams for the differential tests (tests/test_reader_differential.py, design/0093):
each case is NAME.rtp (every RTP packet as it was sent, a 16-bit length before each) and NAME.sdp
(the stream's description, as FFmpeg's RTP muxer wrote it), in tests/data/rtp.

`python3 -m tests.support.rtp_captures` makes them again: FFmpeg encodes a 2 s test pattern and
sends it with its RTP muxer to a UDP port here, where every packet is kept in order. `replay`
sends a capture to libavformat (PyAV reading the SDP) over loopback UDP, paced by nothing but
the socket: the reader's own jitter buffer takes them as a camera's.
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent.parent / "data" / "rtp"
_PATTERN = ["-f", "lavfi", "-i", "testsrc2=size=256x144:rate=20", "-t", "2", "-pix_fmt", "yuv420p"]
CASES: dict[str, list[str]] = {
    "plain_h264": ["-c:v", "libx264", "-bf", "0", "-g", "20"],
    "bframes_h264": ["-c:v", "libx264", "-bf", "2", "-g", "20", "-x264-params", "b-pyramid=normal"],
    "bframes_h265": ["-c:v", "libx265", "-x265-params", "log-level=error:bframes=2:keyint=20:b-pyramid=1"],
    "slices_h264": ["-c:v", "libx264", "-bf", "0", "-g", "20", "-x264-params", "slices=4"],
}


def read(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from("!H", data, at)
        out.append(data[at + 2:at + 2 + size])
        at += 2 + size
    return out


def capture(name: str, args: list[str]) -> int:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    sdp = HERE / f"{name}.sdp"
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", *_PATTERN, *args, "-f", "rtp", "-sdp_file", str(sdp),
                             f"rtp://127.0.0.1:{port}?rtcpport=9&pkt_size=500"])
    packets: list[bytes] = []
    rx.settimeout(0.5)
    while True:
        try:
            packets.append(rx.recv(65536))
        except TimeoutError:
            if proc.poll() is not None:
                break
    seqs = [struct.unpack_from("!H", p, 2)[0] for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:])), "a packet was lost: capture again"
    (HERE / f"{name}.rtp").write_bytes(b"".join(struct.pack("!H", len(p)) + p for p in packets))
    return len(packets)


def _bound(port: int) -> bool:
    tail = f":{port:04X}"
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(tail) for line in f.readlines()[1:])


def replay(name: str, codec: str, sdp_dir: Path, timeout_s: float = 10.0) -> list[tuple[Any, Any, bool, bytes]]:
    """libavformat's access units (PyAV's packets, joined as the record loop joins them,
    recorder/access_unit.py) for a capture sent to it over loopback UDP: (pts, dts, keyframe,
    bytes), read while the container is open (a packet's bytes do not outlive it)."""
    import av

    from recorder.access_unit import access_units

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1] & ~1
    probe.close()
    sdp = re.sub(r"m=video \d+", f"m=video {port}", (HERE / f"{name}.sdp").read_text())
    path = sdp_dir / f"{name}.sdp"
    path.write_text(sdp)
    packets = read(HERE / f"{name}.rtp")

    def send() -> None:
        deadline = time.monotonic() + timeout_s
        while not _bound(port):  # libavformat binds when it reads the SDP
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for p in packets:
            tx.sendto(p, ("127.0.0.1", port))
        tx.close()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    out = []
    # The stream is 2 s long: libavformat probes no further than it, and a second without a packet
    # ends it (the read timeout).
    options = {"protocol_whitelist": "file,udp,rtp", "buffer_size": str(1 << 20), "analyzeduration": "1000000"}
    with av.open(str(path), options=options, timeout=(timeout_s, 1.0)) as container:
        video = container.streams.video[0]

        def packets_of() -> Iterator[Any]:
            try:
                yield from container.demux(video)
            except av.error.FFmpegError:  # the stream's end: nothing came within the timeout
                return

        for pkt in access_units(packets_of(), video.index, codec):
            if pkt.size:
                out.append((pkt.pts, pkt.dts, bool(pkt.is_keyframe), bytes(pkt)))
    sender.join()
    return out


def main() -> int:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, args in CASES.items():
        n = capture(name, args)
        print(f"{name}: {n} packets, {(HERE / f'{name}.rtp').stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
