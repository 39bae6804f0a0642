"""MQTT reporting: alarm latency, outbox drain rate after an outage, CPU cost for 64 cameras.

    .venv/bin/python -m bench.mqtt_bench [--alarms 1000] [--backlog 50000] [--cameras 64] [--seconds 30]

Against a local mosquitto (started here on a free port, `max_queued_messages 0` so the broker
itself drops nothing) with the central office's subscriber in its own process, so the
reporter's process measures only the reporter:

- latency: `--alarms` alarms raised 200 a second; raise (just before `Reporter.alarm`) to
  arrival at the subscriber, wall clock on both sides (same host). Target p99 < 500 ms.
- drain: `--backlog` alarms queued while no broker runs (the reporter not running either,
  as after a restart during an outage); then the broker and the reporter start; rate =
  backlog / (last arrival - reporter start). Target >= 5,000 msg/s.
- CPU: `--cameras` camera states and the node state updated every 5 s (the daemon's stats
  cadence) plus one alarm a second, over `--seconds`; CPU of the reporter's process.

Output goes to stdout and bench/out/mqtt_bench.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt

from bench.common import command_line, table
from edged.config import MqttConfig
from mqtt.reporter import Reporter
from tests.support.broker import Broker

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SITE, NODE = "bench", "node1"
TARGET_P99_MS = 500.0
TARGET_DRAIN = 5000.0
lines: list[str] = []

SUBSCRIBER = r"""
import json, sys, threading, time
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
port, topic, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
got, lat, first, done = 0, [], None, threading.Event()
def on_message(c, u, m):
    global got, first
    now = time.time_ns()
    first = first or now
    try:
        body = json.loads(m.payload)
    except ValueError:
        body = {}  # "online"/"offline" on the status topic
    if isinstance(body, dict) and "t0_ns" in body:
        lat.append((now - body["t0_ns"]) / 1e6)
    got += 1
    if got >= n:
        done.set()
c = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
c.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
c.on_subscribe = lambda *a: print("subscribed", flush=True)
c.on_message = on_message
c.connect("127.0.0.1", port, 30)
c.loop_start()
done.wait(float(sys.argv[4]))
print(json.dumps({"count": got, "first_ns": first, "last_ns": time.time_ns(), "lat_ms": lat}), flush=True)
"""


def log(msg: str = "") -> None:
    print(msg, flush=True)
    lines.append(msg)


def environment() -> str:
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "mqtt"], capture_output=True,
                           text=True, check=False).stdout.strip()
    mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(OUT)], capture_output=True, text=True,
                        check=False).stdout.strip()
    return (f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {platform.node()}, {os.cpu_count()} cores, load {load}; "
            f"outbox on {fs} ({OUT}); Python {platform.python_version()}, paho-mqtt {paho.mqtt.__version__}, {mosq}; "
            f"edged {rev}{' + uncommitted mqtt/' if dirty else ''}")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


class Central:
    """The central office's subscriber, in its own process."""

    def __init__(self, broker: Broker, topic: str, n: int, timeout: float):
        self.proc = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(broker.port), topic, str(n), str(timeout)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "subscribed":
            raise RuntimeError("the subscriber did not subscribe")

    async def result(self) -> dict:
        assert self.proc.stdout is not None
        line = await asyncio.to_thread(self.proc.stdout.readline)
        await asyncio.to_thread(self.proc.wait, 10)
        return json.loads(line)


def data_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config(broker: Broker) -> MqttConfig:
    return MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, client_id=f"edged-{SITE}-{NODE}",
                      reconnect_max_us=1_000_000, outbox_max=1_000_000)


async def until_connected(r: Reporter, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while r.status != "connected":
        if time.monotonic() > deadline:
            raise RuntimeError(f"reporter not connected: {r.status}")
        await asyncio.sleep(0.01)


async def latency(work: Path, n: int) -> list[str]:
    broker = Broker(work / "broker-latency", extra=["max_queued_messages 0"]).start()
    try:
        r = Reporter(config(broker), SITE, NODE, data_dir(work / "latency"))
        central = Central(broker, r.topics.alarm, n, 120)
        stopping = asyncio.Event()
        task = asyncio.create_task(r.run(stopping))
        await until_connected(r)
        async with asyncio.TaskGroup() as tg:
            start = time.monotonic()
            for i in range(n):
                tg.create_task(r.alarm({"id": f"bench:{i}", "action": "raise", "t0_ns": time.time_ns()}))
                await asyncio.sleep(max(0.0, start + (i + 1) / 200 - time.monotonic()))
        res = await central.result()
        stopping.set()
        await task
    finally:
        broker.stop()
    lat = res["lat_ms"]
    p50, p99, worst = pct(lat, 50), pct(lat, 99), max(lat)
    ok = len(lat) == n and p99 < TARGET_P99_MS
    log(f"latency: {len(lat)}/{n} alarms arrived; p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    return [f"alarm latency, raise -> subscriber ({n} alarms at 200/s)",
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (max {worst:.1f})", f"p99 < {TARGET_P99_MS:.0f} ms",
            "PASS" if ok else "FAIL"]


async def drain(work: Path, n: int) -> list[list[str]]:
    broker = Broker(work / "broker-drain", extra=["max_queued_messages 0"])  # not started: the outage
    r = Reporter(config(broker), SITE, NODE, data_dir(work / "drain"))
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        await asyncio.gather(*[r.alarm({"id": f"bench:{j}", "action": "raise", "camera": f"cam{j % 64}",
                                        "message": "camera unreachable"}) for j in range(i, min(n, i + 1000))])
    queued_s = time.perf_counter() - t0
    size = (work / "drain" / "outbox.db").stat().st_size + (work / "drain" / "outbox.db-wal").stat().st_size
    log(f"drain: {n} alarms queued in {queued_s:.1f} s ({n / queued_s:,.0f} msg/s); outbox.db {size / 2**20:.1f} MiB")
    broker.start()
    try:
        central = Central(broker, r.topics.alarm, n, 300)
        stopping = asyncio.Event()
        started_ns = time.time_ns()
        cpu0 = time.process_time()
        task = asyncio.create_task(r.run(stopping))
        res = await central.result()
        cpu = time.process_time() - cpu0
        while (await r.outbox_stats())["pending"]:
            await asyncio.sleep(0.01)
        emptied_s = (time.time_ns() - started_ns) / 1e9
        stopping.set()
        await task
    finally:
        broker.stop()
    secs = (res["last_ns"] - started_ns) / 1e9
    rate = res["count"] / secs
    log(f"drain: {res['count']}/{n} arrived {secs:.2f} s after the reporter started ({rate:,.0f} msg/s); "
        f"outbox empty after {emptied_s:.2f} s; reporter CPU {cpu:.1f} s")
    return [[f"outbox drain after an outage ({n:,} queued)", f"{rate:,.0f} msg/s ({res['count']:,} in {secs:.2f} s)",
             f">= {TARGET_DRAIN:,.0f} msg/s", "PASS" if res["count"] == n and rate >= TARGET_DRAIN else "FAIL"],
            [f"queueing {n:,} alarms (bursts of 1000, group commit)", f"{n / queued_s:,.0f} msg/s", "-", "-"]]


async def cpu_cost(work: Path, cameras: int, seconds: float) -> list[str]:
    broker = Broker(work / "broker-cpu", extra=["max_queued_messages 0"]).start()
    try:
        r = Reporter(config(broker), SITE, NODE, data_dir(work / "cpu"))
        central = Central(broker, f"{r.topics.base}/#", 10**9, seconds + 30)
        r.set_birth({"version": "bench", "cameras": [f"cam{i}" for i in range(cameras)]})
        stopping = asyncio.Event()
        task = asyncio.create_task(r.run(stopping))
        await until_connected(r)
        cpu0, t0 = time.process_time(), time.monotonic()
        tick = 0
        while time.monotonic() - t0 < seconds:
            if tick % 5 == 0:
                for i in range(cameras):
                    r.set_camera_state(f"cam{i}", {"recording": True, "fps": 20.0, "bitrate": 4_000_000 + tick,
                                                   "width": 1920, "height": 1080, "last_frame_us": time.time_ns() // 1000,
                                                   "health": "ok"})
                r.set_state({"storage": {"free_bytes": 10**12 - tick, "total_bytes": 4 * 10**12},
                             "retention": {"achieved_days": 41.0, "forecast_days": 38.5}, "alarms": []})
            await r.alarm({"id": f"bench:{tick}", "action": "raise"})
            tick += 1
            await asyncio.sleep(max(0.0, t0 + tick - time.monotonic()))
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
        stopping.set()
        await task
        central.proc.terminate()
        central.proc.wait(10)
    finally:
        broker.stop()
    share = 100 * cpu / wall
    log(f"cpu: {cameras} cameras, {wall:.0f} s: {cpu:.2f} s of CPU ({share:.2f} % of one core)")
    return [f"CPU of reporting, {cameras} cameras (states every 5 s, 1 alarm/s)", f"{share:.2f} % of one core",
            "-", "-"]


async def main_async(args: argparse.Namespace) -> int:
    log(f"$ {command_line('bench.mqtt_bench')}")
    log(environment())
    work = Path(tempfile.mkdtemp(prefix="mqtt-bench-", dir=OUT))
    try:
        rows = [await latency(work, args.alarms)]
        rows += await drain(work, args.backlog)
        rows.append(await cpu_cost(work, args.cameras, args.seconds))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log("")
    log(table(["figure", "measured", "target", "result"], rows))
    log(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    (OUT / "mqtt_bench.txt").write_text("\n".join(lines) + "\n")
    return 0 if all(r[3] != "FAIL" for r in rows) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alarms", type=int, default=1000)
    ap.add_argument("--backlog", type=int, default=50_000)
    ap.add_argument("--cameras", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
