"""One camera's recording loop, run on a dedicated thread in a recorder worker.

Connect, time each packet, report, and on any failure reconnect with a capped, jittered backoff.
Every blocking PyAV call (av.open included) happens on this thread. Where a packet goes, the
segment files themselves (opened, cut, closed, a handover's share), is recorder/placement.py's
(design/0359): this loop tells it the run's facts and hands it each picture at its wall time.

Over 400 lines on purpose: the record loop runs once per packet with its state in locals (a
method or module split of it puts attribute lookups on the hot path, issue 33's budget).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Callable, cast

from recorder import audio, diagnose, sample_budget
from recorder.diagnose import scrub
from recorder.durability import Durability
from recorder.edged_source import AUTO, EDGED, FFMPEG, LOST, EdgedSource, reorder_depth_of
from recorder.opening import open_camera
from recorder.reader_choice import ReaderChoice
from recorder.events import Closing, Emit, State
from recorder.handover import Handover
from recorder.imagecheck import ImageSampler
from recorder.modes import LIVE, MOTION, MotionRecording
from recorder.placement import FORCED_CUT_LENGTHS, NEVER, Placement
from recorder.read_turns import ReadTurns, drive
from recorder.segment import SegmentFile, picture_step, time_base
from recorder.settings import Settings as Settings  # recorder.camera.Settings, as imported elsewhere
from recorder.stats import StatsWindow, mono_us
from recorder.whole_pictures import pictures
from storage.process.threadname import name_os_thread
from recorder.source import TCP, UDP, Disconnected, Source, StorageGate, backoff_us
from recorder.timeline import (
    CLOCK_STEP_US,
    JUMP,
    JUMP_AHEAD_US,
    JUMP_BACK_US,
    MEDIA_DRIFT_US,
    WARMUP_US,
    GopTimes,
    RunClock,
    after_last,
    anchor_offset,
    media_drift_us,
    retime,
)
from storage.process import logs
from storage.lazy import lazy_import
from storage.states.cameras import CONNECTING, OFFLINE, RECORDING, STOPPED
from storage.time.clock import SYSTEM, Clock

if TYPE_CHECKING:
    import av

    from recorder.segment import Sound, VideoPacket
else:
    av = lazy_import("av")  # on first use: the pool's spare worker is idle without PyAV (design/0291)

log = logging.getLogger(__name__)

STATS_EVERY_US = 5_000_000
REANCHOR_SHOWN_US = 600_000_000  # a media re-anchor shows in the stats (and its alarm) this long
NEVER_SHOWN = -(1 << 62)  # no picture's presentation time yet
HELD_MAX = 16  # a connection's first pictures held for a decode time (libavformat gives B-frame streams none at first)


class CameraRecorder:
    def __init__(self, camera: dict[str, Any], settings: Settings, emit: Emit, on_closed: Callable[[Closing], None],
                 sampler: ImageSampler | None = None, gate: StorageGate | None = None, clock: Clock = SYSTEM,
                 durability: Durability | None = None, read_turns: ReadTurns | None = None):
        self.id: str = camera["id"]
        self.clock = clock
        self.url: str = camera["url"]
        # RTSP's media path (design/0060): "auto" tries TCP, then UDP when the camera refuses TCP
        # (461), and keeps what worked for the worker's life, so a reconnect asks once.
        self.transport_setting: str = camera.get("transport", "auto")
        self.transport: str = UDP if self.transport_setting == UDP else TCP
        # The reader (design/0079, 0092): "auto" tries the edged reader and falls back to libavformat's
        # for good, with why (`choice.fallback`); `reader` is the one that read the last connection.
        self.choice = ReaderChoice(camera.get("reader", AUTO))
        self.reader: str = FFMPEG
        self.settings = settings
        self.emit = emit
        # The worker's reader of the edged reader's connections (design/0302); a camera alone has its own.
        self.read_turns, self._own_turns = read_turns or ReadTurns(), read_turns is None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, name=f"cam-{self.id}", daemon=True)
        self._rng = random.Random()
        self.counters = {"reconnects": 0, "ts_fixes": 0, "ts_jumps": 0, "clock_steps": 0, "media_reanchors": 0,
                         "times_made": 0, LOST: 0}
        self._reanchored: tuple[int, float] | None = None  # (monotonic us, drift s) of the last media re-anchor
        self.last_frame_us = 0    # wall time of the last video packet recorded (any run)
        self._recorded = False    # this run has recorded a frame
        # Image checks (recorder/imagecheck.py): a copy of a keyframe goes to the worker's pool.
        self.samples = sampler.camera(self.id) if sampler is not None and settings.sample_us > 0 else None
        # Recording mode (recorder/modes.py): `live` writes nothing; `motion` routes through a gate.
        self.mode: str = camera.get("mode", "continuous")
        self.motion = MotionRecording(self.id, camera["motion"], camera.get("detect_url"), emit, clock=clock,
                                      connect_timeout_us=settings.connect_timeout_us,
                                      read_timeout_us=settings.read_timeout_us) if self.mode == MOTION else None
        # The segment files: opened, cut and closed where this loop's times say (recorder/placement.py)
        self.placement = Placement(self, settings, emit, on_closed, clock, gate, durability, self.counters,
                                   self.mode, self.motion)
        self._said_times = False  # the log has said so for this camera
        self._said_trusted = False  # ... and that its stamps are whole again
        self._stamps_broken = False  # a run of this worker's found the camera's stamps broken (design/0335)
        # Added to hold (the next daemon's, design/0353), or told to give (set by the worker): else None
        self.handover = Handover(self.id, emit, hold=True, clock=clock) if camera.get("hold") else None

    # lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self.motion is not None:
            self.motion.start()
        self.thread.start()

    def _state(self, state: str, error: str | None = None, kind: str | None = None) -> None:
        """A state change, with why (kept across retries), the reconnect count and the time of
        the last frame, so an offline camera says what is wrong and since when (design/0024)."""
        self.emit(State(self.id, state, error, kind, self.counters["reconnects"], self.last_frame_us or None,
                        self.clock.now_us()))

    def _open(self, first: bool) -> Source | EdgedSource:
        return open_camera(self, first)  # the reader and transport "auto" chooses (recorder/opening.py)

    def _main(self) -> None:
        name_os_thread("cam-" + self.id)
        attempt = 0
        last_error = None
        self._state(CONNECTING)
        while not self.stop.is_set():
            self._recorded = False
            try:
                source = self._open(first=self.counters["reconnects"] == 0)
            except Disconnected as exc:
                kind, error = exc.kind, str(exc)
            else:
                opened = time.monotonic()
                try:
                    self._record(source)
                    kind, error = (diagnose.ENDED, "the camera ended the stream") if self._recorded else \
                        (diagnose.ENDED_EARLY, "the camera set up the stream and ended it before sending a picture")
                except Disconnected as exc:
                    kind, error = exc.kind, str(exc)
                except (TimeoutError, av.error.ExitError):
                    kind, error = diagnose.STALLED, (f"the stream stalled: nothing from the camera for "
                                                     f"{self.settings.read_timeout_us / 1e6:.0f} s")
                except Exception as exc:  # noqa: BLE001 - a failed run is a disconnect, never fatal
                    kind, error = diagnose.OTHER, "stream failed: " + scrub(str(exc))
                finally:
                    self.placement.close(None, "camera stopped" if self.stop.is_set() else "disconnect")
                    try:
                        source.close()
                    except Exception as exc:  # noqa: BLE001
                        log.debug("close of %s failed: %s", self.id, scrub(str(exc)))
                if not self.stop.is_set():  # an edged run that did not last: libavformat next (design/0092)
                    self.choice.run_ended(self.reader == EDGED, int((time.monotonic() - opened) * 1e6))
            if self.stop.is_set():
                break
            self.counters["reconnects"] += 1
            attempt = 0 if self._recorded else attempt + 1
            if self._recorded:
                last_error = None
            # Offline until a picture arrives again: retries do not blank the reason.
            self._state(OFFLINE, error, kind)
            # A dead camera retries every few seconds: say so once, not every time.
            (log.debug if error == last_error else log.warning)("camera %s: %s", self.id, error,
                                                                **logs.fields(camera=self.id))
            last_error = error
            self.stop.wait(backoff_us(attempt, self.settings.reconnect_max_us, self._rng) / 1e6)
        if self.motion is not None:
            self.motion.stop()
        if self._own_turns:
            self.read_turns.close()
        self._state(STOPPED)

    # one run --------------------------------------------------------------------------
    def _record(self, source: Source | EdgedSource) -> bool:
        """Remux one connection until it ends; True if any frame was recorded. The edged reader's is read in
        turns with the worker's other cameras by its reader (design/0302), libavformat's on this thread."""
        if isinstance(source, EdgedSource):
            source.turns = True  # every `apart` turns: its fragments allow for the wait (design/0552)
            return self.read_turns.run(self._steps(source), self.stop, source.apart)
        return drive(self._steps(source))

    def _steps(self, source: Source | EdgedSource) -> Generator[None, None, bool]:
        """The run: yields when everything that had come is recorded (the edged reader in turns).

        Over 60 lines on purpose: this is the per-packet loop, and its state (timestamps, the
        run clock, the warm-up, the stats window) stays in locals because an attribute or a call
        per packet costs CPU at 64 cameras (bench/record_throughput.py)."""
        c = source.container
        if not c.streams.video:
            raise Disconnected("the camera offers no video stream", diagnose.NO_VIDEO)
        video = c.streams.video[0]
        if video.codec_context is None:
            raise Disconnected("the camera's video is in a format edged cannot record (a codec its stream "
                               "description names that FFmpeg does not know): set the camera to H.264 or H.265",
                               diagnose.UNSUPPORTED)
        sound = audio.select(c.streams.audio, self.id)  # as sent (AAC, G.711, L16), else AAC (recorder/audio.py)
        pl = self.placement
        streams = [video] + sound.inputs
        vtb = time_base(video)
        rate = video.average_rate or video.guessed_rate or 25
        vstep, vstep_us = picture_step(rate, vtb)
        # Integer time-base arithmetic on the per-packet path: Fraction math costs microseconds.
        us_num, us_den = vtb.numerator * 1_000_000, vtb.denominator
        last: dict[int, int | None] = {s.index: None for s in streams}
        # Per stream: its stamps' shift since its camera's clock jumped, how far ahead one may go unchecked (0093)
        shifts: dict[int, int] = {s.index: 0 for s in streams}
        ahead = {s.index: int(JUMP_AHEAD_US / 1_000_000 / time_base(s)) for s in streams}
        anchors: list[tuple[int, int]] = []  # (arrival wall, presentation media us) of the warm-up's pictures
        cut_at_key = False  # the camera's clock jumped: the next keyframe starts a segment
        stale_rt: int | None = None  # the camera-clock reading from before a jump: no skew on it
        mono = mono_us()  # the last video packet's monotonic time
        warm_fixes: int | None = None  # counters["ts_fixes"] before the warm-up's first re-timing
        clock: RunClock | None = None
        warmup: list[tuple[VideoPacket | Sound, int, int | None]] = []  # (packet, arrival, media us) before the anchor
        warm_since: int | None = None
        reanchor = False
        drifted = was_over = False  # the media clock ran past MEDIA_DRIFT_US from monotonic time (per stats window)
        held: list[VideoPacket] = []  # a connection's first pictures without a decode time (libavformat's)
        depth = reorder_depth_of(source, video)  # B pictures: times made keep presentation order (design/0335)
        # Broken stamps: times made per GOP (0150), from the first picture where an earlier run found them (0335)
        gops = pl.gops = GopTimes(vstep, None, depth) if self._stamps_broken else None
        gop_key = None  # ... and the camera's decode time of the GOP's keyframe
        top = NEVER_SHOWN  # the greatest presentation time of the run's pictures so far (B pictures only)
        got_frame = False
        stats = StatsWindow(mono_us())
        samples, sample_us = self.samples, self.settings.sample_us
        if samples is not None:
            samples.new_run(video)
        if self.motion is not None:
            self.motion.new_run(video)
        arrival_us = source.arrival_us if isinstance(source, EdgedSource) else 0  # its low-water wait
        pl.new_run(sound.template, vstep_us, video.codec_context, arrival_us)
        # A thread's first run samples about one interval in, at its slot half an interval away or more: at a
        # restart every camera's keyframe at once would be decoded while the others still connect (design/0056,
        # 0561). After a reconnect, at once; without image checks, never.
        next_sample = NEVER if samples is None else 0 if self.counters["reconnects"] else \
            sample_budget.slot_us(mono_us() + sample_us // 2, sample_us, samples.phase)
        audio_codec = c.streams.audio[0].codec_context.name if c.streams.audio else None
        # Bound once per run, not looked up per packet (bench/record_throughput.py).
        stopped, now_us, monotonic_ns = self.stop.is_set, self.clock.now_us, time.monotonic_ns
        vindex = video.index
        place = pl.place if self.motion is None and self.mode != LIVE else None  # continuous: straight in
        # Each picture in one packet: a keyframe sent as several slices arrives as several (design/0060).
        # The edged reader hands whole access units (design/0079); FFmpeg's, joined and, over UDP, decoded (0319).
        packets: Iterator[Any] = pictures(c.demux(streams), source, video, self.id, self.counters, self.transport)
        for pkt in packets:
            if pkt is None:  # all that had come is recorded: the reader turns to its next camera
                yield
                continue
            if stopped():
                break
            size = pkt.size
            if size == 0:
                continue
            idx = pkt.stream.index
            is_video = idx == vindex
            dts, pts, prev = pkt.dts, pkt.pts, last[idx]
            if dts is None:
                if is_video and prev is None and len(held) < HELD_MAX:
                    held.append(pkt)
                    continue
                dts = pts
            shift = shifts[idx]
            if shift:  # the camera's clock jumped earlier in this run: its stamps move alike
                dts = None if dts is None else dts + shift
                pts = None if pts is None else pts + shift
            if gops is not None and is_video and dts is not None:  # broken stamps: times made per GOP (0150)
                pts, dts = self._made(gops, pkt, pts, dts)
                if gops.trusted:  # whole again for a GOP: its own times, moved alike, from this keyframe (issue 92)
                    shifts[idx] = shift = shift + gops.shift
                    gops = None
                    self._trusted()
            if dts is not None and (prev is None or prev < dts <= prev + ahead[idx]):
                problem = None  # the usual case, without retime's call
            else:  # design/0093: no stamp, one stamp for several pictures, or the camera's clock jumped
                if is_video and gops is None and dts is not None and prev is not None and dts <= prev \
                        and (gop_key is None or gop_key <= dts):  # alike, or back within its GOP, not a jump (0150)
                    gops = pl.gops = self._broken_times(vstep, prev, depth, top)
                    pts, dts = self._made(gops, pkt, pts, dts)
                tb = time_base(pkt.stream)
                elapsed = int((mono_us() - mono) / 1_000_000 / tb)
                fixed, problem = retime(dts, prev, vstep if is_video else (pkt.duration or 1), elapsed,
                                        ahead[idx], int(JUMP_BACK_US / 1_000_000 / tb))
                if problem == JUMP:
                    assert dts is not None  # a jump is between two stamps
                    moved = fixed - dts
                    shifts[idx] = shift + moved
                    pts = None if pts is None else pts + moved
                    self.counters["ts_jumps"] += 1
                    if is_video:
                        log.warning("camera %s: its clock jumped %+.1f s: every frame kept, cut at the next keyframe",
                                    self.id, -moved * tb, **logs.fields(camera=self.id))
                        cut_at_key = clock is not None
                        stale_rt = c.start_time_realtime
                elif problem:
                    if clock is None and warm_fixes is None:
                        warm_fixes = self.counters["ts_fixes"]
                    self.counters["ts_fixes"] += 1
                dts = fixed
            if pts is None or pts < dts:
                if pts is not None and gops is None and depth and prev is not None and pkt.is_keyframe and is_video:
                    # A B-frame camera's keyframe stamped back: its decode time, never back, after it (0335)
                    gops = pl.gops = self._broken_times(vstep, prev, depth, top)
                    pts, dts = self._made(gops, pkt, pts, dts)
                if pts is None or pts < dts:
                    if pts is not None and problem is None:
                        self.counters["ts_fixes"] += 1  # a picture before its own decode time (a reader's
                    pkt.pts = pts = dts                 # first pictures): re-timed, and counted
            elif shift or problem:
                pkt.pts = pts
            pkt.dts = dts
            last[idx] = dts
            if not is_video:
                stats.audio += 1
                for out in sound.feed(pkt):
                    if clock is None and warmup:
                        warmup.append((out, 0, None))
                    else:
                        pl.sound(out)
                continue

            media = dts * us_num // us_den
            if depth and pts > top:  # B pictures: the greatest presentation time written (times made from it)
                top = pts
            wall, mono = now_us(), monotonic_ns() // 1000
            if held:  # a frame apart before the first decode time; its pictures not before the first pts
                first = min([p.pts for p in held if p.pts is not None] + [pts]) - vstep
                for k, h in zip(range(len(held), 0, -1), held):
                    h.dts = dts - k * vstep
                    h.pts = h.pts if h.pts is not None and h.pts >= h.dts else max(first, h.dts)
                    gop_key = h.dts if h.is_keyframe else gop_key
                    warmup.append((h, wall - k * vstep_us, media - k * vstep_us))
                held.clear()
            if clock is None:
                if pkt.is_keyframe:
                    gop_key = dts
                warm_since = mono if warm_since is None else warm_since
                warmup.append((pkt, wall, media))
                # Anchored on presentation times: decode times lead by the reorder depth (design/0093)
                anchors.append((wall, pts * us_num // us_den))
                if mono - warm_since < WARMUP_US:
                    continue
                warm_since = None
                clock = RunClock(anchor_offset(anchors), wall, mono)
                anchors.clear()
                pl.fixes_from, warm_fixes = warm_fixes, None
                ended = pl.ended
                if ended is not None:  # a reconnect: not before the last run's end (design/0093)
                    same = ended[1] is not None and abs(clock.basis - ended[1]) <= CLOCK_STEP_US
                    first = min(m for _p, _a, m in warmup if m is not None)
                    clock.offset = after_last(clock.offset, first, ended[0], same)
                pl.basis, self.run_clock = clock.basis, clock  # its offset: a handover's too (handover.py)
                pl.last_key = wall
                self._state(RECORDING)
                stats = StatsWindow(mono)  # the first window starts here: the warm-up's frames are not counted
                got_frame = self._recorded = True
                for p, _a, m in warmup[:-1]:  # sound has no media time here (None): the entry says which
                    if m is None:
                        pl.sound(cast("Sound", p))
                    else:
                        pl.video(cast("VideoPacket", p), clock.wall(m))
                warmup.clear()
            elif clock.stepped(wall, mono):
                reanchor = True
            if reanchor and pkt.is_keyframe:
                self.counters["clock_steps"] += 1
                pl.close(clock.wall(media), "host clock step")
                clock, reanchor = clock.after_step(wall, mono), False
                pl.basis, self.run_clock = clock.basis, clock
            if drifted and pkt.is_keyframe:
                drifted = self._media_reanchor(clock, media, mono)
                clock = RunClock(wall - pts * us_num // us_den, wall, mono)  # on the picture's own time
                pl.basis, self.run_clock = clock.basis, clock
            at = media + clock.offset  # clock.wall(media)
            key = pkt.is_keyframe
            if cut_at_key and key:  # the camera's clock jumped: its frames since are in the last segment
                cut_at_key = False
                pl.close(at, "timestamp jump")
            sample = key and mono >= next_sample  # an image check is due (at a keyframe)
            if place is not None:
                pl.last_at = at
                place(pkt, at, key)
            else:
                pl.video(pkt, at)
                if key and self.motion is not None and self.motion.offer(pkt, at, samples if sample else None):
                    sample = False  # the detector decodes it and hands the picture on (design/0078)
                    assert samples is not None  # offer() is True only with `check`
                    next_sample = samples.next_due(next_sample, mono)
            stats.frames += 1  # counters; StatsWindow.key() only at a keyframe
            stats.bytes += size
            stats.last_wall = wall
            if key:
                stats.key(media)
                pl.last_key = wall
                gop_key = dts
            self.last_frame_us = wall
            if sample:
                assert samples is not None  # next_sample is NEVER without them
                samples.offer(pkt, at)
                # the worker's interval, to its CPU budget (design/0078), at the camera's phase of it (0561)
                next_sample = samples.next_due(next_sample, mono)
            if mono - stats.since >= STATS_EVERY_US:
                rt = c.start_time_realtime  # the camera's clock (RTCP sender report) at media time 0, on its own
                # stamps (not shifted; `pts`: the segment writer rebased pkt's), none from before a jump (0093)
                skew = rt + (pts - shifts[vindex]) * us_num // us_den - wall if rt and rt != stale_rt else None
                # Two windows in a row: a network stall that delays one burst is not a drift.
                over = abs(media_drift_us(clock, media, mono)) > MEDIA_DRIFT_US
                drifted, was_over = over and was_over, over
                self.emit(stats.report(self.id, video, pl.audio, self.counters, clock.lateness(media, wall),
                                       skew, audio_codec, transport=self.transport, reader=self.reader_shown(),
                                       no_keyframe_s=self._keyframe_missing(wall),
                                       media_reanchor_s=self._recent_reanchor(mono), size=pl.size,
                                       times_broken=gops is not None,
                                       **sound.report()))
                stats = StatsWindow(mono, stats)
        return got_frame

    def _broken_times(self, vstep: int, last: int, depth: int, top: int) -> GopTimes:
        """The camera stamped a picture alike or back within its GOP: from here to the end of the run
        its pictures' times are made per GOP, the camera's kept beside (design/0150), and from the
        first picture of each later run (design/0335); said once."""
        self._stamps_broken = True
        made = GopTimes(vstep, last, depth, None if top == NEVER_SHOWN else top)
        if self.placement.gops is not None:  # the open segment's pairs, made before the camera was trusted
            made.kept = self.placement.gops.kept
        if not self._said_times:
            self._said_times = True
            log.warning("camera %s: it stamps its pictures alike or out of order: the recorder writes its own "
                        "times (one frame apart, per GOP) and keeps the camera's beside them", self.id,
                        **logs.fields(camera=self.id))
        return made

    def _trusted(self) -> None:
        """The camera's stamps were whole for a GOP, and so is this keyframe's: its own times from
        here (the pairs made so far stay with the placement for the open segment's box), and from
        the first picture of the next run."""
        self._stamps_broken = False
        if self._said_trusted:
            return
        self._said_trusted = True
        log.info("camera %s: its pictures' stamps are whole again: the recorder writes the camera's own times",
                 self.id, **logs.fields(camera=self.id))

    def _made(self, gops: GopTimes, pkt: VideoPacket, pts: int | None, dts: int) -> tuple[int, int]:
        """One picture's made times, set on it; where they differ from the camera's, counted (the
        segment's `retimed` counts its entries of `gops.kept`, so a keyframe's is its own segment's)."""
        pts, dts, moved = gops.stamp(pts, dts, pkt.is_keyframe, pkt.pts)
        pkt.pts = pts
        if moved:
            self.counters["times_made"] += 1
        return pts, dts

    def reader_shown(self) -> str:
        """`edged`, `ffmpeg`, or `ffmpeg (fallback: why)` (edgectl cameras' READER)."""
        fallback = self.choice.fallback
        return f"{FFMPEG} (fallback: {fallback})" if self.reader == FFMPEG and fallback else self.reader

    def _media_reanchor(self, clock: RunClock, media: int, mono: int) -> bool:
        """The camera's media clock drifted from the host's past the bound: the segment ends
        here and the run is anchored again at this keyframe's arrival (design/0060)."""
        drift = media_drift_us(clock, media, mono)
        self.counters["media_reanchors"] += 1
        self._reanchored = (mono, round(drift / 1e6, 1))
        log.warning("camera %s: its media clock drifted %.1f s from the host's: re-anchored", self.id, drift / 1e6,
                    **logs.fields(camera=self.id))
        self.placement.close(clock.wall(media), "media clock drift")
        return False

    def _recent_reanchor(self, mono: int) -> float | None:
        """The drift (s) at the last re-anchor, while it is under REANCHOR_SHOWN_US old."""
        r = self._reanchored
        return r[1] if r is not None and mono - r[0] <= REANCHOR_SHOWN_US else None

    def _keyframe_missing(self, wall: int) -> float | None:
        """Seconds since the last keyframe once that is past the forced cut, else None."""
        age = wall - self.placement.last_key
        return round(age / 1e6, 1) if age >= FORCED_CUT_LENGTHS * self.settings.segment_us else None

    # the segment files (recorder/placement.py), as the handover and the tests reach them ------
    @property
    def seg(self) -> SegmentFile | None:
        return self.placement.seg

    @property
    def handover(self) -> Handover | None:
        return self.placement.handover

    @handover.setter
    def handover(self, value: Handover | None) -> None:
        self.placement.handover = value

    def _place(self, pkt: VideoPacket, wall: int, key: bool) -> None:
        self.placement.place(pkt, wall, key)

    def _close_segment(self, end_us: int | None, reason: str) -> None:
        self.placement.close(end_us, reason)
