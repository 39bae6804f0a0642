"""The requests' clock (R5.6-R5.8): grants that expire unused, requests purged after 3 years,
citizens' requests past their due date, flagged requests for the ethics office, account
lockouts that ran out, and legal holds past their review date (design/0076). The decisions are in edged/rules/retrieval.py; this task owns the timing and
turns the results into alarms."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

from edged import people
from edged.alarms import ETHICS, Alarms
from edged.config import Config
from edged.people import policy_of
from edged.daemon.maintenance import backup_folders
from edged.i18n import Msg, A_
from storage import audit
from storage.health import alarms as alarm_table
from storage.people import accounts, retrieval_store
from edged.rules.holds import review_overdue
from storage.retention import holds as hold_store
from storage.alarm_kinds import ACCOUNT_LOCKED, ETHICS as ETHICS_KIND, HOLD_REVIEW_DUE, REQUEST_OVERDUE
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import wait_or_stop, Clock, SYSTEM

log = logging.getLogger(__name__)
PREFIXES = (REQUEST_OVERDUE.key(""), ETHICS_KIND.key("request:"), ACCOUNT_LOCKED.key(""),
            HOLD_REVIEW_DUE.key(""))  # the keys it keeps


class PeopleWatch:
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms, clock: Clock = SYSTEM):
        self.clock = clock
        self.cfg = cfg
        self.writer = writer
        self.alarms = alarms

    async def run(self, stopping: asyncio.Event) -> None:
        policy = policy_of(self.cfg)
        await self.writer.run(lambda c: accounts.store_policy(c.db, policy))  # for logins outside the socket (viewer)
        while not stopping.is_set():
            await self.sweep(self.clock.now_us())
            await wait_or_stop(stopping, self.cfg.accounts.sweep_interval_us / 1e6, self.clock)

    async def purge_backups(self, now: int) -> int:
        """The live catalog's purges repeated in the catalog backups (R5.7): a copy must not outlive
        the rule."""
        folders = backup_folders(self.cfg)  # [maintenance] backup_dir, and the default folder
        ids = await self.writer.run(lambda c: retrieval_store.purged_ids(c.db))

        def run() -> int:
            n = 0
            for path in [p for f in folders if f.is_dir() for p in sorted(f.glob("catalog-*.db"))]:
                try:
                    n += people.purge_backup(path, ids, now)
                except sqlite3.Error as exc:
                    log.error("could not purge the catalog backup %s: %s", path.name, exc)
            return n

        n = await asyncio.to_thread(run)
        if n:
            await self.writer.run(lambda c: audit.append(c.db, "edged", "backup.purge", {
                "requests": n, "folders": [str(f) for f in folders]}, at_us=now))
        return n

    async def sweep(self, now: int) -> dict[str, Any]:
        keep = self.cfg.accounts.keep_requests_years

        def run(c: Catalog) -> tuple[dict[str, Any], set[str], list[str]]:
            out = people.sweep(c.db, now, keep, self.cfg.accounts.request_lapse_us)
            active = {a["key"] for a in alarm_table.active(c.db) if a["key"].startswith(PREFIXES)}
            locked = accounts.locked_accounts(c.db, now)
            out["reviews_due"] = [h for h in hold_store.open_reviews(c.db) if review_overdue(h, now)]
            return out, active, locked

        out, active, locked = await self.writer.run(run)
        for r in out["lapsed"]:
            log.info("request %d lapsed: %s", r["id"], "never decided" if r["grant"] is None
                     else f"its grant {r['grant']} expired unused")
        if out["purged"]:
            log.info("purged the personal data of %d requests kept for %d years", len(out["purged"]), keep)
            await self.purge_backups(now)
        want: set[str] = set()
        for req in out["overdue"]:
            key = REQUEST_OVERDUE.key(str(req["id"]))
            want.add(key)
            await self.alarms.raise_(REQUEST_OVERDUE,
                                     Msg(A_("request {id}, a citizen's, is past its due date: a citizen is answered "
                                            "within 6 days") if req["kind"] == "citizen" else A_(
                                         "request {id} is past the due date the site's rules set it"), id=req["id"]),
                                     {"request": req["id"], "due_us": req["due_us"]}, about=str(req["id"]))
        for req in out["flagged"]:
            key = ETHICS_KIND.key(f"request:{req['id']}")
            want.add(key)
            await self.alarms.raise_(ETHICS_KIND,
                                     Msg(ETHICS, id=req["id"], kind=req["kind"], category=req["category"],
                                         flag=req["flag"]), {"request": req["id"]}, about=f"request:{req['id']}")
        for hold in out["reviews_due"]:
            key = HOLD_REVIEW_DUE.key(str(hold["id"]))
            want.add(key)
            await self.alarms.raise_(HOLD_REVIEW_DUE,
                                     Msg(A_("legal hold {id} is past its review date: an approver extends or "
                                            "releases it on the hold's page"), id=hold["id"]),
                                     {"hold": hold["id"], "review_us": hold["review_us"]}, about=str(hold["id"]))
        want |= {ACCOUNT_LOCKED.key(name) for name in locked}
        for key in sorted(active - want):
            await self.alarms.clear(key)
        return out
