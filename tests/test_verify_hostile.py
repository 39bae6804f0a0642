"""`edgectl verify` on a hostile folder (issue 45 item 7): it never tracebacks and never hangs,
whatever the folder holds: a clip entry of the wrong type, `manifest.json` as a FIFO, a link to
/dev/zero, a clip that is a FIFO, a manifest too large to be one. Each ends in words and exit 1
(not intact) or 3 (origin not checked), within seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.export import evidence as export

from storage.export import checking
from tests.support.daemon import ROOT


def verify(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edged.cli.edgectl", "verify", str(folder), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def manifest(clips: list) -> dict:
    return {"format": "edged-export/1", "cameras": [{"camera": "cam1", "clips": clips}]}


CASES = {
    "a clip entry that is a string": lambda d: (d / export.MANIFEST).write_text(json.dumps(manifest(["cam1.mp4"]))),
    "bytes of the wrong type": lambda d: (d / export.MANIFEST).write_text(json.dumps(manifest(
        [{"file": "cam1.mp4", "bytes": "12", "sha256": "00"}]))),
    "cameras not a list": lambda d: (d / export.MANIFEST).write_text('{"cameras": {"a": 1}}'),
    "a manifest that is a list": lambda d: (d / export.MANIFEST).write_text("[1, 2]"),
    "nested a million deep": lambda d: (d / export.MANIFEST).write_text("[" * 1_000_000 + "]" * 1_000_000),
    "manifest.json as a FIFO": lambda d: os.mkfifo(d / export.MANIFEST),
    "manifest.json a link to /dev/zero": lambda d: os.symlink("/dev/zero", d / export.MANIFEST),
    "a clip that is a FIFO": lambda d: ((d / export.MANIFEST).write_text(json.dumps(manifest(
        [{"file": "cam1.mp4", "bytes": 10, "sha256": "00"}]))), os.mkfifo(d / "cam1.mp4")),
    "manifest.sig as a FIFO": lambda d: ((d / export.MANIFEST).write_text(json.dumps(manifest([]))),
                                         os.mkfifo(d / export.SIGNATURE)),
    "a manifest over its cap": lambda d: (d / export.MANIFEST).write_bytes(b" " * (checking.FILE_CAPS[export.MANIFEST] + 1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_folder_is_said_in_words_never_a_traceback_or_a_hang(tmp_path, case):
    folder = tmp_path / "export-1"
    folder.mkdir()
    CASES[case](folder)
    r = verify(folder)
    assert "Traceback" not in r.stderr and r.returncode in (1, 3), (r.returncode, r.stderr[-2000:])
    assert r.returncode == 1, "a hostile folder is never intact"
    problems = json.loads(r.stdout)["problems"]
    assert problems, r.stdout
