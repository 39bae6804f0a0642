"""What an export's folder may weigh when it is checked (issue 45, issue 74; design/0316): a hostile
folder must get a clear refusal, never a traceback, a hang or the verifier's memory.

- The export's own small files are read only when each is a regular file within its cap, never
  through a link, never waiting on a FIFO (`read_small`). manifest.json is capped at MANIFEST_CAP:
  a day of 16 cameras lists ~40 MB of sources; a 300 MB "manifest" is refused before it is read.
- JSON nested deeper than MAX_DEPTH is refused (`load_json`): an edged manifest is 6 deep; the C
  parser's own recursion limit is caught too, so 100,000 brackets give the same refusal.
- A folder of more than MAX_FILES entries is refused (`entries`) before it is listed whole.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

MANIFEST, SIGNATURE, PUBLIC_KEY, README = "manifest.json", "manifest.sig", "node-public-key.pem", "README.txt"
RECEIPT = "office-receipt.json"  # the office's receipt for the export (receipt.py FILE, design/0318)
MANIFEST_CAP = 64 << 20
CAPS = {MANIFEST: MANIFEST_CAP, SIGNATURE: 1024, PUBLIC_KEY: 16 << 10, README: 4 << 20, RECEIPT: 16 << 10}
MAX_DEPTH = 32
MAX_FILES = 4096


class TooBig(OSError):
    """A file that is a link, a FIFO, a device or a folder, or over its cap; or a folder over MAX_FILES."""


def read_small(folder: Path, name: str) -> bytes:
    """One of the export's own small files, if it is a regular file within its cap (never followed
    through a link, never waited on). FileNotFoundError if absent; TooBig if not one or too big."""
    cap = CAPS.get(name, 1 << 20)
    fd = os.open(Path(folder) / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise TooBig(f"{name}: not a regular file")
        if st.st_size > cap:
            raise TooBig(f"{name}: {st.st_size} bytes, more than an export's {name} ever holds ({cap} at most); "
                         "not read")
        body = f.read(cap + 1)
    if len(body) > cap:
        raise TooBig(f"{name}: grew past {cap} bytes while it was read; not read")
    return body


def depth(value: Any) -> int:
    """How deep lists and objects nest in `value` (iteratively: no recursion to exhaust)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            todo.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def load_json(body: bytes, what: str) -> Any:
    """`body` parsed, or ValueError saying why not (not JSON, or nested deeper than MAX_DEPTH)."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise ValueError(f"{what} nests deeper than {MAX_DEPTH} levels; not an edged manifest") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON ({exc})") from None
    if depth(value) > MAX_DEPTH:
        raise ValueError(f"{what} nests deeper than {MAX_DEPTH} levels; not an edged manifest")
    return value


def entries(folder: Path) -> list[str]:
    """The names in `folder`, sorted; TooBig past MAX_FILES (it is not listed further)."""
    names: list[str] = []
    with os.scandir(folder) as it:
        for entry in it:
            names.append(entry.name)
            if len(names) > MAX_FILES:
                raise TooBig(f"the folder holds more than {MAX_FILES} files; an export holds a few per camera")
    return sorted(names)
