"""Durability and privacy helpers: fsync a file and the folder that names it; create files and
folders private to the daemon's user (0600/0700, design/0017) whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path


PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """mkdir -p with every folder it creates 0700 (mkdir's mode is filtered by the umask)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue
        os.chmod(d, PRIVATE_DIR)
    return path


def tighten(folder: Path) -> int:
    """Make the folder 0700 and what sits directly in it 0600/0700 (an older install's 0640/0750,
    or a catalog made under another umask). Not the footage tree: closing its parents closes it,
    without a walk over a year of files at every start. Returns how many were changed."""
    changed = 0
    for p in [Path(folder), *Path(folder).iterdir()]:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
            continue
        os.chmod(p, PRIVATE_DIR if stat.S_ISDIR(st.st_mode) else PRIVATE_FILE)
        changed += 1
    return changed


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Create `path` (it must not exist: never overwrite a key or a manifest) and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write `data` to a hidden sibling, fsync it, rename it over `path`, fsync the folder: after a
    power cut `path` holds the old bytes or the new ones, never an empty file (issue 40)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    write_new(tmp, data, mode)
    os.chmod(tmp, mode)  # the umask may have narrowed it
    os.replace(tmp, path)
    fsync_dir(path.parent)
