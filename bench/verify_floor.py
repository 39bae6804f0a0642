"""Where verification's floor is (issue 53 item 1, design/0212): the CPU and the statements a
message of one verifier on PostgreSQL against the page a node's pass sees, in one process:

    .venv/bin/python -m bench.verify_floor [--shapes 30x900,10x3600,3x21600] [--rounds 2] [--profile]
                                                        (from the repository root)

Each shape NODESxSECONDS is bench/central_fleet.py's sample (16-camera nodes, a retention pass a
message) of that many nodes and seconds, stored by `PgStore.ingest` on a fresh PostgreSQL 15
database (fsync off: ingest is not measured), then verified by one `Verifier` until nothing is
left: its thread's CPU (`time.process_time`), its PostgreSQL session's (/proc ticks) and the
statements the verifier counts it sent (`Verifier.statements`: the pass's own, not BEGIN,
COMMIT or the leases' locks, which bench/central_fleet.py's pg_stat_statements figure adds). A
day-long outage gives each node a page of a day's messages (6,624), so the longer shapes are
the closer to it; bench/central_fleet.py's 900 s sample gives ~66 a node, whose per-pass
statements weigh on every message. Hours: 4,000 nodes' 26.5 M messages on 3 instances (the
busiest's rendezvous share 34.2 %), each statement charged `--round-trip-ms`.
Output: stdout and bench/out/verify_floor.txt.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import central_fleet as cf
from bench import central_ingest as ci
from bench.common import cpu_ticks, table

HZ = os.sysconf("SC_CLK_TCK")
DAY_MESSAGES = 26_496_000  # 4,000 nodes x 6,624 (bench/central_fleet.py day_per_node, the new shape)
SHARE = 0.342              # the busiest of 3 instances' rendezvous share of 4,000 nodes (central/intake/leases.py)


def packets(path: Path) -> list[tuple[str, bytes]]:
    """The sample's PUBLISH packets as (topic, payload), births included."""
    data, i, out = path.read_bytes(), 0, []
    while i < len(data):
        head, n, shift, i = data[i], 0, 0, i + 1
        while True:  # the remaining length, a varint
            b, i = data[i], i + 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        body, i = data[i:i + n], i + n
        tlen = int.from_bytes(body[:2], "big")
        out.append((body[2:2 + tlen].decode(), body[2 + tlen + (2 if (head >> 1) & 3 else 0):]))
    return out


def one(pg: Any, msgs: list[tuple[str, bytes]], prof: cProfile.Profile | None) -> tuple[int, float, float, int]:
    """(messages verified, verifier CPU s, its session's CPU s, statements) on a fresh database."""
    from central.store.pgstore import PgStore
    from central.verifier.verifier import Verifier

    store = PgStore(pg.database())
    try:
        now = time.time_ns() // 1000
        for k in range(0, len(msgs), 5000):
            store.ingest(msgs[k:k + 5000], now)
        v = Verifier(store, ZoneInfo("UTC"), 30_000_000)
        backend = store.pg.info.backend_pid
        c0, p0 = time.process_time(), cpu_ticks(backend) or 0
        done, n = 0, -1
        if prof is not None:
            prof.enable()
        while n:
            n = v.run_once(now + 120_000_000)  # the backlog is older than gap_grace
            done += n
        if prof is not None:
            prof.disable()
        return done, time.process_time() - c0, ((cpu_ticks(backend) or 0) - p0) / HZ, v.statements
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    from tests.support.postgres import Postgres

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="bench.verify_floor")
    p.add_argument("--shapes", default="30x900,10x3600,3x21600", help="NODESxSECONDS samples, in the order run")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--round-trip-ms", type=float, default=0.2)
    p.add_argument("--profile", action="store_true", help="cProfile the verifier on the last shape, a round more")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="verify-floor-"))
    pg = Postgres().start()
    rows, lines = [], [f"command (from the repository root): .venv/bin/python -m bench.verify_floor {' '.join(argv)}".strip(),
                       f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load {ci.load()}"]
    try:
        shapes = args.shapes.split(",")
        for shape in shapes:
            nodes, sim = (int(x) for x in shape.split("x"))
            t0 = time.time_ns() // 1000 - (sim + 600) * 1_000_000
            cf.generate(work / f"{shape}.mqtt", nodes, 16, sim, t0, batched=True)
            msgs = packets(work / f"{shape}.mqtt")
            for _ in range(args.rounds):
                done, cpu, pgcpu, st = one(pg, msgs, None)
                per = (cpu + pgcpu) / done + st / done * args.round_trip_ms / 1000
                rows.append([shape, f"{done / nodes:,.0f}", f"{done:,}", f"{st / done:.3f}", f"{1e6 * cpu / done:.0f}",
                             f"{1e6 * pgcpu / done:.0f}", f"{DAY_MESSAGES * per * SHARE / 3600:.2f}"])
        lines.append(table(["shape (nodes x s)", "messages a node's page", "messages", "statements a message",
                            "verifier CPU us a message", "its PostgreSQL session, us", "hours, 4,000 nodes on 3 "
                            f"instances, {args.round_trip_ms} ms a statement"], rows))
        lines.append(f"load at the end {ci.load()}")
        if args.profile:  # a round of its own: the profiler's cost is in no figure above
            prof = cProfile.Profile()
            one(pg, msgs, prof)
            import io
            import pstats

            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(20)
            lines.append("the verifier on the last shape (cProfile, by own time):\n```\n" + s.getvalue() + "```")
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines)
    print(text)
    ci.OUT.mkdir(parents=True, exist_ok=True)
    (ci.OUT / "verify_floor.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
