"""The footage copied before a maintenance window that touches storage (002 §15: "先將既有錄影
檔案備份留存"; design/0083). The footage at risk is every segment of footage on record on the
footage's disk (the data folder's `video/`: edged keeps all its footage on that one volume),
copied into `<[maintenance] backup_dir>/footage/` under its own relative path. A file already
there with the recorded hash (an earlier window's copy) is not copied again. Each copy is
written beside its name (`.part`), flushed, read back from the disk and compared with what
was read from the source before it takes its name; nothing is ever deleted, here or at the
source. Blocking: run it on a thread.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from storage.footage.segment_rows import FOOTAGE
from storage.disk.hashing import sha256_file

COPY_DIR = "footage"
CHUNK = 1 << 20
MARGIN = 1 << 20       # bytes left free on the backup disk beyond the copy (and 1 % of it)
PROGRESS_S = 0.5       # progress at most this often (and after each file)


class CopyError(Exception):
    """The footage could not be copied; the window is not opened."""


def at_risk(db: Any) -> list[dict[str, Any]]:
    """The footage on record (complete or recovered, hashed), oldest first."""
    return list(db.query("SELECT path, camera, sha256, bytes FROM segments WHERE " + FOOTAGE
                         + " AND sha256 IS NOT NULL ORDER BY start_us, id"))


def needed(rows: list[dict[str, Any]], dest: Path) -> tuple[int, int]:
    """(files, bytes) not yet in `dest` under their own path."""
    todo = [r for r in rows if not (dest / r["path"]).exists()]
    return len(todo), sum(r["bytes"] or 0 for r in todo)


def check_room(rows: list[dict[str, Any]], dest: Path) -> dict[str, int]:
    """Raise CopyError when the backup disk lacks the room for the copy."""
    files, need = needed(rows, dest)
    free = shutil.disk_usage(dest).free
    want = need + need // 100 + MARGIN
    if want > free:
        raise CopyError(f"{dest} has {free / 1e6:.1f} MB free; the {files} files of footage not yet copied need "
                        f"{want / 1e6:.1f} MB")  # i18n: shown through the caller's translated sentence
    return {"files": files, "bytes": need, "free": free}


def _drop_cache(fd: int) -> None:
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # the read back comes from the disk
    except (AttributeError, OSError):
        pass


def _copy_one(src: Path, dst: Path, on_bytes: Callable[[int], None]) -> str:
    """Copy src to dst (through dst.part); returns the SHA-256 of what was read. CopyError if
    the copy read back differs; FileNotFoundError if src is gone."""
    part = dst.with_name(dst.name + ".part")
    h = hashlib.sha256()
    with open(src, "rb") as fin:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "wb") as fout:  # a .part is only ever ours: one a crash left is written again
            while chunk := fin.read(CHUNK):
                h.update(chunk)
                fout.write(chunk)
                on_bytes(len(chunk))
            fout.flush()
            os.fsync(fout.fileno())
            _drop_cache(fout.fileno())
    digest = h.hexdigest()
    if sha256_file(part) != digest:
        raise CopyError(f"the copy {part} does not read back as written: the backup disk is failing")
    os.rename(part, dst)
    return digest


def copy_footage(data_dir: Path, dest: Path, rows: list[dict[str, Any]],
                 progress: Callable[[dict[str, Any]], None] = lambda _i: None) -> dict[str, Any]:
    """Copy `rows` (at_risk) from data_dir into dest, verifying each copy; returns what was done:
    copied, already (there with the recorded hash), missing (gone from the source), changed
    (the source no longer has its recorded hash: copied as it is, and said), bytes."""
    total = sum(r["bytes"] or 0 for r in rows)
    out: dict[str, Any] = {"dir": str(dest), "segments": len(rows), "copied": 0, "already": 0, "bytes": 0,
                           "missing": [], "changed": []}
    done = 0
    last = 0.0

    def tell(camera: str, force: bool = False) -> None:
        nonlocal last
        now = time.monotonic()
        if force or now - last >= PROGRESS_S:
            last = now
            progress({"fraction": done / total if total else 1.0, "done_bytes": done, "total_bytes": total,
                      "files": out["copied"] + out["already"], "of": len(rows), "camera": camera})

    def moved(n: int, camera: str) -> None:
        nonlocal done
        done += n
        tell(camera)

    for r in rows:
        src, dst = data_dir / r["path"], dest / r["path"]
        if dst.exists():
            if sha256_file(dst) != r["sha256"]:
                raise CopyError(f"{dst} is already there with other content; nothing is overwritten: move it away")
            out["already"] += 1
            done += r["bytes"] or 0
        else:
            try:
                digest = _copy_one(src, dst, functools.partial(moved, camera=r["camera"]))
            except FileNotFoundError:
                out["missing"].append(r["path"])
                continue
            except OSError as exc:
                raise CopyError(f"copying {r['path']}: {exc.strerror or exc}") from None
            out["copied"] += 1
            out["bytes"] += r["bytes"] or 0
            if digest != r["sha256"]:
                out["changed"].append(r["path"])
        tell(r["camera"], force=True)
    return out
