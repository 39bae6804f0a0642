"""Camera health and inspections over the control socket (R2, R3): a camera's reference view,
running, signing and countersigning an inspection, and reading the register."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from edged.config import Config
from edged.rules import deadlines
from edged.control.operation import CatalogReader, Operations, check_scope, integer, op, scope_of
from edged.control.protocol import RequestError
from edged.control.needs import InspectionPart, ReferencePart
from edged.i18n import _
from edged.ports import InspectionError, ReferenceRefused
from edged.rules.roles import Actor
from storage.health import inspections as inspection_table
from storage import node as node_table
from storage.time.clock import SYSTEM, Clock


def within(scope: tuple[str, ...] | None, run: dict[str, Any]) -> dict[str, Any]:
    """A run as a scoped account sees it: the records of its cameras, counted again (R4.2)."""
    if scope is None:
        return run
    records = [r for r in run["records"] if r["camera"] in scope]
    return {**run, "records": records, "cameras": len(records), "anomalies": sum(not r["ok"] for r in records)}


def register_of(cfg: Config) -> dict[str, Any]:
    """The register as the site prints it ([inspection], design/0082): title, columns, whether
    the repair question is asked, and who countersigns (each unit's chief: with the units)."""
    ins = cfg.inspection
    return {"title": ins.register_title, "items": list(ins.columns), "ask_repair": ins.ask_repair,
            "countersign": ins.countersign, "columns": [list(c) for c in ins.register_columns],
            "item_labels": dict(ins.item_labels),
            "units": {c.id: c.unit for c in cfg.cameras if c.unit} if ins.countersign == "unit" else {}}


class InspectionOps(Operations):
    def __init__(self, monitor: ReferencePart, runner: InspectionPart, reader: CatalogReader, clock: Clock = SYSTEM):
        self.monitor = monitor
        self.runner = runner
        self.reader = reader
        self.clock = clock

    @op("camera.set_reference")
    async def set_reference(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        camera = str(args.get("camera", ""))
        check_scope(caller, [camera], _("reference not set"))  # a lobby custodian cannot re-baseline the evidence room
        try:
            return await self.monitor.set_reference(camera, str(caller))
        except ReferenceRefused as exc:
            raise RequestError(str(exc)) from None

    @op("inspect.run")
    async def run(self, _args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        return await self.runner.run_now("manual", None, str(caller))

    @op("inspect.sign")
    async def sign(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        notes = args.get("notes") or {}
        if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
            raise RequestError(_("notes must map camera ids to text"))
        repairs = args.get("repairs") or []
        if not isinstance(repairs, list) or not all(isinstance(v, str) for v in repairs):
            raise RequestError(_("repairs must list camera ids"))
        try:
            return await self.runner.sign(int(args["run"]), str(args.get("name", "")), str(caller), notes,
                                          repairs)
        except (InspectionError, KeyError, ValueError) as exc:
            raise RequestError(_("not signed: {why}").format(why=exc)) from None

    @op("inspect.countersign")
    async def countersign(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        try:
            unit = args.get("unit")
            return await self.runner.countersign(int(args["run"]), str(args.get("name", "")), str(caller),
                                                 None if unit in (None, "") else str(unit),
                                                 account=getattr(caller, "account", None))
        except (InspectionError, KeyError, ValueError) as exc:
            raise RequestError(_("not countersigned: {why}").format(why=exc)) from None

    @op("inspect.list")
    async def listing(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        start = integer(args.get("from_us"), "from_us", 0)
        end = integer(args.get("to_us"), "to_us", self.clock.now_us())

        due_day = self.runner.cfg.inspection.register_due_day
        tz = self.runner.deadlines.tz or deadlines.local_tz(self.clock.now_us(), self.runner.cfg.site.timezone)
        month = args.get("month")  # "YYYY-MM" or 115/11 ("": this month), bounded in the site's zone as on the desk
        if month is not None:
            typed = deadlines.typed_month(str(month), self.clock.now_us(), tz)
            if typed is None:
                raise RequestError(_("--month {text!r}: write it as YYYY-MM, e.g. 2026-11").format(text=month))
            (year, number), start, end = typed
            month = f"{year:04d}-{number:02d}"
        # R3.2: the register of the month the listing starts in is due by this (None: not tracked)
        due = deadlines.register_due_us(deadlines.month_of(int(start or 0), tz), due_day, tz) if due_day else None

        def q(db: sqlite_utils.Database) -> dict[str, Any]:
            site = node_table.values(db, "site", "site_name")
            runs = [within(scope_of(caller), r) for r in inspection_table.runs_between(db, int(start or 0), int(end or 0))]
            return {"runs": runs, "site": site, "register_due_us": due, "register": register_of(self.runner.cfg),
                    "month": month, "from_us": start, "to_us": end}
        return await self.reader.query(q)

    @op("inspect.show")
    async def show(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        run_id = integer(args.get("run"), "run")
        run = await self.reader.query(lambda db: inspection_table.run_of(db, int(run_id or 0)))
        if run is None:
            raise RequestError(_("no inspection {run}; `edgectl inspect list` shows them").format(run=run_id))
        return within(scope_of(caller), run)
