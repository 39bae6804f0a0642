"""The files of a redacted copy's job folder (storage/redact/job.py, design/0172, 0277): each
written whole or not at all; the render's parts beside the copy."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

from storage.redact.plan import Box


def write_json(path: Path, data: Any) -> None:
    part = path.with_name(f".{path.name}.part")
    with open(part, "w") as f:
        # the same text as json.dump, by the C encoder (json.dump streams it through the Python one:
        # 0.08 core-s/s of a faces copy's 1080p20, its boxes saved every 5 s; bench.redaction_profile)
        f.write(json.dumps(data))
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)


def box(b: Any) -> Box:
    x, y, w, h = (int(v) for v in b)
    return (x, y, w, h)


def boxes(raw: dict[str, Any]) -> dict[int, list[Box]]:
    return {int(f): [box(b) for b in boxes] for f, boxes in raw.items()}


def part(folder: Path, name: str, index: int) -> Path:
    """Part `index` of clip `name`'s render: beside the copy, never in a folder of its own (the
    staging sweep destroys flat folders only, storage/export/evidence.py), never readable as a
    clip (`redact.read` reads only a clip with its summary)."""
    return folder / f"{name}.part-{index:06d}.mp4"


def parts(folder: Path, name: str) -> list[Path]:
    """Every file of clip `name`'s parts: made, being made (`.….part`) and their records."""
    return [*folder.glob(f"{glob.escape(name)}.part-*"), *folder.glob(f".{glob.escape(name)}.part-*")]
