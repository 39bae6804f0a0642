"""The remux path of an export: packets copied (never re-encoded, the camera's sound included:
design/0094) from the segments into one MP4 per camera with PyAV, a new part where the stream
itself changed. Used when the segments do not allow the fragment copy (storage/export/copy.py)."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any, cast


from storage.export import signed_video
from storage.export.plan import (
    CameraPlan, ExportError, Meter, clip_entry, name_clips, open_verified, source_entry,
)
from storage.disk.fsutil import PRIVATE_FILE
from storage.disk.hashing import sha256_file
from storage.mp4 import PCM_SOUND, SOUND_AS_SENT, muxer_for, tail_copy

# find_stream_info would decode frames to learn what the MP4 header already says; a remux needs none.
INPUT_OPTIONS = {"skip_frame": "all"}
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
EDITED = {"movflags": FRAGMENTED["movflags"] + "+delay_moov"}   # the moov after the first fragment: its edit list


def hides(v: Any) -> bool:
    """The segment's first pictures are hidden behind its edit list (an import of a trimmed file, design/0425):
    FFmpeg's demuxer gives them times before the segment's start."""
    return v.start_time is not None and v.start_time < 0


def _signature(v: Any, a: Any) -> tuple[Any, ...]:
    """What must stay the same for segments to share one MP4 (one sample description)."""
    vc = v.codec_context
    sig: tuple[Any, ...] = (vc.name, vc.width, vc.height, bytes(vc.extradata or b""), v.time_base)
    if a is not None:
        ac = a.codec_context
        sig += (ac.name, ac.sample_rate, ac.channels, bytes(ac.extradata or b""), a.time_base)
    return sig


def _us(ts: int, tb: Fraction) -> int:
    return ts * tb.numerator * 1_000_000 // tb.denominator


def _ticks(us: int, tb: Fraction) -> int:
    return round(Fraction(us, 1_000_000) / tb)


class _Clip:
    """One output MP4 while it is being written."""

    def __init__(self, path: Path, v: Any, a: Any, sig: tuple[Any, ...], edited: bool = False):
        self.path = path
        self.sig = sig
        # the sound as the segments hold it (design/0094): G.711 and L16 the mov muxer writes, and
        # PCM keeps its times (a hole stays a hole) only in fragments
        sound = a.codec_context.name if a is not None else None
        import av  # here, not at the top: edgectl imports the export's modules, PyAV and numpy are 0.4 s of CPU
        self.out = av.open(str(path), "w", format=muxer_for(sound), options=(EDITED if edited else FRAGMENTED) if sound in PCM_SOUND else {})
        self.ov = self.out.add_stream_from_template(v)
        self.oa = self.out.add_stream_from_template(a) if a is not None else None
        self.vtb, self.atb = v.time_base, (a.time_base if a is not None else None)
        self.video = {"codec": v.codec_context.name, "width": v.codec_context.width, "height": v.codec_context.height}
        self.audio = None if a is None else {"codec": a.codec_context.name, "sample_rate": a.codec_context.sample_rate,
                                             "channels": a.codec_context.channels}
        self.origin_us: int | None = None   # wall time of clip second 0 (the first keyframe)
        self.last = {"v": None, "a": None}   # last muxed dts per kind, in the input time base
        self.last_vdur = 0
        self.sound_end: int | None = None  # where the last sound packet written ends (clip ticks)
        self.frames = 0
        # a signing camera (design/0135): its video runs on past to_us for its last GOP's signature
        self.hevc = v.codec_context.name == "hevc"
        self.nal_size = signed_video.nal_length_size(b"avcC" + bytes(v.codec_context.extradata or b"")
                                                     if not self.hevc else b"hvcC" + bytes(v.codec_context.extradata or b""))
        self.tail: signed_video.Tail | None = None
        self.tail_frames = 0
        self.shown_end: int | None = None  # where the last video packet before to_us ends (input ticks)

    def close(self) -> dict[str, Any]:
        self.out.close()
        media_us = _us(self.last["v"] + self.last_vdur, self.vtb) if self.last["v"] is not None else 0
        duration_us = media_us if self.shown_end is None else _us(self.shown_end, self.vtb)
        # No edit list trims the tail here (design/0135): in a plain MP4 GStreamer's demuxer honours
        # one and so hides the signature from ONVIF's validator; the entry says what is the range.
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(self.path, PRIVATE_FILE)
        entry = clip_entry(self.path, sha256_file(self.path), cast(int, self.origin_us), duration_us, self.frames,
                           self.video, self.audio)
        if self.tail is not None:
            entry["camera_signed"] = {"tail_frames": self.tail_frames,
                                      "media_to_us": cast(int, self.origin_us) + media_us, "key_sei": None}
        return entry


def remux_camera(data_dir: Path, out: Path, plan: CameraPlan, from_us: int, to_us: int,
                  meter: Meter) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One MP4 for the camera; a new part only where the stream itself changed (resolution,
    codec settings, audio), since one MP4 track holds one set of parameters."""
    clips: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    clip: _Clip | None = None
    pending: list[tuple[Any, str, int]] = []  # (packet, kind, wall) from the last keyframe before the start

    def finish(clip: _Clip) -> None:
        if clip.origin_us is not None:
            clips.append(clip.close())
        else:  # nothing in range was written to it
            clip.out.close()
            clip.path.unlink()

    pool = ThreadPoolExecutor(1, thread_name_prefix="export-hash")
    try:
        ahead = pool.submit(open_verified, data_dir, plan.sources[0]) if plan.sources else None
        for i, row in enumerate(plan.sources):
            assert ahead is not None  # submitted for row i
            src = ahead.result()
            ahead = pool.submit(open_verified, data_dir, plan.sources[i + 1]) if i + 1 < len(plan.sources) else None
            meter.add(row["bytes"] or 0, plan.camera)
            import av
            with av.open(src, format="mp4" if isinstance(src, io.BytesIO) else None, options=INPUT_OPTIONS) as c:
                if not c.streams.video:
                    raise ExportError(f"{row['path']}: no video stream; export refused")
                v = c.streams.video[0]
                a = next((s for s in c.streams.audio if s.codec_context.name in SOUND_AS_SENT), None)
                sig = _signature(v, a)
                # a segment that hides its first pictures (a trimmed import, an edit list's later edit) begins a
                # clip of its own once one has begun: only a clip's own edit list, at its start, hides them (0461)
                if clip is None or clip.sig != sig or (hides(v) and clip.origin_us is not None):
                    if clip is not None:
                        finish(clip)
                    clip = _Clip(out / f"{plan.camera}-part{len(clips) + 1}.mp4", v, a, sig, hides(v))
                entry = source_entry(row, clip.path.name)
                _remux_segment(c, v, a, clip, row, from_us, to_us, pending, entry, meter, plan.camera)
                sources.append(entry)
        if clip is not None and clip.tail is not None:
            sources += _remux_tail(data_dir, plan, clip, from_us, to_us, meter)
        if clip is not None:
            finish(clip)
            clip = None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if clip is not None:  # failed part-way: the caller removes the folder
            clip.out.close()
    name_clips(out, plan.camera, clips, sources)
    return clips, sources


def _remux_tail(data_dir: Path, plan: CameraPlan, clip: _Clip, from_us: int, to_us: int,
                meter: Meter) -> list[dict[str, Any]]:
    """The rest of a signing camera's last GOP's signature from the segments after the range
    (the plan's `tail`), video only, while the tail rule takes it (design/0135)."""
    sources = []
    for row in plan.tail:
        if clip.tail is None or clip.tail.done:
            break
        try:  # a segment outside the range that cannot be used ends the tail, never the export
            src = open_verified(data_dir, row)
        except ExportError:
            break
        import av
        with av.open(src, format="mp4" if isinstance(src, io.BytesIO) else None, options=INPUT_OPTIONS) as c:
            v = c.streams.video[0] if c.streams.video else None
            a = next((s for s in c.streams.audio if s.codec_context.name in SOUND_AS_SENT), None)
            if v is None or _signature(v, a) != clip.sig:
                break
            entry = {**source_entry(row, clip.path.name), "tail": True}
            _remux_segment(c, v, a, clip, row, from_us, to_us, [], entry, meter, plan.camera)
            if entry["clip_offset_s"] is not None:
                sources.append(entry)
    return sources


def _kinds(pkt: Any, clip: _Clip) -> set[str]:
    return signed_video.kinds_in(memoryview(pkt), clip.hevc, clip.nal_size)


def _remux_segment(c: Any, v: Any, a: Any, clip: _Clip, row: dict[str, Any], from_us: int, to_us: int,
                   pending: list[tuple[Any, str, int]], entry: dict[str, Any], meter: Meter, camera: str) -> None:
    """Copy the packets of one segment that fall in the range into the clip.

    Over 60 lines: one loop over the packets whose state (offsets, the pending keyframe, what is
    done) the nested steps share; split into functions, that state would travel through every call."""
    base = row["start_us"]  # the wall time of the segment's first keyframe, whose dts is 0
    # or, in a segment that hides its first pictures, of its first one shown: a clip that begins here begins
    # there, the hidden ones before it (negative times: the clip's own edit list hides them, design/0425)
    edit = hides(v)
    vidx = v.index
    streams = [v] + ([a] if a is not None else [])
    offsets: dict[str, int] | None = None
    done = {"v": False, "a": a is None}
    size = max(1, row["bytes"] or 1)
    seen = count = 0
    hevc, tail = v.codec_context.name == "hevc", False

    def place() -> dict[str, int]:
        """Ticks to add to this segment's timestamps: its wall offset from the clip's start."""
        off = {"v": _ticks(base - clip.origin_us, clip.vtb)}
        if clip.last["v"] is not None and off["v"] <= clip.last["v"]:
            # The host clock stepped back: the segment overlaps the one before in wall time. Put it
            # right after, and say so; clip time no longer equals wall time from here.
            off["v"] = clip.last["v"] + max(1, clip.last_vdur)
            entry["note"] = "overlaps the previous segment in wall time (host clock stepped back); placed after it"
        placed = _us(off["v"], clip.vtb)
        entry["clip_offset_s"] = round(placed / 1e6, 6)
        if clip.atb is not None:
            off["a"] = _ticks(placed, clip.atb)
        return off

    def write(pkt: Any, kind: str, tail: bool = False) -> None:
        nonlocal offsets
        if offsets is None:
            offsets = place()
        dts = pkt.dts + offsets[kind]
        end = clip.sound_end
        if kind == "a" and end is not None and dts < end and end - dts < (pkt.duration or 0):
            # started at its segment's first picture, inside the last segment's last packet:
            # right after it, as storage/export/copy.py's _butt (design/0094)
            pkt.duration -= end - dts
            pkt.pts = pkt.dts = end - offsets[kind]  # the offset is added below
            dts = end
        if clip.last[kind] is not None and dts <= clip.last[kind]:
            return  # audio overlapping the previous segment's (after a clock step): drop, never reorder
        pkt.pts = (pkt.pts if pkt.pts is not None else pkt.dts) + offsets[kind]
        pkt.dts = dts
        early = edit and clip.origin_us == base   # the clip begins at this segment's first picture shown
        hidden = early and pkt.pts < 0
        if dts < 0 and not early:
            return
        clip.last[kind] = dts
        if kind == "a":
            clip.sound_end = dts + (pkt.duration or 0)
        if kind == "v":
            clip.last_vdur = pkt.duration or clip.last_vdur
            clip.frames += 0 if tail or hidden else 1
            clip.tail_frames += 1 if tail else 0
            if clip.tail is not None and not tail:
                clip.shown_end = dts + (pkt.duration or clip.last_vdur)
        pkt.stream = clip.ov if kind == "v" else clip.oa
        clip.out.mux(pkt)

    def start(origin: int) -> None:
        clip.origin_us = max(origin, base) if edit else origin
        for p, k, w in pending:
            if w >= origin:
                write(p, k)
        pending.clear()

    # Integer time-base arithmetic per packet: a Fraction per packet costs more than the mux.
    scale = {s.index: (s.time_base.numerator * 1_000_000, s.time_base.denominator) for s in streams}
    for pkt in c.demux(streams):
        if pkt.dts is None or pkt.size == 0:
            continue
        index = pkt.stream_index
        kind = "v" if index == vidx else "a"
        if kind == "a" and clip.oa is None:
            continue
        num, den = scale[index]
        wall = base + pkt.dts * num // den
        if kind == "v" and hevc and wall >= (row["end_us"] or wall + 1) and (tail or tail_copy(bytes(pkt))):
            tail = True  # past the segment's own pictures: the next segment's CRA, its RASL pictures (design/0543)
            continue
        if kind == "v" and clip.tail is None and signed_video.SIGNATURE in _kinds(pkt, clip):
            clip.tail = signed_video.Tail(to_us)  # the camera signs its stream (design/0135)
        if wall >= to_us:
            if kind == "v" and clip.tail is not None and clip.origin_us is not None and clip.tail.take(
                    signed_video.Frame(wall, bool(pkt.is_keyframe), signed_video.SIGNATURE in _kinds(pkt, clip))):
                write(pkt, kind, tail=True)
                continue
            done[kind] = True
            if done["v"] and done["a"]:
                break
            continue
        if clip.origin_us is None:  # looking for the keyframe at or before the start
            if kind == "v" and pkt.is_keyframe and wall <= from_us:
                pending.clear()
                pending.append((pkt, kind, wall))
            elif kind == "v" and pkt.is_keyframe and not pending:
                start(wall)  # footage begins after the requested start: its first keyframe
                write(pkt, kind)
            elif pending and (kind == "a" or wall < from_us):
                pending.append((pkt, kind, wall))
            elif pending:
                start(pending[0][2])
                write(pkt, kind)
            continue
        write(pkt, kind)
        count += 1
        if not count & 255 and pkt.pos is not None and pkt.pos > seen:  # progress within a long segment
            meter.add(pkt.pos - seen, camera)
            seen = pkt.pos
    if clip.origin_us is None and pending:
        start(pending[0][2])  # the segment ended before reaching the start: begin at its last keyframe
    meter.add(size - seen, camera)

