"""The reader's per-read loop, `rtp.drain`, timed alone on one camera's captured stream (issue 92).

    .venv/bin/python -m bench.rtp_drain [--capture 20] [--reps 7]

The stage design/0469 found largest in the reading thread: the `$` frames of RTSP's TCP
interleave found and each RTP packet depacketised into access units, exactly as
recorder/edged_source.py calls it (`room`, a read's bytes copied in, `filled`, `drain`). The
capture (the 1080p 20 fps 4 Mbit/s clip of bench/record_throughput.py over
recorder/rtsp_session.py) is kept in bench/out, so a run before a change and one after replay the
same bytes. Times this thread's CPU (`time.thread_time`, the best of `--reps`; a loaded box's
waiting is not counted) for the pure recorder/rtp.py, the compiled module where it is built and the
compiled module with its `take` compiled by Cython (recorder/rtp_fu.pyx, design/0492, 0495) where
that is built, and checks all made the same access units. Printed: us per RTP packet, us per access
unit, and the % of one core a camera at the capture's rate.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import time
from types import ModuleType
from typing import Any

from bench.common import OUT, command_line, environment, log, table
from bench.reader_replay import capture
from recorder import fastpath
from recorder import rtp as pure


def captured(seconds: float) -> tuple[bytes, int, float]:
    """(interleaved bytes, RTP channel, seconds captured), from bench/out when captured before."""
    path = OUT / f"rtp-capture-{seconds:g}s.bin"
    if path.exists():
        raw = path.read_bytes()
        channel, took_ms = raw[0], int.from_bytes(raw[1:5], "big")
        return raw[5:], channel, took_ms / 1000
    data, channel, _params, took = capture(seconds)
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes([channel]) + round(took * 1000).to_bytes(4, "big") + data)
    return data, channel, took


def replay(mod: ModuleType, data: bytes, channel: int, take: Any = None) -> tuple[float, int, int, str]:
    """(CPU seconds of this thread, RTP packets, access units, hash of the units' bytes and times);
    `take`: the compiled path handed to drain (recorder/rtp_fu.pyx, design/0492, 0495)."""
    inter = mod.Interleave()
    dep = mod.Depacketizer("h264")
    out: list = []
    view = memoryview(data)
    at, size, read = 0, len(data), mod.READ_BYTES
    drain, room, filled = mod.drain, inter.room, inter.filled
    t0 = time.thread_time()
    while at < size:
        r = room()
        n = min(read, size - at, len(r))
        r[:n] = view[at:at + n]
        filled(n)
        at += n
        while drain(inter, dep, channel, channel + 1, out, take) is not None:
            pass
    cpu = time.thread_time() - t0
    digest = hashlib.sha256()
    for au in out:
        digest.update(au.ts.to_bytes(8, "big") + bytes((au.key, au.params)) + au.data)
    return cpu, dep.packets, len(out), digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.rtp_drain", description=__doc__.split("\n\n")[0])
    p.add_argument("--capture", type=float, default=20, help="seconds of stream captured (default %(default)s)")
    p.add_argument("--reps", type=int, default=7, help="replays per module, the best kept (default %(default)s)")
    args = p.parse_args(argv)
    log(f"command: {command_line('bench.rtp_drain')}")
    log(f"environment: {environment()}")
    data, channel, took = captured(args.capture)
    mods: list[tuple[str, ModuleType, Any]] = [("pure recorder/rtp.py", pure, None)]
    try:
        compiled = importlib.import_module(fastpath.COMPILED_NAME)
        state = "" if getattr(compiled, "SOURCE_SHA256", None) == fastpath.source_sha256() else " (STALE: another rtp.py)"
        mods.append((f"compiled recorder._rtpc{state}", compiled, None))
        take = fastpath.load_take()
        if take is not None:
            mods.append((f"compiled recorder._rtpc{state} + Cython recorder._rtpc_fu", compiled, take))
    except ImportError:
        log("the compiled module is not built (scripts/build-compiled): the pure module only")
    rows, digests = [], set()
    for name, mod, take in mods:
        best, packets, units, digest = min(replay(mod, data, channel, take) for _ in range(args.reps))
        digests.add(digest)
        rows.append([name, f"{best / packets * 1e6:.3f}", f"{best / max(units, 1) * 1e6:.1f}",
                     f"{best / took * 100:.4f}", digest])
    log(f"{len(data)} bytes, {took:.1f} s captured, RTP packets {packets} ({packets / took:.0f}/s), "
        f"access units {units} ({units / took:.1f}/s)")
    log(table(["module", "us/packet", "us/access unit", "% core/cam", "units' hash"], rows))
    if len(digests) > 1:
        log("the modules made different access units")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
