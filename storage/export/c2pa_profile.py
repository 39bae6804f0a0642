"""What a node certificate must carry for the C2PA SDK to take it as a signer (design/0098).

Measured against the C2PA SDK's reader (c2pa-python 0.38, c2pa-rs 0.91) with the office's CA as
its only trust anchor: an end-entity certificate (basicConstraints cA false, or none), keyUsage
digitalSignature, an extendedKeyUsage that includes id-kp-emailProtection (documentSigning or
the C2PA claim-signing purpose alone are refused by the reader's default EKU list), an
authorityKeyIdentifier, and a key the SDK signs with (Ed25519, ECDSA P-256/P-384, RSA for PS256).
The office's CA issues with `node_certificate_builder` (or adds `node_cert_extensions` itself);
`problems` says, before an export, why a chain would not do, so the export says so instead of
making a manifest no reader accepts.

Pure: certificates in, plain data out; no files, no clock of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

EMAIL_PROTECTION = ExtendedKeyUsageOID.EMAIL_PROTECTION            # 1.3.6.1.5.5.7.3.4: the one the reader needs
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")          # RFC 9336; accepted beside emailProtection
NODE_EKUS = (EMAIL_PROTECTION, DOCUMENT_SIGNING)
REFUSED_EKUS = (ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,)      # C2PA refuses a signer good for anything
RSA_MIN_BITS = 2048


def node_cert_extensions(subject_key: Any, issuer_key: Any) -> list[tuple[x509.ExtensionType, bool]]:
    """The extensions (and whether each is critical) a node certificate needs for C2PA, for the
    CA to add beside its own (subject names, subjectAltName)."""
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                       data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                       encipher_only=False, decipher_only=False), True),
        (x509.ExtendedKeyUsage(list(NODE_EKUS)), False),
        (x509.SubjectKeyIdentifier.from_public_key(subject_key), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), False),
    ]


def node_certificate_builder(builder: x509.CertificateBuilder, subject_key: Any,
                             issuer_key: Any) -> x509.CertificateBuilder:
    """`builder` with the extensions of `node_cert_extensions` added."""
    for ext, critical in node_cert_extensions(subject_key, issuer_key):
        builder = builder.add_extension(ext, critical=critical)
    return builder


def algorithm(key: Any) -> str | None:
    """The C2PA signing algorithm for a public key, or None when the SDK cannot sign with it."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "es256", "secp384r1": "es384"}.get(key.curve.name)
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= RSA_MIN_BITS:
        return "ps256"
    return None


def _ext(cert: x509.Certificate, kind: type) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def problems(chain: list[x509.Certificate], signing_key: Any, at: dt.datetime) -> list[str]:
    """Why the chain (the node's certificate first, then its issuers) cannot sign a C2PA
    manifest with `signing_key` (the node key's public half) at `at`; empty when it can."""
    if not chain:
        return ["no certificate: the node is not enrolled with the office"]
    cert, out = chain[0], []
    if signing_key is not None and cert.public_key() != signing_key:
        out.append("the certificate is for another key than this node's")
    if algorithm(cert.public_key()) is None:
        out.append("its key is of a kind C2PA does not sign with (Ed25519, ECDSA P-256/P-384 or RSA >= 2048)")
    bc = _ext(cert, x509.BasicConstraints)
    if bc is not None and bc.ca:
        out.append("it is a CA's certificate, not an end entity's")
    ku = _ext(cert, x509.KeyUsage)
    if ku is None or not ku.digital_signature:
        out.append("its keyUsage lacks digitalSignature")
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if eku is None or EMAIL_PROTECTION not in eku:
        out.append("its extendedKeyUsage lacks id-kp-emailProtection (1.3.6.1.5.5.7.3.4)")
    elif any(o in eku for o in REFUSED_EKUS):
        out.append("its extendedKeyUsage allows any use (anyExtendedKeyUsage)")
    if _ext(cert, x509.AuthorityKeyIdentifier) is None:
        out.append("it has no authorityKeyIdentifier")
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        out.append(f"it is not valid now ({cert.not_valid_before_utc:%Y-%m-%d} to "
                   f"{cert.not_valid_after_utc:%Y-%m-%d})")
    if len(chain) > 1 and cert.issuer != chain[1].subject:
        out.append("the next certificate in the chain is not its issuer")
    return out


def load_chain(pems: list[str] | str | bytes) -> list[x509.Certificate]:
    """A chain given as PEM texts (one certificate each, or all in one); ValueError if unreadable."""
    text = "".join(pems) if isinstance(pems, list) else pems
    return x509.load_pem_x509_certificates(text.encode() if isinstance(text, str) else text)
