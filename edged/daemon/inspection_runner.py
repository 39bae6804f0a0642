"""Runs inspections on the site's schedule (and on demand), writes the register, and raises
`inspection_overdue` while a scheduled inspection waits too long for its technician's
signature (REQUIREMENTS R3.1-R3.2). The checks themselves are edged.rules.inspections.checklist."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import Any, Awaitable, Callable

from edged.rules import inspections
from edged.alarms import Alarms
from edged.config import Config
from storage import audit
from storage.catalog import Catalog, CatalogWriter

log = logging.getLogger(__name__)

CHECK_S = 30.0   # the loop wakes at least this often (overdue check, clock steps)


def now_us() -> int:
    return time.time_ns() // 1000


class InspectionError(Exception):
    """A refused signing (shown to the person as is)."""


def local_tz():
    return datetime.now().astimezone().tzinfo


class InspectionRunner:
    def __init__(self, cfg: Config, writer: CatalogWriter, monitor: Any, alarms: Alarms | None):
        self.cfg = cfg
        self.writer = writer
        self.monitor = monitor
        self.alarms = alarms
        self.publish: Callable[[dict[str, Any]], Awaitable[Any]] | None = None  # the MQTT inspection topic
        self.next_due_us: int | None = None

    # running one ----------------------------------------------------------------------
    async def run_now(self, kind: str, due_us: int | None, actor: str) -> dict[str, Any]:
        now = now_us()
        segment_us = self.cfg.storage.segment_length_us
        records = []
        for cam in self.cfg.cameras:
            items = inspections.checklist(self.monitor.snapshot(cam.id, now), now, segment_us)
            records.append({"camera": cam.id, "name": cam.name, "location": cam.location, "items": items,
                            "ok": not any(v["ok"] is False for v in items.values()),
                            "anomalies": inspections.anomalies(items)})

        def write(c: Catalog) -> dict[str, Any]:
            with c.db.atomic():
                run_id = c.db["inspection_runs"].insert({
                    "kind": kind, "due_us": due_us, "ran_us": now, "ran_by": actor, "cameras": len(records),
                    "anomalies": sum(not r["ok"] for r in records)}).last_pk
                for r in records:
                    c.db["inspections"].insert({"run_id": run_id, "camera": r["camera"], "at_us": now,
                                                "items": json.dumps(r["items"]), "ok": int(r["ok"]),
                                                "anomalies": r["anomalies"]})
                audit.append(c.db, actor, "inspection.run", {
                    "run": run_id, "kind": kind, "due_us": due_us, "cameras": len(records),
                    "anomalies": {r["camera"]: r["anomalies"] for r in records if not r["ok"]}})
            return run_of(c.db, run_id)

        run = await self.writer.run(write)
        faults = [r for r in records if not r["ok"]]
        (log.warning if faults else log.info)(
            "inspection %d (%s): %d cameras, %d with anomalies%s", run["id"], kind, len(records), len(faults),
            "".join(f"; {r['camera']}: {r['anomalies']}" for r in faults))
        await self._publish({"event": "run", **_summary(run)})
        return run

    async def _publish(self, body: dict[str, Any]) -> None:
        if self.publish is None:
            return
        try:
            await self.publish(body)
        except Exception as exc:  # noqa: BLE001 - reporting never stops an inspection
            log.error("inspection not queued for the central office: %s", exc)

    # signatures -----------------------------------------------------------------------
    async def sign(self, run_id: int, name: str, actor: str, notes: dict[str, str]) -> dict[str, Any]:
        (name, signer), now = _signer(name, actor, "sign"), now_us()

        def write(c: Catalog) -> dict[str, Any]:
            with c.db.atomic():
                run = _existing_run(c.db, run_id)
                if run["signed_us"] is not None:
                    raise InspectionError(f"inspection {run_id} was already signed by {run['inspector']}")
                cams = {r["camera"] for r in run["records"]}
                unknown = sorted(set(notes) - cams)
                if unknown:
                    raise InspectionError(f"no camera {', '.join(unknown)} in inspection {run_id}")
                for cam, text in notes.items():
                    c.db.execute("UPDATE inspections SET handling = ? WHERE run_id = ? AND camera = ?",
                                 [text, run_id, cam])
                c.db.execute("UPDATE inspection_runs SET inspector = ?, signed_us = ? WHERE id = ?",
                             [signer, now, run_id])
                audit.append(c.db, actor, "inspection.sign", {"run": run_id, "name": name, "handling": notes})
                return run_of(c.db, run_id)

        run = await self.writer.run(write)
        await self.check_overdue(now)
        await self._publish({"event": "signed", **_summary(run)})
        return run

    async def countersign(self, run_id: int, name: str, actor: str) -> dict[str, Any]:
        (name, signer), now = _signer(name, actor, "countersign"), now_us()

        def write(c: Catalog) -> dict[str, Any]:
            with c.db.atomic():
                run = _existing_run(c.db, run_id)
                if run["signed_us"] is None:
                    raise InspectionError(f"inspection {run_id} is not signed by its inspector yet")
                if run["countersigned_us"] is not None:
                    raise InspectionError(f"inspection {run_id} was already countersigned by {run['supervisor']}")
                if run["inspector"] == signer:
                    raise InspectionError("the supervisor who countersigns cannot be the inspector")
                c.db.execute("UPDATE inspection_runs SET supervisor = ?, countersigned_us = ? WHERE id = ?",
                             [signer, now, run_id])
                audit.append(c.db, actor, "inspection.countersign", {"run": run_id, "name": name})
                return run_of(c.db, run_id)

        run = await self.writer.run(write)
        await self._publish({"event": "countersigned", **_summary(run)})
        return run

    # the schedule ---------------------------------------------------------------------
    async def check_overdue(self, now: int) -> None:
        limit = now - self.cfg.inspection.sign_within_us
        late = await self.writer.run(lambda c: [r["id"] for r in c.db.query(
            "SELECT id FROM inspection_runs WHERE kind = 'scheduled' AND signed_us IS NULL AND due_us < ?"
            " ORDER BY id", [limit])])
        if self.alarms is not None:
            await self.alarms.set(bool(late), "inspection_overdue", "inspection_overdue", "warning", None,
                                  f"scheduled inspection(s) {', '.join(map(str, late))} not signed by a technician "
                                  "in time: `edgectl inspect sign RUN --name ...`", {"runs": late})

    async def run(self, stopping: asyncio.Event) -> None:
        cfg, site, tz = self.cfg.inspection, self.cfg.site.id, local_tz()
        last = await self.writer.run(lambda c: next(c.db.query(
            "SELECT max(due_us) AS d FROM inspection_runs WHERE kind = 'scheduled'"))["d"])
        due = inspections.next_due(now_us() if last is None else last, cfg, site, tz)
        while not stopping.is_set():
            now = now_us()
            if due is not None and due <= now:
                missed = 0
                while (following := inspections.next_due(due, cfg, site, tz)) is not None and following <= now:
                    due, missed = following, missed + 1
                if missed:
                    log.warning("%d scheduled inspections fell while edged was not running; running the latest",
                                missed)
                    await self.writer.run(lambda c: audit.append(c.db, "edged", "inspection.missed",
                                                                 {"count": missed, "latest_due_us": due}))
                try:
                    await self.run_now("scheduled", due, "edged")
                except Exception:  # noqa: BLE001 - the schedule goes on; the overdue alarm will show it
                    log.exception("scheduled inspection failed")
                due = inspections.next_due(due, cfg, site, tz)
            self.next_due_us = due
            await self.check_overdue(now_us())
            wait = CHECK_S if due is None else min(CHECK_S, max(0.0, (due - now_us()) / 1e6))
            try:
                await asyncio.wait_for(stopping.wait(), wait)
            except TimeoutError:
                pass


def _signer(name: str, actor: str, verb: str) -> tuple[str, str]:
    """(the name as typed, the signature: that name and the account that typed it, if different)."""
    name = name.strip()
    if not name:
        raise InspectionError(f"{verb} with your name (--name)")
    return name, name if name == actor else f"{name} ({actor})"


def _existing_run(db: Any, run_id: int) -> dict[str, Any]:
    run = run_of(db, run_id)
    if run is None:
        raise InspectionError(f"no inspection {run_id}; `edgectl inspect list` shows them")
    return run


def run_of(db: Any, run_id: int) -> dict[str, Any] | None:
    run = next(db.query("SELECT * FROM inspection_runs WHERE id = ?", [run_id]), None)
    if run is None:
        return None
    run["records"] = [{**r, "items": json.loads(r["items"])} for r in db.query(
        "SELECT * FROM inspections WHERE run_id = ? ORDER BY camera", [run_id])]
    return run


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    return {"run": run["id"], "kind": run["kind"], "due_us": run["due_us"], "ran_us": run["ran_us"],
            "inspector": run["inspector"], "signed_us": run["signed_us"], "supervisor": run["supervisor"],
            "countersigned_us": run["countersigned_us"],
            "cameras": {r["camera"]: {"ok": bool(r["ok"]), "anomalies": r["anomalies"], "handling": r["handling"]}
                        for r in run["records"]}}
