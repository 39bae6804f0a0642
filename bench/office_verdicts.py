"""Issue 73's cases at the office, as figures (design/0310): a box hour by hour over weeks
(tests/support/time_fleet.py) through the real store and verifier on an injected office clock,
and what the office concluded: destructions by verdict, retention findings by kind and severity.

    .venv/bin/python -m bench.office_verdicts [--cases item2,item3,item4a,item4b,item5]

On a tree before issue 73 (its office keeps no clock samples: the box's answers are ignored) the
same command gives the figures before: copy this file and tests/support/time_fleet.py into that tree
and run it there (the closing note of issue 73 says how it was done).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from central.store.store import Store
from central.verifier.verifier import Verifier
from tests.support import time_fleet as tf

D = tf.DAY
CASES = {
    # item 2: a lawful box offline 3 days; its backlog (1,920 destructions) in 4 pieces, the verifier between,
    # its first answer after the second piece
    "item2": tf.Plan(days=34, offline=[(tf.T0 + 30 * D + 1, tf.T0 + 33 * D)], pieces=4, answer_after=2),
    # item 3: a lawful box the office first hears 3 days after it began recording
    "item3": tf.Plan(days=34, first_heard=tf.T0 + 3 * D),
    # item 4: a box offline days 20-70 whose retention stopped days 25-65, then destroying everything overdue
    "item4a": tf.Plan(days=71, offline=[(tf.T0 + 20 * D + 1, tf.T0 + 70 * D)], stopped=[(tf.T0 + 25 * D, tf.T0 + 65 * D)],
                      segment_us=1800 * tf.S),
    # item 4: a box silent days 30-90 (its retention stopped) destroying at day 90 footage heard of from day 0
    "item4b": tf.Plan(days=91, offline=[(tf.T0 + 30 * D + 1, tf.T0 + 90 * D)], stopped=[(tf.T0, tf.T0 + 90 * D)],
                      segment_us=1800 * tf.S),
    # item 5: a box that never tells of its footage, its clock stepped 10 days ahead on day 5, destroying at
    # its own 30 days (a true 20)
    "item5": tf.Plan(days=32, announce=False, own_clock=True, steps=[(tf.T0 + 5 * D, 10 * D)], segment_us=1800 * tf.S),
}


class Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


def run(name: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        clock = Clock(tf.T0)
        store = Store(Path(d) / "c.db", clock=clock)
        fleet = tf.Fleet(store, clock, Verifier(store, tf.UTC, gap_grace_us=0), CASES[name])
        started = time.monotonic()
        fleet.run()
        got = {"case": name, **tf.outcome(store), "destroyed": fleet.destroyed, "answers": fleet.answered,
               "seconds": round(time.monotonic() - started, 1)}
        store.close()
        return got


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args(argv)
    print("| case | destructions by verdict | retention findings | destroyed |")
    print("|---|---|---|---|")
    for name in args.cases.split(","):
        r = run(name)
        print(f"| {name} | {json.dumps(r['verdicts'], sort_keys=True)} | {json.dumps(r['findings'], sort_keys=True)} "
              f"| {r['destroyed']} |", flush=True)
    print(f"\ncommand: {' '.join([sys.executable, '-m', 'bench.office_verdicts', *sys.argv[1:]])}")


if __name__ == "__main__":
    main()
