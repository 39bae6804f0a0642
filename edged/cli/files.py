"""Every file edgectl writes for a person (forms, registers, reports, thumbnails, the audit
log, an export's files): created new, 0600, never through a link (issue 27). The papers name
people and cameras, and a link someone planted where the person writes must not redirect them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from edged.cli.display import UsageError
from edged.i18n import _

FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def create(path: str | Path, dir_fd: int | None = None) -> int:
    """A new file's descriptor: raises FileExistsError when the name is taken (a file or a link)."""
    return os.open(path, FLAGS, 0o600, dir_fd=dir_fd)


def open_new(path: str | Path) -> int:
    """`create`, with what a person reads when it cannot be done."""
    try:
        return create(path)
    except FileExistsError:
        raise UsageError(_("{path} already exists (a file or a link): nothing was written over it; choose another "
                           "name or remove it first").format(path=path)) from None
    except OSError as exc:
        raise UsageError(_("cannot write {path}: {error}").format(path=path, error=exc.strerror or exc)) from None


def write_new(path: str | Path, data: str | bytes) -> None:
    """Write a whole new file (text as UTF-8)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = open_new(path)
    with open(fd, "wb") as f:
        f.write(raw)


def open_text(path: str | Path, newline: str | None = None) -> TextIO:
    """A new file as a text stream (csv, the audit log), closed by the caller."""
    return open(open_new(path), "w", encoding="utf-8", newline=newline)
