"""A portable device's file remuxed into segments, never transcoded (issue 76, design/0349): run as
`python -m storage.intake.remux` in a short-lived process of its own at the idle CPU and I/O classes,
as the media user where there is one (a device's file is untrusted input: FFmpeg may die on it, and
the daemon must not, design/0063; nor may it reach the node key, design/0323), given one JSON
request line and answering with one (`main`).

Each segment is a fragmented MP4 as the recorder writes (H.264 or H.265 video; AAC, or G.711 in
the mov muxer's boxes: storage/mp4.py `muxer_for`), cut at the first keyframe past each
`SEGMENT_US` of the file's own time and starting at 0. Anything else (another video codec, no
video) makes no segment: the original is kept alone, and the result says why. A fragmented MP4
whose end is missing is read only up to its last whole fragment (`whole_fragments`); a plain MP4
whose end is missing, or a file that is no media, is refused (`refused`): nothing is made.
"""

from __future__ import annotations

import heapq
import json
import resource
import sys
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from storage.intake import adts, index
from storage.intake.edits import Edits
from storage.media.entry import hand_back_if_other
from storage.mp4 import Limited, muxer_for, starts_as_mp4, whole_boxes_end, whole_prefix
from storage.redact.idle import lowest_priority
from storage.process.threadname import name_os_thread

VIDEO = frozenset({"h264", "hevc"})                       # what the fixed cameras' segments hold
SOUND = frozenset({"aac", "pcm_mulaw", "pcm_alaw"})       # AAC and G.711
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
# a first segment whose device hid its first pictures behind an edit list: the moov written with the first
# fragment, so that FFmpeg's muxer writes the edit for them (design/0425)
EDITED = {"movflags": FRAGMENTED["movflags"] + "+delay_moov"}
MEMORY = 1 << 30                                          # FFmpeg's address space, as storage/mp4.py's scan
MODEL_KEYS = ("com.apple.quicktime.model", "model", "com.android.model", "make", "com.apple.quicktime.make")
KEPT_TAGS = frozenset({"hvc1", "hev1", "avc1", "avc3"})   # the MP4 sample entries the mov muxer may write as given
REORDER = 4       # pictures a device's H.264/H.265 with B pictures may be reordered by, at most (x264: 2)
EARLY_MAX = 2000                                          # sound packets held until the first picture
TEXT_MAX = 120                                            # a claimed model: the device's text, kept short
READ = {"skip_frame": "all"}                              # the file demuxed, never a picture decoded


class Unmuxable(Exception):
    """FFmpeg's muxer refused a packet of the file: `back` when its time went back before the one before in
    its stream (two recordings joined into one file), at `at_us` of the file's own time; `cause` FFmpeg's
    words, for the daemon's journal alone (they may name the staging folder)."""

    def __init__(self, at_us: int, back: bool, cause: str):
        super().__init__(at_us, back, cause)
        self.at_us, self.back, self.cause = at_us, back, cause


def _claim(meta: dict[str, str]) -> int | None:
    """A `creation_time` as µs since the epoch, or None (absent, or not a time)."""
    text = meta.get("creation_time")
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # a time without its zone claims nothing we can place
    return int(when.timestamp() * 1_000_000)


def claims(container: Any) -> dict[str, Any]:
    """What the file claims: its start (the container's creation_time, else its first stream's) and
    the device's model; the text kept as the device wrote it, cut short."""
    own = dict(container.metadata or {})
    claimed, source = _claim(own), "creation_time"
    if claimed is None:
        source = "stream"
        claimed = next((c for s in container.streams if (c := _claim(dict(s.metadata or {}))) is not None), None)
    model = next((own[k] for k in MODEL_KEYS if own.get(k)), None)
    return {"claimed_us": claimed, "claimed_from": source if claimed is not None else None,
            "model": None if model is None else str(model)[:TEXT_MAX]}


def _us(ts: int, tb: Fraction) -> int:
    return int(ts * tb * 1_000_000)


class _Out:
    """One segment being written: packets rebased so that its first keyframe is at 0."""

    def __init__(self, path: Path, v: Any, a: Any, first_us: int, lead: bool = False, hidden: bool = False,
                 config: bytes | None = None):
        import av
        self.lead = lead   # the file's first segment: its sound from the file's start (AAC's priming)
        self.hidden = hidden   # its pictures before `first_us` are the device's hidden ones, behind an edit
        self.path, self.first_us, self.frames, self.end_us = path, first_us, 0, first_us
        self.earliest_us = first_us   # its earliest picture: an open GOP's leading ones come before its keyframe
        self.tick_us = -(-v.time_base.numerator * 1_000_000 // v.time_base.denominator)   # the times' precision
        self.out = av.open(str(path), "w", format=muxer_for(a.codec_context.name if a is not None else None),
                           options=EDITED if hidden else FRAGMENTED)
        self.ov = self.out.add_stream_from_template(v)
        if v.codec_context.codec_tag in KEPT_TAGS:   # the device's own tag (hvc1 stays hvc1, design/0385)
            self.ov.codec_context.codec_tag = v.codec_context.codec_tag
        self.oa = self.out.add_stream_from_template(a) if a is not None else None
        if config is not None and self.oa is not None:   # ADTS sound's config, from its first frame (design/0488)
            self.oa.codec_context.extradata = config
        self.last: dict[bool, int] = {}   # each stream's last decoding time written, in its own time base

    def _mux(self, pkt: Any, video: bool, at_us: int) -> None:
        import av
        try:
            self.out.mux(pkt)
        except av.FFmpegError as exc:
            last = self.last.get(video)
            back = last is not None and pkt.dts is not None and pkt.dts <= last
            raise Unmuxable(max(self.end_us, at_us) if back else at_us, back, str(exc)) from None
        if pkt.dts is not None:
            self.last[video] = pkt.dts

    def put(self, pkt: Any, video: bool) -> None:
        tb = pkt.time_base
        shift = round(Fraction(self.first_us, 1_000_000) / tb)
        pts, dts = pkt.pts, pkt.dts
        if not video and not self.lead and _us(dts if dts is not None else pts, tb) < self.first_us:
            return  # sound from before the segment's first picture (the segment before has it)
        pkt.pts = None if pts is None else pts - shift
        pkt.dts = None if dts is None else dts - shift
        pkt.stream = self.ov if video else self.oa
        if video:
            shown = pts if pts is not None else dts
            if self.hidden and _us(shown, tb) < self.first_us:
                self._mux(pkt, video, _us(shown, tb))   # stored for the pictures after it, never shown (design/0425)
                return
            self.frames += 1
            self.earliest_us = min(self.earliest_us, _us(shown, tb))
            self.end_us = max(self.end_us, _us(shown + (pkt.duration or 0), tb))
        self._mux(pkt, video, _us(pts if pts is not None else dts, tb))

    def close(self, v: Any, a: Any) -> dict[str, Any]:
        self.out.close()
        return {"file": self.path.name, "offset_us": self.first_us, "duration_us": max(0, self.end_us - self.first_us),
                "frames": self.frames, "codec": v.codec_context.name, "width": v.codec_context.width,
                "height": v.codec_context.height, "audio": a is not None, "earliest_us": self.earliest_us,
                "tick_us": self.tick_us}


class _Cutter:
    """Packets into segments: a new one at the first keyframe past `segment_us`. The segment before
    stays open for the sound stored after the keyframe that cut it but timed before it (a file
    interleaves by position, not by time), until a sound packet past the cut comes."""

    def __init__(self, outdir: Path, v: Any, a: Any, segment_us: int, origin_us: int):
        self.outdir, self.v, self.a, self.segment_us = outdir, v, a, segment_us
        self.origin_us = origin_us              # the file's start: the first segment's sound from there
        self.made: list[dict[str, Any]] = []
        self.out: _Out | None = None
        self.before: _Out | None = None
        self.early: list[tuple[Any, int]] = []  # sound stored before the first keyframe
        self.config: bytes | None = None        # the sound's AudioSpecificConfig where the file has it in no header

    def _close_before(self) -> None:
        if self.before is not None:
            self.made.append(self.before.close(self.v, self.a))
            self.before = None

    def put(self, pkt: Any, video: bool, at: int) -> None:
        """One packet at `at` µs of the file's time."""
        if video and pkt.is_keyframe and (self.out is None or at >= self.out.first_us + self.segment_us):
            self._close_before()
            n = len(self.made) + (self.out is not None)
            first = min(at, self.origin_us) if self.out is None else at
            # the demuxer's word: the device's edit list hides this keyframe (and what is shown before the edit)
            hidden = self.out is None and pkt.is_discard and at < self.origin_us
            first = self.origin_us if hidden else first   # footage from the device's edit, not its hidden pictures
            self.before, self.out = self.out, _Out(self.outdir / f"{n:03d}.mp4", self.v, self.a, first, n == 0, hidden,
                                                 self.config)
            if self.a is None:
                self._close_before()
            for early, _when in self.early:
                self.out.put(early, False)
            self.early = []
        if self.out is None:
            if not video and len(self.early) < EARLY_MAX:
                self.early.append((pkt, at))
            return  # a picture before the first keyframe: nothing can be shown from it
        if self.before is not None and not video:
            if at < self.out.first_us:
                self.before.put(pkt, video)
                return
            self._close_before()
        self.out.put(pkt, video)

    def edit(self, first_us: int) -> None:
        """A later edit of the file's edit list begins (design/0461): a segment of its own from its first picture
        shown, its pictures before it hidden behind the segment's edit list, as a trimmed file's first (0425)."""
        self._close_before()
        n = len(self.made) + (self.out is not None)
        self.before, self.out = self.out, _Out(self.outdir / f"{n:03d}.mp4", self.v, self.a, first_us, False, True,
                                                 self.config)
        if self.a is None:
            self._close_before()

    def close(self) -> list[dict[str, Any]]:
        self._close_before()
        if self.out is not None:
            self.made.append(self.out.close(self.v, self.a))
        return self.made


class Dater:
    """Decoding times for video a container stores without them (Matroska keeps presentation times
    only), as FFmpeg generates them from a buffer of presentation times (design/0385): with a reorder
    depth of at most `depth` pictures, the k-th picture in decoding order is decoded at the k-th
    smallest presentation time less `depth` pictures, which is never after its own and always rises.
    The first `depth` pictures wait for the next ones; `drain` gives what is left at the end."""

    def __init__(self, depth: int):
        self.depth = depth
        self.waiting: list[Any] = []
        self.times: list[int] = []
        self.step = 0

    def put(self, pkt: Any) -> list[Any]:
        self.step = self.step or (pkt.duration or 0)
        heapq.heappush(self.times, pkt.pts)
        self.waiting.append(pkt)
        return self._ready(1 if len(self.waiting) > self.depth else 0)

    def _ready(self, n: int) -> list[Any]:
        out = []
        for _ in range(n):
            pkt = self.waiting.pop(0)
            pkt.dts = heapq.heappop(self.times) - self.depth * max(1, self.step)
            out.append(pkt)
        return out

    def drain(self) -> list[Any]:
        return self._ready(len(self.waiting))


def abut(made: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Segments whose seam is the next one's leading pictures made to abut (design/0401). In an open GOP
    the pictures decoded after a keyframe but shown before it go with the keyframe into the next segment,
    so the segment before ends a picture or two before the next one's start: an export read that as
    "no footage recorded". Where the next segment's earliest picture reaches back to the end of the one
    before, that one ends where the next begins; a true gap in the device's times stays a gap. A seam no
    wider than one tick of the file's times (Matroska's are milliseconds: a 15 fps picture lasts 66 or 67)
    is the rounding of a picture's duration, not a gap (design/0427)."""
    out = [{k: v for k, v in seg.items() if k not in ("earliest_us", "tick_us")} for seg in made]
    for seg, nxt, was in zip(out, made[1:], made):
        end = seg["offset_us"] + seg["duration_us"]
        slack = max(1, int(was.get("tick_us", 1)))   # at least 1 µs: times rounded down to µs
        if end < nxt["offset_us"] and nxt["earliest_us"] <= end + slack:
            seg["duration_us"] = nxt["offset_us"] - seg["offset_us"]
    return out


def _start_us(container: Any) -> int:
    return _us(container.start_time, Fraction(1, 1_000_000)) if container.start_time is not None else 0


def _sound(container: Any) -> Any:
    """The file's sound a segment keeps: its first AAC or G.711 stream, or None."""
    return next((s for s in container.streams.audio if s.codec_context.name in SOUND), None)


def _adts_first(src: Path, container: Any) -> bytes | None:
    """The first frame of AAC sound whose config is in no header of the file (ADTS: a transport stream's),
    read apart before any segment is opened (design/0488); None for any other sound."""
    a = _sound(container)
    if a is None or a.codec_context.name != "aac" or a.codec_context.extradata or starts_as_mp4(src):
        return None
    return adts.first_frame(str(src), a.index, READ)


def split(container: Any, outdir: Path, segment_us: int,
          adts_first: bytes | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The file's H.264/H.265 video (and AAC/G.711 sound) into segments of about `segment_us`,
    each cut at a keyframe; (segments, why the sound was left out or None). `adts_first`: the first frame
    of ADTS sound, whose frames go in without their headers."""
    v, a = container.streams.video[0], _sound(container)
    sounds = list(container.streams.audio)
    left = None if a is not None or not sounds else sounds[0].codec_context.name
    start_us = _start_us(container)
    cutter = Edits(_Cutter(outdir, v, a, segment_us, start_us))
    try:
        frames = None if adts_first is None else adts.Frames(adts_first)
    except adts.NotKept as exc:
        raise Unmuxable(start_us, False, str(exc)) from None
    cutter.cutter.config = None if frames is None else frames.config
    dater = Dater(REORDER if v.codec_context.has_b_frames else 0)   # for a stream whose first picture has no dts
    generate: bool | None = None

    def put(pkt: Any, video: bool) -> None:
        ts = pkt.pts if pkt.pts is not None else pkt.dts
        cutter.put(pkt, video, _us(ts, pkt.time_base))

    for pkt in container.demux(*(s for s in (v, a) if s is not None)):
        ts = pkt.pts if pkt.pts is not None else pkt.dts
        if ts is None or pkt.size == 0:
            continue  # a demuxer's flush packet
        video = pkt.stream.index == v.index
        if not video and frames is not None:
            try:
                pkt = frames.raw(pkt)
            except adts.NotKept as exc:   # a frame no segment can keep as written: said with its second
                raise Unmuxable(_us(ts, pkt.time_base), False, str(exc)) from None
        if video and generate is None:   # the first picture says: the container's decoding times, or none
            generate = pkt.dts is None and pkt.pts is not None
        if video and generate and pkt.pts is not None:   # then every one generated, never half the demuxer's
            for p in dater.put(pkt):
                put(p, True)
            continue
        put(pkt, video)
    for p in dater.drain():
        put(p, True)
    made = abut(cutter.close())
    for seg in made:
        seg["offset_us"] -= start_us
    return made, left


def _opened(src: Path) -> tuple[Any, dict[str, Any]]:
    """The file opened for demuxing, and what its end says (a truncated MP4's whole fragments)."""
    import av
    found: dict[str, Any] = {"truncated": False}
    source: Any = str(src)
    if starts_as_mp4(src):
        size = src.stat().st_size
        if whole_boxes_end(src) < size:
            whole = whole_prefix(src)
            if whole.fragments == 0:
                return None, {"refused": "truncated"}
            found = {"truncated": True, "whole_fragments": whole.fragments, "whole_bytes": whole.end}
            source = Limited(src, whole.end)
        # an index that claims more samples than the file's bytes can hold is never given to FFmpeg,
        # whose demuxer allocates for every sample it claims (T35, design/0404)
        if index.claimed_bytes(src, found.get("whole_bytes", size)) > size:
            return None, {"refused": "index"}
    elif index.old_quicktime(src) and index.claimed_bytes(src, src.stat().st_size) > src.stat().st_size:
        return None, {"refused": "index"}   # a QuickTime file without `ftyp`: the same demuxer (design/0428)
    try:
        return av.open(source, options=READ), found
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        return None, {"refused": "truncated" if starts_as_mp4(src) else "not_media"}


def remux(src: Path, outdir: Path, segment_us: int) -> dict[str, Any]:
    """What `main` prints: the claims, the segments made and what was left in the original alone."""
    container, found = _opened(src)
    if container is None:
        return found
    with container:
        videos, sounds = list(container.streams.video), list(container.streams.audio)
        if not videos and not sounds:
            return {"refused": "not_media"}
        result: dict[str, Any] = {**found, **claims(container), "format": container.format.name,
                                  "segments": [], "video": None, "sound_left": None}
        result["video"] = videos[0].codec_context.name if videos else None
        if result["video"] not in VIDEO:
            return result  # the original alone: the caller says why
        try:
            result["segments"], result["sound_left"] = split(container, outdir, segment_us,
                                                             _adts_first(src, container))
        except Unmuxable as exc:   # said to the person as what is wrong and where; FFmpeg's words to the journal
            return {"refused": "times_back" if exc.back else "unmuxable",
                    "at_us": max(0, exc.at_us - _start_us(container)), "cause": exc.cause[:300]}
    return result


def main() -> int:
    """One request line on stdin, {"src", "outdir", "segment_us"}, as every media worker takes its own
    (storage/media/entry.py); one line back: {"result": what remux made} or {"error": why}."""
    lowest_priority()  # the idle classes before FFmpeg is loaded
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY if hard == resource.RLIM_INFINITY else min(MEMORY, hard), hard))
    except OSError:   # edged-media@.service refuses @resources calls: its MemoryMax bounds FFmpeg there
        pass
    req = json.loads(sys.stdin.buffer.readline() or b"{}")
    outdir = Path(req["outdir"])
    line: dict[str, Any]
    try:
        line = {"result": remux(Path(req["src"]), outdir, int(req["segment_us"]))}
    except Exception as exc:  # noqa: BLE001 - said to the daemon, which decides
        line = {"error": f"{type(exc).__name__}: {exc}"}
    finally:   # as the media user: what it made, readable by the daemon (design/0323)
        hand_back_if_other(outdir)
    sys.stdout.write(json.dumps(line) + "\n")
    return 0 if "result" in line else 1


if __name__ == "__main__":
    name_os_thread("edged-remux")
    sys.exit(main())
