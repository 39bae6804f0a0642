"""Watches the host's wall clock (design/0059): a step is one `host_clock_step` alarm and an
audit record; while the clock is untrusted, retention destroys nothing by age and no camera is
blamed for `clock_drift`. The decisions are storage/time/trusted_time.py's; this reads the clocks and
the kernel's sync state once a second and says what it found.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from edged.alarms import Alarms
from edged.i18n import Msg, A_
from storage import audit, node
from storage.footage import restamps, segments as segment_table
from storage.footage import corrections
from storage.time import trusted_time as tt
from storage.alarm_kinds import HOST_CLOCK_STEP, HOST_CLOCK_UNSYNCED, SEGMENTS_FLAGGED
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import wait_or_stop, Clock, SYSTEM

log = logging.getLogger(__name__)

TIMESYNCD = Path("/run/systemd/timesync/synchronized")  # exists once timesyncd has synchronised
READ_EVERY_S = 1.0
ORDER_BATCH = 50_000  # segments the order detector reads at a time (about 0.4 s of the catalog writer)
ORDER_KEY = "order_checked"  # the node key keeping its place between runs
SYNC_KEY = "host_clock"      # the node key with the sync state as last read (edgectl status shows it)


BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # a new one at every boot (Linux)


@functools.cache
def boot() -> tuple[str, int]:
    """(this boot's id, the monotonic us at which it began): footage recorded since is on the clock
    the monotonic clock measures, and a bound carried on it is good only within the boot
    (design/0305). With EDGED_TEST_HOOKS=1, EDGED_TEST_BOOT_ID names a boot that began as this
    process started (the daemon tests' reboot; the clock shim cannot restart the kernel)."""
    test = os.environ.get("EDGED_TEST_BOOT_ID") if os.environ.get("EDGED_TEST_HOOKS") == "1" else None
    if test:
        return test, time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    try:
        return BOOT_ID.read_text().strip(), 0
    except OSError:  # not Linux: every start counts as a reboot (nothing carried)
        return f"start-{os.getpid()}-{time.monotonic_ns()}", time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def settle_period_us() -> int:
    """How long the clock must be stable after a step before it judges age: SETTLE_US; with
    EDGED_TEST_HOOKS=1, EDGED_TEST_SETTLE_S seconds (the daemon tests of repeated steps within one run,
    design/0398: ten minutes a step would make each a quarter of an hour)."""
    test = os.environ.get("EDGED_TEST_SETTLE_S") if os.environ.get("EDGED_TEST_HOOKS") == "1" else None
    return round(float(test) * 1_000_000) if test else tt.SETTLE_US


class _Timex(ctypes.Structure):  # struct timex (linux/timex.h); `modes` 0: read only, no privilege needed
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_padding", ctypes.c_int * 11)]


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def read_sync() -> tt.Sync:
    """The kernel's word (adjtimex, as ntpd, chrony and timesyncd all keep it; decided by
    storage/trusted_time.kernel_sync), else timesyncd's flag file (on /run, a tmpfs); unknown
    where neither can be read (not Linux). Run off the event loop (`HostClock._read_sync`)."""
    try:
        tx = _Timex()
        ret = _libc().adjtimex(ctypes.byref(tx))
        if ret >= 0:
            return tt.kernel_sync(ret, tx.status, tx.maxerror)
    except (OSError, AttributeError):
        pass
    if TIMESYNCD.exists():
        return tt.Sync(True, "timesyncd")
    return tt.Sync(None)


@functools.cache
def _reader() -> ThreadPoolExecutor:
    """The sync state's own thread (made on first use): never the loop, never a shared pool."""
    return ThreadPoolExecutor(1, thread_name_prefix="edged-host-clock")


class HostClock:
    def __init__(self, writer: CatalogWriter, alarms: Alarms, clock: Clock = SYSTEM,
                 settle_us: int | None = None, sync: Callable[[], tt.Sync] = read_sync, unsynced_grace_us: int = tt.UNSYNCED_GRACE_US,
                 ntp_expected: Callable[[], bool] = lambda: True):
        self.writer = writer
        self.alarms = alarms
        self.clock = clock
        self.settle_us = settle_us if settle_us is not None else settle_period_us()
        self.sync = sync
        self.unsynced_grace_us = unsynced_grace_us
        self.ntp_expected = ntp_expected      # [time] ntp: false, the site runs without NTP on purpose
        self.state = tt.State()
        self.first_id = 0     # segments after this id were stamped by this process's clock readings
        self.seen_id = 0      # the newest segment before the last reading: opened before any step seen since
        self.book = restamps.Steps()  # this run's steps, for segment rows that come after their re-stamp
        self.tails: dict[str, tt.Tail] = {}   # the order detector's place, per camera
        self.read_through = 0                 # every segment up to this id has been read by it
        self.flagged = 0                      # segments flagged for a person, as last alarmed
        self.base: tuple[dict[str, tt.Tail], int] = ({}, 0)   # the detector's place at start
        self.started_mono_us: int | None = None
        self.window_from_us: int | None = None   # what this process stamped since then is on the current clock
        self.floor: tt.Floor | None = None    # where this run's footage must begin, for every camera
        self.unsynced: bool | None = None     # host_clock_unsynced as last raised (True) or cleared (False)
        self.shown: bool | None | object = object()   # the sync state last written to the node table
        self.episode: tt.Episode | None = None  # the steps of the open host_clock_step alarm (design/0155)

    async def _read_sync(self) -> tt.Sync:
        return await asyncio.get_running_loop().run_in_executor(_reader(), self.sync)

    def _reading(self) -> tt.Reading:
        return tt.Reading(self.clock.now_us(), round(self.clock.monotonic() * tt.SECOND_US))

    def why_untrusted(self) -> str:
        """"" when the clock may judge footage's age; otherwise why not (retention logs it). Reads
        the clocks now too: a step since the last reading (up to a second ago) counts at once."""
        now = self._reading()
        step = tt.summed_step(self.state.anchor, now)
        if step is not None:
            return "the host clock was stepped %s just now" % tt.describe(step)
        return tt.why_untrusted(self.state, now.mono_us, self.settle_us)

    def untrusted(self) -> bool:
        return bool(self.why_untrusted())

    def synced(self) -> bool | None:
        return self.state.synced

    async def start(self, handed_from_us: int | None = None) -> None:
        """At start, before recording: a clock earlier than the newest footage or the last clean
        stop went back while edged was down. `handed_from_us`: the next daemon of a handover
        (design/0353), begun then: the earlier run recorded on after it began (each camera until
        it was given), so this run's footage is judged from that moment, each camera from its own."""
        sync = await self._read_sync()
        now = self._reading()
        self.started_mono_us = now.mono_us
        self.window_from_us = now.wall_us - tt.START_SLACK_US
        self.state, _ = tt.observe(self.state, now, sync, self.settle_us)
        await self._synced(sync, now)
        newest, stopped = (None, handed_from_us) if handed_from_us is not None else \
            await self.writer.run(lambda c: segment_table.clock_history(c.db))

        def first(c: Catalog) -> int:
            self.book.current_us = tt.basis(now.wall_us, now.mono_us)  # the writer's thread alone touches it
            return restamps.newest_id(c.db)

        self.first_id = self.seen_id = await self.writer.run(first)
        self.floor = tt.floor_of(self.first_id, newest, stopped)
        step = tt.behind_history(now, newest, stopped)
        if step is not None:
            self.state = tt.with_step(self.state, step)
            await self._stepped(step)
        place = await self.writer.run(lambda c: node.value(c.db, ORDER_KEY))
        self.tails, self.read_through = self.base = tt.load_tails(place)
        self.flagged = await self.writer.run(lambda c: restamps.flagged_count(c.db))
        await self.check_order()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.tick()
            await wait_or_stop(stopping, READ_EVERY_S, self.clock)

    async def tick(self) -> tt.Step | None:
        """One reading: a step is an alarm, an audit record and the re-stamping of what this
        process recorded before it; the alarm clears once the clock has settled."""
        was_trusted = not self.untrusted()
        sync = await self._read_sync()
        # Read before the clocks: every segment up to it was opened before this reading (one read
        # after it may hold a segment stamped after a step the next reading sees).
        seen = await self.writer.run(lambda c: restamps.newest_id(c.db))
        now = self._reading()
        self.state, step = tt.observe(self.state, now, sync, self.settle_us)
        await self._synced(sync, now)
        if step is not None:
            await self._restamp(step)  # first: the step's own alarm and record are on the new clock
            if was_trusted:
                self.episode = None    # the clock had settled: this step begins an episode of its own
            await self._stepped(step)
            if self.caught_up():
                self.tails, self.read_through = self.base   # this run's stamps moved: read them again
            await self._report(await self.writer.run(lambda c: restamps.flagged_count(c.db)))
        await self.check_order()
        self.seen_id = seen
        if not self.untrusted() and (not was_trusted or self.episode is not None):
            log.info("the host clock has been stable for %.0f s: retention judges age again", self.settle_us / 1e6)
            self.episode = None
            await self.alarms.clear(HOST_CLOCK_STEP.key())
        return step

    def caught_up(self) -> bool:
        """Has the order detector read everything recorded before this run?"""
        return self.read_through >= self.first_id

    def why_age_unjudged(self) -> str:
        """Retention's question: "" when footage's age may be judged. Besides the clock itself,
        the order detector must have read what earlier runs recorded (a large catalog's first
        check after an upgrade takes a while): until then a segment stamped behind is not yet
        flagged."""
        why = self.why_untrusted()
        if why or self.caught_up():
            return why
        return tt.why_unchecked(self.read_through, self.first_id)

    async def check_order(self) -> int:
        """Segments stamped by a clock that was behind (storage/trusted_time.behind_segments):
        what earlier runs recorded, from where the last run's detector stopped (a batch per
        reading), then each second what was recorded since (the new run's segments stamped inside
        what the last run recorded, after a step back while edged was down). Each is flagged for
        a person on the record, and one host alarm says how many there are. Returns how many
        were flagged now."""
        tails, after = self.tails, self.read_through
        upto = None if self.caught_up() else self.first_id

        def read(c: Catalog) -> tuple[list[int], dict[str, tt.Tail], int]:
            rows = restamps.placed(c.db, after, ORDER_BATCH, upto)
            full = len(rows) == ORDER_BATCH
            # A segment whose end is not known yet (being written, or an earlier run's the startup
            # recovery has not closed): the reading stops before it, so it and the segments after
            # it are judged against its end once it is known, not its start (a step back across a
            # restart right after it went unflagged). Flags wait at most about a segment's length.
            open_ = next((k for k, r in enumerate(rows) if r.end_us is None), None)
            if open_ is not None:
                rows = rows[:open_]
            ids, new = tt.behind_segments(rows, tails, floor=self.floor)
            if open_ is not None:
                through = rows[-1].id if rows else after
            else:
                through = rows[-1].id if full or (rows and upto is None) else (upto or after)
            return ids, new, through

        ids, new, through = await self.writer.run(read)
        now = self._reading()
        if tt.summed_step(self.state.anchor, now) is not None:
            return 0  # a step since the last reading: the next tick re-stamps first, then reads again
        if (new, through) == (tails, after):
            return 0
        was = self.caught_up()
        self.tails, self.read_through = new, through
        if self.caught_up() and not was:
            self.base = (new, through)  # what earlier runs recorded: a re-stamp of this run's leaves it
        place = (ORDER_KEY, tt.dump_tails(new, through))
        total = await self.writer.run(lambda c: restamps.flag(c.db, ids, now.wall_us, {
            "reason": "stamped_before_earlier_footage"}, place))
        if ids:
            log.warning("%d segments were stamped earlier than footage their camera recorded before them (the host "
                        "clock was behind): flagged for a person, never destroyed by age", len(ids))
        await self._report(total)
        return len(ids)

    async def _synced(self, sync: tt.Sync, now: tt.Reading) -> None:
        """`host_clock_unsynced` (storage/trusted_time.unsynced_alarm): raised when the kernel says
        its clock is not synchronised, after a grace from start; cleared once it is. The state
        goes to the node table for `edgectl status` when it changes."""
        expected = self.ntp_expected()
        if (sync.synced, expected) != self.shown:
            self.shown = (sync.synced, expected)
            shown = json.dumps({"synced": sync.synced, "source": sync.source, "maxerror_us": sync.maxerror_us,
                                "sta_unsync": sync.sta_unsync, "since_us": now.wall_us, "ntp_expected": expected})
            await self.writer.run(lambda c: node.set_values(c.db, {SYNC_KEY: shown}))
        started = self.started_mono_us if self.started_mono_us is not None else now.mono_us
        verdict = tt.unsynced_alarm(sync, now.mono_us - started, self.unsynced_grace_us, expected)
        if verdict is None or verdict == self.unsynced:
            return
        self.unsynced = verdict
        if not verdict:
            await self.alarms.clear(HOST_CLOCK_UNSYNCED.key())
            return
        log.warning("the host clock is not synchronised (%s, maximum error %s us): footage is stamped by a clock "
                    "nothing checks", sync.source, sync.maxerror_us)
        await self.alarms.raise_(HOST_CLOCK_UNSYNCED, Msg(A_(
            "the host clock is not synchronised (the kernel's maximum error is {maxerror:.1f} s): footage is stamped "
            "by a clock nothing checks; turn on its time source (timedatectl set-ntp true, or chrony) and let it "
            "reach a time server"), maxerror=(sync.maxerror_us or 0) / 1e6),
            {"source": sync.source, "maxerror_us": sync.maxerror_us, "sta_unsync": sync.sta_unsync})

    async def recount(self) -> int:
        """After a person resolved flags (edged/control/flags.py): the alarm's count again, and
        the alarm cleared when none is left unresolved."""
        total = await self.writer.run(lambda c: restamps.flagged_count(c.db))
        await self._report(total)
        return total

    async def _report(self, total: int) -> None:
        """One alarm for the flagged segments, its count kept up to date (refreshed, not raised anew)."""
        if total != self.flagged:
            self.flagged = total
            if not total:
                await self.alarms.clear(SEGMENTS_FLAGGED.key())
            else:
                await self.alarms.raise_(SEGMENTS_FLAGGED, Msg(A_(
                    "{n} segments were stamped by a host clock that was behind (earlier than footage their camera "
                    "recorded before them): kept and never destroyed by age; a person must look at them "
                    "(edgectl flags list shows them, edgectl flags resolve records what was found)"), n=total),
                    {"segments": total})

    async def _restamp(self, step: tt.Step) -> None:
        """Every segment this process stamped before the step moves by the step (design/0059):
        within a run the wall clock followed monotonic time until it stepped, so its true
        interval on the new clock is the old stamps plus the step, and a camera's segments stay
        in order, never overlapping. Segments opened since the last reading (up to a second)
        went either side of the step: each goes with the clock its start is nearer to. A segment
        whose row is written after this (its worker's batch was on its way) gets its shift then,
        by the clock its worker says it stamped it on (storage/restamps.catch_up)."""
        at = self.clock.now_us()
        first, seen = self.first_id, self.seen_id

        window = tt.stamped_window(self.window_from_us, step)
        self.window_from_us = step.after_us  # what is stamped from now on is on the new clock

        def job(c: Catalog) -> int:
            through = restamps.before_step(c.db, seen, step.before_us, step.after_us)
            self.book.stepped(step)  # a row written after this one, stamped before the step, is caught up
            detail = {"reason": "host_clock_step", "step_us": step.size_us, "before_us": step.before_us,
                      "after_us": step.after_us}
            n = restamps.shift(c.db, first, through, tt.restamp_shift(step), at, detail)
            if window is not None:  # the gaps, events, alarms ... stamped on the old clock (design/0096)
                corrections.move(c.db, *window, tt.restamp_shift(step), at, detail)
            return n

        n = await self.writer.run(job)
        if n:
            log.warning("re-stamped %d segments recorded before the host clock step by %+.1f s (their files are "
                        "unchanged; the catalog keeps both stamps)", n, tt.restamp_shift(step) / 1e6)

    async def _stepped(self, step: tt.Step) -> None:
        """The audit chain records every step; the alarm is one per episode (design/0155): a new
        one for a first or large step, the open one updated in place for a small step that
        follows before the clock settled (a time source stepping again and again)."""
        shown = tt.describe(step)
        detail = {"step_us": step.size_us, "before_us": step.before_us, "after_us": step.after_us,
                  "across_restart": step.across_restart}
        log.warning("host clock stepped %s%s: retention destroys nothing by age until it has been stable for %.0f s",
                    shown, " (while edged was down)" if step.across_restart else "", self.settle_us / 1e6)
        await self.writer.run(lambda c: audit.append(c.db, "edged", "host.clock_step", detail,
                                                     at_us=self.clock.now_us()))
        self.episode = ep = tt.episode_after(self.episode, step)
        if ep.steps > 1:  # the same episode: the open alarm says how many steps, and their sum
            net = tt.Step(ep.net_us, 0, 0, 0)
            await self.alarms.raise_(HOST_CLOCK_STEP, Msg(A_(
                "the host clock was stepped {n} times in a row ({net} in all, the last {step}): nothing is destroyed "
                "by age until it has been stable for {settle:.0f} minutes; check the time source (NTP)"),
                n=ep.steps, net=tt.describe(net) if ep.net_us else "0 s", step=shown,
                settle=self.settle_us / 60e6), {**detail, "steps": ep.steps, "net_us": ep.net_us,
                                                "first_us": ep.first_at_us})
            return
        template = A_("the host clock was stepped {step} while edged was stopped: nothing is destroyed by age until "
                      "it has been stable for {settle:.0f} minutes; check the time source (NTP)") \
            if step.across_restart else A_(
                "the host clock was stepped {step}: nothing is destroyed by age until it has been stable for "
                "{settle:.0f} minutes; check the time source (NTP) if this repeats")
        message = Msg(template, step=shown, settle=self.settle_us / 60e6)
        await self.alarms.clear(HOST_CLOCK_STEP.key())
        await self.alarms.raise_(HOST_CLOCK_STEP, message, {**detail, "steps": 1, "net_us": step.size_us,
                                                            "first_us": step.after_us})

