"""The SQLite catalog's connection, its one writer and its transactions: `open_db` (migrated,
for the writer), `open_readonly`, `Catalog` (the writer's connection and clock) and
`CatalogWriter` (the thread every write runs on).

The daemon is its only writer, through one thread (`CatalogWriter`); edgectl and other
readers open it read-only (WAL lets them read while the daemon writes). What is in the
tables, and every read and write of them, is each table's module, as plain functions over the
connection (design/0068): storage/cameras.py, segment_rows.py (the segment rows and their
states) and segments.py (reads of the `segments` view), gaps.py, alarms.py, node.py, and the
rest of storage/. A job on the writer is `lambda c: table.fn(c.db, ...)`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from storage.time.clock import SYSTEM, Clock
from storage.disk.full import is_disk_full
from storage.schema.migrations import migrations  # the schema (storage/schema/migrations.py)

if TYPE_CHECKING:
    import sqlite_utils

T = TypeVar("T")

COMPACT_ROWS = "m013_compact_segments"  # the migration after which open_db compacts the file once
IDS_NEVER_REUSED = "m019_ids_never_reused"  # the migration that copies every segment row once


def open_db(path: Path, *, synced: bool = True) -> sqlite_utils.Database:
    """Open for writing, migrated. Only the catalog writer thread calls this. `synced=False` only for a
    catalog made under another name (storage/datainit.py): its ~60 migrations' commits are not each waited
    onto the disk; the maker syncs the file once before it gives it its name (design/0471)."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    import sqlite_utils  # here, not at the top: edgectl imports this module, sqlite_utils is 0.4 s of CPU

    # no sqlite-utils plugin: no installed package's code on the catalog's connection, and no scan of every installed
    # package's entry points to find them (0.04 s of CPU at each daemon's start, design/0514)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL" if synced else "PRAGMA synchronous=OFF")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA secure_delete=ON")  # purged personal data (R5.7) is zeroed, not left in free space
    pending = {m.name for m in migrations.pending(db)}
    compacting = COMPACT_ROWS in pending and db["segments"].exists()
    log = logging.getLogger(__name__)
    if IDS_NEVER_REUSED in pending and db["segment_rows"].exists():  # a copy of every row: say why it is slow
        log.warning("catalog: rebuilding the segment rows so that no id is ever given twice (design/0096); a large "
                    "catalog takes minutes (a million rows: about 4 s)")
    if compacting:  # the first start after the upgrade is minutes long on a big site: say why
        log.warning("catalog: upgrading the segment rows to their compact form (design/0054); a large "
                    "catalog takes minutes (a year of 64 cameras: about 5)")
    began = time.monotonic()
    upgrading = bool(pending) and db["_sqlite_migrations"].exists()
    if upgrading:  # an upgrade's migrations, once, with their progress in the journal (design/0254)
        log.info("catalog: migrating: %s", ", ".join(sorted(pending)))   # m0NN_...: their order
    migrations.apply(db)
    if upgrading:
        log.info("catalog: migrated (%d step(s)) in %.1f s", len(pending), time.monotonic() - began)
    if compacting:  # once, after m013 rewrote the rows: give the old table's pages back (design/0054)
        try:
            db.execute("VACUUM")
        except sqlite3.OperationalError as exc:  # VACUUM needs room for a copy: never a reason not to start
            if not is_disk_full(exc):
                raise
            log.warning("catalog not compacted after its upgrade (%s): its free pages are reused as it grows", exc)
        log.info("catalog: segment rows upgraded in %.0f s", time.monotonic() - began)
    return db


class Catalog:
    """The writer's connection and clock (the clock stamps what a table function is handed as
    `now_us`); only the writer thread uses it."""

    def __init__(self, db: sqlite_utils.Database, clock: Clock = SYSTEM):
        self.db = db
        self.clock = clock

    def in_one_transaction(self, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
        """Several writes, each `(fn, args)` called as `fn(db, *args)` (a table module's function,
        `segment_rows.open_row`), committed together: a recorder worker's batch of segment opens
        and closes costs one commit, not one each."""
        with self.db.atomic():
            for fn, args in calls:
                fn(self.db, *args)


class CatalogWriter:
    """Runs every catalog write on one dedicated thread, so the event loop never blocks."""

    def __init__(self, path: Path, clock: Clock = SYSTEM):
        self.path = path
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog")
        self._catalog: Catalog | None = None
        self.writes = 0  # progress counter for the watchdog

    async def start(self) -> None:
        self._catalog = await self.run(lambda _c: Catalog(open_db(self.path), self.clock), raw=True)

    async def run(self, fn: Callable[..., T], *args: Any, raw: bool = False) -> T:
        loop = asyncio.get_running_loop()

        def call() -> T:
            result = fn(None if raw else self._catalog, *args)
            self.writes += 1
            return result

        # the caller's context goes along (a refusal made on the thread speaks the asker's language)
        return await loop.run_in_executor(self._pool, contextvars.copy_context().run, call)

    async def close(self) -> None:
        if self._catalog is not None:
            await self.run(lambda c: c.db.conn.close())
        self._pool.shutdown(wait=True)
