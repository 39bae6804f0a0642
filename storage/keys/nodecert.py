"""The node's X.509 certificate, issued by the central office's CA (design/0097).

The office is the root of trust: a box is a node once a person at the office accepted its
enrolment request (a CSR signed by the node key, naming site and node) and issued it a
certificate; the box pins the office's CA certificate it got with it. Exports carry the chain
(node certificate, CA certificate) and `edgectl verify` trusts only the CA: the one pinned here,
or one given with `--ca` (a police lab).

The node's key stays the Ed25519 key of storage/keys/nodekey.py (C2PA and X.509 both take Ed25519).
Names (design/0128): subject O the office (the CA's O), OU the site, CN "<site>/<node>", and the
SAN URI "edged:<site>/<node>", all four made from the request's SAN by the CA, never copied from
what the box wrote in its subject. A C2PA reader reports the signer's CN (`common_name`) and O
(`issuer`), edged's verifiers read the SAN; `check_chain` refuses a certificate where they
differ, so every route names the same node, and each compares it with what the export claims. Here because the box (install, exports, verify) and the office (issue,
revoke) both use it; storage/ is the layer both may import.

Blocking where it touches files (fsync): not on the event loop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from storage import names
from storage.keys import nodekey
from storage.disk.fsutil import PRIVATE_FILE, replace_durably

CERT_FILE = "node-cert.pem"   # the node's certificate, in the data folder (public, but the folder is edged's)
CA_FILE = "office-ca.pem"     # the office's CA certificate, pinned at enrolment
URI_SCHEME = "edged:"
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning (RFC 9336), as C2PA asks
NODE_DAYS = 3650
# What a node certificate is good for: signing (C2PA asks for emailProtection, design/0098), and the
# TLS between the boxes of a site (design/0115: a standby serves a box its gap; OpenSSL refuses a
# certificate whose extendedKeyUsage lacks serverAuth or clientAuth for TLS)
NODE_USES = (ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING, ExtendedKeyUsageOID.SERVER_AUTH,
             ExtendedKeyUsageOID.CLIENT_AUTH)
CA_DAYS = 7300


class CertError(ValueError):
    """A request, certificate, chain or revocation list that cannot be trusted; the text says why."""


@dataclass(frozen=True)
class Identity:
    """Who a certificate (or a request) names, and the key it binds."""

    site: str
    node: str
    public_raw: bytes
    serial: int | None = None

    @property
    def fingerprint(self) -> str:
        return nodekey.fingerprint(self.public_raw)

    @property
    def name(self) -> str:
        return f"{self.site}/{self.node}"


def _utc(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1e6, dt.timezone.utc)


def _check_names(site: str, node: str) -> None:
    """The one rule for names (storage/names.py, design/0315): `fullmatch`, ASCII, no look-alike."""
    for what, v in (("site", site), ("node", node)):
        try:
            names.name(v, what)
        except names.BadName as exc:
            raise CertError(str(exc)) from None


def _subject(site: str, node: str, office: list[x509.NameAttribute[Any]] | None = None) -> x509.Name:
    """A node's subject: the office's O (what a C2PA reader shows as `issuer`), OU the site, CN
    "<site>/<node>" (its `common_name`)."""
    return x509.Name([*(office or []), x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, site),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{site}/{node}")])


def _subject_agrees(cert: x509.Certificate, site: str, node: str) -> bool:
    """Whether the subject's CN and OU (what a C2PA reader reports) name the node the SAN names."""
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    ous = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    return cns == [f"{site}/{node}"] and ous == [site]


def _uri(site: str, node: str) -> str:
    return f"{URI_SCHEME}{site}/{node}"


def _names_in(ext_owner: x509.Certificate | x509.CertificateSigningRequest) -> tuple[str, str]:
    try:
        san = ext_owner.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise CertError("it names no node (no subjectAltName URI edged:<site>/<node>)") from None
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith(URI_SCHEME)]
    if len(uris) != 1 or uris[0].count("/") != 1:
        raise CertError("it must name exactly one node (subjectAltName URI edged:<site>/<node>)")
    try:
        return names.node_name(uris[0][len(URI_SCHEME):], "its name")
    except names.BadName as exc:
        raise CertError(str(exc)) from None


def _ed25519_raw(key: object, what: str) -> bytes:
    if not isinstance(key, Ed25519PublicKey):
        raise CertError(f"{what} is not an Ed25519 key")
    return nodekey.public_raw(key)


# the box: a request, then the certificate it got ------------------------------------------------
def make_request(key: nodekey.NodeKey, site: str, node: str) -> bytes:
    """The enrolment request (PEM CSR), signed by the node key: proof the box holds it."""
    _check_names(site, node)
    csr = (x509.CertificateSigningRequestBuilder().subject_name(_subject(site, node))
           .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(_uri(site, node))]),
                          critical=False)
           .sign(key.private_key(), None))
    return csr.public_bytes(serialization.Encoding.PEM)


def read_request(pem: bytes) -> tuple[Identity, x509.CertificateSigningRequest]:
    """The site, node and key an enrolment request names, its signature checked."""
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise CertError(f"not an enrolment request (PEM certificate request): {exc}") from None
    if not csr.is_signature_valid:
        raise CertError("the request's signature does not match its key: it was altered")
    site, node = _names_in(csr)
    return Identity(site, node, _ed25519_raw(csr.public_key(), "the request's key")), csr


def load_pem_chain(data: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertError(f"not PEM certificates: {exc}") from None
    return certs


def pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def install(data_dir: Path, bundle: bytes, key: nodekey.NodeKey, site: str, node: str) -> Identity:
    """Install the certificate the office issued (the bundle: node certificate, then the CA's) and
    pin the CA. It must be for this node's key and names, and signed by the CA it comes with.
    Written durably (fsync, rename, fsync the folder). Returns who it names."""
    certs = load_pem_chain(bundle)
    if len(certs) != 2:
        raise CertError("the file must hold two certificates: the node's, then the office's CA")
    cert, ca = certs
    ident = check_chain([cert, ca], ca, None, None)
    if ident.public_raw != key.public_raw:
        raise CertError(f"the certificate is for the key {ident.fingerprint}, not this node's {key.fingerprint}: "
                        "it was issued for another box's request")
    if (ident.site, ident.node) != (site, node):
        raise CertError(f"the certificate names {ident.name}, but this box is {site}/{node}")
    pinned = pinned_ca(data_dir)
    if pinned is not None and pinned.public_key() != ca.public_key():
        raise CertError("the certificate comes from another CA than the one this box pinned at its enrolment; "
                        "a box changes its office only by a new data folder")
    folder = Path(data_dir)
    replace_durably(folder / CA_FILE, pem([ca]), PRIVATE_FILE)
    replace_durably(folder / CERT_FILE, pem([cert]), PRIVATE_FILE)
    return ident


def pinned_ca(data_dir: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate((Path(data_dir) / CA_FILE).read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise CertError(f"the pinned CA {Path(data_dir) / CA_FILE} is unreadable ({exc}); restore it") from None


def node_chain(data_dir: Path) -> tuple[Ed25519PrivateKey, list[x509.Certificate]] | None:
    """The node's private key and its certificate chain [node certificate, office CA], for what
    signs with them (C2PA manifests on exported clips); None until the node is enrolled (or when
    its certificate is not for its key). Blocking (reads files)."""
    data_dir = Path(data_dir)
    try:
        cert = x509.load_pem_x509_certificate((data_dir / CERT_FILE).read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    ca = pinned_ca(data_dir)
    if ca is None:
        return None
    try:
        key = nodekey.load_existing(data_dir, None)[0].private_key()
    except nodekey.NodeKeyError:
        return None
    if cert.public_key() != key.public_key():
        return None
    return key, [cert, ca]


def enrolment(data_dir: Path) -> dict[str, Any] | None:
    """This box's enrolment as installed, for people (status, doctor): None until enrolled."""
    got = node_chain(data_dir)
    if got is None:
        return None
    cert, ca = got[1]
    site, node = _names_in(cert)
    return {"node": f"{site}/{node}", "serial": f"{cert.serial_number:x}",
            "not_after_us": int(cert.not_valid_after_utc.timestamp() * 1e6), "ca": ca.subject.rfc4514_string(),
            "ca_fingerprint": nodekey.fingerprint(_ed25519_raw(ca.public_key(), "the CA's key"))}


def chain_pem(data_dir: Path) -> list[str] | None:
    """The chain as PEM texts, for an export's manifest; None until enrolled."""
    got = node_chain(data_dir)
    return None if got is None else [pem([c]).decode() for c in got[1]]


# the office: its CA, issuing, revoking ------------------------------------------------------------
def make_ca(key: Ed25519PrivateKey, name: str, now_us: int) -> x509.Certificate:
    """The office's self-signed CA certificate over its key."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"{name} edged CA")])
    now = _utc(now_us)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, None))


def issue(ca_key: Ed25519PrivateKey, ca: x509.Certificate, request: bytes, serial: int, now_us: int,
          days: int = NODE_DAYS) -> x509.Certificate:
    """The node's certificate for an accepted request: its names and key, digitalSignature and
    the document-signing uses C2PA asks of a signer."""
    ident, csr = read_request(request)
    now = _utc(now_us)
    office = ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (x509.CertificateBuilder().subject_name(_subject(ident.site, ident.node, office)).issuer_name(ca.subject)
            .public_key(csr.public_key()).serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(NODE_USES)), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(_uri(ident.site, ident.node))]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, None))


def make_crl(ca_key: Ed25519PrivateKey, ca: x509.Certificate, revoked: list[tuple[int, int]], now_us: int,
             next_days: int = 30) -> x509.CertificateRevocationList:
    """The office's signed revocation list: (serial, revoked at, UTC µs) of every revoked node."""
    now = _utc(now_us)
    b = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now)
         .next_update(now + dt.timedelta(days=next_days)))
    for serial, at_us in revoked:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                      .revocation_date(_utc(at_us)).build())
    return b.sign(ca_key, None)


# checking -------------------------------------------------------------------------------------------
def _signed_by(child: x509.Certificate | x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    if not isinstance(key, Ed25519PublicKey):
        return False
    body = child.tbs_certificate_bytes if isinstance(child, x509.Certificate) else child.tbs_certlist_bytes
    try:
        key.verify(child.signature, body)
    except InvalidSignature:
        return False
    return True


def load_crl(data: bytes, ca: x509.Certificate) -> x509.CertificateRevocationList:
    """A revocation list, which must be signed by `ca`."""
    try:
        crl = x509.load_pem_x509_crl(data)
    except ValueError:
        try:
            crl = x509.load_der_x509_crl(data)
        except ValueError as exc:
            raise CertError(f"not a revocation list (PEM or DER CRL): {exc}") from None
    if crl.issuer != ca.subject or not _signed_by(crl, ca):
        raise CertError("the revocation list is not signed by the CA you trust")
    return crl


def check_chain(chain: list[x509.Certificate], ca: x509.Certificate,
                crl: x509.CertificateRevocationList | None, at_us: int | None) -> Identity:
    """Who the node certificate (chain[0]) names, once it is proven issued by `ca` (the root the
    verifier trusts; a CA certificate shipped in the chain counts only if it is that one), valid at
    `at_us` (when given) and not on the revocation list. Raises CertError saying why not."""
    if not chain:
        raise CertError("no certificate: the export was made before its node was enrolled")
    cert = chain[0]
    if cert.issuer != ca.subject or not _signed_by(cert, ca):
        raise CertError(f"the node certificate ({cert.subject.rfc4514_string()}) is not issued by the CA you "
                        f"trust ({ca.subject.rfc4514_string()})")
    try:
        if not ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertError("the trusted certificate is not a CA")
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertError("the signer's certificate is a CA's, not a node's")
    except x509.ExtensionNotFound:
        raise CertError("a certificate lacks its basicConstraints") from None
    if at_us is not None:
        at = _utc(at_us)
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise CertError(f"the node certificate was not valid at {at:%Y-%m-%d %H:%M:%S} UTC "
                            f"({cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})")
    if crl is not None:
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            raise CertError(f"the node certificate (serial {cert.serial_number:x}) was revoked by the office on "
                            f"{entry.revocation_date_utc:%Y-%m-%d %H:%M:%S} UTC")
    site, node = _names_in(cert)
    if not _subject_agrees(cert, site, node):
        raise CertError(f"the node certificate's subject ({cert.subject.rfc4514_string()}) does not name the node its "
                        f"subjectAltName names ({site}/{node}): readers would disagree on who signed")
    return Identity(site, node, _ed25519_raw(cert.public_key(), "the node certificate's key"), cert.serial_number)
