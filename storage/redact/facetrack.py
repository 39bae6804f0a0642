"""Faces followed by the picture between the detector's runs (issue 54, item 1; design/0290): pure.

In "faces hidden except the applicant's" the detector runs on every `every`-th frame and
`plan.tracks` joins its boxes into tracks. Between two detections the straight line
(`plan.track_boxes`) misses a face that turns, stops or starts between them. So each box the
detector finds is followed by the picture with the applicant's tracker (storage/redact/track.py:
normalized cross-correlation of the box's luma, integer sums):
- **forward** from the frame it was found on, frame by frame, until a box found on a later run
  takes it over (`plan.closeness` above 0: the same face found again), its match falls under
  `track.FLOOR` or it slips off the face (design/0601) (then carried on at its last step: where it was leaving the
  picture at its edge, until it is out, a face half out of the picture cannot be matched; in the picture, behind
  someone or something, CARRY frames, design/0592), or REACH frames; and
- **backward** from it over the frames held before it (at most REACH), until a box found on an
  earlier run was there, likewise (a face lost in the picture carried back CARRY_BACK frames).
`face_boxes` then gives each frame its faces: on a detection its box; between two detections of a
track the two directions blended so both detections are met (as the applicant's region is, design/0285);
where they disagree, or only one direction holds, that one and the straight line both (a face's
mask errs towards hiding more: the opposite of the applicant's region); before a track's first
detection and after its last, the direction that holds, up to REACH frames, and the straight
line's COAST frames as before.

A face lost going forward in the picture (behind a pillar or another person: its match under FLOOR)
that only the detector's finer pass can see is **looked for again** (design/0463): `looks` gives the
worker (media.py `looked_again`) a region on its line on each of the next LOOK frames, where the
detector runs on that region alone, scaled up; a face found there is a detection like another, and
the track goes on.

The frames are followed at `factor_for` (about 960 px wide): a 24 px face is 12 px there.
`FaceFollower` is fed every frame in order (the worker decodes them: media.py `detect`), saved and
taken up again (`state`, `restored`: design/0277); the frames held for the backward passes are
not saved but fed again. No file, no clock; the same frames give the same boxes.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any

from storage.lazy import lazy_import
from storage.redact.facemoves import Key, Moved, between, leaving, moved_from, on_line, shifted, slipped
from storage.redact.plan import COAST, MAX_GAP, Box, Track, Tracking, closeness, track_boxes, tracks
from storage.redact.track import Tracker, advance, start, tracker_from, tracker_state

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")  # at the job's first frame: the daemon imports this module and redacts rarely (design/0297)

FACE_WIDTH = 960    # faces are followed in frames scaled down to at most about this wide
# frames a detection is followed each way, at most: four times MAX_GAP + COAST, 3 s at 20 fps (design/0582: a small
# face the passes find first or last far from the clip's start or end, held-out 12's 42 frames in; twice, design/0540:
# a small face in profile the detector finds once in 36 frames stays hidden between; past MAX_GAP + COAST it is not
# filled over the applicant's face, design/0542). The render holds no decoded frame for it (media.detect_render).
REACH = 4 * (MAX_GAP + COAST)
FACE_SEARCH = 10    # the search window's least reach for a face, scaled pixels (a walker's step at 20 fps, close up)
# a face lost in the picture going forward (behind a pillar, another person) is looked for again where its line
# takes it (design/0463): on each frame for LOOK frames (1.5 s at 20 fps), the detector run on that region alone
LOOK = 2 * (MAX_GAP + COAST)
SAID = 2 * LOOK    # a face of the pass beside lost likewise is said on its line this long: behind a person seen close (0572)
LOOK_MOST = 4       # lost faces looked for on one frame, at most (the latest lost first): the cost bounded
# a face lost in the picture (its match under track.FLOOR: behind a pillar, a person; or slipped off it) carried on its
# line, its match LOST, this many frames forward (0592: it is looked for again too), and back a track's gap and coast (0601)
CARRY, CARRY_BACK, LOST = 6, MAX_GAP + COAST, -1.0
LOOK_WIDEN = 2.0    # the region looked in: the face's box on its line widened by this many of its sides each way


def factor_for(width: int) -> int:
    """By how much a frame `width` wide is scaled down to follow faces in it."""
    return max(1, math.ceil(width / FACE_WIDTH))


class FaceFollower:
    """Each box the detector finds followed forward and backward through the frames fed, each
    scaled down by `factor` to 8-bit luma, in order from 0 (`feed`)."""

    def __init__(self, factor: int, reach: int = REACH) -> None:
        self.factor, self.reach = factor, reach
        self.upto = 0
        self.found: dict[int, list[Box]] = {}
        self.forward: dict[Key, dict[int, Moved]] = {}
        self.backward: dict[Key, dict[int, Moved]] = {}
        self.live: list[tuple[Key, Tracker]] = []   # the forward tracks under way
        self.held: list[tuple[int, np.ndarray]] = []  # the last `reach` frames, for the backward passes
        self.lost: list[list[float]] = []   # faces lost going forward: [x, y, w, h, dx, dy, frame] (`looks`)
        self.gone: list[list[float]] = []   # the `unsought` lost likewise (`unsought_now`, design/0568)
        self.unsought: set[tuple[int, Box]] = set()   # (frame, box) of heads scored weakly: never `looks`ed for

    def _taken(self, box: Box, frame: int, sure: bool = False) -> bool:
        """Whether a box the detector found on `frame` continues `box` (the same face found again);
        with `sure`, a box it found surely (a head scored weakly never stands in for a face: design/0501)."""
        return any(closeness(box, b) > 0 for b in self.found.get(frame, ()) if not sure or (frame, b) not in self.unsought)

    def feed(self, frame: int, small: np.ndarray, boxes: list[Box] | None) -> None:
        """Frame `frame` scaled down, and the detector's boxes on it where it ran (else None). A
        frame before `upto` (a run taken up again) is only held for the backward passes to come."""
        if frame >= self.upto:
            self.upto = frame + 1
            if boxes is not None:
                self.found[frame] = list(boxes)
                self.unsought = {u for u in self.unsought if u[0] >= frame - self.reach}   # older ones ask nothing
                self.lost = [lo for lo in self.lost if not any(closeness(on_line(lo, frame), b) > 0 for b in boxes
                                                               if (frame, b) not in self.unsought)]
            self._forward(frame, small)
            for i, box in enumerate(boxes or ()):
                self._backward((frame, i), box, small)
                tr = start(small, box, self.factor)
                if tr is not None:
                    self.live.append(((frame, i), tr))
        self.held = [(f, p) for f, p in self.held if f > frame - self.reach] + [(frame, small)]

    def _forward(self, frame: int, small: np.ndarray) -> None:
        live: list[tuple[Key, Tracker]] = []
        for key, tr in self.live:
            if frame - key[0] > self.reach:
                continue
            moved = self._step(tr, small, key, frame, self.found[key[0]][key[1]], self.forward)
            if moved is not None:
                live.append((key, moved))
        self.live = live

    def _backward(self, key: Key, box: Box, small: np.ndarray) -> None:
        tr = start(small, box, self.factor)
        for f, picture in reversed(self.held):
            if tr is None or key[0] - f > self.reach:
                break
            tr = self._step(tr, picture, key, f, box, self.backward)

    def _step(self, tr: Tracker, picture: np.ndarray, key: Key, frame: int, box: Box,
              into: dict[Key, dict[int, Moved]]) -> Tracker | None:
        """`tr` one frame on, its move kept in `into`; None once lost or where a later run's box takes
        it. A face whose next step takes it (partly) out of the picture is carried on (`_carried`),
        not matched: the match keeps a region inside the picture, and held one at the edge, still
        sure enough, while the face went on out of it (issue 75: seen on the 20 s crowd)."""
        if leaving(tr, picture.shape):
            self._carried(tr, key, frame, into, picture.shape)
            return None
        moved, score = advance(tr, picture, FACE_SEARCH)
        if moved is None or slipped(tr, moved):   # lost in the picture, or slipped off it: carried on (design/0592, 0601)
            self._carried(tr, key, frame, into, picture.shape, CARRY if into is self.forward else CARRY_BACK, LOST)
            if into is self.forward:   # lost in the picture: looked for again on its line (design/0463), a head
                # scored weakly or a box of the pass beside by the pass beside only (0501, 0568)
                f, sought = self.factor, (key[0], box) not in self.unsought
                (self.lost if sought else self.gone).append([tr.at[0] * f, tr.at[1] * f, box[2], box[3], tr.step[0] * f,
                                                             tr.step[1] * f, frame - 1])
            return None
        move = (*moved.moved(self.factor), score)
        into.setdefault(key, {})[frame] = move
        # most frames have no detections: nothing to take the track over (issue 75: not even a box moved to ask)
        sure = (key[0], box) not in self.unsought   # a face found surely is taken over by a sure box only
        return None if frame in self.found and self._taken(shifted(box, move), frame, sure) else moved

    def _carried(self, tr: Tracker, key: Key, frame: int, into: dict[Key, dict[int, Moved]],
                 shape: tuple[int, ...], most: int = 0, match: float = 0.0) -> None:
        """A face lost as it leaves the picture at its edge carried on at its last step from `frame`
        in the pass's direction, its match 0, until its region is out of the picture (`shape`: rows,
        columns), at least COAST frames and at most the follower's reach (issue 75: a face half out
        of the picture cannot be matched, and was shown; COAST frames alone left a slow face's last
        frames in the picture shown): a mask errs towards hiding more. A face lost in the picture (behind a pillar or a
        person) is carried `most` frames, its match LOST: not her face's place for a fill beside it (design/0592)."""
        sign = 1 if into is self.forward else -1
        w, h = tr.size
        for k in range(most or self.reach):
            x, y = tr.at[0] + tr.step[0] * (k + 1), tr.at[1] + tr.step[1] * (k + 1)
            out = x + w <= 0 or y + h <= 0 or x >= shape[1] or y >= shape[0]
            if (k >= COAST and out) or abs(frame + sign * k - key[0]) > self.reach:
                break
            into.setdefault(key, {}).setdefault(frame + sign * k, ((x - tr.origin[0]) * self.factor,
                                                                    (y - tr.origin[1]) * self.factor, match))

    def unsought_now(self, since: int) -> list[Box]:
        """Where the heads and the boxes of the pass beside found from frame `since` on are followed to on the last
        frame fed (design/0555): the pass beside looks about them again on its next frame. A small real face it
        confirmed closer once may score under FAINT there, or under FAINT_MOST others (held-out 7 int8). Each place once:
        of the faces followed to the same place (`closeness`), the latest found (design/0566)."""
        out: list[Box] = []
        for key, _ in sorted(self.live, key=lambda kt: -kt[0][0]):   # one place once, where the latest found went (0566)
            if key[0] >= since and (key[0], box := self.found[key[0]][key[1]]) in self.unsought and (moves := self.forward.get(key)):
                at = shifted(box, moves[max(moves)])
                out += [] if any(closeness(at, o) > 0 for o in out) else [at]
        now = self.upto - 1   # then where those lost in the picture are on their line, SAID frames at most (0568, 0572)
        self.gone = [lo for lo in self.gone if 0 < now - lo[6] <= SAID]
        for at in (on_line(lo, now) for lo in sorted(self.gone, key=lambda lo: -lo[6])):
            out += [] if any(closeness(at, o) > 0 for o in out) else [at]
        return out

    def looks(self, frame: int, shape: tuple[int, int], below: int) -> list[tuple[Box, int]]:
        """Where to run the detector again on `frame` (in a picture `shape`: width, height): around
        each face less than `below` px high (one only the detector's finer, sparser pass sees: a
        larger one the first pass finds again within its few frames) lost going forward in the last
        LOOK frames, on its line (its last step carried on), widened by LOOK_WIDEN of its sides and
        one pixel a frame since; at most LOOK_MOST, the latest lost first, each with the face's
        height. A face found again near its line is no longer looked for (`feed`)."""
        self.lost = [lo for lo in self.lost if 0 < frame - lo[6] <= LOOK]
        out: list[tuple[Box, int]] = []
        for lo in sorted((lo for lo in self.lost if lo[3] < below), key=lambda lo: -lo[6])[:LOOK_MOST]:
            x, y, w, h = on_line(lo, frame)
            grow = round(LOOK_WIDEN * max(w, h) + frame - lo[6])
            x0, y0 = max(0, x - grow), max(0, y - grow)
            x1, y1 = min(shape[0], x + w + grow), min(shape[1], y + h + grow)
            if x1 - x0 > w and y1 - y0 > h:   # a region still (mostly) in the picture
                out.append(((x0, y0, x1 - x0, y1 - y0), h))
        return out

    def state(self) -> dict[str, Any]:
        """What was followed so far, as JSON (the frames held are not in it: fed again)."""
        def moved(d: dict[Key, dict[int, Moved]]) -> dict[str, dict[str, list[float]]]:
            return {f"{k[0]}:{k[1]}": {str(f): list(m) for f, m in v.items()} for k, v in d.items()}
        return {"upto": self.upto, "factor": self.factor, "reach": self.reach,
                "forward": moved(self.forward), "backward": moved(self.backward),
                "live": [[k[0], k[1], tracker_state(tr)] for k, tr in self.live], "lost": self.lost,
                "unsought": sorted([f, *b] for f, b in self.unsought), "gone": self.gone}

    @classmethod
    def restored(cls, factor: int, found: dict[int, list[Box]], state: dict[str, Any] | None,
                 reach: int = REACH) -> FaceFollower:
        """A follower taken up from `state` (`FaceFollower.state`) with the detector's boxes so far,
        or from the start where there is none or it was saved with another scale or reach."""
        f = cls(factor, reach)
        if not state or state.get("factor") != factor or state.get("reach") != reach:
            return f
        f.upto, f.found = int(state["upto"]), {k: list(v) for k, v in found.items() if k < int(state["upto"])}
        f.forward, f.backward = moved_from(state["forward"]), moved_from(state["backward"])
        f.live = [((int(a), int(b)), tr) for a, b, raw in state["live"] if (tr := tracker_from(raw)) is not None]
        f.lost, f.gone = ([[float(v) for v in lo] for lo in state.get(k, [])] for k in ("lost", "gone"))
        f.unsought = {(int(u[0]), (int(u[1]), int(u[2]), int(u[3]), int(u[4]))) for u in state.get("unsought", [])}
        return f

    def followed(self) -> dict[str, Any]:
        """The moves found, as JSON (`face_boxes` reads them back with `moved_from`)."""
        state = self.state()
        return {"factor": self.factor, "reach": self.reach, "forward": state["forward"], "backward": state["backward"]}


def face_boxes(found: dict[int, list[Box]], forward: dict[Key, dict[int, Moved]],
               backward: dict[Key, dict[int, Moved]], frames: int, coast: int = COAST,
               reach: int = REACH) -> list[list[Box]]:
    """Each frame's faces: the detector's boxes joined into tracks (`plan.tracks`), and between and
    around their detections where the picture followed them (`forward`, `backward`) and the
    straight line (`plan.track_boxes`) as the module says; on a frame, the tracks' boxes in the
    order of their first detections (`_first`). With no moves, the straight line alone."""
    index = _index(found)
    out: list[list[Box]] = [[] for _ in range(frames)]
    for track in sorted(tracks(found), key=lambda t: _first(t, index)):
        _track_faces(track, index, forward, backward, (0, frames), coast, reach, out)
    return out


def _index(found: dict[int, list[Box]]) -> dict[tuple[int, Box], int]:
    return {(f, b): i for f, boxes in found.items() for i, b in enumerate(boxes)}


def _first(track: Track, index: dict[tuple[int, Box], int]) -> Key:
    """A track's first detection (frame, place in the frame's boxes): the order of the faces on a
    frame, known as soon as the track is (design/0360: `face_boxes` and `Settled` agree on it)."""
    frame = min(track.seen)
    return frame, index[(frame, track.seen[frame])]


def _track_faces(track: Track, index: dict[tuple[int, Box], int], forward: dict[Key, dict[int, Moved]],
                 backward: dict[Key, dict[int, Moved]], span: tuple[int, int], coast: int, reach: int,
                 out: list[list[Box]], carried: list[set[int]] | None = None) -> None:
    """`track`'s boxes on the frames of `span` (from, to) into `out` (its first entry: frame `from`); into `carried`,
    the places in `out` of those that are a face lost in the picture carried on alone (its match LOST: design/0592)."""
    seen = list(track.seen)   # joined in frame order (plan.Tracking): sorted
    lo, hi = span
    for f in range(max(lo, seen[0] - reach), min(hi, seen[-1] + reach + 1)):
        got: list[Box]
        m: Moved | None
        if f in track.seen:   # a detection: its box (the straight line not asked for)
            out[f - lo].append(track.seen[f])
            continue
        line, m, k = track_boxes(track, f, coast, seen), None, 0   # m: the move of got[k] from one direction alone
        if seen[0] < f < seen[-1]:
            at = bisect.bisect_right(seen, f)
            a, b = seen[at - 1], seen[at]
            ba, bb = track.seen[a], track.seen[b]
            fm, bm = forward.get((a, index[(a, ba)]), {}).get(f), backward.get((b, index[(b, bb)]), {}).get(f)
            if fm is not None and bm is not None:
                got = between(ba, bb, shifted(ba, fm), shifted(bb, bm), (f - a) / (b - a), line)
                if len(got) > 1:   # the two disagree: each its own box (a carried one among them marked below)
                    m, k = (fm, 0) if fm[2] == LOST else (bm, 1)
            else:
                m = fm if fm is not None else bm
                got = [shifted(ba if fm is not None else bb, m)] if m is not None else []
                got += [line] if line is not None else []
        else:
            end = seen[0] if f < seen[0] else seen[-1]
            moves = backward if f < seen[0] else forward
            m = moves.get((end, index[(end, track.seen[end])]), {}).get(f)
            got = ([shifted(track.seen[end], m)] if m is not None else []) + ([line] if line is not None else [])
        if carried is not None and m is not None and m[2] == LOST:
            carried[f - lo].add(len(out[f - lo]) + k)
        out[f - lo] += got


class Settled:
    """`face_boxes` of each frame as soon as no frame still to come can change it, while a
    `FaceFollower` is fed (design/0360: the copy rendered as the clip is decoded, once): frame f's
    faces are settled once `lag` frames after it are fed, that is once every detection that can
    join a track across f (MAX_GAP after it), begin one whose backward pass or straight line
    reaches f (the follower's reach, COAST plus the gap to that track's second detection), and
    every move onto f, is in. `faces(f)` then gives what `face_boxes` over the whole clip gives."""

    def __init__(self, follower: FaceFollower, coast: int = COAST) -> None:
        self.follower, self.coast = follower, coast
        self.lag = max(follower.reach, MAX_GAP + coast)
        self.joined = Tracking()
        self.index: dict[tuple[int, Box], int] = {}
        self.open: list[tuple[Key, Track]] = []   # the tracks that can still reach a frame asked for
        self.added = 0   # detections joined: those of the frames before this one

    def settled(self, frame: int) -> bool:
        return frame + self.lag < self.follower.upto

    def faces(self, frame: int) -> list[Box]:
        """Frame `frame`'s faces (settled: asked in order, each once)."""
        found = self.follower.found
        for f in (f for f in range(self.added, self.follower.upto) if f in found):
            self.index.update({(f, b): i for i, b in enumerate(found[f])})
            self.open += [(_first(t, self.index), t) for t in self.joined.add(f, found[f])]
        self.added = self.follower.upto
        reach = self.follower.reach
        self.open = sorted(((k, t) for k, t in self.open if t.last()[0] + reach >= frame), key=lambda kt: kt[0])
        out: list[list[Box]] = [[]]
        for _key, track in self.open:
            _track_faces(track, self.index, self.follower.forward, self.follower.backward, (frame, frame + 1),
                         self.coast, reach, out)
        return out[0]


def followed_share(found: dict[int, list[Box]], forward: dict[Key, dict[int, Moved]],
                   backward: dict[Key, dict[int, Moved]]) -> dict[str, int]:
    """What the copy's summary says of the following: detections and frames followed each way
    (counts, never a box)."""
    return {"detections": sum(len(v) for v in found.values()),
            "frames_followed_forward": sum(len(v) for v in forward.values()),
            "frames_followed_backward": sum(len(v) for v in backward.values())}


def plans_faces(found: dict[int, list[Box]], followed: dict[str, Any] | None, frames: int) -> list[list[Box]]:
    """`face_boxes` from what `FaceFollower.followed` saved (None: an older copy's boxes, the straight line)."""
    if not followed:
        return face_boxes(found, {}, {}, frames)
    return face_boxes(found, moved_from(followed["forward"]), moved_from(followed["backward"]), frames,
                      reach=int(followed.get("reach", REACH)))



def labelled_faces(found: dict[int, list[Box]], followed: dict[str, Any] | None, frames: int,
                   carried: list[set[int]] | None = None) -> tuple[list[Track], list[list[tuple[int, Box]]]]:
    """`plans_faces` with each box labelled by its track (an index into the tracks also returned):
    what storage/redact/applicant.py follows the applicant by (design/0430); into `carried` (one set a frame), the
    places of the boxes of a face lost in the picture carried on alone (`_track_faces`, design/0592)."""
    forward = moved_from(followed["forward"]) if followed else {}
    backward = moved_from(followed["backward"]) if followed else {}
    reach = int(followed.get("reach", REACH)) if followed else REACH
    index = _index(found)
    joined = sorted(tracks(found), key=lambda t: _first(t, index))
    out: list[list[tuple[int, Box]]] = [[] for _ in range(frames)]
    for i, track in enumerate(joined):
        lo = max(0, min(track.seen) - reach)
        hi = min(frames, max(track.seen) + reach + 1)
        if hi <= lo:
            continue
        mine: list[list[Box]] = [[] for _ in range(hi - lo)]
        lost: list[set[int]] = [set() for _ in range(hi - lo)]
        _track_faces(track, index, forward, backward, (lo, hi), COAST, reach, mine, lost)
        for k, boxes in enumerate(mine):
            if carried is not None:
                carried[lo + k].update(len(out[lo + k]) + j for j in lost[k])
            out[lo + k] += [(i, b) for b in boxes]
    return joined, out
