"""Whose face is the applicant's in "faces hidden except the applicant's" (issue 88, design/0430):
pure, plain data in and out.

The detector's boxes are joined into tracks (`plan.tracks`) and each followed by the picture
between its detections (storage/redact/facetrack.py). The applicant's face is a *track*, not
"the face most inside" the straight line between the custodian's marks:
- **anchored**: on each frame the custodian marked with a box, the track whose face is inside the
  mark (at least plan.APPLICANT_INSIDE of it; the larger where two are: the frame is then checked);
- **joined**: a track that takes up where an applicant's track ends (it begins at most JOIN_GAP
  frames after that one's last detection, or up to OVERLAP frames before it: two tracks of one
  face at a pillar), near where that face was (`continues`) and of its size (the two tracks' median
  widths, so a half of her face found last never makes a small stranger's face look like hers), is the
  applicant's too, forward and back, when it is the *only* such track, or the first of such tracks that
  each take up the one before (her face found again, then again: a chain, design/0541); where two could
  be otherwise, neither is joined (unsure), but a track that is only a piece of another's place at its time
  is no rival to it (her face found twice, the side of her head: design/0560); and never a track found, on a
  frame one of theirs was found on, away from it (`_clashes`: she is in one place at a time, design/0546);
- **shown**: on a frame where the custodian's marks say the applicant is in the picture
  (`plan.follow` not None), the applicant's tracks' boxes, and a box that is the same face found
  twice (at least plan.SAME_FACE inside one of theirs widened by plan.PAD, and at least SAME_SIZE
  of its width; or as far inside theirs itself and SAME_SIZE of its height: a part of her face seen beside
  a pillar is cut one way only, design/0546; or cut so, tall and PART of her height, in her margin: 0580);
  every other face is filled, but a stranger's box followed far from his detections onto her face, shown
  (design/0542) unless he crosses her face there on his own line (`_crossing`, design/0614);
- **moments to check** (`Decided.check`, frame: why): a frame where the applicant is in the
  picture by the marks but no track of theirs is followed, and a filled face is near where they
  were last or will be next (UNSURE: it may be theirs, filled); a frame where a filled face
  overlaps the applicant's own (OVER: their face may be partly filled); a marked frame with two
  faces as far inside the mark (TWO). Never every frame: a person looks at these.
No file, no clock, no picture: the same boxes give the same plan.
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass, field
from typing import Sequence

from storage.redact.plan import (APPLICANT_INSIDE, COAST, MAX_GAP, SAME_FACE, TALL, Box, Mark, Track, follow,
                                 inside, lerp, pad, track_boxes, union)

JOIN_GAP = 40     # frames (2 s at 20 fps) an applicant's face may go unfound and be taken up by one track again
OVERLAP = 12      # frames a track taking up the applicant's may begin before their last one ends (at a pillar)
REACH = 2.0       # the taken-up face's centre within this many face sides of where theirs was, (and more
REACH_STEP = 0.05  # this many sides a frame of the gap: a walker moves on while unseen)
SIZE = 2.0        # and its size within this factor of theirs (half of a face still seen is a face too)
FOLLOW_STEP = 0.25  # a face followed moves at most this share of its side a frame (disagreed_checks)
SAME_SIZE = 0.4   # a second box of their face is at least this share of its width (a stranger behind is smaller), or
#                   inside her face, of its height (a part of her face seen beside a pillar keeps her height: design/0546)
PART = 0.5        # a box TALL times as high as wide and this share of her height, in her margin, is a part of hers (0580)
NEAR = 0.5        # where they may be: their last and next boxes and the marks' line, widened by this share
NEAR_FOUND = MAX_GAP + COAST   # frames from a detection within which a stranger's followed box is filled over her face
FOLLOWED = 4 * NEAR_FOUND   # and farther, frames each side looked at for his box off her face: crossing it (0614)
ON_LINE = 0.5     # a crossing box's centre within this share of its side of the line between those (design/0614)
UNSURE, OVER, TWO = "unsure", "over", "two"   # why a frame is to check (the summary's words, never a box)


@dataclass
class Decided:
    """Per frame: the indices (into that frame's faces) shown: the applicant's, and a stranger's box followed far
    from where he was found where it touches her face (design/0542), but not where he crosses it (0614); and the
    frames to check."""
    shown: list[set[int]]
    check: dict[int, str] = field(default_factory=dict)
    tracks: set[int] = field(default_factory=set)   # the applicant's tracks (indices into the tracks)


def _centre(b: Box) -> tuple[float, float]:
    return b[0] + b[2] / 2, b[1] + b[3] / 2


def continues(a: Box, b: Box, gap: int) -> bool:
    """Whether box `b`, seen `gap` frames after (or, negative, before) `a`, can be the same face: of a like size
    across or high (a face cut by a pillar's edge keeps its height, design/0546), and near."""
    side = max(a[2], a[3])
    if side <= 0 or (max(a[2], b[2]) > SIZE * min(a[2], b[2]) and max(a[3], b[3]) > SIZE * min(a[3], b[3])):
        return False
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    return math.hypot(ax - bx, ay - by) <= side * (REACH + REACH_STEP * abs(gap))


def _box_at(t: Track, frame: int) -> Box | None:
    return track_boxes(t, frame, 0)


def _edge(t: Track, last: bool) -> tuple[int, Box]:
    f = max(t.seen) if last else min(t.seen)
    return f, t.seen[f]


def _width(t: Track) -> int:
    """A track's face width: the median of its boxes' (one half-seen box does not make it small)."""
    widths = sorted(b[2] for b in t.seen.values())
    return widths[len(widths) // 2]


def _takes_up(a: Track, b: Track, forward: bool) -> bool:
    """Whether track `b` takes up track `a` (after its end when `forward`, before its start else)."""
    if forward:
        end, box = _edge(a, True)
        start, first = _edge(b, False)
        if not (end - OVERLAP <= start <= end + JOIN_GAP) or start <= min(a.seen) or max(b.seen) <= end:
            return False
        wa, wb = _width(a), _width(b)
        near = _box_at(a, start) or box
        return max(wa, wb) <= SIZE * min(wa, wb) and continues(near, first, max(0, start - end))
    return _takes_up(b, a, True)


def _taken(found: Sequence[Track], ups: list[int], forward: bool) -> int | None:
    """Of the tracks that take one of theirs up, the one joined: the only one, or the nearest of a chain
    (each of the others taking up the one before it in the same direction); None where they are rivals. A track that
    is a piece of another's place (`_piece_of`) is no rival: one face found twice, or her head beside it (design/0560)."""
    ups = [j for j in ups if not any(k != j and _piece_of(found[j], found[k]) for k in ups)]
    if len(ups) == 1:
        return ups[0]
    order = sorted(ups, key=lambda j: min(found[j].seen) if forward else -max(found[j].seen))
    chain = all(_takes_up(found[i], found[j], forward) for i, j in zip(order, order[1:]))
    return order[0] if chain else None


def _piece_of(t: Track, whole: Track) -> bool:
    """Whether track `t` is found on fewer frames than `whole`, each within `whole`'s span, and there touches
    `whole`'s box widened by PAD: one place at one time, not another face that could be hers (design/0560: her face
    found twice on one frame, or the side of her head at a pillar, made rivals of her own track found again)."""
    frames = sorted(whole.seen)
    return len(t.seen) < len(frames) and all(
        frames[0] <= f <= frames[-1] and inside(b, pad(track_boxes(whole, f, 0, frames) or b)) > 0
        for f, b in t.seen.items())


def _anchors(found: Sequence[Track], marks: Sequence[Mark], check: dict[int, str]) -> set[int]:
    out: set[int] = set()
    for m in marks:
        if m.box is None:
            continue
        shares = sorted(((inside(b, m.box), b[2] * b[3], i, b[3]) for i, t in enumerate(found)
                         if (b := track_boxes(t, m.frame, COAST)) is not None), reverse=True)
        shares = [s for s in shares if s[0] >= APPLICANT_INSIDE]
        if shares:
            out.add(shares[0][2])
            # a rival is as far inside and of a size her face could be (SIZE): a box a third of hers is not (design/0550)
            if any(s[0] >= shares[0][0] - 0.05 and SIZE * s[3] >= shares[0][3] for s in shares[1:]):
                check[m.frame] = TWO
    return out


def applicant_tracks(found: Sequence[Track], marks: Sequence[Mark], check: dict[int, str] | None = None) -> set[int]:
    """The applicant's tracks (indices into `found`): anchored on the marks, then joined forward
    and back one track at a time where exactly one takes theirs up (the module says how). Each
    track of theirs is asked once, of the tracks beginning (ending) near its end (beginning) only."""
    check = {} if check is None else check
    theirs = _anchors(found, marks, check)
    firsts = sorted((min(t.seen), j) for j, t in enumerate(found))
    lasts = sorted((max(t.seen), j) for j, t in enumerate(found))
    todo = sorted(theirs)
    while todo:
        i = todo.pop()
        a = found[i]
        for forward, edges, lo, hi in ((True, firsts, max(a.seen) - OVERLAP, max(a.seen) + JOIN_GAP),
                                       (False, lasts, min(a.seen) - JOIN_GAP, min(a.seen) + OVERLAP)):
            near = edges[bisect.bisect_left(edges, (lo, -1)):bisect.bisect_right(edges, (hi, len(found)))]
            ups = [j for _, j in near if j not in theirs and _takes_up(a, found[j], forward)]
            j = _taken(found, ups, forward) if ups else None
            if j is not None and not _clashes(found, theirs, j):
                theirs.add(j)
                todo.append(j)
    return theirs


def _clashes(found: Sequence[Track], theirs: set[int], j: int) -> bool:
    """Whether track `j` runs beside one of `theirs` for more than OVERLAP frames, or was found on a frame where one of
    theirs was found too, elsewhere (neither box `continues` the other there): two faces at once. She is in one place
    at a time; a track found far from her on a frame her own track was found on is another's (design/0546)."""
    lo, hi = min(found[j].seen), max(found[j].seen)
    return any(min(hi, max(found[i].seen)) - max(lo, min(found[i].seen)) > OVERLAP or apart(found[j], found[i])
               for i in theirs)


def apart(t: Track, theirs: Track) -> bool:
    """Whether track `t` was found, on a frame `theirs` was found on too, away from it (neither box `continues` the
    other there): two faces at once, however short the overlap (design/0546; everything mode's too, design/0554)."""
    return any(f in theirs.seen and not _near(theirs.seen[f], b) for f, b in t.seen.items())


def _near(a: Box, b: Box) -> bool:
    """Whether two boxes found on one frame can be one face (either `continues` the other: a part of it and the whole)."""
    return continues(a, b, 0) or continues(b, a, 0)


def decide(found: Sequence[Track], labelled: Sequence[Sequence[tuple[int, Box]]], marks: Sequence[Mark],
           coast: int = COAST, carried: Sequence[set[int]] | None = None) -> Decided:
    """Which faces on each frame are the applicant's, and the frames to check. `labelled`: each
    frame's faces as (their track's index into `found`, the box), as facetrack.labelled_faces gives them; `carried`:
    the places of those that are a face lost in the picture carried on (behind a pillar): a box of hers so is not
    her face's place for OVER (design/0592: her face carried into the pillar, her hair's box beside it)."""
    out = Decided([set() for _ in labelled])
    out.tracks = applicant_tracks(found, marks, out.check) if any(m.box is not None for m in marks) else set()
    seen = [f for f, faces in enumerate(labelled) if any(t in out.tracks for t, _ in faces)]
    placed = [[b for k, (t, b) in enumerate(faces) if t in out.tracks and (carried is None or k not in carried[f])]
              for f, faces in enumerate(labelled)]
    paths: dict[int, dict[int, Box]] = {}   # each track's boxes as the picture followed or carried it, frame: box
    for f, faces in enumerate(labelled):
        for t, b in faces:
            paths.setdefault(t, {}).setdefault(f, b)
    for f, faces in enumerate(labelled):
        region = follow(marks, f) if marks else None
        if region is None:
            continue   # the applicant not in the picture (or never marked): every face filled
        mine = [b for t, b in faces if t in out.tracks]
        rounds = [pad(b) for b in mine]
        for k, (t, b) in enumerate(faces):
            if t in out.tracks or any(_same_face(b, r, m) for r, m in zip(rounds, mine)):
                out.shown[f].add(k)
            elif _over(b, placed[f]):
                if _far(found[t], f) and not _crossing(paths[t], f, placed):
                    out.shown[f].add(k)   # followed far from where he was found, over her: not filled there
                else:
                    out.check.setdefault(f, OVER)
        if not mine:
            near = _where(labelled, out.tracks, seen, f, region)
            if any(inside(b, near) > 0 for _, b in faces):
                out.check.setdefault(f, UNSURE)
    return out


def _same_face(b: Box, r: Box, m: Box) -> bool:
    """Whether box `b` is her face found twice, `m` her face's box and `r` it widened: at least SAME_FACE inside `r`
    and at least SAME_SIZE of her width; or at least SAME_FACE inside `m` itself and at least SAME_SIZE of her height,
    a part of her face cut by something in front of it (a pillar's edge: narrow, as high as hers; design/0546); or, a
    part of her face or head cut lengthwise (at least PART of her height and plan.TALL times as high as wide) at least
    SAME_FACE inside `r`: followed from a pillar's edge it lies in her margin as often as on her face (design/0580).
    A stranger's face beside hers (in her margin, not on her face) is filled as before (design/0533)."""
    part = b[3] >= PART * m[3] and b[3] >= TALL * b[2]
    return (inside(b, r) >= SAME_FACE and (b[2] >= SAME_SIZE * m[2] or part)) or (inside(b, m) >= SAME_FACE and
                                                                                 b[3] >= SAME_SIZE * m[3])


def _over(b: Box, hers: Sequence[Box]) -> bool:
    """Whether a stranger's box `b` touches her face's places on its frame `hers` (widened, hers touches it)."""
    return any(inside(r, pad(b)) > 0 or inside(b, r) > 0 for r in hers)


def _crossing(path: dict[int, Box], f: int, placed: Sequence[Sequence[Box]]) -> bool:
    """Whether a stranger's box followed onto her face on frame `f` (`path`: his track's boxes as the picture followed
    or carried it; `placed`: her face's places on each frame) crosses it: off her face within FOLLOWED frames before
    and after, on one side of where her face is on `f` before and on the other after (across or down: his own move, not
    hers past him), and on the straight line between those two boxes (its centre within ON_LINE of its side). A follow
    that slid onto her face stays on it (design/0542), a box of her head beside her face moves with her, and a stranger
    standing behind her stays where he is as she passes: each shown as before; a walker crossing in front of her face
    goes on beyond (held-out 17's, shown 5 frames: design/0614)."""
    def off(g: int) -> bool:
        return g in path and bool(placed[g]) and not _over(path[g], placed[g])
    before = next((g for g in range(f - 1, max(-1, f - FOLLOWED - 1), -1) if off(g)), None)
    after = next((g for g in range(f + 1, min(len(placed), f + FOLLOWED + 1)) if off(g)), None)
    if before is None or after is None:
        return False
    hers = _centre(functools.reduce(union, placed[f]))   # his own move across where her face is on f, not hers
    sides = [[c > h for c, h in zip(_centre(path[g]), hers)] for g in (before, after)]
    if sides[0] == sides[1]:
        return False
    (lx, ly), (cx, cy) = _centre(lerp(path[before], path[after], (f - before) / (after - before))), _centre(path[f])
    return math.hypot(lx - cx, ly - cy) <= ON_LINE * max(path[f][2], path[f][3])


def _far(t: Track, f: int) -> bool:
    """Whether frame `f` is more than NEAR_FOUND frames before a track's first detection or after its last: a box
    there is the picture's follow alone (facetrack.REACH), which may have slid onto the applicant's own face."""
    return f < min(t.seen) - NEAR_FOUND or f > max(t.seen) + NEAR_FOUND


def _where(labelled: Sequence[Sequence[tuple[int, Box]]], theirs: set[int], seen: list[int], f: int,
           region: Box) -> Box:
    """Where the applicant may be on frame `f` (no track of theirs there): the marks' line, and their
    face where it was last and next followed, widened by NEAR."""
    at = bisect.bisect_left(seen, f)
    around = pad(region, NEAR)
    for g in ([seen[at - 1]] if at else []) + ([seen[at]] if at < len(seen) else []):
        for b in (b for t, b in labelled[g] if t in theirs):
            around = union(around, pad(b, NEAR))
    return around


def disagreed_checks(labelled: Sequence[Sequence[tuple[int, Box]]], disagreed: Sequence[int], reach: int) -> list[int]:
    """The frames to check for the detector's passes disagreeing (design/0325, 0433): of the `reach`
    frames each side of a frame d they disagreed on, those where a face found on d is not followed
    (no face near it, `_followed_to`), and d with them; none where every face found on d is followed
    on all of them (hidden throughout: nothing for a person to find)."""
    out: set[int] = set()
    frames = len(labelled)
    for d in disagreed:
        if not 0 <= d < frames:
            continue
        lost = {g for _, b in labelled[d] for g in range(max(0, d - reach), min(frames, d + reach + 1))
                if not any(_followed_to(b, c, abs(g - d)) for _, c in labelled[g])}
        out.update(lost | ({d} if lost else set()))
    return sorted(out)


def _followed_to(b: Box, c: Box, frames: int) -> bool:
    """Whether box `c`, `frames` frames from `b`, can be the same face followed (near it, a like size)."""
    if max(b[2], c[2]) > SIZE * min(b[2], c[2]):
        return False
    (bx, by), (cx, cy) = _centre(b), _centre(c)
    return math.hypot(bx - cx, by - cy) <= max(b[2], b[3]) * (1 + FOLLOW_STEP * frames)
