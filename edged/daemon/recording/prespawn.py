"""The recorder workers' interpreters start before `edged run` reads its config (design/0025,
addendum of 2026-11-22; design/0029).

A worker spends its first second or so starting Python and importing PyAV, then waits on its
stdin for its settings (recorder/worker.py). `edged run --config FILE` starts as many such
idle workers as the config's cameras will need, read off the TOML directly, before it imports
edged.config and validates the file; edged/daemon/recording/prestart.py then hands them their settings
and cameras once the config and the disk checks pass. The guess is only a count: nothing is
recorded by a worker until the validated config says so. A config that fails validation, a
start that is not a plain restart or a count guessed too high ends the idle workers (end of
input: they exit without touching the disk), and they are waited for before `edged run` goes on.

Stdlib only: whatever this imports is paid before the workers exist.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys
import time
import tomllib
from pathlib import Path

from storage.disk.layout import CATALOG_FILE

log = logging.getLogger("edged.daemon")
DISMISS_S = 10.0  # an idle worker exits on end of input once imported; past this it is killed


class Steps:
    """Where start-up's time goes (logged at ready; bench/recovery_time.py reads it)."""

    def __init__(self) -> None:
        self.t0 = self.last = time.monotonic()
        self.spent: list[tuple[str, float]] = []
        try:  # the interpreter's own start-up and the imports, from the process's start time
            ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
            age = float(Path("/proc/uptime").read_text().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
            self.spent.append(("python and imports", age))
            self.t0 -= age
        except (OSError, ValueError, IndexError):
            pass

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.spent.append((name, now - self.last))
        self.last = now

    def __str__(self) -> str:
        return f"start-up {self.last - self.t0:.2f} s: " + ", ".join(f"{n} {s:.2f}" for n, s in self.spent)


def raise_nofile() -> None:
    """Viewers, cameras and the catalog all take descriptors: run with the hard limit, not the
    soft 1024 (systemd/edged.service sets LimitNOFILE; this covers a start by hand). Before
    the workers are started: they inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (OSError, ValueError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)


WORKER_MALLOC = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(128 << 10)}  # unless set already


async def spawn_worker(spare: bool = False) -> asyncio.subprocess.Process:
    """A recorder worker: it imports, then waits for its settings on stdin (recorder/worker.py).
    The pool's `spare` waits without PyAV and imports it once given its settings (design/0291).

    Its C library keeps one malloc arena, not one per thread that allocates (up to eight a
    core), and gives back at once every block of 128 KiB or more (keyframes, the muxer's
    fragment as it grows, a connection's read buffer): a worker's camera threads each left ~3 MB
    in an arena of their own, and a freed fragment raised glibc's threshold so that the next ones
    stayed in the arenas. Neither cost CPU that could be measured (design/0079 "Memory"); one arena,
    not two, holds 14-28 MB less a worker of 48 cameras, with the same CPU (design/0291); 128 KiB,
    not 256, 3-6 MB less a worker of 16 (design/0297)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recorder.worker", *(["--spare"] if spare else []),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 20,
        env={**WORKER_MALLOC, **os.environ})


def guess_workers(config: Path) -> int:
    """How many workers the config at `config` will need on a plain restart, read off the TOML
    without validating it (edged.config deals the enabled cameras to `recorder.workers`, else
    one worker per core). 0 when the file cannot be read as TOML (the validation says why) or
    its data folder has no catalog (a first start or a missing disk: the daemon decides)."""
    try:
        with open(config, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return 0
    storage, recorder, cameras = raw.get("storage"), raw.get("recorder"), raw.get("cameras")
    data_dir = storage.get("data_dir") if isinstance(storage, dict) else None
    if isinstance(data_dir, str) and data_dir and "\x00" not in data_dir:  # else the default folder: guess on
        if not (config.absolute().parent / data_dir / CATALOG_FILE).exists():  # an absolute data_dir replaces
            return 0
    wanted = recorder.get("workers") if isinstance(recorder, dict) else None
    slots = wanted if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted > 0 else os.cpu_count() or 1
    enabled = [c for c in cameras if isinstance(c, dict) and c.get("enabled", True) is not False] \
        if isinstance(cameras, list) else []
    return min(slots, len(enabled))


class Spares:
    """Idle workers started before the config was read; prestart takes them in order."""

    def __init__(self, procs: list[asyncio.subprocess.Process]) -> None:
        self.procs = procs

    def __len__(self) -> int:
        return len(self.procs)

    def take(self) -> asyncio.subprocess.Process | None:
        return self.procs.pop(0) if self.procs else None

    async def dismiss(self) -> None:
        """End the workers nobody took (end of input: they exit without writing) and wait for them."""
        procs, self.procs = self.procs, []
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), DISMISS_S)
            except TimeoutError:
                log.warning("an idle recorder worker (pid %d) did not exit on end of input: killed", proc.pid)
                proc.kill()
                await proc.wait()
        if procs:
            log.info("%d idle recorder worker(s) started before the config was read were not needed: ended",
                     len(procs))


async def spawn_idle(config: Path | None) -> Spares:
    """Start the workers `config` will need, idle (none without a config file)."""
    n = guess_workers(config) if config is not None else 0
    if n == 0:
        return Spares([])
    os.umask(0o077)  # as the daemon (design/0017): the workers inherit it, and the open-file limit
    raise_nofile()
    procs = [await spawn_worker() for _ in range(n)]
    log.info("%d recorder worker(s) started before the config is read (pids %s): idle until it is valid",
             n, " ".join(str(p.pid) for p in procs))
    return Spares(procs)
