"""How the box is doing, and what footage it holds: status, cameras, alarms, retention, segments,
motion events, destructions (and `ping`).

edgectl opens no catalog (design/0017): the data folder is the daemon's alone, so every report
is a request here, under the role matrix (edged/rules/roles.py), and the caller's camera scope
limits what footage metadata they see. Each query runs on its own read-only connection in a
thread (WAL: it never waits for the writer, never blocks the event loop). Listing footage
(segments, events) is on the audit chain, a record a minute per person and day (edged/control/reads.py);
status-like reads are not.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import sqlite_utils

from edged.alarms import alarm_text
from edged.config import Config
from edged.control.operation import CatalogReader, Operations, integer, limit_of, op, read_catalog, scoped
from edged.control.protocol import RequestError
from edged.control.reads import ReadLedger
from edged.control.server import Caller
from edged.rules import roles
from edged.version import package_version
from edged.i18n import _
from edged.rules.roles import Actor
from storage import audit
from storage.footage import gaps as gap_table, restamps
from storage.keys import nodecert
from storage.footage import events as event_table
from storage.footage import backfill as backfill_table
from storage.footage import from_standby as from_standby_table
from storage import cameras as camera_table
from storage import node as node_table
from storage.footage import segments as segment_table
from storage.catalog import CatalogWriter
from storage.health import alarms as alarm_table
from storage.people import accounts as account_table
from storage.alarm_kinds import KINDS
from storage.footage.segment_rows import SEGMENT_STATES
from storage.time.clock import SYSTEM, Clock
from storage.retention.plan import DAY_US
from storage.retention.report import destructions, judged_on_clock, retention_report

T = TypeVar("T")


def _enrolment(data_dir: Path) -> dict[str, Any] | None:
    try:
        return nodecert.enrolment(data_dir)
    except (OSError, nodecert.CertError):  # a broken pin is doctor's warning, not a failed status
        return None


def kind_scope(kind: str) -> str:
    """What an alarm of `kind` is about; a kind no longer declared (an old row) counts as the host's."""
    declared = KINDS.get(kind)
    return declared.scope if declared is not None else "host"


class StatusOps(Operations):
    def __init__(self, cfg_of: Callable[[], Config], writer: CatalogWriter, reader: CatalogReader,
                 clock: Clock = SYSTEM, reads: ReadLedger | None = None,
                 clock_dispute: Callable[[], str] = lambda: ""):
        self.cfg_of = cfg_of  # the config in force (a SIGHUP may have replaced it)
        self.clock_dispute = clock_dispute  # why the host clock is in dispute ("": it is not), design/0372
        self.writer = writer
        self.reads = reads or ReadLedger(writer)   # footage reads on the record, a minute per key (issue 45)
        self.reader = reader
        self.data_dir: Path = reader.data_dir
        self.clock = clock

    def _query(self, fn: Callable[[Any], T]) -> Awaitable[T]:
        return self.reader.query(fn)

    @op("ping")
    async def ping(self, _args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        return {"pong": True, "user": getattr(caller, "os_user", str(caller))}

    @op("status")
    async def status(self, _args: dict[str, Any], _caller: Actor) -> dict[str, Any]:
        data_dir, clock, storage_lost = self.data_dir, self.clock, self.reader.storage_lost

        def q(db: sqlite_utils.Database) -> dict[str, Any]:
            node = node_table.values(db)
            states = camera_table.state_counts(db)
            seg = segment_table.summary(db)
            seg["oldest_us"], seg["newest_us"] = restamps.true_span(db)  # on the true clock (design/0096)
            gaps = gap_table.count_since(db, clock.now_us() - DAY_US)
            backfill = backfill_table.in_progress(db, clock.now_us() - DAY_US)  # design/0106: what is being backfilled, what was given up
            try:  # not the figures of whatever is under the mount point of a disk that is gone
                disk = None if storage_lost() else shutil.disk_usage(data_dir)
            except OSError:
                disk = None
            return {
                "running": True, "pid": os.getpid(), "version": node.get("version"), "package": package_version(),
                "site": node.get("site"),
                "site_name": node.get("site_name"), "node": node.get("node"),
                "started_us": int(node["started_us"]) if node.get("started_us") else None,
                "heartbeat_us": int(node["heartbeat_us"]) if node.get("heartbeat_us") else None,
                "data_dir": str(data_dir), "disk_total": disk.total if disk else None,
                "disk_free": disk.free if disk else None, "cameras": states,
                "segments": seg["segments"], "footage_bytes": seg["bytes"], "oldest_us": seg["oldest_us"],
                "newest_us": seg["newest_us"], "open_segments": seg["open"], "gaps_24h": gaps,
                "backfill": backfill,
                # design/0115: the gaps fetched back from the standby, and the one being fetched
                "from_standby": from_standby_table.in_progress(db, clock.now_us() - DAY_US),
                "from_standby_now": json.loads(node["from_standby"]) if node.get("from_standby") else None,
                "broker": node.get("mqtt_status"),
                # edgectl doctor (design/0077): the audit chain's head, and how far the broker has taken it
                "audit_seq": (audit.head(db) or {}).get("seq"),
                "audit_published_seq": int(node["mqtt_audit_seq"]) if node.get("mqtt_audit_seq") else None,
                "storage": json.loads(node["storage"]) if node.get("storage") else {"state": "ok", "reason": None},
                "disk_full": json.loads(node["disk_full"]) if node.get("disk_full") else None,
                "host_clock": json.loads(node["host_clock"]) if node.get("host_clock") else None,
                # a standby's boxes, and those it stands in for now (design/0107)
                "standby": json.loads(node["standby"]) if node.get("standby") else None,
                # whether a standby with [backfill] listen serves its boxes their gaps (design/0157)
                "standby_serving": json.loads(node["standby_serving"]) if node.get("standby_serving") else None,
                # edgectl doctor: the box's certificate from the office's CA (design/0097), None until enrolled
                "enrolment": _enrolment(data_dir)}
        if await self.reader.readable():
            try:
                return await read_catalog(data_dir, q)
            except FileNotFoundError:
                pass
        return await self.writer.run(lambda c: q(c.db))  # the data disk is gone from its path: the writer still has it

    @op("cameras")
    async def cameras(self, args: dict[str, Any], _caller: Actor) -> dict[str, Any]:
        cfg = self.cfg_of()
        every = await self._query(lambda db: camera_table.listing(db, True))
        rows = every if args.get("all") else [r for r in every if r["configured"]]
        site_min, site_max = cfg.retention.min_retention_us, cfg.retention.max_retention_us
        for r in rows:  # the effective retention of each camera (the notice shows it, R3.5)
            cam = cfg.camera(r["id"])
            r["min_days"] = (cam.min_retention_us if cam and cam.min_retention_us else site_min) // DAY_US
            r["max_days"] = (cam.max_retention_us if cam and cam.max_retention_us else site_max) // DAY_US
        out = {"cameras": rows, "site_name": cfg.site.name, "us": cfg.site.us, "language": cfg.site.language,
               "timezone": cfg.site.timezone, "forms": cfg.forms.to_json(), "min_days": site_min // DAY_US, "max_days": site_max // DAY_US,
               "list_changed_us": max((r["listed_us"] for r in every if r.get("listed_us")), default=None)}
        if args.get("people"):   # a printed form's people by their names and titles (design/0112)
            named = await self._query(lambda db: [{"name": a["name"], "full_name": a["full_name"]}
                                                  for a in account_table.accounts(db)])
            out["people"] = {"accounts": named, "titles": {t: sorted(a) for t, a in cfg.policy.titles.items()},
                             "units": {u: sorted(a) for u, a in cfg.policy.units.items()}}
        return out

    @op("segments")
    async def segments(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        start, end = integer(args.get("from_us"), "from_us"), integer(args.get("to_us"), "to_us")
        if start is None or end is None or end <= start:
            raise RequestError(_("segments needs from_us < to_us"))
        camera, state = args.get("camera"), args.get("state") or None
        if state is not None and state not in SEGMENT_STATES:
            raise RequestError(_("no segment state {state!r}; one of: {states}").format(
                state=state, states=", ".join(SEGMENT_STATES)))
        limit = limit_of(args, 1000)
        scope = scoped(caller, camera)

        def q(db: sqlite_utils.Database) -> dict[str, Any]:
            if camera and not camera_table.exists(db, camera):
                raise RequestError(_("no camera {camera!r}; `edgectl cameras` lists them").format(camera=camera))
            if scope is None or len(scope) == 1:
                rows = segment_table.between(db, start, end, scope[0] if scope else None, limit, state)
            else:
                rows = [r for cam in sorted(scope) for r in segment_table.between(db, start, end, cam, limit, state)][:limit]
            return {"segments": rows, "gaps": gap_table.between(db, start, end, scope),
                    "not_recorded": event_table.not_recorded_between(db, start, end, scope)}
        data = await self._query(q)
        await self.reads.record(caller, "footage.list", {"cameras": scope, "from_us": start, "to_us": end,
                                                         "segments": len(data["segments"])}, scope, start, end)
        return data

    @op("events")
    async def events(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        """Motion events (design/0038), oldest first; thumbnails (base64 JPEG) only if asked."""
        since, until = integer(args.get("since_us"), "since_us"), integer(args.get("until_us"), "until_us")
        camera, thumbs = args.get("camera"), bool(args.get("thumbs"))
        limit = limit_of(args, 1000)
        scope = scoped(caller, camera)

        def q(db: sqlite_utils.Database) -> list[dict[str, Any]]:
            if camera and not camera_table.exists(db, camera):
                raise RequestError(_("no camera {camera!r}; `edgectl cameras` lists them").format(camera=camera))
            rows = event_table.listing(db, scope, since, until, limit, thumbs)
            for r in rows:
                if r.get("thumb") is not None:
                    r["thumb"] = base64.b64encode(r["thumb"]).decode()
            return rows
        rows = await self._query(q)
        await self.reads.record(caller, "events.list", {"cameras": scope, "since_us": since, "until_us": until,
                                                         "events": len(rows)}, scope, since, until)
        return {"events": rows}

    @op("retention")
    async def retention(self, _args: dict[str, Any], _caller: Actor) -> dict[str, Any]:
        cfg = self.cfg_of()
        report = judged_on_clock(await self._query(lambda db: retention_report(db, cfg.retention, cfg.cameras,
                                                                               self.data_dir, clock=self.clock)),
                                 self.clock_dispute())
        # the site's own limits, for `edgectl retention --estimate` of a camera not yet configured (design/0077)
        return {**report, "site_min_us": cfg.retention.min_retention_us, "site_max_us": cfg.retention.max_retention_us}

    @op("destructions")
    async def destructions(self, args: dict[str, Any], caller: Actor) -> list[dict[str, Any]]:
        scope = scoped(caller, args.get("camera"))
        start, end = integer(args.get("from_us"), "from_us"), integer(args.get("to_us"), "to_us")
        limit = limit_of(args, 10_000)
        return await self._query(lambda db: destructions(db, scope, start, end, limit))

    @op("alarms")
    async def alarms(self, args: dict[str, Any], caller: Actor) -> list[dict[str, Any]]:
        """The alarms the caller may read (issue 45): camera alarms of their cameras, an account's
        or a request's alarms only to the roles that act on them; the rest are not there for them."""
        rows = await self._query(lambda db: alarm_table.listing(db, bool(args.get("all"))))
        if isinstance(caller, Caller) and caller.account is not None:
            rows = [r for r in rows if roles.sees_alarm(caller.roles, caller.cameras, kind_scope(r["kind"]),
                                                        r.get("camera"))]
        return [{**r, "text": alarm_text(r)} for r in rows]
