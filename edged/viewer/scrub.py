"""A granted viewing's scrub timeline (issue 42 item 6, design/0114): plain data in, plain data out.

The grant's range is cut into SLOTS equal slots; each slot shows at most one thumbnail, the first
key frame recorded in it, so the box decodes at most one picture a slot however often the page
asks (edged/viewer/thumbs.py caches each slot's answer). Beside the slots, the range as bands:
footage recorded live, footage fetched later from the camera's own card (`backfilled`, design/0106),
footage a standby box recorded while this box was gone (`stood-in`, design/0107), filed gaps, and
time nothing accounts for (`none`). No I/O, no clock: the caller passes what the catalog said.
A person may also type (or pick from the desk's calendar) the moment to go to, in the site's
calendar (`jump`, design/0113's grammar to the second): inside the grant, or refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Sequence

from edged.i18n import _, local
from edged.viewer.desk.bands import Span, complement, merged
from storage.footage.segment_rows import FOOTAGE_STATES
from storage.time import rocdate

SLOTS = 24                  # thumbnails along the timeline at most
MIN_SLOT_US = 2_000_000     # a short grant has fewer slots: never two in one segment of 2 s
THUMB_WIDTH = 160           # pixels; the height keeps the picture's shape
JOIN_US = 1_000_000         # segments closer than this are one band: playback's GAP_US (edged/viewer/range_read.py)
KINDS = ("footage", "backfilled", "stood-in", "gap", "none")


def slot_count(from_us: int, to_us: int) -> int:
    return max(1, min(SLOTS, (to_us - from_us) // MIN_SLOT_US))


def slot_bounds(from_us: int, to_us: int, slot: int) -> tuple[int, int] | None:
    """[a, b) of slot number `slot` of the range, None for a slot the range does not have."""
    n = slot_count(from_us, to_us)
    if not 0 <= slot < n:
        return None
    width = to_us - from_us
    return from_us + width * slot // n, from_us + width * (slot + 1) // n


def _stood_in(row: dict[str, Any], standins: Sequence[dict[str, Any]], camera: str) -> bool:
    start = row["start_us"]
    return any(camera in (s.get("cameras") or ()) and s["started_us"] <= start
               and (s.get("ended_us") is None or start < s["ended_us"]) for s in standins)


def source_of(row: dict[str, Any], standins: Sequence[dict[str, Any]], camera: str) -> str:
    """A segment's kind on the timeline: where its footage came from."""
    if row.get("source") == "backfilled":
        return "backfilled"
    return "stood-in" if _stood_in(row, standins, camera) else "footage"


def strip(camera: str, from_us: int, to_us: int, rows: Sequence[dict[str, Any]], gaps: Sequence[dict[str, Any]] = (),
          standins: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The range's bands in time order: [{kind, from_us, to_us}], clipped to the range; the
    footage of one kind merged where its segments touch, gaps as filed, the rest `none`."""
    mine = sorted((r for r in rows if r.get("camera", camera) == camera and r.get("state") in FOOTAGE_STATES
                   and r.get("end_us") is not None), key=lambda r: r["start_us"])
    filed = [Span("gap", max(g["from_us"], from_us), min(g["to_us"], to_us)) for g in gaps
             if g.get("camera", camera) == camera and g["from_us"] < to_us and g["to_us"] > from_us]
    footage = merged("footage", ((r["start_us"], r["end_us"], source_of(r, standins, camera), False) for r in mine),
                     from_us, to_us, [(g.from_us, g.to_us) for g in filed], JOIN_US)
    spans: list[dict[str, Any]] = [{"kind": s.reason, "from_us": s.from_us, "to_us": s.to_us} for s in footage]
    spans += [{"kind": "gap", "from_us": g.from_us, "to_us": g.to_us} for g in filed if g.to_us > g.from_us]
    covered = [Span("x", s["from_us"], s["to_us"]) for s in spans]
    spans += [{"kind": "none", "from_us": a, "to_us": b} for a, b in complement(covered, from_us, to_us)
              if b - a > JOIN_US or a == from_us or b == to_us]   # not the frame between two kinds of footage
    return sorted(spans, key=lambda s: (s["from_us"], KINDS.index(s["kind"])))


def slot_pieces(rows: Sequence[dict[str, Any]], a: int, b: int) -> list[dict[str, Any]]:
    """The footage segments whose time meets the slot [a, b), oldest first: where its key frame is."""
    return sorted((r for r in rows if r.get("state") in FOOTAGE_STATES and r.get("end_us") is not None
                   and r["start_us"] < b and r["end_us"] > a), key=lambda r: r["start_us"])


def thumb_refusal(grant: dict[str, Any], camera: str, slot: int, now_us: int, deadline_us: int) -> str | None:
    """Why a thumbnail may not be read, in a person's words (None: it may). The grant's scope as
    for its segments: one of its cameras, a slot of its range, while its viewing lasts."""
    if camera not in grant["cameras"]:
        return _("camera {camera} is not in grant {id} (it covers {cameras})").format(
            camera=camera, id=grant["id"], cameras=", ".join(grant["cameras"]))
    if slot_bounds(grant["from_us"], grant["to_us"], slot) is None:
        return _("that time is outside grant {id}").format(id=grant["id"])
    if now_us >= deadline_us:
        return _("the viewing is over")
    return None


# going to a moment typed or picked in the site's calendar (issue 42 item 6, design/0113) -----------
JUMP_EXAMPLES = {rocdate.ROC: "115/11/24 14:30:05", rocdate.GREGORIAN: "2026-11-24 14:30:05"}
_SECONDS = re.compile(r"(.*\d[:：]\d{2})[:：](\d{2})")


def parse_moment(text: str) -> tuple[datetime, int] | None:
    """A moment as the desk's date fields read it (rocdate.parse_datetime: 115/11/24 14:30, or
    Gregorian), to the second if one is typed (115/11/24 14:30:05), and how long the typed moment
    lasts in seconds (60 to the minute, 1 to the second); None if it is not one."""
    m = _SECONDS.fullmatch(text.strip())
    if m is None:
        t = rocdate.parse_datetime(text)
        return None if t is None else (t, 60)
    t = rocdate.parse_datetime(m[1])
    if t is None or int(m[2]) > 59:
        return None
    return t.replace(second=int(m[2])), 1


def moment_text(us: int, tz: tzinfo | None, calendar: str) -> str:
    """What the field shows: 115/11/24 14:30:05 (in the site's zone and the person's calendar)."""
    t = local(us, tz)
    return f"{rocdate.datetime_text(t, calendar)}:{t.second:02d}"


@dataclass(frozen=True)
class Jump:
    at_us: int | None     # where the viewing goes: inside the grant's range, or None (refused)
    text: str             # the field's text: the moment gone to, in the person's calendar
    refusal: str | None = None


def jump(typed: str, grant: dict[str, Any], tz: tzinfo | None, calendar: str) -> Jump:
    """Where a typed or picked moment takes the grant's viewing. A moment that meets the range
    (a minute typed as 14:30 is the whole minute) goes to the first of its microseconds inside
    it; one wholly outside is refused, in words, and nothing outside the range is read."""
    typed = typed.strip()
    parsed = parse_moment(typed)
    if parsed is None:
        return Jump(None, typed, _("{typed} is not a date and time: type one as {example}, or pick a day from "
                                   "the calendar").format(typed=typed or '""', example=JUMP_EXAMPLES[calendar]))
    t, seconds = parsed
    aware = t.replace(tzinfo=tz) if tz else t.astimezone()
    at = int(aware.timestamp()) * 1_000_000
    start, end = grant["from_us"], grant["to_us"]
    if at + seconds * 1_000_000 <= start or at >= end:
        return Jump(None, typed, _("{typed} is outside grant {id}, which covers {start} to {end}: nothing outside "
                                   "it may be shown; pick a time in its range").format(
            typed=typed, id=grant["id"], start=moment_text(start, tz, calendar),
            end=moment_text(end, tz, calendar)))
    at = min(max(at, start), end - 1)
    return Jump(at, moment_text(at, tz, calendar))
