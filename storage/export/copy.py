"""The fragment copy path of an export: the segments' movie fragments copied at the byte level
into the clip, with only their sequence numbers and decode times rewritten (storage/export/fmp4.py).
Same clip semantics as the remux (storage/export/remux.py): it starts at the keyframe at or
before the requested start, ends at the requested end, clip time is wall time, a hole stays a
hole, a new part where the stream's parameters change, a segment that overlaps the previous
one (the host clock stepped back) is placed after it. The clip is a fragmented MP4.

Each source is mapped (mmap: its pages are the page cache's, not a second copy), hashed on one
of two threads a few segments ahead and checked against the catalog before any of its bytes are
copied; the clip is hashed as it is written, so nothing is read twice. Segments this path does
not understand raise `NotCopyable` before anything of the camera is kept, and the export
remuxes that camera instead.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast


from storage.export import fmp4, fmp4_signed, signed_video
from storage.export.plan import (
    CameraPlan, ExportError, Meter, check_hash, clip_entry, gone, name_clips, source_entry, source_path,
)
from storage.export.fmp4 import NotCopyable
from storage.disk.fsutil import PRIVATE_FILE
from storage.disk.hashing import sha256_file
from storage.mp4 import SOUND_AS_SENT

AHEAD = 3                 # sources mapped and hashed ahead of the copy
HASH_CHUNK = 1 << 20
HASH_THREADS = 2


def verified_map(data_dir: Path, row: dict[str, Any]) -> Any:
    """The segment mapped read-only, after its SHA-256 was checked against the catalog."""
    path = source_path(data_dir, row)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise gone(row) from None
    try:
        size = os.fstat(fd).st_size
        mm: Any = mmap.mmap(fd, size, prot=mmap.PROT_READ) if size else b""
    finally:
        os.close(fd)
    if size:
        mm.madvise(mmap.MADV_SEQUENTIAL)
    h = hashlib.sha256()
    with memoryview(mm) as view:
        for at in range(0, size, HASH_CHUNK):
            h.update(view[at:at + HASH_CHUNK])  # releases the GIL: two threads hash on two cores
    check_hash(row, h.hexdigest())
    return mm


class _Out:
    """One clip file while it is written, hashed as it goes. A signing camera's clip (`signing`)
    runs on past `to_us` for its last GOP's signature (design/0135): `tail` says which video
    samples it keeps, and an edit list in its moov (patched at close) shows only the range."""

    def __init__(self, path: Path, header: fmp4.Header, signing: bool = False, to_us: int = 0):
        self.path = path
        self.header = header
        self.f = open(path, "xb")
        self.hash = hashlib.sha256()
        self.vtrack = cast(fmp4.Track, header.track(b"vide"))  # one video track: copyable() checked
        self.atrack = header.track(b"soun")
        self.hevc = self.vtrack.codec == "hevc"
        self.nal_size = signed_video.nal_length_size(self.vtrack.description)
        self.tail = signed_video.Tail(to_us) if signing else None
        self.tail_frames = 0
        self.shown_end: int | None = None  # where the last video sample before to_us ends (clip ticks)
        self.edit_at: int | None = None     # where the edit list's duration sits in the file
        self.lead = b""                       # the camera's certificate SEI, for the clip's first sample
        self.key_sei: dict[str, Any] | None = None  # where it came from (the clip entry's camera_signed)
        self.tail_stopped: str | None = None  # why the tail ended before the signature (a segment unusable)
        moov = header.moov
        if signing:
            moov, at = fmp4.with_edit_list(header.moov, self.vtrack.track_id)
            self.edit_at = len(header.ftyp) + at
        import av  # here, not at the top: edgectl imports the export's modules, PyAV and numpy are 0.4 s of CPU
        with av.open(io.BytesIO(header.ftyp + header.moov), format="mp4") as c:
            vc = c.streams.video[0].codec_context
            self.video = {"codec": vc.name, "width": vc.width, "height": vc.height}
            ac = c.streams.audio[0].codec_context if c.streams.audio else None
            self.audio = None if ac is None else {"codec": ac.name, "sample_rate": ac.sample_rate,
                                                  "channels": ac.channels}
        self.origin_us: int | None = None
        self.last: dict[int, int | None] = {t.track_id: None for t in header.tracks}  # last decode time written
        self.last_vdur = 0
        self.sound_end: int | None = None  # where the last sound sample written ends, in clip ticks
        self.frames = 0
        self.sequence = 0
        self.write(header.ftyp)
        self.write(moov)

    def write(self, data: Any) -> None:
        self.f.write(data)
        self.hash.update(data)

    def close(self) -> dict[str, Any]:
        vtb = self.vtrack.timescale
        last = self.last[self.vtrack.track_id]
        media_us = (last + self.last_vdur) * 1_000_000 // vtb if last is not None else 0
        duration_us = media_us if self.shown_end is None else self.shown_end * 1_000_000 // vtb
        digest = self.hash.hexdigest()
        if self.edit_at is not None:  # what a player shows: the range, not the signature's tail
            self.f.seek(self.edit_at)
            self.f.write(fmp4.edit_duration(duration_us, fmp4.movie_timescale(self.header.moov)))
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.chmod(self.path, PRIVATE_FILE)
        if self.edit_at is not None:
            digest = sha256_file(self.path)
        entry = clip_entry(self.path, digest, cast(int, self.origin_us), duration_us, self.frames, self.video,
                           self.audio)
        if self.tail is not None:
            entry["camera_signed"] = {"tail_frames": self.tail_frames, "media_to_us": cast(int, self.origin_us) + media_us,
                                      "key_sei": self.key_sei,
                                      **({"tail_stopped": self.tail_stopped} if self.tail_stopped else {})}
        return entry

    def discard(self) -> None:
        self.f.close()
        self.path.unlink(missing_ok=True)


def copyable(header: fmp4.Header) -> None:
    """One H.264/H.265 video track and at most one audio track of the sound the recorder keeps
    (AAC, G.711, L16: storage/mp4.py SOUND_AS_SENT), as the recorder writes."""
    kinds = sorted((t.handler, t.codec) for t in header.tracks)
    video = [k for k in kinds if k[0] == b"vide"]
    audio = [k for k in kinds if k[0] == b"soun"]
    if len(video) != 1 or video[0][1] not in ("h264", "hevc") or len(audio) > 1 or \
            (audio and audio[0][1] not in SOUND_AS_SENT) or len(kinds) != len(video) + len(audio):
        raise NotCopyable(f"tracks {kinds}")


def copy_camera(data_dir: Path, out: Path, plan: CameraPlan, from_us: int, to_us: int,
                meter: Meter) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The camera's clips and source entries; NotCopyable (nothing kept) if a segment does not allow it."""
    clips: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    parts: list[_Out] = []
    pool = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="export-hash")
    ahead: deque[Future[Any]] = deque(pool.submit(verified_map, data_dir, r) for r in plan.sources[:AHEAD])
    try:
        for i, row in enumerate(plan.sources):
            buf = ahead.popleft().result()
            if i + AHEAD < len(plan.sources):
                ahead.append(pool.submit(verified_map, data_dir, plan.sources[i + AHEAD]))
            meter.add(row["bytes"] or 0, plan.camera)
            try:
                header = fmp4.read_header(buf)
                copyable(header)
                if not parts or parts[-1].header.signature != header.signature:
                    parts.append(_Out(out / f"{plan.camera}-part{len(parts) + 1}.mp4", header,
                                      fmp4_signed.signs(buf, header), to_us))
                    if parts[-1].tail is not None:
                        sources += _key_lead(data_dir, plan if len(parts) == 1 else None, parts[-1], buf, header,
                                             row, from_us if len(parts) == 1 else None)
                entry = source_entry(row, parts[-1].path.name)
                _copy_segment(buf, header, parts[-1], row, from_us if len(parts) == 1 else None, to_us, entry)
                sources.append(entry)
            finally:
                if isinstance(buf, mmap.mmap):
                    buf.close()
            meter.add(row["bytes"] or 0, plan.camera)
        if parts:
            sources += _copy_tail(data_dir, plan, parts[-1], to_us)
        for part in parts:
            if part.origin_us is not None:
                clips.append(part.close())
            else:  # nothing in range was written to it
                part.discard()
    except BaseException:
        for part in parts:
            part.discard()
        raise
    finally:
        for f in ahead:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        for f in ahead:
            if f.done() and not f.cancelled() and f.exception() is None and isinstance(f.result(), mmap.mmap):
                f.result().close()
    name_clips(out, plan.camera, clips, sources)
    return clips, sources


def _key_lead(data_dir: Path, plan: CameraPlan | None, clip: _Out, buf: Any, header: fmp4.Header,
              row: dict[str, Any], from_us: int | None) -> list[dict[str, Any]]:
    """Put the camera's newest certificate (golden) SEI before the clip's first sample, unless
    that sample has one (design/0135): looked for in the part's first segment before the clip's
    start, then in the plan's `lead` segments, newest first. The source entry of a lead segment
    it came from (the clip's `camera_signed.key_sei` names it; none found: null)."""
    clip.origin_us = _origin(buf, header, row["start_us"], from_us)
    found, at_origin = fmp4_signed.key_seis(buf, header, row["start_us"], clip.origin_us)
    source, entries = row, []
    for lead in reversed(plan.lead if plan is not None and not (found or at_origin) else []):
        try:  # a segment before the range that cannot be used is passed over, never fails the export
            lbuf = verified_map(data_dir, lead)
        except ExportError:
            continue
        try:
            lheader = fmp4.read_header(lbuf)
            if lheader.signature == header.signature:
                found, _ = fmp4_signed.key_seis(lbuf, lheader, lead["start_us"], None)
        except NotCopyable:
            continue
        finally:
            if isinstance(lbuf, mmap.mmap):
                lbuf.close()
        if found:
            source = lead
            entries.append({**source_entry(lead, clip.path.name), "key_sei": True})
            break
    if at_origin:
        clip.key_sei = {"source": row["path"], "in_first_frame": True}
    elif found:
        clip.lead = b"".join(len(n).to_bytes(clip.nal_size, "big") + n for n in found)
        clip.key_sei = {"source": source["path"], "bytes": len(clip.lead)}
    return entries


def _copy_tail(data_dir: Path, plan: CameraPlan, clip: _Out, to_us: int) -> list[dict[str, Any]]:
    """The rest of a signing camera's last GOP's signature from the segments after the range
    (the plan's `tail`), video only, until the tail rule is done; their source entries."""
    sources: list[dict[str, Any]] = []
    for row in plan.tail:
        if clip.tail is None or clip.tail.done or clip.origin_us is None:
            break
        try:  # a segment outside the range that cannot be used ends the tail, never the export
            buf = verified_map(data_dir, row)
        except ExportError as exc:
            clip.tail_stopped = str(exc)
            break
        try:
            header = fmp4.read_header(buf)
            if header.signature != clip.header.signature:
                break  # the stream changed: its signature cannot be in this part
            entry = {**source_entry(row, clip.path.name), "tail": True}
            _copy_segment(buf, header, clip, row, None, to_us, entry)
            if entry["clip_offset_s"] is not None:
                sources.append(entry)
        except NotCopyable as exc:
            clip.tail_stopped = f"{row['path']}: {exc}"
            break
        finally:
            if isinstance(buf, mmap.mmap):
                buf.close()
    return sources


def _origin(buf: Any, header: fmp4.Header, base_us: int, from_us: int | None) -> int:
    """Wall time of the clip's first frame: the last keyframe at or before `from_us` in this
    segment, or its first keyframe (a part that starts later, or footage that begins late)."""
    video = cast(fmp4.Track, header.track(b"vide"))  # one video track: copyable() checked
    first = best = None
    for runs in fmp4.fragments(buf, header):
        for run in runs:
            if run.track_id != video.track_id:
                continue
            dts = run.base_dts
            for dur, flags in zip(run.durations, run.flags):
                if not flags & fmp4.NON_SYNC:
                    wall = base_us + dts * 1_000_000 // video.timescale
                    first = wall if first is None else first
                    if from_us is not None and wall <= from_us:
                        best = wall
                dts += dur
    if first is None:
        raise NotCopyable("a segment without a keyframe")
    return best if best is not None else first


def _copy_segment(buf: Any, header: fmp4.Header, clip: _Out, row: dict[str, Any], from_us: int | None,
                  to_us: int, entry: dict[str, Any]) -> None:
    """Copy the samples of one segment that fall in the range into the clip, fragment by fragment."""
    base = row["start_us"]  # the wall time of the segment's first keyframe, whose decode time is 0
    if clip.origin_us is None:
        clip.origin_us = _origin(buf, header, base, from_us)
    vid = clip.vtrack.track_id
    scale = {t.track_id: t.timescale for t in header.tracks}
    offsets: dict[int, int] | None = None
    hevc, own = clip.vtrack.codec == "hevc", True  # own: False once past the segment's own pictures (design/0543)
    for runs in fmp4.fragments(buf, header):
        pieces = []
        for run in runs:
            first, last = _in_range(run, base, scale[run.track_id], clip.origin_us, to_us)
            shown = last
            if run.track_id == vid and clip.tail is not None:
                last = fmp4_signed.extend(buf, run, base, clip.vtrack, clip.tail, last)
            if run.track_id == vid and hevc:
                ends = fmp4.own_samples(buf, run, base, scale[vid], row["end_us"] or 1 << 62) if own else 0
                own, last = own and ends == len(run.offsets), min(last, ends)
                first, shown = min(first, last), min(shown, last)
            if first == last:
                continue
            if offsets is None:
                offsets = _place(clip, base, entry)
            dts = [run.base_dts + sum(run.durations[:first])]
            for d in run.durations[first:last - 1]:
                dts.append(dts[-1] + d)
            new = [d + offsets[run.track_id] for d in dts]
            if run.track_id != vid:
                _butt(run, first, new, clip.sound_end)
            previous = clip.last[run.track_id]
            skip = sum(1 for d in new if d < 0 or (previous is not None and d <= previous))
            if any(d < 0 or (previous is not None and d <= previous) for d in new[skip:]):
                raise NotCopyable("decode times out of order")
            first += skip
            if first == last:
                continue  # audio overlapping the previous segment's (after a clock step): dropped, never reordered
            lead = clip.lead if run.track_id == vid else b""
            clip.lead = b"" if lead else clip.lead
            pieces.append(fmp4.Piece(run, first, last, new[skip], lead))
            clip.last[run.track_id] = new[-1]
            if run.track_id != vid:
                clip.sound_end = new[-1] + run.durations[last - 1]
            if run.track_id == vid:
                clip.last_vdur = run.durations[last - 1] or clip.last_vdur
                clip.frames += max(0, shown - first)
                clip.tail_frames += last - max(first, shown)
                if clip.tail is not None and shown > first:
                    clip.shown_end = new[shown - 1 - first + skip] + run.durations[shown - 1]
        if pieces:
            clip.sequence += 1
            moof, mdat, spans = fmp4.fragment(clip.sequence, pieces)
            clip.write(moof)
            clip.write(mdat)
            with memoryview(buf) as view:
                for span in spans:
                    clip.write(span if isinstance(span, bytes) else view[span[0]:span[0] + span[1]])


def _butt(run: fmp4.Run, first: int, new: list[int], end: int | None) -> None:
    """A segment's first sound sample that starts inside the last one written by less than its
    own length is placed right after it, and made that much shorter, so the samples after it
    keep their times: the muxer starts a segment's sound at its first picture, one packet early
    where the last segment's last packet ran past the cut (design/0094). Nothing is dropped or
    reordered; an overlap of a whole sample or more (the host clock stepped back) is left to the
    caller, which drops it as before."""
    if end is None or new[0] >= end:
        return
    shift = end - new[0]
    if shift < run.durations[first]:
        run.durations[first] -= shift
        new[0] = end


def _in_range(run: fmp4.Run, base_us: int, timescale: int, origin_us: int, to_us: int) -> tuple[int, int]:
    """The run's samples [first, last) whose wall time is in [origin, to)."""
    first = last = 0
    dts = run.base_dts
    for i, dur in enumerate(run.durations):
        wall = base_us + dts * 1_000_000 // timescale
        if wall < origin_us:
            first = last = i + 1
        elif wall < to_us:
            last = i + 1
        else:
            break
        dts += dur
    return first, last


def _place(clip: _Out, base_us: int, entry: dict[str, Any]) -> dict[int, int]:
    """Ticks to add to this segment's decode times: its wall offset from the clip's start."""
    vtrack = clip.vtrack
    off = _ticks(base_us - cast(int, clip.origin_us), vtrack.timescale)  # placed after the origin is set
    last = clip.last[vtrack.track_id]
    if last is not None and off <= last:
        # The host clock stepped back: the segment overlaps the one before in wall time. Put it
        # right after, and say so; clip time no longer equals wall time from here.
        off = last + max(1, clip.last_vdur)
        entry["note"] = "overlaps the previous segment in wall time (host clock stepped back); placed after it"
    placed_us = off * 1_000_000 // vtrack.timescale  # as the remux: storage/export/remux.py's _us
    entry["clip_offset_s"] = round(placed_us / 1e6, 6)
    out = {vtrack.track_id: off}
    if clip.atrack is not None:
        out[clip.atrack.track_id] = _ticks(placed_us, clip.atrack.timescale)
    return out


def _ticks(us: int, timescale: int) -> int:
    """Microseconds in a track's ticks, rounded to the nearest (as the remux's _ticks)."""
    return (2 * us * timescale + 1_000_000) // 2_000_000
