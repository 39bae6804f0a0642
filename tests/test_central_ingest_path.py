"""edged-central's fast per-message path (issue 28, bench/central_ingest): the schema's field
tests as data agree with the tests they stand for, a malformed message still becomes a
`malformed_message` finding, a topic's remembered route, and the lean MQTT side (a PUBLISH
taken from the packet, the chunked socket, a batch's PUBACKs in one write)."""

from __future__ import annotations

import itertools
import json
import socket
import struct

import pytest

from central.intake import schema, subscriber
from mqtt import kinds
from central.store import store
from central.store.store import Store

T0 = 1_795_000_000_000_000

VALUES = [None, True, False, 0, 1, -1, 2**62, 1.5, -0.0, "", "x", "x" * 256, "x" * 257, {}, {"id": "a"},
          {"seq": 1, "hash": "h", "at_us": 1, "sig": "s"}, {"min_days": 1, "max_days": None}, {"max_days": "x"},
          [], [{"id": "a"}], [{"id": 1}], [1], ["a"], ["a" * 257], {"template": "t", "params": {}},
          {"template": 1}, {"template": "t", "params": [1]}]
BASE = {"seq": T0, "ts_us": T0}


def _reference(what: str, body: dict) -> bool:
    """FIELDS' own tests, one call a field, as check's slow loop applies them."""
    if what in kinds.SEQ_KINDS:
        if not schema.POS(body.get("seq")) or not schema.UINT(body.get("ts_us")):
            return False
    for name, test, required in schema.FIELDS.get(what, []):
        v = body.get(name)
        if v is None:
            if required:
                return False
        elif not test(v):
            return False
    return True


@pytest.mark.parametrize("what", sorted(schema.FIELDS))
def test_the_fast_field_tests_agree_with_the_fields(what):
    """Every field of every kind given every shape of value (one field changed at a time, then
    the required ones missing): the fast pass and FIELDS' functions give the same verdict, and
    check refuses exactly what they refuse."""
    names = [n for n, _t, _r in schema.FIELDS[what]] + ["seq", "ts_us"]
    good = {**BASE, **{n: _valid(what, n) for n, _t, _r in schema.FIELDS[what]}}
    assert _reference(what, good), good
    cases = [{**good, n: v} for n, v in itertools.product(names, VALUES)]
    cases += [{k: v for k, v in good.items() if k != n} for n in names]
    for body in cases:
        body = {k: v for k, v in body.items() if v is not None}
        want = _reference(what, body)
        assert schema._fields_ok(what, body) == want, (what, body)
        if not want:
            with pytest.raises(schema.Malformed):
                schema.check(what, json.dumps(body).encode())


def _valid(what: str, name: str):
    for v in [1, "x", True, {"seq": 1, "hash": "h", "at_us": 1, "sig": "s"}, [{"id": "a"}], ["a"], {},
              {"template": "t {n}", "params": {"n": 1}},
              [{"seq": 1, "kind": "audit", "bytes": 300_000, "limit": 262_144}]]:
        test = dict((n, t) for n, t, _r in schema.FIELDS[what])[name]
        if test(v):
            return v
    raise AssertionError(f"no valid value for {what}.{name}")


def test_check_text_gives_the_payload_as_stored():
    payload = '{"ts_us":1,"name":"門口","recording":true}'.encode()
    body, text = schema.check_text("camera", payload)
    assert body["name"] == "門口" and text == payload.decode("utf-8")
    assert schema.check_text("status", b"online") == ("online", "online")
    assert schema.check_text("camera", b"") == (None, "")


@pytest.mark.parametrize("payload,why", [
    (b'{"ts_us":true,"recording":true}', "ts_us"),
    (b'{"ts_us":1.5,"recording":true}', "ts_us"),
    (b'{"ts_us":-1,"recording":true}', "ts_us"),
    (b'{"ts_us":1,"recording":1}', "recording"),
    (b'{"ts_us":1,"fps":true}', "fps"),
    (b'{"ts_us":1,"health":"' + b"x" * 257 + b'"}', "health"),
])
def test_a_malformed_camera_state_is_still_a_finding(tmp_path, payload, why):
    """Through the store's ingest (the path every message takes): kept apart, a finding, not stored."""
    s = Store(tmp_path / "central.db")
    topic = "edged/v1/s1/n1/camera/cam1/state"
    ok = b'{"ts_us":1,"recording":true,"fps":20.0,"health":"ok","resolution":"1920x1080"}'
    s.ingest([(topic, payload), ("edged/v1/s1/n2/camera/cam1/state", ok)], T0)
    rej = s.rejected("s1/n1")
    assert len(rej) == 1 and why in rej[0]["why"], rej
    kinds = [f["kind"] for f in s.findings(node="s1/n1")]
    assert kinds == ["malformed_message"], kinds
    assert s.retained_of("s1/n1")["cameras"] == {}, "a malformed state is not the node's state"
    assert s.retained_of("s1/n2")["cameras"], "the healthy node's state is stored"
    s.close()


def test_a_topics_route_is_remembered_and_bounded(monkeypatch):
    monkeypatch.setattr(store, "_ROUTES", {})
    monkeypatch.setattr(store, "ROUTES_MAX", 4)
    assert store.route("edged/v1/s/n/camera/c/state") == ("s/n", "s", "camera/c/state", "camera")
    assert store.route("edged/v1/s/n/cmd/7/reply") == ("s/n", "s", "cmd/7/reply", "reply")
    assert store.route("edged/v1/s/n/cmd/7") == ("s/n", "s", "cmd/7", None)
    assert store.route("edged/v1/s/n/audit")[3] == "audit"
    assert store.route("other/v1/s/n/audit") is None
    assert len(store._ROUTES) <= 4, "past its bound the memory starts afresh"
    long = "edged/v1/s/n/camera/" + "c" * 200 + "/state"
    assert store.route(long)[3] == "camera" and long not in store._ROUTES


# the MQTT side, without a broker ------------------------------------------------------------------
def _client() -> subscriber._Client:
    c = subscriber._Client(subscriber.mqtt.CallbackAPIVersion.VERSION2, protocol=subscriber.mqtt.MQTTv5,
                           manual_ack=True)
    got: list = []
    c.on_publish_lean = lambda *m: got.append(m)
    c.got = got  # type: ignore[attr-defined]
    return c


def _publish(topic: bytes, payload: bytes, qos: int, mid: int, props: bytes = b"\x00") -> tuple[int, bytes]:
    head = struct.pack("!H", len(topic)) + topic + (struct.pack("!H", mid) if qos else b"")
    return 0x30 | (qos << 1), head + props + payload


@pytest.mark.parametrize("qos,props", [
    (1, b"\x00"),
    (0, b"\x00"),
    (1, b"\x05\x02\x00\x00\x00\x3c"),                          # message expiry 60
    (1, bytes([0x80, 0x01]) + b"\x26" + struct.pack("!H", 61) + b"k" * 61 + struct.pack("!H", 62) + b"v" * 62),
])
def test_a_publish_is_taken_straight_from_the_packet(qos, props):
    """Topic, payload, QoS and packet id as paho's own decoding gives them, properties of any length skipped."""
    c = _client()
    cmd, packet = _publish("edged/v1/s/n/camera/門/state".encode(), b'{"ts_us":1}', qos, 4242, props)
    c._in_packet = {"command": cmd, "packet": packet}
    assert c._handle_publish() == subscriber.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert c.got == [("edged/v1/s/n/camera/門/state", b'{"ts_us":1}', qos, 4242 if qos else 0)]
    from paho.mqtt import _packet
    ref = _packet.decode_publish(cmd, packet, subscriber.mqtt.MQTTv5)
    assert (ref.topic.decode(), ref.payload, ref.qos, ref.mid) == c.got[0]


def test_a_topic_that_is_not_utf8_goes_pahos_way():
    c = _client()
    seen = []
    c.on_message = lambda _c, _u, msg: seen.append(msg.payload)
    cmd, packet = _publish(b"edged/\xff", b"x", 1, 7)
    c._in_packet = {"command": cmd, "packet": packet}
    c._handle_publish()
    assert c.got == [] and seen == [b"x"]


def test_the_chunked_socket_serves_small_reads_from_one_recv():
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        s = subscriber._Chunked(b)
        a.sendall(b"\x30\x03abc\x30\x01z")
        assert s.recv(1) == b"\x30" and s.pending() == 7
        assert s.recv(1) == b"\x03" and s.recv(3) == b"abc"
        assert s.recv(1) == b"\x30" and s.recv(1) == b"\x01" and s.recv(5) == b"z"
        assert s.pending() == 0
        with pytest.raises(BlockingIOError):
            s.recv(1)
        assert s.fileno() == b.fileno(), "the rest is the socket's"
        a.close()
        assert s.recv(1) == b"", "the end of the connection as before"
    finally:
        b.close()


def test_a_batch_of_acks_is_one_write():
    a, b = socket.socketpair()
    try:
        c = _client()
        c._sock = subscriber._Chunked(b)
        c.ack_many([1, 2, 65535])
        a.settimeout(5)
        got = b""
        while len(got) < 12:
            got += a.recv(64)
        assert got == b"\x40\x02\x00\x01" b"\x40\x02\x00\x02" b"\x40\x02\xff\xff"
        c.ack_many([])
        assert not c._out_packet
    finally:
        a.close()
        b.close()


def test_the_lean_path_is_on_for_the_pinned_paho_only():
    """The lean path reads paho's internals: an upgraded paho turns it off (paho's own way for
    everything) and this test says someone must read it again against the new version."""
    import paho.mqtt

    from central.intake import subscriber

    assert subscriber.LEAN == (paho.mqtt.__version__ == "2.2.0")
    assert subscriber.LEAN, f"paho {paho.mqtt.__version__}: read central/intake/subscriber.py's lean path against it"
