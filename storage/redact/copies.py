"""The redacted copies made of a staged export, as their folders say (design/0347): pure reading of
files, no media. A copy is a folder beside the export's (`<export>.redacted-<copy>`, edged/control/
redact.py) holding JOB (what to make, storage/redact/job.py), each clip's summary once it is made,
and RELEASED once it is released."""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

JOB = "job.json"
RELEASED = "released.json"   # written when the custodian releases the copy (edged/control/redact.py)
# how the release signs the copy's clips (chain, alg, context: storage/redact/job.py), written by the
# release before it signs: a clip is signed at its release, never before (issue 88, design/0435)
SIGN = "sign.json"


def newest_made(export_dir: Path) -> dict[str, Any] | None:
    """The newest redacted copy of the staged export in `export_dir` that is made whole (each of
    its clips' summaries there): {"copy": its name, "made_us", "summaries": clip -> summary,
    "released": its RELEASED record or None}; None when no copy is made. The copy a second person
    opens to play and release (design/0347): the one released if one was (only it counts), else the
    newest made."""
    found = []
    for folder in export_dir.parent.glob(f"{glob.escape(export_dir.name)}.redacted-*"):
        try:
            clips = [str(c["file"]) for c in json.loads((folder / JOB).read_text())["clips"]]
            summaries = {c: json.loads((folder / f"{c}.summary.json").read_text()) for c in clips}
            made_ns = max((folder / f"{c}.summary.json").stat().st_mtime_ns for c in clips)
        except (OSError, ValueError, KeyError, TypeError):
            continue   # not made whole yet (or being made)
        found.append(((folder / RELEASED).exists(), made_ns, folder, summaries))
    if not found:
        return None
    _released, made_ns, folder, summaries = max(found, key=lambda f: (f[0], f[1], f[2].name))   # a released one first
    try:
        released: dict[str, Any] | None = json.loads((folder / RELEASED).read_text())
    except (OSError, ValueError):
        released = None
    return {"copy": folder.name.rsplit(".redacted-", 1)[1], "made_us": made_ns // 1000, "summaries": summaries,
            "released": released}
