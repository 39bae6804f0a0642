"""The media worker's wire protocol (design/0020): a leaf both sides import, and nothing else.

Frames, both ways after the request line: a 4-byte big-endian length, a JSON header, then
`header["size"]` bytes of payload (the packets, one after another). Nothing is pickled: a
worker that a malformed file took over can send the daemon bytes, never objects.
- live: request {"op": "live", "camera", "url", "settings", "max_height"}; the worker answers
  {"opened": [w, h]} or {"error": msg}, then one frame per packet
  {"pts", "dts", "tb": [num, den], "key", "size"} until the stream ends or stdin closes.
  With "audio": true in the request and a camera sending AAC, G.711 or L16, "opened" also says
  {"audio": rate} (else null), and the camera's sound comes between the packets as frames
  {"pcm": rate} whose payload is 16-bit mono PCM (design/0087).
- range: request {"op": "range", "pieces": [[path, start_us, end_us], ...], "from_us",
  "to_us", "max_height"}; then commands {"seek": t} -> {"at": t or null}, {"read": budget_us} ->
  {"packets": [[dts_wall, pts_wall, size, key], ...], "ended", "size"}. With "audio": true,
  both answers also carry "sound": [[wall_us, rate, size], ...], 16-bit mono PCM inside the
  range, its bytes after the packets' (design/0087).
- thumbs: request {"op": "thumbs"}; then commands {"thumb": {"pieces", "lo_us", "hi_us", "width"}}
  -> {"found": bool} with the JPEG of the first key frame in [lo, hi) as payload (design/0114).

The daemon's side is edged/viewer/media_client.py, the worker process edged/viewer/media_worker.py.
"""

from __future__ import annotations

import json
import struct
from typing import IO, Any

MAX_HEADER = 1 << 20
MAX_PAYLOAD = 64 << 20


class WorkerGone(Exception):
    """The worker process ended (a crash, a kill) or spoke out of turn."""


def write_frame(out: IO[bytes], header: dict[str, Any], payload: bytes = b"") -> None:
    head = json.dumps({**header, "size": len(payload)}).encode()
    out.write(struct.pack(">I", len(head)) + head + payload)
    out.flush()


def read_frame(inp: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    raw = inp.read(4)
    if len(raw) < 4:
        raise WorkerGone("the media worker ended")
    (n,) = struct.unpack(">I", raw)
    if n > MAX_HEADER:
        raise WorkerGone(f"the media worker sent a {n}-byte header")
    header = json.loads(inp.read(n))
    size = header.get("size", 0)
    if not isinstance(size, int) or not 0 <= size <= MAX_PAYLOAD:
        raise WorkerGone("the media worker sent a bad payload size")
    payload = inp.read(size) if size else b""
    if len(payload) != size:
        raise WorkerGone("the media worker ended mid-frame")
    return header, payload
