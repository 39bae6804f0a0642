"""One segment file: packets remuxed (never decoded) into fragmented MP4.

Fragments are cut by duration as well as at keyframes, so a crash loses at most about one
fragment (measured after `kill -9` ~7 s into a segment: a fragmented MP4 plays up to its last
whole fragment, a plain MP4 not at all); each fragment is flushed to the kernel
as soon as the muxer finishes it, and fsynced on the configured interval.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from storage.fsutil import PRIVATE_FILE, private_dir


def _ticks(us: int, tb: Fraction) -> int:
    return round(Fraction(us, 1_000_000) / tb)


class SegmentFile:
    def __init__(self, path: Path, video: av.stream.Stream, audio: av.stream.Stream | None,
                 origin_us: int, fragment_us: int, fsync_us: int, now_mono_us: int,
                 metadata: dict[str, str] | None = None):
        private_dir(path.parent)
        self.path = path
        # Created here (PyAV creates it only at the first write) so fsync has a handle now.
        self._fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        st = os.fstat(self._fd)
        self.file_id = (st.st_dev, st.st_ino)  # the hasher checks the path still names this file
        # The folder by handle, not by name: if the disk goes away mid-segment, closing still
        # makes the file durable on the disk it was written to (design/0023).
        self._dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        self._out = av.open(str(path), "w", format="mp4", options={
            "movflags": "frag_keyframe+empty_moov+default_base_moof",
            "frag_duration": str(fragment_us),
            "flush_packets": "1",
        })
        for key, value in (metadata or {}).items():  # written in the moov, before the first fragment
            self._out.metadata[key] = value
        # Keyed by "is video": the audio template may be a stream of another container (the
        # AAC encoder's, recorder/audio.py), whose index says nothing here.
        self._map: dict[bool, tuple[av.stream.Stream, int]] = {}
        self._encodes = hasattr(audio, "add_to")
        for is_video, src in ((True, video), (False, audio)):
            if src is not None:
                # a stream is remuxed; an AacSpec (recorder/audio.py) is encoded here, from frames
                dst = src.add_to(self._out) if hasattr(src, "add_to") else self._out.add_stream_from_template(src)
                self._map[is_video] = (dst, _ticks(origin_us, src.time_base))
        self._fsync_us = fsync_us
        self._last_fsync = now_mono_us
        self._dir_synced = False
        self.frames = 0

    def write(self, pkt: av.Packet | av.AudioFrame, is_video: bool) -> None:
        dst, origin = self._map[is_video]
        if isinstance(pkt, av.AudioFrame):
            self._encode(pkt, dst, origin)
            return
        dts = pkt.dts - origin
        if dts < 0:  # audio from before the keyframe that opened this segment
            return
        pkt.pts = pkt.pts - origin
        pkt.dts = dts
        pkt.stream = dst
        self._out.mux(pkt)
        if is_video:
            self.frames += 1

    def _encode(self, frame: av.AudioFrame | None, dst: av.stream.Stream, origin: int) -> None:
        """Transcoded sound: frames from before the segment's first picture are dropped, as
        remuxed audio is; so is the encoder's priming packet (it would sit before it too)."""
        if frame is not None:
            if frame.pts < origin:
                return
            frame.pts -= origin
        for pkt in dst.encode(frame):
            if pkt.dts is not None and pkt.dts >= 0:
                self._out.mux(pkt)

    def maybe_fsync(self, now_mono_us: int) -> None:
        if now_mono_us - self._last_fsync < self._fsync_us:
            return
        self._last_fsync = now_mono_us
        os.fsync(self._fd)
        if not self._dir_synced:  # the new name must survive a power cut too
            os.fsync(self._dir_fd)
            self._dir_synced = True

    def close(self) -> int:
        """Write the trailer, make file and name durable; returns the size in bytes."""
        try:
            if self._encodes:
                self._encode(None, *self._map[False])  # the sound up to the cut, its last frame padded
            self._out.close()
            os.fsync(self._fd)
            os.fsync(self._dir_fd)
            return os.fstat(self._fd).st_size
        finally:
            os.close(self._fd)
            os.close(self._dir_fd)
