"""The central office as a small certificate authority (design/0097, amended by design/0131 and
design/0132): its CA certificate, the register of enrolled nodes, issuing and revoking, the
revocation list.

The CA has its own key, apart from the office's key (`<data_dir>/central-key/`, design/0065),
which signs `cmd/time`, key lists and archives. All of the CA lives in `<data_dir>/central-ca/`,
a folder the office's own OS user (`edged-ca` in docs/guide/office-ca.md) owns: the CA key
(`node-ed25519.key`, 0600: read only by `edged-central nodes` run as that user), `ca.pem` (the
self-signed CA certificate), `office-key.json` (the CA's word that the office's key is the
office's: a key list signed by it checks against the CA), the register (`enrolments.jsonl` and
its signed head, central/keys/register.py) and `crl.pem` (the last revocation list). The dashboard
and `edged-central run` read the public files only; nothing in them loads the CA key.
A node's keys come from here only: never from a birth (issue 40).

Blocking (files, fsync): the dashboard calls it from a thread.
"""

from __future__ import annotations

import base64
import getpass
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from central.keys import register
from central.i18n import N_
from central.keys.register import RegisterError as RegisterError
from central.keys.enrolments import (ACCEPTED, REVOKED, CAError as CAError, accept_decision as accept_decision, enrolled_keys as enrolled_keys,
                                     enrolments as enrolments, in_force_for as in_force_for, twins_of as twins_of)
from storage.keys import fleetkeys, nodecert, nodekey, signed_doc
from storage.msg import Msg
from storage.disk.fsutil import replace_durably
from central.checks import verify

KEY_DIR = "central-key"     # the office's key (design/0065): cmd/time, key lists, archives
CA_DIR = "central-ca"       # the CA's key and its public files (design/0132)
CA_CERT = "ca.pem"
REGISTER = register.REGISTER
CRL_FILE = "crl.pem"
ENDORSEMENT = "office-key.json"
ENDORSEMENT_FORMAT = fleetkeys.ENDORSEMENT_FORMAT
# How long the CA vouches for the office's key (design/0376): a receipt the office heard outside its
# endorsement's period is refused by every verifier; the CA's hourly `nodes crl` renews it when less
# than ENDORSEMENT_RENEW_US is left, so a key the CA stops renewing (taken, replaced) stops within it.
ENDORSEMENT_VALID_US = 90 * 24 * 3600 * 1_000_000
ENDORSEMENT_RENEW_US = 30 * 24 * 3600 * 1_000_000
DEFAULT_NAME = "edged central office"
log = logging.getLogger(__name__)


def folder(data_dir: Path) -> Path:
    """The office's key folder (central-key/), made if missing."""
    path = Path(data_dir) / KEY_DIR
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def ca_folder(data_dir: Path) -> Path:
    return Path(data_dir) / CA_DIR


def central_key(data_dir: Path) -> nodekey.NodeKey:
    """The office's signing key (cmd/time, key lists, archives; not the CA's); made at the first call."""
    return nodekey.load_or_create(folder(data_dir))


def _ca_key(data_dir: Path) -> nodekey.NodeKey:
    """The CA's key: only `edged-central nodes` (accept, revoke, ca, crl) run as the CA's OS user
    loads it, made at the first call (the ceremony, docs/guide/office-ca.md)."""
    path = ca_folder(data_dir)
    if not path.exists() and (Path(data_dir) / KEY_DIR / CA_CERT).exists():
        raise CAError(f"this office's CA was made over the office's own key ({Path(data_dir) / KEY_DIR}); the CA now "
                      f"has a key of its own in {path}: follow 'From an office made before' in docs/guide/office-ca.md")
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    try:
        return nodekey.load_or_create(path)
    except PermissionError:
        raise CAError(f"cannot read the CA's key in {path}: run this as the CA's user "
                      "(sudo -u edged-ca edged-central nodes ...)") from None


def ca_cert(data_dir: Path, now_us: int, name: str | None = None) -> tuple[nodekey.NodeKey, x509.Certificate]:
    """The CA's key and certificate, the certificate made at the first call, with the CA's word
    for the office's key (office-key.json). Loads the CA key: the CA's user only."""
    key = _ca_key(data_dir)
    path = ca_folder(data_dir) / CA_CERT
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        cert = nodecert.make_ca(key.private_key(), name or DEFAULT_NAME, now_us)
        replace_durably(path, nodecert.pem([cert]), 0o644)
    if cert.public_key() != key.private_key().public_key():
        raise CAError(f"{path} is not the certificate of the CA's key {key.fingerprint}; restore both from the "
                      "CA's backup (docs/guide/office-ca.md)")
    if not (ca_folder(data_dir) / ENDORSEMENT).exists():
        try:
            endorse_office(data_dir, key, now_us)
        except CAError as exc:   # `nodes ca --office-key` gives it; key lists check by --central-key meanwhile
            log.warning("%s", exc)
    return key, cert


def endorse_office(data_dir: Path, ca_key: nodekey.NodeKey, now_us: int, office_pem: bytes | None = None
                   ) -> dict[str, Any]:
    """The CA's signed word that the office's key (central-key/, or `office_pem`, its public half)
    is the office's: a key list signed by that key checks against the CA alone
    (storage/keys/fleetkeys.py). Raises CAError when the office's public key cannot be read."""
    pub_file = Path(data_dir) / KEY_DIR / nodekey.PUBLIC_PEM
    try:
        if office_pem is None and not pub_file.exists() and os.access(Path(data_dir), os.W_OK):
            central_key(data_dir)   # an office that never ran: its key made now
        office = nodekey.load_public(office_pem if office_pem is not None else pub_file.read_bytes())
    except (OSError, nodekey.NodeKeyError) as exc:
        raise CAError(f"cannot read the office's public key ({exc}): give it with --office-key FILE (a copy of "
                      f"{pub_file})") from None
    raw = nodekey.public_raw(office)
    doc = signed_doc.sign(ca_key, {"format": ENDORSEMENT_FORMAT, "made_us": now_us,
                                   "office_key": base64.b64encode(raw).decode(),
                                   "office_fingerprint": nodekey.fingerprint(raw),
                                   "not_before_us": now_us, "not_after_us": now_us + ENDORSEMENT_VALID_US})
    replace_durably(ca_folder(data_dir) / ENDORSEMENT, (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode(), 0o644)
    return doc


def renew_endorsement(data_dir: Path, now_us: int) -> dict[str, Any] | None:
    """The CA's word for the office's key made again (the same key, a new period) when it has less
    than ENDORSEMENT_RENEW_US left or carries no period (design/0376); the new one, or None when
    none was due or there is none to renew. Loads the CA key: the CA's user only."""
    old = endorsement(data_dir)
    if old is None:
        return None
    until = old.get("not_after_us")
    if isinstance(until, int) and now_us < until - ENDORSEMENT_RENEW_US:
        return None
    pem = nodekey.public_pem(nodekey.load_public(str(old["office_key"])))
    return endorse_office(data_dir, _ca_key(data_dir), now_us, pem)


def endorsement(data_dir: Path) -> dict[str, Any] | None:
    """The CA's word for the office's key, if the CA made one (public; key lists carry it)."""
    try:
        return dict(json.loads((ca_folder(data_dir) / ENDORSEMENT).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


def existing_ca(data_dir: Path) -> x509.Certificate | None:
    """The CA certificate if the office made one (the dashboard serves it; it never makes one)."""
    try:
        return x509.load_pem_x509_certificate((ca_folder(data_dir) / CA_CERT).read_bytes())
    except FileNotFoundError:
        return None


# the register (central/keys/register.py) -------------------------------------------------------------------
def read_register(data_dir: Path) -> list[dict[str, Any]]:
    """The register's events, each line's signature and the chain checked against the CA
    certificate; raises RegisterError when it was altered. No CA yet: no events."""
    cert = existing_ca(data_dir)
    if cert is None:
        return []
    pub = cert.public_key()
    assert isinstance(pub, Ed25519PublicKey)  # make_ca: always Ed25519
    return register.read(ca_folder(data_dir), pub)


def is_revoked(data_dir: Path, node: str | None = None, serial: str | None = None, public_key: str | None = None
               ) -> bool:
    """The stable question for readers (the verifier's findings): is this certificate (`serial`,
    hex) or key (`public_key`, base64) revoked, or this node (SITE/NODE: enrolled, and none of its
    certificates in force)? Raises RegisterError when the register was altered: never "no" from a
    register cut by hand. Reads public files only."""
    entries = enrolments(read_register(data_dir))
    if serial is not None or public_key is not None:
        return any(e["revoked_us"] is not None and (e["serial"] == (serial or "").lower() or e["public_key"] == public_key)
                   for e in entries)
    mine = [e for e in entries if e["node"] == node]
    return bool(mine) and all(e["revoked_us"] is not None for e in mine)


def os_user(env: dict[str, str] | None = None, user: str | None = None) -> str:
    """Pure but for defaults: the OS account that ran the command, and the one sudo came from."""
    env = dict(os.environ) if env is None else env
    user = user or getpass.getuser()
    via = env.get("SUDO_USER")
    return f"{via} (as {user})" if via and via != user else user


# accepting and revoking -------------------------------------------------------------------------------
def _who(by: str, what: str) -> str:
    if not by.strip():
        raise CAError(f"say who {what} (--by NAME): it is on the office's record")
    return by.strip()


def accept(data_dir: Path, request: bytes, by: str, now_us: int, fingerprint: str, replace: str | None = None
           ) -> tuple[dict[str, Any], bytes]:
    """Issue the node its certificate for an enrolment request a person at the office accepted,
    having read the key's `fingerprint` on the box (its screen or label: `edgectl enrol` prints
    it); on the register with the person (`by`) and the OS user. A node with a certificate in
    force gets another only with `replace` (that serial), revoked in the same step. Returns the
    entry and the bundle the box installs (its certificate, then the CA's)."""
    by = _who(by, "accepts the enrolment")
    try:
        ident, _csr = nodecert.read_request(request)
    except nodecert.CertError as exc:
        raise CAError(f"the enrolment request cannot be accepted: {exc}") from None
    if not (fingerprint or "").strip():
        raise CAError("give the key fingerprint read on the box's screen or label (--fingerprint SHA256:...): "
                      "without it nobody witnessed which box this request came from; nothing was issued")
    if fingerprint.strip() != ident.fingerprint:
        raise CAError(f"the request's key is {ident.fingerprint}, not {fingerprint.strip()} as the box printed: "
                      "it is not that box's request; nothing was issued")
    key, ca = ca_cert(data_dir, now_us)
    b64 = base64.b64encode(ident.public_raw).decode()
    what, old = accept_decision(enrolments(read_register(data_dir)), ident.name, b64, replace)
    if what == "again" and old is not None:
        return old, (old["cert"] + nodecert.pem([ca]).decode()).encode()
    cert = nodecert.issue(key.private_key(), ca, request, x509.random_serial_number(), now_us)
    cert_pem = nodecert.pem([cert]).decode()
    who = {"at_us": now_us, "by": by, "os_user": os_user()}
    events: list[dict[str, Any]] = []
    if old is not None:
        events.append({"event": REVOKED, "serial": old["serial"], "node": old["node"], **who,
                       "reason": f"replaced by serial {cert.serial_number:x}"})
    events.append({"event": ACCEPTED, "node": ident.name, "serial": f"{cert.serial_number:x}", "public_key": b64,
                   "fingerprint": ident.fingerprint, "cert": cert_pem, **who,
                   **({"replaces": old["serial"]} if old else {})})
    register.append(ca_folder(data_dir), key, events)
    if old is not None:
        write_crl(data_dir, now_us)
    entry = next(e for e in enrolments(read_register(data_dir)) if e["serial"] == events[-1]["serial"])
    return entry, (cert_pem + nodecert.pem([ca]).decode()).encode()


def revoke(data_dir: Path, what: str, by: str, reason: str, now_us: int) -> list[dict[str, Any]]:
    """Revoke a node's certificates (`what` is SITE/NODE: all of them; or a serial in hex), on the
    register with the person and the OS user; writes the new revocation list. Returns the entries revoked."""
    by = _who(by, "revokes")
    if not reason.strip():
        raise CAError("say why (--reason TEXT): it is on the office's record")
    key, _ca = ca_cert(data_dir, now_us)
    todo = [e for e in enrolments(read_register(data_dir))
            if e["revoked_us"] is None and (e["node"] == what or e["serial"] == what.lower())]
    if not todo:
        raise CAError(f"no certificate in force for {what!r} (see `edged-central nodes list`)")
    register.append(ca_folder(data_dir), key, [
        {"event": REVOKED, "serial": e["serial"], "node": e["node"], "at_us": now_us, "by": by,
         "os_user": os_user(), "reason": reason.strip()} for e in todo])
    write_crl(data_dir, now_us)
    done = {e["serial"] for e in todo}
    return [e for e in enrolments(read_register(data_dir)) if e["serial"] in done]


# The office's list is signed once, written to crl.pem and served from there (design/0129): on each
# revocation, and every hour by the CA's user (`edged-central nodes crl`, on a timer: design/0132),
# never per request; `edged-central run` retains each new file on the broker (central/keys/crl_schedule.py).
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
    """The CA's signed revocation list as the register stands (PEM), not written. Loads the CA key:
    the CA's user only; the dashboard serves the file `write_crl` wrote (`published_crl`)."""
    return local_crl_signer(data_dir)(revoked_serials(data_dir), now_us)


def write_crl(data_dir: Path, now_us: int, sign: CrlSigner | None = None) -> Path:
    """Sign the list as the register stands, once, and write it where it is served from."""
    path = ca_folder(data_dir) / CRL_FILE
    replace_durably(path, (sign or local_crl_signer(data_dir))(revoked_serials(data_dir), now_us), 0o644)
    return path


def published_crl(data_dir: Path) -> bytes | None:
    """The last revocation list the CA's user wrote (None: none yet). Public; no key."""
    try:
        return (ca_folder(data_dir) / CRL_FILE).read_bytes()
    except FileNotFoundError:
        return None


# what the verifier asks ---------------------------------------------------------------------------------
def birth_findings(enrolled: set[str] | None, birth: dict[str, Any]) -> list[Any]:
    """Pure: a birth whose key is not one the office enrolled for its node is a critical finding
    (a broker password is not an enrolment; issue 40). `enrolled` None: the node was never
    enrolled, nothing to compare with."""
    key = birth.get("public_key")
    if enrolled is None or not isinstance(key, str) or key in enrolled:
        return []
    ts = birth.get("ts_us")
    return [verify.Finding("key_not_enrolled", verify.CRITICAL, Msg(N_(
        "a birth announced a key the office never enrolled for this node (or revoked): another box speaks with this "
        "node's broker login; its exports and heads are not the node's")),
                           f"key_not_enrolled:{key}", ts if isinstance(ts, int) else None,
                           {"public_key": key, "enrolled": sorted(enrolled)})]


class Enrolled:
    """node -> its enrolled keys (None: never enrolled), from the register, read again when it
    changes. A register altered by hand is not read: the last good reading stays, and the error
    is logged each time the files change (design/0131). Blocking (stat, read): the verifier's thread."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.seen: tuple[Any, ...] | None = None
        self.nodes: set[str] = set()
        self.keys: dict[str, set[str]] = {}
        self.error: str | None = None

    def _stamp(self) -> tuple[Any, ...] | None:
        out: list[Any] = []
        for name in (REGISTER, register.HEAD, CA_CERT):
            try:
                st = (ca_folder(self.data_dir) / name).stat()
                out.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                out.append(None)
        return None if out == [None, None, None] else tuple(out)

    def __call__(self, node: str) -> set[str] | None:
        now = self._stamp()
        if now != self.seen:
            self.seen = now
            try:
                entries = enrolments(read_register(self.data_dir)) if now else []
            except (RegisterError, ValueError) as exc:
                self.error = str(exc)
                log.error("the office's register of enrolments is refused: %s", exc)
            else:
                self.error = None
                self.nodes = {e["node"] for e in entries}
                self.keys = enrolled_keys(entries)
        return self.keys.get(node, set()) if node in self.nodes else None
