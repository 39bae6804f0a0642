"""bench/clock_fleet on PostgreSQL (issue 86, design/0420): the same boxes answering the office's time
requests, the same day's outage and hour of requests a minute, judged by the real verifier on a
PgStore (central/store/pgstore.py) of a PostgreSQL 15 started here (fsync on), against the
reference in the same run on a copy of the same stored backlog:

    .venv/bin/python -m bench.clock_fleet_pg [--nodes 2] [--reference bacfb3bd] [--fleet 4000]
        [--instances 3] [--round-trip-ms 0.2] [--overlap]    (from the repository root)

Measured a node-day: the instance's CPU (this process), PostgreSQL's (its postmaster and backends,
bench/central_pg.py `_pg_ticks`), the statements (round trips) and the wall time here (the server on
the same 2 cores, a round trip over a local socket). The day's outage of `--fleet` nodes on
`--instances` instances: an instance waits for each of its statements, so a node-day costs it its
own CPU, the server's CPU for its statements and a network round trip each (`--round-trip-ms`,
PostgreSQL on its own machine); the server's cores to keep up are its CPU over those hours.
Instances judge disjoint nodes (a lease a node, central/intake/leases.py): nothing here waits on
another instance's lock; bench/central_fleet measures the lock waits of 3 instances' ingest and
verification. The server's CPU of each office's verification is also printed by process (design/0486):
the sessions, each background process by its title, and what the postmaster reaped (autovacuum's
workers, sessions that ended), as the server's whole figure counts all of them. The passes' last writes
(the pass's rows in one statement, and its commit) are timed apart: the instance's wall and CPU and the
server's CPU in them, what a node verified meanwhile could hide (design/0498); `--overlap` runs this
tree's office as edged-central runs on PostgreSQL (central/verifier/overlap.py: the last write on a
thread and a second session while the next node is verified) and prints how long the verifier's
thread still waited for them. Output: stdout and
bench/out/clock_fleet_pg.txt.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import central_ingest as ci
from bench import clock_fleet as cf
from bench.central_pg import _pg_ticks
from bench.common import OUT, command_line, cpu_ticks, table
from central.store.pgstore import PgStore
from central.verifier.evidence import Evidence
from central.verifier import overlap as overlap_module
from central.verifier.overlap import Overlap
from storage.keys.nodekey import NodeKey

HZ = os.sysconf("SC_CLK_TCK")


def _copy(pg: Any, src: str, dst: str) -> str:
    with psycopg.connect(pg.url(), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {dst} TEMPLATE {src}")
    return pg.url(dst)


def _by_kind(pg: Any) -> collections.Counter[str]:
    """The server's CPU ticks by process: `_pg_ticks`'s, split by each child's title (the sessions
    together; a child that exits between two readings moves to the postmaster's reaped share)."""
    out: collections.Counter[str] = collections.Counter()
    try:
        pid = int((pg.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return out
    out["postmaster and the children it reaped (autovacuum workers, ended sessions)"] = cpu_ticks(pid, True) or 0
    for d in Path("/proc").iterdir():
        try:
            stat = (d / "stat").read_text() if d.name.isdigit() else ""
            if not stat or int(stat[stat.rindex(")") + 2:].split()[1]) != pid:
                continue
            title = (d / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        kind = "sessions (the offices' statements)" if title.startswith("postgres: postgres ") else title.strip()
        out[kind] += cpu_ticks(int(d.name)) or 0
    return out


def _split(snaps: list[collections.Counter[str]], msgs: int) -> list[list[str]]:
    """Rows: each kind's CPU us a message over each office's verification (its snapshots 0-1 and 4-5)."""
    every = set(snaps[0]) | set(snaps[1]) | set(snaps[4]) | set(snaps[5])
    ref = {k: snaps[1][k] - snaps[0][k] for k in every}  # negative: a process that exited in the window
    new = {k: snaps[5][k] - snaps[4][k] for k in every}
    kinds = sorted(every, key=lambda k: -(new[k] + ref[k]))
    return [[k, f"{1e6 * ref[k] / HZ / msgs:.0f}", f"{1e6 * new[k] / HZ / msgs:.0f}"] for k in kinds]


class FinalWrites:
    """The pass's last write timed (design/0498): each `Evidence.flush` that carries the pass's own updates
    (``then``, once a pass) and the commit of its transaction: the instance's wall and CPU and the server's
    CPU in them, by the office verifying (its phase: how many server readings were taken before it).
    What verifying the next node while PostgreSQL writes the last could hide is the instance's wait here."""

    def __init__(self, pg: Any, phase: Any):
        self.pg, self.phase, self.open = pg, phase, False
        self.by: collections.defaultdict[int, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])

    def mark(self) -> tuple[float, float, int]:
        return time.monotonic(), time.process_time(), _pg_ticks(self.pg)

    def add(self, began: tuple[float, float, int]) -> None:
        w, c, s = self.mark()
        got = self.by[self.phase()]
        got[0] += w - began[0]
        got[1] += c - began[1]
        got[2] += (s - began[2]) / HZ

    @contextlib.contextmanager
    def patched(self) -> Any:
        flush, writing = Evidence.flush, PgStore.writing

        def timed_flush(ev: Evidence, *a: Any, **k: Any) -> Any:
            if not k.get("then"):
                return flush(ev, *a, **k)
            began = self.mark()
            try:
                return flush(ev, *a, **k)
            finally:
                self.add(began)
                self.by[self.phase()][3] += 1
                self.open = True

        @contextlib.contextmanager
        def timed_writing(store: PgStore, durable: bool = True) -> Any:
            with contextlib.ExitStack() as stack:
                db = stack.enter_context(writing(store, durable))
                self.open = False
                yield db
                began = self.mark()
                final, self.open = self.open, False
            if final:  # the commit of a transaction that held a pass's last write
                self.add(began)
        Evidence.flush, PgStore.writing = timed_flush, timed_writing  # type: ignore[method-assign, assignment]
        try:
            yield
        finally:
            Evidence.flush, PgStore.writing = flush, writing  # type: ignore[method-assign]

    def rows(self, refs: dict[str, Any], news: dict[str, Any], msgs: int) -> list[list[str]]:
        a, b = self.by[1], self.by[5]  # each office's verification: between its readings 0-1 and 4-5

        def us(x: float) -> str:
            return f"{1e6 * x / msgs:.0f}"
        return [["passes' last writes and their commits", f"{a[3]}", f"{b[3]}"],
                ["the instance's wall in them, us a message", us(a[0]), us(b[0])],
                ["of it the instance's own CPU", us(a[1]), us(b[1])],
                ["PostgreSQL's CPU in them", us(a[2]), us(b[2])],
                ["share of PostgreSQL's CPU of the verification in them",
                 f"{100 * a[2] / max(refs['verify_server'], 1e-9):.0f} %", f"{100 * b[2] / max(news['verify_server'], 1e-9):.0f} %"]]


def _hours(r: dict[str, Any], nodes: int, fleet: int, share: float, rt_ms: float) -> tuple[float, float]:
    """(hours of the day's backlog on the busiest instance, the server's cores busy meanwhile)."""
    per_node = (r["verify_cpu"] + r["verify_server"] + r["statements"] * rt_ms / 1000) / nodes
    hours = fleet * share * per_node / 3600
    return hours, fleet * r["verify_server"] / nodes / 3600 / max(hours, 1e-9)


# over 60 lines on purpose: the run and its report, in the order printed
def main(argv: list[str] | None = None) -> int:
    from central.intake import leases
    from tests.support.postgres import Postgres

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="bench.clock_fleet_pg")
    p.add_argument("--nodes", type=int, default=2, help="boxes simulated (16 cameras each)")
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--reference", default=cf.REFERENCE, help="the commit whose storage/time/interval.py is the reference")
    p.add_argument("--fleet", type=int, default=4000)
    p.add_argument("--instances", type=int, default=3)
    p.add_argument("--round-trip-ms", type=float, default=0.2, help="a statement's network round trip (PostgreSQL on its own machine)")
    p.add_argument("--overlap", action="store_true", help="this tree's office as edged-central runs on PostgreSQL: a pass's"
                   " last write on a thread and a second session while the next node is verified (design/0498)")
    args = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    pg = Postgres(fsync=True).start()
    cf.OPEN = lambda url, clock: PgStore(str(url), clock=clock)
    snaps: list[collections.Counter[str]] = []
    final = FinalWrites(pg, lambda: len(snaps))

    def server() -> float:  # each office's verification and hour: four readings (bench/clock_fleet.py `judged`)
        snaps.append(_by_kind(pg))
        return _pg_ticks(pg) / HZ
    cf.SERVER_CPU = server
    log = cf.log
    try:
        log(f"# clock_fleet on PostgreSQL 15: {args.nodes} boxes x {args.cameras} cameras answering the office's time"
            " requests; a day's outage judged, then an hour of requests a minute")
        log(f"command (from the repository root): {command_line('bench.clock_fleet_pg')}")
        log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; CPU {cf.cpu_model()}; load {ci.load()}; PostgreSQL fsync on,"
            " on the same cores; reference storage/time/interval.py of " + args.reference)
        keys = [NodeKey(Ed25519PrivateKey.generate()) for _ in range(args.nodes)]
        boxes = [cf.Box(i, args.cameras, keys[i], 800_000 + 37_000 * i) for i in range(args.nodes)]
        c0 = time.process_time()
        url = pg.database()
        office = cf.Office(url, boxes)
        cf.history(office, False)
        back = cf.T0 + cf.AWAY * cf.MIN + cf.DAY
        backlog = [m for b in boxes for minute in range(cf.AWAY, cf.AWAY + 1440) for m in b.minute(minute)]
        office.ask(back)
        office.hear(backlog, back + 2 * cf.S)
        office.store.close()
        log(f"set-up {time.process_time() - c0:.0f} CPU s; the backlog {len(backlog):,} durable messages,"
            f" {len(backlog) // args.nodes:,} a node-day")
        ref_url = _copy(pg, url.rsplit("/", 1)[1], "ref")
        t = back + 5 * cf.S
        twin = PgStore(url) if args.overlap else None
        office.v.overlap = None if twin is None else Overlap(twin)
        waits: list[float] = []  # each join's wait, in order: the last of a run has no node verified behind it
        thread_cpu: list[float] = []  # each write's CPU on the writing thread (its own: time.thread_time)
        if office.v.overlap is not None:
            finish = overlap_module._finish

            def timed_finish(*a: Any) -> int:
                began = time.thread_time()
                try:
                    return finish(*a)
                finally:
                    thread_cpu.append(time.thread_time() - began)
            overlap_module._finish = timed_finish  # type: ignore[assignment]
            ov, join = office.v.overlap, office.v.overlap._join

            def timed_join(*a: Any) -> int:
                was = ov.waited_s
                try:
                    return join(*a)
                finally:
                    waits.append(ov.waited_s - was)
            ov._join = timed_join  # type: ignore[method-assign]
        with final.patched():
            ref = cf.judged(ref_url, boxes, None, cf.reference_interval(args.reference), t, len(backlog))
            new = cf.judged(url, boxes, office.v, None, t, len(backlog))
        waited = None if office.v.overlap is None else sum(waits[:args.nodes])  # the backlog: the first run, a join a node
        if twin is not None and office.v.overlap is not None:
            office.v.overlap.close()
            twin.close()
        office.v.store.close()
        n, msgs = args.nodes, len(backlog)
        share = max(leases.split([f"site{i // ci.SITE_SIZE:04d}/node{i:04d}" for i in range(args.fleet)],
                                 tuple(f"central{k}" for k in range(args.instances))).values()) / args.fleet
        ha, ca = _hours(ref, n, args.fleet, share, args.round_trip_ms)
        hb, cb = _hours(new, n, args.fleet, share, args.round_trip_ms)
        h1, _ = _hours(new, n, args.fleet, 1.0, args.round_trip_ms)

        def us(r: dict[str, Any], k: str) -> str:
            return f"{1e6 * r[k] / msgs:.0f}"
        log(table(["figure", f"reference ({args.reference})", "this tree", "this / reference"], [
            ["instance CPU us a message", us(ref, "verify_cpu"), us(new, "verify_cpu"),
             f"{new['verify_cpu'] / ref['verify_cpu']:.2f}x"],
            ["PostgreSQL CPU us a message", us(ref, "verify_server"), us(new, "verify_server"),
             f"{new['verify_server'] / max(ref['verify_server'], 1e-9):.2f}x"],
            ["wall us a message here (both on 2 shared cores)", us(ref, "verify_wall"), us(new, "verify_wall"), "-"],
            ["statements (round trips) a message", f"{ref['statements'] / msgs:.3f}", f"{new['statements'] / msgs:.3f}", "-"],
            ["an hour of requests a minute: instance + PostgreSQL CPU s a node-hour",
             f"{ref['hour_cpu'] / n:.3f} + {ref['hour_server'] / n:.3f}", f"{new['hour_cpu'] / n:.3f} + {new['hour_server'] / n:.3f}",
             f"{(new['hour_cpu'] + new['hour_server']) / max(ref['hour_cpu'] + ref['hour_server'], 1e-9):.2f}x"],
            ["destructions by verdict, findings", f"{ref['verdicts']} {ref['findings']}", f"{new['verdicts']} {new['findings']}",
             "same" if (ref["verdicts"], ref["findings"]) == (new["verdicts"], new["findings"]) else "DIFFERENT"]]))
        if len(snaps) >= 6:
            log("\nPostgreSQL's CPU of the backlog's verification by process (us a message; a process that exits moves"
                " to the postmaster's share):")
            log(table(["process", "reference", "this tree"], _split(snaps, msgs)))
        log("\nThe passes' last writes (the pass's rows, one statement, and its commit): what verifying the next node"
            " while PostgreSQL writes them could hide (design/0498; the timers' own /proc reads counted in):")
        log(table(["figure", "reference", "this tree"], final.rows(ref, new, msgs)))
        log("this tree's last writes " + ("on their own thread and session while the next node was verified (--overlap):"
            f" the verifier's thread waited {1e6 * waited / msgs:.0f} us a message for them, of it"
            f" {1e6 * sum(waits[:n - 1]) / msgs:.0f} for the {n - 1} written while a node was verified and"
            f" {1e6 * sum(waits[n - 1:n]) / msgs:.0f} for the run's last (no node left to verify behind it);"
            f" each in s: {' '.join(f'{w:.3f}' for w in waits[:n])}; the writing thread's own CPU in the writes"
            f" {1e6 * sum(thread_cpu[:n]) / msgs:.0f} us a message"
            if waited is not None else "in the verifier's thread (without --overlap): it waited for each, their wall above"))
        hidden = min(final.by[5][2], new["verify_cpu"])
        hc, _ = _hours({**new, "verify_server": new["verify_server"] - hidden}, n, args.fleet, share, args.round_trip_ms)
        log(f"projected, not measured: the last writes hidden behind the next node's verification, {hc:.2f} h on"
            f" {args.instances} instances ({args.instances * hc:.1f} instances for the hour) against {hb:.2f} h")
        log(f"\n## a day's outage on PostgreSQL: {args.fleet:,} nodes, {msgs // n:,} messages a node-day")
        log(table(["figure", "reference", "this tree", "target"], [
            [f"hours on {args.instances} instances (busiest share {100 * share:.1f} %, {args.round_trip_ms} ms a round trip)",
             f"{ha:.2f}", f"{hb:.2f}", "< 1 h: " + ("met" if hb < 1 else "NOT met")],
            ["hours on 1 instance", "-", f"{h1:.2f}", "-"],
            ["PostgreSQL's cores busy meanwhile", f"{ca:.2f}", f"{cb:.2f}", "-"],
            ["instances of a core each for the day in 1 h (hours x instances)", f"{args.instances * ha:.1f}",
             f"{args.instances * hb:.1f}", "-"]]))
    finally:
        (OUT / "clock_fleet_pg.txt").write_text("\n".join(cf.lines) + "\n")
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
