"""The retention planner: what to destroy, why, and what to raise. Pure (docs/requirements.md, invariant 5).

Rules (docs/requirements.md "Retention rules", R1.3-R1.6, R6):
1. Footage whose end is older than the camera's max retention is destroyed, unless held,
   even when the disk is nearly empty.
2. While free space is below the reserve, unheld footage goes: first surplus (footage past
   its own camera's min retention), oldest first across cameras; only when no camera has
   surplus left, footage a minimum protects, fairly: the camera keeping the largest fraction
   of its own minimum loses first (design/0035). That is a breach: a critical alarm per
   camera with the retention actually achieved and its minimum. With on_full = "stop" it is
   not destroyed; recording stops instead.
3. Held footage is never destroyed, not even past max retention.
4. Grace (design/0022): footage that a lowered max retention or a released hold makes due
   goes only when the grace period is over. Until then a camera's max is the old, longer one
   (`Grace`) and a released hold still covers its footage for rule 1 (`Hold.grace_until_us`);
   what is kept only by grace is named in a `retention_grace` alarm with the time it goes.
   The disk-full rule 2 is not delayed: recording comes first.
5. Nothing is destroyed by age on a clock that cannot be trusted (design/0059): rule 1 waits
   until the host clock is stable; rule 2 still runs (recording comes first). A segment
   flagged as stamped by a clock that was behind (`Segment.age_known` False) goes by age only by
   the bound on its end (`Segment.end_bound_us`, design/0096): it is surely past the maximum once
   the bound is, and a hold anywhere between its stamps and the bound keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence

from storage.msg import A_, Msg
from storage.retention.intake import age_end
from storage.alarm_kinds import (DISK_FULL_HELD, MIN_RETENTION_BREACH, RECORDING_STOPPED_DISK_FULL, RETENTION_GRACE,
                                 AlarmKind)

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
    age_known: bool = True           # False: flagged for a person (design/0059), its stamps may be behind
    # A flagged segment's true end is no later than this (the start of its camera's next segment on a
    # trusted clock, design/0096): it goes by age once this bound is past the maximum. None: no bound.
    end_bound_us: int | None = None
    intake_us: int | None = None     # an import's intake (design/0346, 0381): its age from this


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    cameras: frozenset[str] | None   # None: every camera
    from_us: int
    to_us: int
    expires_us: int | None           # None: a legal hold, no expiry
    grace_until_us: int | None = None  # a released hold: still keeps its footage from rule 1 until then

    def active(self, now_us: int) -> bool:
        return self.grace_until_us is None and (self.expires_us is None or self.expires_us > now_us)

    def in_grace(self, now_us: int) -> bool:
        return self.grace_until_us is not None and self.grace_until_us > now_us

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
class Grace:
    """A camera's max retention was lowered from `max_us`: until `until_us` the old max holds."""

    camera: str
    max_us: int
    until_us: int


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
    message: Msg
    achieved_us: int | None = None
    until_us: int | None = None      # retention_grace: when the footage kept by grace goes
    min_us: int | None = None        # min_retention_breach: the camera's minimum (achieved_us is below it)

    @classmethod
    def of(cls, kind: AlarmKind, camera: str | None, message: Msg, achieved_us: int | None = None, *,
           until_us: int | None = None, min_us: int | None = None) -> Alarm:
        """A planned alarm of a declared kind, with its declared severity."""
        return cls(kind.name, kind.severity, camera, message, achieved_us, until_us, min_us)


@dataclass(slots=True)
class Plan:
    destroy: list[Destroy] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    stop_recording: bool = False     # on_full = "stop" and the minimum cannot be kept
    short_bytes: int = 0             # still missing to reach the reserve (all footage held or too young)
    blocked_by: list[str] = field(default_factory=list)  # on_full = stop: cameras whose minimum stopped recording

    @property
    def freed_bytes(self) -> int:
        return sum(d.segment.bytes for d in self.destroy)


# Over 60 lines on purpose: one pass's rules in their order (max retention and its graces, then
# capacity, then the alarms that say what could not be done), read as one decision.
def plan(oldest_first: Sequence[Segment], holds: Iterable[Hold], policy: Policy, disk: Disk, now_us: int,
         graces: Iterable[Grace] = (), age_trusted: bool = True) -> Plan:
    """Decide one retention pass.

    `oldest_first` must hold, sorted by start time, every complete segment past its camera's
    max retention and enough of the oldest others to cover the reserve deficit (the caller
    queries with an index; see storage/retention/run.py). Segments being written or read
    must not be in it. `graces`: lowered max retentions still in their grace period; `holds`
    may include released ones still in theirs (rule 4). `age_trusted` False: the host clock is
    unsynchronised or just stepped (storage/time/trusted_time.py), so rule 1 destroys nothing
    (invariant 10); rule 2 still makes room, oldest stamps first (design/0059).
    """
    holds = list(holds)
    # On an untrusted clock no hold has expired: a step forward must not free what a hold keeps.
    active = [h for h in holds if h.active(now_us) or (not age_trusted and h.grace_until_us is None)]
    released = [h for h in holds if h.in_grace(now_us)]
    kept_max: dict[str, tuple[int, int]] = {}   # camera -> (longest max in grace, when that grace ends)
    for g in graces:
        if g.until_us > now_us and g.max_us > kept_max.get(g.camera, (0, 0))[0]:
            kept_max[g.camera] = (g.max_us, g.until_us)
    result = Plan()
    chosen: set[int] = set()
    waiting: dict[str, tuple[int, int]] = {}    # camera -> (segments kept only by grace, when the last goes)

    def held(seg: Segment) -> bool:
        return any(h.covers(seg) for h in active)

    def grace_end(seg: Segment) -> int | None:
        """When the grace that keeps this segment from rule 1 ends (None: nothing keeps it)."""
        ends = [h.grace_until_us for h in released if h.covers(seg)]
        old = kept_max.get(seg.camera)
        if old is not None and seg.end_us >= now_us - old[0]:
            ends.append(old[1])
        return max(ends) if ends else None  # type: ignore[type-var]

    for seg in oldest_first if age_trusted else ():
        if past_max(seg, policy, now_us) and not held(seg if seg.age_known else bounded(seg)):
            until = grace_end(seg)
            if until is not None:
                n, last = waiting.get(seg.camera, (0, 0))
                waiting[seg.camera] = (n + 1, max(last, until))
                continue
            result.destroy.append(Destroy(seg, MAX_RETENTION))
            chosen.add(seg.id)
    for camera, (n, until) in sorted(waiting.items()):
        result.alarms.append(Alarm.of(
            RETENTION_GRACE, camera,
            Msg(A_("{n} segments of {camera} are past max retention ({days:g} days) after a retention change or "
                   "a hold release; kept for the grace period, destroyed from {then} unless a hold is placed"),
                n=n, camera=camera, days=policy.limits(camera).max_us / DAY_US, then=utc(until)), until_us=until))

    free = disk.free_bytes + result.freed_bytes
    if free < policy.reserve_bytes:
        free = _capacity(oldest_first, chosen, held, policy, now_us, free, result)
    result.short_bytes = max(0, policy.reserve_bytes - free)

    if result.stop_recording:
        result.alarms.append(Alarm.of(
            RECORDING_STOPPED_DISK_FULL, None,
            Msg(A_("disk full and on_full = stop: recording stops rather than destroy footage younger than the "
                   "minimum (every camera's footage past its own minimum is gone; protected: {cameras})"),
                cameras=", ".join(result.blocked_by))))
    elif result.short_bytes:
        result.alarms.append(Alarm.of(
            DISK_FULL_HELD, None,
            Msg(A_("disk below its reserve by {short} bytes and nothing more may be destroyed (footage held or "
                   "within retention)"), short=result.short_bytes)))
    return result


def past_max(seg: Segment, policy: Policy, now_us: int) -> bool:
    """Rule 1's age test: by the segment's end, or for a flagged one by the bound on its end."""
    end = age_end(seg) if seg.age_known else seg.end_bound_us
    return end is not None and end < now_us - policy.limits(seg.camera).max_us


def bounded(seg: Segment) -> Segment:
    """A flagged segment as wide as its true interval may be: from its stamps (behind) to its bound."""
    return replace(seg, end_us=max(seg.end_us, seg.end_bound_us or seg.end_us))


def surplus(seg: Segment, policy: Policy, now_us: int) -> bool:
    """Footage its camera's own minimum no longer protects: it ended at least the minimum ago."""
    return age_end(seg) <= now_us - policy.limits(seg.camera).min_us


def kept_fraction(seg: Segment, policy: Policy, now_us: int) -> Fraction:
    """How much of its camera's minimum is still kept if `seg` goes (1 = the whole minimum):
    the age of its end over the minimum. Exact, so ties break by time and id, not by rounding."""
    return Fraction(now_us - age_end(seg), max(1, policy.limits(seg.camera).min_us))


def _capacity(oldest_first: Sequence[Segment], chosen: set[int], held: Callable[[Segment], bool],
              policy: Policy, now_us: int, free: int, result: Plan) -> int:
    """Rule 2 (design/0035): bring free space up to the reserve. Surplus (footage past its own
    camera's minimum) goes first, oldest first across cameras (R1.4). Only when no surplus is
    left does footage a minimum protects go: with on_full = stop, none of it (recording stops);
    otherwise fairly, the segment whose camera keeps the largest fraction of its own minimum
    first, so every breached camera ends near the same fraction of its minimum. Returns the
    free space reached."""
    open_ = [s for s in oldest_first if s.id not in chosen and not held(s)]

    def take(seg: Segment) -> None:
        nonlocal free
        result.destroy.append(Destroy(seg, CAPACITY))
        chosen.add(seg.id)
        free += seg.bytes

    for seg in open_:
        if free >= policy.reserve_bytes:
            return free
        if surplus(seg, policy, now_us):
            take(seg)
    protected = [s for s in open_ if s.id not in chosen]
    if free >= policy.reserve_bytes or not protected:
        return free
    if policy.on_full == "stop":
        result.stop_recording = True
        result.blocked_by = sorted({s.camera for s in protected})
        return free
    breached: dict[str, int] = {}  # camera -> end of the youngest footage destroyed too early
    for seg in sorted(protected, key=lambda s: (-kept_fraction(s, policy, now_us), s.start_us, s.id)):
        if free >= policy.reserve_bytes:
            break
        take(seg)
        breached[seg.camera] = max(breached.get(seg.camera, seg.end_us), seg.end_us)
    for camera, youngest_end in sorted(breached.items()):
        achieved = now_us - youngest_end
        min_us = policy.limits(camera).min_us
        result.alarms.append(Alarm.of(
            MIN_RETENTION_BREACH, camera,
            Msg(A_("disk full: footage of {camera} destroyed at {days:.2f} days, below the minimum of {min:g} days "
                   "({short:.2f} days short, {percent} of it kept; no camera had footage past its own minimum left)"),
                camera=camera, days=achieved / DAY_US, min=min_us / DAY_US, short=(min_us - achieved) / DAY_US,
                percent=_percent(achieved, min_us)),
            achieved, min_us=min_us))
    return free


def _percent(part: int, whole: int) -> str:
    return f"{100 * max(0, part) / whole:.0f} %" if whole > 0 else "all"


def utc(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


BREACH_CLEAR_MARGIN = 0.05  # a breach clears once achieved retention is 5 % above the minimum


@dataclass(frozen=True, slots=True)
class Breach:
    camera: str
    achieved_us: int | None      # the camera's oldest footage's age now (None: no footage left)
    message: Msg


def breaches(raised: Iterable[str], planned: Iterable[Alarm], achieved: dict[str, int | None],
             policy: Policy) -> dict[str, Breach]:
    """The cameras whose minimum retention is breached after this pass: a state, not an event
    per pass (design/0024). A camera is in breach from the pass that destroyed its footage
    younger than the minimum until its achieved retention (the age of its oldest footage)
    is back above the minimum by BREACH_CLEAR_MARGIN, so a pass that happens to destroy
    another camera's footage neither clears it nor raises it again."""
    now_breached = {a.camera: a for a in planned if a.kind == MIN_RETENTION_BREACH.name and a.camera}
    out: dict[str, Breach] = {}
    for cam in sorted(set(raised) | set(now_breached)):
        min_us = policy.limits(cam).min_us
        age = achieved.get(cam)
        if cam not in now_breached and age is not None and age >= min_us * (1 + BREACH_CLEAR_MARGIN):
            continue  # recovered, with margin: clear
        shown = age if cam not in now_breached else min(x for x in (age, now_breached[cam].achieved_us) if x is not None)
        out[cam] = Breach(cam, shown, Msg(A_(
            "minimum retention not kept for {camera}: its oldest footage is {days:.2f} days old, below the minimum "
            "of {min:g} days ({percent} of it: the disk could not hold every camera's minimum); clears at {clears:g} "
            "days"), camera=cam, days=(shown or 0) / DAY_US, min=min_us / DAY_US, percent=_percent(shown or 0, min_us),
            clears=min_us * (1 + BREACH_CLEAR_MARGIN) / DAY_US))
    return out
