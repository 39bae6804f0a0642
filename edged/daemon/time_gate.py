"""Corroborated time for retention (design/0095): the host clock authorises destruction by age
only when a source the box does not control agrees with it. The decisions are
storage/time/corroboration.py's; this gathers the readings (the office's signed time from the MQTT
reporter, the cameras' clocks from the health monitor, chrony's NTS state read off the event
loop), keeps the budget's last judged time in the node table, says why in one host alarm, and
records an approver's confirmation on the audit chain.
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
from edged.i18n import Msg, N_
from storage import audit, node
from storage.time import corroboration as co, independence
from storage.alarm_kinds import HOST_CLOCK_UNCORROBORATED
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, Clock, wait_or_stop
from edged.daemon.camera_clocks import addresses
from storage.states.cameras import RECORDING

if TYPE_CHECKING:
    from edged.daemon.health_monitor import HealthMonitor

log = logging.getLogger(__name__)

JUDGED_KEY = "age_judged_us"   # the node key: the time the last pass judged age at (the budget's base)
CHRONY_EVERY_S = 60.0
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
    own (loopback). Blocking (programs, DNS): run in a thread. None: neither could be read."""
    for exe, args, parse in (("chronyc", ["-c", "-n", "sources"], independence.chrony_servers),
                             ("timedatectl", ["show-timesync"], independence.timesyncd_servers)):
        path = shutil.which(exe)
        if path is None:
            continue
        try:
            got = subprocess.run([path, *args], capture_output=True, text=True, timeout=CHRONYC_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{exe} failed: {exc}"
        if got.returncode != 0:
            return None, f"{exe} {' '.join(args)} failed: {(got.stderr or got.stdout).strip()[:200]}"
        servers = parse(got.stdout)
        return addresses(servers) | {"127.0.0.1", "::1", "localhost"}, f"{exe}: {', '.join(sorted(servers)) or 'none'}"
    return None, "neither chrony nor systemd-timesyncd is installed: the box's time source is unknown"  # i18n: the journal's


class TimeGate:
    def __init__(self, writer: CatalogWriter, alarms: Alarms, clock: Clock = SYSTEM, *,
                 tolerance_us: Callable[[], int] = lambda: co.TOLERANCE_US,
                 cameras: Callable[[int, int], list[co.Reading]] = lambda _w, _m: [],
                 office_key: Callable[[], bool] = lambda: False,
                 clock_cameras: Callable[[], list[str]] = lambda: [],
                 chrony: Callable[[], tuple[co.Reading | None, str]] = read_chrony,
                 camera_ntp: Callable[[str], frozenset[str] | None] = lambda _cam: None,
                 box_servers: Callable[[], tuple[set[str] | None, str]] = read_box_servers):
        self.writer = writer
        self.alarms = alarms
        self.clock = clock
        self.tolerance_us = tolerance_us
        self.cameras = cameras
        self.office_key = office_key
        self.clock_cameras = clock_cameras
        self.chrony = chrony
        self.camera_ntp, self.box_servers = camera_ntp, box_servers
        self.box: set[str] | None = None   # the servers the box follows (None: unknown), design/0126
        self.box_why = "not read yet"  # i18n: the journal's
        self.office_at: tuple[int, int] | None = None   # (the office's signed time, our monotonic us then)
        self.nts: tuple[co.Reading, int] | None = None  # chrony's reading and our monotonic us then
        self.nts_why = "not read yet"  # i18n: the journal's
        self.judged: co.Judged | None = None
        self.loaded = False
        self.confirmed = False
        self.alarmed = ""

    def _mono(self) -> int:
        return round(self.clock.monotonic() * 1_000_000)

    def office(self, at_us: int) -> None:
        """A signed time from the office (mqtt/office_time.py): the latest one projected to now
        is kept, so a replayed older message changes nothing."""
        mono = self._mono()
        if self.office_at is None or at_us > self.office_at[0] + (mono - self.office_at[1]):
            self.office_at = (at_us, mono)

    def readings(self) -> list[co.Reading]:
        wall, mono = self.clock.now_us(), self._mono()
        out = [replace(r, independent=self.independent(r.name)) for r in self.cameras(wall, mono)]
        if self.office_at is not None:
            out.append(co.Reading(co.OFFICE, "office", co.office_offset(*self.office_at, wall, mono),
                                  mono - self.office_at[1]))
        if self.nts is not None:
            r, at = self.nts
            out.append(co.Reading(r.kind, r.name, r.offset_us, mono - at))
        return out

    def independent(self, camera: str) -> bool:
        """Whether the camera's clock follows something else than the box's time source (design/0126)."""
        return independence.independent(self.camera_ntp(camera), self.box)[0]

    def verdict(self) -> co.Verdict:
        moved = co.moved_us(self.clock.now_us(), self.judged, self._mono())
        return co.judge(self.readings(), self.tolerance_us(), moved)

    def sources(self) -> list[str]:
        """What this site can corroborate its clock with ([]: nothing; the birth and doctor say it)."""
        return co.site_sources(self.office_key(), self.nts is not None,
                               sum(self.independent(c) for c in self.clock_cameras()))

    def status(self) -> dict[str, Any]:
        v = self.verdict()
        return {"state": v.state, "why": v.why, "source": v.source, "offset_us": v.offset_us,
                "sources": self.sources(), "nts": self.nts_why or "ok",
                "judged_us": None if self.judged is None else self.judged.at_us}

    async def start(self) -> None:
        """A first reading of chrony before the birth is published (it names the site's sources)."""
        await self._read_chrony()

    async def run(self, stopping: asyncio.Event) -> None:
        """chrony's state, once a minute, on a thread (it runs a program)."""
        while not stopping.is_set():
            await wait_or_stop(stopping, CHRONY_EVERY_S, self.clock)
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

    async def before_pass(self) -> tuple[bool, int | None, int]:
        """(age may be judged at all, the time it is judged at (None: the clock's), the time to
        keep as judged after the pass). One alarm says why when a source disagrees, or when the
        budget holds the judged time back."""
        if not self.loaded:
            got = await self.writer.run(lambda c: node.value(c.db, JUDGED_KEY))
            self.judged = None if got is None else co.Judged(int(got))  # across a restart: no monotonic time
            self.loaded = True
        v, now, mono = self.verdict(), self.clock.now_us(), self._mono()
        age = co.age_now(v, now, self.judged, mono, self.confirmed)
        await self._alarm(v, now, age)
        if age is None:
            return False, None, now
        return True, (None if age >= now else age), age

    async def after_pass(self, judged_us: int) -> None:
        self.judged = co.Judged(judged_us, self._mono())
        self.confirmed = False
        await self.writer.run(lambda c: node.set_values(c.db, {JUDGED_KEY: judged_us}))

    async def confirm(self, actor: str, reason: str) -> dict[str, Any]:
        """An approver says the host clock is right (`edgectl retention confirm-time`): the next
        pass judges age at the host's time, lifting the budget once; on the audit chain. Refused
        (ValueError) while a source disagrees: that source must be put right first."""
        v = self.verdict()
        if v.state == co.DISAGREES:
            raise ValueError(v.why)
        now = self.clock.now_us()
        detail = {"host_us": now, "state": v.state, "judged_us": None if self.judged is None else self.judged.at_us,
                  "reason": reason}
        await self.writer.run(lambda c: audit.append(c.db, actor, "host.clock_confirmed", detail, at_us=now))
        self.confirmed = True
        log.warning("%s confirmed the host clock (%s): the next retention pass judges age at the host's time",
                    actor, json.dumps(detail))
        return detail

    async def _alarm(self, v: co.Verdict, now: int, age: int | None) -> None:
        why = co.held_back(v, now, age)
        if why == self.alarmed:
            return
        self.alarmed = why
        if not why:
            await self.alarms.clear(HOST_CLOCK_UNCORROBORATED.key())
            return
        log.warning("retention: %s", why)
        if v.state == co.DISAGREES:
            msg = Msg(N_("the host clock is {offset} against {source} (tolerance {tolerance:g} s): nothing is "
                         "destroyed by age until they agree; check the host's time source"),
                      offset=co.describe(v.offset_us or 0), source=v.source, tolerance=self.tolerance_us() / 1e6)
        else:
            msg = Msg(N_("the host clock cannot be corroborated (no signed time from the central office, no "
                         "authenticated time source, no two cameras agreeing) and it is {ahead} of the time retention "
                         "last judged age at: footage goes by age only as time is measured since then; if the host "
                         "clock is right, an approver confirms it with `edgectl retention confirm-time`"),
                      ahead=co.describe((age or now) - now))
        await self.alarms.raise_(HOST_CLOCK_UNCORROBORATED, msg,
                                 {"state": v.state, "source": v.source, "offset_us": v.offset_us, "judged_us": age})


def camera_readings(monitor: HealthMonitor) -> Callable[[int, int], list[co.Reading]]:
    """Each recording camera's clock as the health monitor has it (design/0085): RTCP sender
    reports (current), else ONVIF projected to now on the monotonic clock."""
    def read(wall: int, mono: int) -> list[co.Reading]:
        out = []
        for cam in monitor.cfg.cameras:
            if monitor.cameras.state(cam.id) != RECORDING:
                continue
            skew, source = monitor.clock_of(cam.id, wall)
            if source == "rtcp" and skew is not None:
                last = (monitor.cameras.stats(cam.id) or {}).get("last_packet_us")
                out.append(co.Reading(co.CAMERA, cam.id, skew, max(0, wall - last) if last else 0))
            elif source == "onvif":
                r = monitor.onvif_clock(cam.id)
                off = None if r is None else co.camera_offset(r.offset_us, r.at_us, r.mono_us, wall, mono)
                if off is not None and r is not None:
                    out.append(co.Reading(co.CAMERA, cam.id, off, mono - (r.mono_us or mono)))
        return out

    return read
