"""The MQTT parts that need no broker: topics, command checks, the outbox file, discovery."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
import ssl

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from mqtt.client import backoff_s, describe_connect_error, describe_refusal
from mqtt.commands import CommandDesk, canonical, check_command, sign_command
from mqtt.discovery import discovery_messages
from mqtt.outbox import OutboxWriter
from mqtt.topics import Topics
from storage.time.clock import SYSTEM, FakeClock
from storage.outbox import Outbox, OutboxError, OutboxFull, frame
from tests.support.catalog import outbox_as_schema_1, rows

T = Topics("town-hall", "node1")
NOW = 1_800_000_000_000_000
MINUTE = 60_000_000


# --- topics -------------------------------------------------------------------------------


def test_topics():
    assert T.base == "edged/v1/town-hall/node1"
    assert T.status == "edged/v1/town-hall/node1/status"
    assert T.birth.endswith("/birth") and T.state.endswith("/state")
    assert T.camera_state("lobby") == "edged/v1/town-hall/node1/camera/lobby/state"
    assert [T.alarm, T.audit, T.retention, T.inspection] == [
        f"edged/v1/town-hall/node1/{k}" for k in ("alarm", "audit", "retention", "inspection")]
    assert T.cmd("hold") == "edged/v1/town-hall/node1/cmd/hold"
    assert T.cmd_reply("hold") == "edged/v1/town-hall/node1/cmd/hold/reply"
    assert T.cmd_filter == "edged/v1/town-hall/node1/cmd/+"
    assert T.verb_of("edged/v1/town-hall/node1/cmd/hold") == "hold"
    assert T.verb_of("edged/v1/town-hall/node2/cmd/hold") is None
    assert T.verb_of("edged/v1/town-hall/node1/cmd/hold/reply") is None


@pytest.mark.parametrize("bad", ["", "a/b", "+", "a#", "x\x00"])
def test_topic_levels_are_checked(bad):
    with pytest.raises(ValueError):
        T.camera_state(bad)
    with pytest.raises(ValueError):
        Topics(bad, "n")


# --- commands -----------------------------------------------------------------------------

KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key()
VERBS = {"rebirth", "state", "hold"}


def check(verb: str, doc: object, key=PUB, now: int = NOW) -> object:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return check_command(verb, payload, verbs=VERBS, key=key, max_age_us=5 * MINUTE, now_us=now,
                         target="town-hall/node1")


def signed(verb: str = "hold", args: dict | None = None, nonce: str = "n-0123456789", expires: int = NOW + MINUTE,
           key: Ed25519PrivateKey = KEY, to: str | None = "town-hall/node1", **extra: object) -> dict:
    return sign_command(key, verb, args or {"case": "C-1"}, nonce, expires, to, **extra)


def test_canonical_form_is_sorted_compact_and_excludes_sig():
    assert canonical({"b": 1, "a": [1, 2], "sig": "x", "c": "é"}) == b'{"a":[1,2],"b":1,"c":"\\u00e9"}'


def test_valid_signed_command():
    c = check("hold", signed(correlation="req-7"))
    assert c.accepted and c.reason is None
    assert (c.args, c.nonce, c.expires_us, c.correlation) == ({"case": "C-1"}, "n-0123456789", NOW + MINUTE, "req-7")


@pytest.mark.parametrize("doc, says", [
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b"x" * 70_000, "too large"),
    ({"cmd": "hold", "args": {}}, "unsigned"),
    ({**signed(), "args": {"case": "C-2"}}, "bad signature"),       # tampered after signing
    (signed(key=Ed25519PrivateKey.generate()), "bad signature"),   # someone else's key
    ({**signed(), "sig": "not base64!"}, "bad signature"),
    (signed(expires=NOW - 1), "expired"),
    (signed(expires=NOW + 6 * MINUTE), "more than mqtt.command_max_age"),
    (signed(to="town-hall/node2"), "addressed to 'town-hall/node2'"),  # signed for another node
    (signed(to=None), 'names its verb ("cmd") and its node ("to"'),     # not bound to a node
    ({k: v for k, v in signed().items() if k != "cmd"}, "bad signature"),  # the verb is under the signature
    (signed(verb="state"), "does not match the topic"),            # a signed "state" sent to cmd/hold
    (signed(nonce="short"), '"nonce" must be'),
    (signed(args=[1]), '"args" must be a JSON object'),            # type: ignore[arg-type]
])
def test_rejected_commands(doc, says):
    c = check("hold", doc)
    assert not c.accepted
    assert says in c.reason


def test_unknown_verb_is_rejected_even_when_signed():
    c = check("format", signed(verb="format"))
    assert not c.accepted and c.reason.startswith("unknown command (known: hold, rebirth, state)")


def test_without_a_command_key_no_command_runs():
    for doc in ({"correlation": 5}, signed(verb="state")):
        c = check("state", doc, key=None)
        assert not c.accepted and "mqtt.command_key" in c.reason and c.correlation == doc.get("correlation")


async def test_desk_refuses_destructive_verbs_and_records_replays():
    async def hold(args, actor):
        return {"case": args["case"]}

    for verb in ("delete", "purge_all", "format-disk", "rm"):
        with pytest.raises(ValueError, match="no command deletes or formats"):
            CommandDesk(handlers={verb: hold}, key_b64=None, max_age_us=MINUTE, target="t/n",
                        use_nonce=None, record=None, reply=None)  # type: ignore[arg-type]
    seen: set[str] = set()
    records, replies = [], []

    async def use_nonce(nonce, _exp, _now):
        fresh = nonce not in seen
        seen.add(nonce)
        return fresh

    async def record(r):
        records.append(r)

    async def reply(verb, body, corr):
        replies.append((verb, body, corr))

    pub = base64.b64encode(PUB.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    desk = CommandDesk(handlers={"hold": hold}, key_b64=pub, max_age_us=5 * MINUTE, target="town-hall/node1",
                       use_nonce=use_nonce, record=record, reply=reply)
    now = SYSTEM.now_us()
    doc = json.dumps(signed(expires=now + MINUTE)).encode()
    first = await desk.handle("hold", doc, b"c1", now)
    again = await desk.handle("hold", doc, b"c2", now)
    assert first["accepted"] and first["ok"] and first["actor"].startswith("mqtt:key:")
    assert not again["accepted"] and again["reason"].startswith("replayed")
    assert replies == [("hold", {"cmd": "hold", "ok": True, "result": {"case": "C-1"}, "nonce": "n-0123456789"}, b"c1"),
                       ("hold", {"cmd": "hold", "ok": False, "error": again["reason"], "nonce": "n-0123456789"}, b"c2")]
    assert records == [first, again]


async def test_a_flood_of_rejected_commands_is_counted_not_recorded_one_by_one():
    records = []

    async def record(r):
        records.append(r)

    async def nothing(*_):
        return None

    async def fresh(*_):
        return True

    pub = base64.b64encode(PUB.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    desk = CommandDesk(handlers={"state": nothing}, key_b64=pub, max_age_us=5 * MINUTE, target="town-hall/node1",
                       use_nonce=fresh, record=record, reply=nothing)  # type: ignore[arg-type]
    for _ in range(100):
        await desk.handle("state", b"junk", None, 0)
    assert len(records) == 20  # the burst
    now = SYSTEM.now_us()
    valid = json.dumps(signed(verb="state", expires=now + MINUTE)).encode()
    await desk.handle("state", valid, None, 0)  # an accepted one is always recorded
    assert len(records) == 21 and records[-1]["accepted"]
    desk._tokens = 1  # time passes
    await desk.handle("state", b"junk", None, 0)
    assert records[-1]["suppressed_before"] == 80


# --- the outbox file ----------------------------------------------------------------------


def put(box: Outbox, kind: str = "alarm", n: int = 1) -> list:
    return box.put_many([(kind, f"t/{kind}", None, '{"id":"x"}', None)] * n, NOW)


def test_seq_is_consecutive_persistent_and_starts_at_the_clock(tmp_path):
    before = SYSTEM.now_us()
    box = Outbox(tmp_path / "outbox.db", 1000)
    first = put(box, n=3)
    assert first[0] > before and first == [first[0], first[0] + 1, first[0] + 2]
    box.ack(first)
    box.close()
    box = Outbox(tmp_path / "outbox.db", 1000)
    assert box.last_seq() == first[2]
    assert put(box) == [first[2] + 1]  # never reused, even after every message was acknowledged


def test_pending_in_order_and_ack(tmp_path):
    box = Outbox(tmp_path / "outbox.db", 1000)
    seqs = box.put_many([("alarm", "a", None, '{"n":1}', None), ("audit", "b", 5, "{}", b"corr")], NOW)
    msgs = box.pending(0, 10)
    assert [m.seq for m in msgs] == seqs and [m.topic for m in msgs] == ["a", "b"]
    assert json.loads(msgs[0].payload) == {"seq": seqs[0], "ts_us": NOW, "n": 1}
    assert json.loads(msgs[1].payload) == {"seq": seqs[1], "ts_us": 5}  # the caller's own time wins
    assert msgs[1].correlation == b"corr"
    assert box.pending(seqs[0], 10) == msgs[1:]
    assert box.ack([seqs[0], 12345]) == 1
    assert [m.seq for m in box.pending(0, 10)] == [seqs[1]]
    assert box.stats()["pending"] == 1


def test_bound_refuses_other_kinds_first_and_never_silently(tmp_path):
    box = Outbox(tmp_path / "outbox.db", 10)
    assert all(isinstance(s, int) for s in put(box, "retention", 10))
    assert box.full
    [refused] = put(box, "inspection")
    assert isinstance(refused, OutboxFull) and "inspection message refused" in str(refused)
    assert all(isinstance(s, int) for s in put(box, "alarm", 50) + put(box, "audit", 50))  # the reserve
    results = put(box, "alarm", 2)
    assert all(isinstance(r, OutboxFull) for r in results)
    assert box.stats() == {"pending": 110, "limit": 10, "full": True, "refused": {"alarm": 2, "inspection": 1}}
    box.close()
    box = Outbox(tmp_path / "outbox.db", 10)  # the counts survive a restart
    assert box.stats()["refused"] == {"alarm": 2, "inspection": 1} and box.full
    box.ack([m.seq for m in box.pending(0, 101)])
    assert box.count == 9 and not box.full  # down to 90 % of the bound


def test_nonces_are_remembered_until_they_expire(tmp_path):
    box = Outbox(tmp_path / "outbox.db", 10)
    assert box.use_nonce("n1", NOW + 10, NOW)
    assert not box.use_nonce("n1", NOW + 10, NOW + 5)
    box.close()
    box = Outbox(tmp_path / "outbox.db", 10)
    assert not box.use_nonce("n1", NOW + 10, NOW + 9)  # a restart does not forget it
    assert box.use_nonce("n2", NOW + 100, NOW + 11)    # n1 expired and was pruned
    assert len(rows(box.conn, "nonces")) == 1


def test_acknowledged_messages_stay_for_a_resend_then_age_out(tmp_path):
    """issue 43: an acknowledged message moves to the history; a resend puts it back in line byte
    for byte and names what the box no longer has; the history is pruned by its age only."""
    clock = FakeClock(NOW)
    box = Outbox(tmp_path / "outbox.db", 1000, clock, history_us=10 * MINUTE)
    seqs = put(box, n=5)
    sent = {m.seq: m.payload for m in box.pending(0, 10)}
    assert box.ack(seqs) == 5 and box.pending(0, 10) == [] and box.count == 0
    assert box.resend(seqs[1], seqs[3]) == (3, [])
    again = box.pending(0, 10)
    assert [(m.seq, m.payload) for m in again] == [(s, sent[s]) for s in seqs[1:4]] and box.count == 3
    assert box.resend(seqs[1], seqs[3]) == (0, [])  # already in line: not twice
    # below the first seq (never written here) and above the counter (not yet given): only the former is missing
    assert box.resend(seqs[0] - 3, seqs[4] + 7) == (2, [[seqs[0] - 3, seqs[0] - 1]])
    box.ack([m.seq for m in box.pending(0, 10)])
    clock.advance(11 * MINUTE)
    put(box)
    box.ack([m.seq for m in box.pending(0, 10)])  # the ack that prunes: the first five are older than 10 min
    assert box.resend(seqs[0], seqs[4]) == (0, [[seqs[0], seqs[4]]])
    box.close()
    box = Outbox(tmp_path / "outbox.db", 1000, clock, history_us=10 * MINUTE)  # the history survives a restart
    assert box.resend(seqs[4] + 1, seqs[4] + 1) == (1, [])
    with pytest.raises(ValueError, match="1 to"):
        box.resend(seqs[0], seqs[0] - 1)


def test_what_was_acknowledged_lately_goes_back_in_line_when_the_office_is_found_away(tmp_path):
    """Issue 53 (design/0139): the broker acknowledged these for office sessions that then expired
    with their queues: the ones acknowledged since the given time go out again, byte for byte."""
    clock = FakeClock(NOW)
    box = Outbox(tmp_path / "outbox.db", 1000, clock)
    old = put(box, n=3)
    box.ack(old)
    clock.advance(10 * MINUTE)
    lately = put(box, n=4)
    sent = {m.seq: m.payload for m in box.pending(0, 10)}
    box.ack(lately)
    assert box.requeue_since(NOW + 5 * MINUTE) == lately[0]
    assert [(m.seq, m.payload) for m in box.pending(0, 10)] == [(s, sent[s]) for s in lately] and box.count == 4
    assert box.requeue_since(NOW + 5 * MINUTE) == lately[0] and box.count == 4  # in line already: not twice
    assert box.requeue_since(NOW + 60 * MINUTE) is None
    box.close()


def test_an_outbox_of_the_first_schema_gains_its_history(tmp_path):
    path = tmp_path / "outbox.db"
    box = Outbox(path, 1000)
    [seq] = put(box)
    outbox_as_schema_1(box.conn)
    box.close()
    box = Outbox(path, 1000)  # as a box updated from the last release opens it
    assert [m.seq for m in box.pending(0, 10)] == [seq] and box.ack([seq]) == 1
    assert box.resend(seq, seq) == (1, [])


def test_frame():
    assert json.loads(frame(7, 9, '{"a":1}')) == {"seq": 7, "ts_us": 9, "a": 1}
    assert frame(7, 9, "{}") == b'{"seq":7,"ts_us":9}'


async def test_writer_commits_a_burst_together_and_reports_full(tmp_path):
    flags = []
    w = OutboxWriter(tmp_path / "outbox.db", 10, on_full=flags.append)
    seqs = await asyncio.gather(*[w.put("audit", "t", {"i": i}) for i in range(50)])
    assert seqs == list(range(seqs[0], seqs[0] + 50))
    assert flags == [True]
    with pytest.raises(OutboxFull):
        await w.put("retention", "t", {})
    with pytest.raises(TypeError):
        await w.put("audit", "t", {"bad": object()})  # fails at the caller, nothing stored
    await w.ack(seqs)
    assert flags == [True, False]
    assert (await w.run(Outbox.stats))["pending"] == 0
    await w.close()


async def test_an_outbox_that_cannot_open_is_an_outbox_error(tmp_path):
    w = OutboxWriter(tmp_path / "missing-folder" / "outbox.db", 10)
    with pytest.raises(OutboxError, match="cannot open the MQTT outbox"):
        await w.put("alarm", "t", {"id": "a"})
    assert w._queued == []


# --- connection helpers ---------------------------------------------------------------------


def test_backoff_is_capped_and_jittered():
    rng = random.Random(1)
    delays = [backoff_s(a, 60, rng) for a in range(12)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(30 <= d <= 60 for d in delays[6:])
    assert len({round(d, 3) for d in delays[6:]}) > 1


def test_status_texts():
    assert describe_connect_error(ConnectionRefusedError(111, "Connection refused"), "h", 1) == \
        "connecting: connection refused"
    assert "cannot resolve h" in describe_connect_error(socket.gaierror(-2, "Name or service not known"), "h", 1)
    assert "timed out" in describe_connect_error(TimeoutError(), "h", 1)
    err = ssl.SSLCertVerificationError(1, "x")
    err.verify_message = "unable to get local issuer certificate"
    assert describe_connect_error(err, "h", 1).startswith(
        "tls error: certificate verify failed: unable to get local issuer certificate")
    assert describe_refusal(ReasonCode(PacketTypes.CONNACK, "Bad user name or password")) == \
        "refused: bad username or password"
    assert describe_refusal(ReasonCode(PacketTypes.CONNACK, "Server unavailable")) == "refused: server unavailable"


# --- discovery ----------------------------------------------------------------------------


def test_discovery_payloads():
    birth = {"version": "0.1.0", "cameras": [{"id": "lobby", "name": "Lobby"}, "car-park"]}
    msgs = discovery_messages(T, "homeassistant", birth)
    rec = msgs["homeassistant/binary_sensor/edged_town-hall_node1/lobby_recording/config"]
    assert rec["state_topic"] == T.camera_state("lobby")
    assert rec["value_template"] == "{{ 'ON' if value_json.recording else 'OFF' }}"
    assert rec["availability_topic"] == T.status and rec["payload_not_available"] == "offline"
    assert rec["device"]["identifiers"] == ["edged_town-hall_node1"] and rec["device"]["sw_version"] == "0.1.0"
    assert "homeassistant/sensor/edged_town-hall_node1/car-park_health/config" in msgs
    storage = msgs["homeassistant/sensor/edged_town-hall_node1/storage_free/config"]
    assert storage["state_topic"] == T.state and storage["device_class"] == "data_size"
    assert len(msgs) == 4 + 2 * 2
    assert len({m["unique_id"] for m in msgs.values()}) == len(msgs)


def test_a_steady_camera_state_goes_out_on_change_or_with_the_heartbeat():
    from edged.daemon.reporting import camera_state_due
    minute = 60_000_000
    base = {"state": "recording", "health": "ok", "error": None, "fps": 20.0, "bitrate": 4_000_000,
            "last_frame_us": 1}
    moved = {**base, "fps": 19.8, "bitrate": 4_100_000, "last_frame_us": 2}
    cases = [
        (None, base, 0, 0, True),                                          # the first one
        (base, moved, 0, minute - 1, False),                               # figures alone: wait
        (base, moved, 0, minute, True),                                    # the heartbeat
        (base, {**base, "state": "offline"}, 0, 1, True),                  # a change of state
        (base, {**base, "health": "video_black"}, 0, 1, True),
        (base, {**base, "error": "camera refused TCP"}, 0, 1, True),
        ({**base, "fps": None}, base, 0, 1, True),                         # figures appear
        (base, {**base, "fps": None}, 0, 1, True),                         # figures go away
        (base, {k: v for k, v in base.items() if k != "error"}, 0, 1, False),   # None and absent alike
        (base, base, 10 * minute, 1, True),                                # the wall clock stepped back
    ]
    for sent, new, at, now, due in cases:
        assert camera_state_due(sent, new, at, now, minute) is due, (sent, new, at, now)
