"""The daemon reporting to a real mosquitto: birth, retained states, last will, and alarms
that survive a broker outage and a daemon restart in the middle of it."""

from __future__ import annotations

import os

import pytest

from mqtt import kinds
from storage.footage.segment_rows import COMPLETE
from storage.time.clock import SYSTEM
from tests.support.broker import Broker, Subscriber
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.catalog import alarms, audit_rows, node_value, rows
from tests.support.daemon import Daemon, wait_for, write_config

BASE = "edged/v1/test/node1"


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path, fps=20, gop=20, seconds=10)


def daemon_with_mqtt(tmp_path, cams, port) -> Daemon:
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, cams)
    config.write_text(config.read_text() + f'\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
                      'reconnect_max = "1s"\n')
    return Daemon(config, data, tmp_path / "edged.log")


def last_json(sub: Subscriber, topic: str):
    m = sub.last(topic)
    return m.json() if m is not None and m.payload else None


def durable(sub: Subscriber) -> list[dict]:
    """Non-retained messages (alarm, audit, retention, ...) in arrival order, first copy of each seq."""
    seen, out = set(), []
    for m in list(sub.messages):
        if kinds.kind_of(m.topic.split("/", 4)[-1]) not in kinds.SEQ_KINDS:
            continue  # status, birth and states are retained (live copies arrive without the flag)
        body = m.json()
        if "seq" in body and body["seq"] not in seen:
            seen.add(body["seq"])
            out.append({**body, "_topic": m.topic})
    return out


def test_birth_states_and_last_will(tmp_path, clip):
    broker = Broker(tmp_path / "broker").start()
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        sub = Subscriber(broker, f"{BASE}/#").start()
        d = daemon_with_mqtt(tmp_path, [{"id": "cam", "url": cameras.url("cam")},
                                        {"id": "dead", "url": f"rtsp://127.0.0.1:{free_port()}/x"}], broker.port)
        d.start()
        try:
            wait_for(lambda: (sub.last(f"{BASE}/status") or b"") and sub.last(f"{BASE}/status").payload == b"online",
                     30, "status online")
            birth = wait_for(lambda: last_json(sub, f"{BASE}/birth"), 10, "birth")
            assert birth["session"] == 1 and [c["id"] for c in birth["cameras"]] == ["cam", "dead"]
            assert birth["retention"]["min_days"] == 30 and len(birth["config_hash"]) == 64
            cam = wait_for(lambda: (last_json(sub, f"{BASE}/camera/cam/state") or {}).get("resolution") and
                           last_json(sub, f"{BASE}/camera/cam/state"), 30, "cam recording, with its figures")
            assert cam["recording"] and cam["health"] == "ok"
            assert cam["resolution"] == "320x240" and cam["fps"] > 15
            dead = wait_for(lambda: (last_json(sub, f"{BASE}/camera/dead/state") or {}).get("state") == "offline"
                            and last_json(sub, f"{BASE}/camera/dead/state"), 30, "dead camera offline")
            assert not dead["recording"] and "connection refused" in dead["error"]
            state = wait_for(lambda: last_json(sub, f"{BASE}/state"), 30, "site state")
            assert state["storage"]["free_bytes"] > 0 and state["recording"]["cameras"] == 2
            d.kill_all()
            wait_for(lambda: sub.last(f"{BASE}/status").payload == b"offline", 30, "the last will: offline")
        finally:
            if d.proc.poll() is None:
                d.stop()
            sub.stop()
            broker.stop()


def test_alarms_raised_during_a_broker_outage_and_a_restart_all_arrive_in_order(tmp_path, clip):
    broker = Broker(tmp_path / "broker", persistence=True).start()
    sub = Subscriber(broker, f"{BASE}/#", persistent="central-office").start()
    unplugged = RtspServer({"cam": f"clip:{clip.video}@20"})
    steady = RtspServer({"cam": f"clip:{clip.video}@20"})
    unplugged.start()
    steady.start()
    d = daemon_with_mqtt(tmp_path, [{"id": "door", "url": unplugged.url("cam")},
                                    {"id": "desk", "url": steady.url("cam")}], broker.port)
    d.start()
    try:
        wait_for(lambda: (sub.last(f"{BASE}/status") or b"") and sub.last(f"{BASE}/status").payload == b"online",
                 30, "online")
        wait_for(lambda: len(d.segments("desk")) >= 1, 30, "desk recording")
        broker.stop()
        unplugged.stop()  # the camera is unplugged while the uplink is down
        wait_for(lambda: alarms(d, lambda r: r["key"] == "camera_offline:door"), 40, "camera_offline")
        d.stop()
        restarted = SYSTEM.now_us()
        d.start()  # edged restarts while the broker is still down
        wait_for(lambda: rows(d, "segments", lambda r: r["camera"] == "desk" and r["state"] == COMPLETE
                              and r["created_us"] > restarted), 30, "desk recording again")
        victim = d.segments("desk")[0]
        os.unlink(d.data_dir / victim["path"])  # and someone deletes footage
        wait_for(lambda: alarms(d, lambda r: r["kind"] == "tamper"), 30, "the tamper alarm")
        raised = [r["key"] for r in alarms(d)]
        broker.start()

        def arrived():
            keys = [m["id"] for m in durable(sub) if m["_topic"] == f"{BASE}/alarm" and m["action"] == "raise"]
            return keys if set(raised) <= set(keys) else None

        keys = wait_for(arrived, 60, "every alarm raised during the outage")
        assert [k for k in keys if k in raised] == raised, "in the order they were raised"
        wait_for(lambda: [m for m in durable(sub) if m["_topic"] == f"{BASE}/audit"
                          and m.get("action") == "tamper.detected" and m.get("chain_head")], 20,
                 "the audit record (with the chain head) of the tamper")
        seqs = [m["seq"] for m in durable(sub)]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "no sequence gap"
    finally:
        if d.proc and d.proc.poll() is None:
            d.stop()
        sub.stop()
        broker.stop()
        unplugged.stop()
        steady.stop()


def test_signed_hold_command_and_wrong_broker_credentials(tmp_path, clip):
    """A signed `hold` from the central office places an evidence hold, on the record; unsigned,
    wrong-node and verb-swapped commands, a legal hold and an evidence hold expiring too late are
    refused and recorded (issue 14). Wrong credentials are a status; recording goes on."""
    import base64
    import json
    import subprocess

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mqtt.commands import sign_command
    from tests.support.daemon import ROOT

    key = Ed25519PrivateKey.generate()
    pub = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                         serialization.PublicFormat.Raw)).decode()
    broker = Broker(tmp_path / "broker", users={"node1": "right", "central": "pw-c"}).start()
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        d = daemon_with_mqtt(tmp_path, [{"id": "cam", "url": cameras.url("cam")}], broker.port)
        base = d.config.read_text()
        secrets = tmp_path / "secrets.toml"  # the broker password where a site keeps it (issue 45)
        secrets.write_text('[cameras]\n[mqtt]\npassword = "Hunter2-not-it"\n')
        d.config.write_text(base + f'username = "node1"\ncommand_key = "{pub}"\n[secrets]\nfile = "secrets.toml"\n')
        d.start()
        try:
            wait_for(lambda: "refused" in (node_value(d, "mqtt_status") or ""), 30, "a refused-credentials status")
            wait_for(lambda: len(d.segments("cam")) >= 2, 30, "recording carries on")
            status = subprocess.run([*d.ctl, "status"],
                                    capture_output=True, text=True, cwd=ROOT).stdout
            assert "broker:    refused" in status and "Hunter2-not-it" not in status
            d.stop()
            # MQTT holds follow the site's [policy.holds] (issue 17 item 2): at most `max` long, and
            # pending until an approver at the box approves it
            secrets.write_text('[cameras]\n[mqtt]\npassword = "right"\n')
            d.config.write_text(base + f'username = "node1"\ncommand_key = "{pub}"\n[secrets]\nfile = "secrets.toml"\n'
                                '[retention]\nevidence_hold = "20d"\n'
                                '[policy.holds.evidence]\napproval = true\nmax = "25d"\n')
            d.start()
            sub = Subscriber(broker, f"{BASE}/#", username="central", password="pw-c").start()
            wait_for(lambda: (sub.last(f"{BASE}/status") or b"") and sub.last(f"{BASE}/status").payload == b"online",
                     30, "online with the right credentials")
            now = SYSTEM.now_us()
            args = {"cameras": ["cam"], "from_us": now - 60_000_000, "to_us": now, "reason": "assault at the door",
                    "case_ref": "POL-2026-77"}
            tries = iter(range(60))

            def unsigned_answered():  # the node subscribes to cmd/+ just after it says online: ask again
                if next(tries) % 10 == 0:
                    sub.publish(f"{BASE}/cmd/hold", json.dumps({"cmd": "hold", "args": args}), correlation=b"c-1")
                return any(r.correlation == b"c-1" for r in sub.on(f"{BASE}/cmd/hold/reply"))

            wait_for(unsigned_answered, 20, "the node answering commands")
            later = now + 60_000_000
            node = "test/node1"
            refused = {  # correlation -> (topic verb, document, what the refusal says)
                b"c-3": ("hold", sign_command(key, "hold", args, "nonce-0003", later, "test/node2"), "addressed to"),
                b"c-4": ("hold", sign_command(key, "inspect", {}, "nonce-0004", later, node), "does not match"),
                b"c-5": ("hold", sign_command(key, "hold", {**args, "kind": "legal"}, "nonce-0005", later, node),
                         "only evidence holds"),
                b"c-6": ("hold", sign_command(key, "hold", {**args, "expires_us": now + 21 * 86_400_000_000},
                                              "nonce-0006", later, node), "at the latest after"),
                b"c-7": ("hold", sign_command(key, "hold", args, "nonce-0007", later, None), '"to"'),
            }
            for corr, (verb, doc, _why) in refused.items():
                sub.publish(f"{BASE}/cmd/{verb}", json.dumps(doc), correlation=corr)
            sub.publish(f"{BASE}/cmd/hold", json.dumps(sign_command(key, "hold", args, "nonce-0001", later, node)),
                        correlation=b"c-2")
            replies = wait_for(lambda: len(sub.on(f"{BASE}/cmd/hold/reply")) >= 7 and sub.on(f"{BASE}/cmd/hold/reply"),
                               20, "seven replies")
            by_corr = {r.correlation: r.json() for r in replies}
            assert by_corr[b"c-2"]["ok"] and not by_corr[b"c-1"]["ok"]
            for corr, (_verb, _doc, why) in refused.items():
                assert not by_corr[corr]["ok"] and why in by_corr[corr]["error"], (corr, by_corr[corr])
            hold = wait_for(lambda: rows(d, "holds"), 10, "the hold")[0]
            assert hold["case_ref"] == "POL-2026-77" and hold["placed_by"].startswith("mqtt:key:")
            assert hold["kind"] == "evidence" and hold["wanted_expires_us"] <= now + 21 * 86_400_000_000
            assert hold["state"] == "pending" and hold["expires_us"] <= now + 4 * 86_400_000_000, "waits 3 days"
            assert len(rows(d, "holds")) == 1, "the refused commands placed nothing"
            commands = wait_for(lambda: len(audit_rows(d, "mqtt.command")) >= 7 and
                                [json.loads(r["detail"]) for r in audit_rows(d, "mqtt.command")], 10, "the records")
            assert sum(c["accepted"] for c in commands) == 1 and len(commands) >= 7
            assert {c["reason"].split(" ")[0] for c in commands if not c["accepted"]} >= {"unsigned", "addressed"}
            assert "hold.add" in [r["action"] for r in audit_rows(d)]
            sub.stop()
        finally:
            if d.proc.poll() is None:
                d.stop()
            broker.stop()
