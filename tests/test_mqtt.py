"""The reporter against a real mosquitto started by each test on a free port (no fixed sleeps:
every wait is a condition with a deadline)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from edged.config import MqttConfig, MqttTlsConfig, parse_config
from mqtt import kinds
from mqtt.commands import sign_command
from mqtt.reporter import Reporter
from mqtt.topics import Topics
from storage.time.clock import SYSTEM
from storage.outbox import OutboxFull
from tests.support.broker import Broker, Subscriber, free_port, make_pki, until

ROOT = Path(__file__).resolve().parents[1]
SITE, NODE = "town-hall", "node1"
T = Topics(SITE, NODE)
DURABLE = tuple(T.of(k) for k in kinds.DURABLE_KINDS if k.fixed)  # every durable kind's topic (mqtt/kinds.py)
BIRTH = {"version": "0.1.0", "config_hash": "abc", "session": 3, "policy": {"min_days": 30},
         "cameras": [{"id": "lobby", "name": "Lobby"}, {"id": "car-park", "name": "Car park"}]}


def config(port: int, **kw: Any) -> MqttConfig:
    return MqttConfig(**{"enabled": True, "host": "127.0.0.1", "port": port, "client_id": f"edged-{SITE}-{NODE}",
                         "reconnect_max_us": 300_000, **kw})


@contextlib.asynccontextmanager
async def running(reporter: Reporter) -> AsyncIterator[Reporter]:
    stopping = asyncio.Event()
    task = asyncio.create_task(reporter.run(stopping), name="reporter")
    try:
        yield reporter
    finally:
        stopping.set()
        await asyncio.wait_for(task, 15)
    assert reporter.status == "stopped"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def cleanup():
    """Things to stop at the end of a test (brokers, subscribers), last first."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        item.stop()


def started(cleanup: list, thing: Any) -> Any:
    cleanup.append(thing)
    return thing.start()


@pytest.fixture
def broker(tmp_path: Path, cleanup: list) -> Broker:
    return started(cleanup, Broker(tmp_path / "broker"))


async def drained(r: Reporter, timeout: float = 10) -> None:
    """Wait until the outbox is empty: messages are deleted just after their PUBACK."""
    deadline = time.monotonic() + timeout
    while (await r.outbox_stats())["pending"]:
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.02)


def payloads(sub: Subscriber, topics: tuple[str, ...] = DURABLE) -> list[dict]:
    with sub._lock:
        return [m.json() for m in sub.messages if m.topic in topics]


# --- connect, birth, retained state, clean stop ---------------------------------------------


async def test_online_birth_and_states_on_connect_offline_on_stop(broker, data, cleanup):
    sub = started(cleanup, Subscriber(broker))
    r = Reporter(config(broker.port), SITE, NODE, data)
    r.set_birth(BIRTH)
    r.set_state({"storage": {"free_bytes": 10**12, "total_bytes": 4 * 10**12},
                 "retention": {"achieved_days": 41.5, "forecast_days": 38.0}, "alarms": []})
    r.set_camera_state("lobby", {"recording": True, "fps": 20.0, "bitrate": 4_000_000, "width": 1920,
                                 "height": 1080, "last_frame_us": 1, "health": "ok"})
    r.set_camera_state("car-park", {"recording": False, "health": "unreachable", "error": "connection refused"})
    async with running(r):
        await until(lambda: r.status == "connected" and r.protocol == "5", 10, "connected over MQTT 5")
        await until(lambda: sub.last(T.status) and sub.last(T.status).payload == b"online", 5, "online")
        await until(lambda: sub.last(T.camera_state("car-park")), 5, "camera states")
        birth = sub.last(T.birth).json()
        assert {k: birth[k] for k in BIRTH} == BIRTH and birth["last_seq"] > 0 and birth["ts_us"] > 0
        state = sub.last(T.state).json()
        assert state["retention"]["achieved_days"] == 41.5
        assert state["outbox"] == {"pending": 0, "limit": 100000, "full": False, "refused": {}}
        assert sub.last(T.camera_state("lobby")).json()["recording"] is True
        car = sub.last(T.camera_state("car-park")).json()
        assert (car["recording"], car["health"]) == (False, "unreachable")

        seq = await r.alarm({"id": "camera_offline:car-park", "action": "raise", "severity": "warning",
                             "camera": "car-park", "message": "camera unreachable"})
        assert seq == birth["last_seq"] + 1  # the first message after the birth: no gap
        await until(lambda: sub.last(T.alarm), 5, "the alarm")
        alarm = sub.last(T.alarm).json()
        assert alarm["seq"] == seq and alarm["ts_us"] > 0 and alarm["id"] == "camera_offline:car-park"

        late = started(cleanup, Subscriber(broker))  # retained: a newcomer sees the latest at once
        await until(lambda: all(late.last(t) for t in (T.status, T.birth, T.state, T.camera_state("lobby"))),
                    5, "retained messages for a late subscriber")
        assert all(late.last(t).retain for t in (T.status, T.birth, T.state))
        assert not late.on(T.alarm)  # durable messages are not retained
        await drained(r)
    await until(lambda: sub.last(T.status).payload == b"offline", 5, "offline after a clean stop")


async def test_a_message_over_the_brokers_bound_is_reported_in_the_state_and_is_an_office_finding(tmp_path, data,
                                                                                                  cleanup):
    """Issue 43 item 3 (design/0119): mosquitto's max_packet_size, said in its CONNACK; a message
    over it would make the broker hang up at every try and hold the outbox for ever. It is not
    sent, the messages after it are, the next state says which it was, and the office makes that
    a `message_too_large` finding."""
    from central.store.store import Store

    broker = started(cleanup, Broker(tmp_path / "broker", extra=["max_packet_size 2048"]))
    sub = started(cleanup, Subscriber(broker))
    r = Reporter(config(broker.port), SITE, NODE, data)
    r.set_birth(BIRTH)
    r.set_state({"retention": {"achieved_days": 1.0}})
    async with running(r):
        await until(lambda: r.status == "connected" and r.protocol == "5", 10, "connected over MQTT 5")
        big = await r.alarm({"id": "big", "action": "raise", "message": "x" * 4000})
        small = await r.alarm({"id": "small", "action": "raise"})
        await until(lambda: any(m["seq"] == small for m in payloads(sub)), 10, "the message after the big one")
        await until(lambda: "too_large" in (sub.last(T.state).json() if sub.last(T.state) else {}), 10,
                    "the state naming the refused publish")
        assert [m["seq"] for m in payloads(sub)] == [small], "the big one was not sent, nor the link lost"
        state = sub.last(T.state)
        [entry] = state.json()["too_large"]
        assert (entry["seq"], entry["kind"], entry["limit"]) == (big, "alarm", 2048) and entry["bytes"] > 4000
        await drained(r)
    office = Store(tmp_path / "central.db")
    office.ingest([(state.topic, state.payload)] * 2, 1_000)  # the retained state again: one finding
    found = [f for f in office.findings() if f["kind"] == "message_too_large"]
    assert len(found) == 1 and f"alarm message {big} of" in found[0]["message"], found
    assert office.rejected() == [], "nothing of it is kept: the node's report is the finding"
    office.close()


CHILD = """
import asyncio, sys
from pathlib import Path
from edged.config import MqttConfig
from mqtt.reporter import Reporter

async def main():
    cfg = MqttConfig(enabled=True, host="127.0.0.1", port={port}, client_id="edged-child")
    r = Reporter(cfg, "town-hall", "node1", Path({data!r}))
    r.set_birth({{"version": "child"}})
    stopping = asyncio.Event()
    task = asyncio.create_task(r.run(stopping))
    while r.status != "connected":
        await asyncio.sleep(0.02)
    print("connected", flush=True)
    await task

asyncio.run(main())
"""


async def test_last_will_is_offline_when_the_process_is_killed(broker, data, cleanup, tmp_path):
    sub = started(cleanup, Subscriber(broker, T.status))
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(port=broker.port, data=str(data)))
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), cwd=ROOT, stdout=subprocess.PIPE,
                                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.strip() == b"connected"
        await until(lambda: sub.last(T.status) and sub.last(T.status).payload == b"online", 5, "online")
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
        await until(lambda: sub.last(T.status).payload == b"offline", 10, "the last will")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    late = started(cleanup, Subscriber(broker, T.status))
    await until(lambda: late.last(T.status), 5, "the retained status")
    assert late.last(T.status).payload == b"offline" and late.last(T.status).retain


# --- the outbox -----------------------------------------------------------------------------


async def test_alarms_raised_while_the_broker_is_down_arrive_in_order_after_a_restart(tmp_path, data, cleanup):
    broker = Broker(tmp_path / "broker", persistence=True)
    cleanup.append(broker)
    broker.start()
    # The central office: a persistent session, so what arrives while it reconnects waits for it.
    sub = started(cleanup, Subscriber(broker, f"{T.base}/#", persistent="central-office"))
    broker.stop()
    sent: list[int] = []
    first = Reporter(config(broker.port), SITE, NODE, data)
    async with running(first):
        await until(lambda: first.status == "connecting: connection refused", 10, "a refused connection")
        for i in range(20):
            sent.append(await first.alarm({"id": f"camera_offline:cam{i}", "action": "raise"}))
        sent.append(await first.audit({"actor": "custodian", "action": "hold.place"}))
        sent.append(await first.retention({"segment": 1, "reason": "max_retention"}))
    # edged restarts while the broker is still down, and raises more
    second = Reporter(config(broker.port), SITE, NODE, data)
    async with running(second):
        for i in range(20):
            sent.append(await second.alarm({"id": f"camera_offline:cam{i}", "action": "clear"}))
        sent.append(await second.inspection({"camera": "lobby", "result": "ok"}))
        assert sent == list(range(sent[0], sent[0] + len(sent)))  # consecutive across the restart
        broker.start()
        await until(lambda: len(payloads(sub)) >= len(sent), 20, f"{len(sent)} durable messages")
        got = payloads(sub)
        assert [m["seq"] for m in got] == sent  # every one, in order, no gap, no duplicate
        assert [m["action"] for m in got if "id" in m] == ["raise"] * 20 + ["clear"] * 20
        await drained(second)
        # and while connected, a broker restart loses nothing either
        broker.restart()
        more = [await second.alarm({"id": "disk", "action": "raise"}) for _ in range(5)]
        seqs = lambda: [m["seq"] for m in payloads(sub)]
        await until(lambda: set(more) <= set(seqs()), 20, "messages after a broker restart")
        # The restarted broker may deliver again what the subscriber had not acknowledged when it
        # stopped (at least once): the central side drops a seq it has seen.
        assert [s for s in seqs()[len(sent):] if s not in sent] == more


async def test_state_is_coalesced_and_never_queued(broker, data, cleanup):
    port = free_port()  # nothing listens here yet
    r = Reporter(config(port), SITE, NODE, data)
    async with running(r):
        await until(lambda: r.status.startswith("connecting:"), 10, "a failed connection")
        for n in range(200):
            r.set_state({"n": n})
            r.set_camera_state("lobby", {"recording": True, "n": n})
        assert (await r.outbox_stats())["pending"] == 0
    late_broker = started(cleanup, Broker(broker.folder.parent / "broker2", port=port))
    sub = started(cleanup, Subscriber(late_broker))
    r = Reporter(config(port), SITE, NODE, data)
    for n in range(200):
        r.set_state({"n": n})
    async with running(r):
        await until(lambda: sub.on(T.state), 10, "the state")
        for n in range(200, 300):  # a burst while connected: only the newest matters
            r.set_state({"n": n})
        await until(lambda: sub.last(T.state).json()["n"] == 299, 5, "the newest state")
        states = [m.json()["n"] for m in sub.on(T.state)]
        assert states[0] == 199 and len(states) <= 3


async def test_outbox_bound(tmp_path, data, cleanup):
    port = free_port()
    flags: list[bool] = []
    r = Reporter(config(port, outbox_max=10), SITE, NODE, data, on_outbox_full=flags.append)
    async with running(r):
        for i in range(10):
            await r.retention({"segment": i})
        assert flags == [True]  # the daemon raises its outbox_full alarm from this
        with pytest.raises(OutboxFull):
            await r.inspection({"camera": "lobby"})
        alarms = [await r.alarm({"id": "outbox_full", "action": "raise", "n": i}) for i in range(100)]
        with pytest.raises(OutboxFull):
            await r.alarm({"id": "x", "action": "raise"})
        stats = await r.outbox_stats()
        assert stats == {"pending": 110, "limit": 10, "full": True, "refused": {"alarm": 1, "inspection": 1}}
        broker = started(cleanup, Broker(tmp_path / "broker", port=port))
        sub = started(cleanup, Subscriber(broker))
        await until(lambda: flags == [True, False], 20, "the outbox to drain below its bound")
        await until(lambda: len(payloads(sub)) == 110, 10, "every message stored")
        await drained(r)
        r.set_state({"storage": {}})
        await until(lambda: sub.last(T.state) and sub.last(T.state).json()["outbox"]["pending"] == 0, 10,
                    "the drained outbox in the state")
        assert sub.last(T.state).json()["outbox"]["refused"] == {"alarm": 1, "inspection": 1}
        assert alarms[-1] == alarms[0] + 99


# --- TLS and passwords ----------------------------------------------------------------------


async def test_tls_with_password(tmp_path, data, cleanup, caplog):
    caplog.set_level(logging.INFO)
    pki = make_pki(tmp_path / "pki")
    broker = started(cleanup, Broker(tmp_path / "broker", users={"node1": "right-Secret-1"}, pki=pki))
    sub = started(cleanup, Subscriber(broker, username="node1", password="right-Secret-1", ca=pki.ca))
    tls = MqttTlsConfig(ca_file=pki.ca)

    wrong = Reporter(config(broker.port, tls=tls, username="node1", password="wrong-Secret-2"), SITE, NODE, data)
    async with running(wrong):
        # mosquitto answers "not authorized" (not "bad user name or password") to a wrong password
        await until(lambda: wrong.status.startswith("refused: ") and "password" in wrong.status, 10,
                    "a clear refusal")
        assert await wrong.alarm({"id": "a", "action": "raise"}) > 0  # still queued: nothing crashed
    stranger = Reporter(config(broker.port, tls=MqttTlsConfig(ca_file=pki.other_ca), username="node1",
                               password="right-Secret-1"), SITE, NODE, data)
    async with running(stranger):
        await until(lambda: stranger.status.startswith("tls error: certificate verify failed"), 10,
                    "a TLS verification failure")
    right = Reporter(config(broker.port, tls=tls, username="node1", password="right-Secret-1"), SITE, NODE, data)
    async with running(right):
        await until(lambda: right.status == "connected", 10, "connected over TLS")
        await until(lambda: sub.on(T.alarm), 10, "the alarm queued while refused")
    text = caplog.text
    assert "refused: not authorized (wrong username or password" in text and "connected" in text
    assert "Secret" not in text and "Secret" not in repr(right.cfg)


async def test_client_certificate(tmp_path, data, cleanup):
    pki = make_pki(tmp_path / "pki")
    broker = started(cleanup, Broker(tmp_path / "broker", pki=pki, require_certificate=True))
    without = Reporter(config(broker.port, tls=MqttTlsConfig(ca_file=pki.ca)), SITE, NODE, data)
    async with running(without):
        # TLS 1.3 reports a missing client certificate only after the handshake, as an alert
        await until(lambda: without.status.startswith("connecting: ") and "certificate" in without.status, 10,
                    "a refusal that names the client certificate")
    cert = MqttTlsConfig(ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key)
    with_cert = Reporter(config(broker.port, tls=cert), SITE, NODE, data)
    async with running(with_cert):
        await until(lambda: with_cert.status == "connected", 10, "connected with a client certificate")


ACL = f"""
pattern readwrite edged/v1/{SITE}/%u/#

user central-office
topic readwrite edged/v1/#
"""


async def test_the_reference_acl_confines_a_node_to_its_subtree(tmp_path, cleanup):
    users = {"node1": "pw-1", "central-office": "pw-c"}
    broker = started(cleanup, Broker(tmp_path / "broker", users=users, acl=ACL))
    central = started(cleanup, Subscriber(broker, "edged/v1/#", username="central-office", password="pw-c"))
    data = tmp_path / "data"
    data.mkdir()
    node = Reporter(config(broker.port, username="node1", password="pw-1"), SITE, NODE, data)
    async with running(node):
        await until(lambda: node.status == "connected", 10, "connected")
        seq = await node.alarm({"id": "a", "action": "raise"})
        central.publish(T.cmd("state"), "{}")
        await until(lambda: central.on(T.alarm) and central.on(T.cmd_reply("state")), 10, "alarm and reply")
        assert central.last(T.alarm).json()["seq"] == seq
    # node1 configured with another site's id: outside its subtree, the broker refuses (MQTT 5)
    other = tmp_path / "other"
    other.mkdir()
    stray = Reporter(config(broker.port, username="node1", password="pw-1"), "elsewhere", NODE, other)
    async with running(stray):
        seq = await stray.alarm({"id": "b", "action": "raise"})
        await until(lambda: stray.status.startswith("refused by the broker: Not authorized"), 10,
                    "the refusal as a status")
        assert (await stray.outbox_stats())["pending"] == 1  # kept, to be sent once the ACL is fixed
    assert not [m for m in central.messages if m.topic.startswith("edged/v1/elsewhere/")]


# --- commands -------------------------------------------------------------------------------


async def test_signed_commands(broker, data, cleanup):
    key = Ed25519PrivateKey.generate()
    pub = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    records: list[dict] = []
    holds: list[tuple[dict, str]] = []

    async def hold(args: dict, actor: str) -> dict:
        holds.append((args, actor))
        return {"hold_id": len(holds), "case": args["case"]}

    async def record(r: dict) -> None:
        records.append(r)

    def reporter() -> Reporter:
        return Reporter(config(broker.port, command_key=pub), SITE, NODE, data, commands={"hold": hold},
                        on_command_record=record)

    sub = started(cleanup, Subscriber(broker))
    now = SYSTEM.now_us()
    valid = sign_command(key, "hold", {"case": "C-17", "camera": "lobby"}, "nonce-0001", now + 60_000_000,
                         f"{SITE}/{NODE}", correlation="req-1")
    cases = [
        ("hold", valid, True, None),
        ("hold", {"cmd": "hold", "args": {"case": "C-1"}}, False, "unsigned"),
        ("hold", sign_command(Ed25519PrivateKey.generate(), "hold", {"case": "C-1"}, "nonce-0002",
                              now + 60_000_000, f"{SITE}/{NODE}"), False, "bad signature"),
        ("hold", sign_command(key, "hold", {"case": "C-1"}, "nonce-0003", now - 1, f"{SITE}/{NODE}"), False,
         "expired"),
        ("hold", valid, False, "replayed"),
        ("format", sign_command(key, "format", {}, "nonce-0004", now + 60_000_000, f"{SITE}/{NODE}"), False,
         "unknown command"),
    ]
    replies = lambda verb: [m for m in sub.messages if m.topic == T.cmd_reply(verb)]
    r = reporter()
    async with running(r):
        await until(lambda: r.status == "connected", 10, "connected")
        for i, (verb, doc, _ok, _why) in enumerate(cases):
            sub.publish(T.cmd(verb), json.dumps(doc), correlation=f"corr-{i}".encode())
            await until(lambda n=i + 1: len(records) == n, 10, f"the record of command {i}")
        await until(lambda: len(replies("hold")) == 5 and len(replies("format")) == 1, 10, "the replies")
        ok = replies("hold")[0]
        assert ok.correlation == b"corr-0"  # MQTT v5 correlation data, copied
        body = ok.json()
        assert body["ok"] and body["result"] == {"hold_id": 1, "case": "C-17"} and body["correlation"] == "req-1"
        assert body["seq"] > 0 and body["nonce"] == "nonce-0001"
    assert holds == [({"case": "C-17", "camera": "lobby"}, records[0]["actor"])]
    for (verb, _doc, accepted, why), rec in zip(cases, records):
        assert rec["cmd"] == verb and rec["accepted"] is accepted
        assert why is None or why in rec["reason"]
    audits = [m.json() for m in sub.on(T.audit)]
    assert [a["accepted"] for a in audits] == [c[2] for c in cases] and all(a["kind"] == "command" for a in audits)

    again = reporter()  # a restart does not reopen the replay window
    async with running(again):
        await until(lambda: again.status == "connected", 10, "connected again")
        sub.publish(T.cmd("hold"), json.dumps(valid))
        await until(lambda: len(records) == len(cases) + 1, 10, "the replay's record")
    assert not records[-1]["accepted"] and records[-1]["reason"].startswith("replayed")
    assert len(holds) == 1


async def test_builtin_rebirth_and_state_signed_only(broker, data, cleanup):
    key = Ed25519PrivateKey.generate()
    pub = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    sub = started(cleanup, Subscriber(broker))
    r = Reporter(config(broker.port, command_key=pub), SITE, NODE, data)
    r.set_birth({"version": "x"})
    r.set_state({"n": 1})
    now = SYSTEM.now_us()

    def cmd(verb: str, nonce: str, **extra: Any) -> str:
        return json.dumps(sign_command(key, verb, {}, nonce, now + 60_000_000, f"{SITE}/{NODE}", **extra))

    async with running(r):
        await until(lambda: sub.on(T.birth) and sub.on(T.state), 10, "birth and state")
        sub.publish(T.cmd("rebirth"), "{}")  # unsigned: refused, answered
        await until(lambda: sub.on(T.cmd_reply("rebirth")), 5, "the refusal")
        assert "unsigned" in sub.last(T.cmd_reply("rebirth")).json()["error"] and len(sub.on(T.birth)) == 1
        sub.publish(T.cmd("rebirth"), cmd("rebirth", "nonce-r-0001"))
        await until(lambda: len(sub.on(T.birth)) == 2 and len(sub.on(T.state)) == 2, 5, "a rebirth")
        sub.publish(T.cmd("state"), cmd("state", "nonce-s-0001", correlation=7))
        await until(lambda: len(sub.on(T.state)) == 3, 5, "the state again")
        await until(lambda: len(sub.on(T.cmd_reply("state"))) == 1, 5, "the reply")
        assert sub.last(T.cmd_reply("state")).json()["correlation"] == 7
        assert len(sub.on(T.birth)) == 2


async def test_a_signed_resend_sends_the_history_again_byte_for_byte(broker, data, cleanup):
    """issue 43 item 2: messages the broker acknowledged go out again, the same bytes under the same
    seqs, when the office asks; the reply says what the box no longer has (here: seqs it never gave)."""
    key = Ed25519PrivateKey.generate()
    pub = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    sub = started(cleanup, Subscriber(broker))
    r = Reporter(config(broker.port, command_key=pub), SITE, NODE, data)
    now = SYSTEM.now_us()
    async with running(r):
        await until(lambda: r.status == "connected", 10, "connected")
        seqs = [await r.alarm({"id": f"a{i}", "action": "raise"}) for i in range(4)]
        await until(lambda: len(sub.on(T.alarm)) == 4, 10, "four alarms at the office")
        await until(lambda: not r._inflight, 10, "their PUBACKs")
        first = {m.json()["seq"]: m.payload for m in sub.on(T.alarm)}
        doc = sign_command(key, "resend", {"from": seqs[0] - 2, "to": seqs[2]}, "nonce-rs-0001",
                           now + 60_000_000, f"{SITE}/{NODE}")
        sub.publish(T.cmd("resend"), json.dumps(doc))
        await until(lambda: sub.on(T.cmd_reply("resend")) and len(sub.on(T.alarm)) == 7, 10, "the three again")
        again = sub.on(T.alarm)[4:]
        assert [(m.json()["seq"], m.payload) for m in again] == [(s, first[s]) for s in seqs[:3]]
        reply = sub.last(T.cmd_reply("resend")).json()
        assert reply["ok"] and reply["result"]["requeued"] == 3, reply
        assert reply["result"]["missing"] == [[seqs[0] - 2, seqs[0] - 1]]  # before the box's first seq
        assert reply["result"]["history_days"] == 14
        bad = sign_command(key, "resend", {"from": "x", "to": 3}, "nonce-rs-0002", now + 60_000_000, f"{SITE}/{NODE}")
        sub.publish(T.cmd("resend"), json.dumps(bad))
        await until(lambda: len(sub.on(T.cmd_reply("resend"))) == 2, 10, "the refusal")
        assert "positive whole seqs" in sub.last(T.cmd_reply("resend")).json()["error"]


# --- protocol fallback and Home Assistant ---------------------------------------------------


async def fake_v311_broker(levels: list[int]) -> asyncio.Server:
    """Speaks just enough MQTT 3.1.1 and refuses MQTT 5 the way an old broker does."""
    async def packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = (await reader.readexactly(1))[0]
        length, mult = 0, 1
        while True:
            b = (await reader.readexactly(1))[0]
            length, mult = length + (b & 127) * mult, mult * 128
            if not b & 128:
                return head, await reader.readexactly(length)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _, body = await packet(reader)
            levels.append(body[6])
            if body[6] != 4:
                writer.write(b"\x20\x02\x00\x01")  # CONNACK: unacceptable protocol version
                return
            writer.write(b"\x20\x02\x00\x00")
            while True:
                head, body = await packet(reader)
                kind, qos = head >> 4, (head >> 1) & 3
                if kind == 3 and qos == 1:  # PUBLISH: PUBACK it
                    tlen = int.from_bytes(body[:2], "big")
                    writer.write(b"\x40\x02" + body[2 + tlen:4 + tlen])
                elif kind == 8:  # SUBSCRIBE: SUBACK
                    writer.write(b"\x90\x03" + body[:2] + b"\x01")
                elif kind == 14:  # DISCONNECT
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def test_falls_back_to_mqtt_311(data):
    levels: list[int] = []
    server = await fake_v311_broker(levels)
    port = server.sockets[0].getsockname()[1]
    r = Reporter(config(port), SITE, NODE, data)
    try:
        async with running(r):
            await until(lambda: r.status == "connected", 10, "connected over 3.1.1")
            assert r.protocol == "3.1.1" and levels == [5, 4]
            assert await r.alarm({"id": "a", "action": "raise"}) > 0
            await until(lambda: not r._inflight, 5, "the alarm acknowledged")
    finally:
        server.close()
        await server.wait_closed()


async def test_home_assistant_discovery(broker, data, cleanup):
    sub = started(cleanup, Subscriber(broker))
    r = Reporter(config(broker.port, homeassistant=True), SITE, NODE, data)
    r.set_birth(BIRTH)
    node_id = "edged_town-hall_node1"
    car_park = f"homeassistant/binary_sensor/{node_id}/car-park_recording/config"
    async with running(r):
        await until(lambda: sub.on(car_park), 10, "discovery configs")
        assert sub.last(car_park).json()["state_topic"] == T.camera_state("car-park")
        assert sub.on(f"homeassistant/sensor/{node_id}/retention_achieved/config")
        r.set_birth({**BIRTH, "cameras": [{"id": "lobby", "name": "Lobby"}]})  # the car park camera is gone
        await until(lambda: sub.last(car_park).payload == b"", 5, "the removed camera's config emptied")


def test_mqtt_section_through_the_config_loader(tmp_path):
    cfg = parse_config({"site": {"id": SITE, "node": NODE},
                        "mqtt": {"enabled": True, "host": "broker.example.org", "tls": {}, "username": "node1",
                                 "password": "pw", "homeassistant": True}})
    r = Reporter(cfg.mqtt, cfg.site.id, cfg.site.node, tmp_path)
    assert r.cfg.client_id == f"edged-{SITE}-{NODE}" and r.status == "not started"


async def test_disabled_reporter_is_inert(data):
    r = Reporter(MqttConfig(), SITE, NODE, data)
    await asyncio.wait_for(r.run(asyncio.Event()), 5)
    assert r.status == "disabled"
    assert await r.alarm({"id": "a", "action": "raise"}) == 0
    assert not (data / "outbox.db").exists()


async def test_nothing_is_dropped_while_no_one_at_the_office_is_subscribed(broker, data, cleanup):
    """Issue 53 item 4: with the whole office away longer than its sessions' expiry, the broker
    answers PUBACK "No matching subscribers" and drops the message. The box keeps it and offers
    the oldest again, alone, until the office is back: then every one arrives, in order, once."""
    r = Reporter(config(broker.port), SITE, NODE, data)
    async with running(r):
        await until(lambda: r.status == "connected", 10, "connected")
        sent = [await r.alarm({"id": f"camera_offline:cam{i}", "action": "raise"}) for i in range(30)]
        await until(lambda: r.unheard >= 1, 10, "the broker's 'No matching subscribers'")
        assert (await r.outbox_stats())["pending"] == len(sent), "kept: nobody received them"
        sub = started(cleanup, Subscriber(broker, f"{T.base}/#"))  # the office is back
        await until(lambda: len(payloads(sub)) >= len(sent), 30, "every message once the office is back")
        await drained(r)
        got = [m["seq"] for m in payloads(sub)]
        assert got == sent, "every one, in order, none twice"
        assert r.unheard <= len(sent) + 8, "the backlog was offered once, then its oldest alone: no storm"
