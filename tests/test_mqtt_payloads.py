"""The MQTT reference's payloads (docs/ref/mqtt.md) are what edged sends: every example in it is checked,
field by field (nested objects too), against real payloads from the real daemon through a
real mosquitto."""

from __future__ import annotations

import base64
import json
import re
import textwrap
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mqtt.commands import sign_command
from storage.time.clock import SYSTEM
from tests.support.broker import Broker, Subscriber
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People

ROOT = Path(__file__).resolve().parents[1]
BASE = "edged/v1/test/node1"


def reference_examples() -> dict[str, Any]:
    """The `// label` + JSON examples of the MQTT reference, by label."""
    section = (ROOT / "docs" / "ref" / "mqtt.md").read_text()
    out: dict[str, Any] = {}
    for block in re.findall(r"```jsonc?\n(.*?)```", section, re.S):
        label, buf = None, []
        for line in block.splitlines() + ["// end"]:
            if line.startswith("// "):
                if label and buf and "".join(buf).strip().startswith("{"):
                    out[label] = json.loads(re.sub(r'\.\.\.(?=")', "", "".join(buf)))
                label, buf = line[3:].strip(), []
            else:
                buf.append(line)
    return out


def shape(value: Any) -> Any:
    """Keys, recursively (a list by its first element); leaves by JSON type family."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "value"


def test_the_payload_reference_matches_real_payloads(tmp_path):
    examples = reference_examples()
    assert len(examples) >= 10, sorted(examples)
    clip = make_clip(tmp_path / "clips", fps=20, gop=20, seconds=10)
    central = Ed25519PrivateKey.generate()  # the central office signs its commands
    central_pub = base64.b64encode(central.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    dead_port = free_port()
    broker = Broker(tmp_path / "broker").start()
    sub = Subscriber(broker, f"{BASE}/#").start()
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        data = tmp_path / "data"
        config = write_config(tmp_path / "edged.toml", data, [
            {"id": "counter-1", "name": "Counter 1", "url": cameras.url("cam")},
            {"id": "counter-2", "url": f"rtsp://127.0.0.1:{dead_port}/cam"}], storage={"segment_length": "2s"})
        config.write_text(config.read_text() + textwrap.dedent(f"""
            [retention]
            allow_short_for_tests = true
            min_retention = "1s"
            max_retention = "4s"
            interval = "1s"
            [mqtt]
            enabled = true
            host = "127.0.0.1"
            port = {broker.port}
            reconnect_max = "1s"
            command_key = "{central_pub}"
            """))
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            def on(topic: str, pick: Callable[[dict], bool] = lambda _b: True) -> dict | None:
                for m in reversed(sub.on(f"{BASE}/{topic}")):
                    if m.payload and m.payload.startswith(b"{") and pick(m.json()):
                        return m.json()
                return None

            real: dict[str, Callable[[], Any]] = {
                "birth": lambda: on("birth"),
                "state": lambda: on("state", lambda b: bool(b.get("alarms"))),  # the example's: an alarm open
                "camera/counter-1/state": lambda: on("camera/counter-1/state", lambda b: b.get("state") == "recording"
                                                     and b.get("fps") is not None),
                "camera/counter-2/state (unreachable)": lambda: on("camera/counter-2/state",
                                                                   lambda b: b.get("state") == "offline"),
                "alarm": lambda: on("alarm", lambda b: b["action"] == "raise" and b.get("kind") == "camera_offline"),
                "alarm (clear)": lambda: on("alarm", lambda b: b["action"] == "clear"),
                "retention": lambda: on("retention"),
                # design/0095: the office hears of footage on its own clock; the example's spans are counter-1's alone
                # (the one that counter-2 recorded while its server was up names both: another shape)
                "footage": lambda: on("footage", lambda b: set(b.get("spans") or ()) == {"counter-1"}),
                "audit": lambda: on("audit", lambda b: b.get("action") == "retention.pass"),
                "audit (chain head)": lambda: on("audit", lambda b: b.get("kind") == "chain_head"),
                "audit (a command)": lambda: on("audit", lambda b: b.get("kind") == "command"),
                "cmd/state/reply": lambda: on("cmd/state/reply"),
                "ethics": lambda: on("ethics"),
            }
            wait_for(lambda: on("camera/counter-2/state", lambda b: b.get("state") == "offline"), 60, "dead offline")
            wait_for(lambda: on("alarm", lambda b: b["action"] == "raise" and b.get("camera") == "counter-2"), 60,
                     "camera_offline raised")
            with RtspServer({"cam": f"clip:{clip.video}@20"}, port=dead_port):  # the dead camera comes back
                wait_for(lambda: on("alarm", lambda b: b["action"] == "clear"), 60, "camera_offline cleared")
            command = sign_command(central, "state", {}, "nonce-0001", SYSTEM.now_us() + 60_000_000,
                                   "test/node1", correlation="req-42")
            sub.publish(f"{BASE}/cmd/state", json.dumps(command))
            people = People(config, tmp_path)  # a flagged request: the ethics office's notice (design/0083)
            people.add("carol", "custodian")
            people.as_("carol")
            r = people.ctl("request", "file", "--kind", "internal", "--category", "other", "--reason", "again",
                           "--camera", "counter-1", "--from", "-1m", "--to", "now",
                           "--requester", "Lin", "--org", "desk", "--flag", "abnormal")
            assert r.returncode == 0, r.stderr
            for label in examples:
                assert label in real, f"docs/ref/mqtt.md example {label!r}: the test does not know which payload it shows"
            sent = {label: wait_for(get, 90, f"a real {label} payload") for label, get in real.items()}
        finally:
            assert d.stop() == 0, d.log
            sub.stop()
            broker.stop()
    (tmp_path / "payloads.json").write_text(json.dumps(sent, indent=1))  # to compare by hand when it fails
    assert sorted(examples) == sorted(real), "every kind of payload has its example in docs/ref/mqtt.md"
    # Why a camera is not recording, machine-readable beside the words (design/0024).
    assert sent["camera/counter-2/state (unreachable)"]["error_kind"] == "refused", sent
    assert sent["camera/counter-1/state"]["error_kind"] is None, sent
    for label, example in examples.items():
        assert shape(example) == shape(sent[label]), (
            f"docs/ref/mqtt.md example {label!r} does not match what edged sends:\ndocs:   {json.dumps(shape(example))}\n"
            f"sent:   {json.dumps(shape(sent[label]))}\nreal payload: {json.dumps(sent[label])}")
