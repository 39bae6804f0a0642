"""One segment file: packets remuxed (never decoded) into fragmented MP4.

Fragments are cut by duration as well as at keyframes, so a crash loses at most about one
fragment (measured after `kill -9` ~7 s into a segment: a fragmented MP4 plays up to its last
whole fragment, a plain MP4 not at all); each fragment is written to the kernel as soon as
the muxer finishes it, and made durable right after by the worker's durability thread
(recorder/durability.py, design/0052, 0061). The muxer writes through
`HashingFile`, which hashes the bytes as they are written (design/0053), so a closed segment
is not read back to be hashed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias, cast

from recorder.durability import Durability, Synced
from storage.disk.fsutil import PRIVATE_FILE, private_dir
from storage.lazy import lazy_import
from storage.mp4 import camera_times_box, muxer_for

if TYPE_CHECKING:
    import av
    from av.audio.stream import AudioStream
    from av.video.stream import VideoStream

    from recorder.audio import AacSpec
else:
    av = lazy_import("av")  # the daemon imports this module; PyAV loads with a segment's muxer (design/0286)

# A camera's picture, and its sound as a segment takes it: the camera's packet remuxed as it came
# (AAC, G.711, L16: design/0094), or frames the segment's own encoder turns into AAC
# (recorder/audio.py's Transcoder, for other sound).
VideoPacket: TypeAlias = "av.Packet[VideoStream]"
Sound: TypeAlias = "av.Packet[AudioStream] | av.AudioFrame"

# The muxer's I/O buffer. It flushes at each fragment's end (`flush_packets`), in buffers of this
# size, which HashingFile gathers into one write per fragment (issue 33 item 3: writes per
# fragment, not per buffer). It was 1 MiB, so that a fragment fit one buffer: 1 MiB a camera.
AVIO_BUFFER = 1 << 16
IOV_MAX = 1024  # buffers per pwritev (Linux's limit)
# The MP4 muxer's options (the mov muxer's too, for G.711 and L16 sound: storage/mp4.py
# `muxer_for`), plus `frag_duration` (the fragment length); bench/record_throughput.py's
# PyAV floor muxes with the same.
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}
# Where a durability pass follows each fragment (design/0061), the muxer cuts fragments this much
# short of `fragment_length` (and one picture more, as it cuts at the first picture past its
# duration), so that a fragment plus its arrival, the pass's gather window and its fdatasync fit
# in `fragment_length`: what a power cut loses. Measured, those took <= 32 ms (bench/power_cut).
SYNC_HEADROOM_US = 150_000


def muxer_fragment_us(fragment_us: int, frame_us: int, arrival_us: int = 0) -> int:
    """The muxer's `frag_duration` for a configured `fragment_length`, a durability pass
    following each fragment. The muxer ends a fragment at the first picture whose decode time
    is `frag_duration` or more past the fragment's first, so a fragment covers less than
    `frag_duration` + one picture: this keeps that within `fragment_length - SYNC_HEADROOM_US`.
    Never below half the length (a short `fragment_length` keeps fragments of some pictures).
    `arrival_us`: how long the reader may hold a picture that has arrived before the muxer sees
    it (the edged reader's low-water wait, recorder/edged_source.py READ_WAIT_US)."""
    return max(_room_us(fragment_us, frame_us, arrival_us), fragment_us // 2)


def _room_us(fragment_us: int, frame_us: int, arrival_us: int) -> int:
    """What a fragment leaves the muxer once a picture's arrival, its length and the sync are taken off."""
    return fragment_us - SYNC_HEADROOM_US - arrival_us - frame_us + 1


def picture_step(rate: Fraction | int, tb: Fraction) -> tuple[int, int]:
    """One picture's length at frame rate `rate` in time base `tb`: (ticks, us), as the record loop
    reckons it (recorder/camera.py) and the edged reader's turns apart (turns_apart) do."""
    ticks = max(1, round(1 / (rate * tb)))
    return ticks, int(ticks * tb * 1_000_000)


# The edged reader's cameras are read every turn of the worker's reader, or every other turn where their
# fragments allow it (design/0552): a camera's read costs about 40 us of CPU a turn beside its pictures.
TURNS_APART_MOST = 2


def turns_apart(fragment_us: int, frame_us: int, turn_us: int, most: int = TURNS_APART_MOST) -> int:
    """How many of the worker reader's turns apart a camera's reads may be (design/0552): the most, up to
    `most`, whose wait (that many turns, `arrival_us` of muxer_fragment_us) leaves the muxer's fragment above
    its floor, so that a fragment, its arrival and its sync still fit in `fragment_length` (design/0061);
    1 where they would not (a low frame rate, a short `fragment_length`), as every camera was read before."""
    for apart in range(most, 1, -1):
        if _room_us(fragment_us, frame_us, apart * turn_us) >= fragment_us // 2:
            return apart
    return 1


def _ticks(us: int, tb: Fraction) -> int:
    return round(Fraction(us, 1_000_000) / tb)


def provenance(site: str, node: str, camera: str, start_us: int) -> dict[str, str]:
    """MP4 metadata naming the file's origin, so a copied segment still says where and when it
    was recorded (two cameras on one stream no longer give byte-identical files). Standard
    keys (title, comment, creation_time), which players and ffprobe show; playback unchanged."""
    start = datetime.fromtimestamp(start_us / 1e6, timezone.utc)
    iso = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start_us % 1_000_000:06d}Z"
    who = {"site": site, "node": node, "camera": camera, "start_us": start_us}
    return {"title": f"{site}/{node}/{camera} {iso}",
            "comment": "edged " + json.dumps(who, sort_keys=True, ensure_ascii=False), "creation_time": iso}


class Timed(Protocol):
    @property
    def time_base(self) -> Fraction | None: ...


def time_base(stream: Timed) -> Fraction:
    """A stream's time base. PyAV's stubs say it may be None, which it is only for a stream
    not yet opened: a demuxed stream, a muxer's and an AacSpec always have one."""
    tb = stream.time_base
    assert tb is not None, "a stream without a time base"
    return tb


class HashingFile:
    """The muxer's output file: writes each buffer at its offset and feeds it to SHA-256 as
    it goes. The fragmented MP4 muxer only appends (empty moov first, fragments, then the mfra;
    box sizes it patches are patched inside its buffer before the write), but should a write
    ever land on bytes already hashed, or leave a hole, `sha256()` says None and the hasher
    reads the file back instead (tests/test_segment_hash.py).

    `gather`: the muxer's buffers are kept until `flush()` and written with one `pwritev`, so
    its I/O buffer can be small (AVIO_BUFFER) and a fragment is still one write (the segment
    writer flushes after each packet it muxes: a fragment is written inside one `mux`)."""

    __slots__ = ("fd", "pos", "end", "_h", "rewrote", "synced", "gather", "_pending", "_pending_at")

    def __init__(self, fd: int, synced: Synced | None, gather: bool = False):
        self.fd = fd
        self.pos = 0
        self.end = 0
        self._h = hashlib.sha256()
        self.rewrote = False
        self.synced = synced  # marked dirty for the durability thread; its failure surfaces here
        self.gather = gather
        self._pending: list[bytes] = []
        self._pending_at = 0

    def write(self, data: bytes) -> int:
        size = len(data)
        if self.gather:
            if not self._pending:
                self._pending_at = self.pos
            self._pending.append(data)
        else:
            self._put([data], self.pos, size)
        self.pos += size
        return size

    def flush(self) -> None:
        """Write what `gather` kept (nothing to do without it)."""
        if self._pending:
            pieces, self._pending = self._pending, []
            self._put(pieces, self._pending_at, sum(map(len, pieces)))

    def _put(self, pieces: list[bytes], pos: int, size: int) -> None:
        synced = self.synced
        if synced is not None and synced.error is not None:
            raise synced.error
        views = [memoryview(p) for p in pieces]
        done = 0
        while done < size:  # FFmpeg ignores a short count: write it all or raise
            n = os.pwritev(self.fd, views[:IOV_MAX], pos + done)
            done += n
            while views and n >= len(views[0]):
                n -= len(views.pop(0))
            if n:
                views[0] = views[0][n:]
        if pos == self.end:
            for p in pieces:
                self._h.update(p)
        else:
            self.rewrote = True
        if pos + size > self.end:
            self.end = pos + size
        if synced is not None:
            synced.written_ns = time.monotonic_ns()
            if not synced.dirty:  # the first write since the last pass: wake it (the rest of the
                synced.dirty = True  # fragment's buffers join that pass, design/0061)
                if synced.wake is not None:
                    synced.wake()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self.flush()
        if whence == os.SEEK_CUR:
            offset += self.pos
        elif whence == os.SEEK_END:
            offset += self.end
        self.pos = offset
        return offset

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        """PyAV calls it when the container closes; the descriptor is the SegmentFile's."""

    def sha256(self, size: int) -> str | None:
        """The digest of the file if every one of its `size` bytes was hashed in order."""
        return None if self.rewrote or size != self.end else self._h.hexdigest()


class SegmentFile:
    def __init__(self, path: Path, video: VideoStream, audio: AudioStream | AacSpec | None,
                 origin_us: int, fragment_us: int, metadata: dict[str, str] | None = None,
                 durability: Durability | None = None, frame_us: int = 0, arrival_us: int = 0):
        private_dir(path.parent)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
        st = os.fstat(self._fd)
        self.file_id = (st.st_dev, st.st_ino)  # the hasher checks the path still names this file
        # The folder by handle, not by name: if the disk goes away mid-segment, closing still
        # makes the file durable on the disk it was written to (design/0023).
        self._dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        # Without a durability thread (tests, tools) the file is made durable at close only.
        self._synced = durability.register(self._fd, self._dir_fd) if durability is not None else None
        self._file = HashingFile(self._fd, self._synced, gather=True)
        self.sha256: str | None = None  # after close: the digest of the bytes written, None if unknown
        self._frame_us = frame_us
        if self._synced is not None and self._synced.wake is not None:  # a pass follows each fragment
            fragment_us = muxer_fragment_us(fragment_us, frame_us, arrival_us)
        self.muxer_fragment_us = fragment_us
        try:
            self._open(video, audio, origin_us, fragment_us, metadata)
        except BaseException:
            self._release()
            raise
        self.frames = 0

    def _open(self, video: VideoStream, audio: AudioStream | AacSpec | None, origin_us: int, fragment_us: int,
              metadata: dict[str, str] | None) -> None:
        # G.711 and L16 are stored as sent in QuickTime's sample entries, which the mov muxer writes
        sound = audio.codec_context.name if isinstance(audio, av.AudioStream) else None
        self._out = av.open(self._file, "w", format=muxer_for(sound), buffer_size=AVIO_BUFFER,
                            options={**FRAGMENTED_MP4, "frag_duration": str(fragment_us)})
        for key, value in (metadata or {}).items():  # written in the moov, before the first fragment
            self._out.metadata[key] = value
        # The audio template may be a stream of another container (the AAC encoder's,
        # recorder/audio.py), whose index says nothing here.
        self._vdst = self._out.add_stream_from_template(video)
        self._vtb = time_base(video)  # the camera stream's: the ticks the record loop stamps in
        self._vorigin = _ticks(origin_us, self._vtb)
        self._adst: AudioStream | None = None
        self._aorigin = 0
        self._encodes = hasattr(audio, "add_to")
        if audio is not None:
            # a stream is remuxed; an AacSpec (recorder/audio.py) is encoded here, from frames
            self._adst = audio.add_to(self._out) if hasattr(audio, "add_to") else \
                self._out.add_stream_from_template(audio)
            self._aorigin = _ticks(origin_us, time_base(audio))
        # Sound waits for the pictures to pass it (design/0049): a camera interleaves its streams
        # loosely, and sound written as it comes ran past the segment's last picture, into the
        # next segment's time (a 3.0 s segment played 3.15 s).
        self._audio_ratio = time_base(audio) / time_base(video) if audio is not None else None
        self._held: deque[tuple[int, Sound]] = deque()  # (video ticks after origin, sound)
        self._vdts = -1  # the last picture written, in video ticks after the origin
        self._vlast: VideoPacket | None = None
        self._frame_ticks = max(_ticks(self._frame_us, time_base(video)), 1)  # a picture's length, if packets carry none

    def _release(self) -> None:
        if self._synced is not None:
            self._synced.release()
        os.close(self._fd)
        os.close(self._dir_fd)

    def write_video(self, pkt: VideoPacket) -> None:
        """The per-packet path (recorder/camera.py): no lookup, no type test."""
        dts = pkt.dts
        assert dts is not None  # the camera thread stamps every packet (timeline.fix_dts)
        origin = self._vorigin
        dts -= origin
        if dts < 0:
            return
        pts = pkt.pts
        assert pts is not None  # ... and its pts, never before its dts
        pkt.pts = pts - origin
        pkt.dts = dts
        pkt.stream = self._vdst
        self._out.mux(pkt)
        self.frames += 1
        self._vdts, self._vlast = dts, pkt
        held = self._held
        while held and held[0][0] < dts:
            self._write_audio(held.popleft()[1])
        self._file.flush()

    def write(self, pkt: VideoPacket | Sound, is_video: bool) -> None:
        if is_video:  # which stream a packet is of is the caller's flag, not a type PyAV's stubs could tell
            self.write_video(cast(VideoPacket, pkt))
            return
        sound = cast(Sound, pkt)
        pts, ratio = sound.pts, self._audio_ratio
        assert pts is not None and ratio is not None  # stamped sound, and a segment with a sound track
        at = round(pts * ratio) - self._vorigin
        if at < self._vdts and not self._held:
            self._write_audio(sound)
            self._file.flush()
        else:
            self._held.append((at, sound))

    def _write_audio(self, pkt: Sound) -> None:
        dst, origin = self._adst, self._aorigin
        assert dst is not None  # sound is written only to a segment with a sound track
        if isinstance(pkt, av.AudioFrame):
            self._encode(pkt, dst, origin)
            return
        dts = pkt.dts
        assert dts is not None  # the camera thread stamps every packet (timeline.fix_dts)
        dts -= origin
        if dts < 0:  # audio from before the keyframe that opened this segment
            return
        pts = pkt.pts
        assert pts is not None  # ... and its pts, never before its dts
        pkt.pts = pts - origin
        pkt.dts = dts
        pkt.stream = dst
        self._out.mux(pkt)

    def _encode(self, frame: av.AudioFrame | None, dst: AudioStream, origin: int) -> None:
        """Transcoded sound: frames from before the segment's first picture are dropped, as
        remuxed audio is; so is the encoder's priming packet (it would sit before it too)."""
        if frame is not None:
            pts = frame.pts
            assert pts is not None  # the Transcoder times every frame it hands on
            if pts < origin:
                return
            frame.pts = pts - origin
        for pkt in dst.encode(frame):
            if pkt.dts is not None and pkt.dts >= 0:
                self._out.mux(pkt)

    def leftover_audio(self) -> list[Sound]:
        """The sound held past the last picture when the segment closed: the next segment's."""
        return [item for _at, item in self._held]

    def _flush_audio(self) -> None:
        """At the close: the sound that starts before the last picture ends (so a segment's
        sound runs past its pictures by less than one audio frame); the rest stays held."""
        last = self._vlast
        if last is None:
            return
        end = self._vdts + (last.duration or self._frame_ticks)
        held = self._held
        while held and held[0][0] < end:
            self._write_audio(held.popleft()[1])

    @property
    def first_dts(self) -> int:
        """The decode time of the segment's first picture (its origin), in the camera stream's ticks."""
        return self._vorigin

    @property
    def last_dts(self) -> int:
        """The decode time of the last picture written, in the camera stream's ticks."""
        return self._vdts + self._vorigin

    def close(self, camera_times: list[tuple[int, int]] | None = None) -> int:
        """Write the trailer, make file and name durable; returns the size in bytes and sets
        `sha256` (None if the bytes on disk are not exactly those hashed as written).
        `camera_times`: (written pts, the camera's pts) of pictures whose times the recorder made
        (design/0150), kept after the trailer in a box of their own (storage/mp4.py)."""
        try:
            if self._held:
                self._flush_audio()
            if self._encodes and self._adst is not None:
                self._encode(None, self._adst, self._aorigin)  # the sound up to the cut, its last frame padded
            self._out.close()
            if camera_times:  # after the trailer, the file's own end (design/0150)
                self._file.seek(0, os.SEEK_END)
                self._file.write(camera_times_box(self._vtb, [(w - self._vorigin, c) for w, c in camera_times]))
            self._file.flush()
            os.fsync(self._fd)
            os.fsync(self._dir_fd)
            size = os.fstat(self._fd).st_size
            self.sha256 = self._file.sha256(size)
            return size
        finally:
            self._release()
