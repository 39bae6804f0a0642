"""Where a full run's CPU went, by program: Linux process accounting (acct(2)), on for scripts/test's
whole run when it may be (root with CAP_SYS_PACCT: the CI's machine), off and summed at its end.

The tiers' figures (tests/support/timing.py) say which tests cost what, the CPU of each test and what
it started; they cannot say how much of it was Python importing a recorder worker, ffmpeg checking a
segment, Chromium drawing a page or PostgreSQL writing, which decides what a cut is worth (design/0511).
The kernel writes one 64-byte record (struct acct_v3, linux/acct.h) for every process that ends, with
its name (`comm`, 15 characters: edged names its processes, storage/process/threadname.py), its user
and system time in hundredths of a second, and its parent; the report sums them by name.

    python -m tests.support.acct on FILE       start (says so, and why not when it cannot)
    python -m tests.support.acct off FILE      stop, print the table, remove FILE
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
import sys
from collections import defaultdict
from pathlib import Path

RECORD = struct.Struct("=BBHIIIIIIfHHHHHHHH16s")  # struct acct_v3: 64 bytes
AHZ = 100  # the records' clock ticks a second
# a process is written under the name of its last thread to end: a recorder worker's threads
# (recorder/*.py name_os_thread) are counted as the worker
THREADS = re.compile(r"^(cam-.*|durability|hasher|events|imagecheck|reader|synthetic)$")  # recorder/*.py's names


def comp_t(value: int) -> int:
    """A comp_t: a 13-bit mantissa and a 3-bit base-8 exponent."""
    return (value & 0x1FFF) << (3 * (value >> 13))


def records(data: bytes) -> list[tuple[str, float, int]]:
    """(name, CPU s, pid) of each version-3 record."""
    out = []
    for off in range(0, len(data) - RECORD.size + 1, RECORD.size):
        r = RECORD.unpack_from(data, off)
        if r[1] & 0x0F != 3:
            continue
        name = r[18].split(b"\0", 1)[0].decode(errors="replace")
        out.append(("edged-recorder" if THREADS.match(name) else name, (comp_t(r[10]) + comp_t(r[11])) / AHZ, r[6]))
    return out


def table(rows: list[tuple[str, float, int]], top: int = 15) -> list[str]:
    """The report's lines: each name's processes and CPU, the costliest first."""
    cpu: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for name, seconds, _pid in rows:
        cpu[name] += seconds
        count[name] += 1
    total = sum(cpu.values()) or 1.0
    lines = [f"test: CPU by program (process accounting: {len(rows)} processes ended, {total:.0f} s of CPU)",
             "test:   CPU s  share  processes  CPU/process  program"]
    for name in sorted(cpu, key=lambda n: -cpu[n])[:top]:
        lines.append(f"test: {cpu[name]:7.1f} {100 * cpu[name] / total:5.1f}% {count[name]:10d} "
                     f"{cpu[name] / count[name]:12.2f}  {name}")
    return lines


def _acct(path: bytes | None) -> str | None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.acct(path) == 0:
        return None
    return os.strerror(ctypes.get_errno())


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("on", "off"):
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[1])
    if argv[0] == "on":
        path.touch(mode=0o600)
        why = _acct(os.fsencode(path))
        print("test: counting each program's CPU (process accounting)" if why is None
              else f"test: no CPU by program in this run: process accounting is not available here ({why})")
        return 0
    if not path.exists():
        return 0
    _acct(None)
    data = path.read_bytes()
    path.unlink()
    if data:
        print("\n".join(table(records(data))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
