"""A face the follower loses in the picture, behind someone or something, is carried on its line (design/0592): its
frames going in and coming out are hidden, and her own face so carried is not her face's place for a fill beside it."""

from __future__ import annotations

import numpy as np
import pytest

from storage.redact.applicant import OVER, decide
from storage.redact.facetrack import CARRY, LOST, FaceFollower, face_boxes, labelled_faces
from storage.redact.plan import PAD, PAD_LEAST, Box, Mark, inside, pad
from tests.support import faces

SIZE, FRAMES = (960, 540), 60


@pytest.mark.parametrize("reverse", [False, True])
def test_a_face_coming_out_from_behind_a_moving_coat_is_hidden_while_a_third_is_seen(reverse):
    """A walker (8 px a frame) comes out from behind a patterned coat moving 2 px a frame the same way (held-out 3, 7,
    10's strangers coming out of the pillar or from behind her); found whole on 36 and 48, followed back from 36 he is
    lost (his match under FLOOR) with half his face seen: before, 26-27 (39 %, 56 % seen) were shown. Reversed, he
    walks into the coat and the forward pass loses him (held-out 11's stranger passing behind her, 98-102)."""
    walker = faces.Person(48, 150, 100, 8)
    pictures = [np.asarray(p.mean(axis=2), np.uint8) for p in faces.pictures(FRAMES, SIZE, (walker,))]
    coat = np.random.default_rng(7).integers(40, 220, size=(SIZE[1] // 8 + 1, 13)).astype(np.uint8)
    coat = np.repeat(np.repeat(coat, 8, 0), 8, 1)[:SIZE[1], :100]
    start = walker.face(0, FRAMES)[0] + 78
    for i, p in enumerate(pictures):
        p[:, start + 2 * i:start + 2 * i + 100] = coat
    found = {i: [walker.face(i, FRAMES)] for i in (0, 36, 48)}
    at = (lambda i: FRAMES - 1 - i) if reverse else (lambda i: i)
    follower = FaceFollower(1)
    for i in range(FRAMES):
        follower.feed(i, pictures[at(i)], found.get(at(i)))
    boxes = face_boxes({at(i): b for i, b in found.items()}, follower.forward, follower.backward, FRAMES)
    seen = 0
    for i in range(FRAMES):
        x, y, w, h = walker.face(i, FRAMES)
        out = x + w - max(x, start + 2 * i + 100)   # the part of his face out of the coat, right of it
        if out >= w / 3 and x < start + 2 * i + 100:
            seen += 1
            part: Box = (start + 2 * i + 100, y, out, h)
            assert any(inside(part, pad(b, PAD, PAD_LEAST)) >= 0.9 for b in boxes[at(i)]), (i, out / w, boxes[at(i)])
    assert seen >= 3


@pytest.mark.parametrize("again", [False, True])
def test_her_face_carried_into_a_pillar_is_not_her_faces_place_for_a_fill_beside_it(again):
    """Her face (found to frame 30) carried on into a pillar CARRY frames, and a stranger's box (her hair's, held-out
    10 float 165-166) beside it: filled, and not a moment to check (OVER), as it was when any box of hers counted.
    `again`: her face found again on 42 and followed back from there elsewhere (the two directions disagree: each its
    own box), as on held-out 10. A face carried as it leaves at the picture's edge (match 0, partly seen) still
    counts: a fill beside it is checked."""
    her, hair = (500, 150, 90, 90), (595, 160, 40, 40)
    found = {f: [her] for f in range(0, 31, 6)} | {35: [hair]} | ({42: [(460, 150, 90, 90)]} if again else {})
    marks = [Mark(0, (400, 100, 300, 700)), Mark(40, (400, 100, 300, 700))]
    for match, over in ((LOST, False), (0.0, True)):
        moves = {str(30 + k): [0.0, 0.0, match] for k in range(1, CARRY + 1)}
        back = {"42:0": {str(f): [-100.0, 0.0, 0.9] for f in range(31, 42)}} if again else {}
        followed = {"factor": 1, "reach": 60, "forward": {"30:0": moves}, "backward": back}
        carried: list[set[int]] = [set() for _ in range(FRAMES)]
        joined, labelled = labelled_faces(found, followed, FRAMES, carried)
        assert labelled[35][0][1] == her and labelled[35][-1][1] == hair and len(labelled[35]) == (4 if again else 2)
        assert carried[35] == ({0} if match == LOST else set())
        d = decide(joined, labelled, marks, carried=carried)
        assert len(d.shown[35]) == len(labelled[35]) - 1 and (d.check.get(35) == OVER) == over, (match, d.check.get(35))
