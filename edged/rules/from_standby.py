"""A box fetching its gap back from the site's standby (design/0115), as plain functions.

Who may ask (a box the standby stands in for, named by the certificate the office issued it),
which of the standby's segments a box fetches for a gap (those overlapping it that it does not
hold yet: whole, as the standby hashed them), whether what arrived is what was offered, and how
a gap ends. No I/O and no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from storage.footage.spans import holes

MIN_LACK_US = 500_000       # a standby's segment is fetched for at least this much the box lacks (design/0158)
SETTLE_US = 5_000_000       # a gap is asked of the standby once it ended this long ago
ASK_FOR_US = 86_400_000_000  # and while it ended less than this ago (the standby keeps it by its retention)


def may_ask(client_site: str, client_node: str, site: str, boxes: Iterable[str]) -> bool:
    """A box may fetch from this standby only when its certificate names this site and a box
    the standby stands in for ([standby] for): enrolled peers only."""
    return client_site == site and client_node in set(boxes)


def cameras_for(box: str, cameras: Iterable[tuple[str, str | None]]) -> frozenset[str]:
    """The cameras (id, box) the standby records for `box`: the only ones it serves that box."""
    return frozenset(cid for cid, b in cameras if b == box)


def next_gaps(gaps: Iterable[Mapping[str, Any]], cameras: set[str], now_us: int,
              settle_us: int = SETTLE_US) -> list[Mapping[str, Any]]:
    """The gaps to ask the standby for now, oldest first: of this box's cameras, ended `settle_us`
    ago and less than a day."""
    return sorted((g for g in gaps if g["camera"] in cameras and now_us - ASK_FOR_US <= g["to_us"] <= now_us - settle_us),
                  key=lambda g: (g["from_us"], g["camera"]))


def to_fetch(gap_from_us: int, gap_to_us: int, offered: Sequence[Mapping[str, Any]],
             held: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The standby's segments to fetch for the gap: those overlapping it, whole (its hash as
    written is what proves them; a cut copy would have none), not held already (the same hash,
    or a segment of this box starting at the same time). What this box has is never replaced:
    the fetched ones are added beside it."""
    have = {h["sha256"] for h in held if h.get("sha256")}
    starts = {h["start_us"] for h in held}
    spans = [(h["start_us"], h["end_us"]) for h in held]
    return [o for o in offered if o["start_us"] < gap_to_us and o["end_us"] > gap_from_us
            and o.get("sha256") and o["sha256"] not in have and o["start_us"] not in starts
            and sum(b - a for a, b in lacking(o["start_us"], o["end_us"], spans)) >= MIN_LACK_US]


def lacking(start_us: int, end_us: int, held: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """What of a standby's segment [start, end) the box does not hold (design/0158): only that is
    stored, cut at the standby's keyframes, so no instant of a camera is catalogued twice."""
    return [(a, b) for a, b in holes(start_us, end_us, held) if b - a >= MIN_LACK_US]


def arrived_ok(offered: Mapping[str, Any], sha256: str, size: int) -> str | None:
    """None when what arrived is what the standby offered; else why not (kept out of the catalog)."""
    if size != offered.get("bytes"):
        return f"{size} bytes arrived, the standby's catalog says {offered.get('bytes')}"  # i18n: the journal's and another box's (machine to machine)
    if sha256 != offered.get("sha256"):
        return f"its SHA-256 {sha256[:16]}... is not the standby's {str(offered.get('sha256'))[:16]}..."
    return None


def state_after(fetched: int, offered_in_gap: int) -> str:
    """The gap's `standby` once asked: 'done' (all it had that this box lacked), or 'none'."""
    return "done" if fetched or offered_in_gap else "none"
