"""bench/central_ingest on PostgreSQL (central/store/pgstore.py): the simulated fleet through a real
mosquitto into edged-central instances storing into a PostgreSQL 15 started here (fsync on,
synchronous_commit on), ingest paths and instance counts compared in the same run:

    .venv/bin/python -m bench.central_ingest --postgres --pg-ingest copy,rows --pg-instances 1,3 \\
        [--nodes 1000] [--sim-seconds 120] [--profile] [--live]

Each combination gets a fresh database. Figures per run: msg/s (all messages received /
first publish to last durable message stored), CPU seconds of edged-central, mosquitto,
PostgreSQL (postmaster, its backends, and those it reaped) and the whole box, the statements
PostgreSQL spent its time on (pg_stat_statements), and with --profile where the first
instance's store and network threads spend theirs (cProfile). Output: stdout and
bench/out/central_ingest_postgres.txt.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from bench import central_ingest as ci
from bench.common import cpu_ticks, table


THREADS = ("central-mqtt", "central-store", "central-verify")  # an instance's busy threads (central/ingest.py)


def _split_cells(r: dict) -> list[str]:
    """A run's split by thread: each busy thread's CPU s a thousand messages (in ingest / to the last
    verified), the other threads' together, and the busy threads' wakes a thousand messages in ingest."""
    k = max(r["received"], 1) / 1000
    threads = r["threads"]

    def cpu(pick) -> str:
        return " / ".join(f"{pick(threads[w]) / k:.4f}" for w in ("ingest", "all"))
    return [*(cpu(lambda s, t=t: s.get(t, 0.0)) for t in THREADS),
            cpu(lambda s: sum(v for t, v in s.items() if t not in THREADS)),
            " / ".join(f"{threads['wakes'].get(t, 0.0) / k:.0f}" for t in THREADS)]


def _pg_ticks(pg) -> int:
    """CPU ticks of the server: the postmaster (with what it reaped) and its live children."""
    try:
        pid = int((pg.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    ticks = cpu_ticks(pid, with_reaped_children=True) or 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                ticks += cpu_ticks(int(d.name)) or 0
    return ticks


class Sampler:
    """Through the run, every SAMPLE_S: how many of the instances' sessions wait on a lock
    (pg_stat_activity's wait_event_type 'Lock': row, transaction or advisory locks), summed into
    session-seconds of waiting, and the leases each instance holds (its advisory locks, the
    split as last seen before the instances stop; issue 43)."""

    SAMPLE_S = 0.05

    def __init__(self, url: str):
        self.url, self.wait_s, self.samples = url, 0.0, 0
        self.by_event: dict[str, float] = {}  # wait_event (advisory, transactionid, tuple, ...): session-seconds
        self.by_query: dict[str, float] = {}  # the waiting statement: session-seconds
        self.counting = False  # from the first publish on (not the instances' start: their schema lock)
        self.split: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as c:
            while not self._stop.wait(self.SAMPLE_S):
                waiting = c.execute("SELECT wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 70), count(*)"
                                    " FROM pg_stat_activity WHERE application_name LIKE 'edged-central %%'"
                                    " AND wait_event_type = 'Lock' GROUP BY 1, 2").fetchall()
                if self.counting:
                    for event, query, k in waiting:
                        self.wait_s += k * self.SAMPLE_S
                        self.by_event[event] = self.by_event.get(event, 0.0) + k * self.SAMPLE_S
                        self.by_query[query] = self.by_query.get(query, 0.0) + k * self.SAMPLE_S
                self.samples += 1
                if self.samples % 10 == 0:
                    split = dict(c.execute("SELECT a.application_name, count(*) FROM pg_locks l JOIN pg_stat_activity a"
                                           " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND"
                                           " l.objsubid = 1 AND a.application_name LIKE 'edged-central %%'"
                                           " GROUP BY 1").fetchall())
                    if split:
                        self.split = split


def _statements(url: str, n: int = 8) -> list[list[str]]:
    with psycopg.connect(url, autocommit=True) as c:
        rows = c.execute("SELECT calls, total_exec_time, rows, query FROM pg_stat_statements"
                         " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                         " ORDER BY total_exec_time DESC LIMIT %s", [n]).fetchall()
    return [[f"{calls:,}", f"{ms / 1000:.2f}", f"{nrows:,}", " ".join(q.split())[:90]] for calls, ms, nrows, q in rows]


def _wal(url: str) -> int:
    """The cluster's WAL position, bytes (the runs are one after another: the difference is a run's)."""
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        return int(row[0]) if row else 0


def _writes(url: str, wal: int, received: int) -> str:
    """What a run wrote: WAL a message, and of the rows every instance rewrites (retained, nodes)
    the updates and how many were HOT (no index touched: room on the row's page)."""
    with psycopg.connect(url, autocommit=True) as c:
        rows = c.execute("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                         " WHERE relname IN ('retained', 'nodes') ORDER BY relname").fetchall()
    tables = ", ".join(f"{name} {upd:,} updates, {100 * hot / max(upd, 1):.0f} % HOT" for name, upd, hot in rows)
    return f"WAL {wal / 2**20:.0f} MiB = {wal / max(received, 1):,.0f} B a message; {tables}"


def main(args, argv: list[str]) -> int:
    from tests.support.postgres import Postgres

    ci.OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="central-ingest-", dir=ci.OUT))
    pg = Postgres(fsync=True, options="-c shared_preload_libraries=pg_stat_statements "
                  "-c pg_stat_statements.track=top").start()
    ci.PG_TICKS = lambda: _pg_ticks(pg)
    results = []
    fleet: list[list[str]] = []
    split: list[list[str]] = []  # the instances' CPU by thread, each run
    per: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}  # CPU s / 1000 msg of each run
    try:
        ci.log(f"# central_ingest on PostgreSQL 15: {args.nodes} nodes x {args.cameras} cameras, "
               f"{args.sim_seconds} s of fleet time")
        ci.log(f"command (from the repository root): .venv/bin/python -m bench.central_ingest {' '.join(argv)}")
        ci.log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} cores (edged-central, mosquitto, "
               f"PostgreSQL and the publisher all on them), load {ci.load()}; PostgreSQL fsync on, "
               "synchronous_commit on")
        ci.log("--live: the fleet sends at its own pace (live traffic): msg/s is its pace, not a capacity"
               if args.live else "the fleet sent flat out (a backlog): msg/s is the capacity")
        for ingest in args.pg_ingest.split(","):
            for n in (int(x) for x in args.pg_instances.split(",")):
                ci.PG_URL = pg.database()
                with psycopg.connect(ci.PG_URL, autocommit=True) as c:
                    c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                    c.execute("SELECT pg_stat_statements_reset()")
                os.environ["EDGED_CENTRAL_PG_INGEST"] = ingest
                wal0 = _wal(ci.PG_URL)
                with Sampler(ci.PG_URL) as sampler:
                    ci.STREAMING = lambda: setattr(sampler, "counting", True)
                    r = ci.run_fleet(args, args.sim_seconds, n, f"pg-{ingest}-{n}", work, profile=args.profile)
                c = r["cpu"]
                wall = r["elapsed"] + r["verify_lag"]  # sampled through ingest and the verification after it
                results.append([ingest, str(n), f"{r['rate']:,.0f}", f"{r['received']:,} / {r['sent']:,}",
                                f"{c['central']:.1f} / {c['broker']:.1f} / {c['postgres']:.1f} / {c['box']:.1f}"
                                f" in {r['elapsed']:.1f} s", f"{r['verify_lag']:.1f}", r["load"]])
                a = r["cpu_all"]
                k = max(r["received"], 1) / 1000
                per.setdefault((ingest, n), []).append((c["central"] / k, (c["central"] + c["postgres"]) / k,
                                                        a["central"] / k, (a["central"] + a["postgres"]) / k))
                fleet.append([ingest, str(n), f"{1000 * c['central'] / max(r['received'], 1):.3f}",
                              f"{1000 * (c['central'] + c['postgres']) / max(r['received'], 1):.3f}",
                              f"{1000 * a['central'] / max(r['received'], 1):.3f} / "
                              f"{1000 * (a['central'] + a['postgres']) / max(r['received'], 1):.3f}",
                              f"{sampler.wait_s:.2f} s = {100 * sampler.wait_s / wall:.1f} % ("
                              + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(sampler.by_event.items())) + ")",
                              " / ".join(str(v) for _k, v in sorted(sampler.split.items())) or "-"])
                split.append([ingest, str(n), *_split_cells(r)])
                writes = _writes(ci.PG_URL, _wal(ci.PG_URL) - wal0, r["received"])
                ci.log(f"\n## {ingest}, {n} instance(s): {results[-1][2]} msg/s; {writes}; PostgreSQL's time by statement")
                ci.log(table(["calls", "total s", "rows", "statement"], _statements(ci.PG_URL)))
                ci.log("\nthe statements that waited on a lock (sampled session-seconds):")
                ci.log(table(["waited s", "statement"], [[f"{v:.2f}", q] for q, v in sorted(
                    sampler.by_query.items(), key=lambda x: -x[1])[:6]]))
                if args.profile and r["profile"]:
                    for name in ("store", "verify", "net"):
                        path = Path(f"{r['profile']}.{name}")
                        if path.exists():
                            kept = ci.OUT / "profiles" / f"pg-{ingest}-{n}-{len(results)}.{name}"
                            kept.parent.mkdir(parents=True, exist_ok=True)
                            shutil.copyfile(path, kept)
                            ci.log(f"\n### instance 1's {name} thread (cProfile, by own time; kept as {kept})")
                            ci.log("```\n" + ci.profile_top(path) + "```")
        ci.log("\n## summary (same run, same box)")
        ci.log(table(["ingest", "instances", "msg/s", "received / sent",
                      "CPU s: edged-central / mosquitto / PostgreSQL / box", "verify lag (s)", "load"], results))
        base = {(row[0], row[1]): float(row[2].replace(",", "")) for row in results}
        for ingest in args.pg_ingest.split(","):
            counts = sorted(int(k[1]) for k in base if k[0] == ingest)
            if len(counts) > 1:
                one = base[(ingest, str(counts[0]))]
                for k in counts[1:]:
                    ci.log(f"{ingest}: {k} instances / {counts[0]} = {base[(ingest, str(k))] / one:.2f}x")
        ci.log("\n## instances sharing the work (issue 43): CPU per thousand messages received, lock waits, leases")
        ci.log(table(["ingest", "instances", "edged-central CPU s / 1000 msg", "+ PostgreSQL CPU s / 1000 msg",
                      "the same to the last verified (edged-central / + PostgreSQL)",
                      "sessions waiting on a lock (sampled every 50 ms), / wall time of ingest + verification",
                      "leases per instance (advisory locks held, last seen)"], fleet))
        ci.log("\nthe instances' CPU s a thousand messages by thread, summed over the instances (in ingest / to the"
               " last verified; central/ingest.py names the threads for the OS):")
        ci.log(table(["ingest", "instances", *THREADS, "other", "wakes a thousand messages in ingest (" + " / ".join(THREADS) + ")"],
                     split))
        for ingest in args.pg_ingest.split(","):  # each count's runs averaged (--pg-instances 1,3,3,1: the same load)
            counts = sorted({n for i, n in per if i == ingest})
            mean = {n: [sum(x) / len(per[(ingest, n)]) for x in zip(*per[(ingest, n)])] for n in counts}
            for n in counts[1:]:
                ci.log(f"{ingest}: CPU a message of {n} instances / {counts[0]} (mean of {len(per[(ingest, n)])} and "
                       f"{len(per[(ingest, counts[0])])} runs): edged-central "
                       f"{mean[n][0] / mean[counts[0]][0]:.2f}x, + PostgreSQL {mean[n][1] / mean[counts[0]][1]:.2f}x; "
                       f"to the last verified {mean[n][2] / mean[counts[0]][2]:.2f}x, "
                       f"{mean[n][3] / mean[counts[0]][3]:.2f}x")
        ci.log(f"target: one instance >= 10,000 msg/s; three >= 2.5x one; CPU per message of three <= 1.2x one; "
               f"lock waits < 10 % of wall time; leases within 20 % of even. Load at the end {ci.load()}")
    finally:
        pg.stop()
        (ci.OUT / "central_ingest_postgres.txt").write_text("\n".join(ci.lines) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    return 0
