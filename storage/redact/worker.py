"""The redaction in a process of its own, at the lowest CPU and I/O priority (design/0172).

`python -m storage.redact.idle` (which runs this module once it has lowered itself, design/0290)
reads one JSON line on stdin ({"job": folder}), lowers itself to the idle scheduling class (SCHED_IDLE: it runs only on a core nothing else wants) and the
idle I/O class (it reads and writes only when no one else does), then makes the job
(storage/redact/job.py), printing {"progress": {...}} lines and at the end {"result": {...}} or
{"error": "..."}. To sign a copy as a derivative (design/0173) it asks its caller for each C2PA
claim's signature ({"sign": base64}, answered on stdin), as the export's signing process does:
it never holds the node key. The recorders and the daemon are never slowed for a copy: a copy waits.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

from storage.export.worker import _ask_daemon, converse, data_root
from storage.media import answer
from storage.media.entry import Access, Proc, hand_back_if_other
from storage.redact.models import DetectorError
from storage.redact.idle import lowest_priority
from storage.redact.job import JOB, JobError, Progress, run
from storage.process.threadname import name_os_thread

ROOT = Path(__file__).resolve().parents[2]
CLIP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.mp4")   # an export's clip (the job's names; a plain name)
# started through storage/redact/idle.py: the idle classes are taken before this module and the
# copy's libraries (numpy, PyAV, the face detector) are loaded, so even their loading waits
COMMAND = (sys.executable, "-m", "storage.redact.idle")


def run_job(folder: Path, progress: Progress | None = None,
            sign: Callable[[bytes], bytes] | None = None,
            started: Callable[[Proc], None] | None = None) -> dict[str, Any]:
    """The job in `folder` made by the worker process (blocking); its progress to `progress`;
    its requests to sign a C2PA claim answered by `sign` (c2pa_claim.guarded: the node key stays
    in the caller, design/0134), or refused without one."""
    source = Path(json.loads((folder / JOB).read_text())["source"])
    access = Access(data_root(folder), reads=(source,), writes=(folder,))   # never the node key (design/0323)
    result, error, rc = converse(COMMAND, {"job": str(folder)}, progress, sign, started, access)
    if result is None:
        raise JobError(error or f"the redaction worker ended without a result (status {rc}); run it again to go on")
    try:   # each copy it names a plain file of its own in the job's folder, named as the export's clips (design/0382)
        answer.check(folder, list(result) if isinstance(result, dict) else [None], CLIP_NAME)
    except answer.BadAnswer as exc:
        raise JobError(f"the redaction worker's answer was refused: {exc}") from None
    return dict(result)


def main() -> None:
    req = json.loads(sys.stdin.buffer.readline())
    out = sys.stdout

    def say(msg: dict[str, Any]) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    say({"progress": {"priority": lowest_priority()}})
    try:
        result = run(Path(req["job"]), lambda info: say({"progress": info}), signer=_ask_daemon)
    except (JobError, DetectorError) as exc:
        say({"error": str(exc)})
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - reported to the caller, which records the failure
        say({"error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)
    finally:   # as the media user: what it made, readable by the daemon (design/0323)
        hand_back_if_other(Path(req["job"]))
    say({"result": result})


if __name__ == "__main__":
    name_os_thread("edged-redact")
    main()
