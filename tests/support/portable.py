"""Files as portable cameras write them (issue 76), made by ffmpeg: an MP4 with its creation time and
its device's model, an H.265 MOV with G.711 sound, a fragmented MP4 and a plain one cut short, open
GOPs, a file trimmed behind an edit list, one cut to two edits, an AVCHD .MTS with AC-3 sound, an iPhone's
rotated `hvc1` MOV, a phone's variable frame rate, 4K, two recordings joined into one file, a dashcam's .ts
(AAC in ADTS), a transport stream copied from mid-GOP, a raw .h264 export, a video edged does not remux (MPEG-4 Part 2), and a file that is
no media at all."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

TESTSRC = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15"]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=300)


def body_camera(path: Path, seconds: int = 25, created: str = "2015-01-01T08:00:00Z", model: str = "BWC-7X") -> Path:
    """H.264 and AAC, creation_time and model in the file's metadata (as a camcorder writes them)."""
    _ffmpeg(*TESTSRC, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", str(seconds),
            "-c:v", "libx264", "-g", "15", "-pix_fmt", "yuv420p", "-c:a", "aac", "-metadata", f"creation_time={created}",
            "-metadata", f"model={model}", "-movflags", "+use_metadata_tags", str(path))
    return path


def matroska(path: Path, seconds: int = 6) -> Path:
    """H.264 with B pictures (x264's defaults) and AAC in Matroska, which stores no decoding times."""
    _ffmpeg(*TESTSRC, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", str(seconds),
            "-c:v", "libx264", "-g", "15", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path


def hevc_tagged(path: Path, tag: str = "hvc1", seconds: int = 3) -> Path:
    """H.265 in an MP4 whose sample entry is `tag` (a phone writes hvc1, parameter sets in the entry)."""
    _ffmpeg(*TESTSRC, "-t", str(seconds), "-c:v", "libx265", "-x265-params", "log-level=error", "-g", "15",
            "-tag:v", tag, str(path))
    return path


def hevc_g711(path: Path, seconds: int = 8) -> Path:
    """H.265 with G.711 mu-law sound in a MOV, no creation time."""
    _ffmpeg(*TESTSRC, "-f", "lavfi", "-i", "sine=sample_rate=8000", "-t", str(seconds), "-c:v", "libx265",
            "-x265-params", "log-level=error", "-g", "15", "-c:a", "pcm_mulaw", "-f", "mov", str(path))
    return path


def open_gop(path: Path, seconds: int = 12, fps: int = 30) -> Path:
    """H.264 with B pictures and open GOPs at 30 pictures a second (as many camcorders write): the pictures
    decoded after each keyframe but shown before it."""
    _ffmpeg("-f", "lavfi", "-i", f"testsrc=size=320x240:rate={fps}", "-f", "lavfi", "-i",
            "sine=frequency=440:sample_rate=48000", "-t", str(seconds), "-c:v", "libx264", "-g", str(fps),
            "-x264-params", "open-gop=1", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path


def avchd(path: Path, seconds: int = 6) -> Path:
    """An AVCHD camcorder's .MTS: H.264 and AC-3 (Dolby Digital) sound in an MPEG transport stream."""
    _ffmpeg(*TESTSRC, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
            "-c:v", "libx264", "-g", "15", "-pix_fmt", "yuv420p", "-c:a", "ac3", "-f", "mpegts", str(path))
    return path


def trimmed(path: Path, seconds: int = 10, skip: str = "0.4") -> Path:
    """H.264 with B pictures and AAC at 30 pictures a second, trimmed on a device by `ffmpeg -ss 0.4 -c copy`:
    the first GOP's pictures before the cut stay in the file behind an edit list, stored, never shown."""
    whole = path.with_name(path.stem + "-whole.mp4")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-f", "lavfi", "-i",
            "sine=frequency=440:sample_rate=48000", "-t", str(seconds), "-c:v", "libx264", "-g", "30",
            "-pix_fmt", "yuv420p", "-c:a", "aac", str(whole))
    _ffmpeg("-ss", skip, "-i", str(whole), "-c", "copy", str(path))
    whole.unlink()
    return path


def two_edits(path: Path, first_s: float = 2, skip_to_s: float = 5.5, then_s: float = 3) -> Path:
    """H.264 with B pictures at 30 pictures a second whose edit list has two edits, as an editor's cut without
    re-encoding writes it: the file's first `first_s` seconds, then from `skip_to_s` (mid-GOP: the pictures from
    its keyframe on are decoded, not shown) for `then_s` seconds. The one edit ffmpeg writes is rewritten in
    place (its moov is at the end, so no sample's offset moves)."""
    whole = path.with_name(path.stem + "-whole.mp4")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", str(first_s + skip_to_s + then_s),
            "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p", "-video_track_timescale", "15360", str(whole))
    body = bytearray(whole.read_bytes())
    whole.unlink()
    at = body.find(b"elst") - 4
    size, _, _, count = struct.unpack_from(">I4sII", body, at)
    assert (size, count) == (28, 1), "ffmpeg's one edit"
    delay = struct.unpack_from(">i", body, at + 20)[0]   # the B pictures' delay, in the track's 1/15360 s
    edits = struct.pack(">IiIIiI", int(first_s * 1000), delay, 0x10000, int(then_s * 1000),
                        delay + int(skip_to_s * 15360), 0x10000)
    body[at:at + size] = struct.pack(">I4sII", size + 12, b"elst", 0, 2) + edits
    for box in (b"edts", b"trak", b"moov"):   # each box around it 12 bytes longer
        where = body.rfind(box, 0, at) - 4
        struct.pack_into(">I", body, where, struct.unpack_from(">I", body, where)[0] + 12)
    path.write_bytes(bytes(body))
    return path


def rotated_iphone(path: Path, seconds: int = 2, rotate: int = 90) -> Path:
    """As an iPhone held upright writes: H.265 under `hvc1` with AAC in QuickTime, its track header's matrix
    turning the picture by `rotate` degrees (the stream's display matrix), its model and creation time in
    Apple's keys. Encoded, then copied with the rotation (FFmpeg 5.1 writes the matrix on a copy)."""
    plain = path.with_name(path.stem + "-plain.mov")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-f", "lavfi", "-i",
            "sine=frequency=440:sample_rate=44100", "-t", str(seconds), "-c:v", "libx265", "-x265-params",
            "log-level=error", "-g", "30", "-tag:v", "hvc1", "-c:a", "aac", "-f", "mov", str(plain))
    _ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", "-metadata",
            "com.apple.quicktime.model=iPhone 12", "-metadata", "creation_time=2026-03-01T09:30:00Z",
            "-movflags", "+use_metadata_tags", "-f", "mov", str(path))
    plain.unlink()
    return path


def variable_rate(path: Path, seconds: int = 3) -> Path:
    """A phone's variable frame rate: H.264 with B pictures and AAC, 30 pictures a second for the first second,
    then 20 (the light fell), each picture's time off the grid by up to 4 ms, in a 1/90000 s time base: no
    two steps alike, as a phone stamps each picture when its sensor read it."""
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-f", "lavfi", "-i",
            "sine=frequency=440:sample_rate=44100", "-t", str(seconds), "-c:v", "libx264", "-g", "30",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-vf",
            "settb=1/90000,setpts='(if(lt(N,30),N/30,1+(N-30)/20)+0.004*sin(N*7))/TB'", "-fps_mode", "vfr",
            "-enc_time_base:v", "1/90000", "-video_track_timescale", "90000", str(path))
    return path


def uhd(path: Path, seconds: int = 1) -> Path:
    """A phone's 4K: 3840x2160 H.264 at 30 pictures a second and AAC, kept short and at a low rate (the
    layout is the point, not the bytes)."""
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=480x270:rate=30", "-f", "lavfi", "-i",   # drawn small: half the CPU
            "sine=frequency=440:sample_rate=48000", "-t", str(seconds), "-vf", "scale=3840:2160:flags=neighbor",
            "-c:v", "libx264", "-preset", "ultrafast",
            "-crf", "35", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path


def joined(path: Path, seconds: int = 3) -> Path:
    """Two recordings joined byte for byte into one transport stream (`cat 00000.MTS 00001.MTS`, as a person
    may copy a camcorder's clips): the second's times start again where the first's did, going back."""
    one = path.with_name(path.stem + "-one.ts")
    _ffmpeg(*TESTSRC, "-t", str(seconds), "-c:v", "libx264", "-g", "15", "-pix_fmt", "yuv420p", "-f", "mpegts", str(one))
    path.write_bytes(one.read_bytes() * 2)
    one.unlink()
    return path


def transport_stream(path: Path, seconds: int = 4) -> Path:
    """A dashcam's or a body camera's .ts: H.264 and AAC in an MPEG transport stream, each AAC frame behind its
    ADTS header (the stream's config in no header of the file)."""
    _ffmpeg(*TESTSRC, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", str(seconds), "-c:v",
            "libx264", "-g", "15", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts", str(path))
    return path


def from_mid_gop(path: Path, seconds: int = 24, gop_s: int = 20) -> Path:
    """A transport stream copied from after its first keyframe (a recorder's stream cut at any packet), its GOP
    `gop_s` long: its first whole picture, and the first word of the picture's size, some 19 s into the copy,
    past the 5 s of a file FFmpeg reads to learn its streams."""
    whole = path.with_name(path.stem + "-whole.ts")
    _ffmpeg(*TESTSRC, "-t", str(seconds), "-c:v", "libx264", "-g", str(15 * gop_s), "-b:v", "30k", "-pix_fmt",
            "yuv420p", "-f", "mpegts", str(whole))
    second = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pos",
                             "-of", "default=nw=1:nk=1", "-read_intervals", "%+#2", str(whole)],
                            check=True, capture_output=True, text=True, timeout=60).stdout.split()[1]
    path.write_bytes(whole.read_bytes()[int(second) // 188 * 188:])   # from a transport packet's start
    whole.unlink()
    return path

def raw_stream(path: Path, seconds: int = 2) -> Path:
    """A recorder's raw H.264 export (`.h264`, Annex B, no container): pictures without a time of their own."""
    _ffmpeg(*TESTSRC, "-t", str(seconds), "-c:v", "libx264", "-g", "15", "-pix_fmt", "yuv420p", "-f", "h264", str(path))
    return path

def index_claiming(src: Path, dst: Path, samples: int) -> Path:
    """`src` with its first sample table patched in place to claim `samples` samples of one byte each
    (a constant size: no table needed), as a file made to exhaust a demuxer's memory (issue 87, T35)."""
    body = bytearray(src.read_bytes())
    at = body.find(b"stsz")
    struct.pack_into(">II", body, at + 8, 1, samples)
    dst.write_bytes(bytes(body))
    return dst


def without_ftyp(src: Path, dst: Path) -> Path:
    """`src` as a QuickTime file written before `ftyp` begins it: its `ftyp` box renamed `free` (the same
    size, so that no sample's offset moves)."""
    body = bytearray(src.read_bytes())
    assert body[4:8] == b"ftyp"
    body[4:8] = b"free"
    dst.write_bytes(bytes(body))
    return dst


def cut(src: Path, dst: Path, keep: int) -> Path:
    """The first `keep` bytes of `src`: a copy whose end is missing."""
    dst.write_bytes(src.read_bytes()[:keep])
    return dst


def fragmented(path: Path, seconds: int = 10) -> Path:
    """A fragmented MP4 (as a body-worn camera writes to survive a power cut), one fragment a second."""
    _ffmpeg(*TESTSRC, "-t", str(seconds), "-c:v", "libx264", "-g", "15", "-movflags", "frag_keyframe+empty_moov",
            str(path))
    return path


def mpeg4_part2(path: Path, seconds: int = 3) -> Path:
    """A video edged does not keep as footage (MPEG-4 Part 2): the original alone."""
    _ffmpeg(*TESTSRC, "-t", str(seconds), "-c:v", "mpeg4", str(path))
    return path


def rotation(path: Path) -> tuple[str, int | None]:
    """The video's sample entry and the rotation of its display matrix (the track header's matrix)."""
    [v] = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                     "stream=codec_tag_string:stream_side_data=rotation", "-of", "json", str(path)],
                                    capture_output=True, text=True, check=True, timeout=60).stdout)["streams"]
    return v["codec_tag_string"], next((d["rotation"] for d in v.get("side_data_list", []) if "rotation" in d), None)


def not_media(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
    return path
