"""Where the catch-up's CPU goes, by part (issue 86 item 6, design/0475): bench/clock_fleet's day of one
answering box verified by this tree's office alone (no reference), a CPU timer (`time.process_time`)
around each part instead of a profiler:

    .venv/bin/python -m bench.clock_fleet_parts                  (from the repository root)

Printed: CPU a message in all, and each part's share and CPU a message: each message kind's handling,
inside them the Ed25519 check of a signed head and each destruction's verdict and rows, the page's clock
line, the pass's inserts. The timers cost a little of their own (two a destruction): the CPU in all reads
a little above bench/clock_fleet's. Output: stdout and bench/out/clock_fleet_parts.txt.
"""

from __future__ import annotations

import collections
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import central_ingest as ci
from bench import clock_fleet as cf
from bench.common import OUT, command_line, table
from central.checks import quick_verdict
from central.verifier import verifier, verifier_kinds
from central.verifier.evidence import Evidence
from storage.keys import nodekey
from storage.keys.nodekey import NodeKey

spent: collections.defaultdict[str, float] = collections.defaultdict(float)
calls: collections.Counter[str] = collections.Counter()


def timed(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    def inner(*a: Any, **k: Any) -> Any:
        began = time.process_time()
        try:
            return f(*a, **k)
        finally:
            spent[name] += time.process_time() - began
            calls[name] += 1
    return inner


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="clock-parts-", dir=OUT))
    cf.log(f"# clock_fleet_parts: one answering box's day of outage verified, CPU by part\ncommand: "
           f"{command_line('bench.clock_fleet_parts')}\n{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; CPU {cf.cpu_model()};"
           f" load {ci.load()}")
    try:
        office = cf.Office(work / "c.db", [cf.Box(0, 16, NodeKey(Ed25519PrivateKey.generate()), 800_000)])
        cf.history(office, False)
        back = cf.T0 + cf.AWAY * cf.MIN + cf.DAY
        backlog = [m for b in office.boxes for minute in range(cf.AWAY, cf.AWAY + 1440) for m in b.minute(minute)]
        office.ask(back)
        office.hear(backlog, back + 2 * cf.S)
        message = verifier.Verifier._message

        def by_kind(self: Any, seq: int, kind: str, body: Any, policy: Any) -> None:
            timed(f"{kind} messages", message)(self, seq, kind, body, policy)
        verifier.Verifier._message = by_kind  # type: ignore[method-assign]
        nodekey.check = timed("  of it the Ed25519 checks of signed heads", nodekey.check)
        quick_verdict.verdict = timed("  of it the verdicts (quick_verdict.verdict)", quick_verdict.verdict)
        verifier_kinds.MessageKinds._destruction = timed(  # type: ignore[method-assign]
            "  of it each destruction (its verdict, rows, day, rules)", verifier_kinds.MessageKinds._destruction)
        verifier.clock_samples.line = timed("the page's clock line", verifier.clock_samples.line)  # type: ignore[attr-defined]
        Evidence.flush = timed("the pass's inserts (Evidence.flush)", Evidence.flush)  # type: ignore[method-assign]
        began = time.process_time()
        office.verify(back + 5 * cf.S)
        cpu = time.process_time() - began
        n = len(backlog)
        cf.log(f"verified {n:,} messages: {1e6 * cpu / n:.0f} us of CPU a message, {cpu:.2f} s a node-day")
        cf.log(table(["part", "share", "us a message", "calls", "us a call"], [
            [k, f"{100 * spent[k] / cpu:.0f} %", f"{1e6 * spent[k] / n:.0f}", f"{calls[k]:,}",
             f"{1e6 * spent[k] / calls[k]:.0f}"] for k in sorted(spent, key=lambda k: -spent[k])]))
    finally:
        (OUT / "clock_fleet_parts.txt").write_text("\n".join(cf.lines) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
