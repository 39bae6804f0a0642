"""The node's Ed25519 key: it signs evidence exports; its public half is published in the
MQTT birth, so the central office (and anyone it gives the key to) can check an export
came from this node unaltered.

Made once, at the first start, in the data folder (the private file is 0600 and never
logged). It is never replaced silently: a lost or corrupt key is an error a person must
look at, because a new key breaks the chain of trust with exports already handed out.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from storage.disk.fsutil import PRIVATE_FILE, fsync_dir, replace_durably, write_new

KEY_FILE = "node-ed25519.key"  # PKCS#8 PEM, unencrypted, mode 0600, in the data folder
PUBLIC_PEM = "node-ed25519.pub.pem"  # a copy of the public half, for people and tools


class NodeKeyError(Exception):
    """The key file is there but unusable; the message says what to do."""


class NodeKey:
    def __init__(self, private: Ed25519PrivateKey):
        self._private = private
        self.public = private.public_key()

    def __repr__(self) -> str:  # never show the private half, even in a traceback
        return f"NodeKey(public={self.public_b64})"

    @property
    def public_raw(self) -> bytes:
        return public_raw(self.public)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)

    def public_pem(self) -> bytes:
        return public_pem(self.public)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def private_key(self) -> Ed25519PrivateKey:
        """The private half, for what signs with it beyond `sign` (a certificate request, a C2PA
        manifest: storage/keys/nodecert.py). Never log or send it."""
        return self._private


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(raw: bytes) -> str:
    """A short name for a key, for people comparing two of them: SHA-256 of the raw key."""
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:32]


def load_public(text: str | bytes) -> Ed25519PublicKey:
    """A public key given as base64 of the 32 raw bytes (as in the birth) or as PEM."""
    data = text.encode() if isinstance(text, str) else text
    try:
        if b"BEGIN" in data:
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            return key
        raw = base64.b64decode(data.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise NodeKeyError(f"not an Ed25519 public key (base64 of 32 bytes, or PEM): {exc}") from None


def check(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def load_or_create(data_dir: Path) -> NodeKey:
    """The node's key, made on the first call. Blocking (file I/O, fsync): not on the event loop."""
    path = Path(data_dir) / KEY_FILE
    try:
        return _load(path)
    except FileNotFoundError:
        pass
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
    write_new(tmp, pem, 0o600)
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        return _load(path)
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
    key = NodeKey(private)
    _write_public(path.parent, key)
    return key


def _load(path: Path) -> NodeKey:
    st = os.stat(path)
    if st.st_mode & 0o077:
        os.chmod(path, 0o600)  # someone loosened it: the private key is for edged alone
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise NodeKeyError(f"the node key {path} is unreadable ({exc}); restore it from the backup. "
                           "Do not delete it to get a new one: exports signed with it could no longer "
                           "be matched to this node's published key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise NodeKeyError(f"{path} is not an Ed25519 key; restore the node's key from the backup")
    key = NodeKey(private)
    pub = path.parent / PUBLIC_PEM
    if not pub.exists() or pub.read_bytes() != key.public_pem():
        _write_public(path.parent, key)
    return key


def _write_public(folder: Path, key: NodeKey) -> None:
    # public, but the data folder is the daemon's alone (design/0017); fsynced before and after
    # the rename: a power cut left this file empty once (issue 40)
    replace_durably(folder / PUBLIC_PEM, key.public_pem(), PRIVATE_FILE)


BACKUP_DIR = "backups"  # beside the catalog copies that maintenance takes (edged/daemon/maintenance.py)


def backup_path(data_dir: Path) -> Path:
    return Path(data_dir) / BACKUP_DIR / KEY_FILE


def backup(data_dir: Path) -> Path:
    """Copy the private key beside the catalog copies (0600), unless that copy is already there."""
    src, dest = Path(data_dir) / KEY_FILE, backup_path(data_dir)
    data = src.read_bytes()
    if dest.exists() and dest.read_bytes() == data:
        return dest
    dest.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = dest.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    write_new(tmp, data, 0o600)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


def load_existing(data_dir: Path, expected_fingerprint: str | None) -> tuple[NodeKey, bool]:
    """The node's key for a data folder that is already initialised: never a new one.

    A missing key file is restored from its backup when that backup is the key the catalog
    recorded (its fingerprint); returns (key, restored). Anything else is a NodeKeyError."""
    path = Path(data_dir) / KEY_FILE
    try:
        return _load(path), False
    except FileNotFoundError:
        pass
    copy = backup_path(data_dir)
    if copy.exists() and expected_fingerprint:
        key = _load(copy)
        if key.fingerprint == expected_fingerprint:
            tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)
            write_new(tmp, copy.read_bytes(), 0o600)
            os.replace(tmp, path)
            fsync_dir(path.parent)
            _write_public(path.parent, key)
            return key, True
    raise NodeKeyError(
        f"the node key {path} is missing and no backup of the key this catalog recorded "
        f"({expected_fingerprint or 'none recorded'}) is in {copy.parent}: restore it from your own backup. "
        "edged does not make a new one: exports signed with it could no longer be matched to this node")
