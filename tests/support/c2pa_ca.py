"""A test office CA and node certificates for C2PA (design/0098), made with `cryptography`, and
the C2PA SDK's own reader as a court would run it: c2pa-python's Reader with the office's CA as
its only trust anchor, nothing of edged's."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from storage.export.c2pa_profile import node_certificate_builder

NOW = dt.datetime.now(dt.timezone.utc)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class TestCA:
    key: Ed25519PrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> str:
        return pem(self.cert)

    def issue(self, public_key: Any, site: str = "tw-hr-001", node: str = "node1", *, extensions: bool = True,
              days: int = 365) -> x509.Certificate:
        """A node certificate for `public_key`: the profile of storage/export/c2pa_profile.py, or
        (extensions=False) with basicConstraints only, as a CA that ignores the profile would."""
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, site),
                                      x509.NameAttribute(NameOID.COMMON_NAME, f"{site}/{node}")]))
             .issuer_name(self.cert.subject).public_key(public_key).serial_number(x509.random_serial_number())
             .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=days)))
        if extensions:
            b = node_certificate_builder(b, public_key, self.key.public_key())
        else:
            b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        return b.sign(self.key, None)

    def chain(self, node_cert: x509.Certificate) -> list[str]:
        return [pem(node_cert), self.pem]


def make_ca(name: str = "Test office") -> TestCA:
    key = Ed25519PrivateKey.generate()
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"{name} edged CA")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, None))
    return TestCA(key, cert)


@dataclass
class Checked:
    """What the C2PA SDK's reader says of a file."""

    state: str | None                 # Trusted, Valid or Invalid (None: no manifest at all)
    failures: list[str]               # the failure codes of the active manifest
    manifest: dict[str, Any]
    report: dict[str, Any]

    def assertion(self, label: str) -> Any:
        return next(a["data"] for a in self.manifest["assertions"] if a["label"] == label)


def read(path: Path, ca_pem: str) -> Checked:
    """The one-liner of docs/guide/export.md: c2pa.Reader with the office's CA as trust anchor."""
    import c2pa

    ctx = c2pa.Context.from_dict({"trust": {"trust_anchors": ca_pem}, "verify": {"remote_manifest_fetch": False}})
    with open(path, "rb") as f:
        try:
            reader = c2pa.Reader("video/mp4", f, context=ctx)
        except c2pa.C2paError.ManifestNotFound:
            return Checked(None, [], {}, {})
        with reader:
            report = json.loads(reader.json())
    results = report.get("validation_results", {}).get("activeManifest", {})
    manifest = report["manifests"][report["active_manifest"]]
    return Checked(report.get("validation_state"), [f["code"] for f in results.get("failure", [])], manifest, report)
