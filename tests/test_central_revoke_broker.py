"""A revoked node's broker login is cut with the revocation list (issue 73, design/0344): a real
mosquitto with its dynamic-security plugin, two nodes logged in, `edged-central nodes revoke
--publish` as docs/ref/central.md says it: the revoked node's live session is dropped and its new
login refused, the other node stays; a broker without the plugin is an error that says so."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from central import cli
from central.keys import broker_logins, ca
from central.keys.ca import CAError
from storage.keys import nodecert, nodekey
from storage.time.clock import SYSTEM
from tests.support.broker import Broker
from tests.support.load import slack

DYNSEC = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")
SITE = "tw-hr-001"
needs_dynsec = pytest.mark.skipif(not DYNSEC.exists() or shutil.which("mosquitto_ctrl") is None,
                                  reason="mosquitto's dynamic-security plugin is not installed")


def test_the_broker_user_name_comes_from_the_office_pattern_only():
    assert broker_logins.username("{node}", "tw-hr-001/node1") == "node1"
    assert broker_logins.username("{site}.{node}", "tw-hr-001/node1") == "tw-hr-001.node1"
    for bad in ("tw/+", "tw/#", "tw/a b", "tw/"):
        with pytest.raises(CAError):
            broker_logins.username("{node}", bad)


def ctrl(broker: Broker, *args: str) -> None:
    subprocess.run(["mosquitto_ctrl", "-h", "127.0.0.1", "-p", str(broker.port), "-u", "admin", "-P", "admin-pw",
                    "dynsec", *args], check=True, capture_output=True, timeout=30)


def dynsec_broker(folder: Path) -> Broker:
    """mosquitto with the plugin, set up as docs/ref/central.md says: the nodes' accounts, their
    role, and the office's login with the role that may disable accounts."""
    folder.mkdir(parents=True)
    conf = folder / "dynamic-security.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(conf), "admin", "admin-pw"], check=True,
                   capture_output=True, timeout=30)
    broker = Broker(folder, extra=[f"plugin {DYNSEC}", f"plugin_opt_config_file {conf}",
                                   "allow_anonymous false"]).start()
    ctrl(broker, "createRole", "node")
    ctrl(broker, "addRoleACL", "node", "publishClientSend", f"edged/v1/{SITE}/%u/#", "allow")
    ctrl(broker, "createRole", "office-logins")
    ctrl(broker, "addRoleACL", "office-logins", "publishClientSend", "$CONTROL/dynamic-security/v1", "allow")
    ctrl(broker, "addRoleACL", "office-logins", "subscribePattern", "$CONTROL/dynamic-security/v1/response", "allow")
    ctrl(broker, "addRoleACL", "office-logins", "publishClientReceive", "$CONTROL/dynamic-security/v1/response", "allow")
    ctrl(broker, "addRoleACL", "office-logins", "publishClientSend", "edged-office/v1/crl", "allow")
    ctrl(broker, "createClient", "central-office", "-p", "office-pw")
    ctrl(broker, "addClientRole", "central-office", "office-logins")
    for node in ("node1", "node2"):
        ctrl(broker, "createClient", node, "-p", f"{node}-pw")
        ctrl(broker, "addClientRole", node, "node")
    return broker


class Node:
    """A node's broker session: paho on its own thread, every connect's result and every drop kept."""

    def __init__(self, broker: Broker, name: str):
        self.results: list[str] = []
        self.drops = 0
        self.event = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"edged-{SITE}-{name}", protocol=paho.MQTTv5)
        self.client.username_pw_set(name, f"{name}-pw")
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._dropped
        self.broker = broker

    def _connected(self, _c, _u, _f, reason, _p) -> None:
        self.results.append(str(reason))
        self.event.set()

    def _dropped(self, *_a) -> None:
        self.drops += 1
        self.event.set()

    def connect(self) -> str:
        self.event.clear()
        self.client.connect("127.0.0.1", self.broker.port, 30)
        self.client.loop_start()
        assert self.event.wait(10 * slack()), "no answer to the login"
        return self.results[-1]

    def wait_drop(self) -> bool:
        return self.event.wait(10 * slack()) and self.drops > 0

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def office(tmp_path: Path, broker: Broker) -> tuple[Path, Path]:
    """The office's config (its broker login, node_username) and its CA with node1 and node2 enrolled."""
    data = tmp_path / "office"
    for node in ("node1", "node2"):
        key = nodekey.NodeKey(Ed25519PrivateKey.generate())
        ca.accept(data, nodecert.make_request(key, SITE, node), "alice", SYSTEM.now_us() - 60_000_000, key.fingerprint)
    secrets = tmp_path / "central-secrets.toml"
    secrets.write_text('[broker]\npassword = "office-pw"\n')
    secrets.chmod(0o600)
    conf = tmp_path / "central.toml"
    conf.write_text(f'[storage]\ndata_dir = "{data}"\n[secrets]\nfile = "{secrets}"\n'
                    f'[broker]\nport = {broker.port}\nusername = "central-office"\nnode_username = "{{node}}"\n')
    return conf, data


def run(capsys, conf: Path, *args: str) -> tuple[int, str]:
    code = cli.main(["--config", str(conf), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


@needs_dynsec
def test_a_revoked_node_is_dropped_and_refused_while_the_other_stays(tmp_path, capsys):
    broker = dynsec_broker(tmp_path / "broker")
    nodes = {n: Node(broker, n) for n in ("node1", "node2")}
    try:
        conf, data = office(tmp_path, broker)
        assert [nodes[n].connect() for n in nodes] == ["Success", "Success"]
        code, out = run(capsys, conf, "nodes", "revoke", f"{SITE}/node1", "--by", "bob", "--reason", "box stolen",
                        "--publish")
        assert code == 0 and "broker login disabled (dynamic-security): node1;" in out, out
        assert nodes["node1"].wait_drop(), "the revoked node's live session is dropped at once"
        assert nodes["node2"].drops == 0 and nodes["node2"].client.is_connected(), "the other node stays"
        again = Node(broker, "node1")
        assert again.connect() == "Not authorized", "the revoked node's new login is refused"
        again.stop()
        other = Node(broker, "node2")
        assert other.connect() == "Success", "the other node still logs in"
        other.stop()
        assert broker_logins.revoked_nodes(data) == [f"{SITE}/node1"]
        # the list published again (the office's schedule, `nodes crl --publish`) disables it again: no error
        code, out = run(capsys, conf, "nodes", "crl", "--publish")
        assert code == 0 and "disabled (dynamic-security): node1;" in out, out
    finally:
        for n in nodes.values():
            n.stop()
        broker.stop()


@needs_dynsec
def test_a_name_the_broker_does_not_have_is_said(tmp_path, capsys):
    broker = dynsec_broker(tmp_path / "broker")
    try:
        conf, _ = office(tmp_path, broker)
        conf.write_text(conf.read_text().replace('node_username = "{node}"', 'node_username = "{site}.{node}"'))
        code, out = run(capsys, conf, "nodes", "revoke", f"{SITE}/node2", "--by", "bob", "--reason", "gone",
                        "--publish")
        assert code == 0 and f"the broker has no account {SITE}.node2: check [broker] node_username" in out, out
    finally:
        broker.stop()


def test_a_broker_without_the_plugin_is_an_error_that_says_what_to_do(tmp_path, capsys):
    broker = Broker(tmp_path / "broker", users={"central-office": "office-pw", "node1": "node1-pw"}).start()
    try:
        conf, data = office(tmp_path, broker)
        code, out = run(capsys, conf, "nodes", "revoke", f"{SITE}/node1", "--by", "bob", "--reason", "box stolen",
                        "--publish")
        assert code == 2, out
        assert "revoked tw-hr-001/node1" in out and "retained on the broker" in out, "what was done is said"
        assert "the broker login is NOT cut" in out and "dynamic-security plugin" in out and "crlfile" in out, out
        assert ca.is_revoked(data, node=f"{SITE}/node1"), "the revocation itself stands"
        # an office that does not manage node logins says so, without an error
        conf.write_text(conf.read_text().replace('node_username = "{node}"\n', ""))
        code, out = run(capsys, conf, "nodes", "crl", "--publish")
        assert code == 0 and "is not cut by the office ([broker] node_username is not set)" in out, out
    finally:
        broker.stop()
