"""Backfill from the camera's own recording (design/0106), as plain functions over plain data.

Which gap is fetched next, which range of the camera's recording is asked for, where an
interrupted backfill resumes, which frames that come back are kept (only those inside the gap:
footage edged has is never replaced), where a backfilled segment is cut, and how fast the replay
may be read (the bandwidth cap). No I/O and no clock: the caller passes `now_us`.

A gap's backfill state, stored on its row (storage/footage/backfill.py): None (not looked at), PENDING
(to fetch, `progress_us` the time fetched up to), DONE, GIVEN_UP (with a reason a technician can
read, one of the REASONS below, stored as data and translated when shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from edged.i18n import N_
from recorder.timeline import is_cut, next_boundary
from storage.footage.spans import holes

PENDING, DONE, GIVEN_UP = "pending", "done", "given up"  # i18n: data
SETTLE_US = 5_000_000          # a gap is fetched once it ended this long ago (the camera has written it)
MIN_US = 500_000               # a gap or a remainder shorter than this is not worth a replay
STANDBY_WAIT_US = 120_000_000  # a box with a standby: the camera is asked once the standby was (or this long after)
# The reasons a backfill ends without the footage (stored as data, shown translated).
NO_RECORDING = N_("the camera has no recording of its own (no SD card, or Profile G not offered)")
OVERWRITTEN = N_("the camera's recording no longer holds this time: it was overwritten")
NOT_RECORDED = N_("the camera's recording has a hole here: it did not record this time either")
REFUSED = N_("the camera refused to replay its recording: {why}")
UNREACHABLE = N_("the camera did not answer: {why}")
REASONS = (NO_RECORDING, OVERWRITTEN, NOT_RECORDED, REFUSED, UNREACHABLE)


@dataclass(frozen=True, slots=True)
class Fetch:
    """Ask the camera for [start_us, end_us) of its recording."""

    start_us: int
    end_us: int


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str                      # one of REASONS (its {why} filled in by the caller)


@dataclass(frozen=True, slots=True)
class Done:
    pass


def next_gap(gaps: Iterable[Mapping[str, Any]], edge_cameras: set[str], now_us: int,
             settle_us: int = SETTLE_US, standby: bool = False) -> Mapping[str, Any] | None:
    """The gap to backfill next, one at a time: the oldest of a camera with an edge recording
    that is not done or given up, long enough, and ended `settle_us` ago. A box with a standby
    (`standby`) asks the standby first (design/0115): a gap not yet asked of it waits, for at
    most STANDBY_WAIT_US after its end (a standby that does not answer holds nothing up for ever)."""
    fit = [g for g in gaps if g["camera"] in edge_cameras and g.get("backfill") in (None, PENDING)
           and g["to_us"] - g["from_us"] >= MIN_US and g["to_us"] <= now_us - settle_us
           and not (standby and g.get("standby") is None and g["to_us"] > now_us - STANDBY_WAIT_US)]
    return min(fit, key=lambda g: (g["from_us"], g["camera"]), default=None)


def missing(start_us: int, gap_to_us: int, held: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """What of [start, gap's end) the box still lacks, each stretch at least MIN_US: the gap less
    every segment it holds by now (its own, fetched from the standby, or backfilled before).
    Only these are asked of the camera: footage the box has is never replaced."""
    return holes(start_us, gap_to_us, held, MIN_US - 1)


def resume_point(gap_from_us: int, progress_us: int | None, backfilled: Sequence[tuple[int, int]]) -> int:
    """Where the fetch starts: after what earlier runs stored of this gap (the row's progress,
    and the end of any backfilled segment inside the gap: one a crash left behind the progress)."""
    ends = [end for _start, end in backfilled if end is not None]
    return max([gap_from_us, progress_us or gap_from_us, *ends])


def plan(gap_from_us: int, gap_to_us: int, start_us: int, rec_from_us: int, rec_until_us: int) -> Fetch | GiveUp | Done:
    """What to ask the camera for, the fetch resuming at `start_us`, its recording holding
    [rec_from_us, rec_until_us]. Only the gap's interval is ever asked for."""
    if gap_to_us - start_us < MIN_US:
        return Done()
    if rec_from_us >= gap_to_us:
        return GiveUp(OVERWRITTEN)
    if rec_until_us <= start_us:
        return GiveUp(NOT_RECORDED)
    return Fetch(max(start_us, rec_from_us), min(gap_to_us, rec_until_us))


def after_fetch(gap_to_us: int, fetched_to_us: int, asked: Fetch, start_us: int) -> Done | GiveUp:
    """How a gap ends once the replay finished: what the camera did not send is a hole in its
    recording too, and a start the camera had overwritten is said."""
    if asked.start_us - start_us >= MIN_US:
        return GiveUp(OVERWRITTEN)
    if gap_to_us - max(fetched_to_us, asked.start_us) >= MIN_US:
        return GiveUp(NOT_RECORDED)
    return Done()


def keep(t_us: int, start_us: int, gap_to_us: int) -> bool:
    """A frame that came back is stored only inside what is missing: never on footage edged has."""
    return start_us <= t_us < gap_to_us


def cut(segment_start_us: int | None, t_us: int, key: bool, length_us: int) -> bool:
    """A new segment starts at this frame: the first, or a keyframe at the next wall-clock
    multiple of the site's `segment_length` after the start, as the recorder cuts its own
    (recorder/timeline.py, declared there once): backfilled footage lies on the same grid."""
    return segment_start_us is None or is_cut(t_us, key, next_boundary(segment_start_us, length_us))


def pace_s(sent_bytes: int, elapsed_s: float, cap_bytes_s: int) -> float:
    """How long to wait before reading on, so that the replay stays under the cap (0: none)."""
    if cap_bytes_s <= 0:
        return 0.0
    return max(0.0, sent_bytes / cap_bytes_s - elapsed_s)
