"""The whole office away (issue 53 item 4): every `edged-central run` instance stopped while
simulated boxes keep publishing, then started again; what reached the store, in one run:

    .venv/bin/python -m bench.office_outage [--boxes 50] [--outage-s 600] [--every-s 1]
        [--instances 2] [--stop term|kill]          (from the repository root)

The boxes are real reporters (mqtt/reporter.py, each with its own outbox file), one durable
message each `--every-s`; half of them as a box since issue 53 (a message the broker answers
"No matching subscribers" is kept and offered again, design/0139), the other half as a box
before it (the reference: counted delivered), at the same time through the same broker. The
office: `--instances` instances in a shared group on a PostgreSQL 15 started here, stopped cleanly
(`--stop term`: their sessions kept 7 days, `[broker] session_expiry_stopped`) or killed (`--stop
kill`: their sessions expire a minute after they go, the shared group's default: an outage
longer than that meets the broker's "No matching subscribers"). The broker keeps what it queues for a session
without bound (max_queued_messages 0, as docs/ref/central.md advises).

Figures: messages sent and stored by each half (lost = sent but never stored); PUBLISHes a
durable message (1 = each sent once; every offer again counted);
the seconds from the office's return to the last message stored. Output: stdout and
bench/out/office_outage.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import central_fleet as cf
from bench import central_ingest as ci
from bench.common import table
from edged.config import MqttConfig
from mqtt.reporter import Reporter
from tests.support.broker import Broker

lines: list[str] = []


def log(msg: str = "") -> None:
    print(msg, flush=True)
    lines.append(msg)


class Office:
    def __init__(self, folder: Path, port: int, url: str, n: int):
        self.cfgs = [cf.config(folder, port, f"central{k}", url, "1s") for k in range(n)]
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        for c in self.cfgs:
            c.with_suffix(".log").unlink(missing_ok=True)
        self.procs = [ci.start_central(c) for c in self.cfgs]
        for c in self.cfgs:
            ci.wait_connected(c, timeout=60)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for p in self.procs:
            p.send_signal(sig)
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


def stored(url: str) -> dict[str, set[int]]:
    with psycopg.connect(url, autocommit=True) as c:
        rows = c.execute("SELECT node, seq FROM messages").fetchall()
    out: dict[str, set[int]] = {}
    for node, seq in rows:
        out.setdefault(node, set()).add(seq)
    return out


async def box(r: Reporter, every: float, stop: asyncio.Event, sent: list[int]) -> None:
    stopping = asyncio.Event()
    task = asyncio.create_task(r.run(stopping))
    k = 0
    while not stop.is_set():
        k += 1
        sent.append(await r.alarm({"id": f"bench:{k}", "action": "raise" if k % 2 else "clear", "at_us": time.time_ns() // 1000}))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
    for _ in range(int(120 / 0.2)):  # let the outbox drain (the office is back by now)
        if not (await r.outbox_stats())["pending"]:
            break
        await asyncio.sleep(0.2)
    stopping.set()
    await asyncio.wait_for(task, 30)


# over 60 lines on purpose: the run, in the order it happens
async def scenario(args, work: Path, broker: Broker, office: Office, url: str) -> dict:
    boxes: list[tuple[str, Reporter, list[int]]] = []
    for i in range(args.boxes):
        kind = "new" if i % 2 == 0 else "old"
        site, node = f"oa{i // 10:03d}", f"box{i:03d}"
        cfg = MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, client_id=f"edged-{site}-{node}",
                         reconnect_max_us=5_000_000)
        (work / node).mkdir()
        r = Reporter(cfg, site, node, work / node)
        r.keeps_unheard = kind == "new"
        boxes.append((kind, r, []))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(box(r, args.every_s, stop, sent)) for _k, r, sent in boxes]
    await asyncio.sleep(args.warm_s)  # the office up: a measuring window, not a wait for a condition
    t_stop = time.monotonic()
    sig = signal.SIGKILL if args.stop == "kill" else signal.SIGTERM
    await asyncio.to_thread(office.stop, sig)
    log(f"every instance stopped ({sig.name}) at +{args.warm_s:.0f} s; away for {args.outage_s:.0f} s")
    await asyncio.sleep(args.outage_s - (time.monotonic() - t_stop))  # the outage itself
    await asyncio.to_thread(office.start)
    back = time.monotonic()
    log(f"every instance started again; the boxes keep publishing {args.after_s:.0f} s more")
    await asyncio.sleep(args.after_s)
    stop.set()
    last_sent = {r.topics.base.split("/", 2)[2]: sent[-1] for _k, r, sent in boxes}
    deadline = time.monotonic() + args.drain_s
    got: dict[str, set[int]] = {}
    while time.monotonic() < deadline:  # till every box's newest message is stored (or the time is up)
        got = await asyncio.to_thread(stored, url)
        if all(s in got.get(n, ()) for n, s in last_sent.items() if any(b[0] == "new" and
                                                                        b[1].topics.base.endswith(n) for b in boxes)):
            break
        await asyncio.sleep(0.5)
    drained_s = time.monotonic() - back
    await asyncio.gather(*tasks)
    got = await asyncio.to_thread(stored, url)
    out: dict = {"drained_s": drained_s}
    for kind in ("new", "old"):
        mine = [(r, sent) for k, r, sent in boxes if k == kind]
        n_sent = sum(len(s) for _r, s in mine)
        lost = sum(len(set(s) - got.get(r.topics.base.split("/", 2)[2], set())) for r, s in mine)
        unheard = sum(r.unheard for r, _s in mine)
        out[kind] = {"boxes": len(mine), "sent": n_sent, "lost": lost, "unheard": unheard,
                     "published": sum(r.published for r, _s in mine),
                     "nodes_with_gap": sum(1 for r, s in mine if set(s) - got.get(r.topics.base.split("/", 2)[2], set()))}
    return out


def main(argv: list[str] | None = None) -> int:
    from tests.support.postgres import Postgres

    argv = sys.argv[1:] if argv is None else argv
    logging.getLogger("edged.mqtt").setLevel(logging.ERROR)  # 50 boxes' "no one at the office" warnings
    p = argparse.ArgumentParser(prog="bench.office_outage")
    p.add_argument("--boxes", type=int, default=50, help="simulated boxes (half as since issue 53, half as before)")
    p.add_argument("--outage-s", type=float, default=600, help="how long every instance is stopped")
    p.add_argument("--every-s", type=float, default=1.0, help="a durable message a box this often")
    p.add_argument("--instances", type=int, default=2)
    p.add_argument("--stop", choices=("term", "kill"), default="term",
                   help="term: a clean stop (an upgrade, the office shut down); kill: the office dies (a power cut)")
    p.add_argument("--warm-s", type=float, default=10)
    p.add_argument("--after-s", type=float, default=10)
    p.add_argument("--drain-s", type=float, default=120, help="the longest waited for the backlog after the return")
    args = p.parse_args(argv)
    ci.OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="office-outage-", dir=ci.OUT))
    pg = Postgres(fsync=True).start()
    broker = Broker(work / "broker", extra=["max_queued_messages 0", "max_inflight_messages 0"]).start()
    office = Office(work, broker.port, pg.database(), args.instances)
    try:
        log(f"# office_outage: {args.boxes} boxes, a message each {args.every_s:g} s; {args.instances} instances "
            f"(shared group: a session expires 1 min after its instance dies, 7 days after a clean stop) "
            f"stopped ({args.stop}) for {args.outage_s:g} s")
        log(f"command (from the repository root): .venv/bin/python -m bench.office_outage {' '.join(argv)}".strip())
        log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} cores, load {ci.load()}")
        office.start()
        r = asyncio.run(scenario(args, work, broker, office, office_url(office)))
        rows = []
        for kind, label in (("new", "kept on 'No matching subscribers' (issue 53)"), ("old", "counted delivered (before)")):
            x = r[kind]
            rows.append([label, str(x["boxes"]), f"{x['sent']:,}", f"{x['lost']:,}", str(x["nodes_with_gap"]),
                         f"{x['unheard']:,}", f"{x['published'] / max(x['sent'], 1):.3f}"])
        log(table(["boxes", "n", "messages sent", "lost (never stored)", "boxes with a gap",
                   "answered 'No matching subscribers'", "publishes a message"], rows))
        new, old = r["new"], r["old"]
        log(f"lost: {new['lost']} against {old['lost']} of the reference (target 0: "
            f"{'met' if new['lost'] == 0 else 'NOT met'}); the kept boxes' backlog stored {r['drained_s']:.1f} s after "
            f"the office's return; publishes a message {new['published'] / max(new['sent'], 1):.3f} against "
            f"{old['published'] / max(old['sent'], 1):.3f} (each kept message sent again once, its oldest a few times,"
            " and what was acknowledged in the 5 minutes before the office was found away)")
        log(f"load at the end {ci.load()}")
    finally:
        office.stop()
        broker.stop()
        pg.stop()
        (ci.OUT / "office_outage.txt").write_text("\n".join(lines) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    return 0


def office_url(office: Office) -> str:
    text = office.cfgs[0].read_text()
    return text.split('url = "', 1)[1].split('"', 1)[0]


if __name__ == "__main__":
    raise SystemExit(main())
