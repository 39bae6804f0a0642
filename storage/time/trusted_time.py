"""Whether the host's wall clock can be trusted to judge footage's age (design/0059). Pure: no I/O.

A box without a real-time-clock battery boots at a stale date and NTP steps it minutes later;
footage stamped by the wrong clock must not be destroyed as "old" when the clock is corrected
(invariant 10). The edge (edged/daemon/host_clock.py) reads the kernel's sync state and both
clocks; this module decides: a step (the wall clock moved against the monotonic clock), a clock
earlier than what is already on record (a step across a restart), and whether the clock is
trusted (synchronised, and no step for a settle period).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

SECOND_US = 1_000_000
# The wall clock moved by more than this against the monotonic clock since the last step counted
# (or the first reading): a step. Small steps are summed (design/0096): eight steps of 0.4 s are
# host steps once their sum passes this, at the same moment the recorder's run clock cuts for
# them (recorder/timeline.RunClock.stepped sums since its anchor the same way). Slewing moves the
# wall and the monotonic clock together (CLOCK_MONOTONIC follows adjtime and NTP's slew), so
# only steps move one against the other, and the sum needs no forgetting.
STEP_US = SECOND_US
# After a step, or after the clock becomes synchronised, this long without a step before the
# clock judges age again: NTP often steps twice (a rough first answer, then a better one).
SETTLE_US = 600 * SECOND_US
# The clock is earlier than footage already recorded (or the last clean stop) by more than
# this: the clock went back across a restart. Footage may end a segment ahead of "now".
HISTORY_SLACK_US = 5 * SECOND_US
# Segments stamped before a step move by the step less this: the correction errs by this much
# toward a gap, never toward an overlap (the recorder moves its run by the step it measured,
# recorder/timeline.RunClock.after_step; the watch measured the same step a moment apart).
RESTAMP_MARGIN_US = 100_000


# What edged stamped just before the host clock watch's first reading (the start's records, the
# installation's first audit record) is on the clock of that reading too.
START_SLACK_US = 60 * SECOND_US


# What the new clock may have stamped between a step and its re-stamp (the watch reads once a
# second; the catalog writer may be a few seconds behind).
NEW_CLOCK_LAG_US = 10 * SECOND_US


def stamped_window(from_us: int | None, step: Step) -> tuple[int, int] | None:
    """The values stamped on the clock before `step` (design/0096): from `from_us` (the watch's
    start, or the step before) to the step, on that clock. When the new clock's first values
    fall inside that window (a step back smaller than the window), the window stops before them,
    so nothing stamped after the step moves (what was stamped in the last |step| before it keeps
    its stamp); a step back past the whole window moves all of it."""
    if from_us is None:
        return None
    to = step.before_us
    if from_us - NEW_CLOCK_LAG_US <= step.after_us <= to:
        to = step.after_us - 1
    return (from_us, to) if to >= from_us else None


def restamp_shift(step: Step) -> int:
    """What the segments stamped before `step` add to their stamps (design/0059)."""
    return step.size_us - RESTAMP_MARGIN_US


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of the wall clock (UTC us) and the monotonic clock (us) at the same moment."""

    wall_us: int
    mono_us: int


@dataclass(frozen=True, slots=True)
class Sync:
    """What the host says about its clock: synced None = cannot tell (no adjtimex, no timesyncd)."""

    synced: bool | None
    source: str = ""        # "adjtimex", "timesyncd", ...
    maxerror_us: int | None = None   # the kernel's estimate of its maximum error (adjtimex)
    sta_unsync: bool | None = None   # the kernel's STA_UNSYNC flag (adjtimex)


# The kernel's own word on its clock (adjtimex, read only; linux/timex.h). `maxerror` grows by
# 500 ppm while no time source updates it and is capped at NTP_PHASE_LIMIT, 16 s: a clock with
# no source (never synchronised, or its source gone for about nine hours) reads 16 s.
STA_UNSYNC = 0x0040
MAXERROR_UNSYNCED_US = 16_000_000


def kernel_sync(ret: int, status: int, maxerror_us: int) -> Sync:
    """One adjtimex reading as timedatectl's NTPSynchronized reads it (systemd's ntp_synced):
    synchronised while the maximum error is under 16 s. STA_UNSYNC is reported but not decisive:
    some time daemons set it only to keep the kernel from writing the RTC. A failed call (`ret`
    < 0) cannot tell."""
    if ret < 0:
        return Sync(None)
    return Sync(maxerror_us < MAXERROR_UNSYNCED_US, "adjtimex", maxerror_us, bool(status & STA_UNSYNC))


# After start, this long before an unsynchronised clock is an alarm: a box that boots without a
# clock battery is unsynchronised until its time daemon has reached a server (seconds to a few
# minutes; chrony and timesyncd retry with backoff).
UNSYNCED_GRACE_US = 15 * 60 * SECOND_US


def unsynced_alarm(sync: Sync, since_start_us: int, grace_us: int = UNSYNCED_GRACE_US,
                   expected: bool = True) -> bool | None:
    """`host_clock_unsynced`: True raise it, False clear it, None leave it as it is (the host
    cannot tell, or the clock is unsynchronised but edged started less than `grace_us` ago).
    `expected` False (`[time] ntp = false`: the site runs without a time source on purpose):
    never raised, cleared if it was; status says it in a line of its own."""
    if not expected:
        return False
    if sync.synced is None:
        return None
    if sync.synced:
        return False
    return True if since_start_us >= grace_us else None


@dataclass(frozen=True, slots=True)
class Step:
    """The wall clock moved by `size_us` (+ forward, - back) against the monotonic clock."""

    size_us: int
    before_us: int          # wall time just before the step (as extrapolated on monotonic time)
    after_us: int           # wall time just after it
    at_mono_us: int
    across_restart: bool = False

    @property
    def direction(self) -> str:
        return "forward" if self.size_us > 0 else "back"


@dataclass(frozen=True, slots=True)
class State:
    """What the watch remembers between readings."""

    last: Reading | None = None
    stable_since_mono_us: int | None = None   # monotonic time since which it is synced and unstepped
    last_step: Step | None = None
    synced: bool | None = None
    anchor: Reading | None = None   # steps are summed since this reading: the last step counted, or the first


def step_between(prev: Reading, now: Reading, threshold_us: int = STEP_US) -> Step | None:
    """The step between two readings, or None: wall time should advance as monotonic time does."""
    size = (now.wall_us - prev.wall_us) - (now.mono_us - prev.mono_us)
    if abs(size) <= threshold_us:
        return None
    return Step(size, now.wall_us - size, now.wall_us, now.mono_us)


def summed_step(anchor: Reading | None, now: Reading, threshold_us: int = STEP_US) -> Step | None:
    """The steps since `anchor` summed (design/0096): one host step once their sum passes the
    threshold, whatever the size of each; None below it. `before_us` is the wall time on the
    anchor's clock, so the re-stamp moves what was stamped on it by the whole sum."""
    return None if anchor is None else step_between(anchor, now, threshold_us)


def basis(wall_us: int, mono_us: int) -> int:
    """Which clock a stamp was made on: the wall clock's offset from monotonic time (constant
    until the wall clock is stepped; a slew moves it by well under a second a day)."""
    return wall_us - mono_us


def missed_shift(basis_us: int, steps: list[tuple[int, int]], current_us: int) -> int | None:
    """A segment stamped on the clock `basis_us` whose catalog row was written only after this
    run re-stamped for its steps (a worker's batch still on its way when the watch saw the step):
    the shift it missed, or None if it was stamped on the clock as it is now. `steps` are this
    run's, in order, as (the clock's basis before the step, the shift given for it); `current_us`
    is the basis after the last. The nearest basis decides: a stamp on the clock before step k
    missed the shifts of steps k and after."""
    nearest, shift, total = abs(basis_us - current_us), None, 0
    for before, given in reversed(steps):
        total += given
        if abs(basis_us - before) < nearest:
            nearest, shift = abs(basis_us - before), total
    return shift


def behind_history(now: Reading, newest_end_us: int | None, last_stop_us: int | None,
                   slack_us: int = HISTORY_SLACK_US) -> Step | None:
    """At start: a clock earlier than the newest footage's end or the last clean stop went back
    while edged was down (or runs back now). The step is measured against the later of the two."""
    known = max((t for t in (newest_end_us, last_stop_us) if t is not None), default=None)
    if known is None or now.wall_us >= known - slack_us:
        return None
    return Step(now.wall_us - known, known, now.wall_us, now.mono_us, across_restart=True)


def observe(state: State, now: Reading, sync: Sync, settle_us: int = SETTLE_US) -> tuple[State, Step | None]:
    """One reading: the new state and the step seen since the last reading, if any.

    The clock judges age unless, within the settle period, it was stepped or it became
    synchronised (the moment NTP corrects a clock that booted wrong, often by a step and then a
    second, smaller one). A clock that has never been synchronised (a site without NTP) runs
    free: it is trusted as long as it does not step, or nothing would ever be destroyed by age
    there; the sync state is reported (`Sync`) so that a person can be told."""
    step = summed_step(state.anchor, now)
    stable = state.stable_since_mono_us
    if state.last is None:  # the first reading: trusted at once (a step at start: behind_history)
        stable = now.mono_us - settle_us
    elif step is not None or (state.synced is False and sync.synced is True):
        stable = now.mono_us
    anchor = now if state.anchor is None or step is not None else state.anchor
    new = replace(state, last=now, stable_since_mono_us=stable, synced=sync.synced,
                  last_step=step or state.last_step, anchor=anchor)
    return new, step


def with_step(state: State, step: Step) -> State:
    """A step found otherwise (behind_history at start): stability restarts at it."""
    return replace(state, last_step=step, stable_since_mono_us=step.at_mono_us)


def trusted(state: State, mono_us: int, settle_us: int = SETTLE_US) -> bool:
    """May the wall clock judge footage's age now? No step and no fresh sync for `settle_us`."""
    return state.stable_since_mono_us is not None and mono_us - state.stable_since_mono_us >= settle_us


def why_untrusted(state: State, mono_us: int, settle_us: int = SETTLE_US) -> str:
    """For the log and status: why age-based destruction waits ("" when it does not)."""
    if trusted(state, mono_us, settle_us):
        return ""
    if state.stable_since_mono_us is None:
        return "the host clock has not been read yet"
    left = (settle_us - (mono_us - state.stable_since_mono_us)) / SECOND_US
    if state.last_step is not None and state.last_step.at_mono_us >= state.stable_since_mono_us:
        return f"the host clock was stepped {describe(state.last_step)}; settling for another {left:.0f} s"
    return f"the host clock became synchronised; settling for another {left:.0f} s"


def span_words(us: int) -> str:
    """A span of time as a person reads it: '2.0 years', '3.0 days', '1.0 h', '90.0 s'."""
    s = abs(us) / SECOND_US
    if s >= 365 * 86400:
        return f"{s / (365.25 * 86400):.1f} years"
    if s >= 86400:
        return f"{s / 86400:.1f} days"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s:.1f} s"


def describe(step: Step) -> str:
    """A step's size as a person reads it: '2.0 years forward', '1.0 h back'."""
    return f"{span_words(step.size_us)} {step.direction}"


# One episode of steps, one alarm (design/0155) ------------------------------------------------
# A step smaller than this, while the alarm of an earlier one is still open (the clock has not
# been stable for SETTLE_US since), belongs to the same episode: a wobbly time source stepping
# again, its alarm updated in place. A larger one (a person set the clock, a wrong server) is
# news of its own: a new alarm, as is any step across a restart.
EPISODE_STEP_US = 60 * SECOND_US


@dataclass(frozen=True, slots=True)
class Episode:
    steps: int              # host steps counted in it
    net_us: int             # their sum (+ forward, - back)
    first_at_us: int        # wall time just after its first step
    last: Step


def episode_after(episode: Episode | None, step: Step) -> Episode:
    """The episode this step belongs to: the open one continued (`steps` > 1: its alarm is
    updated in place), or a new one (`steps` == 1: a new alarm)."""
    small = abs(step.size_us) < EPISODE_STEP_US and not step.across_restart
    if episode is not None and small and abs(episode.last.size_us) < EPISODE_STEP_US:
        return Episode(episode.steps + 1, episode.net_us + step.size_us, episode.first_at_us, step)
    return Episode(1, step.size_us, step.after_us, step)


# Segments stamped by a clock that was behind (design/0059) ------------------------------------
# A camera's segment may begin this much before the end of the one before it without being
# out of order: honest jitter, what two anchors of one clock differ by (a run's anchor is the
# least-delayed packet of its first second: network delay, milliseconds on a LAN; a starved box
# can do worse, and a person resolves that flag). More is flagged: a host clock behind by
# 0.3 s across a restart shares 0.3 s with the last run's footage (design/0059).
ORDER_SLACK_US = RESTAMP_MARGIN_US


@dataclass(frozen=True, slots=True)
class Placed:
    """One segment as the detector reads it: stamps as corrected so far (`end_us` None while
    written), and whether it is already corrected or flagged (its interval is then not judged)."""

    id: int
    camera: str
    start_us: int
    end_us: int | None
    judged: bool = True       # False: re-stamped or flagged already, or adopted (its id says nothing of order)
    flagged: bool = False     # flagged for a person: it places nothing after it
    claim: bool = False       # a portable device's footage taken in: its stamps are the device's claim, never
                              # a reading of the box's clock: neither judged nor placing anything (design/0380)


@dataclass(frozen=True, slots=True)
class Tail:
    """What the detector has read of one camera: through which id, and the latest end of its
    placed (unflagged) segments."""

    checked_id: int = 0
    end_us: int | None = None


@dataclass(frozen=True, slots=True)
class Floor:
    """Where this run's footage must begin: after everything earlier runs recorded (the newest end
    on record at start, or the last clean stop, whichever is later), for every camera alike."""

    after_id: int           # this run's segments have higher ids
    at_us: int              # ... and begin no earlier than this


def floor_of(first_id: int, newest_end_us: int | None, last_stop_us: int | None) -> Floor | None:
    known = max((t for t in (newest_end_us, last_stop_us) if t is not None), default=None)
    return None if known is None else Floor(first_id, known)


def behind_segments(rows: list[Placed], tails: dict[str, Tail], slack_us: int = ORDER_SLACK_US,
                    floor: Floor | None = None) -> tuple[list[int], dict[str, Tail]]:
    """Ids are given in recording order: a segment that begins before a segment of its camera
    with a lower id ended was stamped by a clock that was behind (it went back across a restart,
    or the earlier run's ran ahead). It cannot be re-stamped (monotonic time does not survive a
    restart): it is flagged for a person, and it places nothing after it, so the next segments of
    its run are judged against what is placed. A segment still being written counts as ending
    where it begins (its end is not known yet). `rows` in id order, above the tails'
    `checked_id`. Returns the ids to flag and the new tails.

    `floor`: a segment of this run (id above `floor.after_id`) that begins before everything
    earlier runs recorded ended was stamped behind too, though its camera has nothing earlier to
    compare with (a camera first on record, or whose footage ended long before the others'):
    every camera's earlier runs ended before this run began (design/0059)."""
    tails = dict(tails)
    flags: list[int] = []
    for row in rows:
        if row.claim:
            continue
        tail = tails.get(row.camera, Tail())
        if row.id <= tail.checked_id:
            continue
        behind = row.judged and not row.flagged and (
            (tail.end_us is not None and row.start_us < tail.end_us - slack_us)
            or (floor is not None and row.id > floor.after_id and row.start_us < floor.at_us - slack_us))
        if behind:
            flags.append(row.id)
        end = tail.end_us
        if not behind and not row.flagged:
            mine = row.start_us if row.end_us is None else row.end_us
            end = mine if end is None else max(end, mine)
        tails[row.camera] = Tail(row.id, end)
    return flags, tails


def why_unchecked(read_through: int, first_id: int) -> str:
    """For the log: why retention still judges no age while the detector reads the catalog."""
    return f"the stamps of footage recorded earlier are being checked (segment ids {read_through} of {first_id})"


def dump_tails(tails: dict[str, Tail], through: int) -> str:
    """The detector's place, kept in the catalog's node table between runs."""
    return json.dumps({"through": through, "tails": {c: [t.checked_id, t.end_us] for c, t in sorted(tails.items())}})


def load_tails(text: str | None) -> tuple[dict[str, Tail], int]:
    try:
        got = json.loads(text or "")
        return {c: Tail(int(i), None if e is None else int(e)) for c, (i, e) in got["tails"].items()}, int(got["through"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}, 0  # none yet (or unreadable): the whole catalog is read again
