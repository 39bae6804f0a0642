"""The central office for a fleet (issue 43): 1 against 3 `edged-central run` instances on one
PostgreSQL 15 (fsync on), a day-long office outage extrapolated to 4,000 nodes, and a kill -9 of
one of three instances, in one run:

    .venv/bin/python -m bench.central_fleet [--nodes 50] [--sim-seconds 1800] [--instances 1,3,3,1]
        [--fleet 4000] [--kill-test] [--profile]          (from the repository root)

The instance counts run in the order given, each on a fresh database; a count given twice is
averaged (1,3,3,1: the load other work puts on a shared box drifts, and CPU seconds a message
drift with it, so each count sees the same drift).

The sample: `--nodes` simulated 16-camera nodes' `--sim-seconds` of what a box sends the office
while the office is away (its outbox's durable messages, drained flat out when it is back): the
payloads of bench/central_ingest.py's fleet plus, as the daemon sends them each retention pass
(edged/daemon/reporting.py, storage/retention/run.py), the `retention.pass` audit record and the
forced `footage` message with its spans; the retained states are left out (only the last one of
each is delivered after an outage). The timestamps lie in the past (a backlog).

Per instance count, a fresh database and broker, two phases:
- ingest: the instances with verification held off ([verify] interval 1h) store the sample;
  CPU seconds of the instances and of PostgreSQL per thousand messages; the instances' sessions
  seen waiting on a lock (sampled every 50 ms) over the phase's wall time.
- verification: a fresh broker (nothing arrives) and the instances started again on the stored,
  unverified backlog ([verify] interval 1s): the backlog is all they do, so verification is the
  bottleneck. Per instance: messages verified (its heartbeat's figures), its process's CPU
  seconds and those of its PostgreSQL sessions, leases held; sessions waiting on a lock.

With 3 instances, 2 cores cap the wall time (3 instances, PostgreSQL, the broker and the
sampler share them), so the throughput of N instances is extrapolated from CPU: each instance on
a core of its own (PostgreSQL on its own cores) verifies in max over the instances of (its CPU
seconds + its lock waits); throughput = messages / that, against one instance's messages / (its
CPU seconds + its lock waits). The serial fraction is the lock-wait session-seconds over the
instances' busy CPU seconds. Then a kill -9 of one of the three (never restarted): the time until
the two left hold the rendezvous split of every node (central/intake/leases.py) among themselves.
`--kill-test` also runs tests/test_central_postgres.py's test of an instance killed for good
while a real box reports (messages lost, findings left once the resends are in) and prints its
figures. Output: stdout and bench/out/central_fleet.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import central_ingest as ci
from bench.central_pg import Sampler, _pg_ticks
from bench.common import cpu_ticks, table
from storage.keys.nodekey import NodeKey
from tests.support.broker import Broker

HZ = os.sysconf("SC_CLK_TCK")
DAY = 86_400
# what a 16-camera box at the defaults sends a day (the cadences in the code): a retention pass
# a minute ([retention] interval, edged/config/retention.py) destroys each camera's oldest 60 s
# segment ([storage] segment_length), one `retention` message each; the pass's `retention.pass`
# audit record (storage/retention/run.py); the `footage` message the destruction forces
# (edged/daemon/reporting.py _forward_records, else every FOOTAGE_EVERY_S); the signed chain head,
# at most every [mqtt] chain_head (1 min) when the chain moved (every pass moves it); and people's
# work: a request filed, approved, used and exported every 10 minutes (6 audit records, a busy site).
PASS_S, SEGMENT_S, PEOPLE_EVERY_S, PEOPLE_RECORDS = 60, 60, 600, 6
IDLE_S = 10.0  # the window an instance's cost with nothing to do is measured over
GAP_GRACE_S = 30  # the instances' [verify] gap_grace


def day_per_node(cameras: int, batched: bool = False) -> dict[str, int]:
    """A node-day's durable messages by kind: a `retention` message a destroyed segment (the old
    shape), or a retention pass's in one (issue 53; at most 64 destructions a message)."""
    passes = DAY // PASS_S
    per_pass = cameras * PASS_S // SEGMENT_S
    return {"retention": passes * -(-per_pass // 64) if batched else cameras * DAY // SEGMENT_S, "footage": passes,
            "audit retention.pass": passes, "audit chain head": passes,
            "audit, people": PEOPLE_RECORDS * DAY // PEOPLE_EVERY_S}


class OutageNode(ci.Node):
    """A node's durable messages (the outbox) with the retention pass's audit record and footage;
    ``batched``: the pass's destructions in one `retention` message (issue 53), else one each."""

    batched = False

    def second(self, t: int, i: int) -> list[tuple[bytes, bytes, int, bool]]:
        ts = self.t0 + t * 1_000_000
        out = []
        if (t + i) % PASS_S == 0 and self.batched:
            end = ts - 365 * 86_400_000_000 - 3_600_000_000
            self.seq += 1  # the same destructions as the old shape's, in one message
            gone = [json.loads(ci.RETENTION % (0, ts, c.encode(), end - 60_000_000, end, c.encode(), end,
                                               hashlib.sha256(b"%d" % end).hexdigest().encode(), ts, t // 60))
                    for c in self.cams]
            for d in gone:
                del d["seq"], d["ts_us"]
            out.append((self.base + b"retention", json.dumps({"seq": self.seq, "ts_us": ts, "pass_id": t // 60,
                                                               "destructions": gone}, separators=(",", ":")).encode(),
                        1, False))
        if (t + i) % PASS_S == 0:
            a, b = ts - 120_000_000, ts - 60_000_000
            out.append(self.durable("footage", {"first_id": t + 1, "last_id": t + len(self.cams), "from_us": a,
                                                "to_us": b, "segments": len(self.cams), "cameras": len(self.cams),
                                                "spans": {c: [[a, b, "live"]] for c in self.cams}}, ts))
            out.append(self.record(ts, "edged", "retention.pass", {"pass": t // PASS_S, "destroyed": len(self.cams),
                                                                   "bytes": 30_000_000 * len(self.cams),
                                                                   "by_reason": {"max_retention": len(self.cams)}}))
        return out + [m for m in super().second(t, i) if m[2]]  # durable only: the retained states are not queued


def generate(path: Path, nodes: int, cameras: int, sim: int, t0: int, batched: bool = False) -> dict:
    """The sample as MQTT packets (not timed); the counts."""
    keys = [NodeKey(Ed25519PrivateKey.generate()) for _ in range(min(nodes, 50))]
    fleet = [OutageNode(i, cameras, t0, keys[i % len(keys)]) for i in range(nodes)]
    for node in fleet:
        node.batched, node.per_segment = batched, not batched
    mid, sent, durable, kinds = 0, 0, 0, {}
    with open(path, "wb") as f:
        f.write(b"".join(ci.publish_packet(tp, p, q, r, 0) for n in fleet for tp, p, q, r in n.birth(t0)))
        sent += 2 * len(fleet)
        for t in range(sim):
            chunk = []
            for i, n in enumerate(fleet):
                for topic, payload, qos, retain in n.second(t, i):
                    mid = mid % 65535 + 1
                    durable += 1
                    kind = topic.rsplit(b"/", 1)[1].decode()
                    kinds[kind] = kinds.get(kind, 0) + 1
                    chunk.append(ci.publish_packet(topic, payload, qos, retain, mid))
                    sent += 1
            f.write(b"".join(chunk))
    meta = {"sent": sent, "durable": durable, "t0": t0, "kinds": kinds,
            "final_seq": {f"{n.site}/{n.name}": n.seq for n in fleet}}
    path.with_suffix(".json").write_text(json.dumps(meta))
    return meta


def config(folder: Path, port: int, name: str, url: str, interval: str) -> Path:
    cfg = folder / f"{name}.toml"
    cfg.write_text(f'[broker]\nhost = "127.0.0.1"\nport = {port}\nclient_id = "{name}"\nshared_group = "central"\n'
                   f'[storage]\ndata_dir = "store"\nurl = "{url}"\n[verify]\ninterval = "{interval}"\ngap_grace = "{GAP_GRACE_S}s"\n'
                   '[quota]\nmessages_per_second = 100000\nburst = 100000\n'
                   '[dashboard]\nlisten = ""\n[report]\ntimezone = "UTC"\n')
    return cfg


def sums(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as c:
        r = c.execute("SELECT coalesce(sum(max_seq), 0), coalesce(sum(verified_seq), 0) FROM nodes").fetchone()
    return int(r[0]), int(r[1])


def backends(url: str, pids: list[int]) -> dict[int, list[int]]:
    """{instance pid: its PostgreSQL sessions' pids} (application_name 'edged-central PID ...')."""
    with psycopg.connect(url, autocommit=True) as c:
        rows = c.execute("SELECT application_name, pid FROM pg_stat_activity"
                         " WHERE application_name LIKE 'edged-central %%'").fetchall()
    out: dict[int, list[int]] = {p: [] for p in pids}
    for app, pid in rows:
        owner = int(app.split()[1])
        if owner in out:
            out[owner].append(pid)
    return out


def ticks(pids: list[int], url: str) -> dict[int, tuple[int, int]]:
    """{instance pid: (its process's CPU ticks, its live PostgreSQL sessions' CPU ticks)}."""
    b = backends(url, pids)
    return {p: (cpu_ticks(p) or 0, sum(cpu_ticks(x) or 0 for x in b[p])) for p in pids}


def lease_keys(url: str) -> dict[int, set[int]]:
    """{instance pid: the advisory lock keys it holds}."""
    from tests.support.catalog import central_pg_leases

    with psycopg.connect(url, autocommit=True) as c:
        rows = central_pg_leases(c)
    out: dict[int, set[int]] = {}
    for app, k in rows:
        if app.startswith("edged-central "):
            out.setdefault(int(app.split()[1]), set()).add(k if k < 2**63 else k - 2**64)
    return out


_OURS = ("pg_stat_activity", "pg_locks", "sum(max_seq)", "SELECT id, figures FROM instances", "pg_stat_statements")


def statements(url: str) -> tuple[int, list[tuple[int, str]]]:
    """Statements PostgreSQL ran for this database since the reset (pg_stat_statements: every
    round trip of the instances, BEGIN, COMMIT and SAVEPOINT included; a row of a pipelined
    executemany counted as one), less the benchmark's own; and the top ones by calls."""
    with psycopg.connect(url, autocommit=True) as c:
        rows = c.execute("SELECT calls, query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
                         " WHERE datname = current_database()) ORDER BY calls DESC").fetchall()
    mine = [(int(k), " ".join(q.split())[:80]) for k, q in rows if not any(x in q for x in _OURS)]
    return sum(k for k, _q in mine), mine[:6]


def wait(cond, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout:.0f} s: {what}")


class Phase:
    """n instances on a fresh broker; their processes and start-up CPU."""

    def __init__(self, folder: Path, n: int, url: str, interval: str, tag: str, profile: Path | None = None):
        self.folder, self.url = folder, url
        self.broker = Broker(folder / f"broker-{tag}", extra=["max_queued_messages 0", "max_inflight_messages 0"]).start()
        self.cfgs = [config(folder, self.broker.port, f"central{k}", url, interval) for k in range(n)]
        for c in self.cfgs:
            c.with_suffix(".log").unlink(missing_ok=True)
        self.procs = [ci.start_central(c, profile if k == 0 else None) for k, c in enumerate(self.cfgs)]
        for c in self.cfgs:
            ci.wait_connected(c, timeout=60)
        self.pids = [p.pid for p in self.procs]
        wait(lambda: all(backends(url, self.pids).values()), 30, "each instance's sessions")
        self.t0 = ticks(self.pids, url)

    def cpu(self) -> dict[int, tuple[float, float]]:
        now = ticks(self.pids, self.url)
        return {p: ((now[p][0] - self.t0[p][0]) / HZ, (now[p][1] - self.t0[p][1]) / HZ) for p in self.pids}

    def check(self) -> None:
        for p, c in zip(self.procs, self.cfgs):
            if p.poll() is not None:
                raise RuntimeError(f"edged-central exited; its log ends:\n{c.with_suffix('.log').read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(sig)
        for p in self.procs:
            try:
                p.wait(120)
            except subprocess.TimeoutExpired:
                p.kill()
        self.broker.stop()


# over 60 lines on purpose: the two phases of one instance count, in the order they run
def run(args, pg, sample: Path, meta: dict, n: int, work: Path) -> dict:
    folder = work / f"n{n}"
    folder.mkdir(parents=True)
    url = pg.database()
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    final = sum(meta["final_seq"].values())
    out: dict = {"n": n}
    # ingest, verification held off
    ph = Phase(folder, n, url, "1h", "ingest")
    try:
        with Sampler(url) as s:
            s.counting = True
            pg0, box0 = _pg_ticks(pg), ci._box_busy()
            t = time.monotonic()
            pub = subprocess.run([sys.executable, "-m", "bench.central_ingest", "--publisher", str(ph.broker.port),
                                  str(sample)], cwd=ci.ROOT, capture_output=True, text=True, timeout=args.timeout,
                                 check=True)
            started = json.loads(pub.stdout)["started_ns"]
            wait(lambda: (ph.check(), sums(url)[0] >= final)[1], args.timeout, "every message stored", 0.25)
            out["ingest_wall"] = time.time_ns() / 1e9 - started / 1e9
            out["ingest_cpu"] = list(ph.cpu().values())  # by instance, in order
            out["ingest_pg"] = (_pg_ticks(pg) - pg0) / HZ
            out["ingest_box"] = (ci._box_busy() - box0) / HZ
            out["ingest_wait"], out["ingest_wait_by"] = s.wait_s, dict(s.by_event)
            out["ingest_wait_q"] = sorted(s.by_query.items(), key=lambda x: -x[1])[:2]
            # the month's partition, made by the first batch of a fresh store (the others wait for its
            # commit): once a month, not a cost of ingest (central/store/pgstore.py _partitions)
            # (the creator under its advisory lock; the others' statements on the table, a relation lock,
            # while its CREATE ... PARTITION OF holds the table: the only relation locks ingest takes)
            out["ingest_wait_month"] = (sum(v for q, v in s.by_query.items() if "pg_advisory_xact_lock" in q)
                                        + s.by_event.get("relation", 0.0))
            out["ingest_elapsed"] = time.monotonic() - t
    finally:
        ph.stop(signal.SIGKILL)  # stored is stored; a SIGTERM would verify the backlog on the way out
    with psycopg.connect(url, autocommit=True) as c:
        out["pre_verified"], out["stored"] = c.execute(
            "SELECT count(*) FILTER (WHERE verified = 1), count(*) FROM messages").fetchone()
    # verification of the stored backlog, nothing arriving; its nodes are new to this fresh store, and a
    # node's first pass waits until its lowest seq is gap_grace old (design/0210): a day's backlog is of
    # nodes the office knew, so the phase starts once the backlog is that old (not counted)
    stored_at = time.monotonic()
    wait(lambda: time.monotonic() - stored_at > GAP_GRACE_S + 1, GAP_GRACE_S + 10, "the backlog gap_grace old", 0.5)
    prof = folder / "verify.prof" if args.profile else None
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SELECT pg_stat_statements_reset()")
    ph = Phase(folder, n, url, "1s", "verify", prof)
    try:
        with Sampler(url) as s:
            s.counting = True
            pg0, box0, t = _pg_ticks(pg), ci._box_busy(), time.monotonic()
            split: dict[int, int] = {}

            def done() -> bool:
                ph.check()
                if not split:
                    held = lease_keys(url)
                    if len(held) == n:
                        split.update({p: len(v) for p, v in held.items()})
                return sums(url)[1] >= final
            wait(done, args.timeout, "every message verified", 0.25)
            out["verify_wall"] = time.monotonic() - t
            out["verify_cpu"] = list(ph.cpu().values())
            out["verify_pg"] = (_pg_ticks(pg) - pg0) / HZ
            out["verify_box"] = (ci._box_busy() - box0) / HZ
            out["verify_wait"], out["verify_wait_by"] = s.wait_s, dict(s.by_event)
            out["statements"], out["statements_by"] = statements(url)
        ids = {f"central{k}": p for k, p in enumerate(ph.pids)}

        def figures() -> dict[int, dict] | None:
            with psycopg.connect(url, autocommit=True) as c:
                rows = {r[0]: r[1] or {} for r in c.execute("SELECT id, figures FROM instances").fetchall()}
            got = {ids[i]: f for i, f in rows.items() if i in ids}
            return got if sum(f.get("verified", 0) for f in got.values()) >= out["stored"] - out["pre_verified"] else None
        got = wait(figures, 30, "the heartbeats' figures")
        # what an instance costs with nothing to do (heartbeats, a pass a second over no work, the
        # broker's keepalives): measured over a window after the backlog, taken off the figures
        # above for the per-message cost (on a saturated box the phase's wall time, and so this
        # cost, grows with the instances sharing the cores)
        before, t_idle = ph.cpu(), time.monotonic()
        time.sleep(IDLE_S)  # a measuring window, not a wait for a condition
        after, t_idle = ph.cpu(), time.monotonic() - t_idle
        out["idle"] = [(after[p][0] + after[p][1] - before[p][0] - before[p][1]) / t_idle for p in ph.pids]
        held = lease_keys(url)
        out["verified_by"] = [got.get(p, {}).get("verified", 0) for p in ph.pids]
        out["leases"] = [len(held.get(p, ())) for p in ph.pids]
        out["leases_first"] = [split.get(p, 0) for p in ph.pids]
        with psycopg.connect(url, autocommit=True) as c:
            out["findings"] = c.execute("SELECT kind, count(*), min(left(message, 160)) FROM findings"
                                        " GROUP BY 1 ORDER BY 2 DESC").fetchall()
            out["nodes"] = [r[0] for r in c.execute("SELECT node FROM nodes").fetchall()]
        if n >= 2:
            out["kill"] = kill_one(ph, url, ids, out["nodes"])
    finally:
        ph.stop()
    if prof is not None and Path(f"{prof}.verify").exists():
        out["profile"] = ci.profile_top(Path(f"{prof}.verify"), 22)
    return out


def kill_one(ph: Phase, url: str, ids: dict[str, int], nodes: list[str]) -> dict:
    """kill -9 the last instance for good: the time until the others hold the rendezvous split."""
    from central.intake import leases
    from central.store.pgstore import lock_key

    left = tuple(sorted(ids))[:-1]
    want = {ids[i]: {lock_key(x) for x in nodes if leases.owner(x, left) == i} for i in left}
    victim = ph.procs[-1]
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    t = time.monotonic()
    wait(lambda: lease_keys(url) == want, 60, "the killed instance's share taken by the others", 0.1)
    return {"even_s": time.monotonic() - t, "split": {p: len(v) for p, v in want.items()}}


def kill_test() -> str:
    """tests/test_central_postgres.py's instance killed for good while a real box reports."""
    name = "tests/test_central_postgres.py::test_an_instance_killed_for_good_loses_nothing_once_the_box_resends"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly", name], cwd=ci.ROOT,
                       capture_output=True, text=True, timeout=600)
    said = [ln for ln in r.stdout.splitlines() if "after the kill" in ln]
    return (said[-1].strip() if said else "no figures printed") + f" (pytest exit {r.returncode})"


# the report -------------------------------------------------------------------------------------
lines: list[str] = []


def log(msg: str = "") -> None:
    print(msg, flush=True)
    lines.append(msg)


def figures(r: dict, msgs: int, share: float) -> dict:
    """The run's per-message and capacity figures (CPU seconds; see the module's docstring).
    ``share``: the largest instance's share of the fleet's nodes by central/intake/leases.py (1/n at an
    even split; the sample's few nodes split less evenly by chance than a fleet's thousands)."""
    ing = sum(a for a, _b in r["ingest_cpu"])
    # its process + its sessions (one verify thread's round trips), less its cost with nothing to do
    idle = [x * r["verify_wall"] for x in r["idle"]]
    ver = [max(a + b - i, 0.0) for (a, b), i in zip(r["verify_cpu"], idle)]
    ver_proc = sum(a for a, _b in r["verify_cpu"]) - sum(idle) * sum(a for a, _b in r["verify_cpu"]) / max(
        sum(a + b for a, b in r["verify_cpu"]), 1e-9)  # the idle cost shared as the CPU is
    pg_net = r["verify_pg"] - (sum(idle) - (sum(a for a, _b in r["verify_cpu"]) - ver_proc))
    busy = sum(ver)
    return {"ingest_per_k": 1000 * ing / msgs, "ingest_pg_per_k": 1000 * (ing + r["ingest_pg"]) / msgs,
            "ingest_wait_pct": 100 * r["ingest_wait"] / r["ingest_wall"],
            "ingest_wait_pct_steady": 100 * (r["ingest_wait"] - r["ingest_wait_month"]) / r["ingest_wall"],
            "verify_per_k": 1000 * ver_proc / msgs, "verify_pg_per_k": 1000 * (ver_proc + pg_net) / msgs,
            "verify_wait_pct": 100 * r["verify_wait"] / r["verify_wall"],
            "serial": r["verify_wait"] / busy if busy else 0.0,
            # each instance on a core of its own, its sessions on PostgreSQL's: the slowest instance's
            # CPU path plus every lock wait (as if none overlapped: an upper bound)
            "capacity": msgs / (max(ver) + r["verify_wait"]),
            # the same at the fleet's split: the busiest instance does share x all of the work
            "capacity_fleet": msgs / (sum(ver) * share + r["verify_wait"]),
            "path": sum(ver) / msgs,  # CPU s a message on verification's path: the instance and its session
            "measured": msgs / r["verify_wall"], "ingest_rate": msgs / r["ingest_wall"],
            "per_msg_office": (ing + r["ingest_pg"] + ver_proc + pg_net) / msgs,
            "per_msg_instances": (ing + ver_proc) / msgs, "per_msg_pg": (r["ingest_pg"] + pg_net) / msgs,
            "idle": sum(r["idle"]) / len(r["idle"]), "idle_share": sum(idle) / max(sum(a + b for a, b in r["verify_cpu"]), 1e-9)}


def evenness(counts: list[int], total: int) -> float:
    """The largest share's distance from an even one, as a fraction of it."""
    even = total / len(counts)
    return max(abs(c - even) for c in counts) / even if counts and even else 0.0


SHAPES = {"old": "a message a destroyed segment (the old shape)", "new": "a message a retention pass (issue 53)"}


def statements_per_msg(r: dict) -> float:
    return r["statements"] / max(r["stored"] - r["pre_verified"], 1)


# over 60 lines on purpose: one shape's sample, runs and day-long outage, in the order printed
def one_shape(args, pg, work: Path, shape: str) -> dict:
    from central.intake import leases

    counts = [int(x) for x in args.instances.split(",")]
    runs: list[tuple[int, dict]] = []  # (instances, the run), in the order run (1,3,3,1: drift cancels)
    log(f"\n# {SHAPES[shape]}")
    t0 = time.time_ns() // 1000 - (args.sim_seconds + 600) * 1_000_000  # a backlog: every stamp in the past
    sample = work / f"sample-{shape}.mqtt"
    meta = generate(sample, args.nodes, args.cameras, args.sim_seconds, t0, batched=shape == "new")
    msgs = meta["durable"]
    day = day_per_node(args.cameras, batched=shape == "new")
    per_day = sum(day.values())
    sampled = msgs / args.nodes / args.sim_seconds * DAY
    log(f"\nthe sample: {msgs:,} durable messages ({', '.join(f'{k} {v:,}' for k, v in sorted(meta['kinds'].items()))})"
        f" and {args.nodes} births; {sample.stat().st_size / msgs:.0f} bytes a message on the wire")
    log(f"a day of a {args.cameras}-camera node by the code's cadences: "
        + ", ".join(f"{k} {v:,}" for k, v in day.items()) + f" = {per_day:,} durable messages "
        f"(the sample's rate: {sampled:,.0f} a node-day)")
    for n in counts:
        log(f"\n## {SHAPES[shape]}, {n} instance(s): ingest, then verification of the stored backlog (load {ci.load()})")
        r = run(args, pg, sample, meta, n, work / f"{shape}{len(runs)}")
        runs.append((n, r))
        log(f"ingest {r['ingest_wall']:.1f} s wall; verification {r['verify_wall']:.1f} s wall; box busy "
            f"{r['ingest_box']:.1f} + {r['verify_box']:.1f} CPU s; PostgreSQL {r['ingest_pg']:.1f} + "
            f"{r['verify_pg']:.1f} CPU s; lock waits by event: ingest {r['ingest_wait_by'] or '-'}, "
            f"verification {r['verify_wait_by'] or '-'}; ingest's waiting statements "
            + ("; ".join(f"{q} ({v:.2f} s)" for q, v in r["ingest_wait_q"]) or "-"))
        log(table(["instance", "ingest CPU s", "verification CPU s: process + its sessions",
                   "messages verified", "CPU s / 1000 verified", "idle CPU s / s", "leases: once all held any / at the end"],
                  [[f"central{k}", f"{r['ingest_cpu'][k][0]:.1f}", f"{a:.1f} + {b:.1f}",
                    f"{r['verified_by'][k]:,}", f"{1000 * (a + b) / max(r['verified_by'][k], 1):.3f}", f"{r['idle'][k]:.3f}",
                    f"{r['leases_first'][k]} / {r['leases'][k]}"] for k, (a, b) in enumerate(r["verify_cpu"])]))
        log(f"findings: {r['findings'] or 'none'}; messages stored {r['stored']:,} of {msgs:,}, "
            f"verified before the verification phase {r['pre_verified']}")
        if "profile" in r:
            log("the first instance's verify thread (cProfile, by own time):\n```\n" + r["profile"] + "```")
        if "kill" in r:
            k = r["kill"]
            log(f"kill -9 of one of {n} (never restarted): the others held the rendezvous split of all "
                f"{len(r['nodes'])} nodes ({' / '.join(map(str, k['split'].values()))}) {k['even_s']:.1f} s after "
                f"(target <= 30 s: {'met' if k['even_s'] <= 30 else 'NOT met'})")
    fleet_nodes = [f"site{i // ci.SITE_SIZE:04d}/node{i:04d}" for i in range(args.fleet)]
    shares = {n: max(leases.split(fleet_nodes, tuple(f"central{k}" for k in range(n))).values()) / args.fleet
              for n in counts}
    each = [(n, figures(r, msgs, shares[n])) for n, r in runs]
    f = {n: {k: sum(x[k] for m, x in each if m == n) / sum(1 for m, _x in each if m == n) for k in each[0][1]}
         for n in counts}  # the mean of the rounds of each count
    last = {n: r for n, r in runs}
    counts = sorted(set(counts))
    log("\n## summary (same run, same box)")
    log(table(["instances", "ingest msg/s (wall)", "ingest CPU s / 1000 msg: instances / + PostgreSQL",
               "ingest lock waits, % of wall (without the month's partition)", "verify msg/s (wall)",
               "verification CPU s / 1000 msg (net of idle): instances / + PostgreSQL", "idle cost, % of verification CPU",
               "verification lock waits, % of wall",
               "serial fraction", "verification capacity, msg/s (a core an instance): as split / at the fleet's split"],
              [[str(n), f"{x['ingest_rate']:,.0f}", f"{x['ingest_per_k']:.3f} / {x['ingest_pg_per_k']:.3f}",
                f"{x['ingest_wait_pct']:.1f} % ({x['ingest_wait_pct_steady']:.1f} %)", f"{x['measured']:,.0f}",
                f"{x['verify_per_k']:.3f} / {x['verify_pg_per_k']:.3f}", f"{100 * x['idle_share']:.0f} %",
                f"{x['verify_wait_pct']:.1f} %",
                f"{100 * x['serial']:.2f} %", f"{x['capacity']:,.0f} / {x['capacity_fleet']:,.0f}"]
               for n, x in each]))
    if len(each) > len(f):
        log("means over the rounds: " + "; ".join(
            f"{n}: CPU s / 1000 msg {1000 * x['per_msg_office']:.3f}, capacity {x['capacity_fleet']:,.0f} msg/s"
            for n, x in f.items()))
    if len(counts) > 1:
        a, b = f[counts[0]], f[counts[-1]]
        nb = counts[-1]
        ratio = (b["per_msg_office"] / a["per_msg_office"])
        amdahl = 1 / (b["serial"] + (1 - b["serial"]) / nb)
        lease_even = evenness(last[nb]["leases"], len(last[nb]["nodes"]))
        ids = tuple(f"central{k}" for k in range(nb))
        fleet_split = leases.split(fleet_nodes, ids)
        rows = [["CPU s a message, ingest + verification, instances + PostgreSQL",
                 f"{ratio:.2f}x ({1e6 * b['per_msg_office']:.0f} against {1e6 * a['per_msg_office']:.0f} us)",
                 "<= 1.2x", "yes" if ratio <= 1.2 else "NO"],
                ["lock waits, % of wall (ingest / verification)",
                 f"{b['ingest_wait_pct']:.1f} % / {b['verify_wait_pct']:.1f} %", "< 10 %",
                 "yes" if max(b["ingest_wait_pct"], b["verify_wait_pct"]) < 10 else "NO"],
                ["the same without the month's partition (made once a month)",
                 f"{b['ingest_wait_pct_steady']:.1f} % / {b['verify_wait_pct']:.1f} %", "< 10 %",
                 "yes" if max(b["ingest_wait_pct_steady"], b["verify_wait_pct"]) < 10 else "NO"],
                [f"leases, the sample's {len(last[nb]['nodes'])} nodes (rendezvous)",
                 " / ".join(map(str, last[nb]["leases"])) + f" (largest {100 * lease_even:.0f} % off even)",
                 "within 20 %", "yes" if lease_even <= 0.2 else "NO (few nodes: chance)"],
                [f"leases, {args.fleet:,} nodes (central/intake/leases.py split, the same ids)",
                 " / ".join(map(str, fleet_split.values()))
                 + f" ({100 * evenness(list(fleet_split.values()), args.fleet):.1f} % off even)", "within 20 %",
                 "yes" if evenness(list(fleet_split.values()), args.fleet) <= 0.2 else "NO"],
                [f"verification capacity, {nb} against {counts[0]}, the sample's split (CPU-bound, a core an instance)",
                 f"{b['capacity'] / a['capacity']:.2f}x", ">= 2.5x",
                 "yes" if b["capacity"] / a["capacity"] >= 2.5 else "NO"],
                [f"verification capacity, {nb} against {counts[0]}, {args.fleet:,} nodes' split (the same CPU)",
                 f"{b['capacity_fleet'] / a['capacity_fleet']:.2f}x", ">= 2.5x",
                 "yes" if b["capacity_fleet"] / a["capacity_fleet"] >= 2.5 else "NO"],
                [f"Amdahl's bound at {nb} from the serial fraction", f"{amdahl:.2f}x", "-", "-"],
                [f"verification wall time, {nb} against {counts[0]} on these {os.cpu_count()} cores",
                 f"{b['measured'] / a['measured']:.2f}x", "(capped by the cores)", "-"]]
        log(table(["figure", "value", "target", "met"], rows))
    # a day-long outage of the fleet
    n3 = counts[-1]
    x = f[n3]
    total = args.fleet * per_day
    inst_s, pg_s = total * x["per_msg_instances"], total * x["per_msg_pg"]
    # verification's path (the instance's verify thread and its session's round trips) is the
    # bottleneck; the busiest instance carries its rendezvous share; ingest (the store thread,
    # about a twentieth of the CPU) runs beside it
    rt = statements_per_msg(last[n3])
    per_msg = x["path"] + rt * args.round_trip_ms / 1000  # each statement a round trip to a PostgreSQL elsewhere
    wall_s = total * per_msg * shares[n3] + x["serial"] * total * x["path"]
    one = f[counts[0]]
    log(f"\n## a day-long office outage: {args.fleet:,} nodes x {args.cameras} cameras, drained and verified")
    log(table(["figure", "value"], [
        ["durable messages queued (nodes x a node-day)", f"{total:,}"],
        [f"CPU s a message, ingest + verification ({n3} instances, measured)",
         f"{1e6 * x['per_msg_instances']:.0f} us instances + {1e6 * x['per_msg_pg']:.0f} us PostgreSQL"
         f" ({1e6 * one['per_msg_instances']:.0f} + {1e6 * one['per_msg_pg']:.0f} us with {counts[0]})"],
        ["CPU s for the day's backlog: instances / PostgreSQL",
         f"{inst_s:,.0f} / {pg_s:,.0f} ({inst_s / n3:,.0f} per instance)"],
        ["verification's path a message (instance + its session)", f"{1e6 * x['path']:.0f} us"],
        [f"statements a message ({n3} instances' verification: everything they sent PostgreSQL / messages)",
         f"{rt:.2f} (top: " + "; ".join(f"{k:,} {q}" for k, q in last[n3]["statements_by"][:4]) + ")"],
        [f"the same charged {args.round_trip_ms} ms each (a PostgreSQL on its own machine)",
         f"{1000 * rt * args.round_trip_ms:.0f} us a message"],
        [f"wall time on {n3} instances, a core each, round trips charged (busiest share {100 * shares[n3]:.1f} %)",
         f"{wall_s / 3600:.1f} h"],
        [f"wall time on {counts[0]} instance (extrapolated, round trips charged)",
         f"{total * (one['path'] + statements_per_msg(last[counts[0]]) * args.round_trip_ms / 1000) / 3600:.1f} h"],
        ["PostgreSQL cores busy meanwhile", f"{pg_s / wall_s:.1f}"],
        ["instances to verify the day in 4 h (a core each)", f"{total * x['path'] * 1.03 / (4 * 3600):.1f}"]]))
    return {"per_day": per_day, "msgs": msgs, "hours": wall_s / 3600, "rt": rt, "cpu_day": per_day * x["per_msg_office"],
            "path_day": per_day * x["path"], "per_msg": x["path"]}


# over 60 lines on purpose: the report, in the order it is printed
def main(argv: list[str] | None = None) -> int:
    from tests.support.postgres import Postgres

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="bench.central_fleet")
    p.add_argument("--nodes", type=int, default=50, help="simulated 16-camera nodes in the sample")
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--sim-seconds", type=int, default=1800, help="the outage each node's backlog covers")
    p.add_argument("--instances", default="1,3,3,1", help="instance counts in the order run (1,3,3,1: the box's drift cancels)")
    p.add_argument("--fleet", type=int, default=4000, help="nodes the day's figures are extrapolated to")
    p.add_argument("--kill-test", action="store_true", help="also run the test of an instance killed for good")
    p.add_argument("--profile", action="store_true", help="cProfile the first instance's verify thread")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--shapes", default="old,new", help="the retention messages' shapes run: old (a segment each), new (a pass)")
    p.add_argument("--round-trip-ms", type=float, default=0.2, help="charged a statement (a PostgreSQL on its own machine)")
    args = p.parse_args(argv)
    ci.OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="central-fleet-", dir=ci.OUT))
    pg = Postgres(fsync=True, options="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top"
                  " -c pg_stat_statements.track_utility=on").start()
    try:
        log(f"# central_fleet: {args.nodes} nodes x {args.cameras} cameras, a {args.sim_seconds} s outage's "
            f"backlog; instances {args.instances} on one PostgreSQL 15")
        log(f"command (from the repository root): .venv/bin/python -m bench.central_fleet {' '.join(argv)}".strip())
        log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} cores (the instances, PostgreSQL, mosquitto, "
            f"the publisher and the sampler all on them), load {ci.load()}; edged "
            + subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ci.ROOT, capture_output=True,
                             text=True).stdout.strip() + "; PostgreSQL fsync on, synchronous_commit on")
        got = {shape: one_shape(args, pg, work, shape) for shape in args.shapes.split(",")}
        if len(got) > 1:
            a, b = got["old"], got["new"]
            log("\n## the day-long outage at 4,000 nodes, old shape against new (same run, same box)")
            log(table(["figure", "old shape", "new shape", "new / old", "target"], [
                ["durable messages a node-day", f"{a['per_day']:,}", f"{b['per_day']:,}",
                 f"{b['per_day'] / a['per_day']:.2f}x", "-"],
                ["CPU s a node-day, ingest + verification, instances + PostgreSQL", f"{a['cpu_day']:.1f}",
                 f"{b['cpu_day']:.1f}", f"{b['cpu_day'] / a['cpu_day']:.2f}x", "-"],
                ["statements (round trips) a message, verification", f"{a['rt']:.2f}", f"{b['rt']:.2f}",
                 f"{b['rt'] / a['rt']:.2f}x" if a["rt"] else "-", "-"],
                [f"hours on 3 instances, {args.round_trip_ms} ms a round trip", f"{a['hours']:.2f}", f"{b['hours']:.2f}",
                 f"{b['hours'] / a['hours']:.2f}x", "< 2 h: " + ("met" if b["hours"] < 2 else "NOT met")]]))
        if args.kill_test:
            log("\n## an instance killed for good while a real box reports (the test, reused)")
            log(kill_test())
        log(f"\nload at the end {ci.load()}")
    finally:
        pg.stop()
        (ci.OUT / "central_fleet.txt").write_text("\n".join(lines) + "\n")
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
