"""One clip redacted with PyAV (design/0172): read from the original export, never written there.

Two passes over the clip, each a step the job can resume at (storage/redact/job.py):
1. `detect` (FACES mode only): every `every`-th frame decoded, scaled down to the detector's input
   and run through it; the boxes per frame kept as plain data (the plan tracks across them), and every frame
   scaled down to its luma to follow each box found between the detector's runs (facetrack.py, design/0290).
   `follow` (EVERYTHING mode only, design/0285): every frame decoded, and those the tracker asks for scaled down to
   its luma and fed to it (storage/redact/track.py), which follows the applicant's region between the custodian's marks.
2. `render`: every frame decoded, filled as the plan says (storage/redact/plan.py) on its YUV planes, re-encoded
   with x264 in parts (storage/redact/resume.py), joined into a new MP4. No sound: a voice identifies a third party.

The fill is solid black in Y'CbCr (Y 16, Cb and Cr 128): a mask widened outwards to even pixels (the chroma
planes are half size), the applicant's region narrowed inwards to them.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from storage.redact import resume, watermark, x264
from storage.redact.detect import Pass, disagree, fine_across, input_for, least_face, merged
from storage.redact.facetrack import FaceFollower, Settled
from storage.redact.inside import AROUND_EVERY, around, own_look
from storage.redact.plan import Box, FramePlan
from storage.redact.track import Follower, work_size
from storage.redact.widest import frame_boxes

if TYPE_CHECKING:  # PyAV and numpy are imported in the functions that read and write the clip, which run
    import numpy as np  # on the job's thread: the daemon imports this module and redacts rarely (design/0286)

FILL_Y, FILL_C = 16, 128
DECODE_THREADS = "NONE"   # on the job's thread (design/0363): frame threads cost 0.15 core-s/s of 1080p20, alone 0.10
Tick = Callable[[int], None]


def probe(src: Path) -> dict[str, Any]:
    """The clip's video: frames, size, rate (frames counted by decoding nothing: packets)."""
    import av

    with av.open(str(src)) as f:
        v = f.streams.video[0]
        frames = sum(1 for p in f.demux(v) if p.size)
        rate = v.average_rate or v.guessed_rate or Fraction(20)
        return {"frames": frames, "width": v.codec_context.width, "height": v.codec_context.height,
                "rate": [rate.numerator, rate.denominator]}


def detect(src: Path, detector: Any, every: int, tick: Tick = lambda n: None, start: int = 0,
           found: dict[int, list[Box]] | None = None, per: int = 0,
           saved: Callable[[int, dict[int, list[Box]]], None] | None = None,
           faces: FaceFollower | None = None, passes: tuple[Pass, ...] | None = None,
           disagreed: set[int] | None = None) -> dict[int, list[Box]]:
    """The detector's boxes on every `every`-th frame of `src` (frame index -> boxes), or with
    `passes` on each frame a pass runs on, each pass at its own scale, their boxes merged
    (detect.merged, design/0325), the frames where one pass found a face another did not added
    to `disagreed`; and where
    `faces` is given every frame scaled down to its luma and fed to it with the boxes found on it
    (storage/redact/facetrack.py: each face followed by the picture between the detector's runs,
    design/0290). Going on from an earlier run (design/0277): `found` its boxes for the frames
    before `start`, which are decoded but not run through the detector again (the last
    `faces.reach` of them fed to `faces` to hold); every `per` frames `saved(frames, found)`."""
    import av

    passes = passes or (Pass(detector.input, every),)
    found = dict(found or {})
    with av.open(str(src)) as f:
        v = f.streams.video[0]
        v.thread_type = DECODE_THREADS
        size = (v.codec_context.width, v.codec_context.height)
        small = work_size(*size, faces.factor) if faces is not None else size
        for i, frame in enumerate(f.decode(v)):
            if i < start - (faces.reach if faces is not None else 0):
                continue
            _looked(i, frame, detector, passes, found, disagreed, faces, (size, small), i >= start)
            if i < start:
                continue
            tick(i + 1)
            if saved is not None and per and (i + 1) % per == 0:
                saved(i + 1, found)
    return found


def _looked(i: int, frame: Any, detector: Any, passes: tuple[Pass, ...], found: dict[int, list[Box]],
            disagreed: set[int] | None, faces: FaceFollower | None, sizes: tuple[tuple[int, int], tuple[int, int]],
            run: bool) -> None:
    """Frame `i` through the detector's passes that run on it (where `run`), their boxes merged into `found[i]`
    (the clip's `size` pixels), a disagreement into `disagreed`; fed to `faces` scaled to `small`. `sizes`: (size, small)."""
    size, small = sizes
    ran = [p for p in passes if p.runs(i)]
    if run and ran:
        got = frame_boxes(detector, ran, lambda p: frame.reformat(width=p.input[0], height=p.input[1], format="rgb24").to_ndarray(),
                          size, passes[0], lambda r, closest=False, least=0.0: looked_again(frame, detector, r, closest, least),
                          lambda: faces.unsought_now(i - faces.reach) if faces is not None else [])   # 0550, 0551, 0555, 0566, 0589
        each = [sure + heads for sure, heads in got]
        if faces is not None:   # a head scored weakly, or any box of the pass beside, never stands in for a face (0501, 0550)
            faces.unsought.update((i, b) for (sure, heads), p in zip(got, ran) for b in heads + (sure if p.extra else []))
        found[i] = merged(each)
        kept = [(b, p) for b, p in zip(each, ran) if not p.extra]   # the pass beside the others never disagrees
        if disagreed is not None and disagree([b for b, _ in kept], [least_face(p, size[1]) for _, p in kept]):
            disagreed.add(i)
    if run and faces is not None and (regions := faces.looks(i, size, least_face(passes[0], size[1]))):
        # faces lost that only the finer pass sees: looked for again (design/0463)
        again = looked_again(frame, detector, regions)
        if again or i in found:
            found[i] = merged([found.get(i, []), again])
    if faces is not None:
        faces.feed(i, frame.reformat(width=small[0], height=small[1], format="gray",
                                     interpolation="AREA").to_ndarray(), found.get(i) if ran or i in found else None)


LOOK_FACE = 48   # a face looked for again is run at least this many pixels high (up to LOOK_SCALE times its own)
LOOK_SCALE = 3
LOOK_SIZE = 2    # a face found again is within this factor of the lost face's height (applicant.py's SIZE for her face taken up)


def looked_again(frame: Any, detector: Any, regions: list[tuple[Box, int]], closest: bool = False, least: float = 0.0) -> list[Box]:
    """The detector on each of `regions` of `frame` alone (design/0463: where a face was lost; each (region, the face's
    height)), scaled up so the face is LOOK_FACE px high (at most LOOK_SCALE times, never down; `closest`: LOOK_SCALE
    times, design/0566): the faces found of a like height (LOOK_SIZE), in the frame's pixels (`least`: and the heads scored
    from it, design/0564). Each region is cut from the frame's planes and the crop alone converted and scaled in one call
    (design/0480; the whole 1080p frame converted to RGB first cost 2.6 ms)."""
    import av

    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    out: list[Box] = []
    for (x, y, w, h), face in regions:
        x, y, x1, y1 = _even_out((x, y, w, h))   # on even pixels: the chroma planes' grid
        w, h = min(x1, frame.width - frame.width % 2) - x, min(y1, frame.height - frame.height % 2) - y
        scale = LOOK_SCALE if closest else min(LOOK_SCALE, max(1.0, LOOK_FACE / max(1, face)))
        iw, ih = 32 * max(1, round(w * scale / 32)), 32 * max(1, round(h * scale / 32))
        cut = av.VideoFrame(w, h, "yuv420p")   # each plane's rows of the region (the chroma planes half size)
        for dst, src, k in zip(cut.planes, frame.planes, (1, 2, 2)):
            _plane(dst)[:] = _plane(src)[y // k:(y + h) // k, x // k:(x + w) // k]
        crop = cut.reformat(width=iw, height=ih, format="rgb24").to_ndarray()   # then its faces, and heads from `least`
        out += [(bx + x, by + y, bw, bh) for bx, by, bw, bh in sum(detector.weighed(crop, (w, h), least, h), [])
                if face / LOOK_SIZE <= bh <= face * LOOK_SIZE]   # the face looked for, not another in its region
    return out


def detect_render(src: Path, detector: Any, passes: tuple[Pass, ...], faces: FaceFollower, disagreed: set[int],
                  plan: Callable[[int, list[Box]], FramePlan], parts: Callable[[Any], Parts], per: int,
                  saved: Callable[[int, dict[int, list[Box]]], None], tick: Tick = lambda n: None,
                  ) -> tuple[dict[int, list[Box]], int]:
    """`detect` and `render` of a fresh job as the clip is decoded (design/0360; before, one pass after the
    other): each frame through the detector's passes and `faces` as `detect` does (every `per` frames `saved`),
    and once its faces are settled (facetrack.Settled: its lag's worth of frames after it fed) decoded again by
    the render's own decoder, that far behind, filled with `plan(frame, its faces)` and encoded into
    `parts(stream)` (`Parts`): no decoded frame is held (design/0582: the lag's 61 frames of 1080p held were
    190 MB). Returns the boxes and the frames encoded."""
    import av

    found: dict[int, list[Box]] = {}
    settled = Settled(faces)
    with av.open(str(src)) as f, av.open(str(src)) as g:
        v, w = f.streams.video[0], g.streams.video[0]
        v.thread_type = w.thread_type = DECODE_THREADS
        behind = enumerate(g.decode(w))   # the render's decode, the same frames in the same order
        size = (v.codec_context.width, v.codec_context.height)
        sizes = (size, work_size(*size, faces.factor))
        into = parts(v)
        for i, frame in enumerate(f.decode(v)):
            _looked(i, frame, detector, passes, found, disagreed, faces, sizes, True)
            while into.made <= i and settled.settled(into.made):
                j, old = next(behind)
                into.put(j, old, plan(j, settled.faces(j)))
            tick(i + 1)
            if per and (i + 1) % per == 0:
                saved(i + 1, found)
        for j, old in behind:   # the clip's end: every frame fed, the last ones settled
            into.put(j, old, plan(j, settled.faces(j)))
        into.close()
    return found, into.made


def follow(src: Path, follower: Follower, tick: Tick = lambda n: None, per: int = 0,
           saved: Callable[[int, Follower], None] | None = None, detector: Any = None,
           every: int = 3) -> Follower:
    """`follower` fed `src`'s frames, each it asks for (`needs`) scaled down by its factor to
    8-bit luma (swscale's area average: the same frame gives the same picture). Going on from an
    earlier run (design/0277): a follower restored from its state is fed the frames before its
    `upto` only to hold what its backward pass under way needs; every `per` frames
    `saved(frames, follower)`. With a `detector`, on every `every`-th frame the region is looked at by
    the detector at the picture's own scale (inside.own_look, design/0569), and on every AROUND_EVERY-th
    of those frames the region and around it (inside.around) at its second scale (detect.FINE_ACROSS,
    design/0326, 0619): the faces found are kept in `follower.inside`."""
    import av

    start = follower.upto
    with av.open(str(src)) as f:
        v = f.streams.video[0]
        v.thread_type = DECODE_THREADS
        width, height = work_size(v.codec_context.width, v.codec_context.height, follower.factor)
        for i, frame in enumerate(f.decode(v)):
            if i >= follower.frames:
                break
            small = None
            if follower.needs(i):
                small = frame.reformat(width=width, height=height, format="gray",
                                       interpolation="AREA").to_ndarray()
            follower.feed(i, small)
            if i < start:
                continue
            if detector is not None and i % every == 0:
                _look_inside(follower, i, frame, detector, wide=(i // every) % AROUND_EVERY == 0)
            tick(i + 1)
            if saved is not None and per and (i + 1) % per == 0:
                saved(i + 1, follower)
    return follower


def _look_inside(follower: Follower, i: int, frame: Any, detector: Any, wide: bool) -> None:
    """The faces in and near the applicant's region on frame `i` (as far as it is known: `guess`), into `follower.inside[i]`:
    found on the region itself at the picture's own scale (inside.own_look, design/0569) and, where `wide` (design/0619),
    on the frame at the detector's second scale cut to the region and around it (a multiple of 32 pixels each way)."""
    region = follower.guess(i)
    width, height = frame.width, frame.height
    if region is None:
        return
    found: list[Box] = []
    if wide and min((near := around(region, width, height))[2:]) > 0:   # cut to the frame: nothing left, no look
        x, y, w, h = near
        sw, sh = input_for(width, height, fine_across(width))
        fx, fy = sw / width, sh / height
        cw, ch = min(sw, -(-round(w * fx) // 32) * 32), min(sh, -(-round(h * fy) // 32) * 32)
        cx, cy = min(max(0, round(x * fx)), sw - cw), min(max(0, round(y * fy)), sh - ch)
        rgb = frame.reformat(width=sw, height=sh, format="rgb24").to_ndarray()[cy:cy + ch, cx:cx + cw]
        found = [(b[0] + round(cx / fx), b[1] + round(cy / fy), b[2], b[3]) for b in detector.faces(rgb, (round(cw / fx), round(ch / fy)))]
    follower.inside[i] = merged([found, looked_again(frame, detector, [(o, LOOK_FACE)]) if (o := own_look(region, width, height)) else []])


def _even_out(box: Box) -> tuple[int, int, int, int]:
    x, y, w, h = box
    x0, y0 = x - x % 2, y - y % 2
    x1, y1 = x + w + (x + w) % 2, y + h + (y + h) % 2
    return x0, y0, x1, y1


def _even_in(box: Box) -> tuple[int, int, int, int]:
    x, y, w, h = box
    x0, y0 = x + x % 2, y + y % 2
    x1, y1 = x + w - (x + w) % 2, y + h - (y + h) % 2
    return x0, y0, max(x0, x1), max(y0, y1)


def _plane(plane: Any) -> np.ndarray:
    """A PyAV frame's plane as a (height, width) array over its own memory (its rows padded to
    `line_size`: the padding cut off, nothing copied)."""
    import numpy as np

    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]


def filled(frame: Any, plan: FramePlan, mark: watermark.Stamp | None = None) -> Any:
    """A new yuv420p frame: decoded `frame`'s planes copied into it with the plan's fill applied
    (the decoder's own frame is never written: it may be a reference for the frames after it).
    Each plane is copied once, straight into the frame the encoder takes (issue 75: the planes
    stacked into one array and copied again into a frame cost 0.05 core-s/s at 1080p20); `mark`: the review
    copy's words drawn over it last (storage/redact/watermark.py, design/0479)."""
    import av

    new = av.VideoFrame(frame.width, frame.height, "yuv420p")
    y, u, v = (_plane(p) for p in new.planes)
    if plan.fill_all:
        y[:] = FILL_Y
        u[:] = FILL_C
        v[:] = FILL_C
        if plan.keep is not None:
            x0, y0, x1, y1 = _even_in(plan.keep)
            src = [_plane(p) for p in frame.planes]
            y[y0:y1, x0:x1] = src[0][y0:y1, x0:x1]
            for dst, s in ((u, src[1]), (v, src[2])):
                dst[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = s[y0 // 2:y1 // 2, x0 // 2:x1 // 2]
    else:
        for dst, p in zip((y, u, v), frame.planes):
            dst[:] = _plane(p)
    for box in plan.masks:
        x0, y0, x1, y1 = _even_out(box)
        y[y0:y1, x0:x1] = FILL_Y
        u[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = FILL_C
        v[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = FILL_C
    if mark is not None:
        watermark.draw(y, mark)
    return new


def _writing(dst: Path) -> Path:
    """Where `dst` is written before it is whole."""
    return dst.with_name(f".{dst.name}.part")


def _whole(path: Path, dst: Path) -> None:
    """`path` (written) fsynced and renamed to `dst`: a file half made is never taken for one made."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(path, dst)


class Parts:
    """The copy's frames encoded into parts of `per` frames (design/0277): part i (frames i*per
    onwards, a key frame first) into `part_of(i)`, written beside it as `.part`, fsynced and
    renamed, then `saved(i, path, frames)`. `count` parts; a frame past them goes in the last. `words`:
    the review copy's watermark drawn on each frame (design/0479); None: the deliverable."""

    def __init__(self, stream: Any, part_of: Callable[[int], Path], per: int, count: int,
                 saved: Callable[[int, Path, int], None], words: str | None = None) -> None:
        self.part_of, self.per, self.count, self.saved = part_of, per, count, saved
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        self.mark = watermark.stamp(words, self.width, self.height) if words else None
        self.rate = stream.average_rate or stream.guessed_rate or Fraction(20)
        self.tb = stream.time_base
        self.out: Any = None
        self.ov: Any = None
        self.index, self.frames, self.made = -1, 0, 0

    def put(self, i: int, frame: Any, plan: FramePlan) -> None:
        """Decoded frame `i` filled as `plan` says and encoded into its part."""
        import av

        at = resume.chunk_of(i, self.per, self.count)
        if at != self.index:
            self.close()
            self.index, self.frames = at, 0
            self.out = av.open(str(_writing(self.part_of(at))), "w", format="mp4")
            self.ov = x264.encoder(self.out, self.rate, self.width, self.height, self.tb)
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        new = filled(frame, plan, self.mark)
        if frame.pts is not None:
            new.pts, new.time_base = frame.pts, frame.time_base
        elif self.tb is not None:  # a frame without a time (some cameras' streams): its place in the clip
            new.pts, new.time_base = int(i / self.rate / self.tb), self.tb
        for packet in self.ov.encode(new):
            self.out.mux(packet)
        self.frames += 1
        self.made += 1

    def close(self) -> None:
        """The part under way (if any) ended, made whole and saved."""
        if self.out is None:
            return
        for packet in self.ov.encode(None):
            self.out.mux(packet)
        self.out.close()
        self.out = None
        _whole(_writing(self.part_of(self.index)), self.part_of(self.index))
        self.saved(self.index, self.part_of(self.index), self.frames)


def render(src: Path, part_of: Callable[[int], Path], plans: list[FramePlan], per: int, start: int,
           saved: Callable[[int, Path, int], None], tick: Tick = lambda n: None,
           words: str | None = None) -> dict[str, Any]:
    """`src`'s frames filled as `plans` says, re-encoded in parts of `per` frames (`Parts`). Parts
    before `start` were made by an earlier run: their frames are decoded (to reach the next) but
    neither filled nor encoded, and not ticked. A frame past the plans (the clip longer than
    probed) goes in the last part, filled whole: never shown unplanned. `words`: the review copy's
    watermark (design/0479). Returns the frames filled and encoded by this run."""
    import av

    count = max(1, -(-len(plans) // per))
    with av.open(str(src)) as f:
        v = f.streams.video[0]
        v.thread_type = DECODE_THREADS
        parts = Parts(v, part_of, per, count, saved, words)
        for i, frame in enumerate(f.decode(v)):
            if resume.chunk_of(i, per, count) < start:
                continue
            parts.put(i, frame, plans[i] if i < len(plans) else FramePlan(True, None))
            tick(i + 1)
        parts.close()
    return {"frames": parts.made, "width": parts.width, "height": parts.height}


def join(parts: list[Path], dst: Path) -> int:
    """The parts' packets, in order, copied (not re-encoded) into one MP4 `dst`, written beside
    it as `.part`, fsynced and renamed. Returns the frames in it."""
    import av

    part = _writing(dst)
    frames = 0
    with av.open(str(part), "w", format="mp4") as out:
        ov: Any = None
        for path in parts:
            with av.open(str(path)) as f:
                v = f.streams.video[0]
                if ov is None:
                    ov = out.add_stream_from_template(v)
                for packet in f.demux(v):
                    if packet.dts is None and packet.pts is None:   # the demuxer's end
                        continue
                    packet.stream = ov
                    out.mux(packet)
                    frames += 1
    _whole(part, dst)
    return frames
