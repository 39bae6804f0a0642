"""The retention planner: what to destroy, why, and what to raise. Pure (DESIGN.md invariant 5).

Rules (DESIGN.md "Retention rules", REQUIREMENTS R1.3-R1.6, R6):
1. Footage whose end is older than the camera's max retention is destroyed, unless held,
   even when the disk is nearly empty.
2. While free space is below the reserve, the oldest unheld footage (any camera) goes.
   Footage younger than the camera's min retention going this way is a breach: a critical
   alarm carrying the retention actually achieved. With on_full = "stop" it is not
   destroyed; recording stops instead.
3. Held footage is never destroyed, not even past max retention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

DAY_US = 86_400 * 1_000_000

MAX_RETENTION = "max_retention"
CAPACITY = "capacity"


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    camera: str
    start_us: int
    end_us: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    cameras: frozenset[str] | None   # None: every camera
    from_us: int
    to_us: int
    expires_us: int | None           # None: a legal hold, no expiry

    def active(self, now_us: int) -> bool:
        return self.expires_us is None or self.expires_us > now_us

    def covers(self, seg: Segment) -> bool:
        return (self.cameras is None or seg.camera in self.cameras) and \
            seg.start_us < self.to_us and seg.end_us > self.from_us


@dataclass(frozen=True, slots=True)
class Limits:
    min_us: int
    max_us: int


@dataclass(frozen=True, slots=True)
class Policy:
    site: Limits
    cameras: dict[str, Limits]       # overrides
    reserve_bytes: int
    on_full: str = "overwrite"       # or "stop"

    def limits(self, camera: str) -> Limits:
        return self.cameras.get(camera, self.site)


@dataclass(frozen=True, slots=True)
class Disk:
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True, slots=True)
class Destroy:
    segment: Segment
    reason: str                      # MAX_RETENTION or CAPACITY


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: str
    severity: str
    camera: str | None
    message: str
    achieved_us: int | None = None


@dataclass(slots=True)
class Plan:
    destroy: list[Destroy] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    stop_recording: bool = False     # on_full = "stop" and the minimum cannot be kept
    short_bytes: int = 0             # still missing to reach the reserve (all footage held or too young)

    @property
    def freed_bytes(self) -> int:
        return sum(d.segment.bytes for d in self.destroy)


def plan(oldest_first: Sequence[Segment], holds: Iterable[Hold], policy: Policy, disk: Disk, now_us: int) -> Plan:
    """Decide one retention pass.

    `oldest_first` must hold, sorted by start time, every complete segment past its camera's
    max retention and enough of the oldest others to cover the reserve deficit (the caller
    queries with an index; see storage/retention_store.py). Segments being written or read
    must not be in it.
    """
    active = [h for h in holds if h.active(now_us)]
    result = Plan()
    chosen: set[int] = set()

    def held(seg: Segment) -> bool:
        return any(h.covers(seg) for h in active)

    for seg in oldest_first:
        if seg.end_us < now_us - policy.limits(seg.camera).max_us and not held(seg):
            result.destroy.append(Destroy(seg, MAX_RETENTION))
            chosen.add(seg.id)

    free = disk.free_bytes + result.freed_bytes
    breached: dict[str, int] = {}  # camera -> end of the youngest footage destroyed too early
    for seg in oldest_first:
        if free >= policy.reserve_bytes:
            break
        if seg.id in chosen or held(seg):
            continue
        if seg.end_us > now_us - policy.limits(seg.camera).min_us:
            if policy.on_full == "stop":
                result.stop_recording = True
                break
            breached[seg.camera] = max(breached.get(seg.camera, 0), seg.end_us)
        result.destroy.append(Destroy(seg, CAPACITY))
        chosen.add(seg.id)
        free += seg.bytes
    result.short_bytes = max(0, policy.reserve_bytes - free)

    for camera, youngest_end in sorted(breached.items()):
        achieved = now_us - youngest_end
        result.alarms.append(Alarm(
            "min_retention_breach", "critical", camera,
            f"disk full: footage of {camera} destroyed at {achieved / DAY_US:.2f} days, "
            f"below the minimum of {policy.limits(camera).min_us / DAY_US:g} days", achieved))
    if result.stop_recording:
        result.alarms.append(Alarm(
            "recording_stopped_disk_full", "critical", None,
            "disk full and on_full = stop: recording stops rather than destroy footage younger than the minimum"))
    elif result.short_bytes:
        result.alarms.append(Alarm(
            "disk_full_held", "critical", None,
            f"disk below its reserve by {result.short_bytes} bytes and nothing more may be destroyed "
            "(footage held or within retention)"))
    return result


def forecast_retention_us(usable_bytes: int, held_bytes: int, bytes_per_s: float) -> int | None:
    """How long the disk keeps footage at the current write rate (oldest-first overwrite is
    shared by every camera, so all cameras reach the same age). None when nothing is written."""
    if bytes_per_s <= 0:
        return None
    return int(max(0, usable_bytes - held_bytes) / bytes_per_s * 1_000_000)


def verdict(forecast_us: int | None, min_us: int, breached: bool) -> str:
    """OK / AT RISK / BREACHED for one camera."""
    if breached:
        return "BREACHED"
    if forecast_us is not None and forecast_us < min_us * 1.1:
        return "AT RISK"
    return "OK"
