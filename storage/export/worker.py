"""The parts of an export that parse media or run the C2PA SDK, each in a process of its own.

The daemon must outlive any footage file, however malformed (design/0020), so the remux, where
FFmpeg parses the segments, runs here: `python -m storage.export.worker` reads one JSON request
line on stdin ({data_dir, tmp, cameras, from_us, to_us}), writes the clips into `tmp`, and
prints JSON lines: {"progress": {...}} as it goes, then {"entries": [...]} or {"error": "..."}.
The media worker has no way to the node key at all: a line asking for a signature is refused.

The clips' C2PA manifests (design/0098, 0134) are made afterwards by a second process, the
signing process (`run_signing`: request {"sign_jobs": [...], "tmp", "chain", "alg"}), which
never sees what the media worker said: the daemon computed each clip's definition from its own
plan (storage/export/c2pa_claim.bind, jobs), and the SDK computes the hard binding from the file.
To sign a claim it sends {"sign": base64} and gets one {"signature": base64} or {"refused": why}
line back; the daemon signs C2PA claims only, one per clip it asked for (c2pa_claim.guarded).
The manifest is written and signed by the daemon, with a key neither process ever sees.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from storage.export.c2pa_sign import sign_jobs
from storage.export.evidence import EXPORTS_DIR, WORKING_DIR, write_clips
from storage.media import answer, entry as media_entry
from storage.export.plan import ExportError, Progress
from storage.media.entry import Access, Proc
from storage.process.threadname import name_os_thread

ROOT = Path(__file__).resolve().parents[2]  # the repository: `python -m storage.export.worker` runs there
COMMAND = (sys.executable, "-m", "storage.export.worker")
Signer = Callable[[bytes], bytes]


def converse(command: tuple[str, ...], request: dict[str, Any], progress: Callable[[Any], None] | None,
             sign: Signer | None, started: Callable[[Proc], None] | None = None,
             access: Access | None = None) -> tuple[Any, str | None, int]:
    """One worker process (`command`) given `request`: its progress lines to `progress`, its
    requests to sign answered by `sign` (or refused without one); (the "result" line's value,
    the "error" line's text, its exit status). The redaction's worker talks the same way;
    `started` is given the process (so a daemon that stops can end a long redaction: design/0231).
    It runs as the media user where there is one (design/0323), reaching only `access`."""
    proc = media_entry.start(command, access, cwd=ROOT)
    if started is not None:
        started(proc)
    assert proc.stdin is not None and proc.stdout is not None
    result: Any = None
    error: str | None = None
    try:
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            if "progress" in msg and progress is not None:
                progress(msg["progress"])
            elif "sign" in msg:
                proc.stdin.write(json.dumps(_answer(sign, msg["sign"])).encode() + b"\n")
                proc.stdin.flush()
            elif "error" in msg:
                error = str(msg["error"])
            elif "result" in msg:
                result = msg["result"]
        proc.stdin.close()
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return result, error, rc


def data_root(folder: Path) -> Path:
    """The data folder a work folder of data_dir/exports/ is in (its own parent elsewhere)."""
    return folder.parent.parent if folder.parent.name in (EXPORTS_DIR, WORKING_DIR) else folder.parent


def _run(request: dict[str, Any], progress: Progress | None, sign: Signer | None, what: str,
         access: Access) -> Any:
    """The export's worker process for `request` (converse); its result, or ExportError."""
    result, error, rc = converse(COMMAND, request, progress, sign, access=access)
    if error is not None:
        raise ExportError(error)
    if result is None:
        raise ExportError(f"the export's {what} ended without a result (status {rc}); a segment may be malformed")
    return result


def run_clips(data_dir: Path, tmp: Path, cameras: list[dict[str, Any]], from_us: int, to_us: int,
              progress: Progress | None = None) -> list[dict[str, Any]]:
    """write_clips in the media worker process (blocking: the daemon calls it from a thread).
    Any request of its to sign is refused: it has no signer."""
    request = {"data_dir": str(data_dir), "tmp": str(tmp), "cameras": cameras, "from_us": from_us, "to_us": to_us}
    reads = tuple(data_dir / row["path"] for c in cameras for row in [*c["segments"], *c.get("lead", [])]
                  if isinstance(row, dict) and "path" in row)
    entries: list[dict[str, Any]] = _run(request, progress, None, "media worker",
                                         Access(data_dir, reads=reads, writes=(tmp,)))
    _checked(tmp, [c.get("file") for e in entries for c in e.get("clips", [])] if isinstance(entries, list) else [None],
             clip_names(c["camera"] for c in cameras))
    return entries


def clip_names(cameras: Iterable[str]) -> re.Pattern[str]:
    """The names the export gives its clips (storage/export/plan.py, remux.py): `<camera>.mp4`,
    `<camera>-partN.mp4`, of the cameras asked for; nothing else is taken from a worker."""
    return re.compile("(?:" + "|".join(re.escape(c) for c in cameras) + r")(?:-part[0-9]+)?\.mp4")


def _checked(folder: Path, names: list[Any], pattern: re.Pattern[str]) -> None:
    """A worker's answer by the one rule (storage/media/answer.py): each clip it names a plain file
    of its own in `folder`, named as the daemon names clips; else the export fails."""
    try:
        answer.check(folder, names, pattern)
    except (answer.BadAnswer, AttributeError, TypeError) as exc:
        raise ExportError(f"the media worker's answer was refused: {exc}") from None


def run_signing(folder: Path, jobs: list[dict[str, Any]], chain: list[str], alg: str, sign: Signer,
                progress: Progress | None = None) -> list[dict[str, Any]]:
    """c2pa_sign.sign_jobs in the signing process: the daemon's definitions in, each clip's
    outcome back; `sign` (c2pa_claim.guarded) answers its requests."""
    request = {"sign_jobs": jobs, "tmp": str(folder), "chain": chain, "alg": alg}
    done: list[dict[str, Any]] = _run(request, progress, sign, "signing process",
                                      Access(data_root(folder), writes=(folder,)))
    _checked(folder, [d.get("file") for d in done] if isinstance(done, list) else [None],
             re.compile("|".join(re.escape(str(j.get("file"))) for j in jobs) or "(?!)"))
    return done


def _answer(sign: Signer | None, data: str) -> dict[str, str]:
    """The daemon's side of a signing request: a signature, or why not (never an exception
    in the reading loop: the process reports the refusal and the clip goes without C2PA)."""
    if sign is None:
        return {"refused": "refused to sign: this process has no signer (the media worker never signs)"}
    try:
        return {"signature": base64.b64encode(sign(base64.b64decode(data))).decode()}
    except (PermissionError, ValueError) as exc:
        return {"refused": str(exc)}


def _ask_daemon(data: bytes) -> bytes:
    """The signing process's signer: a round trip to the daemon over stdout and stdin."""
    sys.stdout.write(json.dumps({"sign": base64.b64encode(data).decode()}) + "\n")
    sys.stdout.flush()
    reply = json.loads(sys.stdin.buffer.readline() or b"{}")
    if "signature" not in reply:
        raise PermissionError(reply.get("refused") or "the daemon did not answer")
    return base64.b64decode(reply["signature"])


def _work(req: dict[str, Any], progress: Progress) -> Any:
    if "sign_jobs" in req:  # the SDK's library is loaded at the first clip signed: in this process only
        return sign_jobs(Path(req["tmp"]), req["sign_jobs"], req["chain"], req["alg"], _ask_daemon, progress)
    return write_clips(Path(req["data_dir"]), Path(req["tmp"]), req["cameras"], req["from_us"], req["to_us"], progress)


def main() -> None:
    req = json.loads(sys.stdin.buffer.readline())
    out = sys.stdout
    # The C2PA SDK's scratch copy of a large clip: on the data disk, in the export's 0700 folder
    # (unnamed: O_TMPFILE, gone when closed or when the process dies), never in a shared /tmp.
    os.environ["TMPDIR"] = req["tmp"]

    def progress(info: dict[str, Any]) -> None:
        out.write(json.dumps({"progress": info}) + "\n")
        out.flush()

    try:
        result = _work(req, progress)
    except ExportError as exc:
        out.write(json.dumps({"error": str(exc)}) + "\n")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - reported to the daemon, which records the failure
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        sys.exit(1)
    finally:   # as the media user: what it made, readable by the daemon (design/0323)
        media_entry.hand_back_if_other(Path(req["tmp"]))
    out.write(json.dumps({"result": result}) + "\n")


if __name__ == "__main__":
    name_os_thread("edged-export")
    main()
