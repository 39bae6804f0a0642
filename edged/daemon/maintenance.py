"""Maintenance windows (docs/requirements.md R1.7): before work that touches storage, protect what
is there and put the window on the record. Recording never stops during maintenance.

Begin: a consistent copy of the catalog (SQLite online backup, from a separate read
connection so the catalog writer is never held up), a hash check of the recent footage,
then the window opens: expected faults (a camera unplugged for service) raise
maintenance-level alarms instead of critical ones. End closes it. Both ends are audited.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from edged.alarms import Alarms
from storage import audit
from storage import maintenance as maintenance_table
from storage import segments as segment_table
from storage.catalog import Catalog, CatalogWriter
from storage.clock import SYSTEM, Clock
from storage.hashing import sha256_file
from storage.layout import CATALOG_FILE
from storage.maintenance import backup_catalog

BACKUP_DIR = "backups"
DEFAULT_VERIFY_US = 10 * 60 * 1_000_000
# Faults a technician causes on purpose. Integrity alarms (tamper, hash mismatch, retention
# breach) are never excused by a maintenance window.
EXPECTED_DURING_MAINTENANCE = {"camera_offline", "recorder_worker_died", "storage_lost"}


def verify_hashes(data_dir: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Segments whose file no longer has the hash recorded when it was closed."""
    bad = []
    for r in rows:
        try:
            actual = sha256_file(data_dir / r["path"])
        except FileNotFoundError:
            actual = None
        if actual != r["sha256"]:
            bad.append({"path": r["path"], "camera": r["camera"], "expected": r["sha256"], "actual": actual})
    return bad


def prune_backups(folder: Path, keep: int) -> list[str]:
    """Keep the newest `keep` catalog backups (their names sort by time); the rest are destroyed.
    They hold password hashes and personal data: fewer copies, fewer places to purge (R5.7)."""
    backups = sorted(folder.glob("catalog-*.db"))
    gone = []
    for path in backups[:max(0, len(backups) - keep)]:
        for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            extra.unlink(missing_ok=True)
        gone.append(path.name)
    return gone


class MaintenanceError(Exception):
    """A window that cannot begin or end; the message says why (edgectl shows it as is)."""


class Maintenance:
    def __init__(self, data_dir: Path, writer: CatalogWriter, alarms: Alarms, keep_backups: int = 3,
                 clock: Clock = SYSTEM):
        self.clock = clock
        self.keep_backups = keep_backups
        self.data_dir = data_dir
        self.writer = writer
        self.alarms = alarms
        self.window: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        alarms.downgrade = self.excuses

    def excuses(self, kind: str) -> bool:
        return self.window is not None and kind in EXPECTED_DURING_MAINTENANCE

    async def load(self) -> None:
        self.window = await self.writer.run(lambda c: maintenance_table.open_window(c.db))

    async def begin(self, reason: str, actor: str, verify_us: int = DEFAULT_VERIFY_US) -> dict[str, Any]:
        if not reason.strip():
            raise MaintenanceError("maintenance needs a reason")
        async with self._lock:
            if self.window is not None:
                raise MaintenanceError(f"maintenance window {self.window['id']} is already open")
            started = self.clock.now_us()
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started / 1e6))
            backup = await asyncio.to_thread(backup_catalog, self.data_dir / CATALOG_FILE,
                                             self.data_dir / BACKUP_DIR / f"catalog-{stamp}.db")
            if backup["check"] != "ok":
                raise MaintenanceError(f"the catalog copy failed its check ({backup['check']}): maintenance not begun")
            pruned = await asyncio.to_thread(prune_backups, self.data_dir / BACKUP_DIR, self.keep_backups)
            rows = await self.writer.run(lambda c: segment_table.footage_hashes_since(c.db, started - verify_us))
            mismatches = await asyncio.to_thread(verify_hashes, self.data_dir, rows)
            for m in mismatches:
                await self.alarms.raise_(f"hash_mismatch:{m['path']}", "hash_mismatch", "critical", m["camera"],
                                         f"footage {m['path']} no longer matches its recorded SHA-256", m)

            def record(c: Catalog) -> dict[str, Any]:
                row_id = maintenance_table.begin(c.db, reason=reason, by=actor, at_us=started, backup=backup["path"],
                                                 verified=len(rows), mismatches=[m["path"] for m in mismatches])
                audit.append(c.db, actor, "maintenance.begin", {
                    "window": row_id, "reason": reason, "backup": backup["path"], "verified": len(rows),
                    "mismatches": [m["path"] for m in mismatches]})
                if pruned:
                    audit.append(c.db, "edged", "backup.pruned", {"files": pruned, "kept": self.keep_backups})
                return maintenance_table.window(c.db, row_id)

            self.window = await self.writer.run(record)
            return {**self.window, "backup_segments": backup["segments"], "backup_bytes": backup["bytes"],
                    "mismatches": mismatches}

    async def end(self, note: str, actor: str) -> dict[str, Any]:
        async with self._lock:
            if self.window is None:
                raise MaintenanceError("no maintenance window is open")
            window_id = self.window["id"]

            def record(c: Catalog) -> dict[str, Any]:
                maintenance_table.end(c.db, window_id, by=actor, at_us=self.clock.now_us(), note=note)
                audit.append(c.db, actor, "maintenance.end", {"window": window_id, "note": note})
                return maintenance_table.window(c.db, window_id)

            row = await self.writer.run(record)
            self.window = None
            return row
