"""Issue 73 item 6: the office's signed `cmd/time` under a flood of junk (mqtt/office_time.py Listener).

Two figures:
1. Starvation: `--rate` junk time messages a second (well formed, addressed to this node, signed by
   another key: each costs a signature check) for `--seconds` s, and one genuine signed time in
   each second, sent after that second's junk: how many genuine ones the box heard.
2. Cost: how many junk messages a second the box can check on one core (the listener alone, one
   thread, no broker): the bound a flood's CPU is held to.

    .venv/bin/python -m bench.office_time_flood [--rate 100] [--seconds 5] [--cost-s 3]
"""

from __future__ import annotations

import argparse
import inspect
import os
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import command_line, environment
from mqtt import office_time

TARGET = "site/node1"


def listener(key: Ed25519PrivateKey, heard: list[int]) -> office_time.Listener:
    return office_time.Listener(key.public_key(), TARGET, heard.append)


def starvation(rate: int, seconds: int) -> tuple[int, int]:
    office, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    heard: list[int] = []
    lis = listener(office, heard)
    sent = 0
    junk = [[office_time.time_message(stranger.sign, TARGET, 1_000 + s * rate + i) for i in range(rate)]
            for s in range(seconds)]
    genuine = [office_time.time_message(office.sign, TARGET, 10_000_000 + s) for s in range(seconds)]
    start = time.monotonic()
    for s in range(seconds):
        while time.monotonic() < start + s:  # each second's messages inside that second
            time.sleep(0.001)
        for m in junk[s]:
            lis.hear("time", m)
        lis.hear("time", genuine[s])
        sent += 1
    return len([t for t in heard if t >= 10_000_000]), sent


def cost(seconds: float, distinct: int = 40_000) -> tuple[float, float]:
    """Junk messages handled a second on one core: (each a new payload, the same payloads again)."""
    office, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    junk = [office_time.time_message(stranger.sign, TARGET, 1_000 + i) for i in range(distinct)]
    rates = []
    for _ in range(2):  # the second round: every payload seen failing before
        lis = listener(office, [])
        if rates:
            for m in junk[:4_000]:
                lis.hear("time", m)
        cpu0, n = time.process_time(), 0
        while time.process_time() - cpu0 < seconds and n < distinct:
            for m in junk[n:n + 500] if not rates else junk[:4_000][n % 4_000:n % 4_000 + 500]:
                lis.hear("time", m)
            n += 500
        rates.append(n / (time.process_time() - cpu0))
    return rates[0], rates[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--cost-s", type=float, default=3.0)
    a = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    heard, sent = starvation(a.rate, a.seconds)
    new, again = cost(a.cost_s)
    shape = "nonce answers" if "on_question" in inspect.signature(office_time.Listener).parameters else "per-second cap"
    print("| figure | value |\n|---|---|")
    print(f"| genuine signed times heard, {a.rate} junk/s for {a.seconds} s | {heard} of {sent} |")
    print(f"| junk time messages handled a second, one core, each a new payload | {new:,.0f} |")
    print(f"| the same, payloads seen failing before | {again:,.0f} |")
    print(f"| listener | {shape} |")
    print(f"\n    {command_line('bench.office_time_flood')}\n")
    print(environment())


if __name__ == "__main__":
    main()
