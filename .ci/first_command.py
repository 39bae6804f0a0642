#!/usr/bin/env python3
"""CI: the README's first set-up command, exactly as written, must record the demo camera.

    python3 .ci/first_command.py --print      the README's two set-up commands, one a line
    python3 .ci/first_command.py              run the first one and check it (design/0016):
        the demo camera records, `edgectl status` says so, SIGTERM stops the daemon with exit
        status 0 and finishes the segment it was writing (complete in the catalog, hashed), and
        ffprobe reads that segment.
Only the standard library: it runs before and after the virtual environment exists.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / ".logs" / "first-command.log"


def setup_commands(readme: str) -> list[str]:
    """The indented command lines of the README's "## Set-up" section, in order."""
    section = re.search(r"^## Set-up.*?$(.*?)^## ", readme, re.S | re.M)
    if not section:
        raise SystemExit("first_command: README.md has no '## Set-up' section")
    return [line.strip() for line in section.group(1).splitlines() if line.startswith("    ") and line.strip()]


def edgectl(*args: str) -> dict | None:
    if not (ROOT / ".venv/bin/edgectl").exists():  # the first command is still installing it
        return None
    # the socket named as the README names it: edgectl takes a relative socket only when told
    r = subprocess.run([str(ROOT / ".venv/bin/edgectl"), "--socket", "data/control.sock", *args, "--json"], cwd=ROOT, capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _row(catalog: Path, segment_id: int) -> dict | None:
    """The segment's catalog row, read after the daemon stopped (read-only: nothing of it changes)."""
    with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT state, frames, sha256 FROM segments WHERE id = ?", (segment_id,)).fetchone()
    return dict(row) if row else None


def wait(check, timeout: float, what: str, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"the first command exited with status {proc.returncode} while waiting for {what}")
        result = check()
        if result:
            return result
        time.sleep(1)
    fail(f"timed out after {timeout:.0f} s waiting for {what}")


def fail(why: str) -> None:
    print(f"first_command: FAILED: {why}", file=sys.stderr)
    if LOG.exists():
        print(f"first_command: the last lines of {LOG.relative_to(ROOT)}:", file=sys.stderr)
        for line in LOG.read_text(errors="replace").splitlines()[-30:]:
            print(f"  | {line}", file=sys.stderr)
    raise SystemExit(1)


def main() -> int:
    commands = setup_commands((ROOT / "README.md").read_text())
    if len(commands) < 2:
        fail(f"the README's set-up section has {len(commands)} commands, not two")
    if sys.argv[1:] == ["--print"]:
        print("\n".join(commands[:2]))
        return 0
    first = commands[0]
    print(f"first_command: running the README's first command: {first}", flush=True)
    LOG.parent.mkdir(exist_ok=True)
    t0 = time.monotonic()
    with open(LOG, "wb") as log:
        proc = subprocess.Popen(["bash", "-c", first], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        status = wait(lambda: (s := edgectl("status")) and s.get("running") and s["cameras"].get("recording")
                      and s, 600, "`edgectl status` to show the demo camera recording", proc)
        cams = edgectl("cameras") or []
        demo = [c for c in cams if c.get("id") == "demo"]
        if not demo or demo[0].get("state") != "recording":
            fail(f"`edgectl cameras` does not show the demo camera recording: {cams}")
        print(f"first_command: recording {time.monotonic() - t0:.1f} s after the command started", flush=True)
        # the segment being written, once a fragment of it is on the disk: SIGTERM must finish it (a finished
        # segment waited for instead was most of a minute of every CI run at the demo's segment length)
        seg = wait(lambda: next((s for s in (edgectl("segments", "--camera", "demo") or {}).get("segments", [])
                                 if _size(Path(status["data_dir"]) / s["path"]) > 0), None), 150,
                   "a segment on the disk", proc)
        path = Path(status["data_dir"]) / seg["path"]
        os.kill(status["pid"], signal.SIGTERM)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("the daemon did not stop within 60 s of SIGTERM")
        if rc != 0:
            fail(f"the daemon exited with status {rc} after SIGTERM, not 0")
        row = _row(Path(status["data_dir"]) / "catalog.db", seg["id"])
        if row is None or row["state"] != "complete" or not row["frames"] or not row["sha256"]:
            fail(f"the segment written when SIGTERM came was not finished by the stop: {row}")
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration",
                                "-of", "json", str(path)], capture_output=True, text=True)
        info = json.loads(probe.stdout or "{}")
        if probe.returncode != 0 or not info.get("streams") or float(info["format"]["duration"]) <= 0:
            fail(f"ffprobe cannot read {path}: {probe.stderr.strip()}")
        print(f"first_command: the stop finished {seg['path']} ({row['frames']} pictures); ffprobe reads it: "
              f"{info['streams'][0]['codec_name']}, {float(info['format']['duration']):.1f} s", flush=True)
        print("first_command: stopped by SIGTERM with exit status 0", flush=True)
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
