"""The audit record of footage found missing (design/0091): bounded, whatever was lost.

One `footage.missing` record used to carry every missing path: after a lost disk on a large
site that was one record of 14.6 MB, on a chain that is never deleted, read by the desk's
audit page and `edgectl audit`, and published over MQTT. The full list already lives where it
belongs, in the catalog (each row is `missing`, with why; `edgectl segments --state missing`
lists them); the record keeps what a person needs to see and what proves the list later: the
count, the first and last paths, per camera the count and the time span, and the SHA-256 of
the sorted list (`list_sha256`), which anyone recomputes from the rows.

Pure: plain data in, plain data out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from storage.disk import layout

ACTION = "footage.missing"
INLINE = 20         # up to this many paths, the record lists them all (as it always did)
CAMERAS = 64        # per camera figures for at most this many cameras (the most missing first)
HOW = "sha256 of the sorted paths, each followed by a newline (UTF-8)"


def list_sha256(paths: Iterable[str]) -> str:
    """The digest the record carries: over the sorted paths, each followed by a newline."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.encode("utf-8", "surrogatepass") + b"\n")
    return h.hexdigest()


def _start(relpath: str) -> int | None:
    try:
        parsed = layout.parse_relpath(relpath)
    except ValueError:  # named like a segment, but no such time
        return None
    return parsed[1] if parsed else None


def detail(paths: list[str]) -> dict[str, Any]:
    """The record's detail for these missing paths: bounded by INLINE and CAMERAS, not by len(paths).

    A camera's paths sort by time (video/<camera>/<day>/<start>Z.mp4), so its span is read from
    its first and last path alone: a few seconds for the 300,000 paths of a lost disk."""
    ordered = sorted(paths)
    per: dict[str, dict[str, Any]] = {}
    for p in ordered:
        parts = p.split("/")
        cam = parts[1] if len(parts) == 4 and parts[0] == layout.VIDEO_DIR else ""
        c = per.get(cam)
        if c is None:
            c = per[cam] = {"camera": cam or None, "count": 0, "from_us": p, "to_us": p}
        c["count"] += 1
        c["to_us"] = p
    for c in per.values():
        c["from_us"], c["to_us"] = _start(c["from_us"]), _start(c["to_us"])
    cams = sorted(per.values(), key=lambda c: (-c["count"], c["camera"] or ""))
    out: dict[str, Any] = {
        "count": len(ordered), "first": ordered[0] if ordered else None, "last": ordered[-1] if ordered else None,
        "list_sha256": list_sha256(ordered), "list_hash": HOW,
        "cameras": cams[:CAMERAS], "where": "catalog: segments in state missing (edgectl segments --state missing)"}
    if len(cams) > CAMERAS:
        out["cameras_left_off"] = len(cams) - CAMERAS
    if len(ordered) <= INLINE:
        out["paths"] = ordered
    return out
