"""Faces inside and near the applicant's region in "everything hidden except the applicant"
(issue 75, design/0326): pure, plain data in and out.

The region kept is the applicant's whole figure as the custodian marked it and the picture
followed it (storage/redact/track.py): a stranger who walks into it, in front of or beside the
applicant, would be shown. So while the region is followed the detector runs on the region
(media.follow: every `every`-th frame, at the picture's own scale: `own_look`, design/0569) and
around it (on every AROUND_EVERY-th of those frames, design/0619: the region widened by NEAR of its
size, at the detector's second scale, detect.FINE_ACROSS), and here:
- the boxes are joined into tracks (`plan.tracks`, bridged between detections and COAST frames
  before and after: `plan.track_boxes`);
- **the applicant's face** is the track most often inside the region (at least
  plan.APPLICANT_INSIDE of its box, on at least THEIRS of the frames it was found on), and any
  other track that does the same and is seen while an applicant's track is for at most
  applicant.OVERLAP frames (the applicant's face found again after a miss, or taken up by a
  second track while the first still runs at a pillar: joined, never dropped and filled as a
  stranger's, issue 88, design/0431), but never one found, on a frame one of theirs was found on,
  away from it (applicant.apart, design/0554: a 19 x 22 px box on her figure, 130 px from her
  face, was taken for hers and the half of her face at the pillar filled as a stranger's); every
  other track is a stranger's, but one first found at least plan.SAME_FACE inside an applicant's
  face box (widened by plan.PAD) on that frame and there on THEIRS of its frames: a part of the
  applicant's face found as a face of its own (the half of it still seen as they pass behind a
  pillar), left shown and checked on every frame of it (a walker across her face goes on: 0611);
- **a stranger's face** is filled solid (as plan.face_mask widens a face) on each frame its
  box touches the region; the applicant's face is never filled;
- **moments to check** (design/0433, amending 0326's every frame a face is in or near the region):
  a frame where a stranger's mask touches the applicant's face, and the frames within EDGE of a
  stranger's first or last detection where his mask is in the region (he comes or goes there: a
  frame or two of him may be missed); the first AGAIN frames of an applicant's track after the
  first (their face taken up again: the custodian looks that it is theirs), but one taken up on a
  frame the custodian marked (design/0547), or taking up another of theirs within MAX_GAP frames
  where that face was (`_picked_up`: her face out from behind a pillar in pieces, design/0554);
  every frame of a part of their face found as a face of its own. A stranger followed inside the
  region is filled there and not checked; one near it is outside what is kept;
- **a stranger lost inside the region is there still** (design/0547): his track, ended inside it,
  is joined to the next found where he was or was going (or it came from), the line between inside the region on
  every frame (`rejoined`): filled between, his loss and his finding again not a coming or going;
  joined to nothing, he is held where he was going (coming from) for up to MAX_GAP frames, while
  inside the region and off her face (`_held`: filled, not checked);
  and a first (last) detection that lies on another stranger's face followed from before (on
  after) it is a second box of that face (`_carried`), not one coming (going).
No file, no clock, no picture: the same boxes give the same plan.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from storage.redact.applicant import OVERLAP, apart, continues
from storage.redact.plan import (APPLICANT_INSIDE, COAST, MAX_GAP, SAME_FACE, Box, Mark, Track, clamp, closeness, face_mask,
                                 inside, lerp, pad, predict, stranger_masks, track_boxes, tracks)

NEAR = 0.5      # the region widened by this share of its size on each side: what is near it
AGAIN = 10      # frames checked at the start of an applicant's face taken up again (design/0433)
EDGE = 2 * COAST  # frames from a stranger's first or last detection inside the region that are checked
THEIRS = 0.8    # a track inside the region on at least this share of its frames may be the applicant's
OWN_PAD = 48    # px about the region looked at again at the picture's own scale: a face at its edge whole (own_look)
AROUND_EVERY = 2  # the look around the region, at the second scale, on every this many of the looks at it (design/0619):
# the region itself is looked at on each (own_look), the faces near it and the large ones in it followed between


def around(region: Box, width: int, height: int) -> Box:
    """The region widened by NEAR of its size on each side, cut to the frame: where the detector looks."""
    x, y, w, h = pad(region, NEAR)
    x0, y0 = max(0, x), max(0, y)
    return (x0, y0, max(0, min(width, x + w) - x0), max(0, min(height, y + h) - y0))


def own_look(region: Box, width: int, height: int) -> Box | None:
    """The region widened by OWN_PAD pixels each side, cut to the frame: where the detector looks again at the picture's own
    scale (media.looked_again at LOOK_FACE: faces of 24-96 px), so that a small stranger in front of the applicant is
    found from the frame he steps in (design/0569: at the second scale, half the picture's, a 40 px face is 20 px)."""
    x, y, w, h = region
    return clamp((x - OWN_PAD, y - OWN_PAD, w + 2 * OWN_PAD, h + 2 * OWN_PAD), width, height)


def _touches(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _inside_count(t: Track, keeps: Sequence[Box | None]) -> int:
    return sum(1 for f, b in t.seen.items() if _in(b, keeps, f))


def applicants(found: list[Track], keeps: Sequence[Box | None]) -> list[int]:
    """The tracks that are the applicant's face (indices into `found`), surest first."""
    counts = [_inside_count(t, keeps) for t in found]
    order = sorted(range(len(found)), key=lambda i: (-counts[i], -max(b[2] * b[3] for b in found[i].seen.values())))
    theirs: list[int] = []
    for i in order:
        t = found[i]
        if not counts[i] or counts[i] < THEIRS * len(t.seen):
            continue
        span = (min(t.seen), max(t.seen))
        if any(_beside(span, (min(found[j].seen), max(found[j].seen))) or apart(t, found[j]) for j in theirs):
            continue   # beside one of theirs: two faces at once; a short overlap at an end (a pillar) is joined
        theirs.append(i)
    return theirs


def _picked_up(t: Track, mine: list[Track]) -> bool:
    """Whether the applicant's track `t` takes up another of theirs where it was lost (design/0554): it begins after
    that one began, at most plan.MAX_GAP frames after its last detection (or up to OVERLAP frames before it), and its
    first box continues that one's there (applicant.continues: near, of its height or width). Her face coming out
    from behind a pillar in two or three pieces is her face followed, not one taken up again to look at."""
    start = min(t.seen)
    first = t.seen[start]
    for a in mine:
        end = max(a.seen)
        if a is t or not min(a.seen) < start or not end - OVERLAP <= start <= end + MAX_GAP:
            continue
        if continues(track_boxes(a, start, 0) or a.seen[end], first, max(0, start - end)):
            return True
    return False


def _beside(span: tuple[int, int], theirs: tuple[int, int]) -> bool:
    """Whether a track seen over `span` (first, last frame) runs beside an applicant's seen over
    `theirs` as a second face: within its span, or overlapping it for more than OVERLAP frames."""
    if span[1] < theirs[0] or theirs[1] < span[0]:
        return False
    within = theirs[0] <= span[0] and span[1] <= theirs[1]
    return within or min(span[1], theirs[1]) - max(span[0], theirs[0]) > OVERLAP


def _born_in(t: Track, theirs: list[Track], coast: int) -> bool:
    """Whether track `t` is a part of the applicant's face found as a face of its own: first found inside it (at least
    SAME_FACE of its box in theirs widened by PAD on that frame), and on it so on at least THEIRS of the frames it was
    found on (a part of her face stays on it; a stranger walking across her face, first found over it, goes on away
    from it: design/0611)."""
    def on_hers(f: int) -> bool:
        return any(inside(t.seen[f], pad(b)) >= SAME_FACE for a in theirs if (b := track_boxes(a, f, coast)))
    return on_hers(min(t.seen)) and sum(map(on_hers, t.seen)) >= THEIRS * len(t.seen)


def _in(box: Box, keeps: Sequence[Box | None], f: int) -> bool:
    """Whether `box` is at least APPLICANT_INSIDE inside the region kept on frame `f` (none kept outside the clip)."""
    return 0 <= f < len(keeps) and (keep := keeps[f]) is not None and inside(box, keep) >= APPLICANT_INSIDE


def rejoined(found: list[Track], keeps: Sequence[Box | None]) -> list[Track]:
    """Strangers' tracks with each face lost inside the region joined to where it is found again (design/0547): a
    track whose last box is inside the region takes up the first track found after it that begins inside the
    region where the face was or was going (`plan.closeness` to its last box or to `plan.predict` at its last box's
    size, above 0: design/0608),
    the straight line between them inside the region on every frame between, however long the face was not
    found there (hidden by her passing over it, or missed): a face does not go out of her region unseen from
    within it. The frames between follow that line (`track_boxes`)."""
    order = sorted(found, key=lambda t: min(t.seen))
    out: list[Track] = []
    taken: set[int] = set()
    for n, t in enumerate(order):
        if n in taken:
            continue
        t = Track(dict(t.seen))
        while True:
            end, last = t.last()
            if not _in(last, keeps, end):
                break
            nxt = next((m for m in range(n + 1, len(order)) if m not in taken and _takes_up(t, order[m], keeps)), None)
            if nxt is None:
                break
            taken.add(nxt)
            t.seen.update(order[nxt].seen)
        out.append(t)
    return out


def _takes_up(t: Track, later: Track, keeps: Sequence[Box | None]) -> bool:
    """Whether `later` is `t`'s face found again (`rejoined`): it begins after `t` ends, inside the region, where the
    face was or was going, or where `later`'s face came from on `t`'s last frame (on the line of its first detections:
    a walker lost over her face and found again past it, design/0611), and the straight line between them stays inside
    the region on every frame between."""
    end, last = t.last()
    start = min(later.seen)
    first = later.seen[start]
    # where he was going, at his last size (a size drawn on over 40 frames is none); where the later one came from, its own
    going = _sized(predict(t, start), last)
    came = _sized(track_boxes(later, end, start - end) or first, first)
    return (start > end and _in(first, keeps, start)
            and max(closeness(last, first), closeness(going, first), closeness(last, came)) > 0
            and all(_in(lerp(last, first, (f - end) / (start - end)), keeps, f) for f in range(end + 1, start)))


def _sized(box: Box, size: Box) -> Box:
    """`box` about its centre at `size`'s width and height."""
    x, y, w, h = box
    return (round(x + (w - size[2]) / 2), round(y + (h - size[3]) / 2), size[2], size[3])


def _carried(t: Track, others: list[Track], coast: int) -> tuple[bool, bool]:
    """Whether `t`'s first (last) detection lies on another stranger's face followed from before it (on after
    it): a second box of a face already followed, not a face coming (going); design/0547."""
    def on(frame: int, before: bool) -> bool:
        box = t.seen[frame]
        return any((min(o.seen) < frame if before else max(o.seen) > frame)
                   and (b := track_boxes(o, frame, coast)) is not None and inside(box, pad(b)) >= SAME_FACE
                   for o in others if o is not t)
    return on(min(t.seen), True), on(max(t.seen), False)


def strangers(found: dict[int, list[Box]], keeps: Sequence[Box | None], coast: int = COAST,
              marks: Iterable[Mark] = ()) -> tuple[list[list[Box]], list[int]]:
    """Per frame, the strangers' faces to fill inside the applicant's region `keeps` (one per
    frame, None where nothing is kept); and the frames to check (sorted): the module says which.
    `marks`: the custodian's marks of the applicant (their face taken up on a frame marked with a box is theirs)."""
    frames = len(keeps)
    joined = tracks(found)
    theirs = applicants(joined, keeps)
    mine = [joined[j] for j in theirs]
    masks: list[list[Box]] = [[] for _ in range(frames)]
    check: set[int] = set()
    marked = [m.frame for m in marks if m.box is not None]
    for i in theirs[1:]:   # their face taken up again: its first frames, to see it is theirs (not where marked, nor
        first = min(joined[i].seen)   # where it takes up one of theirs as she comes out from behind a pillar)
        if not any(abs(first - m) <= coast for m in marked) and not _picked_up(joined[i], mine):
            check.update(range(max(0, first), min(frames, first + AGAIN)))
    others = [t for i, t in enumerate(joined) if i not in theirs]
    born = [t for t in others if _born_in(t, mine, coast)]
    for t in born:   # a part of the applicant's face (half of it behind a pillar): theirs, and checked
        check.update(range(max(0, min(t.seen) - coast), min(frames, max(t.seen) + coast + 1)))
    theirs_not = rejoined([t for t in others if not any(t is b for b in born)], keeps)
    for t in theirs_not:
        carried = _carried(t, theirs_not, coast)
        ends = [e for e, c in zip((min(t.seen), max(t.seen)), carried) if not c]
        held = _held(t, keeps, mine, coast)
        for f in range(max(0, min(t.seen) - coast - MAX_GAP), min(frames, max(t.seen) + coast + MAX_GAP + 1)):
            box, keep = track_boxes(t, f, coast), keeps[f]
            if (box or held.get(f)) is None or keep is None:
                continue
            his = box or held[f]
            face = face_mask(his)
            if _touches(face, keep):   # its margin cut back off her face, as in faces mode (design/0540, 0588)
                hers = [b for a in mine if (b := track_boxes(a, f, coast)) is not None]
                masks[f] += stranger_masks(his, hers)
                if box and (any(_touches(face, b) for b in hers) or any(abs(f - e) <= EDGE for e in ends)):
                    check.add(f)   # over their face, or a stranger found or lost inside the region: look
    return masks, sorted(check)


def _held(t: Track, keeps: Sequence[Box | None], mine: list[Track], coast: int) -> dict[int, Box]:
    """Where a stranger lost (first found) inside the region and not joined to another track is held past its
    coast (design/0547): where he was going (coming from), on up to MAX_GAP frames, as far as a gap is bridged between two
    detections (`plan.tracks`), while it is inside the region and off her face: the clip's end (start) or a
    detection missed there is not his going (coming). A track found over her face anywhere is not held (it may be a
    part of hers: design/0546)."""
    held: dict[int, Box] = {}
    if any(_over_theirs(face_mask(b), mine, f, coast) for f, b in t.seen.items()):
        return held
    for end, step in ((max(t.seen), 1), (min(t.seen), -1)):
        if not _in(t.seen[end], keeps, end):
            continue
        for f in range(end + step * (coast + 1), end + step * (MAX_GAP + 1), step):
            box = track_boxes(t, f, MAX_GAP)   # where he was going: on the line of his last (first) two detections
            if box is None or not _in(box, keeps, f) or \
                    _over_theirs(face_mask(box), mine, f, coast):
                break
            held[f] = box
    return held


def _over_theirs(face: Box, mine: list[Track], frame: int, coast: int) -> bool:
    """Whether a stranger's mask touches the applicant's face on `frame` (it may fill part of it)."""
    return any(_touches(face, b) for a in mine if (b := track_boxes(a, frame, coast)) is not None)


def spans(frames: Sequence[int], rate: float) -> list[list[float]]:
    """Frames as the desk lists moments to check: [from, to] in seconds, joined where they touch; every
    one of them (the audit record says the first ones: edged/control/redact.py `_recorded`)."""
    out: list[list[int]] = []
    for f in sorted(set(frames)):
        if out and out[-1][1] >= f - 1:
            out[-1][1] = f
        else:
            out.append([f, f])
    return [[round(a / rate, 2), round(b / rate, 2)] for a, b in out]


def why_spans(why: dict[int, str], rate: float) -> list[list[float | str]]:
    """Frames to check with why each is (frame: a word), as [from, to, why] in seconds, a span
    for each run of touching frames with one why (design/0433): what a person plays, and why."""
    out: list[list[int | str]] = []
    for f in sorted(why):
        if out and out[-1][1] == f - 1 and out[-1][2] == why[f]:
            out[-1][1] = f
        else:
            out.append([f, f, why[f]])
    return [[round(int(a) / rate, 2), round(int(b) / rate, 2), str(w)] for a, b, w in out]
