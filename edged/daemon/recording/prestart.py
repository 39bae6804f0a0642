"""The recorder workers start before the daemon's own imports (design/0029).

A daemon restart's gap was mostly Python importing the daemon (SQLite helpers, MQTT, the
export's cryptography: 0.7 s on an idle box, 1.5-3 s on a loaded one) before any worker was
started. `edged run` now takes the data folder's lock, checks cheaply that the data folder
and its video folder are the disk the catalog describes (the identity files, as the storage
watch's first look does) and starts the workers with their cameras; then it imports the
daemon, which adopts them (edged/daemon/recording/supervisor.py). What the workers send waits in their pipes
until the daemon reads it, as their segments' catalog rows would wait on a busy writer.

Only stdlib and light modules here: whatever this imports is paid before recording starts.
When anything is not as a plain restart finds it (no catalog yet, a catalog without both
identities, a folder that fails the check, a missing control group), nothing is started
early and the daemon starts the workers itself after its checks, as before.
"""

from __future__ import annotations

import asyncio
import fcntl
import grp
import json
import logging
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from edged.config import CameraConfig, Config
from storage.declare import worker_fields
from edged.daemon.recording.prespawn import Spares, Steps, raise_nofile, spawn_worker
from recorder.motion import settings_json
from storage.disk import layout, volume
from storage.time.clock import SYSTEM
from storage.disk.fsutil import PRIVATE_FILE

log = logging.getLogger("edged.daemon")
LOCK_FILE = "edged.lock"
PROBE_TIMEOUT_S = 5.0


class AlreadyRunning(Exception):
    pass


def lock_data(data_dir: Path) -> int:
    """One daemon per data folder: two writers would corrupt the catalog's story."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"another edged is already running on {data_dir}") from None
    return fd


# what the workers are told ---------------------------------------------------------------
def worker_count(cfg: Config) -> int:
    return cfg.recorder.workers or os.cpu_count() or 1


def assign(cameras: Sequence[CameraConfig], n: int) -> list[list[CameraConfig]]:
    """The enabled cameras dealt to `n` workers in turn (the supervisor deals them the same way)."""
    enabled = [c for c in cameras if c.enabled]
    return [enabled[i::n] for i in range(n)]


def worker_settings(cfg: Config) -> dict[str, Any]:
    s, r = cfg.storage, cfg.recorder
    return {"data_dir": str(s.data_dir), "segment_us": s.segment_length_us, "fragment_us": s.fragment_length_us,
            "fsync_us": s.fsync_interval_us, "connect_timeout_us": r.connect_timeout_us,
            "read_timeout_us": r.read_timeout_us, "reconnect_max_us": r.reconnect_max_us,
            "sample_us": cfg.health.sample_interval_us, "sample_max_us": cfg.health.sample_interval_max_us, "site": cfg.site.id, "node": cfg.site.node,
            "memory_mb": [r.worker_memory_mb, r.camera_memory_mb]}


def add_command(cam: CameraConfig, hold: bool = False) -> dict[str, Any]:
    """The worker's `add`: the camera, its recording mode and (motion) its detection settings; `hold`:
    held for a handover (recorder/handover.py)."""
    camera: dict[str, Any] = {"id": cam.id, "url": cam.url, **worker_fields(cam)}  # its keys declared for it
    if hold:
        camera["hold"] = True
    if cam.mode == "motion":
        camera["detect_url"] = cam.detect_url
        camera["motion"] = {"pre_roll_us": cam.motion.pre_roll_us, "settings": settings_json(cam.motion.settings)}
    return {"cmd": "add", "camera": camera}


def send(proc: asyncio.subprocess.Process, *msgs: dict[str, Any]) -> None:
    """Queue command lines for a worker (its pipe holds them until it reads)."""
    assert proc.stdin is not None
    proc.stdin.write(b"".join((json.dumps(m) + "\n").encode() for m in msgs))


# the cheap checks --------------------------------------------------------------------------
def disk_problem(data_dir: Path) -> tuple[str | None, int | None]:
    """As the storage watch's first look (edged/daemon/storage_watch.py): None and the video folder's
    device when the data folder and the video folder carry the catalog's identity; else why not."""
    try:
        disk_id, video_identity = volume.recorded_identity(data_dir / layout.CATALOG_FILE)
    except sqlite3.Error as exc:
        return f"the catalog could not be read without the daemon ({exc})", None
    if disk_id is None or not video_identity:
        return "the catalog does not record both disk identities yet", None
    probes = {"data folder": volume.probe(data_dir), "video folder": volume.probe(data_dir / layout.VIDEO_DIR)}
    for name, p in probes.items():
        problem = volume.check(name, disk_id, p, None)
        if problem:
            return problem, None
    return None, probes["video folder"].dev


FIRST_SEGMENTS_S = 5.0  # the longest the daemon's imports wait for the cameras' first segments


@dataclass
class Early:
    """What `edged run` did before importing the daemon: the lock it holds and the workers it
    started (none when it left the start to the daemon), one per supervisor slot."""

    lock: int
    started_us: int
    workers: list[asyncio.subprocess.Process | None] = field(default_factory=list)
    cameras: list[list[str]] = field(default_factory=list)   # each worker's cameras
    backlog: list[list[bytes]] = field(default_factory=list)  # each worker's events read here, in order
    video_dev: int | None = None
    handed: bool = False  # the next daemon of a handover, once the running one let go (succession.py)

    async def first_segments(self, stop_seen: asyncio.Event, within_s: float | None = None) -> None:
        """Read the workers' first events until every camera has opened a segment or said why it
        cannot, or FIRST_SEGMENTS_S passed, or a stop came (`stop_seen`, edged/daemon/recording/start_signals.py):
        the daemon's imports then do not take the CPU the cameras' connections need on a busy box.
        The lines are kept for the supervisor."""
        async def follow(i: int, proc: asyncio.subprocess.Process) -> None:
            waiting = set(self.cameras[i])
            assert proc.stdout is not None
            while waiting:
                line = await proc.stdout.readline()
                if not line:
                    return
                self.backlog[i].append(line)
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                # "holding": a camera the next daemon holds for a handover (design/0353)
                if ev.get("ev") in ("open", "holding") or (ev.get("ev") == "state" and ev.get("state") == "offline"):
                    waiting.discard(ev.get("camera"))

        readers = [asyncio.ensure_future(follow(i, p)) for i, p in enumerate(self.workers) if p is not None]
        if not readers:
            return
        everyone = asyncio.ensure_future(asyncio.wait(readers))
        stop = asyncio.ensure_future(stop_seen.wait())
        await asyncio.wait([everyone, stop], timeout=within_s or FIRST_SEGMENTS_S, return_when=asyncio.FIRST_COMPLETED)
        everyone.cancel()
        stop.cancel()
        for reader in readers:  # a read cut short consumes nothing: the supervisor reads on
            reader.cancel()
        await asyncio.wait(readers)
        for reader in readers:
            if not reader.cancelled() and reader.exception() is not None:
                log.error("reading a recorder worker's first events failed: %r", reader.exception())


__all__ = ["AlreadyRunning", "Early", "Steps", "add_command", "assign", "lock_data", "raise_nofile", "send",
           "spawn_worker", "start", "worker_count", "worker_settings"]  # Steps and the spawn: from prespawn.py


async def start(cfg: Config, spares: Spares | None = None, hold: bool = False) -> Early | None:
    """Lock the data folder and, when a plain restart's checks pass, start the workers with their
    cameras (taking the idle ones `edged run` started before reading the config, design/0025's
    addendum). None when there is no catalog yet (the daemon initialises it or waits for the disk).
    The caller ends the spares left over. `hold`: the next daemon of a handover (design/0353): the
    running one has the lock (its `lock` is -1 until edged/daemon/recording/succession.py takes it)
    and the cameras are added to hold, writing nothing until each is resumed."""
    os.umask(0o077)  # as the daemon (design/0017): the workers inherit it
    data_dir = cfg.storage.data_dir
    if not (data_dir / layout.CATALOG_FILE).exists():
        return None
    early = Early(-1 if hold else lock_data(data_dir), SYSTEM.now_us())
    raise_nofile()
    if cfg.control.group is not None:
        try:
            grp.getgrnam(cfg.control.group)
        except KeyError:
            return early  # the daemon says so and exits (EX_CONFIG): nothing to record first
    try:  # a disk that does not answer: the daemon's own first look says so
        problem, video_dev = await asyncio.wait_for(asyncio.to_thread(disk_problem, data_dir), PROBE_TIMEOUT_S)
    except TimeoutError:
        problem, video_dev = f"the data folder did not answer within {PROBE_TIMEOUT_S:.0f} s", None
    if problem is not None:
        log.info("workers start after the daemon's checks: %s", problem)
        return early
    early.video_dev = video_dev
    settings = {**worker_settings(cfg), "video_dev": video_dev}
    for cams in assign(cfg.cameras, worker_count(cfg)):
        proc = None
        if cams:
            proc = (spares.take() if spares is not None else None) or await spawn_worker()
            send(proc, settings, *(add_command(c, hold) for c in cams))
        early.workers.append(proc)
        early.cameras.append([c.id for c in cams])
        early.backlog.append([])
    return early
