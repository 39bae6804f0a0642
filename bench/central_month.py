"""The auditor's month of a 10-node site at full cadence, and the store's size a node-year, on
PostgreSQL 15 (issue 53 items 3 and 5, design/0141):

    .venv/bin/python -m bench.central_month [--nodes 10] [--cameras 16] [--days 30] [--csv-rows 0] [--sections ROWS]
        [--history-months 0]

Builds, inside PostgreSQL (generate_series, no row through Python), site0000's month: the
derived tables `edged-central report` reads (bench/central_report_scale.fill) and every
destruction one by one, a segment a camera a minute (10 x 16 x 1,440 x 30 = 6.9 M rows, 0.1 %
of them judged early); for node0000 also its month of durable messages at the daemon's cadence
(28,224 a day, the retention ones with the destructions' seqs). Then through the real dashboard
(aiohttp, the auditor's role): the month page's time (first page, a camera and day, early ones
only, the last page of a day), and the destructions' CSV streamed whole (`--csv-rows` > 0 stops
after that many), with the process's peak RSS before and after (getrusage: a high-water mark,
so the growth is the stream's). `--sections ROWS`: each CSV section's time and the peak of what
Python held while it streamed (tracemalloc; the destructions' first ROWS rows), design/0273; and
each page's peak held, read once more under tracemalloc (design/0287). `--history-months M`: each
node's requests, approvals, uses and exports of M months before the month too (the access judge's
history, design/0287). Then node0000's month is archived (design/0140: the messages
and the rows drawn from them) and the sizes give the store a node-year. Output: stdout and
bench/out/central_month.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from bench.central_report_scale import fill
from bench.common import table
from central.archive import archiving
from central.store.pgstore import PgStore

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DAY = 86_400_000_000
MIN = 60_000_000
PER_DAY = 28_224  # durable messages a node-day (issue 53): 23,040 retention (16 x 1,440), the rest other kinds
SEQ0 = 1_700_000_000_000_000  # every node's outbox counter started long before the month (design/0140)


def destructions(url: str, nodes: int, cameras: int, start_us: int, days: int) -> None:
    """Every destruction of the site-month, one row each; a node's n-th destruction of the month
    has seq SEQ0 + n (its retention message's, in node0000's messages)."""
    per_node = cameras * 1440 * days
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP INDEX destructions_site, destructions_bad")
        c.execute("ALTER TABLE destructions DROP CONSTRAINT destructions_pkey")
        c.execute(
            "INSERT INTO destructions (node, seq, n, site, camera, destroyed_us, reason, verdict, segment_id, sha256,"
            " bytes, start_us, end_us)"
            f" SELECT 'site0000/node' || lpad(nd::text, 4, '0'), {SEQ0} + i, 0, 'site0000',"
            f" 'cam' || lpad((i % {cameras})::text, 2, '0'), {start_us}::bigint + (i / {cameras}) * {MIN} + i % {cameras},"
            " 'max_retention', CASE WHEN i % 997 = 0 THEN 'early' ELSE 'ok' END, i + 1,"
            " md5(nd::text || ':' || i::text) || md5(i::text), 31250000,"
            f" {start_us}::bigint + (i / {cameras}) * {MIN} - 365 * {DAY}::bigint,"
            f" {start_us}::bigint + (i / {cameras}) * {MIN} - 365 * {DAY}::bigint + {MIN}"
            f" FROM generate_series(0, {nodes - 1}) nd, generate_series(0::bigint, {per_node - 1}) i")
        c.execute("ALTER TABLE destructions ADD PRIMARY KEY (node, seq, n)")
        c.execute("CREATE INDEX destructions_site ON destructions(site, destroyed_us)")
        c.execute("CREATE INDEX destructions_bad ON destructions(site, destroyed_us) WHERE verdict <> 'ok'")
        c.execute("ANALYZE destructions")


def messages(url: str, cameras: int, start_us: int, days: int) -> int:
    """node0000's month of durable messages, as received and verified (payloads of the daemon's size)."""
    month = datetime.fromtimestamp(start_us / 1e6, timezone.utc)
    ym = month.year * 100 + month.month
    retention = cameras * 1440 * days
    other = (PER_DAY - cameras * 1440) * days
    body = ("json_build_object('seq', {seq}, 'ts_us', {at}, 'camera', 'cam' || lpad(({i} % {c})::text, 2, '0'),"
            " 'reason', 'max_retention', 'start_us', {at} - 365 * {day}::bigint, 'end_us', {at} - 365 * {day}::bigint"
            " + {m}, 'destroyed_us', {at}, 'bytes', 31250000, 'segment_id', {i} + 1, 'sha256', md5({i}::text) ||"
            " md5(({i} + 1)::text), 'free_before', 1000000000, 'reserve', 500000000)::text")
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"CREATE TABLE IF NOT EXISTS messages_{ym // 100:04d}_{ym % 100:02d} PARTITION OF messages"
                  f" FOR VALUES FROM ({ym}) TO ({ym + 1})")
        at = f"({start_us}::bigint + (i / {cameras}) * {MIN} + i % {cameras})"
        c.execute("INSERT INTO messages (node, seq, kind, ts_us, received_us, payload, verified, month)"
                  f" SELECT 'site0000/node0000', {SEQ0} + i, 'retention', {at}, {at} + 2000000,"
                  f" {body.format(seq=f'{SEQ0} + i', at=at, i='i', c=cameras, day=DAY, m=MIN)}, 1, {ym}"
                  f" FROM generate_series(0::bigint, {retention - 1}) i")
        at = f"({start_us}::bigint + i * ({days} * {DAY}::bigint / {other}))"
        c.execute("INSERT INTO messages (node, seq, kind, ts_us, received_us, payload, verified, month)"
                  f" SELECT 'site0000/node0000', {SEQ0 + retention} + i, 'footage', {at}, {at} + 2000000,"
                  " json_build_object('seq', " f"{SEQ0 + retention} + i, 'ts_us', {at}, 'first_id', i + 1, 'last_id',"
                  " i + 16, 'from_us', " f"{at} - {MIN}, 'to_us', {at}, 'segments', 16, 'cameras', 16)::text, 1, {ym}"
                  f" FROM generate_series(0::bigint, {other - 1}) i")
        c.execute("ANALYZE messages")
    return retention + other


def history(url: str, months: int, start_us: int) -> int:
    """``months`` earlier months of every node's request lives (the month's own, moved back a month
    at a time, their records, requests, grants and exports numbered apart): audit rows added."""
    with psycopg.connect(url, autocommit=True) as c:
        cur = c.execute(
            "INSERT INTO audit (node, seq_local, at_us, actor, action, detail, prev_hash, hash, msg_seq)"
            " SELECT node, seq_local - m * 1000000, at_us - m * 30 * %(day)s::bigint, actor, action,"
            " (SELECT jsonb_object_agg(key, CASE WHEN key IN ('request', 'grant', 'export')"
            "  THEN to_jsonb((value #>> '{}')::bigint + m * 1000000) ELSE value END) FROM jsonb_each(detail::jsonb))::text,"
            " prev_hash, hash || m, msg_seq - m * 30 * %(day)s::bigint"
            " FROM audit, generate_series(1, %(months)s) m WHERE at_us >= %(start)s",
            {"day": DAY, "months": months, "start": start_us})
        c.execute("ANALYZE audit")
        return cur.rowcount


def sizes(url: str) -> dict[str, int]:
    """Bytes of each table with its indexes and TOAST (partitions summed into their parent)."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("VACUUM ANALYZE")
        rows = c.execute(
            "SELECT coalesce(p.relname, r.relname), sum(pg_total_relation_size(r.oid)) FROM pg_class r"
            " LEFT JOIN pg_inherits i ON i.inhrelid = r.oid LEFT JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE r.relkind = 'r' AND r.relnamespace = 'public'::regnamespace GROUP BY 1").fetchall()
    return {name: int(n) for name, n in rows}


def _rss_mib() -> float:
    """The process's resident set now (not its high-water mark), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def sections(http: aiohttp.ClientSession, base: str, limit: int) -> list[list[str]]:
    """Each CSV section of the month (design/0273): its time, rows, bytes and the peak of what
    Python held while the dashboard streamed it and this client read it (tracemalloc, reset a
    section; the destructions stopped after ``limit`` rows), and the process's RSS after it."""
    from central.report import month as mo

    out = []
    tracemalloc.start()
    try:
        for name in mo.SECTIONS:
            gc.collect()
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            t, n, size = time.perf_counter(), 0, 0
            async with http.get(f"{base}/{name}.csv") as r:
                assert r.status == 200, (name, r.status)
                async for chunk in r.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    n += chunk.count(b"\n")
                    if name == "destructions" and n > limit:
                        break
            took = time.perf_counter() - t
            peak = tracemalloc.get_traced_memory()[1] - held
            out.append([name + (f" (first {limit:,})" if name == "destructions" else ""), f"{n - 1:,}",
                        f"{size / 2**20:.2f}", f"{took:.2f}", f"{peak / 2**20:.1f}", f"{_rss_mib():.0f}"])
    finally:
        tracemalloc.stop()
    return out


async def through_dashboard(cfg_path: Path, month: str, day: str, csv_rows: int,
                            section_rows: int = 0) -> dict[str, Any]:
    from central import config
    from central.pages.dashboard import Dashboard

    dash = Dashboard(config.load(cfg_path))
    port = _free_port()
    await dash.start("127.0.0.1", port)
    out: dict[str, Any] = {}
    base = f"http://127.0.0.1:{port}/site/site0000/month/{month}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3600)) as http:
            for name, query in (("warm-up", ""), ("first page", ""), ("camera and day", f"?camera=cam03&day={day}"),
                                ("early ones only", "?verdict=early"), ("last page of a day", f"?day={day}&page=1152")):
                t, c = time.perf_counter(), time.process_time()
                async with http.get(base + query) as r:
                    first = await r.content.readany()
                    out[name + " first"] = time.perf_counter() - t  # the page starts to show
                    text = (first + await r.content.read()).decode()
                    assert r.status == 200 and "<table" in text, (r.status, text[:300])
                out[name] = time.perf_counter() - t
                out[name + " cpu"] = time.process_time() - c  # the dashboard's (and the client's) CPU
            out["load"] = os.getloadavg()[0]
            for name, query in (("first page", ""), ("camera and day", f"?camera=cam03&day={day}")):
                gc.collect()
                tracemalloc.start()
                try:
                    async with http.get(base + query) as r:
                        size = len(await r.read())
                    out[name + " peak"] = tracemalloc.get_traced_memory()[1] / 2**20
                    out[name + " bytes"] = size
                finally:
                    tracemalloc.stop()
            if section_rows:
                out["sections"] = await sections(http, base, section_rows)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t, n, size = time.perf_counter(), 0, 0
            async with http.get(base + "/destructions.csv") as r:
                assert r.status == 200
                async for chunk in r.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    n += chunk.count(b"\n")
                    if csv_rows and n > csv_rows:
                        break
            out["csv s"] = time.perf_counter() - t
            out["csv rows"] = n - 1
            out["csv bytes"] = size
            out["rss before MiB"] = before / 1024
            out["rss after MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        await dash.close()
    return out


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    from tests.support.postgres import Postgres
    from storage.keys.nodekey import NodeKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = argparse.ArgumentParser(prog="bench.central_month")
    p.add_argument("--nodes", type=int, default=10)
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--csv-rows", type=int, default=0, help="stop the CSV after this many rows (0: all of it)")
    p.add_argument("--sections", type=int, default=0, metavar="ROWS",
                   help="also each CSV section's time and peak memory held (the destructions' first ROWS rows)")
    p.add_argument("--no-archive", action="store_true", help="skip archiving node0000's month (and the node-year)")
    p.add_argument("--history-months", type=int, default=0, metavar="M",
                   help="every node's request lives of M months before the month too (the access judge's history)")
    args = p.parse_args(argv)
    lines: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)
        lines.append(msg)

    OUT.mkdir(parents=True, exist_ok=True)
    pg = Postgres(fsync=True).start()
    work = Path(tempfile.mkdtemp(prefix="central-month-", dir=OUT))
    now = datetime.now(timezone.utc)
    n = now.year * 12 + now.month - 1 - 2  # two months back: closed (design/0120), whole
    first = datetime(n // 12, n % 12 + 1, 1, tzinfo=timezone.utc)
    month, start_us = first.strftime("%Y-%m"), int(first.timestamp()) * 1_000_000
    day = (first.replace(day=15)).strftime("%Y-%m-%d")
    try:
        url = pg.database()
        PgStore(url).close()  # the schema
        cfg = work / "central.toml"
        cfg.write_text(f'[storage]\ndata_dir = "{work}"\nurl = "{url}"\n[report]\ntimezone = "UTC"\n'
                       '[dashboard]\nlisten = ""\n')
        log(f"# central_month: site0000's {month} ({args.days} days) on PostgreSQL 15 (fsync on)")
        log(f"command (from the repository root): .venv/bin/python -m bench.central_month {' '.join(argv or sys.argv[1:])}")
        log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
        t = time.perf_counter()
        fill(url, 0, args.nodes, args.cameras, 4, start_us, args.days)
        destructions(url, args.nodes, args.cameras, start_us, args.days)
        older = history(url, args.history_months, start_us) if args.history_months else 0
        built = time.perf_counter() - t
        t = time.perf_counter()
        msgs = 0 if args.no_archive else messages(url, args.cameras, start_us, args.days)  # only the archive reads them
        log(f"built: {args.nodes * args.cameras * 1440 * args.days:,} destructions and the derived tables in"
            f" {built:.0f} s; node0000's {msgs:,} messages in {time.perf_counter() - t:.0f} s;"
            f" {older:,} audit records of the {args.history_months} months before")
        before = {} if args.no_archive else sizes(url)
        got = asyncio.run(through_dashboard(cfg, month, day, args.csv_rows, args.sections))
        log(table(["month page (HTTP GET, whole page)", "first byte s", "wall s", "CPU s of the process"],
                  [[k, f"{got[k + ' first']:.3f}", f"{got[k]:.3f}", f"{got[k + ' cpu']:.3f}"] for k in
                   ("warm-up", "first page", "camera and day", "early ones only", "last page of a day")]))
        log(f"load while the pages were read: {got['load']:.1f} on {os.cpu_count()} cores")
        log("; ".join(f"{k}, read again under tracemalloc: {got[k + ' bytes'] / 2**20:.1f} MiB of HTML,"
                      f" peak {got[k + ' peak']:.1f} MiB held" for k in ("first page", "camera and day")))
        if args.sections:
            log(table(["CSV section (HTTP GET, streamed)", "rows", "MiB", "wall s", "peak MiB held (tracemalloc)",
                       "RSS after MiB"], got["sections"]))
        log(f"destructions.csv{' (stopped)' if args.csv_rows else ''}: {int(got['csv rows']):,} rows, {got['csv bytes'] / 2**20:.0f} MiB in {got['csv s']:.0f} s"
            f" ({got['csv rows'] / got['csv s']:,.0f} rows/s); peak RSS of the process {got['rss before MiB']:.0f} MiB"
            f" before, {got['rss after MiB']:.0f} MiB after (+{got['rss after MiB'] - got['rss before MiB']:.0f} MiB)")
        if args.no_archive:
            return 0
        store = PgStore(url, clock=lambda: int(now.timestamp()) * 1_000_000)
        try:
            t = time.perf_counter()
            r = archiving.archive_month(store, month, work / "archive", NodeKey(Ed25519PrivateKey.generate()),
                                        lambda _t: None)
            took = time.perf_counter() - t
        finally:
            store.close()
        after = sizes(url)
        derived_gz = (work / "archive" / f"derived-{month}.jsonl.gz").stat().st_size
        log(f"archive {month}: {r['rows']:,} messages ({r['bytes'] / r['rows']:.0f} bytes each gzipped) and"
            f" {sum(r['derived'].values()):,} derived rows {r['derived']} ({derived_gz / 2**20:.1f} MiB) in {took:.0f} s")
        report_node_year(log, before, after, msgs, args, r["bytes"] + derived_gz)
    finally:
        pg.stop()
        (OUT / "central_month.txt").write_text("\n".join(lines) + "\n")
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


def report_node_year(say: Callable[[str], None], before: dict[str, int], after: dict[str, int], msgs: int,
                     args: argparse.Namespace, archive_bytes: int) -> None:
    """The store a node-year from the measured node-month: what archiving removed is node0000's."""
    per_node_dest = before.get("destructions", 0) / args.nodes
    msg_month = before.get("messages", 0) - after.get("messages", 0)
    kept = {t: before[t] / args.nodes for t in ("destruction_days", "audit", "alarms", "findings", "inspections")
            if t in before}
    rows = [[t, f"{b / 2**20:,.1f}"] for t, b in
            [("messages (node0000)", msg_month), ("destructions (a node's)", per_node_dest)]
            + [(f"{t} (a node's)", b) for t, b in kept.items()]]
    say(table(["a node-month on PostgreSQL", "MiB"], rows))
    month = msg_month + per_node_dest
    summary = sum(kept.values())
    scale = 30 / args.days
    say(f"bytes a message (its row, key, the partial index, TOAST): {msg_month / msgs:.0f};"
        f" a destruction row with its indexes: {per_node_dest / (args.cameras * 1440 * args.days):.0f}")
    say(f"a node-year, never archived: {12 * scale * (month + summary) / 2**30:.1f} GiB live;"
        f" archived monthly (design/0140: at most 1.5 months of messages and destructions live, the summaries"
        f" kept): {(1.5 * scale * month + 12 * scale * summary) / 2**30:.2f} GiB live,"
        f" + {12 * scale * archive_bytes / 2**30:.2f} GiB of archive files a year")


if __name__ == "__main__":
    raise SystemExit(main())
