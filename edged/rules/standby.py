"""Which boxes a standby stands in for (design/0107): a plain function of what it has seen of
each box over MQTT and the time, so every case is a row of a table test.

A box is gone when its retained `status` says "offline" (its last will: the broker says it lost
the box), or when nothing at all has been heard of it for its state heartbeat plus `silence`
(a box whose connection hangs on, or a standby that lost the broker: in doubt, record). A box
stood in for is back when it is online and every camera the standby records for it has said,
since it came online, that it records, for `hold`. Recording by both is harmless, so every
doubt keeps the standby recording; there is nothing to agree on, so no consensus protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

HEARTBEAT_US = 60_000_000  # a box's retained `state` goes out at least this often (edged/daemon/reporting.py)


@dataclass(frozen=True, slots=True)
class CameraSeen:
    recording: bool
    since_us: int | None   # the box's word for since when (its clock); None: not said
    seen_us: int           # when the standby received it (its clock)


@dataclass(frozen=True, slots=True)
class BoxSeen:
    status: str | None = None          # "online" | "offline" | None: never heard
    online_us: int | None = None       # when the standby saw it come online (its clock)
    heard_us: int | None = None        # anything of it last received
    cameras: Mapping[str, CameraSeen] = field(default_factory=dict)
    left_us: int | None = None         # when it was last seen going ("offline"; standby clock)


def gone_why(seen: BoxSeen, now_us: int, watching_us: int, silence_us: int) -> str | None:
    """Why the box counts as gone, or None while it is there."""
    if seen.status == "offline":
        return "offline"  # i18n: reasons kept as data, words in edged/daemon/standby.py
    heard = seen.heard_us if seen.heard_us is not None else watching_us
    if now_us - heard >= HEARTBEAT_US + silence_us or (seen.heard_us is None and now_us - watching_us >= silence_us):
        return "silent" if seen.heard_us is not None else "never heard"  # i18n: reasons kept as data
    return None


def back_since(seen: BoxSeen, cameras: frozenset[str]) -> int | None:
    """Since when the box has been recording every one of `cameras` again, or None if it is not.
    Each camera's `since_us` (the box's clock: it records before its MQTT link is up) counts when
    it is after the box was seen going; one from before (a word left from the last run) or none
    counts from when the box came online (the standby's clock). A box clock ahead only
    lengthens the overlap."""
    if seen.status != "online" or seen.online_us is None:
        return None
    since = seen.online_us if not cameras else None
    for cam in cameras:
        c = seen.cameras.get(cam)
        if c is None or not c.recording or c.seen_us < seen.online_us:  # a retained word from before it went
            return None
        fresh = c.since_us is not None and seen.left_us is not None and c.since_us >= seen.left_us
        at = c.since_us if fresh and c.since_us is not None else seen.online_us
        since = at if since is None else max(since, at)
    return since


def stand_in_for(seen: Mapping[str, BoxSeen], cameras_of: Mapping[str, frozenset[str]], standing: frozenset[str],
                 now_us: int, watching_us: int, silence_us: int, hold_us: int) -> dict[str, str]:
    """The boxes to stand in for now, each with why: "offline", "silent", "never heard", or
    "waiting" (back, not yet recording for `hold`)."""
    out: dict[str, str] = {}
    for box, cams in cameras_of.items():
        s = seen.get(box, BoxSeen())
        why = gone_why(s, now_us, watching_us, silence_us)
        if why is not None:
            out[box] = why
            continue
        if box in standing:
            since = back_since(s, cams)
            if since is None or now_us - since < hold_us:
                out[box] = "waiting"
    return out
