"""A real Mosquitto for tests: its own config file, a free port on 127.0.0.1, optional password
file and TLS listener (a CA and certificates made here with `cryptography`), restartable on
the same port; plus a subscriber that records what arrives, and an async `until`."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as paho
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from storage.time.clock import SYSTEM

from tests.support.load import slack
from tests.support.ports import free_port  # noqa: F401  (re-exported: tests import it from here)

T = TypeVar("T")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"




async def until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll ``check`` on the event loop until it returns something truthy; fail after ``timeout``,
    stretched by slack() when it passes on a loaded box (as tests/support/daemon.py's wait_for)."""
    began = time.monotonic()
    deadline, stretched = began + timeout, False
    while True:
        result = check()
        if result:
            return result
        now = time.monotonic()
        if now > deadline and not stretched:
            stretched, deadline = True, began + timeout * slack()
        if now > deadline:
            raise AssertionError(f"timed out after {now - began:.0f} s (nominal {timeout:.0f} s) waiting for {what}")
        await asyncio.sleep(interval)


# --- certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: verifying against it must fail


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
          issuer_key: ec.EllipticCurvePrivateKey | None, *, ca: bool = False,
          san: list[x509.GeneralName] | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.fromtimestamp(SYSTEM.now_us() / 1e6, dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_pki(folder: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate, a stranger CA."""
    folder.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    ca_key = _key()
    ca = _cert("edged test CA", ca_key, None, None, ca=True)
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    server_key = _key()
    server = _cert("localhost", server_key, ca.subject, ca_key,
                   san=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    client_key = _key()
    client = _cert("edged-node", client_key, ca.subject, ca_key)
    (folder / "client.pem").write_bytes(client.public_bytes(pem))
    other_key = _key()
    (folder / "other-ca.pem").write_bytes(_cert("stranger CA", other_key, None, None, ca=True).public_bytes(pem))
    return Pki(ca=folder / "ca.pem", server_cert=folder / "server.pem",
               server_key=_write_key(server_key, folder / "server.key"), client_cert=folder / "client.pem",
               client_key=_write_key(client_key, folder / "client.key"), other_ca=folder / "other-ca.pem")


# --- the broker ---------------------------------------------------------------------------


class Broker:
    """`mosquitto -c <its own config>`; start, stop and restart keep the port."""

    def __init__(self, folder: Path, *, users: dict[str, str] | None = None, pki: Pki | None = None,
                 require_certificate: bool = False, acl: str | None = None, port: int | None = None,
                 persistence: bool = False, extra: list[str] | None = None):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.users, self.pki, self.require_certificate, self.acl = users, pki, require_certificate, acl
        self.persistence = persistence  # keep sessions (and their queued messages) across restarts
        self.extra = extra or []        # more mosquitto.conf lines
        self.proc: subprocess.Popen | None = None
        self.log_path = folder / "mosquitto.log"
        self.config = self._write_config()

    def _write_config(self) -> Path:
        lines = [f"listener {self.port} 127.0.0.1", f"log_dest file {self.log_path}",
                 "log_type error", "log_type warning", "log_type notice", "log_type information",
                 "connection_messages true"]
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.folder}/", "max_queued_messages 0"]
        else:
            lines.append("persistence false")
        if os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to its own user and cannot read tmp files
        if self.users:
            pw = self.folder / "passwd"
            pw.write_text("")
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.pki:
            lines += [f"cafile {self.pki.ca}", f"certfile {self.pki.server_cert}", f"keyfile {self.pki.server_key}",
                      f"require_certificate {'true' if self.require_certificate else 'false'}"]
        if self.acl is not None:
            (self.folder / "acl").write_text(self.acl)
            lines.append(f"acl_file {self.folder / 'acl'}")
        lines += self.extra
        path = self.folder / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 10) -> Broker:
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}:\n{self.log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not listen on {self.port}:\n{self.log}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- a subscriber ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    correlation: bytes | None
    at: float  # SYSTEM.now_us() / 1e6 on arrival

    def json(self) -> Any:
        import json
        return json.loads(self.payload)


class Subscriber:
    """A paho client on its own thread (the central office's side), recording every message."""

    def __init__(self, broker: Broker, topic: str = "#", *, username: str | None = None,
                 password: str | None = None, ca: Path | None = None, v5: bool = True,
                 persistent: str | None = None):
        """``persistent``: a client id whose session (and QoS 1 messages queued for it while it
        is away) the broker keeps across reconnects, given ``Broker(persistence=True)``."""
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        proto = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
        self.persistent = persistent
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=proto, client_id=persistent or "",
                                  clean_session=None if v5 else not persistent)
        self.client.reconnect_delay_set(0.05, 0.2)  # type: ignore[arg-type]  # floats work
        if username:
            self.client.username_pw_set(username, password)
        if ca:
            self.client.tls_set(ca_certs=str(ca))
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.broker, self.v5 = broker, v5

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        corr = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), corr, SYSTEM.now_us() / 1e6))

    def start(self) -> Subscriber:
        if self.v5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600 if self.persistent else 0
            self.client.connect("127.0.0.1", self.broker.port, 30, clean_start=not self.persistent,
                                properties=props)
        else:
            self.client.connect("127.0.0.1", self.broker.port, 30)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("subscriber did not subscribe")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        found = self.on(topic)
        return found[-1] if found else None

    def publish(self, topic: str, payload: bytes | str, correlation: bytes | None = None) -> None:
        props = None
        if correlation is not None:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = correlation
        self.client.publish(topic, payload, qos=1, properties=props).wait_for_publish(5)
