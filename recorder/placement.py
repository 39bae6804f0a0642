"""Where one camera's packets go (design/0001, 0060, 0359): the segment file open now, opened at a
keyframe and closed at the next wall-clock boundary (or after FORCED_CUT_LENGTHS segment lengths
without a keyframe), as the camera's mode routes them (continuous, motion through its gate, live
not at all), and a handover's share (recorder/handover.py).

recorder/camera.py's connection loop owns a run's times and tells this part the run's facts as it
learns them (`new_run`, `basis`, `gops`, `last_key`, `last_at`); this part owns the files: what is
open, where it ends, the sound carried into the next segment, and each file's `Opened` and
`Closing`. The record loop calls `place` once per picture (bound once per run, issue 33's budget).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from recorder.access_unit import hevc_picture_kind, repacked
from recorder.events import Closing, Emit, Opened, SegmentMeta
from recorder.modes import LIVE, MOTION_ENDED, MotionRecording
from recorder.picture_size import declared_size
from recorder.segment import SegmentFile, provenance, time_base
from recorder.settings import Settings
from recorder.source import StorageGate
from recorder.timeline import GopTimes, is_cut, next_boundary
from storage.disk.layout import segment_relpath
from storage.hevc import LEADING, OPENS_LEADING, RASL
from storage.hevc.hidden import hidden_copy
from storage.process import logs
from storage.time.clock import Clock

if TYPE_CHECKING:
    import av

    from recorder.durability import Durability
    from recorder.handover import Camera, Handover
    from recorder.segment import Sound, VideoPacket

log = logging.getLogger("recorder.camera")  # its lines read as the camera's, as before the cut

FORCED_CUT_LENGTHS = 2  # a segment without a keyframe is cut after this many segment lengths
FORCED_CUT = "no keyframe"  # its close reason
# Cuts within one run of the camera's media clock: the sound held past the closed segment's last
# picture belongs to the next segment (recorder/segment.py). After any other close it is dropped.
_CARRIES_SOUND = frozenset({"boundary", FORCED_CUT, "host clock step", "media clock drift", "timestamp jump"})
NEVER = 1 << 62  # a time that never comes (no forced cut yet; no image check when they are off)


class Placement:
    """One camera's segment files, written from its recording thread alone."""

    def __init__(self, camera: Camera, settings: Settings, emit: Emit, on_closed: Callable[[Closing], None],
                 clock: Clock, gate: StorageGate | None, durability: Durability | None, counters: dict[str, int],
                 mode: str, motion: MotionRecording | None):
        self.cam, self.id = camera, camera.id  # the camera a handover stops (recorder/handover.py)
        self.settings, self.emit, self.on_closed, self.clock = settings, emit, on_closed, clock
        self.gate = gate
        self.durability = durability  # the worker's durability thread (design/0052); None: durable at close only
        self.counters = counters  # the camera's (ts_fixes: a segment's `retimed`)
        self.mode, self.motion = mode, motion
        self.handover: Handover | None = None
        self.seg: SegmentFile | None = None
        self.seg_rel = ""
        self.seg_meta: SegmentMeta = {"codec": "", "width": 0, "height": 0, "audio": 0, "retimed": 0}
        self.seg_end = self.boundary = 0
        # A segment is cut at FORCED_CUT_LENGTHS segment lengths even without a keyframe (design/0060).
        self.force_at = NEVER
        self.carried: list[Sound] = []  # sound held past the closed segment's last picture, for the next one
        self.ended: tuple[int, int | None] | None = None  # (end, basis) of the last segment closed
        self.fixes_at_open = 0  # counters["ts_fixes"] when the open segment opened (its `retimed`)
        self.fixes_from: int | None = None  # ... or before the warm-up it opens with was re-timed
        self.size: tuple[int, int] | None = None  # the picture size of the last segment opened (its SPS)
        # H.265 opened at a CRA (design/0442): its leading pictures are watched for those the file
        # cannot show (RASL), which are written but not counted in its frames
        self.leading = False
        self.unshown = 0
        # A boundary's H.265 CRA (design/0543): held while RASL pictures follow it, which are written to the
        # closing file too, after a copy of it no decoder shows; then it opens the next file
        self.pending: tuple[VideoPacket, int] | None = None
        self.rasl: list[VideoPacket] = []  # those written to the closing file (after the copy), for the next one
        # The run's facts, as the connection loop learns them
        self.audio: av.audio.stream.AudioStream | Any | None = None  # the sound's template (recorder/audio.py)
        self.vstep_us = 0
        self.vctx: Any = None  # the run's video codec context, as its reader read it (segments' codec, size)
        self.arrival_us = 0
        self.basis: int | None = None  # the host clock the run's stamps are on (RunClock.basis)
        self.gops: GopTimes | None = None  # this run's times made per GOP, its stamps being broken (design/0150)
        self.last_key = 0  # wall time of the last keyframe (the forced cut says how long since)
        self.last_at = 0  # wall time of the last video packet (audio in the pre-roll buffer takes it)

    def new_run(self, audio: Any, vstep_us: int, vctx: Any, arrival_us: int) -> None:
        self.audio, self.vstep_us, self.vctx, self.arrival_us = audio, vstep_us, vctx, arrival_us

    def video(self, pkt: VideoPacket, wall: int) -> None:
        """A video packet, as the camera's mode says: written, routed through the motion gate, or
        (live) not recorded."""
        self.last_at = wall
        if self.motion is not None:
            self._routed(pkt, wall, True)
        elif self.mode != LIVE:
            self.place(pkt, wall, pkt.is_keyframe)

    def sound(self, pkt: Sound) -> None:
        if self.handover is not None and self.handover.takes(self.cam, pkt, self.last_at, False, False):
            return
        if self.motion is not None:
            self._routed(pkt, self.last_at, False)
        elif self.seg is not None:
            self.seg.write(pkt, False)

    def _routed(self, pkt: VideoPacket | Sound, wall: int, video: bool) -> None:
        """Motion mode: the gate keeps the packet in the pre-roll buffer, or hands back what to
        write (the pre-roll first, opening on its keyframe), or closes the run first."""
        motion = self.motion
        assert motion is not None  # called in motion mode only
        route = motion.route(pkt, wall, video)
        if route.close:
            self.close(None, MOTION_ENDED)
        if route.opened is not None and not route.opened.complete:
            log.info("camera %s: motion footage opens with less than the pre-roll (the buffer did not reach back)",
                     self.id)
        for entry in route.write:
            p, at = entry.item
            if entry.video:
                self.place(p, at, p.is_keyframe)
            elif self.seg is not None:
                self.seg.write(p, False)

    def place(self, pkt: VideoPacket, wall: int, key: bool) -> None:
        """One video packet: close the segment at a boundary, open one at a keyframe, write."""
        if self.handover is not None and self.handover.takes(self.cam, pkt, wall, key, True):
            return
        if self.pending is not None and self._tail(pkt):
            return
        seg = self.seg
        if key:
            if seg is not None and is_cut(wall, True, self.boundary):
                if self._holds(pkt):
                    self.pending = (pkt, wall)
                    return
                self.close(wall, "boundary")
                seg = None
            if seg is None:
                seg = self._open(pkt, wall)
        elif seg is None:
            return  # nothing decodable before the first keyframe
        elif wall >= self.force_at:
            # A camera that stopped sending keyframes: cut anyway, so the segment can be closed,
            # hashed, exported and in time destroyed. The next one opens on this frame, which does
            # not decode until a keyframe comes; the stats say so (the keyframes_missing alarm).
            log.warning("camera %s: no keyframe for %.0f s: segment cut without one", self.id,
                        (wall - self.last_key) / 1e6, **logs.fields(camera=self.id))
            self.close(wall, FORCED_CUT)
            seg = self._open(pkt, wall)
        elif self.leading:  # the few pictures after an H.265 segment's opening CRA (design/0442)
            kind = hevc_picture_kind(pkt)
            self.leading = kind is not None and kind in LEADING
            if kind in RASL:
                self.unshown += 1
        seg.write_video(pkt)
        self.seg_end = wall + self.vstep_us

    def _holds(self, pkt: VideoPacket) -> bool:
        """A boundary at an H.265 CRA or BLA: held until the next picture says whether RASL pictures follow."""
        return self.seg_meta["codec"] == "hevc" and hevc_picture_kind(pkt) in OPENS_LEADING

    def _tail(self, pkt: VideoPacket) -> bool:
        """The picture after a held CRA (design/0543): a RASL picture is written to the closing file too, after a
        copy of the CRA a decoder decodes but does not output (the RASL pictures refer to it) and, before the
        first, the camera's own PPS again; it is kept for the next file; True then. Anything else, or a CRA that
        cannot be copied so, cuts there: the closing file closes at the CRA, which opens the next (False: the
        picture is placed as any other)."""
        assert self.pending is not None  # called while a CRA is held
        held, seg = self.pending[0], self.seg
        if seg is None or hevc_picture_kind(pkt) not in RASL:
            self._cut_held()
            return False
        again = b""
        if not self.rasl:
            ctx = self.vctx or held.stream.codec_context
            made = hidden_copy(bytes(held), ctx.extradata or b"")
            if made is None:
                self._cut_held()
                return False
            copy, again = made
            seg.write_video(repacked(copy, held, False))
            self.unshown += 1  # the copy: decoded, never shown
        seg.write_video(repacked(again + bytes(pkt), pkt, pkt.is_keyframe))  # a copy: writing sets a packet's times
        self.rasl.append(pkt)
        return True

    def _cut_held(self) -> None:
        """The held CRA opens its segment now, with the RASL pictures after it (there, as design/0442 keeps
        them: written, not counted); the file before closes where it begins."""
        held, rasl = self.pending, self.rasl
        self.pending, self.rasl = None, []
        if held is None:
            return
        pkt, wall = held
        self._close(wall, "boundary", pkt.dts if rasl else None)
        seg = self._open(pkt, wall)
        seg.write_video(pkt)
        for picture in rasl:
            seg.write_video(picture)
        self.unshown += len(rasl)
        self.seg_end = wall + self.vstep_us

    def _open(self, pkt: VideoPacket, wall: int) -> SegmentFile:
        if self.gate is not None:
            self.gate.check()
        stream = pkt.stream
        relpath = segment_relpath(self.id, wall)
        assert pkt.dts is not None  # stamped by the record loop (timeline.fix_dts)
        self.seg = seg = SegmentFile(self.settings.data_dir / relpath, stream, self.audio,
                                     origin_us=int(pkt.dts * time_base(stream) * 1_000_000),
                                     fragment_us=self.settings.fragment_us,
                                     metadata=provenance(self.settings.site, self.settings.node, self.id, wall),
                                     durability=self.durability, frame_us=self.vstep_us,
                                     arrival_us=self.arrival_us)
        carried, self.carried = self.carried, []
        for item in carried:  # the sound the last segment held past its last picture
            seg.write(item, False)
        self.seg_rel = relpath
        self.seg_end = wall
        # The reader's codec (the edged reader's packets belong to a copied stream, whose context names
        # an encoder, libx264, and keeps the connection's first size: issue 79, design/0337)
        ctx = self.vctx or stream.codec_context
        # The picture size of this segment's own SPS (its keyframe's, in band), the stream's otherwise:
        # a camera whose resolution was changed says so in its next keyframe (design/0093).
        size = self.size = declared_size(ctx.name, bytes(pkt)) or (ctx.width, ctx.height)
        self.leading = ctx.name == "hevc" and hevc_picture_kind(pkt) in OPENS_LEADING
        self.unshown = 0
        self.seg_meta = {"codec": ctx.name, "width": size[0], "height": size[1],
                         "audio": int(self.audio is not None), "retimed": 0}
        self.fixes_at_open = self.counters["ts_fixes"] if self.fixes_from is None else self.fixes_from
        self.fixes_from = None
        self.boundary = next_boundary(wall, self.settings.segment_us)
        self.force_at = wall + FORCED_CUT_LENGTHS * self.settings.segment_us
        self.emit(Opened(self.id, relpath, wall, self.clock.now_us(), self.basis))
        return seg

    def close(self, end_us: int | None, reason: str) -> None:
        """Close the file; the hasher reports it `Closed` (one event, with its sha256). A CRA held at a
        boundary (design/0543) opens its segment first: it is the last picture, not lost."""
        try:
            self._cut_held()
        except Exception as exc:  # noqa: BLE001 - a close never fails: the file before is closed already
            log.error("camera %s: the keyframe held at a cut did not open its segment: %s", self.id, exc,
                      **logs.fields(camera=self.id))
        self._close(end_us, reason)

    def _close(self, end_us: int | None, reason: str, leave: int | None = None) -> None:
        seg, self.seg = self.seg, None
        if seg is None:
            return
        end = self.seg_end if end_us is None else end_us
        self.ended = (end, self.basis)
        gops = self.gops
        made = gops.take(seg.last_dts, seg.first_dts, leave) if gops is not None else None  # the camera's times (0150)
        self.seg_meta["retimed"] = self.counters["ts_fixes"] - self.fixes_at_open + len(made or ())
        try:
            size = seg.close(made)
            self.carried = seg.leftover_audio() if reason in _CARRIES_SOUND else []
        except Exception as exc:  # noqa: BLE001 - the file is still recovered at the next start
            log.error("camera %s: closing %s failed: %s", self.id, self.seg_rel, exc,
                      **logs.fields(camera=self.id, segment=self.seg_rel))
            self.on_closed(Closing(self.id, self.seg_rel, end, "close failed"))
            return
        self.on_closed(Closing(self.id, self.seg_rel, end, reason, size, seg.frames - self.unshown, seg.file_id, **self.seg_meta,
                               sha256=seg.sha256))

