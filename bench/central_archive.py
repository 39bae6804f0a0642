"""edged-central's store over years (issue 43 item 4): storage per node-month in the live store
before and after `edged-central archive`, and the archive file's size per node-month.

    .venv/bin/python -m bench.central_archive [--days 30] [--cameras 16] [--postgres]   (from the repository root)

One node of `--cameras` cameras for `--days` days of January 2026 at the daemon's cadence
(bench/central_ingest.py's fleet model: a destruction per camera per minute, a signed chain
head each minute, a request's audit burst every 10 minutes; its durable messages only: the
retained camera and node states are one row per topic whatever the time, not per month) is
stored in an embedded SQLite store (central/store/store.py; `--postgres`: a PostgreSQL 15 started here,
fsync on, central/store/pgstore.py) and verified (central/verifier/verifier.py), so
the derived tables a report reads are filled as in service. Then the month is archived
(central/archive/archiving.py). The live SQLite store is measured after VACUUM (its pages in use), a
PostgreSQL one as the sum of its tables' pg_total_relation_size (indexes and TOAST included),
before and after the archive. Figures scale to a month by 30 / --days when --days is
less. One process, one core.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.central_ingest import Node
from central.archive import archiving
from central.store.store import Store
from central.verifier.verifier import Verifier
from storage.keys.nodekey import NodeKey

T0 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000
AFTER = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000
BATCH = 5000


def live_bytes(path: Path) -> tuple[int, dict[str, int]]:
    """The store's size after VACUUM (pages in use), and the rows of its tables."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        pages = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()
    return pages, {t: n for t, n in rows.items() if n}


def pg_bytes(url: str) -> tuple[int, dict[str, int]]:
    """The PostgreSQL store's tables with their indexes and TOAST, and their rows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute("VACUUM ANALYZE")
        size = c.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
                         " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'").fetchone()[0]
        tables = [r[0] for r in c.execute("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid ="
                                          " c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
                                          " AND NOT c.relispartition")]
        rows = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        for p in [r[0] for r in c.execute("SELECT relname FROM pg_class WHERE relkind = 'p'")]:
            rows[p] = c.execute(f"SELECT count(*) FROM {p}").fetchone()[0]
    return int(size), {t: n for t, n in rows.items() if n}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--postgres", action="store_true", help="on a PostgreSQL 15 started here (fsync on)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="central-archive-"))
    server = None
    try:
        if args.postgres:
            from tests.support.postgres import Postgres

            server = Postgres(fsync=True).start()
            args.url = server.database()
        return run(args, work)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def open_store(args: argparse.Namespace, work: Path) -> Store:
    if args.postgres:
        from central.store.pgstore import PgStore

        return PgStore(args.url, clock=lambda: AFTER)
    return Store(work / "central.db", clock=lambda: AFTER)


def measure(args: argparse.Namespace, work: Path) -> tuple[int, dict[str, int]]:
    return pg_bytes(args.url) if args.postgres else live_bytes(work / "central.db")


def run(args: argparse.Namespace, work: Path) -> int:
    key = NodeKey(Ed25519PrivateKey.generate())
    node = Node(0, args.cameras, T0, key)
    store = open_store(args, work)
    started = time.monotonic()
    store.ingest([(t.decode(), b) for t, b, _q, _r in node.birth(T0)], T0)
    batch: list[tuple[str, bytes]] = []
    durable = payload_bytes = 0
    for t in range(args.days * 86_400):
        for topic, payload, qos, _retain in node.second(t, 0):
            if qos:
                batch.append((topic.decode(), payload))
                payload_bytes += len(payload)
        if len(batch) >= BATCH:
            durable += store.ingest(batch, T0 + t * 1_000_000)
            batch = []
    durable += store.ingest(batch, T0 + args.days * 86_400_000_000)
    ingest_s = time.monotonic() - started
    started = time.monotonic()
    v = Verifier(store, ZoneInfo("Asia/Taipei"), gap_grace_us=0)
    while store.unverified():
        v.run_once(AFTER)
    verify_s = time.monotonic() - started
    store.close()
    before, rows_before = measure(args, work)
    store = open_store(args, work)
    started = time.monotonic()
    r = archiving.archive_month(store, "2026-01", work / "archive", NodeKey(Ed25519PrivateKey.generate()),
                                lambda _t: None)
    archive_s = time.monotonic() - started
    store.close()
    after, rows_after = measure(args, work)
    scale = 30 / args.days
    mb = lambda n: f"{n * scale / 1e6:,.1f} MB"  # noqa: E731
    kind = "PostgreSQL 15, fsync on" if args.postgres else "SQLite"
    print(f"# edged-central: storage per node-month, before and after `archive` ({kind} store)\n")
    print(f"One node, {args.cameras} cameras, {args.days} days of January 2026 ({durable:,} durable messages, "
          f"{payload_bytes / durable:.0f} bytes of JSON each on average); figures per node-month "
          f"(x{scale:g} of what was measured).\n")
    print("| figure | per node-month |\n|---|---|")
    print(f"| durable messages | {durable * scale:,.0f} |")
    print(f"| their JSON as received | {mb(payload_bytes)} |")
    print(f"| live store before archive | {mb(before)} ({before / durable:.0f} bytes a message) |")
    print(f"| live store after archive: what reports read | {mb(after)} |")
    print(f"| archive file (gzip JSON lines) | {mb(r['bytes'])} ({r['bytes'] / durable:.0f} bytes a message) |")
    print(f"| manifest | {(work / 'archive' / (r['file'].rsplit('/', 1)[-1] + '.manifest.json')).stat().st_size:,} "
          "bytes |")
    print(f"\nTimes (this run, one core): ingest {ingest_s:.1f} s, verify {verify_s:.1f} s, archive {archive_s:.1f} s "
          f"({durable / archive_s:,.0f} messages/s, written, fsynced, read back, dropped).\n")
    print("Rows kept after the archive: " + ", ".join(f"{t} {n:,}" for t, n in sorted(rows_after.items())))
    print("Rows before: " + ", ".join(f"{t} {n:,}" for t, n in sorted(rows_before.items())))
    print(f"\nCommand: .venv/bin/python -m bench.central_archive --days {args.days} --cameras {args.cameras}"
          + (" --postgres" if args.postgres else ""))
    print(f"Environment: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {platform.machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
