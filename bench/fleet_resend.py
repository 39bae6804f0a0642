"""An instance killed for good while a fleet reports (issue 53 item 2): the simulated nodes keep
their history and answer the office's `cmd/resend` as a box does, or (an older edged) do not:

    .venv/bin/python -m bench.fleet_resend [--nodes 30] [--sim-seconds 300] [--gap-grace 10s]
        [--session-expiry 30s] [--answers yes,no]        (from the repository root)

Per run, a fresh PostgreSQL database and broker: 3 `edged-central run` instances verifying live
([verify] interval 1s), one killed -9 and never restarted, then bench/central_fleet.py's sample
published flat out. The broker keeps dealing the dead member its share of every node's messages
until its session expires (`--session-expiry`); the two left find the gaps, wait `--gap-grace`,
and ask each node with a signed `cmd/resend` (central/ingest.py resend_command). The simulated
nodes (`Responder`: one MQTT client for the fleet) check each command with the box's own
`mqtt.commands.check_command` (signature, target, expiry; a nonce once), publish the seqs again
byte for byte from their history and reply with a durable `cmd/resend/reply` (its own seq, kept
in the history too), the reply a box's `Reporter._cmd_resend` gives. Not modelled: the audit
record a box writes of each command it runs, the outbox's own pacing.

Figures: messages of the sample never stored, the findings left, the resends asked, and per
node how long after the sample was published its verification reached its last seq (held:
the longest; target: no node held longer than 2 x gap_grace once the publish is done).
Output: stdout and bench/out/fleet_resend.txt.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from bench import central_fleet as cf
from bench import central_ingest as ci
from central.keys import ca
from central.config import parse_duration
from mqtt import commands

MAX_AGE_US = 5 * 60_000_000  # [mqtt] command_max_age's default


def read_history(sample: Path) -> dict[str, dict[int, tuple[str, bytes]]]:
    """The sample's durable messages (QoS 1 PUBLISH packets), by node and seq."""
    data, i = sample.read_bytes(), 0
    out: dict[str, dict[int, tuple[str, bytes]]] = {}
    while i < len(data):
        head, n, shift, i = data[i], 0, 0, i + 1
        while True:  # the remaining length, a varint
            b, i = data[i], i + 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        body, i = data[i:i + n], i + n
        qos = (head >> 1) & 3
        tlen = int.from_bytes(body[:2], "big")
        topic = body[2:2 + tlen].decode()
        if not qos:
            continue
        payload = body[4 + tlen:]
        parts = topic.split("/")
        out.setdefault(f"{parts[2]}/{parts[3]}", {})[json.loads(payload)["seq"]] = (topic, payload)
    return out


class Responder:
    """The fleet's side of `cmd/resend`, as mqtt/reporter.py's `_cmd_resend` answers it."""

    def __init__(self, port: int, history: dict[str, dict[int, tuple[str, bytes]]], office_key_b64: str,
                 answers: bool):
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        self.history, self.answers = history, answers
        self.key = commands.load_key(office_key_b64)
        self.next = {node: max(h) + 1 for node, h in history.items()}
        self.nonces: set[tuple[str, str]] = set()  # each box keeps its own
        self.asked = self.resent = self.refused = self.ignored = 0
        self.reasons: dict[str, int] = {}
        self.errors: list[str] = []
        self.dups = 0
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-fleet-nodes",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.max_queued_messages_set(0)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_a: c.subscribe("edged/v1/+/+/cmd/resend", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c, _u, m) -> None:
        try:
            self._answer(m)
        except Exception as exc:  # noqa: BLE001 - counted: a callback that raises costs paho its connection
            self.errors.append(repr(exc)[:200])

    def _answer(self, m) -> None:
        self.dups += bool(m.dup)
        parts = m.topic.split("/")
        node = f"{parts[2]}/{parts[3]}"
        with self.lock:
            self.asked += 1
            if not self.answers or node not in self.history:
                self.ignored += 1
                return  # an edged before issue 43: no such command
            now = time.time_ns() // 1000
            checked = commands.check_command("resend", m.payload, verbs={"resend"}, key=self.key,
                                             max_age_us=MAX_AGE_US, now_us=now, target=node)
            if checked.accepted and (node, checked.nonce) in self.nonces:
                checked = commands.Checked("resend", False, "replayed: this nonce was already used")
            reply: dict = {"cmd": "resend", "ok": checked.accepted}
            if checked.accepted:
                self.nonces.add((node, str(checked.nonce)))
                reply["result"] = self._resend(node, (checked.args or {}).get("from"), (checked.args or {}).get("to"))
            else:
                self.refused += 1
                self.reasons[str(checked.reason)[:60]] = self.reasons.get(str(checked.reason)[:60], 0) + 1
                reply["error"] = checked.reason
            if checked.nonce is not None:
                reply["nonce"] = checked.nonce
            self._durable(node, f"edged/v1/{node}/cmd/resend/reply", reply, now)

    def _resend(self, node: str, first: int, last: int) -> dict:
        h = self.history[node]
        have = [s for s in range(first, last + 1) if s in h]
        for s in have:
            self.client.publish(h[s][0], h[s][1], qos=1)
        self.resent += len(have)
        top = min(last, self.next[node] - 1)
        missing = [[s, s] for s in range(first, top + 1) if s not in h]
        return {"from": first, "to": last, "requeued": len(have), "missing": missing, "history_days": 7.0}

    def _durable(self, node: str, topic: str, body: dict, now: int) -> None:
        seq = self.next[node]
        self.next[node] += 1
        payload = json.dumps({"seq": seq, "ts_us": now, **body}, separators=(",", ":")).encode()
        self.history[node][seq] = (topic, payload)
        self.client.publish(topic, payload, qos=1)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def progress(url: str, first: dict[str, int], final: dict[str, int]) -> tuple[int, dict[str, bool]]:
    """(messages of the sample stored, node -> verified through its last seq of the sample)."""
    with psycopg.connect(url, autocommit=True) as c:
        stored = sum(c.execute("SELECT count(*) FROM messages WHERE node = %s AND seq BETWEEN %s AND %s",
                               [n, first[n], final[n]]).fetchone()[0] for n in final)
        done = {r[0]: (r[1] or 0) >= final.get(r[0], 1 << 62)
                for r in c.execute("SELECT node, verified_seq FROM nodes").fetchall()}
    return stored, done


def run(args, pg, sample: Path, meta: dict, answers: bool, folder: Path) -> dict:
    """One run: 3 instances, one killed, the sample published, until every node is verified
    through its last seq or the time is up."""
    folder.mkdir(parents=True)
    url = pg.database()
    office = ca.central_key(folder / "store")  # the instances' data_dir: the key they sign resends with
    make = cf.config

    def config(*a, **kw) -> Path:  # central_fleet's, with this run's gap_grace and session expiry
        path = make(*a, **kw)
        path.write_text(path.read_text().replace('gap_grace = "30s"', f'gap_grace = "{args.gap_grace}"').replace(
            'shared_group = "central"\n', f'shared_group = "central"\nsession_expiry = "{args.session_expiry}"\n'))
        return path
    cf.config = config
    try:
        ph = cf.Phase(folder, 3, url, "1s", "live")
    finally:
        cf.config = make
    first = {n: meta["t0"] + 1 for n in meta["final_seq"]}  # a node's seqs: its outbox's, t0 + 1 on
    final = meta["final_seq"]
    want = sum(final[n] - first[n] + 1 for n in final)
    nodes = Responder(ph.broker.port, read_history(sample), office.public_b64, answers)
    out: dict = {"answers": answers, "want": want}
    births, rest = split(sample, len(final), meta)
    try:
        publish(ph.broker.port, births, args.timeout)  # the fleet was up before the kill: its births are in
        cf.wait(lambda: _births(url) == len(final), 60, "every node's birth stored")
        ph.procs[-1].send_signal(signal.SIGKILL)  # for good
        ph.procs[-1].wait(30)
        pub = publish(ph.broker.port, rest, args.timeout)
        published = time.monotonic()
        out["publish_s"] = (pub["finished_ns"] - pub["started_ns"]) / 1e9
        held: dict[str, float] = {}
        deadline = published + args.timeout
        while time.monotonic() < deadline:
            stored, done = progress(url, first, final)
            for n, ok in done.items():
                if ok and n not in held:
                    held[n] = time.monotonic() - published
            if len(held) == len(final) or (not answers and time.monotonic() - published > args.give_up):
                break
            time.sleep(0.5)  # a poll of the store's progress (the figure is the time it took)
        out["stored"], _done = progress(url, first, final)
        out["held"] = held
        out["missing_nodes"] = sorted(set(final) - set(held))
        with psycopg.connect(url, autocommit=True) as c:
            out["findings"] = c.execute("SELECT kind, count(*) FROM findings GROUP BY 1 ORDER BY 2 DESC").fetchall()
            out["said"] = c.execute("SELECT node, left(message, 240) FROM findings WHERE kind NOT IN ('seq_gap')"
                                    " ORDER BY found_us LIMIT 3").fetchall()
            out["asks"] = c.execute("SELECT count(*), coalesce(max(tries), 0) FROM resends").fetchone()
            out["gapped"] = c.execute("SELECT count(DISTINCT node) FROM resends").fetchone()[0]
            # the dead member's session taken over by a live one (design/0210): by whom, messages, seconds after the kill
            out["drain"] = c.execute("SELECT figures->>'session_drained_by', (figures->>'session_drained')::bigint,"
                                     " ((figures->>'session_drained_us')::bigint - heartbeat_us) / 1e6 FROM instances"
                                     " WHERE figures ? 'session_drained_by'").fetchall()
            # lost before the first message the office holds of a node: its cursor starts there, no gap shows them
            low = dict(c.execute("SELECT node, min(seq) FROM messages WHERE kind <> 'reply' GROUP BY node").fetchall())
            out["unseen"] = sum(max(low.get(n, final[n] + 1) - first[n], 0) for n in final)
        out.update(asked=nodes.asked, resent=nodes.resent, refused=nodes.refused, ignored=nodes.ignored,
                   reasons=nodes.reasons, errors=nodes.errors, dups=nodes.dups)
    finally:
        nodes.stop()
        ph.stop()
    return out


def split(sample: Path, nodes: int, meta: dict) -> tuple[Path, Path]:
    """The sample's births (its first 2 packets a node: status and birth, retained) and the rest."""
    data, i = sample.read_bytes(), 0
    for _ in range(2 * nodes):
        i += 1
        n, shift = 0, 0
        while True:
            b, i = data[i], i + 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        i += n
    out = []
    for name, part, durable in (("births", data[:i], 0), ("rest", data[i:], meta["durable"])):
        path = sample.with_name(f"{sample.stem}-{name}.mqtt")
        path.write_bytes(part)
        path.with_suffix(".json").write_text(json.dumps({**meta, "durable": durable}))
        out.append(path)
    return out[0], out[1]


def publish(port: int, path: Path, timeout: float) -> dict:
    pub = subprocess.run([sys.executable, "-m", "bench.central_ingest", "--publisher", str(port), str(path)],
                         cwd=ci.ROOT, capture_output=True, text=True, timeout=timeout, check=True)
    return json.loads(pub.stdout)


def _births(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as c:
        return int(c.execute("SELECT count(DISTINCT node) FROM births").fetchone()[0])


def report(args, r: dict) -> None:
    for node, message in r["said"]:
        cf.log(f"- finding of {node}: {message}")
    grace = parse_duration(args.gap_grace, "gap_grace") / 1e6
    held = sorted(r["held"].values())
    over = sum(h > 2 * grace for h in held)
    cf.log(f"\n## nodes {'answering' if r['answers'] else 'NOT answering (an edged before issue 43)'} cmd/resend")
    cf.log(cf.table(["figure", "value", "target"], [
        ["the sample's durable messages / published in", f"{r['want']:,} / {r['publish_s']:.1f} s", "-"],
        ["never stored (lost)", f"{r['want'] - r['stored']:,} ({100 * (r['want'] - r['stored']) / r['want']:.1f} %)", "0"],
        ["of them before the first the office holds of their node (no gap shows them)",
         f"{r['unseen']:,}", "-"],
        ["the dead member's session drained by / messages / s after its last heartbeat",
         "; ".join(f"{w} / {n} / {s:.1f}" for w, n, s in r["drain"]) or "not drained", "-"],
        ["nodes with a gap the office asked for again", f"{r['gapped']} of {len(r['held']) + len(r['missing_nodes'])}", "-"],
        ["resends asked (rows; most tries of one)", f"{r['asks'][0]} ({r['asks'][1]})", "-"],
        ["commands the nodes got / answered again / refused / ignored",
         f"{r['asked']} / {r['resent']:,} messages / {r['refused']} / {r['ignored']}", "-"],
        ["commands delivered again (DUP) / failing in the simulated node", f"{r['dups']} / {len(r['errors'])} "
         + "; ".join(sorted(set(r["errors"])))[:200], "-"],
        ["why refused", ", ".join(f"{k} {n}" for k, n in r["reasons"].items()) or "-", "-"],
        ["findings left", ", ".join(f"{k} {n}" for k, n in r["findings"]) or "none", "none"],
        ["nodes verified through their last seq", f"{len(held)} of {len(held) + len(r['missing_nodes'])}", "all"],
        ["held after the publish: median / longest", f"{held[len(held) // 2]:.1f} s / {held[-1]:.1f} s" if held else "-",
         f"<= {2 * grace:.0f} s (2 x gap_grace)"],
        ["nodes held longer than 2 x gap_grace", f"{over}", "0"]]))


def main(argv: list[str] | None = None) -> int:
    from tests.support.postgres import Postgres

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="bench.fleet_resend")
    p.add_argument("--nodes", type=int, default=30)
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--sim-seconds", type=int, default=300)
    p.add_argument("--gap-grace", default="10s")
    p.add_argument("--session-expiry", default="30s", help="the instances' [broker] session_expiry")
    p.add_argument("--answers", default="yes,no", help="runs: nodes that answer cmd/resend (yes), that do not (no)")
    p.add_argument("--give-up", type=float, default=120, help="s after the publish a run of nodes that do not answer ends")
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args(argv)
    ci.OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fleet-resend-", dir=ci.OUT))
    pg = Postgres(fsync=True).start()
    try:
        cf.log(f"# fleet_resend: {args.nodes} nodes x {args.cameras} cameras, {args.sim_seconds} s of reports; 3 instances, "
               f"one killed -9 for good; gap_grace {args.gap_grace}, session_expiry {args.session_expiry}")
        cf.log(f"command (from the repository root): .venv/bin/python -m bench.fleet_resend {' '.join(argv)}".strip())
        cf.log(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load {ci.load()}")
        t0 = time.time_ns() // 1000 - (args.sim_seconds + 600) * 1_000_000
        sample = work / "sample.mqtt"
        meta = cf.generate(sample, args.nodes, args.cameras, args.sim_seconds, t0, batched=True)
        for k, answers in enumerate(a == "yes" for a in args.answers.split(",")):
            report(args, run(args, pg, sample, meta, answers, work / f"run{k}"))
        cf.log(f"\nload at the end {ci.load()}")
    finally:
        pg.stop()
        (ci.OUT / "fleet_resend.txt").write_text("\n".join(cf.lines) + "\n")
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
