"""Runs inspections on the site's schedule (and on demand), writes the register, and raises
`inspection_overdue` while a scheduled inspection waits too long for its technician's
signature (docs/requirements.md R3.1-R3.2). The checks themselves are edged.rules.inspections.checklist."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import sqlite_utils

from edged.rules import deadlines, inspections
from edged.alarms import Alarms
from edged.config import Config
from edged.daemon.deadlines import DeadlineWatch
from edged.i18n import Msg, A_, _, local, us
from edged.ports import InspectionError, Outlet
from storage import audit
from storage.health import alarms as alarm_table
from storage.health import inspections as inspection_table
from storage.alarm_kinds import INSPECTION_OVERDUE
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import wait_or_stop, Clock, SYSTEM
from storage.people.sessions import last_logins

if TYPE_CHECKING:  # types only: the composition root (edged/app.py) builds it
    from edged.daemon.health_monitor import HealthMonitor

log = logging.getLogger(__name__)

CHECK_S = 30.0   # the loop wakes at least this often (overdue check, clock steps)


class InspectionRunner:
    def __init__(self, cfg: Config, writer: CatalogWriter, monitor: HealthMonitor, alarms: Alarms | None,
                 clock: Clock = SYSTEM, *, publish: Outlet[dict[str, Any]] | None = None):
        self._cfg = cfg
        self._reloaded = asyncio.Event()  # set by a reload: the schedule is read again at once
        self._overdue_at: int | None = None  # when the latest scheduled run falls overdue unsigned
        self.clock = clock
        self.writer = writer
        self.monitor = monitor
        self.alarms = alarms
        self.publish = publish or Outlet("inspection publish")  # the MQTT inspection topic
        self.next_due_us: int | None = None
        self.deadlines = DeadlineWatch(lambda: self.cfg, writer, alarms, clock)  # the register, the audit

    @property
    def cfg(self) -> Config:
        return self._cfg

    @cfg.setter
    def cfg(self, cfg: Config) -> None:  # a SIGHUP's config (edged/daemon/signals.py): in force at once
        self._cfg = cfg
        self._reloaded.set()

    # running one ----------------------------------------------------------------------
    async def run_now(self, kind: str, due_us: int | None, actor: str) -> dict[str, Any]:
        now = self.clock.now_us()
        segment_us = self.cfg.storage.segment_length_us
        logins, active = await self.writer.run(lambda c: (last_logins(c.db, inspections.OPERATOR_ROLES),
                                                          {a["kind"]: a["message"] for a in alarm_table.active(c.db)}))
        tz = deadlines.local_tz(now, self.cfg.site.timezone)
        login = inspections.operators_login(logins, lambda us: local(us, tz).strftime("%Y-%m-%d %H:%M"))
        host = inspections.host_running(active)
        records = []
        for cam in self.cfg.cameras:
            items = inspections.checklist({**self.monitor.snapshot(cam.id, now), "operators_login": login,
                                           "host": host}, now, segment_us)
            records.append({"camera": cam.id, "name": cam.name, "location": cam.location, "unit": cam.unit,
                            "items": items,
                            "ok": not any(v["ok"] is False for v in items.values()),
                            "anomalies": inspections.anomalies(items)})

        def write(c: Catalog) -> dict[str, Any]:
            with c.db.atomic():
                run_id = inspection_table.add_run(c.db, kind=kind, due_us=due_us, ran_us=now, ran_by=actor,
                                                  records=records)
                audit.append(c.db, actor, "inspection.run", {
                    "run": run_id, "kind": kind, "due_us": due_us, "cameras": len(records),
                    "anomalies": {r["camera"]: r["anomalies"] for r in records if not r["ok"]}}, at_us=now)
            return _existing_run(c.db, run_id)

        run = await self.writer.run(write)
        faults = [r for r in records if not r["ok"]]
        (log.warning if faults else log.info)(
            "inspection %d (%s): %d cameras, %d with anomalies%s", run["id"], kind, len(records), len(faults),
            "".join(f"; {r['camera']}: {r['anomalies']}" for r in faults))
        await self._publish({"event": "run", **_summary(run)})
        return run

    async def _publish(self, body: dict[str, Any]) -> None:
        try:
            await self.publish(body)
        except Exception as exc:  # noqa: BLE001 - reporting never stops an inspection
            log.error("inspection not queued for the central office: %s", exc)

    # signatures -----------------------------------------------------------------------
    async def sign(self, run_id: int, name: str, actor: str, notes: dict[str, str],
                   repairs: list[str] | None = None) -> dict[str, Any]:
        (name, signer), now = _signer(name, actor, "sign"), self.clock.now_us()

        def write(c: Catalog) -> dict[str, Any]:
            with c.db.atomic():
                run = _existing_run(c.db, run_id)
                why = inspections.sign_refusal(run)
                if why:
                    raise InspectionError(why)
                cams = {r["camera"] for r in run["records"]}
                unknown = sorted((set(notes) | set(repairs or ())) - cams)
                if unknown:
                    raise InspectionError(_("no camera {cameras} in inspection {id}").format(
                        cameras=", ".join(unknown), id=run_id))
                if repairs and not self.cfg.inspection.ask_repair:
                    raise InspectionError(_("{us}'s register does not ask whether a repair was requested").format(us=us()))
                asked = set(repairs or ()) if self.cfg.inspection.ask_repair else None
                inspection_table.sign(c.db, run_id, signer, now, notes, asked)
                audit.append(c.db, actor, "inspection.sign", {"run": run_id, "name": name, "handling": notes,
                                                              **({"repairs": sorted(asked)} if asked else {})},
                             at_us=now)
                return _existing_run(c.db, run_id)

        run = await self.writer.run(write)
        await self.check_overdue(now)
        await self._publish({"event": "signed", **_summary(run)})
        return run

    async def countersign(self, run_id: int, name: str, actor: str, unit: str | None = None, *,
                          account: str | None = None) -> dict[str, Any]:
        """The supervisor's countersignature; where the site countersigns per unit ([inspection]
        countersign = "unit"), of the rows of the units `account` (the caller's account, else
        `actor`) is the chief of, or of `unit` only."""
        account = account or actor
        (name, signer), now = _signer(name, actor, "countersign"), self.clock.now_us()
        units = dict(self.cfg.policy.units) if self.cfg.inspection.countersign == "unit" else None

        def write(c: Catalog) -> dict[str, Any]:
            with c.db.atomic():
                run = _existing_run(c.db, run_id)
                why = inspections.countersign_refusal(run, signer, account, units)
                if why:
                    raise InspectionError(why)
                mine = inspections.units_to_countersign(run, account, units) if units is not None else None
                if unit is not None and mine is not None:
                    if unit not in mine:
                        raise InspectionError(_("{account} does not countersign for {unit} in inspection {id} "
                                                "(yours: {units})").format(account=account, unit=unit, id=run_id,
                                                                          units=", ".join(mine)))
                    mine = [unit]
                inspection_table.countersign(c.db, run_id, signer, now, mine)
                audit.append(c.db, actor, "inspection.countersign", {
                    "run": run_id, "name": name, **({"units": mine} if mine is not None else {})}, at_us=now)
                return _existing_run(c.db, run_id)

        run = await self.writer.run(write)
        await self.deadlines.check(now)  # the month's register may be complete now
        await self._publish({"event": "countersigned", **_summary(run)})
        return run

    # the schedule ---------------------------------------------------------------------
    async def check_overdue(self, now: int) -> None:
        limit = now - self.cfg.inspection.sign_within_us
        late = await self.writer.run(lambda c: inspection_table.unsigned_scheduled_due_before(c.db, limit))
        if self.alarms is not None:
            await self.alarms.set(bool(late), INSPECTION_OVERDUE,
                                  Msg(A_("scheduled inspection(s) {runs} not signed by a technician in time: "
                                         "`edgectl inspect sign RUN --name ...`"), runs=", ".join(map(str, late))),
                                  {"runs": late})

    async def run(self, stopping: asyncio.Event) -> None:
        last = await self.writer.run(lambda c: inspection_table.last_scheduled_due(c.db))
        schedule: tuple[object, ...] | None = None
        due: int | None = None
        while not stopping.is_set():
            self._reloaded.clear()
            now = self.clock.now_us()
            cfg, site = self.cfg.inspection, self.cfg.site
            if (cfg, site.id, site.timezone) != schedule:  # at the start, and a reload that changed it
                if schedule is not None:
                    log.info("the inspection schedule changed by a reload: its next due date is read again")
                schedule, tz = (cfg, site.id, site.timezone), deadlines.local_tz(now, site.timezone)
                due = inspections.next_due(now if last is None else last, cfg, site.id, tz)
            if due is not None and due <= now:
                missed = 0
                while (following := inspections.next_due(due, cfg, site.id, tz)) is not None and following <= now:
                    due, missed = following, missed + 1
                if missed:
                    log.warning("%d scheduled inspections fell while edged was not running; running the latest",
                                missed)
                    await self.writer.run(lambda c: audit.append(c.db, "edged", "inspection.missed",
                                                                 {"count": missed, "latest_due_us": due}))
                try:
                    await self.run_now(inspection_table.SCHEDULED, due, "edged")
                    self._overdue_at = due + cfg.sign_within_us + 1  # overdue once due < now - sign_within
                except Exception:  # noqa: BLE001 - the schedule goes on; the overdue alarm will show it
                    log.exception("scheduled inspection failed")
                last, due = due, inspections.next_due(due, cfg, site.id, tz)
            self.next_due_us = due
            await self.check_overdue(self.clock.now_us())
            await self.deadlines.check()
            # wake for the next due date, the latest run falling overdue, a reload, or CHECK_S
            now = self.clock.now_us()
            wakes = [w for w in (due, self._overdue_at) if w is not None and w > now]
            await self._pause(stopping, min([CHECK_S, *((w - now) / 1e6 for w in wakes)]))

    async def _pause(self, stopping: asyncio.Event, seconds: float) -> None:
        reloaded = asyncio.ensure_future(self._reloaded.wait())
        waited = asyncio.ensure_future(wait_or_stop(stopping, seconds, self.clock))
        try:
            await asyncio.wait((reloaded, waited), return_when=asyncio.FIRST_COMPLETED)
        finally:
            reloaded.cancel()
            waited.cancel()


def _signer(name: str, actor: str, verb: str) -> tuple[str, str]:
    """(the name as typed, the signature: that name and the account that typed it, if different)."""
    name = name.strip()
    if not name:
        raise InspectionError(_("sign with your name (--name)") if verb == "sign" else
                              _("countersign with your name (--name)"))
    return name, name if name == actor else f"{name} ({actor})"


def _existing_run(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    run = inspection_table.run_of(db, run_id)
    if run is None:
        raise InspectionError(_("no inspection {run}; `edgectl inspect list` shows them").format(run=run_id))
    return run


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    return {"run": run["id"], "kind": run["kind"], "due_us": run["due_us"], "ran_us": run["ran_us"],
            "inspector": run["inspector"], "signed_us": run["signed_us"], "supervisor": run["supervisor"],
            "countersigned_us": run["countersigned_us"],
            "cameras": {r["camera"]: {"ok": bool(r["ok"]), "anomalies": r["anomalies"], "handling": r["handling"],
                                      "unit": r.get("unit"), "supervisor": r.get("supervisor"),
                                      "countersigned_us": r.get("countersigned_us"), "repair": r.get("repair")}
                        for r in run["records"]}}
