"""The office's clock samples pruned (issue 73, design/0344), as figures: a node answering the office's
time request once a minute for DAYS days at a 30-day maximum (one sample a minute, in the real SQLite
store), then the verifier's daily pruning: the rows before and after, the batches, and the longest
write transaction a batch held.

    .venv/bin/python -m bench.clock_prune [--days 90] [--max-days 30]

Before design/0344 nothing was pruned: the rows before are what every office held after DAYS days.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from central.checks import clock, coverage
from central.store.store import Store
from central.verifier import clock_samples
from tests.support.catalog import central_clock_count, central_clock_samples

S, MIN, D = 1_000_000, 60_000_000, 86_400_000_000
T0 = 1_795_000_000 * S


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--max-days", type=float, default=30)
    args = ap.parse_args(argv)
    now = T0 + args.days * D
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "c.db", clock=lambda: now)
        samples = [(T0 + i * MIN, T0 + i * MIN + 2 * S, T0 + i * MIN + S // 10, "b") for i in range(args.days * 1440)]
        for i in range(0, len(samples), 50_000):
            central_clock_samples(store, "s/n1", samples[i:i + 50_000])
        before = central_clock_count(store)[0]
        held: list[float] = []
        writing = store.writing

        @contextlib.contextmanager
        def timed(durable: bool = True) -> Iterator[Any]:
            began = time.perf_counter()
            with writing(durable) as conn:
                yield conn
            held.append(time.perf_counter() - began)

        store.writing = timed  # type: ignore[method-assign]
        began = time.perf_counter()
        gone = clock_samples.prune(store, "s/n1", clock.horizon(now, args.max_days, coverage.MAX_DAYS), None)
        took = time.perf_counter() - began
        after = central_clock_count(store)[0]
        store.close()
    print(f"a node at a {args.max_days:g}-day maximum, {args.days} days of samples one a minute (SQLite):")
    print(f"  rows before pruning (all an office kept before design/0344): {before:,}")
    print(f"  rows after: {after:,} ({after / 1440:.1f} days: the maximum and {clock.KEEP_MARGIN_DAYS} days,"
          " and the one before)")
    print(f"  pruned {gone:,} in {len(held) - 1} batches of {clock_samples.PRUNE_BATCH:,} in {took:.2f} s;"
          f" longest write transaction {max(held) * 1000:.0f} ms")
    print(f"  reproduce: .venv/bin/python -m bench.clock_prune --days {args.days} --max-days {args.max_days:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
