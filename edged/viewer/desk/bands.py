"""A camera's day as bands (design/0084): plain data in (the rows the `segments`, `events`,
`hold.list` and `destructions` operations answer), plain spans out. No I/O, no clock: the
page passes the moment it is now, and what is after it is simply not drawn.

Bands, each a list of spans in time order, clipped to the day:
  footage   recorded footage, contiguous segments merged into one span
  backfilled footage fetched after a gap, from the camera's own recording (`backfilled`,
            design/0106) or from the standby (`standby`, design/0115): its own kind, the
            source as the span's reason; the gap it fills stays on its band
  gap       a hole the daemon filed, with its reason (an outage, a restart, a full disk, ...)
  policy    time not recorded by the camera's mode (no motion, live view only): not a gap
  unknown   time before now that nothing above accounts for (no camera yet, the box was off)
  motion    motion events (a mark when the event has no end yet)
  hold      holds (pending or in force) covering this camera
  destroyed footage destroyed by retention, merged like footage, with the reason
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Iterable, Sequence

JOIN_US = 2_000_000   # segments closer than this are one span (a segment ends a frame before the next)
BANDS = ("footage", "backfilled", "gap", "policy", "unknown", "motion", "hold", "destroyed")


@dataclass(frozen=True)
class Span:
    kind: str
    from_us: int
    to_us: int
    reason: str = ""       # a gap's, a policy's or a destruction's reason; a hold's kind
    ref: int | None = None  # a hold's or a motion event's id
    count: int = 1          # segments (or destroyed segments) merged into the span
    open: bool = False      # footage still being written, or an event without its end yet

    @property
    def length_us(self) -> int:
        return self.to_us - self.from_us


def _clip(a: int, b: int, start: int, end: int) -> tuple[int, int] | None:
    a, b = max(a, start), min(b, end)
    return (a, b) if b > a else None


def merged(kind: str, rows: Iterable[tuple[int, int, str, bool]], start: int, end: int,
           breaks: Sequence[tuple[int, int]] = (), join_us: int = JOIN_US) -> list[Span]:
    """(from, to, reason, open) rows in time order into spans; rows touching (within `join_us`)
    with the same reason are one span, unless one of `breaks` (a filed gap) lies between them."""
    out: list[Span] = []
    for a, b, reason, is_open in rows:
        c = _clip(a, b, start, end)
        if c is None:
            continue
        last = out[-1] if out else None
        if last is not None and last.reason == reason and c[0] - last.to_us <= join_us and \
                not any(a <= c[0] and b >= last.to_us for a, b in breaks):
            out[-1] = Span(kind, last.from_us, max(last.to_us, c[1]), reason, None, last.count + 1,
                           is_open or last.open)
        else:
            out.append(Span(kind, c[0], c[1], reason, None, 1, is_open))
    return out


def _end_of(r: dict[str, Any], now_us: int) -> tuple[int, str, bool]:
    """(end, reason, open): a segment still being written reaches now."""
    end = r.get("end_us")
    return (max(now_us, r["start_us"]), "", True) if end is None else (int(end), "", False)


def _covers(hold: dict[str, Any], camera: str) -> bool:
    cams = hold.get("cameras")
    return cams is None or camera in cams


def complement(covered: Sequence[Span], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of [start, end) no span covers."""
    out, cursor = [], start
    for s in sorted(covered, key=lambda s: s.from_us):
        if s.from_us > cursor:
            out.append((cursor, min(s.from_us, end)))
        cursor = max(cursor, s.to_us)
        if cursor >= end:
            break
    if cursor < end:
        out.append((cursor, end))
    return [(a, b) for a, b in out if b > a]


def day_bands(camera: str, start: int, end: int, now_us: int, *, segments: Sequence[dict[str, Any]] = (),
              gaps: Sequence[dict[str, Any]] = (), not_recorded: Sequence[dict[str, Any]] = (),
              events: Sequence[dict[str, Any]] = (), holds: Sequence[dict[str, Any]] = (),
              destructions: Sequence[dict[str, Any]] = ()) -> dict[str, list[Span]]:
    """The bands of `camera` on the day [start, end), as known at `now_us`."""
    shown_end = min(end, max(start, now_us))   # nothing is drawn after now
    mine = [r for r in segments if r.get("camera", camera) == camera and r.get("source", "live") == "live"]
    fetched = sorted((r for r in segments if r.get("camera", camera) == camera and r.get("source", "live") != "live"),
                     key=lambda r: r["start_us"])
    gap = [Span("gap", *c, str(g.get("reason") or "")) for g in gaps if g.get("camera", camera) == camera
           for c in [_clip(g["from_us"], g["to_us"], start, shown_end)] if c]
    policy = [Span("policy", *c, str(g.get("reason") or "")) for g in not_recorded
              if g.get("camera", camera) == camera for c in [_clip(g["from_us"], g["to_us"], start, shown_end)] if c]
    footage = merged("footage", ((r["start_us"], *_end_of(r, now_us)) for r in sorted(mine, key=lambda r: r["start_us"])),
                     start, shown_end, [(g.from_us, g.to_us) for g in (*gap, *policy)])
    backfilled = merged("backfilled", ((r["start_us"], _end_of(r, now_us)[0], str(r.get("source")), _end_of(r, now_us)[2])
                                       for r in fetched), start, shown_end)
    destroyed = merged("destroyed", ((d["start_us"], d.get("end_us") or d["start_us"], str(d.get("reason") or ""),
                                      False) for d in sorted(destructions, key=lambda d: d["start_us"])
                                     if d.get("camera", camera) == camera), start, shown_end)
    unknown = [Span("unknown", a, b) for a, b in complement([*footage, *backfilled, *gap, *policy, *destroyed], start,
                                                            shown_end)]
    motion = []
    for e in sorted(events, key=lambda e: e["start_us"]):
        if e.get("camera", camera) != camera:
            continue
        a, is_open = int(e["start_us"]), e.get("end_us") is None
        b = a if is_open else max(a, int(e["end_us"]))
        if b < start or a >= end:
            continue
        motion.append(Span("motion", max(a, start), min(b, end), "", e.get("id"), 1, is_open))
    held = [Span("hold", *c, str(h.get("kind") or ""), h.get("id"))
            for h in sorted(holds, key=lambda h: (h["from_us"], h.get("id") or 0))
            if _covers(h, camera) and not h.get("ended_us") for c in [_clip(h["from_us"], h["to_us"], start, end)] if c]
    return {"footage": footage, "backfilled": backfilled, "gap": gap, "policy": policy, "unknown": unknown, "motion": motion, "hold": held,
            "destroyed": destroyed}


def recorded_us(bands: dict[str, list[Span]]) -> int:
    return sum(s.length_us for s in bands.get("footage", ()))


def day_range(day: date, tz: tzinfo | None) -> tuple[int, int]:
    """[start, end) of a calendar day in the site's zone, in µs (23 or 25 hours across a DST change)."""
    def at(d: date) -> int:
        t = datetime(d.year, d.month, d.day)
        aware = t.replace(tzinfo=tz) if tz else t.astimezone()
        return int(aware.timestamp()) * 1_000_000
    return at(day), at(day + timedelta(days=1))
