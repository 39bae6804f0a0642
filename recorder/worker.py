"""A recorder worker process: one thread per camera, commands on stdin, events on stdout.

Started by the daemon as `python -m recorder.worker`. The first stdin line is the settings;
then `{"cmd": "add", "camera": {...}}`, `{"cmd": "remove", "camera": id}`, `{"cmd": "storage", "video_dev": N}`,
`{"cmd": "reference", "camera": id, "set_us": N, "thumb": text}` (its image checks compare with it), `{"cmd": "stop"}`;
at an upgrade's handover (recorder/handover.py, design/0353) an `add` with `"hold": true`, then
`{"cmd": "resume", "camera": id, "from_us": N}`, and `{"cmd": "give", "camera": id}` to the running one.
End of stdin (the daemon died) also stops: open segments are closed cleanly first.
Events are JSON lines, one typed event per fact (recorder/events.py); the daemon's supervisor
reads them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import resource
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recorder import events, handover, sample_budget
from recorder.camera import CameraRecorder, Settings
from recorder.source import StorageGate
from recorder.durability import Durability
from recorder.imagecheck import ImageSampler
from recorder.read_turns import ReadTurns
from storage.process.threadname import name_os_thread
from storage.process import logs
from storage.lazy import lazy_import, loaded
from storage.time.clock import SYSTEM, Clock
from storage.disk.hashing import NotThere, same_file, sha256_same_file

if TYPE_CHECKING:
    import av
else:
    av = lazy_import("av")

log = logging.getLogger("recorder.worker")

# The pool's spare worker is started with this argument (edged/daemon/recording/workers.py): it waits
# for a slot without PyAV (17 MB of RSS) and imports it once given its settings (design/0291).
SPARE = "--spare"

# Bounded (docs/requirements.md "Layers": queues are bounded). Stats are dropped when full; segment events
# wait, which can only happen if the daemon stops reading, and then it is dying anyway.
EVENT_QUEUE = 10_000
HASH_QUEUE = 1_000
BATCH_MAX = 512  # events per write to the daemon
GIVE_WITHIN_US = 10_000_000  # a camera told to give itself over with no keyframe by then is stopped


class EventSink:
    """Serialises events from every camera thread onto the stdout pipe."""

    def __init__(self, fd: int):
        self._out = os.fdopen(fd, "w", buffering=1)
        self._q: queue.Queue[events.Event | None] = queue.Queue(EVENT_QUEUE)
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.PERIODIC):  # the next one replaces a lost one
            try:
                self._q.put_nowait(event)
            except queue.Full:
                pass
        else:
            self._q.put(event)

    def _run(self) -> None:
        """Whatever is queued goes out in one write: at a segment boundary every camera's
        `Closed` and `Opened` reach the daemon together, which applies them in one catalog
        transaction (edged/daemon/recording/segment_rows.py)."""
        name_os_thread("events")
        q = self._q
        while True:
            batch = [q.get()]
            while batch[-1] is not None and len(batch) < BATCH_MAX and not q.empty():
                batch.append(q.get_nowait())
            end = batch[-1] is None
            try:
                self._out.write("".join(events.encode(e) for e in batch if e is not None))
            except (BrokenPipeError, OSError):
                return
            if end:
                return

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)


class Hasher:
    """Reports closed segments off the camera threads, each in one event: `Closed` with its
    sha256 (or None when the close or the hash failed), or `Stranded`. In the order the
    segments closed. A segment's digest is normally taken as its bytes were written
    (recorder/segment.py, design/0053): here only the path is checked to still name the file
    written. Without one the file is read back and hashed, as before."""

    def __init__(self, data_dir: Path, emit: EventSink, clock: Clock = SYSTEM):
        self._data_dir = data_dir
        self._clock = clock
        self._emit = emit
        self._q: queue.Queue[events.Closing | None] = queue.Queue(HASH_QUEUE)
        self.rehashed = 0  # segments read back to be hashed (not hashed as written)
        self._thread = threading.Thread(target=self._run, name="hasher", daemon=True)
        self._thread.start()

    def submit(self, closing: events.Closing) -> None:
        self._q.put(closing)

    def _run(self) -> None:
        name_os_thread("hasher")
        while (item := self._q.get()) is not None:
            self._emit(self._hash(item))

    def _hash(self, item: events.Closing) -> events.Closed | events.Stranded:
        if item.file_id is None:  # the close failed: nothing proven, the next reconciliation recovers it
            return item.closed(None, self._clock.now_us())
        dev, ino = item.file_id
        try:
            if item.sha256 is not None:
                same_file(self._data_dir / item.path, dev, ino)
                sha256 = item.sha256
            else:
                self.rehashed += 1
                sha256 = sha256_same_file(self._data_dir / item.path, dev, ino)
        except NotThere as exc:  # written to a disk that is no longer at the data folder's path
            return item.stranded(str(exc))
        except OSError as exc:
            log.error("cannot hash %s: %s", item.path, exc)
            sha256 = None  # stays `writing`; the next reconciliation recovers it
        return item.closed(sha256, self._clock.now_us())

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()


class MemoryLimit:
    """The worker's address space is bounded (RLIMIT_AS, design/0063): a stream that makes the
    decoder allocate without end fails an allocation in this worker instead of taking the box's
    memory. The bound is `base_mb` plus `camera_mb` per camera carried, set as cameras come (the
    soft limit only rises; the hard one is left as it is)."""

    def __init__(self, base_mb: int, camera_mb: int):
        self.base, self.per_camera = base_mb << 20, camera_mb << 20
        self.cameras = 0

    def fit(self, cameras: int) -> None:
        if cameras <= self.cameras or not (self.base or self.per_camera):
            return
        self.cameras = cameras
        want = self.base + self.per_camera * cameras
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        if soft != resource.RLIM_INFINITY and soft >= want:
            return
        try:
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))
        except (OSError, ValueError) as exc:
            log.warning("could not set the memory limit of %d MB: %s", want >> 20, exc)


def _test_crash(camera: str) -> None:
    """Tests only (design/0063): the file EDGED_TEST_KILL_ON_ADD names (one camera id a line)
    lists cameras whose arrival kills this worker, as a stream that crashes FFmpeg would."""
    path = os.environ.get("EDGED_TEST_KILL_ON_ADD")
    if not path:
        return
    try:
        doomed = Path(path).read_text().split()
    except OSError:
        return
    if camera in doomed:
        os.kill(os.getpid(), signal.SIGKILL)


def image_sampler(settings: Settings, emit: EventSink) -> ImageSampler | None:
    """The image checks' pool, None when they are off. The site's sample interval is the shortest;
    the pool lengthens it to its CPU budget (design/0078). EDGED_IMAGE_BUDGET=off keeps the site's
    interval fixed, as before: bench/imagecheck_budget.py's comparison only."""
    if settings.sample_us <= 0:
        return None
    share = 1.0 if os.environ.get("EDGED_IMAGE_BUDGET") == "off" else sample_budget.SHARE
    return ImageSampler(emit, shortest_us=settings.sample_us, longest_us=settings.sample_max_us, share=share)


def settings_line(spare: bool) -> str:
    """The first line of the input, the settings ("" at its end). A worker started for cameras
    imports PyAV whole before it (design/0025); the pool's spare, once given it, on a thread, while
    its first cameras connect: their first read of PyAV waits for the import's end (storage/lazy.py,
    design/0291)."""
    if not spare:
        loaded(av)
    first = sys.stdin.readline()
    if first and spare:
        threading.Thread(target=loaded, args=(av,), name="import-av", daemon=True).start()
    return first


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGHUP):  # Ctrl-C (and a hang-up) reach the daemon, which stops us
        signal.signal(sig, signal.SIG_IGN)
    # stdout is the event channel: nothing else may write there.
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logs.setup(identifier="edged-recorder", fmt="recorder[%(process)d] %(levelname)s %(message)s")

    first = settings_line(spare=SPARE in sys.argv[1:])
    if not first:
        return 0
    raw = json.loads(first)
    gate = StorageGate(Path(raw["data_dir"]), raw.pop("video_dev", None))
    memory = MemoryLimit(*raw.pop("memory_mb", (0, 0)))
    settings = Settings(**{**raw, "data_dir": Path(raw["data_dir"])})
    emit = EventSink(events_fd)
    hasher = Hasher(settings.data_dir, emit)
    # A pass after each fragment (design/0061); EDGED_DURABILITY=interval is the pass per fsync
    # interval alone of before, kept for bench/record_throughput.py's comparison only.
    durability = Durability(settings.fsync_us, follow_writes=os.environ.get("EDGED_DURABILITY") != "interval")
    sampler, reader = image_sampler(settings, emit), ReadTurns()  # the reader: cameras read in turns (design/0302)
    cameras: dict[str, CameraRecorder] = {}
    given: list[CameraRecorder] = []  # cameras told to give themselves over (joined at the end)
    stopping = threading.Event()

    def on_term(_sig: int, _frame: Any) -> None:
        stopping.set()
        for cam in cameras.values():
            cam.stop.set()

    signal.signal(signal.SIGTERM, on_term)

    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg.get("cmd")
        if cmd == "add" and not stopping.is_set():
            _test_crash(msg["camera"]["id"])
            memory.fit(len(cameras | {msg["camera"]["id"]: None}))
            cam = CameraRecorder(msg["camera"], own_settings(settings, msg["camera"]), emit, hasher.submit, sampler, gate,
                                 durability=durability, read_turns=reader)
            if (old := cameras.pop(cam.id, None)) is not None:
                _remove(old)
            cameras[cam.id] = cam
            cam.start()
        elif cmd == "remove":
            gone = cameras.pop(msg["camera"], None)
            if gone is not None:
                threading.Thread(target=_remove, args=(gone,), name="remove-" + gone.id, daemon=True).start()
        elif cmd in ("give", "resume"):
            _handover(msg, cameras, given, emit)
        elif cmd == "storage":  # the video folder's disk is back, perhaps under a new device id
            gate.video_dev = msg["video_dev"]
        elif cmd == "reference" and sampler is not None:  # kept for the camera, here now or added later
            sampler.refer(msg["camera"], msg["set_us"], msg["thumb"])
        elif cmd == "stop":
            break
    _shutdown(list(cameras.values()) + given, reader, durability, hasher, sampler, emit)
    return 0


def _remove(cam: CameraRecorder) -> None:
    cam.stop.set()
    cam.thread.join()


def _handover(msg: dict[str, Any], cameras: dict[str, CameraRecorder], given: list[CameraRecorder],
              emit: EventSink) -> None:
    """An upgrade's handover (recorder/handover.py, design/0353): `give` a recording camera to the
    next daemon (it leaves `cameras` for `given`, joined at the end), or `resume` a held one."""
    cam = cameras.get(msg["camera"])
    if msg["cmd"] == "give":
        if cam is None:  # not here (removed, or never added): nothing to meet
            emit(events.Handed(msg["camera"], None, SYSTEM.now_us()))
            return
        del cameras[cam.id]
        given.append(cam)
        handover.give(cam, emit, msg.get("within_us", GIVE_WITHIN_US) / 1e6)
    elif cam is not None and cam.handover is not None:
        cam.handover.resume_from = msg.get("from_us")


def own_settings(settings: Settings, camera: dict[str, Any]) -> Settings:
    """A camera's settings: the worker's, with those its `add` names for itself (a config key declared
    with `worker=` a Settings field: a camera's key, or a site key declared `per_camera=True` that the
    camera sets for itself; storage/declare.py)."""
    own = {f.name: camera[f.name] for f in dataclasses.fields(Settings) if f.name in camera}
    return dataclasses.replace(settings, **own) if own else settings


def _shutdown(cameras: list[CameraRecorder], reader: ReadTurns, durability: Durability, hasher: Hasher,
              sampler: ImageSampler | None, emit: EventSink) -> None:
    """Close every segment (each made durable by its close), then the worker's threads, then say bye."""
    for cam in cameras:
        cam.stop.set()
    for cam in cameras:
        cam.thread.join()
    reader.close()
    durability.close()
    hasher.close()
    if sampler is not None:
        sampler.close()
    emit(events.Bye())
    emit.close()


if __name__ == "__main__":
    sys.exit(main())
