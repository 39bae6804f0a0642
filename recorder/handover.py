"""A camera handed from one daemon's recorder to the next one's at a keyframe (design/0353).

At an upgrade the next daemon's worker connects the camera before the running one lets it go:
its camera is added to *hold* (`{"cmd": "add", "camera": {..., "hold": true}}`): it connects and
runs as any camera, but what it would write is held in memory from its first keyframe on
(`Holding` says so), the last KEEP_US of it. The running daemon's worker is told to *give* the
camera (`{"cmd": "give", "camera": id}`): at the camera's next keyframe it closes its segment
before that keyframe (reason HANDED) and stops, and says where (`Handed`). The next one is told
to *resume* from there (`{"cmd": "resume", "camera": id, "from_us": N}`): it writes what it held
from the same keyframe on, as seen on its own connection, and records on. No picture is written
twice and none is missed: both connections carry the camera's one stream, so the keyframe the old
one stopped before is one the new one holds.

The two connections' wall times of one keyframe differ by how each run anchored its clock on
arrival (recorder/timeline.py: tens of ms). The held keyframe taken is the first one at most
TOLERANCE_US (and at most half a GOP) before the end said: the same keyframe. When its time is
before that end, the new run's clock moves on to it, as a reconnect's does to its last run's end
(design/0093): a segment stamped before footage its camera recorded earlier is a host clock behind
(design/0096), flagged for a person. A keyframe after the end leaves the hole it is (the two
anchors apart, milliseconds), filed as one ("handed over").

Only the camera's own thread touches what is held; the worker's main thread sets `giving` and
`resume_from` (single attribute writes) and the thread acts on them at its next packet.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from recorder.events import Emit, Handed, Holding
from recorder.timeline import RunClock
from storage.time.clock import SYSTEM, Clock

if TYPE_CHECKING:
    from recorder.segment import SegmentFile

HANDED = "handed over"  # a segment's close reason when its camera went on in the next daemon  # i18n: data
KEEP_US = 30_000_000    # what a held camera keeps: the next daemon's resume comes within this
TOLERANCE_US = 500_000  # the most two connections' times of one keyframe may differ (and at most half a GOP)
NOT_YET = -1            # resume_from before the resume came (None: from the oldest keyframe held)


class Camera(Protocol):
    """What the handover needs of recorder/camera.py's CameraRecorder."""

    id: str
    stop: threading.Event
    thread: threading.Thread
    handover: Handover | None

    @property
    def seg(self) -> SegmentFile | None: ...  # the segment open now (recorder/placement.py's)

    @property
    def run_clock(self) -> RunClock: ...  # the run's, set once its clock is anchored (before any _place)

    def _place(self, pkt: Any, wall: int, key: bool) -> None: ...

    def _close_segment(self, end_us: int | None, reason: str) -> None: ...


@dataclass(slots=True)
class Held:
    pkt: Any
    wall: int
    key: bool
    video: bool


class Handover:
    """One camera's part in a handover: holding (the next daemon's) or giving (the running one's)."""

    def __init__(self, camera: str, emit: Emit, *, hold: bool, clock: Clock = SYSTEM):
        self.camera, self.emit, self.clock = camera, emit, clock
        self.holding = hold
        self.giving = False
        self.resume_from: int | None = NOT_YET
        self.held: deque[Held] = deque()
        self._keys: deque[int] = deque()  # wall times of the keyframes held
        self._said = threading.Lock()     # Handed is said once, by the thread or by the worker's deadline
        self.handed: int | None | bool = False  # False until handed; then the end said

    # the running daemon's side -----------------------------------------------------------
    def claim(self) -> bool:
        """The one who says `Handed` (the camera's thread at a keyframe, or the worker's deadline):
        from here this recorder writes nothing more."""
        if not self._said.acquire(blocking=False):
            return False
        self.handed = None
        return True

    def say(self, end_us: int | None) -> None:
        self.handed = end_us
        self.emit(Handed(self.camera, end_us, self.clock.now_us()))

    # the camera thread's entry: True when the packet is the handover's, not to be written ----
    def takes(self, cam: Camera, pkt: Any, wall: int, key: bool, video: bool) -> bool:
        if self.handed is not False:
            return True  # given: nothing after the keyframe is this recorder's to write
        if self.giving:
            if not (video and key):
                return False  # written as before, up to the keyframe
            if self.claim():
                cam._close_segment(wall, HANDED)
                self.say(wall)
                cam.stop.set()
            return True
        if not self.holding:
            return False
        return self._hold(cam, pkt, wall, key, video)

    # the next daemon's side ---------------------------------------------------------------
    def _hold(self, cam: Camera, pkt: Any, wall: int, key: bool, video: bool) -> bool:
        if video and key:
            if not self._keys:
                self.emit(Holding(self.camera, wall))
            self._keys.append(wall)
            self._trim(wall)
        if self._keys:  # nothing is decodable before the first keyframe
            self.held.append(Held(pkt, wall, key, video))
        if self.resume_from != NOT_YET:
            self._resume(cam)
        return True

    def _trim(self, newest: int) -> None:
        """Keep from the oldest keyframe within KEEP_US of the newest (always one keyframe)."""
        keys, held = self._keys, self.held
        while len(keys) > 1 and keys[1] <= newest - KEEP_US:
            keys.popleft()
            while held and not (held[0].key and held[0].video and held[0].wall == keys[0]):
                held.popleft()

    def start_index(self, end_us: int | None) -> int | None:
        """Where the held footage goes on from: the first keyframe at most the tolerance before the
        end said (the oldest when there is no end); None while no such keyframe is held."""
        keys = list(self._keys)
        if not keys:
            return None
        if end_us is None:
            return 0
        gaps = [b - a for a, b in zip(keys, keys[1:])]
        tolerance = min([TOLERANCE_US] + [g // 2 for g in gaps])
        return next((i for i, w in enumerate(keys) if w >= end_us - tolerance), None)

    def _resume(self, cam: Camera) -> None:
        end = self.resume_from
        assert end != NOT_YET
        first = self.start_index(end)
        if first is None:
            return  # the keyframe the end names has not come yet: held on
        key_wall = self._keys[first]
        shift = max(0, end - key_wall) if end is not None else 0
        cam.run_clock.offset += shift  # this run's later pictures too
        self.holding = False
        held, self.held = self.held, deque()
        self._keys.clear()
        while held and not (held[0].key and held[0].video and held[0].wall == key_wall):
            held.popleft()
        if cam.handover is self:  # the hot path checks for None alone from here on
            cam.handover = None
        for h in held:
            if h.video:
                cam._place(h.pkt, h.wall + shift, h.key)
            elif cam.seg is not None:
                cam.seg.write(h.pkt, False)



def give(cam: Camera, emit: Emit, within_s: float, clock: Clock = SYSTEM) -> None:
    """Tell a recording camera to give itself over at its next keyframe (the worker's `give`). One
    with no keyframe within `within_s` (offline, a motion camera at rest, a live one) is stopped
    then, and says where its footage ended (None: nowhere yet), on a thread of its own."""
    ho = Handover(cam.id, emit, hold=False, clock=clock)
    ho.giving = True
    cam.handover = ho

    def deadline() -> None:
        if cam.stop.wait(within_s) or not ho.claim():
            return
        cam.stop.set()
        cam.thread.join()
        ended = getattr(cam, "_ended", None)
        ho.say(ended[0] if ended is not None else None)

    threading.Thread(target=deadline, name="give-" + cam.id, daemon=True).start()
