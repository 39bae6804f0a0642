"""Where footage lives on disk. The path alone names the camera and the start time, so a
file the catalog lost can be adopted again."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

VIDEO_DIR = "video"
QUARANTINE_DIR = "quarantine"
CATALOG_FILE = "catalog.db"

_NAME = re.compile(r"(\d{8}T\d{6})\.(\d{6})Z\.mp4")  # fullmatch: "$" takes a trailing newline (design/0315)


def segment_relpath(camera: str, start_us: int) -> str:
    """video/<camera>/<YYYY-MM-DD>/<YYYYmmddTHHMMSS.ffffff>Z.mp4, UTC."""
    t = datetime.fromtimestamp(start_us / 1e6, timezone.utc)
    return f"{VIDEO_DIR}/{camera}/{t:%Y-%m-%d}/{t:%Y%m%dT%H%M%S}.{start_us % 1_000_000:06d}Z.mp4"


def parse_relpath(relpath: str) -> tuple[str, int] | None:
    """(camera, start_us) from a segment path, or None if it is not one of ours."""
    parts = Path(relpath).parts
    if len(parts) != 4 or parts[0] != VIDEO_DIR:
        return None
    m = _NAME.fullmatch(parts[3])
    if not m:
        return None
    t = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    return parts[1], int(t.timestamp()) * 1_000_000 + int(m.group(2))


def day_dirs(data_dir: Path, camera: str) -> list[Path]:
    """The camera's day folders, oldest first (their names sort by date)."""
    root = data_dir / VIDEO_DIR / camera
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir())


def held_open(data_dir: Path) -> set[str]:
    """The footage files some process holds open now (/proc/*/fd, those this user may read):
    the new run's workers hold the file they are writing. Paths relative to the data folder."""
    video = str((data_dir / VIDEO_DIR).resolve()) + os.sep
    top = str(data_dir.resolve()) + os.sep
    out: set[str] = set()
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit():
            continue
        fds = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fds)
        except OSError:
            continue
        for fd in names:
            try:
                target = os.readlink(f"{fds}/{fd}")
            except OSError:
                continue
            if target.startswith(video):
                out.add(target[len(top):])
    return out
