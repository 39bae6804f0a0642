"""The media part of an export (storage.export.evidence.write_clips), in a worker process.

The daemon must outlive any footage file, however malformed (design/0020), so the remux,
where FFmpeg parses the segments, runs here: `python -m storage.export.worker` reads one JSON
request line on stdin ({data_dir, tmp, cameras, from_us, to_us, c2pa}), writes the clips into
`tmp`, and prints JSON lines: {"progress": {...}} as it goes, then {"entries": [...]} or
{"error": "..."}. The manifest is written and signed by the daemon, with a key this process
never sees. For a clip's C2PA manifest (design/0098) the worker asks the daemon to sign the
claim: {"sign": base64} out, one {"signature": base64} or {"refused": why} line back on stdin;
the daemon signs C2PA claims only, no more than the export has source segments
(storage/export/c2pa_claim.guarded).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from storage.export.evidence import Signer, write_clips
from storage.export.plan import ExportError, Progress

ROOT = Path(__file__).resolve().parents[2]  # the repository: `python -m storage.export.worker` runs there


def run_clips(data_dir: Path, tmp: Path, cameras: list[dict[str, Any]], from_us: int, to_us: int,
              progress: Progress | None = None, *, c2pa: dict[str, Any] | None = None,
              sign: Signer | None = None) -> list[dict[str, Any]]:
    """write_clips in a worker process (blocking: the daemon calls it from a thread); `sign`
    answers the worker's requests to sign a C2PA claim."""
    request = {"data_dir": str(data_dir), "tmp": str(tmp), "cameras": cameras, "from_us": from_us, "to_us": to_us,
               "c2pa": c2pa if sign is not None else None}
    proc = subprocess.Popen([sys.executable, "-m", "storage.export.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        result: list[dict[str, Any]] | None = None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "progress" in msg and progress is not None:
                progress(msg["progress"])
            elif "sign" in msg:
                proc.stdin.write(json.dumps(_answer(sign, msg["sign"])).encode() + b"\n")
                proc.stdin.flush()
            elif "error" in msg:
                raise ExportError(str(msg["error"]))
            elif "entries" in msg:
                result = msg["entries"]
        proc.stdin.close()
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if result is None:
        raise ExportError(f"the export's media worker ended without a result (status {rc}); a segment may be "
                          "malformed")
    return result


def _answer(sign: Signer | None, data: str) -> dict[str, str]:
    """The daemon's side of a signing request: a signature, or why not (never an exception
    in the reading loop: the worker reports the refusal and the clip goes without C2PA)."""
    if sign is None:
        return {"refused": "no signer for this export"}
    try:
        return {"signature": base64.b64encode(sign(base64.b64decode(data))).decode()}
    except (PermissionError, ValueError) as exc:
        return {"refused": str(exc)}


def _ask_daemon(data: bytes) -> bytes:
    """The worker's signer: a round trip to the daemon over stdout and stdin."""
    sys.stdout.write(json.dumps({"sign": base64.b64encode(data).decode()}) + "\n")
    sys.stdout.flush()
    reply = json.loads(sys.stdin.buffer.readline() or b"{}")
    if "signature" not in reply:
        raise PermissionError(reply.get("refused") or "the daemon did not answer")
    return base64.b64decode(reply["signature"])


def main() -> None:
    req = json.loads(sys.stdin.buffer.readline())
    out = sys.stdout
    # The C2PA SDK's scratch copy of a large clip: on the data disk, in the export's 0700 folder
    # (unnamed: O_TMPFILE, gone when closed or when the worker dies), never in a shared /tmp.
    os.environ["TMPDIR"] = req["tmp"]

    def progress(info: dict[str, Any]) -> None:
        out.write(json.dumps({"progress": info}) + "\n")
        out.flush()

    try:
        entries = write_clips(Path(req["data_dir"]), Path(req["tmp"]), req["cameras"], req["from_us"], req["to_us"],
                              progress, c2pa=req.get("c2pa"), sign=_ask_daemon if req.get("c2pa") else None)
    except ExportError as exc:
        out.write(json.dumps({"error": str(exc)}) + "\n")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - reported to the daemon, which records the failure
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        sys.exit(1)
    out.write(json.dumps({"entries": entries}) + "\n")


if __name__ == "__main__":
    main()
