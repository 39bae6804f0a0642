"""Runs the retention engine on its schedule, and at once when the disk runs short.

The planner decides (storage/retention/plan.py); the store executes (storage/retention/run.py);
this task owns the timing, the alarms that follow a pass, and on_full = stop.

During a maintenance window (R1.7) nothing is destroyed: passes are skipped, and said so. If the
disk fills meanwhile, recording goes on into the reserve with a critical `maintenance_disk_short`
alarm; below half the reserve, recording comes first (R1.1): the pass runs as it would outside
the window (on_full decides), and what it destroyed goes on the window's record (design/0043).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from edged.alarms import Alarms
from edged.config import Config, format_duration
from edged.i18n import Msg, A_, zone
from storage import audit
from storage.alarm_kinds import (DISK_FULL_HELD, HOLDS_CROWD_OUT, MAINTENANCE_DISK_SHORT, MIN_RETENTION_BREACH,
                                 RECORDING_STOPPED_DISK_FULL, RETENTION_CHANGED, RETENTION_FILE_ERRORS, RETENTION_GRACE)
from storage.catalog import Catalog, CatalogWriter
from storage.maintenance import note_yield
from storage.time.clock import SYSTEM, Clock
from storage.disk.free_space import FreeSpace
from storage.retention.forecast import holds_crowd_out
from storage.retention.plan import DAY_US, breaches, utc
from storage.retention.grace import policy_doc, record_policy, unrecorded_graces
from storage.retention.policy import policy_for
from storage.retention.run import PassResult, InUse, run_pass

if TYPE_CHECKING:
    from edged.daemon.time_gate import TimeGate

log = logging.getLogger(__name__)
_DIGITS = re.compile(r"[0-9.]+")  # a reason's figures: the same reason while only they change


class SpaceCheck:
    """Called as segments open (the supervisor's `on_segment_opened`): below the reserve, retention
    runs a pass now rather than on schedule. Neither the supervisor nor the runner holds the other:
    both are handed this (edged/app.py)."""

    def __init__(self, cfg: Config, free: FreeSpace | None = None):
        self.cfg = cfg                 # replaced on SIGHUP, as the runner's is
        self.free = FreeSpace(cfg.storage.data_dir) if free is None else free  # the one reader (design/0069)
        self.short = asyncio.Event()   # the runner waits on it between passes
        self._reading: asyncio.Task[None] | None = None

    def __call__(self) -> None:
        """On the event loop: judged from a fresh reading, else from one read in a thread."""
        usage = self.free.fresh()
        if usage is not None:
            return self._judge(usage)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called from a thread: read here
            return self._judge(self.free.read())
        if self._reading is None or self._reading.done():
            self._reading = loop.create_task(self._read_and_judge())

    async def _read_and_judge(self) -> None:
        try:
            self._judge(await self.free.get())
        except OSError:
            pass  # the disk is gone: edged/daemon/liveness.py says so

    def _judge(self, usage: Any) -> None:
        if usage.free < self.cfg.retention.reserve_for(usage.total):
            self.short.set()


class RetentionRunner:
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms,
                 expect: Callable[[str, str], None] | None = None,
                 on_full_stop: Callable[[bool], Awaitable[None]] | None = None, clock: Clock = SYSTEM,
                 space: SpaceCheck | None = None,
                 protecting: Callable[[], dict[str, Any] | None] = lambda: None,
                 distrust: Callable[[], str] = lambda: "", gate: TimeGate | None = None):
        self.cfg = cfg
        self.clock = clock
        self.writer = writer
        self.alarms = alarms
        self.expect = expect
        self.on_full_stop = on_full_stop
        self.blocked: str | None = None   # why retention must not run (disk identity)
        self.in_use = InUse()             # footage an export is reading: not destroyed under it
        self.breached = False             # a camera's minimum retention could not be kept
        self.space = SpaceCheck(cfg) if space is None else space
        self.free = self.space.free       # the data disk's free space, one reader (design/0069)
        self._poke = self.space.short
        self.unlink: Callable[[Path], None] = os.unlink   # replaced by the fault-injection test hook
        self.protecting = protecting      # the open maintenance window, if any: nothing is destroyed in it
        self._paused_for: int | None = None   # the window whose pause was last logged
        self._short_alarm = False             # maintenance_disk_short is raised
        self.distrust = distrust              # why the host clock may not judge age now ("" : it may; design/0059)
        self._distrust_logged = ""
        self.gate = gate  # edged/daemon/time_gate.TimeGate: is the host clock corroborated? (design/0095)

    def poke(self) -> None:
        """Run a pass now (a maintenance window ended: destruction resumes)."""
        self._poke.set()

    def check_space(self) -> None:
        """Below the reserve (after a hold was released, say): run a pass now, not on schedule."""
        self.space()

    async def apply_policy(self, cfg: Config, source: dict[str, Any]) -> dict[str, Any] | None:
        """At start and on every reload: a changed min/max retention, reserve or on_full is an
        audit record with old and new values and an alarm; a lowered max starts its grace
        period (design/0022). Returns the change, or None."""
        doc = policy_doc(cfg.retention, cfg.cameras)
        change = await self.writer.run(lambda c: record_policy(
            c.db, doc, grace_us=cfg.retention.grace_us, now=self.clock.now_us(), actor="edged", source=source))
        if change is None:
            return None
        shown = "; ".join(f"{c['setting']} {_show(c['old'])} -> {_show(c['new'])}" for c in change["changes"])
        lowered = change["lowered"]
        then = utc(change["grace_until_us"])
        message = Msg(A_("retention settings changed ({changes}); footage the lower max retention makes due "
                         "({cameras}) is destroyed from {then}, after the grace period, not before"),
                      changes=shown, cameras=", ".join(lowered), then=then) if lowered else Msg(
            A_("retention settings changed ({changes}); notice until {then}"), changes=shown, then=then)
        await self.alarms.clear(RETENTION_CHANGED.key())  # each change is a new alarm, sent on its own
        await self.alarms.raise_(RETENTION_CHANGED, message,
                                 {"changes": change["changes"], "grace_until_us": change["grace_until_us"],
                                  "cameras_lowered": sorted(lowered)})
        self._poke.set()
        return change

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.pass_once()
            poke = asyncio.ensure_future(self._poke.wait())
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait([poke, stop], timeout=self.cfg.retention.interval_us / 1e6,
                               return_when=asyncio.FIRST_COMPLETED)
            poke.cancel()
            stop.cancel()
            self._poke.clear()

    async def pass_once(self) -> PassResult | None:
        if self.blocked:  # the storage_lost alarm says why (edged/daemon/liveness.py)
            return None
        window = self.protecting()
        if not await self._window_allows(window):
            return None
        cfg, why = self.cfg, self._why_untrusted()
        retention = cfg.retention.resolved(self.clock.now_us(), zone(cfg.site.timezone))  # "3mo" as of today
        corroborated, age_now, begun = await self._corroborated()
        doc = policy_doc(cfg.retention, cfg.cameras)  # as written, "3mo" unresolved: as apply_policy records it

        def job(c: Catalog) -> PassResult | None:
            if window is None and self.protecting() is not None:
                return None  # a maintenance window began since: it destroys nothing (design/0043)
            trusted = corroborated and not why and not self.distrust()  # checked again on the writer's thread
            # a reload's lower max reaches this pass before apply_policy records it: the old max holds till then
            pending = unrecorded_graces(c.db, doc, grace_us=cfg.retention.grace_us, now=self.clock.now_us())
            return run_pass(c.db, cfg.storage.data_dir, retention, list(cfg.cameras), self.free.usage_of,
                            expect=self.expect, busy=self.in_use.snapshot(), unlink=self.unlink, clock=self.clock,
                            age_trusted=trusted, age_now_us=age_now, measured_from_us=begun, unrecorded=pending)

        result = await self.writer.run(job)
        if result is None:
            return None
        await self._proven()
        p = result.plan
        if window is not None and window["id"] is not None and result.destroyed:
            await self._yielded(window["id"], result)
        _log_pass(result)
        await self.alarms.set(
            bool(result.errors), RETENTION_FILE_ERRORS,
            Msg(A_("retention could not remove {n} file(s) ({first}); they are tried again at every pass"),
                n=len(result.errors), first=result.errors[0]) if result.errors else "",
            {"errors": result.errors[:20]} if result.errors else None)
        for hold_id in result.expired_holds:
            log.info("evidence hold %d expired", hold_id)
        after = result.after  # read in the pass's own trip to the writer: nothing more is asked of the catalog
        now_breached = breaches(after.raised, p.alarms, after.achieved, result.policy)
        self.breached = bool(now_breached)
        for cam in sorted(after.raised | set(now_breached)):  # raised once; refreshed quietly; cleared once
            b = now_breached.get(cam)
            await self.alarms.set(b is not None, MIN_RETENTION_BREACH, b.message if b else "",
                                  {"achieved_us": b.achieved_us} if b else None, camera=cam)
        cams = {c.id for c in cfg.cameras} | set(now_breached)
        graced = {a.camera: a for a in p.alarms if a.kind == RETENTION_GRACE.name and a.camera is not None}
        for cam in sorted(cams | set(graced)):
            g = graced.get(cam)
            await self.alarms.set(g is not None, RETENTION_GRACE, g.message if g else "",
                                  {"until_us": g.until_us} if g else None, camera=cam)
        if after.notice_until is not None and self.clock.now_us() >= after.notice_until:
            await self.alarms.clear(RETENTION_CHANGED.key())
        for kind in (DISK_FULL_HELD, RECORDING_STOPPED_DISK_FULL):
            a = next((a for a in p.alarms if a.kind == kind.name), None)
            await self.alarms.set(a is not None, kind, a.message if a else "")
        await self._holds_crowd_out(result)
        if self.on_full_stop is not None:
            await self.on_full_stop(p.stop_recording)
        return result

    async def _corroborated(self) -> tuple[bool, int | None, int | None]:
        """design/0095, design/0305: (age may be judged, the time footage recorded before this boot
        is judged at (None: the clock's), the host's time this boot began at (None: no gate))."""
        return (True, None, None) if self.gate is None else await self.gate.before_pass()

    async def _proven(self) -> None:
        if self.gate is not None:  # the bound this pass proved, carried by the next (design/0305)
            await self.gate.after_pass()

    def _why_untrusted(self) -> str:
        """Why the host clock may not judge age now ("" : it may), said in the log once per episode
        and reason: the reason's words without its figures (the seconds left to settle count down
        at every pass; issue 79 saw 43 lines in 4 minutes), until the clock may judge again."""
        why = self.distrust()
        said = _DIGITS.sub("", why)
        if said != self._distrust_logged and why:
            log.warning("retention destroys nothing by age: %s (the disk's reserve is still kept)", why)
        self._distrust_logged = said
        return why

    async def _window_allows(self, window: dict[str, Any] | None) -> bool:
        """Outside a window: yes. In one: only when free space is below half the reserve."""
        if window is None and not self._short_alarm:  # the pass builds the policy; nothing here needs it
            self._paused_for = None
            return True
        free, reserve = await self._space()
        short = window is not None and free < reserve
        if short or self._short_alarm:
            self._short_alarm = short
            await self.alarms.set(
                short, MAINTENANCE_DISK_SHORT,
                Msg(A_("{free:.0f} MB free, below the reserve of {reserve:.0f} MB, during maintenance window "
                       "{window}: nothing is destroyed until it ends (edgectl maintenance end); recording goes on into "
                       "the reserve, and below {half:.0f} MB free retention makes room again (on the window's record)"),
                    free=free / 1e6, reserve=reserve / 1e6, half=reserve / 2e6,
                    window=window["id"] or "(opening)" if window else "?"),
                {"free_bytes": free, "reserve_bytes": reserve} if short else None)
        if window is None:
            self._paused_for = None
            return True
        if free < reserve // 2:
            log.warning("maintenance window %s: %.0f MB free, below half the reserve: retention runs so that "
                        "recording goes on", window["id"], free / 1e6)
            return True
        if self._paused_for != window["id"]:
            self._paused_for = window["id"]
            log.info("retention paused: maintenance window %s is open, nothing is destroyed until it ends",
                     window["id"])
        return False

    async def _space(self) -> tuple[int, int]:
        usage = await self.free.get()
        return usage.free, policy_for(self.cfg.retention, self.cfg.cameras, usage.total).reserve_bytes

    async def _yielded(self, window_id: int, result: PassResult) -> None:
        """Footage destroyed during a window (the disk ran short): on the window's record and the chain."""
        now = self.clock.now_us()

        def record(c: Catalog) -> None:
            note_yield(c.db, window_id, result.destroyed, result.bytes)
            audit.append(c.db, "edged", "maintenance.yield", {
                "window": window_id, "pass": result.pass_id, "destroyed": result.destroyed, "bytes": result.bytes,
                "free_before": result.free_before}, at_us=now)

        await self.writer.run(record)
        log.warning("maintenance window %d: the disk ran short; retention pass %d destroyed %d segments (%.1f MB) so "
                    "that recording goes on", window_id, result.pass_id, result.destroyed, result.bytes / 1e6)

    async def _holds_crowd_out(self, result: PassResult) -> None:
        """Alarm when held footage alone leaves too little room for the minimum retention."""
        cfg, held = self.cfg, result.after.held_bytes
        forecast = holds_crowd_out(result.total_bytes, result.policy.reserve_bytes,
                                   cfg.retention.intake_room(result.total_bytes), held, result.after.rates,
                                   cfg.retention.min_retention_us)
        short = forecast is not None
        await self.alarms.set(
            short, HOLDS_CROWD_OUT,
            Msg(A_("held footage ({held:.1f} GB) leaves room for only {days:.2f} days of live footage, below the "
                   "minimum of {min:g} days"), held=held / 1e9, days=(forecast or 0) / DAY_US,
                min=cfg.retention.min_retention_us / DAY_US) if short else "")


def _log_pass(result: PassResult) -> None:
    if result.destroyed:
        reasons = sorted({d.reason for d in result.plan.destroy})
        log.info("retention pass %d destroyed %d segments (%.1f MB; %s); free %.1f -> %.1f MB",
                 result.pass_id, result.destroyed, result.bytes / 1e6, ", ".join(reasons),
                 result.free_before / 1e6, result.free_after / 1e6)


def _show(value: Any) -> str:
    """A policy value as a person reads it: durations in days/hours, the reserve as written."""
    if isinstance(value, int) and not isinstance(value, bool):
        return format_duration(value)
    if isinstance(value, dict):
        return f"{value['percent']:g}%" if "percent" in value else f"{value.get('bytes')} bytes"
    return "unset" if value is None else str(value)
