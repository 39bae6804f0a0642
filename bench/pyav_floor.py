"""The least a PyAV recorder can do: one bare process of `bench.record_throughput --floor`.

    python -m bench.pyav_floor SPEC_JSON

SPEC_JSON: {"out": folder, "segment_us": N, "fragment_us": N, "open": {...}, "mux": {...},
"cameras": {id: url}}. One thread per camera opens the stream with the recorder's options,
demuxes it, skips packets without a dts, and remuxes the rest into fragmented MP4 files
(`<out>/<id>_NNN.mp4`, timestamps from 0 in each, as the recorder and `ffmpeg -f segment
-reset_timestamps 1` write them), cutting a new file at the first keyframe `segment_us`
after the current file's first. No hashing, no fsync, no image checks, no catalog, no
events, no reconnects: demux + mux alone. SIGTERM or SIGINT closes the files and exits.
Imports nothing but the standard library and PyAV, so its memory is PyAV's.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from fractions import Fraction

import av


def _open_segment(path: str, streams: list, mux: dict[str, str], origin_us: int) -> tuple:
    """A new output file with a stream per input stream: (container, {index: (stream, origin ticks)})."""
    out = av.open(path, "w", format="mp4", options=mux)
    dst = {s.index: (out.add_stream_from_template(s), round(Fraction(origin_us, 1_000_000) / s.time_base))
           for s in streams}
    return out, dst


def record(cam: str, url: str, spec: dict, stop: threading.Event) -> None:
    src = av.open(url, options=spec["open"], timeout=(10, 10))
    streams = [*src.streams.video[:1], *src.streams.audio[:1]]
    video = streams[0]
    vindex, vtb = video.index, video.time_base
    seg_ticks = round(Fraction(spec["segment_us"], 1_000_000) / vtb)
    mux = {**spec["mux"], "frag_duration": str(spec["fragment_us"])}
    out, dst, cut, k = None, {}, None, 0
    try:
        for pkt in src.demux(streams):
            if stop.is_set():
                break
            dts = pkt.dts
            if dts is None:
                continue
            idx = pkt.stream.index
            if idx == vindex and pkt.is_keyframe and (cut is None or dts >= cut):
                if out is not None:
                    out.close()
                out, dst = _open_segment(f"{spec['out']}/{cam}_{k:03d}.mp4", streams, mux, int(dts * vtb * 1_000_000))
                cut, k = dts + seg_ticks, k + 1
            if out is None:
                continue  # nothing decodable before the first keyframe
            stream, origin = dst[idx]
            if dts < origin:
                continue  # audio from before the keyframe that opened the file
            pkt.dts = dts - origin
            pkt.pts = (dts if pkt.pts is None else pkt.pts) - origin
            pkt.stream = stream
            out.mux(pkt)
    finally:
        if out is not None:
            out.close()
        src.close()


def guarded(cam: str, url: str, spec: dict, stop: threading.Event) -> None:
    try:
        record(cam, url, spec, stop)
    except Exception as exc:  # noqa: BLE001 - one camera's failure is reported, the others go on
        print(f"{cam}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def main() -> int:
    spec = json.loads(sys.argv[1])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=guarded, args=(cam, url, spec, stop), name=cam)
               for cam, url in spec["cameras"].items()]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
