"""Maintenance windows (docs/requirements.md R1.7): before work that touches storage, protect what
is there and put the window on the record. Recording never stops during maintenance.

Begin: a consistent copy of the catalog (SQLite online backup, from a separate read
connection so the catalog writer is never held up) into [maintenance] backup_dir (best on
another disk: a copy on the footage's own disk is recorded and warned about), a hash check of
the recent footage, then the window opens: nothing is destroyed until it ends (the retention
runner asks `protecting()`; design/0043 says what happens when the disk fills meanwhile), and
expected faults (a camera unplugged for service) raise maintenance-level alarms instead of
critical ones. The manager who attends is named (R8.2: 000 §3(3)1, 002 §6(3)); the window's
record says what it protected. End closes it and lets retention run at once. Both ends are audited.
A window ends by itself after [maintenance] max_window (8 h), on the record, with the warning
`maintenance_ending` before: one left open would hold back all destruction for ever (issue 27).

A window that touches storage (`touches_storage`) first copies the footage at risk into
[maintenance] backup_dir (002 §15, storage/footage/footage_copy.py), hashes checked, and is refused
when the copy fails or the folder lacks room. A window a vendor attends (`vendor`, 002 §6(3))
raises `vendor_password_unchanged` when it closes, until the superuser password is recorded
as changed (`password_changed`). Design/0083.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

from edged.alarms import Alarms
from edged.config import Config
from edged.i18n import Msg, A_, _, us
from edged.ports import MaintenanceError
from storage import audit
from storage.footage import footage_copy
from storage import maintenance as maintenance_table
from storage.footage import segments as segment_table
from storage.alarm_kinds import EXPECTED_IN_MAINTENANCE, HASH_MISMATCH, MAINTENANCE_ENDING, VENDOR_PASSWORD_UNCHANGED
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import wait_or_stop, Clock, SYSTEM
from storage.disk.hashing import sha256_file
from storage.disk.fsutil import private_dir
from storage.disk.layout import CATALOG_FILE, VIDEO_DIR
from storage.maintenance import backup_catalog

BACKUP_DIR = "backups"
DEFAULT_VERIFY_US = 10 * 60 * 1_000_000
MAX_VERIFY_US = 24 * 3600 * 1_000_000  # `--verify` hashes that much footage with the window's lock held
WARN_BEFORE_US = 30 * 60 * 1_000_000   # `maintenance_ending` this long before the bound (a quarter of a short one)
WATCH_S = 60.0                          # the bound is looked at at least this often
BOUND_ACTOR = "edged"
# Faults a technician causes on purpose (storage/alarm_kinds.py declares which: a camera unplugged,
# the data disk taken out). Integrity alarms (tamper, hash mismatch, retention breach) are never
# excused by a maintenance window.
EXPECTED_DURING_MAINTENANCE = EXPECTED_IN_MAINTENANCE


def window_due(began_us: int, now_us: int, max_us: int) -> tuple[str | None, int]:
    """What an open window needs now: "end" past its bound, "warn" in the last stretch, else None;
    and when the next of those comes (microseconds, absolute)."""
    end_us = began_us + max_us
    warn_us = end_us - min(WARN_BEFORE_US, max_us // 4)
    if now_us >= end_us:
        return "end", end_us
    if now_us >= warn_us:
        return "warn", end_us
    return None, warn_us


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


def backup_folder(cfg: Config) -> Path:
    """Where catalog copies go: [maintenance] backup_dir, else the data folder's `backups`."""
    return cfg.maintenance.backup_dir or cfg.storage.data_dir / BACKUP_DIR


def backup_folders(cfg: Config) -> list[Path]:
    """Every folder that may hold catalog copies (the default one keeps those from before a
    backup_dir was set): the purges of personal data reach them all (R5.7)."""
    return list(dict.fromkeys([cfg.storage.data_dir / BACKUP_DIR, backup_folder(cfg)]))


def same_disk(folder: Path, data_dir: Path) -> bool:
    return os.stat(folder).st_dev == os.stat(data_dir).st_dev


log = logging.getLogger(__name__)


class Maintenance:
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms, clock: Clock = SYSTEM,
                 after_end: Callable[[], None] | None = None):
        self.cfg = cfg              # replaced on SIGHUP: backup_dir, keep_backups, require_attendance
        self.clock = clock
        self.writer = writer
        self.alarms = alarms
        self.window: dict[str, Any] | None = None
        self._opening: dict[str, Any] | None = None  # a window being opened: protected from its first moment
        self.after_end = after_end  # retention runs at once: destruction resumes
        self._lock = asyncio.Lock()

    @property
    def data_dir(self) -> Path:
        return self.cfg.storage.data_dir

    def excuses(self, kind: str) -> bool:
        return self.window is not None and kind in EXPECTED_DURING_MAINTENANCE

    def protecting(self) -> dict[str, Any] | None:
        """The open window, or the one being opened (nothing may be destroyed meanwhile), or None."""
        return self.window or self._opening

    async def load(self) -> None:
        self.window = await self.writer.run(lambda c: maintenance_table.open_window(c.db))
        pending = await self.writer.run(lambda c: maintenance_table.password_pending(c.db))
        if pending:
            await self._vendor_alarm(pending)

    async def _vendor_alarm(self, pending: list[dict[str, Any]]) -> None:
        """002 §6(3): after a vendor's maintenance, the superuser password is changed."""
        await self.alarms.raise_(VENDOR_PASSWORD_UNCHANGED, Msg(A_(
            "a vendor ({vendors}) attended maintenance window(s) {ids}: change the system's superuser password, then "
            "record it with `edgectl maintenance password-changed --note ...`"),
            vendors=", ".join(sorted({w["vendor"] for w in pending})), ids=", ".join(str(w["id"]) for w in pending)),
            {"windows": [w["id"] for w in pending]})

    async def password_changed(self, note: str, actor: str) -> dict[str, Any]:
        """The superuser password was changed after the vendor-attended windows that await it."""
        if not note.strip():
            raise MaintenanceError(_("say which password was changed and who holds it now (--note)"))

        def record(c: Catalog) -> dict[str, Any] | None:
            pending = maintenance_table.password_pending(c.db)
            if not pending:
                return None
            ids, now = [w["id"] for w in pending], self.clock.now_us()
            vendors = sorted({w["vendor"] for w in pending})
            maintenance_table.password_changed(c.db, ids, by=actor, at_us=now)
            audit.append(c.db, actor, "maintenance.password_changed", {"windows": ids, "vendors": vendors,
                                                                       "note": note}, at_us=now)
            return {"windows": ids, "vendors": vendors, "changed_us": now, "by": actor, "note": note}

        out = await self.writer.run(record)
        if out is None:
            raise MaintenanceError(_("no closed vendor-attended maintenance window awaits a password change"))
        await self.alarms.clear(VENDOR_PASSWORD_UNCHANGED.key())
        return out

    def _where(self) -> tuple[Path, bool]:
        """The backup folder, and whether it is on the footage's disk (checked, not assumed)."""
        folder = backup_folder(self.cfg)
        if self.cfg.maintenance.backup_dir is not None and not folder.is_dir():
            raise MaintenanceError(_("the backup folder {path} ([maintenance] backup_dir) does not exist: is its disk "
                                     "mounted? Maintenance not begun").format(path=folder))
        return folder, same_disk(folder if folder.exists() else self.data_dir, self.data_dir)

    async def begin(self, reason: str, actor: str, verify_us: int = DEFAULT_VERIFY_US,
                    attended_by: str = "", vendor: str = "", touches_storage: bool = False,
                    progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        if not reason.strip():
            raise MaintenanceError(_("maintenance needs a reason"))
        if not 0 < verify_us <= MAX_VERIFY_US:
            raise MaintenanceError(_("--verify checks at most {most} of recent footage (the window waits for it); "
                                     "maintenance not begun").format(most="24h"))
        attended_by, vendor = attended_by.strip(), vendor.strip()
        if vendor and not attended_by:
            raise MaintenanceError(_("a vendor's maintenance is attended by the system's manager (--attended-by): "
                                     "maintenance not begun"))
        if not attended_by and self.cfg.maintenance.require_attendance:
            raise MaintenanceError(_("name the manager who attends (--attended-by): {us}'s rules have the system's "
                                     "manager attend host maintenance ([maintenance] require_attendance)").format(us=us()))
        async with self._lock:
            if self.window is not None:
                raise MaintenanceError(_("maintenance window {id} is already open").format(id=self.window["id"]))
            self._opening = {"id": None}
            try:
                await self.writer.run(lambda c: None)  # a retention pass under way finishes before the window begins
                copy = None
                if touches_storage:  # 002 §15: the footage first, before anything else
                    copy = await self._copy_footage(reason, actor, progress)
                return await self._open(reason, actor, verify_us, attended_by, self.clock.now_us(), vendor, copy)
            finally:
                self._opening = None

    async def _copy_footage(self, reason: str, actor: str,
                            progress: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
        """Copy the footage at risk into [maintenance] backup_dir/footage, or refuse the window."""
        root = self.cfg.maintenance.backup_dir
        if root is None:
            raise MaintenanceError(_("a window that touches storage first copies the footage to [maintenance] "
                                     "backup_dir, on another disk: set it. Maintenance not begun"))
        self._where()  # the folder exists (its disk is mounted)
        if await asyncio.to_thread(same_disk, root, self.data_dir / VIDEO_DIR):
            raise MaintenanceError(_("[maintenance] backup_dir {path} is on the footage's own disk: a copy there is "
                                     "lost with it. Maintenance not begun").format(path=root))
        dest = root / footage_copy.COPY_DIR
        started = self.clock.now_us()  # the footage on record now: what closes later is recorded in the window
        rows = await self.writer.run(lambda c: footage_copy.at_risk(c.db))
        loop = asyncio.get_running_loop()

        def report(info: dict[str, Any]) -> None:  # on the copying thread: hop to the loop
            if progress is not None:
                loop.call_soon_threadsafe(progress, info)

        def run() -> dict[str, Any]:
            private_dir(dest)  # footage is personal data: the folder is edged's alone
            room = footage_copy.check_room(rows, dest)
            return {**footage_copy.copy_footage(self.data_dir, dest, rows, report), "needed_bytes": room["bytes"]}

        try:
            done = await asyncio.to_thread(run)
        except (footage_copy.CopyError, OSError) as exc:
            why = str(exc)
            await self.writer.run(lambda c: audit.append(c.db, actor, "maintenance.copy_failed", {
                "reason": reason, "dir": str(dest), "why": why}))
            raise MaintenanceError(_("the footage was not copied ({why}): maintenance not begun").format(
                why=why)) from None
        for path in done["changed"]:
            await self.alarms.raise_(HASH_MISMATCH, Msg(A_("footage {path} no longer matches its recorded "
                                                           "SHA-256"), path=path), {"path": path}, about=path)
        log.info("maintenance: footage copied to %s: %d files copied, %d already there, %d gone, %d changed",
                 dest, done["copied"], done["already"], len(done["missing"]), len(done["changed"]))
        return {**done, "missing": len(done["missing"]), "changed": done["changed"][:20], "at_us": started}

    async def _open(self, reason: str, actor: str, verify_us: int, attended_by: str, started: int,
                    vendor: str = "", copy: dict[str, Any] | None = None) -> dict[str, Any]:
        """The copy, the check and the record; the caller holds the lock and the protection."""
        folder, shared = await asyncio.to_thread(self._where)
        # to the microsecond: two windows begun within a second (a script's begin, end, begin) each
        # get their own copy; the names still sort by time (prune_backups)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started // 1_000_000)) + f".{started % 1_000_000:06d}Z"
        backup = await asyncio.to_thread(backup_catalog, self.data_dir / CATALOG_FILE,
                                         folder / f"catalog-{stamp}.db")
        if backup["check"] != "ok":
            raise MaintenanceError(_("the catalog copy failed its check ({why}): maintenance not begun").format(
                why=backup["check"]))
        backup["same_disk"] = shared
        if shared:
            log.warning("maintenance: the catalog copy %s is on the same disk as the footage; set [maintenance] "
                        "backup_dir to a folder on another disk", backup["path"])
        keep = self.cfg.accounts.keep_backups
        pruned = await asyncio.to_thread(prune_backups, folder, keep)
        rows = await self.writer.run(lambda c: segment_table.footage_hashes_since(c.db, started - verify_us))
        mismatches = await asyncio.to_thread(verify_hashes, self.data_dir, rows)
        for m in mismatches:
            await self.alarms.raise_(HASH_MISMATCH,
                                     Msg(A_("footage {path} no longer matches its recorded "
                                            "SHA-256"), path=m["path"]), m, camera=m["camera"], about=m["path"])

        def record(c: Catalog) -> dict[str, Any]:
            protected = segment_table.summary(c.db)
            bad = [m["path"] for m in mismatches]
            row_id = maintenance_table.begin(c.db, reason=reason, by=actor, at_us=started, backup=backup,
                                             verified=len(rows), mismatches=bad, attended_by=attended_by or None,
                                             protected=protected, vendor=vendor or None, footage_copy=copy)
            audit.append(c.db, actor, "maintenance.begin", {
                "window": row_id, "reason": reason, "attended_by": attended_by or None, "backup": backup["path"],
                **({"vendor": vendor} if vendor else {}), **({"footage_copy": copy} if copy is not None else {}),
                "backup_sha256": backup["sha256"], "backup_same_disk": shared, "verified": len(rows),
                "mismatches": bad, "protected": {"segments": protected["segments"], "bytes": protected["bytes"]}},
                at_us=started)
            if pruned:
                audit.append(c.db, "edged", "backup.pruned", {"files": pruned, "kept": keep}, at_us=started)
            return maintenance_table.window(c.db, row_id)

        self.window = await self.writer.run(record)
        return {**self.window, "backup_segments": backup["segments"], "backup_bytes": backup["bytes"],
                "mismatches": mismatches}

    async def end(self, note: str, actor: str, bound_us: int | None = None) -> dict[str, Any]:
        """Close the open window; `bound_us`: it is the bound that closes it (max_window), not a person."""
        async with self._lock:
            if self.window is None:
                raise MaintenanceError(_("no maintenance window is open"))
            window_id = self.window["id"]
            extra = {} if bound_us is None else {"ended_by_bound": True, "max_window_us": bound_us}

            def record(c: Catalog) -> dict[str, Any]:
                now = self.clock.now_us()
                maintenance_table.end(c.db, window_id, by=actor, at_us=now, note=note)
                audit.append(c.db, actor, "maintenance.end", {"window": window_id, "note": note, **extra}, at_us=now)
                return maintenance_table.window(c.db, window_id)

            row = await self.writer.run(record)
            self.window = None
            await self.alarms.clear(MAINTENANCE_ENDING.key())
            if row.get("vendor"):
                await self._vendor_alarm(await self.writer.run(lambda c: maintenance_table.password_pending(c.db)))
            if self.after_end is not None:
                self.after_end()
            return row

    async def check_bound(self) -> float:
        """Warn before the bound, end the window at it; seconds until it should be looked at again."""
        window = self.window
        if window is None:  # (end() clears the warning)
            return WATCH_S
        longest = self.cfg.maintenance.max_window_us
        due, next_us = window_due(window["began_us"], self.clock.now_us(), longest)
        hours = f"{longest / 3_600_000_000:g}h"
        if due == "end":
            log.warning("maintenance window %s ended by itself after %s ([maintenance] max_window)", window["id"], hours)
            # i18n: the window's record, like a person's note
            await self.end(f"ended by edged after {hours} ([maintenance] max_window)", BOUND_ACTOR, bound_us=longest)
            return WATCH_S
        if due == "warn":
            await self.alarms.raise_(MAINTENANCE_ENDING, Msg(A_(
                "maintenance window {id} ends by itself at {at} (after {hours}, [maintenance] max_window): end it "
                "with `edgectl maintenance end`, or begin a new one if the work goes on"), id=window["id"],
                at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(next_us / 1e6)), hours=hours),
                {"window": window["id"], "ends_us": next_us})
        return max(0.05, min(WATCH_S, (next_us - self.clock.now_us()) / 1e6))

    async def run(self, stopping: asyncio.Event) -> None:
        """The supervisor's task (under the task keeper): the bound of the open window."""
        while not stopping.is_set():
            wait = await self.check_bound()
            await wait_or_stop(stopping, wait, self.clock)
