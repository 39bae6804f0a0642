"""The detector's pass at the picture's own width (design/0589, after design/0585): `Pass.own`, beside the others.

A small face half hidden at a pillar's edge, or turned at the picture's top edge, scores under FAINT at the passes' 640,
960 and 1280 px across and 0.02-0.09 at the picture's own 1920 px (design/0573, 0578, 0585). On its frames (every
detect.OWN_EVERY-th) the picture is run whole at its own width. Its boxes scored from FAINT up, surest first, that touch
no face the other passes found on the frame, one a place (a cluster of faint boxes about one thing took every look:
design/0596), detect.OWN_MOST places at most, are each looked at closer (media.looked_again, never closest: design/0589's
cost; one that found nothing touching its box, once again in a wider region: design/0605) and the faces those looks
find from the weak score are kept, away from the others' (`frame_boxes`), with its
own boxes scored surely (design/0604: a look can miss a face the whole picture scores over THRESHOLD). It keeps no box
of its own scored under THRESHOLD unlooked, and never stands in for a face another pass found: a box of it over such a
face took the face's track over (design/0585), and one scored from the weak score up, neither kept nor looked at, left
held-out 9's walker to a chain of closest looks that broke (design/0589).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from storage.redact.detect import FAINT, OWN_MOST, WEAK_MOST, Look, Pass, beside, confirmed, least_face, pass_boxes, touch
from storage.redact.plan import Box, face_mask, pad

if TYPE_CHECKING:
    import numpy as np

# a box at the picture's own width whose look found nothing is looked at again in its box and this many times as much
# each side: a turned face's box there is often a part of it, and a region cut close about it scored under the weak
# score with the float model (held-out 14's top edge, design/0605)
OWN_WIDER = 1.5
Picture = Callable[[Pass], "np.ndarray"]   # the frame at a pass's input, RGB


def frame_boxes(detector: Any, ran: Sequence[Pass], picture: Picture, size: tuple[int, int], coarse: Pass, look: Look,
                about: Callable[[], Sequence[Box]]) -> list[tuple[list[Box], list[Box]]]:
    """One frame's (sure, heads) boxes of each of `ran` (the passes that run on it), in its order: the passes not
    `own` as detect.pass_boxes and detect.beside give them (the pass beside the others looking about `about()` too:
    design/0555), then each `own` pass's (`own_boxes`) away from every face of theirs."""
    others = [p for p in ran if not p.own]
    got = beside([pass_boxes(detector, p, picture(p), size, coarse, look, about() if p.extra else ()) for p in others],
                 [p.extra for p in others])
    seen = [b for sure, heads in got for b in sure + heads]
    theirs = iter(got)
    return [own_boxes(detector, p, picture(p), size, coarse, look, seen) if p.own else next(theirs) for p in ran]


def own_boxes(detector: Any, p: Pass, rgb: np.ndarray, size: tuple[int, int], coarse: Pass, look: Look,
              seen: Sequence[Box] = ()) -> tuple[list[Box], list[Box]]:
    """Pass `p`'s (an `own` one) faces on `rgb`: none surely, and as heads its boxes scored surely (at least THRESHOLD)
    at most WEAK_MOST times the `coarse` pass's least face high, kept whatever a look finds (design/0604: held-out 15's
    24 px walker scored 0.27 at 1920 px, its look from the weak score found nothing), then the faces a closer look finds
    from the weak score about its boxes scored from FAINT up (sure, then weak, then faint, the surest first; as high at
    most) whose masks touch no mask of `seen` (the faces the other passes found on the frame), one a place (`places`),
    OWN_MOST at most, each whose look found nothing touching it looked at again in a wider region (OWN_WIDER: design/0605);
    each away from them."""
    most = WEAK_MOST * least_face(coarse, size[1])
    sure, kept, faint = detector.scored(rgb, size, p.weak, most, FAINT)
    near = [face_mask(b) for b in seen]

    def away(boxes: list[Box]) -> list[Box]:
        return [b for b in boxes if not any(touch(face_mask(b), o) for o in near)]
    chosen = places(away([*sure, *kept, *faint]))[:OWN_MOST]
    looked = confirmed(chosen, look, size, seen, p.weak, closest=False)
    missed = [b for b in chosen if not any(touch(g, b) for g in looked)]   # looked at again, wider (design/0605)
    looked += confirmed(missed, look, size, seen, p.weak, closest=False, around=OWN_WIDER)
    return [], away([b for b in sure if b[3] <= most] + looked)


def places(boxes: Sequence[Box]) -> list[Box]:
    """`boxes` (the surest first) one a place: each that touches the region an earlier one is looked at closer in
    (its box and as much again each side: detect.confirmed) left out, that look seeing its pixels already (design/0596:
    a cluster of faint boxes about one thing took every look of a frame)."""
    out: list[Box] = []
    for b in boxes:
        if not any(touch(b, pad(c, 1.0)) for c in out):
            out.append(b)
    return out
