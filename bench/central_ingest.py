"""edged-central ingest: a simulated fleet through a real mosquitto into `edged-central run`.

    .venv/bin/python -m bench.central_ingest [--nodes 1000] [--cameras 16] [--sim-seconds 3600]
        [--compare-sim-seconds 600] [--skip-compare]          (from the repository root)
    .venv/bin/python -m bench.central_ingest --postgres [--pg-ingest copy,rows] [--pg-instances 1,3]
        [--nodes 1000] [--sim-seconds 120] [--profile]
        (on a PostgreSQL 15 started here, fsync on: bench/central_pg.py, bench/out/central_ingest_postgres.txt)

The fleet: `--nodes` nodes in sites of 10, `--cameras` each, with the real payloads of
edged/daemon/reporting.py and mqtt/reporter.py at the daemon's cadence per simulated second:
each camera's state every 6 s (retained, QoS 0), the node state each minute, one
destruction per camera per minute (60 s segments past max retention), a signed chain head
each minute; bursts: every node files, approves, uses and exports a request every 10
minutes (audit records in a real hash chain, each with a signed head), and a tenth of the
fleet raises then clears camera_offline on every camera at the half hour. Durable messages
carry a per-node seq and go QoS 1, as the outbox sends them.

The publisher is one process writing pre-encoded MQTT 3.1.1 packets as fast as the broker
takes them (so it costs little of the box); the messages of `--sim-seconds` of fleet time
are sent flat out, so the ingest rate is what edged-central sustains, broker included:
received / (time the last durable message was stored - first publish). Figures:

- sustained ingest (msg/s), against a reference in the same run: a bare paho subscriber
  that only counts the same stream (the broker + paho floor);
- edged-central's RSS sampled through the run (flat = no growth with messages);
- verification lag after the last message is stored;
- `report` for one site-month: in process and as the CLI;
- two instances sharing the store with an MQTT 5 shared subscription against one, on
  `--compare-sim-seconds` of fleet time each.

Every run prints the load average (the box is shared). Output: stdout and
bench/out/central_ingest.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import pstats
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import Lines, cpu_ticks, memory, table
from bench.cpu_split import thread_ticks
from storage import audit
from storage.keys import chainhead
from storage.keys.nodekey import NodeKey
from tests.support.broker import Broker

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TARGET_RATE = 20_000
TARGET_REPORT_S = 2.0
TARGET_SCALE = 1.7
SITE_SIZE = 10
lines: list[str] = []


def log(msg: str = "") -> None:
    print(msg, flush=True)
    lines.append(msg)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# the simulated fleet ------------------------------------------------------------------------------
def varint(n: int) -> bytes:
    """MQTT's variable byte integer. The fleet is simulated with raw PUBLISH packets: a paho
    publisher per node could not generate the load this measures on the same two cores."""
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(topic: bytes, payload: bytes, qos: int, retain: bool, mid: int) -> bytes:
    var = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    return bytes([0x30 | (qos << 1) | int(retain)]) + varint(len(var) + len(payload)) + var + payload


CAMERA_STATE = (b'{"ts_us":%d,"name":"%s","state":"recording","recording":true,"compliance":"OK","fps":20.0,'
                b'"bitrate":%d,"codec":"h264","resolution":"1920x1080","last_frame_us":%d,"error":null,"health":"ok"}')
RETENTION = (b'{"seq":%d,"ts_us":%d,"camera":"%s","start_us":%d,"end_us":%d,"path":"%s/x/%d.mp4","bytes":30000000,'
             b'"sha256":"%s","reason":"max_retention","destroyed_us":%d,"pass_id":%d,"free_before":900000000000,'
             b'"reserve":100000000000}')


class Node:
    per_segment = True  # a `retention` message a destroyed segment (the old shape; bench/central_fleet.py)

    def __init__(self, i: int, cameras: int, t0_us: int, key: NodeKey):
        self.site, self.name = f"site{i // SITE_SIZE:04d}", f"node{i:04d}"
        self.base = f"edged/v1/{self.site}/{self.name}/".encode()
        self.cams = [f"cam{c:02d}" for c in range(cameras)]
        self.seq = t0_us  # as the outbox: starts at the clock in microseconds
        self.key, self.prev, self.audit_seq, self.grant = key, audit.GENESIS, 0, 0
        self.t0 = t0_us

    def durable(self, kind: str, body: dict, ts: int) -> tuple[bytes, bytes, int, bool]:
        self.seq += 1
        text = json.dumps(body, separators=(",", ":"))
        payload = f'{{"seq":{self.seq},"ts_us":{ts},{text[1:]}'.encode()
        return self.base + kind.encode(), payload, 1, False

    def retained(self, what: str, body: dict) -> tuple[bytes, bytes, int, bool]:
        return self.base + what.encode(), json.dumps(body, separators=(",", ":")).encode(), 0, True

    def record(self, ts: int, actor: str, action: str, detail: dict) -> tuple[bytes, bytes, int, bool]:
        self.audit_seq += 1
        body = {"seq": self.audit_seq, "at_us": ts, "actor": actor, "action": action, "detail": detail}
        h = audit.record_hash(self.prev, body)
        prev, self.prev = self.prev, h
        return self.durable("audit", {"seq_local": self.audit_seq, "at_us": ts, "actor": actor, "action": action,
                                      "detail": detail, "prev_hash": prev, "hash": h, "chain_head": h,
                                      "signed_head": chainhead.sign(self.key, self.site, self.name, self.audit_seq,
                                                                    h, ts)}, ts)

    def birth(self, ts: int) -> list[tuple[bytes, bytes, int, bool]]:
        return [(self.base + b"status", b"online", 0, True), self.retained("birth", {
            "ts_us": ts, "version": "0.1.0", "config_hash": hashlib.sha256(self.name.encode()).hexdigest(),
            "session": 1, "site": self.site, "site_name": self.site, "node": self.name,
            "retention": {"min_days": 30.0, "max_days": 365.0, "on_full": "overwrite"},
            "cameras": [{"id": c, "name": c, "enabled": True, "location": "hall"} for c in self.cams],
            "public_key": self.key.public_b64,
            "inspection": {"schedule": "daily", "period_us": 86_400_000_000, "sign_within_us": 86_400_000_000},
            "last_seq": self.seq})]

    def second(self, t: int, i: int) -> list[tuple[bytes, bytes, int, bool]]:
        """Everything this node says in simulated second ``t`` (the hot shapes from templates,
        byte for byte what json.dumps gives for the daemon's dicts)."""
        ts = self.t0 + t * 1_000_000
        out = []
        for k, cam in enumerate(self.cams):
            if (t + k + i) % 6 == 0:
                out.append((self.base + b"camera/" + cam.encode() + b"/state", CAMERA_STATE % (
                    ts, cam.encode(), 4012345 + k, ts - 40_000), 0, True))
            if self.per_segment and (t + 7 * k + i) % 60 == 0:
                end = ts - 365 * 86_400_000_000 - 3_600_000_000
                self.seq += 1
                out.append((self.base + b"retention", RETENTION % (
                    self.seq, ts, cam.encode(), end - 60_000_000, end, cam.encode(), end,
                    hashlib.sha256(b"%d" % end).hexdigest().encode(), ts, t // 60), 1, False))
        if (t + i) % 60 == 30:
            out.append(self.retained("state", {
                "ts_us": ts, "storage": {"total_bytes": 4 * 10**12, "free_bytes": 9 * 10**11, "reserve_bytes": 10**11},
                "retention": {"achieved_days": 365.0, "forecast_days": 380.0,
                              "verdicts": {c: "OK" for c in self.cams}, "suspended": False},
                "recording": {"cameras": len(self.cams), "recording": len(self.cams), "stopped_disk_full": False},
                "alarms": [], "outbox": {"pending": 0, "limit": 100000, "full": False, "refused": {}}}))
        if (t + i) % 600 == 5:  # a request's life: the audit burst
            self.grant += 1
            g, cams = self.grant, self.cams[:2]
            rng = {"cameras": cams, "from_us": ts - 7_200_000_000, "to_us": ts - 3_600_000_000, "mode": "copy"}
            out += [self.record(ts, "carol (os: root)", "login", {"via": "cli", "expires_us": ts + 3_600_000_000}),
                    self.record(ts, "carol (os: root)", "request.file", {"request": g, "kind": "agency",
                                                                       "category": "other", "flag": None, **rng}),
                    self.record(ts, "alice (os: root)", "login", {"via": "cli", "expires_us": ts + 3_600_000_000}),
                    self.record(ts, "alice (os: root)", "request.approve", {"request": g, "kind": "agency",
                                "category": "other", "flag": None, "reason": "ok", "grant": g,
                                "expires_us": ts + 86_400_000_000, **rng}),
                    self.record(ts, "carol (os: root)", "grant.use", {"grant": g, "request": g, "cameras": cams,
                                "from_us": rng["from_us"], "to_us": rng["to_us"], "mode": "copy",
                                "approver": "alice"}),
                    self.record(ts, "carol (os: root)", "export.done", {"export": g, "grant": g, "out_dir": "x",
                                "bytes": 10**8, "manifest_sha256": "ab" * 32})]
        if (t + i) % 60 == 45 and self.audit_seq:
            out.append(self.durable("audit", {"kind": "chain_head", "seq_local": self.audit_seq, "hash": self.prev,
                                              "record_at_us": ts, "at_us": ts,
                                              "signed_head": chainhead.sign(self.key, self.site, self.name,
                                                                            self.audit_seq, self.prev, ts)}, ts))
        if i % 10 == 0 and t in (1800, 1920):  # an alarm burst: a tenth of the fleet loses every camera
            action = "raise" if t == 1800 else "clear"
            for cam in self.cams:
                body = {"id": f"camera_offline:{cam}", "action": action, "at_us": ts}
                if action == "raise":
                    body.update(kind="camera_offline", severity="critical", camera=cam,
                                message="camera unreachable", detail=None)
                out.append(self.durable("alarm", body, ts))
        return out


def generate(path: Path, nodes: int, cameras: int, sim: int, t0: int) -> dict:
    """Write the fleet's `sim` seconds as MQTT packets into `path` (not timed); returns the counts."""
    meta_path = path.with_suffix(".json")
    if meta_path.exists() and path.exists():
        return json.loads(meta_path.read_text())
    keys = [NodeKey(Ed25519PrivateKey.generate()) for _ in range(min(nodes, 50))]  # shared keys: cheap to make
    fleet = [Node(i, cameras, t0, keys[i % len(keys)]) for i in range(nodes)]
    mid, sent, durable, chunk = 0, 0, 0, []
    with open(path, "wb") as f:
        for n in fleet:
            for topic, payload, qos, retain in n.birth(t0):
                chunk.append(publish_packet(topic, payload, qos, retain, 0))
                sent += 1
        for t in range(sim):
            for i, n in enumerate(fleet):
                for topic, payload, qos, retain in n.second(t, i):
                    if qos:
                        mid = mid % 65535 + 1
                        durable += 1
                    chunk.append(publish_packet(topic, payload, qos, retain, mid))
                    sent += 1
            if len(chunk) > 20000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))
    meta = {"sent": sent, "durable": durable, "t0": t0, "final_seq": {f"{n.site}/{n.name}": n.seq for n in fleet}}
    meta_path.write_text(json.dumps(meta))
    return meta


PACE_S = 0.02  # a paced publisher's slice


def publisher_main(args: list[str]) -> int:
    """The publisher process: streams a generated file to the broker (sendfile: next to no CPU),
    flat out, or paced to a third argument's messages a second (live traffic, not a backlog)."""
    port, path = int(args[0]), Path(args[1])
    rate = float(args[2]) if len(args) > 2 else 0.0
    meta = json.loads(path.with_suffix(".json").read_text())
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)  # the CONNACK too: no wait for ever
    cid = b"bench-fleet"
    var = b"\x00\x04MQTT\x04\x02\x00\x00"  # 3.1.1, clean session, keepalive off
    body = var + len(cid).to_bytes(2, "big") + cid
    sock.sendall(b"\x10" + varint(len(body)) + body)
    if sock.recv(4)[:1] != b"\x20":
        raise SystemExit("no CONNACK")
    sock.settimeout(None)
    acks = [0]

    def reader() -> None:  # PUBACKs (4 bytes each): count, so we know the broker took everything
        buf = b""
        while True:
            data = sock.recv(1 << 16)
            if not data:
                return
            buf += data
            n = len(buf) // 4
            acks[0] += n
            buf = buf[n * 4:]

    threading.Thread(target=reader, daemon=True).start()
    started = time.time_ns()
    with open(path, "rb") as f:
        if rate <= 0:
            sock.sendfile(f)
        else:  # the bytes of rate messages a second (the file's mean size), in slices of PACE_S
            size = path.stat().st_size
            step = max(1, int(size / meta["sent"] * rate * PACE_S))
            at, t0 = 0, time.monotonic()
            while at < size:
                at += sock.sendfile(f, at, step)
                wait = t0 + at / step * PACE_S - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
    deadline = time.monotonic() + 3600
    while acks[0] < meta["durable"] and time.monotonic() < deadline:
        time.sleep(0.05)
    # its own figures only: the fleet's (final seqs: 150 KB at 4,000 nodes) are in the meta file the parent has, and
    # more than a pipe's 64 KiB here would block this process's exit until the parent reads, which it does after
    print(json.dumps({"acked": acks[0], "started_ns": started, "finished_ns": time.time_ns()}), flush=True)
    sock.close()
    return 0


# the subscribers ----------------------------------------------------------------------------------
BARE = r"""
import sys, threading, time
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port, want = int(sys.argv[1]), int(sys.argv[2])
got, last = [0], [0]
done = threading.Event()
def on_message(c, u, m):
    got[0] += 1
    last[0] = time.time_ns()
    if got[0] >= want:
        done.set()
c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bare", protocol=MQTTProtocolVersion.MQTTv5)
p = Properties(PacketTypes.CONNECT); p.ReceiveMaximum = 65535
c.on_connect = lambda c, *a: c.subscribe("edged/v1/+/+/#", qos=1)
out = threading.Lock()
def say(text):  # one write a line, under a lock: with PYTHONUNBUFFERED=1 print() writes the text and
    with out:   # its newline apart, and paho's thread's line came split by the main thread's
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
c.on_subscribe = lambda *a: say("subscribed")
c.on_message = on_message
c.connect("127.0.0.1", port, 30, properties=p)
c.loop_start()
end = time.monotonic() + float(sys.argv[3])
while not done.is_set() and time.monotonic() < end:
    say(f"{got[0]} {last[0]}")
    done.wait(0.5)
say(f"{got[0]} {last[0]}")
"""


def central_config(folder: Path, port: int, group: str | None, name: str) -> Path:
    cfg = folder / f"{name}.toml"
    cfg.write_text(f'[broker]\nhost = "127.0.0.1"\nport = {port}\nclient_id = "{name}"\n'
                   + (f'shared_group = "{group}"\n' if group else "")
                   + '[storage]\ndata_dir = "store"\n' + (f'url = "{PG_URL}"\n' if PG_URL else "") + '[verify]\ninterval = "2s"\ngap_grace = "30s"\n'
                   '[dashboard]\nlisten = ""\n[report]\ntimezone = "UTC"\n')
    return cfg


def start_central(cfg: Path, profile: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, **({"EDGED_CENTRAL_PROFILE": str(profile)} if profile is not None else {})}
    return subprocess.Popen([sys.executable, "-m", "central.cli", "--config", str(cfg), "run"], cwd=ROOT, env=env,
                            stdout=open(cfg.with_suffix(".log"), "ab"), stderr=subprocess.STDOUT)


def wait_connected(cfg: Path, n: int = 1, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cfg.with_suffix(".log").read_text(errors="replace").count("subscribed to") >= n:
            return
        time.sleep(0.05)
    raise RuntimeError(f"edged-central did not connect:\n{cfg.with_suffix('.log').read_text(errors='replace')}")


def _box_busy() -> int:
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(f[:8]) - f[3] - f[4]


def stored_sum(db: Path) -> tuple[int, int]:
    """(sum of max_seq, sum of verified_seq) over the nodes: cheap, 1 row per node."""
    if PG_URL:
        import psycopg

        try:
            with psycopg.connect(PG_URL, autocommit=True) as c:
                r = c.execute("SELECT coalesce(sum(max_seq), 0), coalesce(sum(verified_seq), 0) FROM nodes").fetchone()
                return int(r[0]), int(r[1])
        except psycopg.Error:
            return 0, 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            r = c.execute("SELECT coalesce(sum(max_seq), 0), coalesce(sum(verified_seq), 0) FROM nodes").fetchone()
            return int(r[0]), int(r[1])
    except sqlite3.Error:
        return 0, 0


def run_fleet(args, sim: int, instances: int, label: str, work: Path, *, profile: bool = False) -> dict:
    folder = work / label
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    broker = Broker(folder / "broker", extra=["max_queued_messages 0", "max_inflight_messages 0"]).start()
    load_before = load()
    procs, pids, cfgs = [], [], []
    t0 = time.time_ns() // 1000
    try:
        for k in range(instances):
            cfg = central_config(folder, broker.port, "central" if instances > 1 else None, f"central{k}")
            cfgs.append(cfg)
            procs.append(start_central(cfg, folder / f"central{k}.prof" if profile and k == 0 else None))
        for cfg in cfgs:
            wait_connected(cfg)
        stream = generate(work / f"fleet-{args.nodes}x{args.cameras}-{sim}s.mqtt", args.nodes, args.cameras, sim, t0)
        t0 = stream["t0"]
        if STREAMING is not None:
            STREAMING()
        pub = subprocess.Popen([sys.executable, "-m", "bench.central_ingest", "--publisher", str(broker.port),
                                str(work / f"fleet-{args.nodes}x{args.cameras}-{sim}s.mqtt"),
                                str(stream["sent"] / sim if args.live else 0)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
        pids = [p.pid for p in procs]
        hz = os.sysconf("SC_CLK_TCK")
        cpu0 = {"central": sum(cpu_ticks(x) or 0 for x in pids), "broker": cpu_ticks(broker.proc.pid) or 0,
                "box": _box_busy(), "postgres": PG_TICKS() if PG_TICKS else 0}
        threads0 = thread_ticks(pids, -1, group=lambda comm, _d: comm)  # the instances' threads, by their names
        wakes0 = thread_ticks(pids, -1, wakes=True, group=lambda comm, _d: comm)
        db = folder / "store" / "central.db"
        samples: list[tuple[float, int, float]] = []
        start = time.monotonic()
        sent = None
        final_sum = None
        stored_ns = 0
        while True:
            time.sleep(0.5)
            s, v = stored_sum(db)
            rss = sum(memory([p])[0] for p in pids)
            samples.append((time.monotonic() - start, s, rss))
            if sent is None and pub.poll() is not None:
                sent = {**stream, **json.loads(pub.stdout.read())}
                final_sum = sum(sent["final_seq"].values())
            if final_sum is not None and s >= final_sum:
                stored_ns = time.time_ns()
                break
            if time.monotonic() - start > args.timeout:
                raise RuntimeError(f"{label}: not all stored after {args.timeout} s ({s} of {final_sum})")
            if any(p.poll() is not None for p in procs):
                dead = next(c for p, c in zip(procs, cfgs) if p.poll() is not None)
                raise RuntimeError(f"{label}: edged-central exited; its log ends:\n"
                                   + dead.with_suffix(".log").read_text(errors="replace")[-3000:])
        elapsed = (stored_ns - sent["started_ns"]) / 1e9  # from the first publish to the last store
        cpu = {"central": (sum(cpu_ticks(x) or 0 for x in pids) - cpu0["central"]) / hz,
               "broker": ((cpu_ticks(broker.proc.pid) or 0) - cpu0["broker"]) / hz,
               "box": (_box_busy() - cpu0["box"]) / hz,
               "postgres": ((PG_TICKS() if PG_TICKS else 0) - cpu0["postgres"]) / hz}
        threads = {"ingest": _by_thread(threads0, pids), "wakes": _by_thread(wakes0, pids, wakes=True)}
        verify_start = time.monotonic()
        while stored_sum(db)[1] < final_sum and time.monotonic() - verify_start < args.timeout:
            time.sleep(0.2)
        verify_lag = time.monotonic() - verify_start
        # the same from the first publish until every message is verified too (design/0138 amended):
        # the window above holds however much of the verification happened to run during ingest
        cpu_all = {"central": (sum(cpu_ticks(x) or 0 for x in pids) - cpu0["central"]) / hz,
                   "postgres": ((PG_TICKS() if PG_TICKS else 0) - cpu0["postgres"]) / hz}
        threads["all"] = _by_thread(threads0, pids)
        rss_final = sum(memory([p])[0] for p in pids)
        load_after = load()
        for p in procs:
            p.terminate()
        received = 0
        for p, cfg in zip(procs, cfgs):
            p.wait(120)
            for line in cfg.with_suffix(".log").read_text(errors="replace").splitlines():
                if "stopped:" in line:
                    received += int(line.split("stopped: ")[1].split()[0])
        return {"label": label, "instances": instances, "sim": sim, "sent": sent["sent"], "durable": sent["durable"],
                "received": received, "elapsed": elapsed, "rate": received / elapsed, "verify_lag": verify_lag,
                "samples": samples, "rss_final": rss_final, "db": db, "folder": folder,
                "load": f"{load_before} -> {load_after}", "t0": t0, "cpu": cpu, "cpu_all": cpu_all, "threads": threads,
                "profile": folder / "central0.prof" if profile else None}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        broker.stop()


def _by_thread(before: dict[tuple[int, int], tuple[str, int]], pids: list[int], wakes: bool = False) -> dict[str, float]:
    """CPU s (``wakes``: times it slept and was woken) of the instances' threads since ``before``,
    by the thread's name (central/ingest.py names them for the OS): a thread started since counts from 0."""
    out: dict[str, float] = {}
    unit = 1 if wakes else os.sysconf("SC_CLK_TCK")
    for key, (name, n) in thread_ticks(pids, -1, wakes=wakes, group=lambda comm, _d: comm).items():
        out[name] = out.get(name, 0.0) + (n - before.get(key, (name, 0))[1]) / unit
    return out


def run_bare(args, sim: int, work: Path) -> dict:
    folder = work / "bare"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    broker = Broker(folder / "broker", extra=["max_queued_messages 0", "max_inflight_messages 0"]).start()
    load_before = load()
    sub = None
    try:
        # count first: the publisher's run tells how many messages there are
        t0 = time.time_ns() // 1000
        sub = subprocess.Popen([sys.executable, "-c", BARE, str(broker.port), str(10**12), str(args.timeout)],
                               stdout=subprocess.PIPE, text=True)
        out = Lines(sub.stdout, "the bare subscriber")  # a deadline and EOF on every wait (issue 43)
        out.wait_for("subscribed", time.monotonic() + 60)
        meta = generate(work / f"fleet-{args.nodes}x{args.cameras}-{sim}s.mqtt", args.nodes, args.cameras, sim, t0)
        pub = subprocess.run([sys.executable, "-m", "bench.central_ingest", "--publisher", str(broker.port),
                              str(work / f"fleet-{args.nodes}x{args.cameras}-{sim}s.mqtt")], cwd=ROOT,
                             capture_output=True, text=True, check=True)
        sent = {**meta, **json.loads(pub.stdout)}
        got, last_ns, same_since = 0, 0, time.monotonic()
        while time.monotonic() - same_since < 3:  # until its count stops growing
            line = out.next(time.monotonic() + 10).split()  # it prints every 0.5 s
            if len(line) != 2 or not all(x.isdigit() for x in line):
                continue
            n, at = map(int, line)
            if n != got:
                got, last_ns, same_since = n, at, time.monotonic()
        return {"received": got, "sent": sent["sent"], "elapsed": (last_ns - sent["started_ns"]) / 1e9,
                "rate": got / ((last_ns - sent["started_ns"]) / 1e9), "load": f"{load_before} -> {load()}"}
    finally:
        if sub is not None:
            sub.kill()
        broker.stop()


def time_report(res: dict) -> tuple[float, float, dict]:
    from central.report.report import build
    from central.store.store import Store
    from zoneinfo import ZoneInfo

    month = time.strftime("%Y-%m", time.gmtime(res["t0"] / 1e6))
    store = Store(res["db"], readonly=True)
    t = time.perf_counter()
    r = build(store, "site0000", month, ZoneInfo("UTC"), time.time_ns() // 1000 + 4 * 3_600_000_000)
    inproc = time.perf_counter() - t
    store.close()
    cfg = res["folder"] / "central0.toml"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "central.cli", "--config", str(cfg), "report", "--site", "site0000",
                    "--month", month, "--out", str(res["folder"] / "report")], cwd=ROOT, check=True,
                   capture_output=True)
    cli = time.perf_counter() - t
    return inproc, cli, r["summary"]


def _cpu(r: dict) -> str:
    c = r["cpu"]
    return f"{c['central']:.1f} / {c['broker']:.1f} / {c['box']:.1f} in {r['elapsed']:.1f} s"


def profile_top(path: Path, n: int = 18) -> str:
    s = io.StringIO()
    pstats.Stats(str(path), stream=s).sort_stats("tottime").print_stats(n)
    return s.getvalue()


def compare(args, work: Path) -> None:
    one = run_fleet(args, args.compare_sim_seconds, 1, "one", work)
    two = run_fleet(args, args.compare_sim_seconds, 2, "two", work)
    ratio = two["rate"] / one["rate"]
    log(f"\n## shared subscription, {args.compare_sim_seconds} s of fleet time ({one['sent']:,} messages)")
    log(table(["instances", "msg/s", "CPU s: edged-central / mosquitto / box", "load (before -> after)"],
              [["1", f"{one['rate']:,.0f}", _cpu(one), one["load"]],
               ["2", f"{two['rate']:,.0f}", _cpu(two), two["load"]],
               ["2 / 1", f"{ratio:.2f}x (target >= {TARGET_SCALE}x: {'yes' if ratio >= TARGET_SCALE else 'NO'})",
                "", ""]]))

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--publisher":
        return publisher_main(argv[1:])
    p = argparse.ArgumentParser(prog="bench.central_ingest")
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--sim-seconds", type=int, default=3600, help="fleet time sent flat out (an hour's worth)")
    p.add_argument("--compare-sim-seconds", type=int, default=600, help="fleet time for one vs two instances")
    p.add_argument("--skip-compare", action="store_true")
    p.add_argument("--compare-only", action="store_true", help="only one against two instances")
    p.add_argument("--profile", action="store_true", help="cProfile the (first) instance of the main run")
    p.add_argument("--live", action="store_true",
                   help="the fleet's messages sent at its own pace (its fleet time in as many seconds: live "
                        "traffic), not flat out (a backlog)")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--postgres", action="store_true",
                   help="into a PostgreSQL 15 started here ([storage] url): bench/central_pg.py")
    p.add_argument("--pg-ingest", default="copy", help="--postgres: ingest paths compared in one run (copy,rows)")
    p.add_argument("--pg-instances", default="1", help="--postgres: instance counts compared in one run (1,3)")
    args = p.parse_args(argv)
    if args.postgres:
        return postgres_main(args, argv)
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="central-ingest-", dir=OUT))
    cmd = ".venv/bin/python -m bench.central_ingest " + " ".join(argv)
    log(f"# central_ingest: {args.nodes} nodes x {args.cameras} cameras")
    log(f"command (from the repository root): {cmd.strip()}")
    log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {platform.node()}, {os.cpu_count()} cores, load {load()}; "
        f"Python {platform.python_version()}; "
        + subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.split("\n")[0])
    try:
        if args.compare_only:
            compare(args, work)
            return 0
        sim_ref = args.compare_sim_seconds
        bare = run_bare(args, sim_ref, work)
        log(f"reference: bare paho subscriber (counts only), {sim_ref} s of fleet time: {bare['received']} of "
            f"{bare['sent']} messages in {bare['elapsed']:.1f} s = {bare['rate']:,.0f} msg/s (load {bare['load']})")
        main_run = run_fleet(args, args.sim_seconds, 1, "one-hour", work, profile=args.profile)
        r = main_run
        log(f"\n## one instance, {args.sim_seconds} s of fleet time ({r['sent']:,} messages, {r['durable']:,} durable)")
        rows = [["sustained ingest (msg/s)", f"{r['rate']:,.0f}", f">= {TARGET_RATE:,}",
                 "yes" if r["rate"] >= TARGET_RATE else "NO"],
                ["vs the bare subscriber", f"{r['rate'] / bare['rate']:.2f}x", "-", "-"],
                ["received / sent", f"{r['received']:,} / {r['sent']:,}", "all durable stored", "yes"],
                ["verification lag after the last store (s)", f"{r['verify_lag']:.1f}", "-", "-"],
                ["CPU s: edged-central / mosquitto / whole box", _cpu(r), "-", "-"]]
        samples = r["samples"]
        quarters = [samples[min(len(samples) - 1, int(len(samples) * q))] for q in (0.25, 0.5, 0.75, 1.0)]
        for q, (t, _s, rss) in zip(("25%", "50%", "75%", "100%"), quarters):
            rows.append([f"RSS at {q} of the run (t={t:.0f} s)", f"{rss:.0f} MiB", "flat", "-"])
        rss_vals = [x[2] for x in samples[len(samples) // 4:]]
        flat = max(rss_vals) - min(rss_vals) < 0.2 * max(rss_vals) if rss_vals else False
        rows.append(["RSS growth over the last 3/4 of the run", f"{(max(rss_vals) - min(rss_vals)):.0f} MiB",
                     "flat (< 20 %)", "yes" if flat else "NO"])
        inproc, cli, summary = time_report(r)
        rows.append(["report, one site-month, in process (s)", f"{inproc:.2f}", f"< {TARGET_REPORT_S}",
                     "yes" if inproc < TARGET_REPORT_S else "NO"])
        rows.append(["report, one site-month, the CLI (s)", f"{cli:.2f}", f"< {TARGET_REPORT_S}",
                     "yes" if cli < TARGET_REPORT_S else "NO"])
        log(table(["figure", "value", "target", "met"], rows))
        log(f"report summary: {json.dumps(summary)}; load {r['load']}")
        if not args.skip_compare:
            compare(args, work)
        if args.profile and r["profile"]:
            for name in ("store", "net"):
                path = Path(f"{r['profile']}.{name}")
                if path.exists():
                    log(f"\n## where edged-central's time goes: its {name} thread (cProfile, by own time)")
                    log("```\n" + profile_top(path) + "```")
    finally:
        (OUT / "central_ingest.txt").write_text("\n".join(lines) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    return 0


PG_URL: str | None = None   # set by bench/central_pg.py: instances store into this PostgreSQL
PG_TICKS = None              # and its CPU ticks so far (a function), counted beside the broker's
STREAMING = None             # called as the publisher starts (bench/central_pg.py's lock-wait sampler)


def postgres_main(args, argv: list[str]) -> int:
    from bench.central_pg import main as pg_main

    return pg_main(args, argv)


if __name__ == "__main__":
    raise SystemExit(main())
