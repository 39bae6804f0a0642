"""Boxes enrolled with a test office (design/0097) as `edgectl enrol` and `edged-central nodes
accept` would do it: the office's CA over a fresh Ed25519 key, each box's own node key, its
request, the certificate issued and installed (pinning the CA) in its data folder."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from storage.keys import nodecert, nodekey
from storage.time.clock import SYSTEM


class Office:
    def __init__(self, name: str = "Test office"):
        self.key = Ed25519PrivateKey.generate()
        self.ca = nodecert.make_ca(self.key, name, SYSTEM.now_us())
        self.serial = 1

    def enrol(self, data_dir: Path, site: str, node: str) -> None:
        """Give the box at `data_dir` (its data folder made) a certificate naming site/node."""
        key = nodekey.load_or_create(Path(data_dir))
        self.serial += 1
        cert = nodecert.issue(self.key, self.ca, nodecert.make_request(key, site, node), self.serial, SYSTEM.now_us())
        nodecert.install(Path(data_dir), nodecert.pem([cert, self.ca]), key, site, node)

    def crl_pem(self, issued_us: int | None = None) -> bytes:
        """The office's revocation list, no node revoked, issued now or at `issued_us` (a court's
        list of a later day)."""
        crl = nodecert.make_crl(self.key, self.ca, [], SYSTEM.now_us() if issued_us is None else issued_us)
        return crl.public_bytes(Encoding.PEM)
