"""Corroborated time for retention (design/0095, design/0305): footage recorded before this boot
is judged by age at the earliest true time retention can prove, the last reading a source the box
does not control (or an approver) vouched for, carried on the monotonic clock. The decisions are
storage/time/corroboration.py's; this gathers the readings (the office's signed time from the MQTT
reporter, the cameras' clocks from the health monitor, chrony's NTS state read off the event
loop), keeps the proven bound with its monotonic time and boot in the node table, says why in one
host alarm, and records an approver's confirmation on the audit chain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from edged.alarms import Alarms
from edged.rules.audit_words import HOST_CLOCK_CONFIRM_ASKED, HOST_CLOCK_CONFIRMED
from edged.i18n import Msg, A_, zone
from storage import audit, node
from edged.daemon.host_clock import boot as host_boot
from storage.time import corroboration as co, independence, interval as iv
from storage.alarm_kinds import HOST_CLOCK_UNCORROBORATED
from storage.catalog import CatalogWriter
from storage.retention.run import due_if_confirmed
from storage.time.clock import SYSTEM, Clock, wait_or_stop
from storage.time.trusted_time import span_words
from edged.daemon.camera_clocks import addresses
from storage.states.cameras import RECORDING

if TYPE_CHECKING:
    from edged.daemon.health_monitor import HealthMonitor

log = logging.getLogger(__name__)

JUDGED_KEY = "age_judged_us"   # before issue 73: the budget's judged time (read once, as a bound from another boot)
PROVEN_KEY = "age_proven"      # the node key: the earliest true time proven, its monotonic time and boot (design/0305)
CHRONY_EVERY_S = 60.0  # [time] chrony_interval's default (edged/config/site.py), where no config is given
SECOND_WITHIN_S = 3600  # where two approvers confirm the host clock, the second within this of the first
CHRONYC_TIMEOUT_S = 5.0


def read_chrony() -> tuple[co.Reading | None, str]:
    """chrony's NTS state (`chronyc -c`), blocking: run in a thread. Absent on most boxes."""
    exe = shutil.which("chronyc")
    if exe is None:
        return None, "chrony is not installed (no authenticated time source on this box)"  # i18n: the journal's
    out = []
    for what in ("tracking", "sources", "authdata"):
        try:
            got = subprocess.run([exe, "-c", "-n", what], capture_output=True, text=True, timeout=CHRONYC_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"chronyc {what} failed: {exc}"
        if got.returncode != 0:
            return None, f"chronyc {what} failed: {(got.stderr or got.stdout).strip()[:200]}"
        out.append(got.stdout)
    return co.chrony_reading(*out)


def read_box_servers() -> tuple[set[str] | None, str]:
    """The NTP servers the box follows, as its time daemon reports them (design/0126): chrony's
    sources when chrony is installed, else systemd-timesyncd's; with their addresses and the box's
    own (loopback). Blocking (programs, DNS): run in a thread. None: neither could be read. chrony
    installed but not running (its chronyc cannot reach it) is not the box's time source: the next is
    asked."""
    failed = []
    for exe, args, parse in (("chronyc", ["-c", "-n", "sources"], independence.chrony_servers),
                             ("timedatectl", ["show-timesync"], independence.timesyncd_servers)):
        path = shutil.which(exe)
        if path is None:
            continue
        try:
            got = subprocess.run([path, *args], capture_output=True, text=True, timeout=CHRONYC_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            failed.append(f"{exe} failed: {exc}")
            continue
        if got.returncode != 0:
            failed.append(f"{exe} {' '.join(args)} failed: {(got.stderr or got.stdout).strip()[:200]}")
            continue
        servers = parse(got.stdout)
        return addresses(servers) | {"127.0.0.1", "::1", "localhost"}, f"{exe}: {', '.join(sorted(servers)) or 'none'}"
    if failed:
        return None, "; ".join(failed)
    return None, "neither chrony nor systemd-timesyncd is installed: the box's time source is unknown"  # i18n: the journal's


class TimeGate:
    def __init__(self, writer: CatalogWriter, alarms: Alarms, clock: Clock = SYSTEM, *,
                 tolerance_us: Callable[[], int] = lambda: co.TOLERANCE_US,
                 cameras: Callable[[int, int], list[co.Reading]] = lambda _w, _m: [],
                 office_key: Callable[[], bool] = lambda: False,
                 chrony: Callable[[], tuple[co.Reading | None, str]] = read_chrony,
                 camera_ntp: Callable[[str], frozenset[str] | None] = lambda _cam: None,
                 box_servers: Callable[[], tuple[set[str] | None, str]] = read_box_servers,
                 boot: Callable[[], tuple[str, int]] = host_boot,
                 minimum_us: Callable[[], int | None] = lambda: None,
                 config: Callable[[], Any] = lambda: None, disk_total: Callable[[], int] = lambda: 0,
                 by_two: Callable[[], bool] = lambda: False):
        self.writer = writer
        self.alarms = alarms
        self.clock = clock
        self.tolerance_us = tolerance_us
        self.cameras = cameras
        self.office_key = office_key
        self.chrony = chrony
        self.camera_ntp, self.box_servers = camera_ntp, box_servers
        self.boot = boot  # (this boot's id, the monotonic us it began at): a bound carries only within it
        self.minimum_us = minimum_us  # the site's minimum retention: no authenticated source for longer is an alarm
        self.config, self.disk_total = config, disk_total  # what confirm-time's preview plans with (design/0373)
        self.by_two = by_two  # the site's rules ask two approvers to confirm the host clock (design/0373)
        self.asked: tuple[str, str, float] | None = None  # the first approver, her reason, our monotonic s then
        self.started_mono = self._mono()  # this run's start: what it records is re-stamped on every step (design/0059)
        self.box: set[str] | None = None   # the servers the box follows (None: unknown), design/0126
        self.box_why = "not read yet"  # i18n: the journal's
        self.office_at: tuple[int, int] | None = None   # (the office's signed time, our monotonic us then)
        self.office_tied: tuple[int, int, int] | None = None  # ... one that answered the box's own nonce, and its
        # question's age when heard (design/0370)
        self.nts: tuple[co.Reading, int] | None = None  # chrony's reading and our monotonic us then
        self.nts_why = "not read yet"  # i18n: the journal's
        self.carried: co.Carried | None = None  # the last proven bound, as kept in the node table
        self.proven: iv.Bound | None = None     # the earliest true time the last pass proved
        self.kept: iv.Bound | None = None       # what the last pass carries: the proven bound, never past the host (co.kept)
        self.vouched_us: int | None = None      # the proven time when an authenticated source last vouched
        self.dispute = ""  # why the host clock is in dispute at the last pass ("": it is not), design/0372
        self.loaded = False
        self.confirmed = False
        self.alarmed = ""
        self.alarmed_kind = ""  # "", "disagrees" or "held": the log says it once a change

    def _mono(self) -> int:
        return round(self.clock.monotonic() * 1_000_000)

    def office(self, at_us: int, slack_us: int | None = None) -> None:
        """A signed time from the office (mqtt/office_time.py): the latest one projected to now
        is kept, so a replayed older message changes nothing. `slack_us`: it answered the box's own
        nonce, asked that long before (a fresh exchange: it bounds the host from above too, design/0370)."""
        mono = self._mono()
        if self.office_at is None or at_us > self.office_at[0] + (mono - self.office_at[1]):
            self.office_at = (at_us, mono)
        if slack_us is not None:
            self.office_tied = (at_us, mono, slack_us)

    def readings(self) -> list[co.Reading]:
        wall, mono = self.clock.now_us(), self._mono()
        out = [replace(r, independent=self.independent(r.name)) for r in self.cameras(wall, mono)]
        if self.office_at is not None:
            out.append(co.Reading(co.OFFICE, "office", co.office_offset(*self.office_at, wall, mono),
                                  mono - self.office_at[1]))
        if self.office_tied is not None:
            at, heard, slack = self.office_tied
            out.append(co.Reading(co.OFFICE, "office", co.office_offset(at, heard, wall, mono), mono - heard,
                                  tied=True, slack_us=slack))
        if self.nts is not None:
            r, at = self.nts
            out.append(co.Reading(r.kind, r.name, r.offset_us, mono - at))
        return out

    def independent(self, camera: str) -> bool:
        """Whether the camera's clock follows something else than the box's time source (design/0126)."""
        return independence.independent(self.camera_ntp(camera), self.box)[0]

    def verdict(self) -> co.Verdict:
        return co.judge(self.readings(), self.tolerance_us())

    def sources(self) -> list[str]:
        """What this site can corroborate its clock with ([]: nothing; the birth and doctor say it)."""
        return co.site_sources(self.office_key(), self.nts is not None)

    def status(self) -> dict[str, Any]:
        v = self.verdict()
        return {"state": v.state, "why": v.why, "source": v.source, "offset_us": v.offset_us,
                "sources": self.sources(), "nts": self.nts_why or "ok",
                "judged_us": None if self.proven is None else self.proven.us,
                "judged_by": None if self.proven is None else self.proven.evidence}

    async def start(self) -> None:
        """A first reading of chrony before the birth is published (it names the site's sources)."""
        await self._read_chrony()

    async def run(self, stopping: asyncio.Event) -> None:
        """chrony's state, every [time] chrony_interval (a minute), on a thread (it runs a program)."""
        while not stopping.is_set():
            cfg = self.config()  # SIGHUP's too; None where no config is given (a test of the gate alone)
            every = CHRONY_EVERY_S if cfg is None else cfg.time.chrony_interval_us / 1_000_000
            await wait_or_stop(stopping, every, self.clock)
            await self._read_chrony()

    async def _read_chrony(self) -> None:
        reading, why = await asyncio.to_thread(self.chrony)
        self.nts = None if reading is None else (reading, self._mono())
        if why != self.nts_why:
            log.info("authenticated time source: %s", why or f"{reading.name if reading else ''} (NTS)")
        self.nts_why = why
        self.box, box_why = await asyncio.to_thread(self.box_servers)
        if box_why != self.box_why:
            log.info("the box's own time source: %s (a camera following it does not corroborate the host clock)",
                     box_why)
        self.box_why = box_why

    def boot_start_us(self) -> int:
        """The host's time this run began at (this process, or the boot if later), on the clock as it
        is now: footage ending at or after it was recorded in this run, whose steps are re-stamped
        (design/0059): its age is measured. Footage of an earlier run of the same boot is not: the
        clock may have been stepped while edged was down (design/0370)."""
        _, began = self.boot()
        return self.clock.now_us() - max(0, self._mono() - max(began, self.started_mono))

    async def load(self) -> None:
        if not self.loaded:
            text, legacy = await self.writer.run(lambda c: (node.value(c.db, PROVEN_KEY), node.value(c.db, JUDGED_KEY)))
            self.carried = co.load_carried(text, legacy)
            self.loaded = True

    async def before_pass(self) -> tuple[bool, int | None, int]:
        """(age may be judged at all, the time footage recorded before this boot is judged at (None:
        the clock's), the host's time this boot began at). One alarm says why when a source
        disagrees, or when the time retention can prove is held back (design/0305)."""
        await self.load()
        v, now, mono = self.verdict(), self.clock.now_us(), self._mono()
        boot, _ = self.boot()
        self.proven = co.proven_now(v, now, self.carried, boot, mono, self.confirmed)
        self.kept = co.kept(self.proven, now)
        self.vouched_us = co.vouched_since(self.carried, co.vouched(v, now, self.confirmed), self.kept)
        age = co.age_now(v, now, self.proven)
        self.dispute = co.in_dispute(v, now, age)
        await self._alarm(v, now, age, self.proven.evidence, co.unvouched_for(self.kept, self.vouched_us))
        begun = self.boot_start_us()
        if age is None:
            return False, None, begun
        return True, (None if age >= now else age), begun

    async def after_pass(self) -> None:
        """The bound the pass proved, kept with its monotonic time and boot (the next pass, or the
        next run in this boot, carries it; after a reboot it stands as it was)."""
        if self.kept is None:
            return
        boot, _ = self.boot()
        mono = self._mono()
        self.carried = co.Carried(self.kept.us, mono, boot, self.kept.evidence[:500], self.vouched_us)
        self.confirmed = False
        text = self.carried.dump()
        await self.writer.run(lambda c: node.set_values(c.db, {PROVEN_KEY: text}))

    async def due_if_confirmed(self) -> dict[str, dict[str, int]]:
        """What a confirmation would make due by age now (design/0373): per camera, how many segments,
        their bytes, the oldest start and the newest end; read only, on the writer's thread."""
        cfg = self.config()
        if cfg is None:
            return {}
        await self.load()
        v, now, mono = self.verdict(), self.clock.now_us(), self._mono()
        boot, _ = self.boot()
        age = co.age_now(v, now, co.proven_now(v, now, self.carried, boot, mono))
        begun, total = self.boot_start_us(), await asyncio.to_thread(self.disk_total)
        retention = cfg.retention.resolved(now, zone(cfg.site.timezone))
        cameras = list(cfg.cameras)
        return await self.writer.run(lambda c: due_if_confirmed(c.db, retention, cameras, total, now, age, begun))

    async def confirm(self, actor: str, reason: str) -> dict[str, Any]:
        """An approver says the host clock is right (`edgectl retention confirm-time`): the next
        pass proves the host's time (design/0305: a vouched reading, carried from then on); on the
        audit chain. Refused
        (ValueError) while a source disagrees: that source must be put right first."""
        v = self.verdict()
        if v.state == co.DISAGREES:
            raise ValueError(v.why)
        due = await self.due_if_confirmed()
        now = self.clock.now_us()
        detail: dict[str, Any] = {"host_us": now, "state": v.state, "reason": reason, "due": due,
                                  "judged_us": None if self.proven is None else self.proven.us}
        if self.by_two():  # the site's rules ask for a second approver (design/0373)
            first, mono = self.asked, self.clock.monotonic()
            if first is None or first[0] == actor or mono - first[2] > SECOND_WITHIN_S:
                self.asked = (actor, reason, mono)
                waiting = {**detail, "waiting_for_second": True}
                await self.writer.run(lambda c: audit.append(c.db, actor, HOST_CLOCK_CONFIRM_ASKED, waiting,
                                                             at_us=now))
                log.warning("%s asked to confirm the host clock (%s): a second approver confirms it within %d s",
                            actor, json.dumps(waiting), SECOND_WITHIN_S)
                return waiting
            detail.update(first=first[0], first_reason=first[1])
            self.asked = None
        await self.writer.run(lambda c: audit.append(c.db, actor, HOST_CLOCK_CONFIRMED, detail, at_us=now))
        self.confirmed = True
        log.warning("%s confirmed the host clock (%s): the next retention pass judges age at the host's time",
                    actor, json.dumps(detail))
        return detail

    async def _alarm(self, v: co.Verdict, now: int, age: int | None, evidence: str, unvouched: int = 0) -> None:
        minimum = self.minimum_us()
        why = co.held_back(v, now, age, evidence, unvouched_us=unvouched, minimum_us=minimum)
        if why == self.alarmed:
            return
        kind = "" if not why else v.state if v.state == co.DISAGREES else "held"
        if kind != ("" if not self.alarmed else self.alarmed_kind):
            log.warning("retention: %s", why or "the host clock is vouched for again: destruction by age resumes")
        self.alarmed, self.alarmed_kind = why, kind
        if not why:
            await self.alarms.clear(HOST_CLOCK_UNCORROBORATED.key())
            return
        if v.state == co.DISAGREES:
            msg = Msg(A_("the host clock is {offset} against {source} (tolerance {tolerance:g} s): nothing is "
                         "destroyed by age until they agree; check the host's time source"),
                      offset=co.describe(v.offset_us or 0), source=v.source, tolerance=self.tolerance_us() / 1e6)
        elif not (age is not None and now - age > co.HELD_BACK_ALARM_US) and minimum is not None:
            msg = Msg(A_("no authenticated time source has vouched for the host clock for {span}, longer than the "
                         "site's minimum retention ({minimum}): cameras and plain NTP may hold destruction back but "
                         "never move the time retention judges by forward, so footage recorded before this run is "
                         "destroyed by age only as the time last proven advances on the monotonic clock; let the "
                         "central office's signed time or an authenticated time source (NTS) be heard, or an approver "
                         "confirms the host clock with `edgectl retention confirm-time`"),
                      span=span_words(unvouched), minimum=span_words(minimum))
        else:
            msg = Msg(A_("the host clock is not corroborated (no signed time from the central office and no "
                         "authenticated time source; cameras never vouch) and it is {ahead} of the "
                         "earliest time retention can prove, the last time a source or an approver vouched for it "
                         "carried on the monotonic clock: footage recorded before this run is destroyed by age only "
                         "as that time advances, so destruction by age waits (overwrite for space goes on); to settle "
                         "it, let the central office's signed time or an authenticated time source (NTS) be heard, or "
                         "an approver confirms the host clock with `edgectl retention confirm-time`"),
                      ahead=co.describe((age or now) - now))
        await self.alarms.raise_(HOST_CLOCK_UNCORROBORATED, msg,
                                 {"state": v.state, "source": v.source, "offset_us": v.offset_us, "judged_us": age,
                                  "judged_by": evidence, "unvouched_us": unvouched})


def camera_readings(monitor: HealthMonitor) -> Callable[[int, int], list[co.Reading]]:
    """Each recording camera's clock as the health monitor has it (design/0085): RTCP sender
    reports, else ONVIF; either projected to now on the monotonic clock from when it was heard
    (design/0570): a skew measured before a host step is against the host's clock before it, and
    read as current it would say the cameras followed a step they may never have made."""
    def read(wall: int, mono: int) -> list[co.Reading]:
        out = []
        for cam in monitor.cfg.cameras:
            if monitor.cameras.state(cam.id) != RECORDING:
                continue
            skew, source = monitor.clock_of(cam.id, wall)
            if source == "rtcp" and skew is not None:
                at_wall, at_mono = monitor.cameras.heard(cam.id) or (wall, mono)
                off = co.camera_offset(skew, at_wall, at_mono, wall, mono)
                if off is not None:
                    out.append(co.Reading(co.CAMERA, cam.id, off, max(0, mono - at_mono)))
            elif source == "onvif":
                r = monitor.onvif_clock(cam.id)
                off = None if r is None else co.camera_offset(r.offset_us, r.at_us, r.mono_us, wall, mono)
                if off is not None and r is not None:
                    out.append(co.Reading(co.CAMERA, cam.id, off, mono - (r.mono_us or mono)))
        return out

    return read
