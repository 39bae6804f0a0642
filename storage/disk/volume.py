"""Which filesystem a folder is on, and whether it is still the one edged started with.

A disk that is unmounted (or a mount that fails at boot) leaves an empty folder of the root
filesystem under the mount point: writing there looks like success. Three marks tell the
footage disk from whatever is under its mount point (design/0023): the device id (st_dev),
the mount from /proc/self/mountinfo (mount id, device, source), and an identity file on the
same filesystem as the footage, written once when the data folder is initialised.

`parse_mountinfo` and `mount_of` are pure; `probe` does the I/O (a few stats and one read).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.disk.fsutil import PRIVATE_FILE, fsync_dir, write_new

IDENTITY_FILE = "edged-identity"  # in the data folder and in its video folder (design/0023)
MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True, slots=True)
class Mount:
    mount_id: int
    device: str         # major:minor, as mountinfo gives it
    root: str           # the mounted subtree of the filesystem (a bind mount's source folder)
    point: str          # where it is mounted
    fs_type: str
    source: str


@dataclass(frozen=True, slots=True)
class Probe:
    """One look at a folder: what it is on and which identity file it holds (None: none)."""

    path: str
    dev: int | None         # None: the folder is not there at all
    mount: Mount | None
    identity: str | None

    def describe(self) -> str:
        if self.dev is None:
            return f"{self.path} is not there"
        m = self.mount
        where = f"{m.source} ({m.fs_type}) mounted on {m.point}" if m else f"device {os.major(self.dev)}:{os.minor(self.dev)}"
        return f"{self.path} is on {where}"


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit() and len(field[i + 1:i + 4]) == 3:
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts in /proc/self/mountinfo's format (proc(5)), in the kernel's order."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        f, r = left.split(), right.split()
        if len(f) < 5 or len(r) < 2:
            continue
        mounts.append(Mount(int(f[0]), f[2], _unescape(f[3]), _unescape(f[4]), r[0], _unescape(r[1])))
    return mounts


def mount_of(path: str, dev: int, mounts: list[Mount]) -> Mount | None:
    """The mount that holds `path` (absolute, resolved): the last-listed mount whose point is
    the longest prefix of the path and whose device matches (a later mount hides an earlier)."""
    want = f"{os.major(dev)}:{os.minor(dev)}"
    best: Mount | None = None
    for m in mounts:
        point = m.point.rstrip("/") or "/"
        inside = path == point or path.startswith(point + "/") or point == "/"
        if inside and m.device == want and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = m
    return best


def read_identity(folder: Path) -> str | None:
    try:
        return (folder / IDENTITY_FILE).read_text().strip() or None
    except (FileNotFoundError, NotADirectoryError):
        return None


def probe(folder: Path) -> Probe:
    """Blocking (a stat, /proc/self/mountinfo, one small read): run it off the event loop."""
    path = os.path.realpath(folder)
    try:
        dev = os.stat(path).st_dev
    except (FileNotFoundError, NotADirectoryError):
        return Probe(path, None, None, None)
    try:
        mounts = parse_mountinfo(MOUNTINFO.read_text())
    except OSError:
        mounts = []
    return Probe(path, dev, mount_of(path, dev, mounts), read_identity(Path(path)))


def recorded_identity(catalog: Path) -> tuple[str | None, bool]:
    """The disk identity a catalog records and whether its video folder has one of its own,
    read with the stdlib's sqlite3, read-only (no checkpoint, no write): for `edged run`'s
    look before the daemon's imports (design/0029). Raises sqlite3.Error."""
    db = sqlite3.connect(Path(catalog).resolve().as_uri() + "?mode=ro", uri=True, timeout=1.0)
    try:
        node = dict(db.execute("SELECT key, value FROM node WHERE key IN ('disk_id', 'video_identity')"))
    finally:
        db.close()
    return node.get("disk_id"), bool(node.get("video_identity"))


def write_identity(folder: Path, disk_id: str) -> None:
    """Write the identity file (new, fsynced): once, when the data folder is initialised."""
    write_new(folder / IDENTITY_FILE, (disk_id + "\n").encode(), PRIVATE_FILE)
    fsync_dir(folder)


def check(name: str, expected_id: str, now: Probe, start: Probe | None) -> str | None:
    """None if `now` is the right filesystem for this folder; else what is wrong, in words.

    The identity file decides which disk it is; the mount point (from the probe at start)
    decides that it is mounted where it was, so an identity file copied onto the folder
    under an empty mount point does not pass for the disk."""
    was = f" (at start: {start.describe()})" if start is not None else ""
    if now.dev is None:
        return f"the {name} {now.path} is not there{was}"
    if now.identity is None:
        return f"the {name} holds no {IDENTITY_FILE} file: {now.describe()}{was}; the footage disk is unmounted or missing"
    if now.identity != expected_id:
        return (f"the {name} belongs to another data set (identity {now.identity}, expected {expected_id}): "
                f"{now.describe()}{was}")
    if start is not None and start.mount is not None and now.mount is not None and start.mount.point != now.mount.point:
        return f"the {name} is no longer its own mount: {now.describe()}{was}"
    return None
