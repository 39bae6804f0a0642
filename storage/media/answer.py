"""What the daemon takes from a media worker's answer (issue 87 item 3, T29, design/0382): one rule
for every worker (the intake's remux, the export's clips, the redaction's copies).

A media worker parses untrusted bytes as the media user (design/0323) and may be the attacker's: its
answer names files, and the daemon running as `edged` must never be led by those names to its own
files (the node key) or outside the worker's folder. So a name is taken only when it is of the
daemon's own pattern for that worker (a plain file name, never a path), opened with O_NOFOLLOW
relative to the folder the daemon made for the worker (a link, even in a folder above it, is never
followed), and the open file is a regular file with one link, owned by the user the worker ran as.
The daemon reads what it keeps from that open file and never renames a path the worker named.
Blocking: a worker's thread.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from storage.disk.fsutil import PRIVATE_FILE
from storage.media import user as media_user

CHUNK = 1 << 20


class BadAnswer(Exception):
    """A worker's answer names what the daemon does not take (a path, a link, a FIFO, another's file)."""


def worker_uid() -> int:
    """The user a media worker runs as here (storage/media/entry.py `start`): the media user when
    workers are started as it, else this process's own."""
    user = media_user.media_user()
    return user.uid if user is not None and media_user.how(user) != "same" else os.geteuid()


def shown(name: object) -> str:
    """A worker's name as a refusal says it (escaped, cut short)."""
    return repr(name)[:80]


def open_named(folder: Path, name: object, pattern: re.Pattern[str], uid: int | None = None) -> int:
    """A read-only descriptor of the file `name` in `folder`, or BadAnswer: `name` a string of
    `pattern` (fullmatch) and no path, opened without following a link (nor blocking on a FIFO),
    a regular file with one link, owned by `uid` (the worker's user: `worker_uid`)."""
    if not isinstance(name, str) or not pattern.fullmatch(name) or "/" in name or name in (".", ".."):
        raise BadAnswer(f"a file name not of the daemon's pattern: {shown(name)}")
    want = worker_uid() if uid is None else uid
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY,
                         dir_fd=dir_fd)
        except OSError as exc:   # ELOOP: a symbolic link
            raise BadAnswer(f"{shown(name)} cannot be opened as a plain file ({exc.strerror})") from None
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    why = ("not a regular file" if not stat.S_ISREG(st.st_mode) else
           f"owned by uid {st.st_uid}, not the worker's {want}" if st.st_uid != want else
           f"{st.st_nlink} links to it" if st.st_nlink != 1 else None)
    if why is not None:
        os.close(fd)
        raise BadAnswer(f"{shown(name)}: {why}")
    os.set_blocking(fd, True)
    return fd


def take(folder: Path, name: object, dest: Path, pattern: re.Pattern[str], uid: int | None = None) -> None:
    """The worker's file `name` in `folder` copied to `dest` (made here, the daemon's private file,
    never overwriting), then the worker's name removed from `folder`: never a rename of what it
    named. BadAnswer leaves `dest` unmade."""
    fd = open_named(folder, name, pattern, uid)
    try:
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
        with os.fdopen(fd, "rb", closefd=False) as src, os.fdopen(out, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    finally:
        os.close(fd)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.unlink(str(name), dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def check(folder: Path, names: list[object], pattern: re.Pattern[str], uid: int | None = None) -> None:
    """Every name the worker's answer gives, each a file the daemon may take (`open_named`), else
    BadAnswer: for an answer whose files stay in the daemon's own folder (an export's clips)."""
    for name in names:
        os.close(open_named(folder, name, pattern, uid))
