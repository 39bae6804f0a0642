"""edged-central instances as processes on PostgreSQL (issue 28 item 5, issue 43, issue 53): two or
three `edged-central run` sharing a broker's shared subscription and one database, one killed
mid-run or for good: no message lost, every node verified in order, its nodes taken over, and what
went to the dead member's session drained or asked of the box again. Split from
tests/test_central_postgres.py (the store itself on PostgreSQL)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

import psycopg
import pytest

from central.intake import leases as lease_rules
from central.store.pgstore import PgStore, lock_key
from central.store.store import now_us
from tests import test_central_hostile as hostile
from tests.support.broker import Broker, free_port
from tests.support.catalog import (central_messages, central_messages_by_node, central_pg_hold_node,
                                   central_pg_hold_retained, central_pg_leases)
from tests.support.daemon import ROOT, wait_for
from tests.support.postgres import available, pg_server  # noqa: F401  (pg_server: a fixture)
from tests.test_central import clip  # noqa: F401  (a fixture)

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@pytest.fixture(scope="module")
def server(pg_server):
    return pg_server


@pytest.fixture
def pg_url(server) -> str:
    return server.database()


# two instances, one killed ------------------------------------------------------------------------
class Instance:
    def __init__(self, tmp_path, name: str, broker: Broker, url: str, more: str = ""):
        self.config = tmp_path / f"{name}.toml"
        self.config.write_text(more + 
            f'[broker]\nhost = "127.0.0.1"\nport = {broker.port}\nclient_id = "central-{name}"\n'
            f'shared_group = "central"\n[storage]\ndata_dir = "{name}-data"\nurl = "{url}"\n'
            f'[verify]\ninterval = "300ms"\ngap_grace = "2s"\n[dashboard]\nlisten = ""\n[report]\ntimezone = "UTC"\n'
            f'[quota]\nmessages_per_second = 100000\nburst = 100000\n')
        self.log_path = tmp_path / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Instance":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "central.cli", "run", "--config", str(self.config)],
                                     cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(60)
        if self.proc is not None:
            self._log.close()


def leases(url: str) -> dict[int, set[int]]:
    """{os pid of an edged-central instance: its advisory lock keys}, from pg_locks."""
    with psycopg.connect(url, autocommit=True) as c:
        rows = central_pg_leases(c)
    out: dict[int, set[int]] = {}
    for app, k in rows:
        if app.startswith("edged-central "):
            out.setdefault(int(app.split()[1]), set()).add(k if k < 2**63 else k - 2**64)
    return out


def test_two_instances_one_killed_no_message_lost_and_its_nodes_taken_over(tmp_path, pg_url):
    broker = Broker(tmp_path / "broker", persistence=True).start()
    a, b = Instance(tmp_path, "a", broker, pg_url), Instance(tmp_path, "b", broker, pg_url)
    # An odd count: the broker deals the share's messages to its members in turn, and with an even
    # count each node's messages could all go to one member (the survivor then never saw the
    # killed instance's nodes: seen in CI)
    nodes = [f"s{i % 3}/n{i}" for i in range(13)]
    t0 = now_us() - 60_000_000
    per_node = 40

    def burst(lo: int, hi: int) -> list[tuple[str, bytes, bool]]:
        return [(f"edged/v1/{n}/alarm", hostile.durable(t0 + i, {"id": f"a{i}", "action": "raise"}), False)
                for i in range(lo, hi) for n in nodes]

    try:
        a.start()
        b.start()
        store = wait_for(lambda: _try_store(pg_url), 60, "the schema created")
        wait_for(lambda: all(b"subscribed to $share/central/" in i.log_path.read_bytes() for i in (a, b)), 60,
                 "both instances subscribed")
        hostile.publish(broker.port, burst(1, per_node // 2), "fleet-1")
        wait_for(lambda: store.unverified() == 0 and _stored(store) == len(nodes) * (per_node // 2 - 1), 120,
                 "the first half stored and verified")
        held = leases(pg_url)
        assert set(held) <= {a.proc.pid, b.proc.pid} and sum(len(v) for v in held.values()) == len(nodes)
        victim = a if held.get(a.proc.pid) else b
        survivor = b if victim is a else a
        victim_keys = held[victim.proc.pid]
        victim.stop(signal.SIGKILL)  # mid-run: no goodbye, its session and its locks just go
        hostile.publish(broker.port, burst(per_node // 2, per_node), "fleet-2")
        # mosquitto 2.0 queues part of the share for the dead member's session: the survivor takes
        # over the nodes it receives messages of; the rest come when the killed instance is back
        try:
            wait_for(lambda: victim_keys & leases(pg_url).get(survivor.proc.pid, set()), 60,
                     "the killed instance's nodes taken over")
        except AssertionError:
            raise AssertionError(f"leases {leases(pg_url)}, victim had {victim_keys}; "
                                 f"{central_messages_by_node(store)}") from None

        victim.start()
        want = len(nodes) * (per_node - 1)
        wait_for(lambda: _stored(store) == want and store.unverified() == 0, 180, "every message stored and verified")
        assert {n["node"]: n["verified_seq"] for n in store.nodes()} == {n: t0 + per_node - 1 for n in nodes}
        assert [f for f in store.findings() if f["kind"] == "seq_gap"] == [], "verified in order, nothing missing"
        assert survivor.proc.poll() is None
        # the CLI reads the same database: status, findings, a site's month, the key list
        for verb in (["status", "--json"], ["findings", "--json"], ["keys", "--json"],
                     ["report", "--site", "s0", "--month", time.strftime("%Y-%m", time.gmtime(t0 / 1e6)),
                      "--out", str(tmp_path / "report")]):
            r = subprocess.run([sys.executable, "-m", "central.cli", "--config", str(a.config), *verb],
                               capture_output=True, text=True, cwd=ROOT, timeout=120)
            assert r.returncode in (0, 1), (verb, r.stderr)
        assert {n["node"] for n in json.loads(subprocess.run(
            [sys.executable, "-m", "central.cli", "--config", str(a.config), "status", "--json"],
            capture_output=True, text=True, cwd=ROOT, timeout=120).stdout)["nodes"]} == set(nodes)
        store.close()
    finally:
        a.stop()
        b.stop()
        broker.stop()


def _try_store(url: str) -> PgStore | None:
    try:
        s = PgStore(url, readonly=True)
        s.unverified()
        return s
    except Exception:  # noqa: BLE001 - not created yet
        return None


def _stored(store: PgStore) -> int:
    return central_messages(store)


# three instances share the nodes (issue 43 item 1), one killed for good ---------------------------------
def test_three_instances_share_the_nodes_and_a_killed_ones_share_moves_within_30_s(tmp_path, pg_url):
    """Each live instance holds the leases of its rendezvous share of the nodes (central/intake/leases.py);
    a kill -9 of one moves its share to the two others within 30 s, the others' nodes stay put.
    status --json shows each instance's leases; the metrics of one are scraped."""

    broker = Broker(tmp_path / "broker").start()
    metrics = free_port()
    names = ("a", "b", "c")
    inst = {n: Instance(tmp_path, n, broker, pg_url, f'[metrics]\nlisten = "127.0.0.1:{metrics}"\n' if n == "a" else "")
            for n in names}
    nodes = [f"s{i % 4}/n{i}" for i in range(30)]
    t0 = now_us() - 60_000_000

    def expected(alive: tuple[str, ...]) -> dict[int, set[int]]:
        ids = tuple(f"central-{n}" for n in alive)
        return {inst[n].proc.pid: {lock_key(x) for x in nodes if lease_rules.owner(x, ids) == f"central-{n}"}
                for n in alive}

    try:
        for i in inst.values():
            i.start()
        wait_for(lambda: all(b"subscribed to $share/central/" in i.log_path.read_bytes() for i in inst.values()), 60,
                 "the three instances subscribed")
        hostile.publish(broker.port, [(f"edged/v1/{n}/alarm", hostile.durable(t0 + k, {"id": f"a{k}", "action": "raise"}),
                                       False) for k in (1, 2) for n in nodes], "fleet")
        want = expected(names)
        assert all(len(v) >= 5 for v in want.values()), "each instance has a share (13/11/6 of 30 for these names)"
        try:
            wait_for(lambda: leases(pg_url) == want, 60, "each instance holds its share")
        except AssertionError:
            raise AssertionError(f"held {leases(pg_url)}, want {want}") from None
        status = json.loads(subprocess.run([sys.executable, "-m", "central.cli", "--config", str(inst["a"].config),
                                            "status", "--json"], capture_output=True, text=True, cwd=ROOT,
                                           timeout=120).stdout)
        assert {i["id"]: (i["live"], i["pid"]) for i in status["office"]["instances"]} == {
            f"central-{n}": (True, inst[n].proc.pid) for n in names}
        wait_for(lambda: b"edged_central_leases " in urllib.request.urlopen(
            f"http://127.0.0.1:{metrics}/metrics", timeout=10).read(), 30, "the metrics say the leases")

        inst["c"].stop(signal.SIGKILL)  # for good: never started again
        killed = time.monotonic()
        after = expected(("a", "b"))
        wait_for(lambda: leases(pg_url) == after, 30, "c's share taken by a and b within 30 s")
        moved_in = time.monotonic() - killed
        assert all(want[inst[n].proc.pid] <= after[inst[n].proc.pid] for n in ("a", "b")), "the others' nodes stay put"
        status = json.loads(subprocess.run([sys.executable, "-m", "central.cli", "--config", str(inst["a"].config),
                                            "status", "--json"], capture_output=True, text=True, cwd=ROOT,
                                           timeout=120).stdout)
        gone = {i["id"]: i["live"] for i in status["office"]["instances"]}
        assert gone == {"central-a": True, "central-b": True, "central-c": False}, gone
        assert sum(i.get("leases", 0) for i in status["office"]["instances"] if i["live"]) <= len(nodes)
        print(f"c's share moved in {moved_in:.1f} s")
    finally:
        for i in inst.values():
            i.stop()
        broker.stop()


def test_under_run_shared_rows_another_transaction_holds_wait_for_the_next_second(pg_url):
    """Issue 43 item 1: the rows every instance rewrites (a node's figures, retained states) are
    written once a second under `run`, skipping those another transaction holds (a verifier's
    pass): nobody waits, and the skipped ones are written at the next settle."""
    a = PgStore(pg_url)
    state = lambda cam, ts: (f"edged/v1/s/n1/camera/{cam}/state", json.dumps({"ts_us": ts, "recording": ts > 2000}).encode())  # noqa: E731
    a.ingest([(f"edged/v1/s/n{i}/alarm", hostile.durable(1000, {"id": "a", "action": "raise"})) for i in (1, 2)]
             + [state("c1", 2000)], 2000)
    a.coalesce_s = 1.0
    other = psycopg.connect(pg_url)
    central_pg_hold_node(other, "s/n1")  # held, as a verifier's pass holds it
    central_pg_hold_retained(other, "edged/v1/s/n1/camera/c1/state")  # another instance's second of states
    a._settled = 0.0
    a.ingest([(f"edged/v1/s/n{i}/alarm", hostile.durable(1005, {"id": "b", "action": "raise"})) for i in (1, 2)]
             + [state("c1", 3000), state("c2", 3000)], 3000)
    seqs = lambda: {n["node"]: n["max_seq"] for n in a.nodes()}  # noqa: E731
    cams = lambda: {c: v["recording"] for c, v in a.retained_of("s/n1")["cameras"].items()}  # noqa: E731
    assert seqs() == {"s/n1": 1000, "s/n2": 1005}, "n1's row is held: kept for later, n2's written"
    assert cams() == {"c1": False, "c2": True}, "c1's state is held: kept for later, c2's (a first) written"
    other.rollback()
    a.settle()
    assert seqs() == {"s/n1": 1005, "s/n2": 1005}
    assert cams() == {"c1": True, "c2": True}
    other.close()
    a.close()


def test_with_three_live_a_nodes_figures_wait_their_turn_and_the_retained_states_do_not(pg_url):
    """Issue 53 (design/0295): with N instances live, each writes the nodes' figures every N
    seconds (each hears from nearly every node each second: the fleet's node rows are still
    written about once a second), and the retained states every second as before."""
    a = PgStore(pg_url)
    a.ingest([("edged/v1/s/n1/alarm", hostile.durable(1000, {"id": "a", "action": "raise"}))], 2000)
    a.coalesce_s, a.members = 1.0, lambda: ("one", "two", "three")
    seq = lambda: {n["node"]: n["max_seq"] for n in a.nodes()}["s/n1"]  # noqa: E731
    state = lambda: a.retained_of("s/n1")["cameras"]["cam"]["recording"]  # noqa: E731
    a._settled, a._figured = 0.0, time.monotonic()  # a second gone, the figures written just now
    a.ingest([("edged/v1/s/n1/alarm", hostile.durable(1005, {"id": "b", "action": "raise"})),
              ("edged/v1/s/n1/camera/cam/state", json.dumps({"ts_us": 3000, "recording": True}).encode())], 3000)
    assert state() is True and seq() == 1000, "the state written this second, the figures held for their turn"
    a._settled = 0.0
    a.ingest([("edged/v1/s/n1/camera/cam/state", json.dumps({"ts_us": 4000, "recording": False}).encode())], 4000)
    assert state() is False and seq() == 1000
    a._settled, a._figured = 0.0, time.monotonic() - 3.0  # three instances' seconds gone: their turn
    a.ingest([("edged/v1/s/n1/alarm", hostile.durable(1006, {"id": "c", "action": "raise"}))], 5000)
    assert seq() == 1006
    a.close()


def test_three_instances_send_each_node_the_offices_time_once_a_minute_not_thrice(pg_url):
    """design/0095's signed time: with three instances sharing a store, each sends it to the
    nodes of its share (the store's lease), so every node gets it once a minute, not once from
    each instance (issue 53: three instances signed and published 3x the fleet's time messages)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from central.ingest import TimeCast
    from mqtt import office_time

    nodes = [f"s{i % 3}/n{i}" for i in range(24)]
    seed = PgStore(pg_url)
    seed.ingest([(f"edged/v1/{n}/alarm", hostile.durable(1000, {"id": "a", "action": "raise"})) for n in nodes], 2000)
    seed.close()
    key = Ed25519PrivateKey.generate()
    members = ("central-a", "central-b", "central-c")
    sent: list[tuple[str, bytes]] = []
    stores = [PgStore(pg_url) for _ in members]
    try:
        for me, store in zip(members, stores):
            store.me, store.members = me, lambda: members
            store.rebalance()
            cast = TimeCast(lambda: key, lambda topic, msg: sent.append((topic, msg)) or True, lambda: 5_000_000)
            assert cast.maybe(store) == sum(lease_rules.owner(n, members) == me for n in nodes) > 0
            assert cast.maybe(store) == 0, "once a minute"
    finally:
        for store in stores:
            store.close()
    assert sorted(t for t, _m in sent) == sorted(f"edged/v1/{n}/cmd/time" for n in nodes)
    assert all(office_time.signed_time(m, key.public_key(), t.split("/", 2)[2].rsplit("/cmd/", 1)[0]) == 5_000_000
               for t, m in sent)


# one of three killed for good while a real box reports: what went to its session comes back by resend ---------
def test_an_instance_killed_for_good_loses_nothing_once_the_box_resends(tmp_path, pg_url, clip):
    """Issue 43 item 2, issue 53: mosquitto deals part of the shared subscription to the killed
    instance's session; a live instance takes that session over within seconds and stores what
    was queued there (design/0210), and whatever still went missing the live instances ask the
    box for with a signed cmd/resend: in the end every seq is stored and verified, and no finding
    is left. (gap_grace 4 s and a 15 s session here; in production 30 s and a minute.)"""
    import shutil

    from central.keys import ca
    from tests.support.cameras import RtspServer
    from mqtt.commands import sign_command
    from tests.support.catalog import audit_top, central_audit_top, central_replies, central_resends, central_seqs
    from tests.support.broker import Subscriber
    from tests.support.daemon import Daemon, write_config

    key = ca.central_key(tmp_path / "a-data")
    for name in ("b", "c"):
        shutil.copytree(tmp_path / "a-data", tmp_path / f"{name}-data")
    broker = Broker(tmp_path / "broker").start()
    inst = {n: Instance(tmp_path, n, broker, pg_url) for n in ("a", "b", "c")}
    for i in inst.values():
        i.config.write_text(i.config.read_text().replace('shared_group = "central"\n', 'shared_group = "central"\n'
                                                         'session_expiry = "15s"\n').replace('"2s"', '"4s"'))
    folder = tmp_path / "n1"
    folder.mkdir()
    config = write_config(folder / "edged.toml", folder / "data", [{"id": "cam", "url": "x"}], storage={
        "segment_length": "2s"}, tables={"mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                                                  "reconnect_max": "1s", "command_key": key.public_b64}})
    config.write_text(config.read_text().replace('id = "test"', 'id = "test"\nnode = "n1"', 1))
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        config.write_text(config.read_text().replace('url = "x"', f'url = "{cameras.url("cam")}"'))
        box = Daemon(config, folder / "data", folder / "edged.log")
        try:
            for i in inst.values():
                i.start()
            store = wait_for(lambda: _try_store(pg_url), 60, "the schema created")
            wait_for(lambda: all(b"subscribed to $share/central/" in i.log_path.read_bytes() for i in inst.values()),
                     60, "the three instances subscribed")
            box.start()
            wait_for(lambda: any(n["node"] == "test/n1" and n["verified_seq"] for n in store.nodes()), 60,
                     "the box's first messages verified")
            # c frozen first (its store connection open: alive to the others), killed once the box
            # recorded the commands: its share of the answers is dealt to its session whatever the
            # box's pace (killed first, a loaded box answered after the takeover had ended c's
            # session, and nothing went to it: the test proved nothing)
            c_proc = inst["c"].proc
            assert c_proc is not None
            c_proc.send_signal(signal.SIGSTOP)
            before = audit_top(box)
            office = Subscriber(broker, "edged/v1/test/n1/cmd/state/reply").start()
            try:
                for k in range(6):  # each: an audit record and a reply, durable; a third dealt to c's session
                    office.publish("edged/v1/test/n1/cmd/state", json.dumps(sign_command(
                        key, "state", {}, f"nonce-state-{k:04d}", now_us() + 60_000_000, "test/n1")))
                said = wait_for(lambda: (s := audit_top(box)) >= before + 6 and s, 30, "the six commands recorded")
            finally:
                office.stop()
            inst["c"].stop(signal.SIGKILL)  # for good
            killed = time.monotonic()

            def whole() -> bool:
                seqs = central_seqs(store.db, "test/n1")
                got = central_audit_top(store.db, "test/n1")
                n = next(n for n in store.nodes() if n["node"] == "test/n1")
                return bool(seqs) and (got or 0) >= said and seqs == list(range(seqs[0], seqs[-1] + 1)) \
                    and n["verified_seq"] == seqs[-1]
            def drained() -> list[int]:
                return [int(m.group(1)) for i in ("a", "b") for m in re.finditer(
                    r"took over the broker session of instance central-c, gone: (\d+) messages",
                    inst[i].log_path.read_text())]

            # whole, and c's share come back by either road: the seqs dealt to c may be the newest, so
            # the store can look whole before the takeover has logged what it drained
            wait_for(lambda: whole() and (sum(drained()) >= 1 or central_resends(store.db, "test/n1")[0] >= 1), 90,
                     "every seq of the box stored and verified, what went to the killed instance's session "
                     "drained or asked for again (never: nothing went to it, the test proved nothing)")
            asked, drained_ = central_resends(store.db, "test/n1"), drained()
            assert [f for f in store.findings() if f["kind"] in ("seq_gap", "seq_late")] == []
            if asked[0]:
                replies = central_replies(store.db, "test/n1")
                assert any(r.get("cmd") == "resend" and r["ok"] and r["result"]["requeued"] for r in replies), replies
            print(f"six commands answered, c killed; the dead session's messages drained: "
                  f"{sum(drained_)}; gaps asked for again: {asked[0]} (at most {asked[1]} asks each); nothing lost, "
                  f"no finding, {time.monotonic() - killed:.1f} s after the kill")
            store.close()
        finally:
            box.stop()
            if inst["c"].proc is not None and inst["c"].proc.poll() is None:
                inst["c"].proc.send_signal(signal.SIGCONT)   # frozen above: a stop it can hear
            for i in inst.values():
                i.stop()
            broker.stop()

