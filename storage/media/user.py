"""The media workers' own account (design/0323): the processes that parse untrusted media (the
export's media worker and signing process, storage/export/worker.py; the redaction worker,
storage/redact/worker.py) run as `edged-media`, a user that cannot read the node key.

The daemon owns the data folder (0700) and the key in it (0600). A worker is given, for its run
only, what it needs and nothing else, as POSIX ACL entries naming the media user (the owner of a
file may set them; no privilege is needed): search (--x) on each folder from the data folder down,
read on the files it reads, read and write on its own work folder. The key has none: opening it
from a worker fails with EACCES. What a worker makes it hands back group-readable to the group
edged-media (`hand_back`), of which the daemon's user is a member (systemd/edged.sysusers).

Two ways to start a worker under that account: a daemon that may change user (it runs as root:
the test suite, a box started by hand as root) starts it with setuid/setgid in the child
(`spawn_args`); the packaged daemon (User=edged, no capability at all) connects to
edged-media.socket, and systemd starts the worker as edged-media (`SOCKET`; storage/media/entry.py).
Where neither is there (a developer's checkout, the README's first command) the worker runs as the
daemon's user, as before, and the daemon says so once (`note`); recording never waits on it.
"""

from __future__ import annotations

import os
import pwd
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

MEDIA_USER = "edged-media"
SOCKET = Path("/run/edged-media.sock")   # systemd/edged-media.socket (Accept=yes): one worker a connection
ACCESS = "system.posix_acl_access"
# linux/posix_acl_xattr.h: a version, then (tag, perm, id) entries sorted by tag then id
_VERSION, _ENTRY = 2, struct.Struct("<HHI")
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_NO_ID = 0xFFFFFFFF
READ, WRITE, SEARCH = 4, 2, 1
CAP_SETGID, CAP_SETUID = 6, 7


@dataclass(frozen=True)
class MediaUser:
    name: str
    uid: int
    gid: int


def media_user(name: str | None = None) -> MediaUser | None:
    """The media account, or None where it was never made (a developer's checkout)."""
    try:
        pw = pwd.getpwnam(name or MEDIA_USER)
    except KeyError:
        return None
    return MediaUser(pw.pw_name, pw.pw_uid, pw.pw_gid)


def may_switch() -> bool:
    """Whether this process may start a child as another user (CAP_SETUID and CAP_SETGID)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return os.geteuid() == 0
    eff = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("CapEff:")), 0)
    return bool(eff >> CAP_SETUID & 1 and eff >> CAP_SETGID & 1)


def how(user: MediaUser | None, socket: Path | None = None) -> str:
    """How workers start here: "switch" (this process changes user in the child), "socket"
    (systemd starts them as the media user), or "same" (as this process's user; see `note`)."""
    if user is None or user.uid == os.geteuid():
        return "same"
    if may_switch():
        return "switch"
    return "socket" if (socket or SOCKET).is_socket() else "same"


def spawn_args(user: MediaUser) -> dict[str, Any]:
    """subprocess.Popen's arguments that start the child as `user`, with no supplementary group."""
    return {"user": user.uid, "group": user.gid, "extra_groups": [], "umask": 0o027}


def note(user: MediaUser | None, socket: Path | None = None) -> str | None:
    """Why the workers run as the daemon's own user here, or None when they do not."""
    if user is None:
        return f"the account {MEDIA_USER} is not on this system"
    if how(user, socket) == "same":
        return f"this process may not change user and {socket or SOCKET} is not there"
    return None


# --- ACLs: what a worker may reach for its run ----------------------------------------------------

def _entries(path: Path, st: os.stat_result) -> dict[tuple[int, int], int]:
    try:
        raw = os.getxattr(path, ACCESS, follow_symlinks=False)
    except OSError:
        raw = b""
    if len(raw) >= 4 and (len(raw) - 4) % _ENTRY.size == 0:
        return {(t, i): p for t, p, i in _ENTRY.iter_unpack(raw[4:])}
    mode = st.st_mode
    return {(USER_OBJ, _NO_ID): mode >> 6 & 7, (GROUP_OBJ, _NO_ID): mode >> 3 & 7, (OTHER, _NO_ID): mode & 7}


def allow(path: Path, uid: int, perm: int) -> None:
    """Give user `uid` `perm` (READ|WRITE|SEARCH bits) on `path` by an ACL entry; the owner's,
    the group's and others' permissions stay as they are (the mask lets the entry through)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise PermissionError(f"{path}: a link is never given to a media worker")
    if st.st_uid == uid:   # a worker's own file (an export's clip, read by a redaction): its already
        return
    entries = {k: v for k, v in _entries(path, st).items() if k[0] != MASK}
    entries[(USER, uid)] = entries.get((USER, uid), 0) | perm
    entries[(MASK, _NO_ID)] = 0
    for (tag, _i), p in entries.items():
        if tag in (USER, GROUP, GROUP_OBJ):
            entries[(MASK, _NO_ID)] |= p
    raw = struct.pack("<I", _VERSION) + b"".join(_ENTRY.pack(t, p, i) for (t, i), p in sorted(entries.items()))
    os.setxattr(path, ACCESS, raw, follow_symlinks=False)


def grant(root: Path, uid: int, reads: Iterable[Path] = (), writes: Iterable[Path] = ()) -> None:
    """For a worker's run: search on every folder from `root` down to each path; read on each
    file of `reads` (a folder: it and what is in it, read and search); read and write on each
    folder of `writes` and what is in it. Nothing outside `root` is touched."""
    root = Path(root).resolve()
    allow(root, uid, SEARCH)
    for path, perm in [*((Path(p), READ) for p in reads), *((Path(p), READ | WRITE) for p in writes)]:
        path = path.resolve()
        rel = path.relative_to(root)   # ValueError: never outside the data folder
        for i in range(1, len(rel.parts)):
            allow(root.joinpath(*rel.parts[:i]), uid, SEARCH)
        _allow_tree(path, uid, perm)


def _allow_tree(path: Path, uid: int, perm: int) -> None:
    if not path.is_dir():
        allow(path, uid, perm)
        return
    allow(path, uid, perm | SEARCH)
    for top, dirs, files in os.walk(path):
        for name in dirs:
            allow(Path(top, name), uid, perm | SEARCH)
        for name in files:
            allow(Path(top, name), uid, perm)


def hand_back(folder: Path) -> None:
    """In a worker, at its end: what it made in `folder` readable by its group (the daemon's
    user is in the media group), so the daemon reads, checks and signs it."""
    me = os.geteuid()
    for top, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            p = Path(top, name)
            st = os.lstat(p)
            if st.st_uid == me and not stat.S_ISLNK(st.st_mode):
                os.chmod(p, st.st_mode | 0o040 | (0o010 if stat.S_ISDIR(st.st_mode) else 0))
