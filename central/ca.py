"""The central office as a small certificate authority (design/0097): its CA certificate, the
register of enrolled nodes, issuing and revoking, the revocation list.

All of it lives beside the office's key (design/0065), in `<data_dir>/central-key/`:
the key itself (`node-ed25519.key`, the CA's key: the key list and the CA are one signer),
`ca.pem` (the self-signed CA certificate, public), `enrolments.jsonl` (the register: one JSON
line per event, "accepted" or "revoked", appended and fsynced, never rewritten: the office's
record of who accepted which box and when) and `crl.pem` (the last revocation list written).
A node's keys come from here only: never from a birth (issue 40).

Blocking (files, fsync): the dashboard calls it from a thread.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from storage.keys import nodecert, nodekey
from storage.disk.fsutil import fsync_dir, replace_durably

KEY_DIR = "central-key"
CA_CERT = "ca.pem"
REGISTER = "enrolments.jsonl"
CRL_FILE = "crl.pem"
DEFAULT_NAME = "edged central office"
ACCEPTED, REVOKED = "accepted", "revoked"


class CAError(Exception):
    """Something a person asked of the CA that cannot be done; the text says what to do."""


def folder(data_dir: Path) -> Path:
    path = Path(data_dir) / KEY_DIR
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def central_key(data_dir: Path) -> nodekey.NodeKey:
    """The office's signing key (the CA's key too); made at the first call."""
    return nodekey.load_or_create(folder(data_dir))


def ca_cert(data_dir: Path, now_us: int, name: str | None = None) -> tuple[nodekey.NodeKey, x509.Certificate]:
    """The office's key and CA certificate, the certificate made at the first call (over the key
    the office already has: its fingerprint stays the one it published)."""
    key = central_key(data_dir)
    path = folder(data_dir) / CA_CERT
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        cert = nodecert.make_ca(key.private_key(), name or DEFAULT_NAME, now_us)
        replace_durably(path, nodecert.pem([cert]), 0o644)
        return key, cert
    if cert.public_key() != key.private_key().public_key():
        raise CAError(f"{path} is not the certificate of the office's key {key.fingerprint}; restore both from the "
                      "backup of the store")
    return key, cert


def existing_ca(data_dir: Path) -> x509.Certificate | None:
    """The CA certificate if the office made one (the dashboard serves it; it never makes one)."""
    try:
        return x509.load_pem_x509_certificate((Path(data_dir) / KEY_DIR / CA_CERT).read_bytes())
    except FileNotFoundError:
        return None


# the register ----------------------------------------------------------------------------------------
def read_register(data_dir: Path) -> list[dict[str, Any]]:
    try:
        text = (Path(data_dir) / KEY_DIR / REGISTER).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _append(data_dir: Path, event: dict[str, Any]) -> None:
    path = folder(data_dir) / REGISTER
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)


def enrolments(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pure: every certificate issued, oldest first: {node, site, name, serial, public_key,
    fingerprint, accepted_us, accepted_by, revoked_us, revoked_by, reason, cert}."""
    out: dict[str, dict[str, Any]] = {}
    for ev in events:
        if ev.get("event") == ACCEPTED:
            out[ev["serial"]] = {**{k: ev.get(k) for k in ("node", "serial", "public_key", "fingerprint", "cert")},
                                 "site": ev["node"].split("/", 1)[0], "name": ev["node"].split("/", 1)[1],
                                 "accepted_us": ev["at_us"], "accepted_by": ev.get("by"), "revoked_us": None,
                                 "revoked_by": None, "reason": None}
        elif ev.get("event") == REVOKED and ev.get("serial") in out and out[ev["serial"]]["revoked_us"] is None:
            out[ev["serial"]].update(revoked_us=ev["at_us"], revoked_by=ev.get("by"), reason=ev.get("reason"))
    return sorted(out.values(), key=lambda e: (e["accepted_us"], e["serial"]))


def enrolled_keys(entries: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Pure: node -> the keys (base64) of its certificates not revoked."""
    out: dict[str, set[str]] = {}
    for e in entries:
        if e["revoked_us"] is None:
            out.setdefault(e["node"], set()).add(e["public_key"])
    return out


# accepting and revoking -------------------------------------------------------------------------------
def accept(data_dir: Path, request: bytes, by: str, now_us: int, fingerprint: str | None = None
           ) -> tuple[dict[str, Any], bytes]:
    """Issue the node its certificate for an enrolment request a person at the office accepted;
    on the register. Returns the entry and the bundle the box installs (its certificate, then the
    CA's). `fingerprint` (what `edgectl enrol` printed on the box) must match when given."""
    if not by.strip():
        raise CAError("say who accepts the enrolment (--by NAME): it is on the office's record")
    try:
        ident, _csr = nodecert.read_request(request)
    except nodecert.CertError as exc:
        raise CAError(f"the enrolment request cannot be accepted: {exc}") from None
    if fingerprint and fingerprint.strip() != ident.fingerprint:
        raise CAError(f"the request's key is {ident.fingerprint}, not {fingerprint.strip()} as the box printed: "
                      "it is not that box's request; nothing was issued")
    key, ca = ca_cert(data_dir, now_us)
    b64 = base64.b64encode(ident.public_raw).decode()
    for e in enrolments(read_register(data_dir)):
        if e["public_key"] == b64 and e["revoked_us"] is None:
            if e["node"] != ident.name:
                raise CAError(f"that key is already enrolled as {e['node']}; one key names one node")
            return e, (e["cert"] + nodecert.pem([ca]).decode()).encode()
        if e["public_key"] == b64:
            raise CAError(f"that key was revoked ({e['node']}, serial {e['serial']}): a revoked key is never "
                          "enrolled again; the box needs a new data folder and key")
    cert = nodecert.issue(key.private_key(), ca, request, x509.random_serial_number(), now_us)
    cert_pem = nodecert.pem([cert]).decode()
    event = {"event": ACCEPTED, "node": ident.name, "serial": f"{cert.serial_number:x}", "public_key": b64,
             "fingerprint": ident.fingerprint, "at_us": now_us, "by": by.strip(), "cert": cert_pem}
    _append(data_dir, event)
    entry = next(e for e in enrolments(read_register(data_dir)) if e["serial"] == event["serial"])
    return entry, (cert_pem + nodecert.pem([ca]).decode()).encode()


def revoke(data_dir: Path, what: str, by: str, reason: str, now_us: int) -> list[dict[str, Any]]:
    """Revoke a node's certificates (`what` is SITE/NODE: all of them; or a serial in hex), on the
    register; writes the new revocation list. Returns the entries revoked."""
    if not by.strip() or not reason.strip():
        raise CAError("say who revokes (--by NAME) and why (--reason TEXT): it is on the office's record")
    todo = [e for e in enrolments(read_register(data_dir))
            if e["revoked_us"] is None and (e["node"] == what or e["serial"] == what.lower())]
    if not todo:
        raise CAError(f"no certificate in force for {what!r} (see `edged-central nodes list`)")
    for e in todo:
        _append(data_dir, {"event": REVOKED, "serial": e["serial"], "node": e["node"], "at_us": now_us,
                           "by": by.strip(), "reason": reason.strip()})
    write_crl(data_dir, now_us)
    done = {e["serial"] for e in todo}
    return [e for e in enrolments(read_register(data_dir)) if e["serial"] in done]


# The office's list is signed once, written to crl.pem and served from there (design/0129): on each
# revocation, and on a schedule by `edged-central run` (central/crl_schedule.py), never per request.
CrlSigner = Callable[[list[tuple[int, int]], int], bytes]  # (serial, revoked at) of each revoked, now -> PEM
CRL_NEXT_DAYS = 1  # the list's nextUpdate: a day, though the office issues one every hour


def revoked_serials(data_dir: Path) -> list[tuple[int, int]]:
    """(serial, revoked at, UTC µs) of every certificate the register says is revoked."""
    return [(int(e["serial"], 16), e["revoked_us"]) for e in enrolments(read_register(data_dir))
            if e["revoked_us"] is not None]


def local_crl_signer(data_dir: Path) -> CrlSigner:
    """A CrlSigner with the CA's key in this process."""
    def sign(revoked: list[tuple[int, int]], now_us: int) -> bytes:
        key, ca = ca_cert(data_dir, now_us)
        return nodecert.make_crl(key.private_key(), ca, revoked, now_us, CRL_NEXT_DAYS).public_bytes(
            serialization.Encoding.PEM)
    return sign


def crl(data_dir: Path, now_us: int) -> bytes:
    """The office's signed revocation list as it stands (PEM), not written."""
    return local_crl_signer(data_dir)(revoked_serials(data_dir), now_us)


def write_crl(data_dir: Path, now_us: int, sign: CrlSigner | None = None) -> Path:
    """Sign the list as the register stands, once, and write it where it is served from."""
    path = folder(data_dir) / CRL_FILE
    replace_durably(path, (sign or local_crl_signer(data_dir))(revoked_serials(data_dir), now_us), 0o644)
    return path


def served_crl(data_dir: Path) -> bytes | None:
    """The list last written (what the dashboard's /crl.pem serves); None before the first."""
    try:
        return (Path(data_dir) / KEY_DIR / CRL_FILE).read_bytes()
    except FileNotFoundError:
        return None


# what the verifier asks ---------------------------------------------------------------------------------
def birth_findings(enrolled: set[str] | None, birth: dict[str, Any]) -> list[Any]:
    """Pure: a birth whose key is not one the office enrolled for its node is a critical finding
    (a broker password is not an enrolment; issue 40). `enrolled` None: the node was never
    enrolled, nothing to compare with."""
    from central import verify

    key = birth.get("public_key")
    if enrolled is None or not isinstance(key, str) or key in enrolled:
        return []
    ts = birth.get("ts_us")
    return [verify.Finding("key_not_enrolled", verify.CRITICAL,
                           "a birth announced a key the office never enrolled for this node (or revoked): another "
                           "box speaks with this node's broker login; its exports and heads are not the node's",
                           f"key_not_enrolled:{key}", ts if isinstance(ts, int) else None,
                           {"public_key": key, "enrolled": sorted(enrolled)})]


class Enrolled:
    """node -> its enrolled keys (None: never enrolled), from the register, read again when it
    changes. Blocking (stat, read): the verifier's thread."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / KEY_DIR / REGISTER
        self.seen: tuple[int, int] | None = None
        self.nodes: set[str] = set()
        self.keys: dict[str, set[str]] = {}

    def __call__(self, node: str) -> set[str] | None:
        try:
            st = self.path.stat()
            now = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            now = None
        if now != self.seen:
            entries = enrolments(read_register(self.path.parent.parent)) if now else []
            self.nodes = {e["node"] for e in entries}
            self.keys = enrolled_keys(entries)
            self.seen = now
        return self.keys.get(node, set()) if node in self.nodes else None


# the revocation list on the broker ----------------------------------------------------------------------
CRL_TOPIC = "edged-office/v1/crl"  # outside edged/v1/#: not a node's message; brokers may let every node read it


def publish_crl(broker: Any, crl_pem: bytes, timeout_s: float = 30.0) -> None:
    """The CRL as a retained message (QoS 1) on CRL_TOPIC, with the office's broker login
    (central/config.py BrokerConfig); raises CAError when the broker does not take it."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{broker.client_id}-crl", protocol=mqtt.MQTTv5)
    if broker.username:
        c.username_pw_set(broker.username, broker.password)
    if broker.tls_ca_file is not None:
        c.tls_set(ca_certs=str(broker.tls_ca_file))
    try:
        c.connect(broker.host, broker.port)
        c.loop_start()
        info = c.publish(CRL_TOPIC, crl_pem, qos=1, retain=True)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise CAError(f"the broker {broker.host}:{broker.port} did not take the revocation list in {timeout_s:.0f} s")
    except (OSError, ValueError, RuntimeError) as exc:
        raise CAError(f"cannot publish the revocation list on {broker.host}:{broker.port}: {exc}") from None
    finally:
        c.loop_stop()
        c.disconnect()
