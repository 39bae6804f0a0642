"""The media part of an export (storage.export.evidence.write_clips), in a worker process.

The daemon must outlive any footage file, however malformed (design/0020), so the remux,
where FFmpeg parses the segments, runs here: `python -m storage.export.worker` reads one JSON
request on stdin ({data_dir, tmp, cameras, from_us, to_us}), writes the clips into `tmp`,
and prints JSON lines: {"progress": {...}} as it goes, then {"entries": [...]} or
{"error": "..."}. The manifest is written and signed by the daemon, with a key this process
never sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from storage.export.evidence import write_clips
from storage.export.plan import ExportError, Progress

ROOT = Path(__file__).resolve().parents[2]  # the repository: `python -m storage.export.worker` runs there


def run_clips(data_dir: Path, tmp: Path, cameras: list[dict[str, Any]], from_us: int, to_us: int,
              progress: Progress | None = None) -> list[dict[str, Any]]:
    """write_clips in a worker process (blocking: the daemon calls it from a thread)."""
    request = {"data_dir": str(data_dir), "tmp": str(tmp), "cameras": cameras, "from_us": from_us, "to_us": to_us}
    proc = subprocess.Popen([sys.executable, "-m", "storage.export.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(request).encode())
        proc.stdin.close()
        result: list[dict[str, Any]] | None = None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "progress" in msg and progress is not None:
                progress(msg["progress"])
            elif "error" in msg:
                raise ExportError(str(msg["error"]))
            elif "entries" in msg:
                result = msg["entries"]
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if result is None:
        raise ExportError(f"the export's media worker ended without a result (status {rc}); a segment may be "
                          "malformed")
    return result


def main() -> None:
    req = json.loads(sys.stdin.buffer.read())
    out = sys.stdout

    def progress(info: dict[str, Any]) -> None:
        out.write(json.dumps({"progress": info}) + "\n")
        out.flush()

    try:
        entries = write_clips(Path(req["data_dir"]), Path(req["tmp"]), req["cameras"], req["from_us"], req["to_us"],
                              progress)
    except ExportError as exc:
        out.write(json.dumps({"error": str(exc)}) + "\n")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - reported to the daemon, which records the failure
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        sys.exit(1)
    out.write(json.dumps({"entries": entries}) + "\n")


if __name__ == "__main__":
    main()
