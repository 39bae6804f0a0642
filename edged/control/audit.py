"""The audit log over the control socket (R7): the ethics office reads it (list, export, the
periodic report); any account may have the daemon check that the chain is intact (the answer
shows no record's content). Reading the log (it can be a million records) uses a read-only
connection in a thread, so neither the event loop nor the catalog writer waits for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import sqlite_utils

from edged import pools
from edged.config import Config
from edged.config.summary import settings_report
from edged.control.operation import CatalogReader, Operations, op, read_catalog, sees
from edged.control.needs import DeadlinesPart
from edged.control.protocol import RequestError
from edged.i18n import _
from edged.rules.roles import Actor
from edged.rules import deadlines
from storage import audit, audit_report
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import SYSTEM, Clock

PAGE = 5000  # audit records per reply


class AuditOps(Operations):
    def __init__(self, writer: CatalogWriter, reader: CatalogReader, clock: Clock = SYSTEM,
                 cfg_of: Callable[[], Config] | None = None, deadlines: DeadlinesPart | None = None):
        self.cfg_of = cfg_of        # the config in force, for the report's settings (R7.2)
        self.deadlines = deadlines  # told when an audit is recorded: audit_overdue clears
        self.writer = writer
        self.reader = reader  # the chain check refuses while the data disk is gone, as the reports do
        self.data_dir: Path = reader.data_dir
        self.clock = clock

    @op("audit.list")
    async def listing(self, args: dict[str, Any], _caller: Actor) -> list[dict[str, Any]]:
        limit = min(int(args.get("limit") or 200), PAGE)
        since, before = args.get("from_us"), args.get("before_seq")
        # a detail is carried up to audit.LIST_DETAIL characters (design/0091): `audit.export` has it whole
        return await read_catalog(self.data_dir, lambda db: audit.newest(
            db, limit=limit, from_us=None if since is None else int(since), action=args.get("action") or None,
            before_seq=None if before is None else int(before), detail_chars=audit.LIST_DETAIL))

    @op("audit.export")
    async def export(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        after = int(args.get("after_seq") or 0)
        rows = await read_catalog(self.data_dir, lambda db: audit.records(db, after_seq=after, limit=PAGE))
        if after == 0:  # one record per export, at its start: who took the log out
            await self.writer.run(lambda c: audit.append(c.db, str(caller), "audit.export", {}))
        return {"records": rows, "more": len(rows) == PAGE}

    @op("audit.due")
    async def due(self, _args: dict[str, Any], _caller: Actor) -> dict[str, Any]:
        """When the next periodic audit is due (R7.2; 002 §17 half-yearly) and the last one done:
        the auditor's home page leads with it (design/0108). Reads only; nothing on the chain."""
        last, first = await read_catalog(self.data_dir, lambda db: (audit_report.last_done(db),
                                                                    audit_report.first_record_us(db)))
        now = self.clock.now_us()
        every = self.cfg_of().audit.every_months if self.cfg_of is not None else 0
        zone = self.cfg_of().site.timezone if self.cfg_of is not None else None
        due = deadlines.audit_due_us(last["at_us"] if last else (first or now), every,
                                     deadlines.local_tz(now, zone)) if every else None
        return {"every_months": every, "due_us": due, "now_us": now,
                "last": None if last is None else {"at_us": last["at_us"], "by": last["detail"].get("name"),
                                                   "account": last["actor"]}}

    @op("audit.report")
    async def report(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """The periodic report; with `done` ({name, note}) it also records that the audit was done
        and by whom (`audit.done` on the chain, with the hash of the settings it saw)."""
        start, end = int(args.get("from_us") or 0), int(args.get("to_us") or self.clock.now_us())
        if end <= start:
            raise RequestError(_("the report's --to must be after --from"))
        done = args.get("done")
        if done is not None and (not isinstance(done, dict) or not str(done.get("name") or "").strip()):
            raise RequestError(_("recording an audit needs the auditor's name (--name)"))
        report = await read_catalog(self.data_dir, lambda db: audit_report.build(db, start, end,
                                                                                 now_us=self.clock.now_us()))
        if self.cfg_of is not None:
            report["settings"] = await pools.REPORTS.run(settings_report, self.cfg_of())
        sha = (report.get("settings") or {}).get("sha256")
        now = self.clock.now_us()

        def record(c: Catalog) -> None:
            audit.append(c.db, str(caller), "audit.report", {"from_us": start, "to_us": end}, at_us=now)
            if done is not None:
                audit.append(c.db, str(caller), audit_report.DONE, {
                    "name": str(done["name"]).strip(), "note": str(done.get("note") or ""), "from_us": start,
                    "to_us": end, "settings_sha256": sha}, at_us=now)

        await self.writer.run(record)
        if self.deadlines is not None:
            report["deadlines"] = await self.deadlines.check(now)
        if done is not None:
            report["recorded"] = {"name": str(done["name"]).strip(), "account": str(caller), "at_us": now}
        return report

    @op("usage.register")
    async def usage(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """The usage register (影音應用記錄簿, design/0089) for [from, to): the custodian who keeps it,
        the approver and the auditor read it; who printed it is on the record."""
        start, end = int(args.get("from_us") or 0), int(args.get("to_us") or self.clock.now_us())
        if end <= start:
            raise RequestError(_("the register's --to must be after --from"))
        uses = [u for u in await read_catalog(self.data_dir, lambda db: audit_report.usage(db, start, end))
                if sees(caller, u["cameras"])]   # a custodian of some cameras reads their uses only (R4.2)
        await self.writer.run(lambda c: audit.append(c.db, str(caller), "usage.register",
                                                     {"from_us": start, "to_us": end, "uses": len(uses)}))
        return {"from_us": start, "to_us": end, "uses": uses}

    @op("audit.verify")
    async def verify(self, args: dict[str, Any], _caller: Actor) -> dict[str, Any]:
        expect = args.get("head")
        if expect is not None:
            try:
                expect = (int(expect[0]), str(expect[1]))
            except (TypeError, ValueError, IndexError):
                raise RequestError(_('head is [seq, "hash"]')) from None

        def q(db: sqlite_utils.Database) -> dict[str, Any]:
            n, problem = audit.verify(db, expect)
            return {"records": n, "ok": problem is None, "problem": problem, "head": audit.head(db)}
        return await self.reader.query(q, pools.VERIFY)
