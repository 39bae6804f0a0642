"""`edged-central report` for one site-month at fleet scale, on PostgreSQL (issue 28):

    .venv/bin/python -m bench.central_report_scale [--nodes 400,4000] [--cameras 16] [--requests-per-day 4]
        [--site-nodes 10] [--ways streamed,whole]

The derived tables the report reads (nodes, births, audit records with their grants,
destruction_days, alarms, inspections, findings) are filled inside PostgreSQL with
generate_series for a whole month of the fleet (sites of 10 nodes): per node and day each
camera's destruction counts, `--requests-per-day` requests filed, approved, used and
exported (6 audit records each), a daily inspection, an alarm a camera a week, a finding a
node a day. The fleet grows in one database to each size of `--nodes` in turn; after each,
the CLI writes site0000's report for the month, timed, its peak RSS from getrusage (RSS flat =
the same at every fleet size). `--site-nodes` makes a site that large (4000 with `--nodes 4000`:
one site of the whole fleet, the largest month a report can be); `--ways whole` also times the
report built whole in memory first (report.build, then its files: what the CLI did before
design/0281) beside the CLI's, which writes the files as the store is read.
Output: stdout and bench/out/central_report_scale.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from bench.common import table
from central.store.pgstore import PgStore

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DAY = 86_400_000_000
RUN = ("import resource, sys\nfrom central.cli import main\nrc = main(sys.argv[1:])\n"
       "u = resource.getrusage(resource.RUSAGE_SELF)\n"
       "print('maxrss', u.ru_maxrss, 'cpu', u.ru_utime + u.ru_stime, file=sys.stderr)\nsys.exit(rc)")
# the report built whole, then written (the CLI before design/0281), with the CLI's arguments
WHOLE = ("import json, resource, sys\nfrom pathlib import Path\nfrom central import config\nfrom central.report import report, report_files\n"
         "from central.cli import _store\nfrom central.store.store import now_us\n"
         "v = [x for x in sys.argv[1:] if x not in ('report', '--json')]\na = dict(zip(v[::2], v[1::2]))\ncfg = config.load(Path(a['--config']))\ns = _store(cfg)\n"
         "r = report.build(s, a['--site'], a['--month'], cfg.tz, now_us())\ns.close()\n"
         "report_files.write(r, Path(a['--out']), cfg.tz, cfg.language)\n"
         "print(json.dumps({'summary': r['summary']}))\n"
         "u = resource.getrusage(resource.RUSAGE_SELF)\n"
         "print('maxrss', u.ru_maxrss, 'cpu', u.ru_utime + u.ru_stime, file=sys.stderr)")


def fill(url: str, lo: int, hi: int, cameras: int, per_day: int, start_us: int, days: int, site_nodes: int = 10) -> None:
    """Nodes lo..hi-1 of the fleet, a month of their derived rows (SQL only: fast); a site is
    ``site_nodes`` nodes."""
    node = f"'site' || lpad((n / {site_nodes})::text, 4, '0') || '/node' || lpad(n::text, 4, '0')"
    site = f"'site' || lpad((n / {site_nodes})::text, 4, '0')"
    birth = json.dumps({"version": "0.2.0", "retention": {"min_days": 30.0, "max_days": 365.0},
                        "inspection": {"period_us": DAY, "sign_within_us": DAY},
                        "cameras": [{"id": f"cam{c:02d}", "name": f"cam{c:02d}", "enabled": True}
                                    for c in range(cameras)]})
    nodes = f"generate_series({lo}, {hi - 1}) n"
    req = "(d * %d + r)" % per_day
    at = f"({start_us}::bigint + d * {DAY}::bigint + r * 3600000000::bigint)"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"INSERT INTO nodes (node, site, name, first_us, last_us, status, verified_seq, max_seq)"
                  f" SELECT {node}, {site}, 'node' || lpad(n::text, 4, '0'), {start_us - 30 * DAY}, {start_us + days * DAY},"
                  f" 'online', 1, 1 FROM {nodes}")
        c.execute(f"INSERT INTO births (node, ts_us, session, public_key, config_hash, received_us, payload, checked)"
                  f" SELECT {node}, {start_us - 30 * DAY}, 1, 'k', 'h', {start_us - 30 * DAY},"
                  f" '{birth}', 1 FROM {nodes}")
        c.execute(f"INSERT INTO destruction_days (node, camera, day, reason, verdict, segments, bytes, youngest_days)"
                  f" SELECT {node}, 'cam' || lpad(k::text, 2, '0'), to_char(to_timestamp({start_us} / 1e6)"
                  f" AT TIME ZONE 'UTC' + d * interval '1 day', 'YYYY-MM-DD'), 'max_retention', 'ok', 1440,"
                  f" 1440 * 30000000::bigint, 365.0 FROM {nodes}, generate_series(0, {cameras - 1}) k,"
                  f" generate_series(0, {days - 1}) d")
        # a request's life: file, approve, use, export (+ two logins), a real grant chain the judge reads
        life = [("login", "'{\"via\": \"cli\"}'"),
                ("request.file", f"json_build_object('request', {req}, 'cameras', json_build_array('cam00'))::text"),
                ("login", "'{\"via\": \"cli\"}'"),
                ("request.approve", f"json_build_object('request', {req}, 'grant', {req}, 'cameras',"
                                    f" json_build_array('cam00'), 'from_us', {at} - 7200000000, 'to_us', {at},"
                                    f" 'expires_us', {at} + {DAY}, 'mode', 'copy')::text"),
                ("grant.use", f"json_build_object('grant', {req}, 'request', {req}, 'cameras',"
                              f" json_build_array('cam00'), 'from_us', {at} - 7200000000, 'to_us', {at},"
                              " 'mode', 'copy')::text"),
                ("export.done", f"json_build_object('grant', {req}, 'export', {req}, 'bytes', 100000000)::text")]
        for k, (action, detail) in enumerate(life):
            actor = "'alice (os: root)'" if action == "request.approve" else "'carol (os: root)'"
            c.execute(f"INSERT INTO audit (node, seq_local, at_us, actor, action, detail, prev_hash, hash, msg_seq)"
                      f" SELECT {node}, {req} * 6 + {k + 1}, {at} + {k}, {actor}, '{action}', {detail},"
                      f" md5(n::text || {req} || {k}), md5(n::text || {req} || {k + 1}), {at} + {k} FROM {nodes},"
                      f" generate_series(0, {days - 1}) d, generate_series(0, {per_day - 1}) r")
        c.execute(f"INSERT INTO inspections (node, run, kind, due_us, ran_us, signed_us, inspector, supervisor, cameras)"
                  f" SELECT {node}, d, 'daily', {start_us} + d * {DAY}, {start_us} + d * {DAY} + 3600000000,"
                  f" {start_us} + d * {DAY} + 7200000000, 'ivan', 'sam', '{{\"cam00\": \"ok\"}}' FROM {nodes},"
                  f" generate_series(0, {days - 1}) d")
        c.execute(f"INSERT INTO alarms (node, id, raised_us, kind, severity, camera, message, cleared_us)"
                  f" SELECT {node}, 'camera_offline:cam' || lpad(k::text, 2, '0'), {start_us} + w * 7 * {DAY} + k,"
                  f" 'camera_offline', 'critical', 'cam' || lpad(k::text, 2, '0'), 'camera unreachable',"
                  f" {start_us} + w * 7 * {DAY} + k + 600000000 FROM {nodes}, generate_series(0, {cameras - 1}) k,"
                  f" generate_series(0, {days // 7}) w")
        c.execute(f"INSERT INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
                  f" SELECT {node} || ':head_unsigned:' || d, {node}, {site}, 'head_unsigned', 'warning',"
                  f" {start_us} + d * {DAY}, {start_us} + d * {DAY}, 'chain head came unsigned', '{{}}'"
                  f" FROM {nodes}, generate_series(0, {days - 1}) d")
        c.execute("ANALYZE")


HEAD = ["nodes", "report", "audit / destruction_days / alarms rows", "fill (s)", "report (s)", "its CPU (s)",
        "peak RSS (MiB)", "site0000's month"]


def main(argv: list[str] | None = None) -> int:
    from tests.support.postgres import Postgres

    p = argparse.ArgumentParser(prog="bench.central_report_scale")
    p.add_argument("--nodes", default="400,4000", help="fleet sizes, grown in turn in one database")
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--requests-per-day", type=int, default=4)
    p.add_argument("--site-nodes", type=int, default=10, help="nodes a site (the report is site0000's)")
    p.add_argument("--runs", type=int, default=2, help="runs of each way, the last one's figures shown")
    p.add_argument("--ways", default="streamed", help="streamed (the CLI), whole (built in memory, then written)")
    args = p.parse_args(argv)
    lines: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)
        lines.append(msg)

    OUT.mkdir(parents=True, exist_ok=True)
    pg = Postgres(fsync=True).start()
    work = Path(tempfile.mkdtemp(prefix="central-report-", dir=OUT))
    now = datetime.now(timezone.utc)
    month_start = datetime(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1, tzinfo=timezone.utc)
    month = month_start.strftime("%Y-%m")  # last month: complete
    days = ((now.replace(day=1) - month_start).days)
    start_us = int(month_start.timestamp()) * 1_000_000
    rows = []
    try:
        url = pg.database()
        PgStore(url).close()  # the schema
        cfg = work / "central.toml"
        cfg.write_text(f'[storage]\ndata_dir = "{work}"\nurl = "{url}"\n[report]\ntimezone = "UTC"\n')
        log(f"# central_report_scale: site0000's report for {month} ({days} days) on PostgreSQL 15")
        log(f"command (from the repository root): .venv/bin/python -m bench.central_report_scale {' '.join(argv or sys.argv[1:])}")
        log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
            f"{args.cameras} cameras a node, {args.requests_per_day} requests a node a day (6 audit records each)")
        have = 0
        for size in (int(x) for x in args.nodes.split(",")):
            t = time.perf_counter()
            fill(url, have, size, args.cameras, args.requests_per_day, start_us, days, args.site_nodes)
            filled = time.perf_counter() - t
            have = size
            with psycopg.connect(url) as c:
                counts = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                          for t in ("audit", "destruction_days", "alarms", "findings", "inspections")}
            for way in args.ways.split(","):
                code = RUN if way == "streamed" else WHOLE
                for _attempt in range(args.runs):  # a first run also warms PostgreSQL's cache
                    t = time.perf_counter()
                    r = subprocess.run([sys.executable, "-c", code, "--config", str(cfg), "report", "--site",
                                        "site0000", "--month", month, "--out", str(work / "report"), "--json"],
                                       cwd=ROOT, capture_output=True, text=True)
                    took = time.perf_counter() - t
                    if r.returncode:
                        raise RuntimeError(r.stderr)
                rss = int(r.stderr.split("maxrss")[1].split()[0]) / 1024
                cpu = float(r.stderr.split(" cpu ")[1].split()[0])
                summary = json.loads(r.stdout)["summary"]
                rows.append([f"{size:,}", way, f"{counts['audit']:,} / {counts['destruction_days']:,} / "
                             f"{counts['alarms']:,}", f"{filled:.0f}", f"{took:.2f}", f"{cpu:.2f}", f"{rss:.0f}",
                             f"{summary['camera_days']:,} camera-days, {summary['accesses']:,} accesses, "
                             f"{summary['alarms']:,} alarms, {summary['findings']:,} findings"])
                log(table(HEAD, rows[-1:]))
        log("\n## summary")
        log(table(HEAD, rows))
        log(f"target: < 2 s at 4,000 nodes, RSS flat. Load at the end {os.getloadavg()[0]:.2f} (wall time on a box"
            " at a load above its 2 cores is mostly waiting for a core: the CLI's own CPU time beside it)")
    finally:
        pg.stop()
        (OUT / "central_report_scale.txt").write_text("\n".join(lines) + "\n")
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
