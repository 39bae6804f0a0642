"""A dead instance's broker session taken over and drained by a live one (issue 53, design/0210):
the pure choice of who drains what, then a real mosquitto: a member of a shared group killed -9,
its queued share drained by central/intake/subscriber.py's drain mode, its session gone afterwards."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from central.intake import leases, subscriber, takeover
from central.store.store import now_us
from tests import test_central_hostile as hostile
from tests.support.broker import Broker
from tests.support.catalog import central_pg_drained
from tests.support.daemon import wait_for
from tests.support.postgres import pg_server  # noqa: F401  (pg_server: a fixture)

GROUP = "$share/central/edged/v1/+/+/#"


def _row(i: str, beat: int = 5, figures: dict | None = None) -> dict:
    return {"id": i, "heartbeat_us": beat, "figures": figures if figures is not None else {"leases": 3}}


def test_the_dead_members_session_is_drained_by_its_rendezvous_owner_once():
    rows = [_row("a"), _row("b"), _row("c", 7), _row("d", 9, {takeover.MARK: "a"})]
    live = ("a", "b")
    owner = leases.owner("c", live)
    assert takeover.to_drain(rows, live, owner) == [("c", 7)], "the owner of the dead id drains it"
    other = "b" if owner == "a" else "a"
    assert takeover.to_drain(rows, live, other) == [], "one live instance drains it, not both"
    assert takeover.to_drain(rows, live, "c") == [], "a member not live itself drains nothing"
    assert takeover.to_drain([_row("c", 7, None)], live, owner) == [("c", 7)], "a row without figures"
    assert all(d != "d" for x in live for d, _ in takeover.to_drain(rows, live, x)), "drained once a death"


def test_a_new_nodes_first_pass_waits_for_the_seqs_below_its_first(tmp_path):
    """A node's first messages dealt to a dead member arrive seconds after the later ones, when its
    session is drained: the first pass waits until the lowest seq held is gap_grace old, so the
    cursor starts at the true first, and no chain head is taken for one behind a later one."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from zoneinfo import ZoneInfo

    from central.store.store import Store
    from central.verifier.verifier import Verifier
    from storage.keys.nodekey import NodeKey

    t = now_us()
    first, _fork = hostile.healthy_with_fork("edged/v1/s/n", NodeKey(Ed25519PrivateKey.generate()), "s", "n",
                                             t - 60_000_000)
    retained, (a1, a2, a3) = first[:3], first[3:]  # audit records 1-3, each with its signed head
    store = Store(tmp_path / "c.db")
    v = Verifier(store, ZoneInfo("UTC"), gap_grace_us=10_000_000)
    visits: list[int] = []
    read = v._pass
    v._pass = lambda node, now: visits.append(now) or read(node, now)  # type: ignore[method-assign]
    store.ingest([(tp, p) for tp, p, _ in [*retained, a3]], t)  # the live member's share
    assert v.run_once(t + 1_000_000) == 0, "a new node waits for the seqs below its first"
    assert v.run_once(t + 5_000_000) == 0 and len(visits) == 1, "not read again till its lowest is gap_grace old"
    store.ingest([(tp, p) for tp, p, _ in [a1, a2]], t + 3_000_000)  # drained from the dead member's session
    assert v.run_once(t + 12_000_000) == 0, "the lowest held is now the drained one: gap_grace from its receipt"
    assert v.run_once(t + 14_000_000) == 3
    assert len(visits) == 3
    assert store.findings() == [], "head 3 after heads 1 and 2: nothing regressed, nothing late"
    assert store.nodes()[0]["verified_seq"] == t - 60_000_000 + 12
    store.close()


_MEMBER = """
import sys, time
import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
c = paho.Client(CallbackAPIVersion.VERSION2, client_id="central-c", protocol=MQTTProtocolVersion.MQTTv5,
                manual_ack=True)  # never acknowledges: what it is dealt stays in its session
p = Properties(PacketTypes.CONNECT); p.SessionExpiryInterval = 600
c.on_subscribe = lambda *a: print("subscribed", flush=True)
c.on_connect = lambda cl, *a: cl.subscribe(sys.argv[2], qos=1)
c.connect("127.0.0.1", int(sys.argv[1]), clean_start=False, properties=p)
c.loop_forever()
"""


def _publish(port: int, n: int, tag: str) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"box-{tag}", protocol=MQTTProtocolVersion.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        for i in range(n):
            c.publish(f"edged/v1/s/n{i % 5}/alarm", f"{tag}{i}".encode(), qos=1).wait_for_publish(10)
    finally:
        c.loop_stop()
        c.disconnect()


def _session_present(port: int, client_id: str) -> bool:
    got: list[bool] = []
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    c.on_connect = lambda _c, _u, flags, _r, _p: got.append(bool(flags.session_present))
    p = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    p.SessionExpiryInterval = 0
    c.connect("127.0.0.1", port, clean_start=False, properties=p)
    c.loop_start()
    try:
        return wait_for(lambda: got, 20, "the CONNACK")[0]
    finally:
        c.loop_stop()
        c.disconnect()


def test_a_killed_members_queued_share_is_drained_and_its_session_ends(tmp_path):
    broker = Broker(tmp_path / "broker", extra=["max_queued_messages 0"]).start()
    live: list[bytes] = []
    lock = threading.Lock()

    def keep(into: list[bytes]):
        def on_batch(_g: int, batch: list[subscriber.Message]) -> None:
            with lock:
                into.extend(m[1] for m in batch)
        return on_batch

    b = subscriber.Subscriber(subscriber.Settings("127.0.0.1", broker.port, "central-b", GROUP, session_expiry_s=600),
                              keep(live))
    member = subprocess.Popen([sys.executable, "-c", _MEMBER, str(broker.port), GROUP], stdout=subprocess.PIPE)
    drained: list[bytes] = []
    try:
        b.start()
        assert member.stdout is not None and member.stdout.readline().strip() == b"subscribed"
        wait_for(b.connected.is_set, 20, "the live member subscribed")
        member.kill()  # -9: no DISCONNECT, its session (and its share) stays with the broker
        member.wait(10)
        _publish(broker.port, 60, "x")
        d = subscriber.Subscriber(subscriber.Settings("127.0.0.1", broker.port, "central-c", GROUP, session_expiry_s=600,
                                                      drain=True), keep(drained))
        d.on_batch = lambda g, batch: (keep(drained)(g, batch), d.ack(g, [m[3] for m in batch if m[2]]))
        t = takeover.Takeover(b.s, lambda *_a: None, "central-b", lambda s, g, batch: None)
        began = time.monotonic()
        n = t.drain(d)
        took = time.monotonic() - began
        assert n == len(drained) and n > 0, "the broker dealt the dead member a share: else this test proves nothing"
        wait_for(lambda: len(live) + len(drained) >= 60, 30, "every message stored by the live member or the drain")
        with lock:
            assert sorted(live + drained) == sorted(f"x{i}".encode() for i in range(60)), "each once"
        assert not _session_present(broker.port, "central-c"), "the dead member's session ended with the drain"
        _publish(broker.port, 30, "y")
        wait_for(lambda: sum(p.startswith(b"y") for p in live) == 30, 30, "everything after goes to the live member")
        print(f"drained {len(drained)} messages in {took:.1f} s")
    finally:
        member.kill()
        b.stop()
        broker.stop()


def test_a_drain_finds_no_session_and_ends_at_once(tmp_path):
    broker = Broker(tmp_path / "broker").start()
    try:
        d = subscriber.Subscriber(subscriber.Settings("127.0.0.1", broker.port, "central-z", GROUP, session_expiry_s=600,
                                                      drain=True), lambda g, b: None)
        assert takeover.Takeover(d.s, lambda *_a: None, "central-a", lambda s, g, b: None).drain(d) == 0
        assert not _session_present(broker.port, "central-z")
    finally:
        broker.stop()


# three `edged-central run` instances on PostgreSQL, one killed for good -------------------------------
@pytest.fixture(scope="module")
def pg(pg_server):
    return pg_server


def test_three_instances_one_killed_its_share_drained_no_resend_asked(tmp_path, pg):
    """The killed instance's session is taken over by one live instance within seconds: every
    message published right after the kill (a third dealt to the dead session) is stored and
    verified with no gap, no resend asked, no finding; the dead row says who drained it."""
    from tests.test_central_instances import Instance, _try_store, _stored

    url = pg.database()
    broker = Broker(tmp_path / "broker", extra=["max_queued_messages 0"]).start()
    inst = {n: Instance(tmp_path, n, broker, url) for n in ("a", "b", "c")}
    nodes = [f"s{i % 3}/n{i}" for i in range(13)]
    t0 = now_us() - 60_000_000

    def burst(lo: int, hi: int) -> list[tuple[str, bytes, bool]]:
        return [(f"edged/v1/{n}/alarm", hostile.durable(t0 + i, {"id": f"a{i}", "action": "raise"}), False)
                for i in range(lo, hi) for n in nodes]
    try:
        for i in inst.values():
            i.start()
        store = wait_for(lambda: _try_store(url), 60, "the schema created")
        wait_for(lambda: all(b"subscribed to $share/central/" in i.log_path.read_bytes() for i in inst.values()), 60,
                 "the three instances subscribed")
        hostile.publish(broker.port, burst(1, 10), "fleet-1")
        wait_for(lambda: store.unverified() == 0 and _stored(store) == len(nodes) * 9, 120, "the first burst verified")
        inst["c"].stop(signal.SIGKILL)  # for good: its session stays with the broker, dealt a third of what comes
        killed = time.monotonic()
        hostile.publish(broker.port, burst(10, 40), "fleet-2")
        said = wait_for(lambda: [ln for i in ("a", "b") for ln in inst[i].log_path.read_text().splitlines()
                                 if "took over the broker session of instance central-c" in ln], 60,
                        "a live instance took over the dead member's session")
        took = time.monotonic() - killed
        wait_for(lambda: _stored(store) == len(nodes) * 39 and store.unverified() == 0, 120,
                 "every message stored and verified")
        drained = int(re.search(r"gone: (\d+) messages", said[0]).group(1))
        assert drained > 0, f"nothing was queued to the dead session: the test proved nothing ({said})"
        assert {n["node"]: n["verified_seq"] for n in store.nodes()} == {n: t0 + 39 for n in nodes}
        assert store.findings() == [], "no gap, no finding"
        with psycopg.connect(url, autocommit=True) as c:
            asked, by = central_pg_drained(c)
        assert asked == 0, "no resend asked"
        assert set(by) == {"central-c"} and by["central-c"] in ("central-a", "central-b"), by
        print(f"the dead member's {drained} messages drained {took:.1f} s after the kill; nothing asked again")
        store.close()
    finally:
        for i in inst.values():
            i.stop()
        broker.stop()
