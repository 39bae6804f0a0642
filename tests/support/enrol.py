"""Boxes enrolled with a test office (design/0097) as `edgectl enrol` and `edged-central nodes
accept` would do it: the office's CA over a fresh Ed25519 key, each box's own node key, its
request, the certificate issued and installed (pinning the CA) in its data folder."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
