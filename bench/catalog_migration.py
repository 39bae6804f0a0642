"""The compact-rows upgrade (migration m013, design/0054) on a year of footage: how long the
first start after the upgrade spends opening the catalog, and what it frees.

    .venv/bin/python -m bench.catalog_migration [--cameras 64] [--days 365] [--segment 60] \
        [--out bench/out/catalog] [--keep]

Builds a catalog at the schema before m013 (`migrations.apply(db, stop_before=...)`) holding
the rows bench/catalog_scale holds, in the old form the daemon wrote them (camera and state as
text, the path stored, SHA-256 as 64 hex digits, absolute times), then times `open_db` on it:
m013 and the VACUUM after it, as the daemon's first start after the upgrade does. Then checks
the upgrade lost nothing: the row count, and every column of a sample of rows read through
the `segments` view against the old table's copy kept aside (same ids). The file is deleted
afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import sqlite_utils

from bench.catalog_scale import (DAY, END_GAP_US, add_cameras, camera_ids, environment, evict, fill, log, segment_us,
                                 shape_args, size_str)
from bench.common import command_line, table
from storage.disk import layout
from storage.schema.migrations import migrations
from storage.catalog import open_db
from storage.readonly import open_readonly
from storage.schema.segments import _PATH_SQL

M013 = "m013_compact_segments"
SAMPLE = 10_000  # rows compared column by column after the upgrade

# The rows of one day in the old form (storage/schema/migrations.py m001): what catalog_scale's
# BUILD_DAY_SQL makes, with the path spelled out by the same SQL the view derives it with.
OLD_DAY_SQL = f"""
    WITH RECURSIVE slot(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM slot WHERE i < :last)
    INSERT INTO segments (camera, start_us, end_us, path, bytes, frames, codec, width, height, audio, sha256,
                          state, created_us, closed_us)
    SELECT s.camera, s.start_us, s.start_us + :seg - {END_GAP_US}, {_PATH_SQL.replace("k.camera", "s.camera")},
           CAST(:nominal * (0.8 + 0.4 * ((random() & 4294967295) / 4294967296.0)) AS INTEGER),
           :frames, 'h264', 1920, 1080, 0, lower(hex(randomblob(32))), 'complete', s.start_us,
           s.start_us + :seg - {END_GAP_US} + 300000
    FROM (SELECT b.camera AS camera, :t0 + i * :seg + b.c * :step AS start_us
          FROM slot CROSS JOIN temp.build_cams b ORDER BY i, b.c) s"""
COLUMNS = ("id", "camera", "start_us", "end_us", "path", "bytes", "frames", "codec", "width", "height", "audio",
           "sha256", "state", "created_us", "closed_us", "note")


def build_old(path: Path, cams: list[str], days: int, seg_us: int) -> float:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    db = sqlite_utils.Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before=M013)
    db.conn.execute("PRAGMA journal_mode=WAL")      # as open_db keeps it
    db.conn.execute("PRAGMA synchronous=OFF")       # building only
    db.conn.execute("PRAGMA cache_size=-524288")    # 512 MiB
    add_cameras(db, cams, keyed=False)
    fill(db.conn, OLD_DAY_SQL, len(cams), days, seg_us, path)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return time.perf_counter() - began


def sample_rows(path: Path, ids: list[int]) -> dict[int, tuple]:
    conn = open_readonly(path).conn
    try:
        marks = ",".join("?" * len(ids))
        return {r[0]: r for r in conn.execute(f"SELECT {', '.join(COLUMNS)} FROM segments WHERE id IN ({marks})", ids)}
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.catalog_migration", description=__doc__.split("\n\n")[0])
    shape_args(p, "where the old catalog is built")
    p.add_argument("--keep", action="store_true", help="keep the upgraded catalog")
    args = p.parse_args(argv)
    seg_us = segment_us(p, args)
    cams = camera_ids(args.cameras)
    folder = args.out.resolve() / f"m012-{args.cameras}x{args.days}dx{args.segment}s"
    path = folder / layout.CATALOG_FILE
    log(f"command: {command_line('bench.catalog_migration')}")
    folder.mkdir(parents=True, exist_ok=True)
    log(f"environment: {environment(folder)}")
    n_rows = args.cameras * args.days * (DAY // seg_us)
    log(f"catalog: {args.cameras} cameras x {args.days} days of {args.segment} s segments = {n_rows:,} rows, "
        "at the schema before m013")
    try:
        built = build_old(path, cams, args.days, seg_us)
        before = path.stat().st_size
        log(f"built in {built / 60:.1f} min: {size_str(before)}, {before / (n_rows / 1e6) / 2**20:.0f} MiB per million")
        ids = sorted(random.Random(1).sample(range(1, n_rows + 1), min(SAMPLE, n_rows)))
        old = sample_rows(path, ids)
        evict(path)  # the first start after an upgrade is usually the first after a reboot
        log("upgrading: open_db (m013 + VACUUM), the file evicted from the page cache first ...")
        t = time.perf_counter()
        db = open_db(path)
        took = time.perf_counter() - t
        count = next(db.query("SELECT count(*) AS n FROM segments"))["n"]
        applied = [m.name for m in migrations.applied(db)]
        db.conn.close()
        after = path.stat().st_size
        new = sample_rows(path, ids)
        differ = [i for i in ids if old.get(i) != new.get(i)]
        log("")
        log(table(["figure", "measured"], [
            ["rows", f"{n_rows:,}"],
            ["open_db on the old catalog (m013 + VACUUM), page cache cold", f"{took:.1f} s ({took / 60:.1f} min)"],
            ["rows per second", f"{n_rows / took:,.0f}"],
            ["catalog before", f"{size_str(before)} ({before / (n_rows / 1e6) / 2**20:.0f} MiB per million)"],
            ["catalog after", f"{size_str(after)} ({after / (n_rows / 1e6) / 2**20:.0f} MiB per million)"],
            ["last migration applied", applied[-1]],
            ["rows after", f"{count:,}"],
            [f"sampled rows equal in every column ({len(ids):,})", f"{len(ids) - len(differ):,}"],
        ]))
        ok = count == n_rows and not differ and applied[-1] == M013
        if differ:
            log(f"first differing row: before {old.get(differ[0])}, after {new.get(differ[0])}")
        log("result: " + ("the upgrade kept every row" if ok else "FAILED: rows lost or changed"))
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
