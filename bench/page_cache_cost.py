"""What this box charges a writer for a byte of page cache (design/0304), in ~10 s.

    .venv/bin/python -m bench.page_cache_cost [--gb 6] [--files 96]

Writes `--gb` GB of new files in `bench/out/page-cache/`, `--files` of them in turns, 250 kB a
write (a fragment of a 4 Mbit/s camera, 96 cameras' worth at once), and prints this thread's CPU
a byte (`time.thread_time`) for each GB: the kernel's copy into pages it takes for the page cache,
which a recorder pays for every byte of footage it writes (edged and `ffmpeg -c copy` alike).
The files are removed at the end. On a box whose memory is its own the figure is flat (a
fraction of a ns a byte). A virtual machine that gives free memory back to its host (free
page reporting, DAMON `pageout`; the environment line says what this guest does) pays for
its host to back each page again on its first touch: the GBs after the recently freed memory
is used up cost several times more, and `record_throughput` at 96 cameras pays that on both
sides of its ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from bench.common import OUT, command_line, environment, log, table

CHUNK = 250_000  # a second of a 4 Mbit/s camera, about one fragment


def write_cost(gb: float, files: int) -> list[float]:
    """ns of this thread's CPU a byte, per GB written."""
    where = OUT / "page-cache"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    chunk = os.urandom(CHUNK)
    fds = [os.open(where / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600) for i in range(files)]
    costs: list[float] = []
    try:
        written, counted, total = 0, 0, int(gb * 1e9)
        started = time.thread_time()
        while written < total:
            for fd in fds:
                written += os.write(fd, chunk)
            if written >= (len(costs) + 1) * 1e9 or written >= total:
                now = time.thread_time()
                costs.append((now - started) / (written - counted) * 1e9)
                started, counted = now, written
    finally:
        for fd in fds:
            os.close(fd)
        shutil.rmtree(where, ignore_errors=True)
    return costs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.page_cache_cost", description=__doc__.split("\n")[0])
    p.add_argument("--gb", type=float, default=6, help="GB written (default %(default)s)")
    p.add_argument("--files", type=int, default=96, help="files written in turns (default %(default)s)")
    args = p.parse_args(argv)
    if args.gb <= 0 or args.files < 1:
        p.error("--gb must be above 0 and --files at least 1")
    log(f"command: {command_line('bench.page_cache_cost')}")
    log(f"environment: {environment()}")
    try:
        costs = write_cost(args.gb, args.files)
    except OSError as exc:  # a full disk, mostly: the files written so far are gone again
        log(f"cannot write {args.gb:g} GB in {OUT / 'page-cache'}: {exc}")
        return 1
    log(table(["GB", "ns of CPU a byte written"], [[str(i + 1), f"{c:.2f}"] for i, c in enumerate(costs)]))
    log(f"first GB {costs[0]:.2f}, dearest {max(costs):.2f} ns a byte ({max(costs) / costs[0]:.1f}x); at 96 cameras "
        f"of 4 Mbit/s (48 MB/s) 1 ns a byte is {48e6 * 1e-9 / 96 * 100:.3f} % of a core a camera")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
