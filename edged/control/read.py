"""The reading side of the control socket: status, cameras, segments, retention, destructions,
alarms, holds, maintenance windows, inspections and the chain check.

edgectl no longer opens the catalog (design/0017): the data folder is the daemon's alone, so
every report is a request here, under the role matrix (edged/rules/roles.py), and the caller's
camera scope limits what footage metadata they see. Each query runs on its own read-only
connection in a thread (WAL: it never waits for the writer, never blocks the event loop).
Listing footage (segments) is on the audit chain; status-like reads are not.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from edged.control.server import Caller, Handler, RequestError, read_catalog
from edged.control.ops import check_scope
from storage import audit, retention_store
from storage import cameras as camera_table
from storage import inspections as inspection_table
from storage import maintenance as maintenance_table
from storage import node as node_table
from storage import segments as segment_table
from storage.catalog import CatalogWriter, segments_between
from storage.catalog import alarms as catalog_alarms
from storage.clock import SYSTEM, Clock
from storage.layout import CATALOG_FILE
from storage.retention import DAY_US
from storage.retention_store import HoldError, hold_row, retention_report

MAX_ROWS = 100_000


def _int(value: Any, field: str, default: int | None = None) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RequestError(f"{field} must be an integer") from None


def _limit(args: dict[str, Any], default: int) -> int:
    n = _int(args.get("limit"), "limit", default)
    return max(1, min(int(n or default), MAX_ROWS))


def _scoped(caller: Any, camera: str | None) -> list[str] | None:
    """The cameras a read may cover: the one asked for (checked against the account's scope), or
    the account's scope (None: every camera)."""
    if camera is not None:
        check_scope(caller, [camera], "refused")
        return [camera]
    return None if not isinstance(caller, Caller) or caller.cameras is None else list(caller.cameras)


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def read_handlers(cfg_of: Callable[[], Any], writer: CatalogWriter, data_dir: Path,
                  clock: Clock = SYSTEM, storage_lost: Callable[[], str | None] = lambda: None) -> dict[str, Handler]:
    """`cfg_of()` gives the config in force (a SIGHUP may have replaced it); `storage_lost()`
    why the data disk is not the one edged started on (None: it is)."""
    catalog = data_dir / CATALOG_FILE
    opened = _file_id(catalog)  # the catalog file the writer has open (design/0023)

    async def readable() -> bool:
        """The catalog at its path is still the file edged writes: not a folder left empty by
        an unmounted disk, nor another data set's catalog mounted in its place."""
        return opened is None or await asyncio.to_thread(_file_id, catalog) == opened

    def unreadable() -> RequestError:
        why = storage_lost() or f"{catalog} is no longer the catalog edged has open"
        return RequestError(f"the catalog cannot be read while the data disk is gone ({why}). Recording has "
                            "stopped and resumes by itself when the disk is back; `edgectl status` shows the state")

    async def query(fn: Callable[[Any], Any]) -> Any:
        if not await readable():
            raise unreadable()
        try:
            return await read_catalog(data_dir, fn)
        except FileNotFoundError:
            raise unreadable() from None

    async def status(_args: dict[str, Any], _caller: Any) -> dict[str, Any]:
        def q(db) -> dict[str, Any]:
            node = node_table.values(db)
            states = camera_table.state_counts(db)
            seg = segment_table.summary(db)
            gaps = segment_table.gap_count_since(db, clock.now_us() - DAY_US)
            try:  # not the figures of whatever is under the mount point of a disk that is gone
                disk = None if storage_lost() else shutil.disk_usage(data_dir)
            except OSError:
                disk = None
            return {
                "running": True, "pid": os.getpid(), "version": node.get("version"), "site": node.get("site"),
                "site_name": node.get("site_name"), "node": node.get("node"),
                "started_us": int(node["started_us"]) if node.get("started_us") else None,
                "heartbeat_us": int(node["heartbeat_us"]) if node.get("heartbeat_us") else None,
                "data_dir": str(data_dir), "disk_total": disk.total if disk else None,
                "disk_free": disk.free if disk else None, "cameras": states,
                "segments": seg["segments"], "footage_bytes": seg["bytes"], "oldest_us": seg["oldest_us"],
                "newest_us": seg["newest_us"], "open_segments": seg["open"], "gaps_24h": gaps,
                "broker": node.get("mqtt_status"),
                "storage": json.loads(node["storage"]) if node.get("storage") else {"state": "ok", "reason": None}}
        if await readable():
            try:
                return await read_catalog(data_dir, q)
            except FileNotFoundError:
                pass
        return await writer.run(lambda c: q(c.db))  # the data disk is gone from its path: the writer still has it

    async def cameras(args: dict[str, Any], _caller: Any) -> dict[str, Any]:
        cfg = cfg_of()

        rows = await query(lambda db: camera_table.listing(db, bool(args.get("all"))))
        return {"cameras": rows, "site_name": cfg.site.name,
                "min_days": cfg.retention.min_retention_us // DAY_US,
                "max_days": cfg.retention.max_retention_us // DAY_US}

    async def segments(args: dict[str, Any], caller: Any) -> dict[str, Any]:
        start, end = _int(args.get("from_us"), "from_us"), _int(args.get("to_us"), "to_us")
        if start is None or end is None or end <= start:
            raise RequestError("segments needs from_us < to_us")
        camera = args.get("camera")
        limit = _limit(args, 1000)
        scope = _scoped(caller, camera)

        def q(db) -> dict[str, Any]:
            if camera and not camera_table.exists(db, camera):
                raise RequestError(f"no camera {camera!r}; `edgectl cameras` lists them")
            if scope is None or len(scope) == 1:
                rows = segments_between(db, start, end, scope[0] if scope else None, limit)
            else:
                rows = [r for cam in sorted(scope) for r in segments_between(db, start, end, cam, limit)][:limit]
            return {"segments": rows, "gaps": segment_table.gaps_between(db, start, end, scope)}
        data = await query(q)
        await writer.run(lambda c: audit.append(c.db, str(caller), "footage.list", {
            "cameras": scope, "from_us": start, "to_us": end, "segments": len(data["segments"])}))
        return data

    async def retention(_args: dict[str, Any], _caller: Any) -> dict[str, Any]:
        cfg = cfg_of()
        return await query(lambda db: retention_report(db, cfg.retention, cfg.cameras, data_dir, clock=clock))

    async def destructions(args: dict[str, Any], caller: Any) -> list[dict[str, Any]]:
        scope = _scoped(caller, args.get("camera"))
        start, end = _int(args.get("from_us"), "from_us"), _int(args.get("to_us"), "to_us")
        limit = _limit(args, 10_000)
        return await query(lambda db: retention_store.destructions(db, scope, start, end, limit))

    async def alarms(args: dict[str, Any], _caller: Any) -> list[dict[str, Any]]:
        return await query(lambda db: catalog_alarms(db, bool(args.get("all"))))

    async def hold_list(args: dict[str, Any], _caller: Any) -> list[dict[str, Any]]:
        return await query(lambda db: retention_store.holds(db, bool(args.get("all"))))

    async def hold_show(args: dict[str, Any], _caller: Any) -> dict[str, Any]:
        hold_id = _int(args.get("id"), "id")

        def q(db) -> dict[str, Any]:
            try:
                return hold_row(db, int(hold_id or 0))
            except HoldError as exc:
                raise RequestError(str(exc)) from None
        return await query(q)

    async def maintenance_list(args: dict[str, Any], _caller: Any) -> list[dict[str, Any]]:
        limit = _limit(args, 50)
        return await query(lambda db: maintenance_table.recent(db, limit))

    async def inspect_list(args: dict[str, Any], _caller: Any) -> dict[str, Any]:
        start, end = _int(args.get("from_us"), "from_us", 0), _int(args.get("to_us"), "to_us", clock.now_us())

        def q(db) -> dict[str, Any]:
            site = node_table.values(db, "site", "site_name")
            return {"runs": inspection_table.runs_between(db, int(start or 0), int(end or 0)), "site": site}
        return await query(q)

    async def inspect_show(args: dict[str, Any], _caller: Any) -> dict[str, Any]:
        run_id = _int(args.get("run"), "run")
        run = await query(lambda db: inspection_table.run_of(db, int(run_id or 0)))
        if run is None:
            raise RequestError(f"no inspection {run_id}; `edgectl inspect list` shows them")
        return run

    async def audit_verify(args: dict[str, Any], _caller: Any) -> dict[str, Any]:
        expect = args.get("head")
        if expect is not None:
            try:
                expect = (int(expect[0]), str(expect[1]))
            except (TypeError, ValueError, IndexError):
                raise RequestError('head is [seq, "hash"]') from None

        def q(db) -> dict[str, Any]:
            n, problem = audit.verify(db, expect)
            return {"records": n, "ok": problem is None, "problem": problem, "head": audit.head(db)}
        return await query(q)

    return {"status": status, "cameras": cameras, "segments": segments, "retention": retention,
            "destructions": destructions, "alarms": alarms, "hold.list": hold_list, "hold.show": hold_show,
            "maintenance.list": maintenance_list, "inspect.list": inspect_list, "inspect.show": inspect_show,
            "audit.verify": audit_verify}

