"""The audit record of a start-up recovery that cut back, quarantined or adopted footage, or removed
a segment's header that held no picture (issue 40, design/0097; issue 79): what, how much, why.
Written by storage/footage/reconcile.py in the same transaction as the catalog rows it changes, so a
recovery is on the chain or did not happen. Bounded like `footage.missing` (design/0091): counts and bytes by how, then the first INLINE
files (the rest are the catalog's rows, each with its note).

Pure: plain data in, plain data out.
"""

from __future__ import annotations

from typing import Any

RECOVERY = "footage.recovery"
OPEN_WHY = "segments left open by a crash, a kill or a power cut: cut back to their last whole fragment"
ORPHAN_WHY = "files on the disk the catalog never heard of (written just before a crash): adopted or set aside"
INLINE = 20


def item(path: str, size: int, fields: dict[str, Any] | None, moved: str | None,
         adopted: bool = False, sha256: str | None = None) -> dict[str, Any]:
    if fields is None and moved is None:  # a segment's header and nothing else (issue 79)
        return {"path": path, "how": "removed", "bytes": size, "sha256": sha256,
                "why": "a header without a picture: the kill came as the segment opened"}
    if fields is None:
        return {"path": path, "how": "quarantined", "bytes": size, "to": moved,
                "why": "no whole fragment: nothing playable"}
    kept = int(fields["bytes"])
    how = "adopted" if adopted else ("truncated" if kept < size else "closed")
    return {"path": path, "how": how, "bytes": kept, "cut_bytes": size - kept, "sha256": fields.get("sha256")}


def recovery_detail(why: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Pure: the record's detail: counts and bytes by how, and the first INLINE files."""
    count: dict[str, int] = {}
    for it in items:
        count[it["how"]] = count.get(it["how"], 0) + 1
    return {"why": why, "files": len(items), "by_how": count,
            "cut_bytes": sum(it.get("cut_bytes", 0) for it in items),
            "quarantined_bytes": sum(it["bytes"] for it in items if it["how"] == "quarantined"),
            "removed_bytes": sum(it["bytes"] for it in items if it["how"] == "removed"),
            "items": items[:INLINE], "more": max(0, len(items) - INLINE)}
