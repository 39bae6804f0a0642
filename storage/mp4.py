"""Just enough of the MP4 box structure to cut a crashed fragmented MP4 back to its last
whole fragment, and to read what a segment holds.

What a segment holds is read by FFmpeg (PyAV), and FFmpeg can crash on bytes a crash or a
camera left: `scan_media` runs it in a short-lived process of its own (`python -m
storage.mp4 FILE`, design/0063), so such a file is a finding about that file (it is kept in
quarantine), never the end of the daemon, and then of its restart, in a loop.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import struct
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator, Sequence, cast

from storage.hevc import LEADING, OPENS_LEADING, RASL, nal_kind
from storage.hevc.hidden import hidden
from storage.hevc.rbsp import length_units

if TYPE_CHECKING:
    from fractions import Fraction

_HEADER = struct.Struct(">I4s")

# The camera's sound as it sent it (design/0094): each codec a segment stores byte for byte, and
# the FFmpeg muxer that writes it. The mp4 muxer holds AAC (`mp4a`) but refuses G.711, and writes
# L16 only as ISO's `ipcm`, which GStreamer 1.22 does not read; the mov muxer writes QuickTime's
# `alaw`, `ulaw` and `twos` sample entries, which ffprobe 5.1, VLC 3.0 and GStreamer read: the
# same fragmented boxes, branded `qt  `. Other sound is transcoded to AAC (design/0049).
SOUND_AS_SENT = {"aac": "mp4", "pcm_s16be": "mov", "pcm_alaw": "mov", "pcm_mulaw": "mov"}


# PCM sound (G.711, L16) in a plain (unfragmented) MP4 or mov is a table of samples one tick
# long each: a hole in the camera's sound closes up, and what follows it plays early. In
# fragments each packet keeps its own duration, so a file that holds PCM is written fragmented.
PCM_SOUND = frozenset({"pcm_s16be", "pcm_alaw", "pcm_mulaw"})


def muxer_for(audio_codec: str | None) -> str:
    """The FFmpeg muxer of a segment (or an export's clip) whose sound is `audio_codec`."""
    return SOUND_AS_SENT.get(audio_codec or "", "mp4")


@dataclass(frozen=True, slots=True)
class Whole:
    """How much of a file is whole: `end` bytes, holding `fragments` moof+mdat pairs."""

    end: int
    fragments: int
    finished: bool  # the trailer (mfra) was written: the muxer closed the file


def top_boxes(f: BinaryIO, size: int) -> Iterator[tuple[int, int, bytes]]:
    """(offset, size, kind) of each whole top-level box, up to the first that runs past the end;
    the file is left just after the box's header."""
    offset = 0
    while offset + 8 <= size:
        f.seek(offset)
        box_size, kind = _HEADER.unpack(f.read(8))
        if box_size == 1:
            if offset + 16 > size:
                return
            (box_size,) = struct.unpack(">Q", f.read(8))
        elif box_size == 0:
            box_size = size - offset
        if box_size < 8 or offset + box_size > size:
            return
        yield offset, box_size, kind
        offset += box_size


def whole_prefix(path: Path) -> Whole:
    """Walk the top-level boxes; stop at the first one that runs past the end of the file."""
    size = os.path.getsize(path)
    end = 0
    fragments = 0
    finished = False
    have_moov = False
    pending_moof = False
    with open(path, "rb") as f:
        for start, box_size, kind in top_boxes(f, size):
            offset = start + box_size
            if kind == b"moov":
                have_moov = True
                end = offset
            elif kind == b"moof":
                pending_moof = True
            elif kind == b"mdat" and pending_moof and have_moov:
                pending_moof = False
                fragments += 1
                end = offset
            elif kind == b"mfra":
                finished = True
                end = offset
            elif kind == b"ftyp" and end == 0:
                end = offset
            elif finished:  # after the trailer: the camera's own times (design/0150), written at the close
                end = offset
    return Whole(end=end if have_moov else 0, fragments=fragments, finished=finished)


class Limited(io.RawIOBase):
    """A file read only up to `end`: a truncated fragmented MP4's whole fragments."""

    def __init__(self, path: Path, end: int):
        self._f = open(path, "rb")  # noqa: SIM115 - closed with this reader
        self._end = end

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        left = self._end - self._f.tell()
        if left <= 0:
            return 0
        view = memoryview(b)[:left]
        return self._f.readinto(view)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            return self._f.seek(self._end + offset)
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()
        super().close()


def whole_boxes_end(path: Path) -> int:
    """Where the last whole top-level box ends: the file's size when none runs past its end (an
    MP4 copied whole), less when its end is missing (a truncated copy, issue 76)."""
    with open(path, "rb") as f:
        return max((start + box_size for start, box_size, _kind in top_boxes(f, os.path.getsize(path))), default=0)


def starts_as_mp4(path: Path) -> bool:
    """The file begins with an ISO base media `ftyp` box (MP4, MOV, 3GP): how a truncated MP4 is
    told from a file that is no media at all."""
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[4:8] == b"ftyp"


def header_only(path: Path) -> bool:
    """The file is a segment's header and nothing else (ftyp and moov, no byte of a fragment): what a
    kill leaves when it comes as a segment opens, before its first fragment. It holds no picture."""
    whole = whole_prefix(path)
    return whole.end > 0 and whole.fragments == 0 and whole.end == os.path.getsize(path)


def cut_to_whole(path: Path) -> Whole:
    """Truncate a crashed segment to its last whole fragment (no-op for a finished file)."""
    whole = whole_prefix(path)
    if os.path.getsize(path) != whole.end:
        os.truncate(path, whole.end)
    return whole


# The camera's own picture times where the recorder wrote others (design/0150): one top-level
# `uuid` box after the trailer, its payload JSON: {"time_base": "1/90000", "pictures": [[pts in
# the file, the camera's pts], ...]}. Players skip a box they do not know.
CAMERA_TIMES_UUID = bytes.fromhex("6564676564a0415f8a10c0a3e1d70150")


def camera_times_box(time_base: Fraction, pictures: list[tuple[int, int]]) -> bytes:
    body = json.dumps({"time_base": f"{time_base.numerator}/{time_base.denominator}",
                       "pictures": [list(p) for p in pictures]}, separators=(",", ":")).encode()
    return _HEADER.pack(8 + 16 + len(body), b"uuid") + CAMERA_TIMES_UUID + body


def camera_times(path: Path) -> dict[str, object] | None:
    """The camera's own picture times a segment keeps (camera_times_box), or None."""
    with open(path, "rb") as f:
        for start, box_size, kind in top_boxes(f, os.path.getsize(path)):
            if kind == b"uuid" and f.read(16) == CAMERA_TIMES_UUID:
                return cast("dict[str, object]", json.loads(f.read(start + box_size - f.tell())))
    return None


@dataclass(frozen=True, slots=True)
class MediaInfo:
    duration_us: int
    frames: int
    codec: str
    width: int
    height: int
    audio: bool


SCAN_TIMEOUT_S = 120.0       # a demux of one segment takes well under a second
SCAN_MEMORY = 1 << 30        # and far less than this address space


class ScanFailed(ValueError):
    """The media parser could not read the file, or died reading it."""


def scan_media(path: Path) -> MediaInfo:
    """Demux (no decoding) to learn the length and frame count of a segment, in a process of
    its own; ScanFailed says why not."""
    try:
        r = subprocess.run([sys.executable, "-m", "storage.mp4", str(path)], capture_output=True, text=True,
                           timeout=SCAN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ScanFailed(f"the media parser took over {SCAN_TIMEOUT_S:.0f} s on it") from None
    if r.returncode < 0:
        raise ScanFailed(f"the media parser crashed on it ({signal.Signals(-r.returncode).name})")
    if r.returncode != 0:
        raise ScanFailed(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit status {r.returncode}")
    return MediaInfo(**json.loads(r.stdout))


def _hevc_kind(sample: bytes) -> int | None:
    """The NAL unit type of an MP4 sample's first H.265 slice (4-byte lengths), None if none."""
    return next((kind for nal in length_units(sample) if nal and (kind := nal_kind(nal)) < 32), None)


def tail_copy(sample: bytes) -> bool:
    """Whether this H.265 MP4 sample (4-byte lengths) is the copy of the next segment's CRA that no decoder
    outputs (design/0543): its segment's own pictures end before it; after it come the RASL pictures the
    next file holds too. A reader that joins segments leaves it and the video after it out."""
    return _hevc_kind(sample) in OPENS_LEADING and hidden(sample, lengths=True)


def own_pictures(samples: Sequence[Any]) -> int:
    """How many of an H.265 file's video samples (in decode order) are its own: all but a display tail at
    its end, the copy of the next file's CRA (`tail_copy`) and the RASL pictures after it (design/0543)."""
    n = len(samples)
    while n and _hevc_kind(bytes(samples[n - 1])) in RASL:
        n -= 1
    return n - 1 if n and tail_copy(bytes(samples[n - 1])) else len(samples)


def scan_here(path: Path) -> MediaInfo:
    """scan_media in this process: only ever in the short-lived one."""
    import av  # here only: the daemon never loads FFmpeg to read a segment

    with av.open(str(path)) as c:
        video = c.streams.video[0]
        tb = cast("Fraction", video.time_base)  # a video stream has one
        frames = 0
        end = 0
        first = None
        # H.265 opened at a CRA: the RASL pictures after it are not shown by a decoder that starts
        # here, and are not counted (as the recorder counts them: design/0442); nor is the copy of the
        # next file's CRA that no decoder outputs, before the RASL pictures this file shows (design/0543)
        hevc = leading = video.codec_context.name == "hevc"
        for pkt in c.demux(video):
            if pkt.dts is None:
                continue
            if hevc:
                sample = bytes(pkt)
                kind = _hevc_kind(sample)
                if frames == 0:
                    leading = kind in OPENS_LEADING
                elif leading and kind in RASL:
                    continue
                else:
                    leading = leading and kind in LEADING
                if frames and tail_copy(sample):
                    continue
            frames += 1
            if first is None:
                first = pkt.dts
            end = max(end, pkt.dts + (pkt.duration or 0))
        duration = int((end - (first or 0)) * tb * 1_000_000) if frames else 0
        ctx = video.codec_context
        return MediaInfo(duration, frames, ctx.name, ctx.width, ctx.height, bool(c.streams.audio))


def main(argv: list[str]) -> int:
    """`python -m storage.mp4 FILE`: one segment's MediaInfo as JSON on stdout."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (SCAN_MEMORY if hard == resource.RLIM_INFINITY else min(SCAN_MEMORY, hard), hard))
    crash = os.environ.get("EDGED_TEST_CRASH_SCAN")  # tests only: a file FFmpeg would die on
    if crash and Path(argv[0]).name == crash:
        os.kill(os.getpid(), signal.SIGSEGV)
    try:
        info = scan_here(Path(argv[0]))
    except Exception as exc:  # noqa: BLE001 - said to the parent, which decides
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(info)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
