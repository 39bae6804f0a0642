"""A crowd for a citizen's copy (issue 75): faces the detector was never tuned on,
with their boxes known to the pixel and which of each face's pixels can be seen.

The faces are two photographs that scikit-image ships: the public-domain NASA photograph
tests/support/faces.py uses (`data.astronaut()`, a face seen from the front) and `data.camera()`
(a man filming, his face in profile, three-quarters turned: CC0 by its photographer, Lav
Varshney), changed as a camera meets people: small (24, 32 px high), mirrored, the profile at
44 px, squeezed to 60 % of its width (a head turned away), tilted by 20 degrees, one walking
behind a pillar, one walking out of the picture and back, and one crossing inside the
applicant's region (over the applicant's body, under the face). The
bench and the tests never tune anything on this scene: its sizes, looks and paths are chosen here
once, and the detector's settings in storage/redact/ were measured on tests/support/faces.py's
and on the crops of this module's `tuning` cast only (the small faces alone, standing still).

Each actor's sprite is drawn with a mask (its tilted corners are not drawn), in order, the
pillar last, and the scene's owner map says, per pixel, which actor (or the pillar) is seen
there: `judge` counts a face by the pixels of it that can be seen, never by those a pillar or
another person covers.

It is over 400 lines on purpose: its scenes are data, each beside why and when it was made.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from storage.redact.plan import Box, Mark
from tests.support.faces import ASTRONAUT_FACE, FILL_MAX_Y, background

PILLAR = (1180, 0, 70, 1080)   # x, y, w, h: a grey column in front of everyone
PILLAR_ID = 255
SEEN_LEAST = 0.3               # a face counts only where at least this share of its box is seen
VISIBLE_MOST = 0.1             # a face at most this share filled is seen whole ("fully visible")


@dataclass(frozen=True)
class Actor:
    face_h: int                # the face's height before it is tilted, pixels
    y: int                     # the sprite's top edge
    x0: int                    # its left edge on frame 0
    vx: int                    # pixels a frame
    applicant: bool = False
    mirror: bool = False
    squeeze: float = 1.0       # the sprite's width as a share of its height
    tilt: float = 0.0          # degrees, counter-clockwise
    turn: int = 0              # the frame it turns back on (0: never)
    name: str = ""
    photo: str = "astronaut"   # or "camera" (PHOTOS), or "lfw:N" (LFW_FACE: the N-th of skimage's LFW crops, N < 100)
    dim: bool = False          # in a dim corner: its picture DIM (never as dark as the fill)

    def side(self) -> int:
        return round(len(_photo(self.photo)) * self.face_h / _face_of(self.photo)[3])

    def place(self, frame: int) -> tuple[int, int]:
        if self.turn and frame > self.turn:
            return self.x0 + self.vx * (2 * self.turn - frame), self.y
        return self.x0 + self.vx * frame, self.y

    def body(self, frame: int) -> Box:
        rgb, _, _ = sprite(self)
        x, y = self.place(frame)
        return (x, y, rgb.shape[1], rgb.shape[0])

    def face(self, frame: int) -> Box:
        _, _, (fx, fy, fw, fh) = sprite(self)
        x, y = self.place(frame)
        return (x + fx, y + fy, fw, fh)


# each photograph's face box (512 x 512): forehead to chin, ear to ear (the camera's: ear to nose)
PHOTOS = {"astronaut": ASTRONAUT_FACE, "camera": (176, 100, 82, 100)}
# the face's box in each of `skimage.data.lfw_subset()`'s 25 x 25 grey crops of Labeled Faces in the Wild (the first
# 100 are faces, each of a person the project never used): cut by the data set's own alignment, brow to chin,
# cheek to cheek. Such a sprite is scaled up bilinearly (blurred, as a small face far from a camera is) and drawn
# through a head-shaped soft mask (`_head`), not as a square tile
LFW_FACE = (2, 1, 21, 23)
LFW = "lfw:"


def _face_of(photo: str) -> Box:
    return LFW_FACE if photo.startswith(LFW) else PHOTOS[photo]


@functools.cache
def _photo(name: str) -> np.ndarray:
    from skimage import data
    if name.startswith(LFW):
        crop = data.lfw_subset()[int(name[len(LFW):])]  # type: ignore[no-untyped-call]
        grey: np.ndarray = np.repeat((crop * 255).round().astype(np.uint8)[:, :, None], 3, axis=2)
        return grey
    photo: np.ndarray = getattr(data, name)()
    return photo if photo.ndim == 3 else np.repeat(photo[:, :, None], 3, axis=2)


def _scaled(a: Actor, side: int) -> np.ndarray:
    """The actor's photograph `side` pixels square: an LFW crop scaled up bilinearly, a photograph sampled."""
    photo = _photo(a.photo)
    if a.photo.startswith(LFW):
        from skimage.transform import resize
        up: np.ndarray = (resize(photo, (side, side), order=1, preserve_range=True) + 0.5).astype(np.uint8)  # type: ignore[no-untyped-call]
        return up
    idx = (np.arange(side) * len(photo) // side).clip(0, len(photo) - 1)
    sampled: np.ndarray = photo[idx][:, idx]
    return sampled


DIM = (40, 0.45)      # a dim actor's grey: DIM[0] + DIM[1] * its photograph's (40-155, the fill reads <= 30)
HEAD = (0.46, 0.52)   # a head's half-width and half-height, shares of the LFW sprite's side
SOFT = 3.0            # pixels over which a head's edge fades into what is behind it


def _head(side: int) -> np.ndarray:
    """A head-shaped soft mask `side` pixels square: an upright ellipse, 1 inside, fading to 0 over SOFT px."""
    c = (side - 1) / 2
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    rx, ry = HEAD[0] * side, HEAD[1] * side
    r = np.hypot((xx - c) / rx, (yy - c) / ry)
    soft: np.ndarray = np.clip((1 - r) * min(rx, ry) / SOFT + 0.5, 0.0, 1.0)
    return soft


@functools.cache
def sprite(a: Actor) -> tuple[np.ndarray, np.ndarray, Box]:
    """The actor's picture (RGB), its mask (bool: drawn; an LFW head's where its soft mask is at least half)
    and its face's box in it."""
    return _sprite(a)[:3]


@functools.cache
def alpha(a: Actor) -> np.ndarray | None:
    """How much of the actor's picture is drawn over what is behind it, per pixel (0-1): an LFW head's soft
    mask; None for a photograph's sprite, drawn whole where its mask is."""
    return _sprite(a)[3]


@functools.cache
def _sprite(a: Actor) -> tuple[np.ndarray, np.ndarray, Box, np.ndarray | None]:
    from skimage.transform import rotate

    side = a.side()
    rgb = _scaled(a, side)
    if a.dim:
        rgb = (DIM[0] + DIM[1] * rgb.astype(np.float64) + 0.5).astype(np.uint8)
    face = np.zeros((side, side), np.uint8)
    fx, fy, fw, fh = (round(v * side / len(_photo(a.photo))) for v in _face_of(a.photo))
    face[fy:fy + fh, fx:fx + fw] = 1
    soft = _head(side) if a.photo.startswith(LFW) else None
    if a.mirror:
        rgb, face = rgb[:, ::-1], face[:, ::-1]
    if a.squeeze != 1.0:
        cols = (np.arange(round(side * a.squeeze)) / a.squeeze).astype(int).clip(0, side - 1)
        rgb, face = rgb[:, cols], face[:, cols]
        soft = None if soft is None else soft[:, cols]
    mask = np.ones(face.shape, bool)
    if a.tilt:
        rgb = (rotate(rgb, a.tilt, resize=True, order=1, preserve_range=True)).astype(np.uint8)
        face = rotate(face, a.tilt, resize=True, order=0, preserve_range=True).astype(np.uint8)
        mask = rotate(np.ones(mask.shape), a.tilt, resize=True, order=0, preserve_range=True) > 0.5
        soft = None if soft is None else rotate(soft, a.tilt, resize=True, order=1, preserve_range=True)  # type: ignore[no-untyped-call]
    if soft is not None:
        mask &= soft >= 0.5
    ys, xs = np.nonzero(face)
    box = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    return np.ascontiguousarray(rgb), mask, box, soft


# Seven strangers (faces 24-60 px) and the applicant (96 px), at least six faces in every frame of 10 s
# at 1080p20
CAST = (
    Actor(24, 10, 1800, -9, name="24 px"),
    Actor(32, 130, 60, 9, mirror=True, name="32 px mirrored"),
    Actor(44, 280, 1750, -8, photo="camera", name="44 px profile"),
    Actor(60, 420, 1500, -6, tilt=20, name="60 px tilted"),
    Actor(52, 250, 700, 7, name="52 px behind the pillar"),
    Actor(40, 60, 1600, 12, turn=40, squeeze=0.6, name="40 px turned away, out of the picture and back"),
    Actor(96, 640, 100, 6, applicant=True, name="applicant"),
    Actor(40, 860, 1650, -9, name="40 px crossing inside the applicant's region"),   # in front of the applicant
)

# A held-out scene (issue 88): nothing in storage/redact/ was chosen or tuned on it, and the bench reports it
# beside the crowd. The applicant walks off and back (marked on the first and last frames only, so the straight
# line between the marks stands still while she walks away) past a stranger standing behind where she starts;
# faces 26-48 px, mirrored, a narrow profile, tilted the other way, one walking behind the pillar, one crossing
# behind the applicant
HELD_OUT = (
    Actor(32, 655, 380, 0, name="32 px standing behind the applicant's start"),
    Actor(26, 200, 1700, -8, mirror=True, name="26 px mirrored"),
    Actor(30, 350, 100, 9, photo="camera", squeeze=0.6, name="30 px narrow profile"),
    Actor(48, 60, 900, 0, tilt=-25, name="48 px tilted, standing"),
    Actor(36, 420, 1000, 5, name="36 px behind the pillar"),
    Actor(40, 700, 1650, -8, mirror=True, name="40 px crossing behind the applicant"),
    Actor(96, 600, 300, 7, applicant=True, turn=100, name="applicant"),
)

# A second held-out scene (issue 88, design/0463), made when HELD_OUT had been looked at frame by frame
# (which scale of the detector sees its faces): other sizes, paths and looks, reported beside it and never
# looked at before its figures were printed. The applicant walks right and back; strangers 25-44 px: a
# mirrored tilted walker, a walking profile, a small walker, a standing profile, one crossing her end
HELD_OUT_2 = (
    Actor(28, 230, 1500, -6, mirror=True, tilt=15, name="28 px mirrored, tilted, walking"),
    Actor(34, 500, 200, 4, photo="camera", squeeze=0.8, name="34 px profile, walking"),
    Actor(25, 80, 1300, 3, name="25 px walking"),
    Actor(44, 380, 1600, 0, photo="camera", name="44 px profile, standing"),
    Actor(38, 660, 1450, -5, name="38 px walking behind the applicant's end"),
    Actor(96, 600, 400, 6, applicant=True, turn=120, name="applicant"),
)
# Faces in profile the detector's settings may be chosen on (issue 88, design/0501): the camera photograph's
# profile at other sizes, widths, ways and paths than the held-out scenes' (which are never looked at to choose),
# walking and standing, with the applicant walking among them
PROFILES = (
    Actor(26, 120, 150, 5, photo="camera", squeeze=0.7, name="26 px profile, narrow, walking"),
    Actor(28, 330, 1700, -7, photo="camera", mirror=True, name="28 px profile, mirrored, walking"),
    Actor(36, 520, 650, 0, photo="camera", squeeze=0.9, mirror=True, name="36 px profile, mirrored, standing"),
    Actor(40, 60, 900, 3, photo="camera", squeeze=0.5, name="40 px profile, turned away, walking"),
    Actor(24, 880, 1300, 0, photo="camera", name="24 px profile, standing"),
    Actor(32, 420, 1500, -4, photo="camera", squeeze=0.65, mirror=True, name="32 px profile, narrow, mirrored"),
    Actor(96, 640, 200, 6, applicant=True, name="applicant"),
)
# A third held-out scene (design/0541), made when HELD_OUT_2's tracks had been looked at frame by frame (design/0540's
# session): written before the rule it checks, its figures first printed after. The applicant walks left and back;
# strangers 24-46 px: a narrow mirrored profile walking, one tilted standing above where she turns, one walking
# behind the pillar, a profile walking, a small one standing beside where she starts, a tilted one walking behind her
HELD_OUT_3 = (
    Actor(27, 150, 300, 6, photo="camera", mirror=True, squeeze=0.7, name="27 px narrow profile, mirrored, walking"),
    Actor(35, 420, 900, 0, tilt=-15, name="35 px tilted, standing above where she turns"),
    Actor(30, 330, 1900, -7, name="30 px walking behind the pillar"),
    Actor(42, 40, 200, 4, photo="camera", squeeze=0.8, name="42 px profile, walking"),
    Actor(24, 760, 1600, 0, mirror=True, name="24 px mirrored, standing beside her start"),
    Actor(46, 580, 100, 5, mirror=True, tilt=10, name="46 px mirrored, tilted, walking behind her"),
    Actor(96, 560, 1400, -6, applicant=True, turn=110, name="applicant"),
)
# A fourth held-out scene (issue 88, design/0546), made before held-out 2 and 3 were looked at frame by frame for the
# finer fine pass (design/0501's 960 px made 1280): written before the rule it checks, its figures first printed
# after. The applicant walks right and turns back; strangers 25-43 px: a narrow tilted profile walking, a mirrored
# head a little turned away walking fast and leaving the picture, a mirrored profile walking behind the pillar, a
# small tilted one standing in a corner, a tilted one passing close behind her (just above her head as she walks
# into him), a small mirrored one standing in front of her, beside her path, just below where her face passes
HELD_OUT_4 = (
    Actor(33, 150, 1400, -6, photo="camera", squeeze=0.75, tilt=-12, name="33 px narrow profile, tilted, walking"),
    Actor(39, 60, 250, 10, mirror=True, squeeze=0.85, name="39 px mirrored, a little turned away, walking fast"),
    Actor(43, 360, 1450, -4, photo="camera", mirror=True, name="43 px profile, mirrored, walking behind the pillar"),
    Actor(25, 880, 1750, 0, tilt=18, name="25 px tilted, standing in the corner"),
    Actor(36, 505, 1650, -9, tilt=-20, squeeze=0.9, name="36 px tilted, passing close behind her"),
    Actor(96, 580, 400, 7, applicant=True, turn=80, name="applicant"),
    Actor(29, 726, 900, 0, mirror=True, name="29 px mirrored, standing in front beside her path"),
)
# A fifth held-out scene (issue 88), written before held-out 4's standing face in her region was looked at frame by
# frame for the rule on a stranger inside her region (design/0547), and not run until that rule was chosen: its
# figures first printed after. The applicant walks left the whole clip, past the pillar, never turning; strangers
# 24-44 px: a mirrored profile walking fast along the top, a tilted one walking left through the pillar, a head
# turned away standing in the top right, a small mirrored one walking along the bottom, a small profile standing
# just above where her head passes (its sprite reaching into her region), and a narrow tilted one walking slowly
# left in front of her body: she walks into him near frame 100 and he stays inside her region to the end
HELD_OUT_5 = (
    Actor(44, 100, 50, 8, photo="camera", mirror=True, squeeze=0.9, name="44 px profile, mirrored, walking fast"),
    Actor(30, 250, 1800, -7, tilt=22, name="30 px tilted, walking through the pillar"),
    Actor(40, 30, 1600, 0, squeeze=0.65, name="40 px turned away, standing"),
    Actor(24, 950, 100, 5, mirror=True, name="24 px mirrored, walking along the bottom"),
    Actor(26, 400, 760, 0, photo="camera", name="26 px profile, standing just above her path"),
    Actor(96, 500, 1450, -5, applicant=True, name="applicant"),
    Actor(34, 690, 1000, -2, tilt=12, squeeze=0.8, name="34 px narrow, tilted, walking slowly in front of her"),
)
# A sixth held-out scene (issue 88, design/0550), written and committed before held-out 1's missed faces were looked at
# frame by frame, and not run until the rule on them was chosen: its figures first printed after. Its strangers are
# real people no scene here used, six of the LFW crops skimage ships (their indices chosen before any was run), grey,
# 24-40 px, blurred by the scaling up, each a head with a soft edge. The applicant (the astronaut, 96 px) walks left
# and turns back; one stranger walks along the top, one passes behind her at her face's height, one walks behind the
# pillar, one stands in the bottom right corner, a mirrored one walks fast, a tilted one walks slowly
HELD_OUT_6 = (
    Actor(24, 40, 200, 6, photo="lfw:3", name="24 px LFW, walking along the top"),
    Actor(30, 640, 1500, -9, photo="lfw:17", name="30 px LFW, passing behind her"),
    Actor(36, 300, 900, 4, photo="lfw:29", name="36 px LFW, walking behind the pillar"),
    Actor(28, 1000, 1820, 0, photo="lfw:41", name="28 px LFW, standing in the corner"),
    Actor(40, 180, 1700, -10, photo="lfw:58", mirror=True, name="40 px LFW, mirrored, walking fast"),
    Actor(96, 560, 700, -4, applicant=True, turn=120, name="applicant"),
    Actor(26, 470, 250, 3, photo="lfw:76", tilt=15, name="26 px LFW, tilted, walking slowly"),
)
# A seventh held-out scene (issue 88), written and committed before held-out 6's missed faces were looked at frame by
# frame, and not run until the rule on them was chosen: its figures first printed after. Six other LFW crops, chosen
# by a fixed rule before any was run (11 + 14 k for k = 0..5: 11, 25, 39, 53, 67, 81), grey, 24-40 px at other sizes
# than held-out 6's. The applicant walks left and turns back; one stranger walks along the bottom edge, one enters
# slowly from the left edge, one stands small in the top right corner, dim, one passes behind her at her face's
# height, a tilted one walks through the pillar, a mirrored one stands
HELD_OUT_7 = (
    Actor(25, 1047, 1700, -8, photo="lfw:11", name="25 px LFW, walking along the bottom edge"),
    Actor(29, -5, 1860, 0, photo="lfw:25", dim=True, name="29 px LFW, dim, standing in the top right corner"),
    Actor(32, 545, 150, 8, photo="lfw:39", name="32 px LFW, passing behind her"),
    Actor(35, 720, 950, 5, photo="lfw:53", tilt=-18, name="35 px LFW, tilted, walking through the pillar"),
    Actor(39, 250, 560, 0, photo="lfw:67", mirror=True, name="39 px LFW, mirrored, standing"),
    Actor(96, 520, 1300, -5, applicant=True, turn=110, name="applicant"),
    Actor(27, 380, -12, 2, photo="lfw:81", name="27 px LFW, entering slowly from the left edge"),
)
# An eighth held-out scene (issue 88), written and committed before held-out 3's and held-out 5's everything-mode
# failures were looked at, and run once, blind, before any change: its figures are the blind ones, never used to choose
# a setting. Six other LFW crops, chosen by a fixed rule before any was run (5 + 14 k for k = 0..5: 5, 19, 33, 47, 61,
# 75; none of held-out 6's or 7's), grey, 24-38 px. The applicant walks right through the pillar and turns back; one
# stranger enters turned from the right edge, one small one walks along the top, one stands dim in the bottom left
# corner, one passes behind her at her face's height, a tilted one walks behind the pillar, a mirrored, turned one
# walks slowly
HELD_OUT_8 = (
    Actor(31, 250, 1915, -4, photo="lfw:5", squeeze=0.7, name="31 px LFW, turned, entering from the right edge"),
    Actor(24, 60, 300, 5, photo="lfw:19", name="24 px LFW, walking along the top"),
    Actor(33, 1000, 150, 0, photo="lfw:33", dim=True, name="33 px LFW, dim, standing in the bottom left corner"),
    Actor(34, 545, 1900, -8, photo="lfw:47", name="34 px LFW, passing behind her"),
    Actor(37, 350, 1000, 4, photo="lfw:61", tilt=-14, name="37 px LFW, tilted, walking behind the pillar"),
    Actor(96, 480, 900, 5, applicant=True, turn=130, name="applicant"),
    Actor(38, 150, 1700, -3, photo="lfw:75", mirror=True, squeeze=0.75, name="38 px LFW, mirrored, turned, walking slowly"),
)
# A ninth held-out scene (issue 88), written and committed before held-out 8's everything-mode failure was looked at,
# and run once, blind, before any change: its figures are the blind ones, never used to choose a setting. Six other
# LFW crops, chosen by a fixed rule before any was run (9 + 14 k for k = 0..5: 9, 23, 37, 51, 65, 79; none of held-out
# 6's, 7's or 8's), grey, 24-40 px. The applicant walks left through the pillar and turns back; one stranger enters
# mirrored and turned from the left edge, a tilted one walks along the top, a small one walks along the bottom edge,
# one passes behind her at her face's height, the smallest walks behind the pillar, a dim one stands in the bottom
# right corner
HELD_OUT_9 = (
    Actor(28, 420, -20, 4, photo="lfw:9", mirror=True, squeeze=0.75,
          name="28 px LFW, mirrored, turned, entering from the left edge"),
    Actor(36, 40, 1750, -6, photo="lfw:23", tilt=16, name="36 px LFW, tilted, walking along the top"),
    Actor(26, 1030, 600, 3, photo="lfw:37", name="26 px LFW, walking along the bottom edge"),
    Actor(32, 540, 300, 7, photo="lfw:51", name="32 px LFW, passing behind her"),
    Actor(24, 250, 1400, -3, photo="lfw:79", name="24 px LFW, walking behind the pillar"),
    Actor(96, 470, 1500, -5, applicant=True, turn=120, name="applicant"),
    Actor(40, 930, 1700, 0, photo="lfw:65", dim=True, name="40 px LFW, dim, standing in the bottom right corner"),
)
# A tenth held-out scene (issue 88), written and committed before held-out 9's faces-mode failures were looked at,
# and run once, blind, before any change: its figures are the blind ones, never used to choose a setting. Six other
# LFW crops, chosen by a fixed rule before any was run (7 + 14 k for k = 0..5: 7, 21, 35, 49, 63, 77; none of held-out
# 6's, 7's, 8's or 9's), grey, 24-40 px. The applicant walks right through the pillar and turns back; one stranger
# enters turned from the right edge walking left, the smallest stands dim in the top left corner, a tilted one passes
# behind her at her face's height, a mirrored one walks along the bottom edge, one walks behind the pillar, the
# largest walks fast along the top
HELD_OUT_10 = (
    Actor(30, 380, 1910, -5, photo="lfw:7", squeeze=0.8, name="30 px LFW, turned, entering from the right edge"),
    Actor(24, 20, 60, 0, photo="lfw:21", dim=True, name="24 px LFW, dim, standing in the top left corner"),
    Actor(38, 500, 1300, -6, photo="lfw:35", tilt=-12, name="38 px LFW, tilted, passing behind her"),
    Actor(27, 1020, 400, 6, photo="lfw:49", mirror=True, name="27 px LFW, mirrored, walking along the bottom edge"),
    Actor(34, 300, 1100, 2, photo="lfw:63", name="34 px LFW, walking behind the pillar"),
    Actor(96, 460, 900, 4, applicant=True, turn=100, name="applicant"),
    Actor(40, 70, 300, 9, photo="lfw:77", name="40 px LFW, walking fast along the top"),
)
# An eleventh held-out scene (issue 88), written and committed before held-out 9's, 8's and 6's faces-mode failures were
# worked on, and run once, blind, before any change: its figures are the blind ones, never used to choose a setting.
# Six other LFW crops, chosen by a fixed rule written before any was run (12 + 14 k for k = 0..5: 12, 26, 40, 54, 68,
# 82; none of held-out 6's, 7's, 8's, 9's or 10's), grey, 24-38 px. The applicant walks left into the pillar, turns
# back behind it on frame 90 and walks right out through it; one stranger enters turned from the left edge low down,
# the smallest walks slowly, dim, along the top, a mirrored one passes behind her at her face's height, a mirrored one
# walks left behind the pillar, a tilted one stands at the right edge half out of the picture, a mirrored one walks
# fast along the bottom edge
HELD_OUT_11 = (
    Actor(33, 760, -22, 4, photo="lfw:12", squeeze=0.7, name="33 px LFW, turned, entering from the left edge"),
    Actor(24, 25, 1300, -2, photo="lfw:26", dim=True, name="24 px LFW, dim, walking slowly along the top"),
    Actor(35, 560, 200, 8, photo="lfw:40", mirror=True, name="35 px LFW, mirrored, passing behind her"),
    Actor(30, 330, 1450, -3, photo="lfw:54", mirror=True, name="30 px LFW, mirrored, walking behind the pillar"),
    Actor(96, 500, 1500, -6, applicant=True, turn=90, name="applicant"),
    Actor(38, 150, 1895, 0, photo="lfw:68", tilt=14, name="38 px LFW, tilted, standing half out at the right edge"),
    Actor(28, 1040, 1850, -9, photo="lfw:82", mirror=True, name="28 px LFW, mirrored, walking fast along the bottom edge"),
)
# A twelfth held-out scene (issue 88), written and committed before held-out 9's float, 8's, 11's, 3's and 10's faces-mode
# failures were worked on, and run once, blind, before any change: its figures are the blind ones, never used to choose
# a setting. Six other LFW crops, chosen by a fixed rule written before any was run (10 + 14 k for k = 0..5: 10, 24,
# 38, 52, 66, 80; none of held-out 6's to 11's), grey, 25-40 px. The applicant walks left the whole clip, from the
# right through the pillar, never turning; a tilted stranger walks right along the top, a dim turned one enters slowly
# from the left edge, a mirrored one walks right behind her at her face's height and meets her by the pillar, a small
# mirrored one stands just above her path, a mirrored turned one walks left low behind the pillar, a tilted one walks
# right in front of her body, under her face, crossing inside her region
HELD_OUT_12 = (
    Actor(27, 70, 100, 6, photo="lfw:10", tilt=-16, name="27 px LFW, tilted, walking right along the top"),
    Actor(32, 300, -25, 3, photo="lfw:24", dim=True, squeeze=0.8, name="32 px LFW, dim, turned, entering from the left edge"),
    Actor(36, 600, 150, 7, photo="lfw:38", mirror=True, name="36 px LFW, mirrored, passing behind her"),
    Actor(25, 440, 1450, 0, photo="lfw:52", mirror=True, name="25 px LFW, mirrored, standing just above her path"),
    Actor(30, 965, 1500, -3, photo="lfw:66", mirror=True, squeeze=0.7,
          name="30 px LFW, mirrored, turned, walking left low behind the pillar"),
    Actor(96, 540, 1650, -4, applicant=True, name="applicant"),
    Actor(40, 770, 1000, 3, photo="lfw:80", tilt=12, name="40 px LFW, tilted, crossing in front of her body"),
)
# A thirteenth held-out scene (issue 88), written and committed before held-out 12's, 8's and the others' faces-mode
# failures were worked on by design/0571-0575, and run once, blind, before any change: its figures are the blind ones,
# never used to choose a setting. Six other LFW crops, chosen by a rule written before any was run: the least offset o
# for which o + 14 k, k = 0..5, meets no crop any scene or test uses (o = 0: 0, 14, 28, 42, 56, 70; none of held-out
# 6's to 12's), grey, 26-36 px. The applicant walks right toward the pillar and turns back short of it on frame 140;
# a small one walks with her just above her head, keeping her pace and turning with her (drawn in front of her
# sprite); a tilted one stands at the pillar's left edge, part of his face behind it; a dim one walks fast left along
# the bottom edge; two walk left side by side along the top, one mirrored; a mirrored tilted one walks right low,
# just under her feet, through the pillar, and turns back through it on frame 100
HELD_OUT_13 = (
    Actor(30, 250, 1160, 0, photo="lfw:14", tilt=-10, name="30 px LFW, tilted, standing half behind the pillar's left edge"),
    Actor(34, 1035, 1850, -9, photo="lfw:28", dim=True, name="34 px LFW, dim, walking fast along the bottom edge"),
    Actor(28, 160, 1500, -6, photo="lfw:42", mirror=True, name="28 px LFW, mirrored, walking left beside another"),
    Actor(32, 150, 1535, -6, photo="lfw:56", name="32 px LFW, walking left beside another"),
    Actor(36, 940, 950, 6, photo="lfw:70", mirror=True, tilt=18, turn=100,
          name="36 px LFW, mirrored, tilted, walking low through the pillar and back"),
    Actor(96, 520, 250, 5, applicant=True, turn=140, name="applicant"),
    Actor(26, 505, 405, 5, photo="lfw:0", turn=140, name="26 px LFW, walking with her just above her head"),
)
# A fourteenth held-out scene (issue 88), written and committed before the faces-mode failures left by design/0573 were
# worked on, and run once, blind, before any change: its figures are the blind ones, never used to choose a setting.
# Six other LFW crops, chosen by held-out 13's rule written before any was run: the least offset o for which o + 14 k,
# k = 0..5, meets no crop any scene or test uses (o = 4: 4, 18, 32, 46, 60, 74; none of held-out 6's to 13's), grey,
# 24-40 px. The applicant walks slowly right, left of the pillar, and turns back on frame 150; a small turned one stands
# at the top edge; a dim mirrored one enters from the right edge at her shoulders' height and walks left toward the
# pillar; the most tilted one walks right across the upper third and turns back on frame 110; a turned one walks
# slowly left low out from behind the pillar; a mirrored tilted one enters slowly from the right edge along the top;
# one walks left fast in front of her face (drawn in front of her sprite)
HELD_OUT_14 = (
    Actor(24, 10, 700, 0, photo="lfw:4", squeeze=0.8, name="24 px LFW, turned, standing at the top edge"),
    Actor(40, 640, 1880, -4, photo="lfw:18", dim=True, mirror=True,
          name="40 px LFW, dim, mirrored, entering from the right edge at her shoulders' height"),
    Actor(30, 220, 200, 6, photo="lfw:32", tilt=20, turn=110, name="30 px LFW, tilted, walking right across the upper third and back"),
    Actor(34, 900, 1300, -2, photo="lfw:46", squeeze=0.7, name="34 px LFW, turned, walking slowly left low out from behind the pillar"),
    Actor(38, 60, 1900, -3, photo="lfw:74", mirror=True, tilt=-8,
          name="38 px LFW, mirrored, tilted, entering slowly from the right edge along the top"),
    Actor(96, 480, 500, 3, applicant=True, turn=150, name="applicant"),
    Actor(32, 510, 1500, -9, photo="lfw:60", name="32 px LFW, walking left fast in front of her face"),
)
# A fifteenth held-out scene (issue 88), written and committed before the faces-mode runs left by design/0579 and 0585
# were worked on again, and run once, blind, on the code those changes leave: its figures are the blind ones, never
# used to choose a setting. Six other LFW crops, chosen by held-out 13's rule written before any was run: the least
# offset o for which o + 14 k, k = 0..5, meets no crop any scene or test uses (o = 8: 8, 22, 36, 50, 64, 78), grey,
# 24-40 px. The applicant walks right, left of the pillar, and turns back on frame 120; a mirrored one walks beside
# her at her face's height and her pace, turning with her; a turned one stands half out at the bottom edge; a dim
# tilted one stands half out at the left edge; the smallest walks left fastest above her head; two walk toward each
# other along the upper third and cross on about frame 100, the larger (turned, mirrored, in front) through the pillar
HELD_OUT_15 = (
    Actor(26, 1064, 900, 0, photo="lfw:8", squeeze=0.8, name="26 px LFW, turned, standing half out at the bottom edge"),
    Actor(24, 380, 1900, -13, photo="lfw:22", name="24 px LFW, walking left fastest above her head"),
    Actor(30, 700, -16, 0, photo="lfw:36", dim=True, tilt=-15, name="30 px LFW, dim, tilted, standing half out at the left edge"),
    Actor(96, 520, 300, 4, applicant=True, turn=120, name="applicant"),
    Actor(36, 575, 530, 4, photo="lfw:50", mirror=True, turn=120, name="36 px LFW, mirrored, walking beside her at her face's height"),
    Actor(28, 300, 200, 7, photo="lfw:64", name="28 px LFW, walking right along the upper third, crossing another"),
    Actor(40, 290, 1600, -7, photo="lfw:78", mirror=True, squeeze=0.75,
          name="40 px LFW, mirrored, turned, walking left through the pillar, crossing another in front"),
)
# A sixteenth held-out scene (issue 88), written and committed before the faces-mode runs left by design/0592 and 0596
# were worked on, and run once, blind, on the code those changes left: its figures are the blind ones, never used to
# choose a setting. Six other LFW crops, chosen by a rule written before any was run (held-out 13's rule, o + 14 k, has
# no free offset left): the least offset o for which o + 3 k, k = 0..5, meets no crop any scene or test uses (o = 83:
# 83, 86, 89, 92, 95, 98), grey, 24-40 px. The applicant walks right, right of the pillar, and turns back on frame 100;
# a dim mirrored one walks slowly right half out at the top edge; a mirrored one stands half behind the pillar's right
# edge; a tilted one walks left low and turns back on frame 80; a turned one enters fast from the left edge at her
# face's height, through the pillar and behind her; a mirrored one walks right above her head, behind her, faster than
# her; a tilted one overtakes her in front of her chest (drawn in front of her sprite)
HELD_OUT_16 = (
    Actor(24, -10, 1500, 2, photo="lfw:86", dim=True, mirror=True,
          name="24 px LFW, dim, mirrored, walking slowly right half out at the top edge"),
    Actor(28, 300, 1236, 0, photo="lfw:92", mirror=True, name="28 px LFW, mirrored, standing half behind the pillar's right edge"),
    Actor(40, 850, 900, -5, photo="lfw:95", tilt=-14, turn=80, name="40 px LFW, tilted, walking left low and back"),
    Actor(36, 560, -30, 10, photo="lfw:89", squeeze=0.75,
          name="36 px LFW, turned, entering fast from the left edge at her face's height, through the pillar and behind her"),
    Actor(33, 470, 1000, 6, photo="lfw:98", mirror=True, name="33 px LFW, mirrored, walking right above her head, behind her"),
    Actor(96, 500, 1260, 4, applicant=True, turn=100, name="applicant"),
    Actor(30, 650, 1100, 8, photo="lfw:83", tilt=10, name="30 px LFW, tilted, overtaking her in front of her chest"),
)
# A seventeenth held-out scene (issue 88), written and committed before this round's faces-mode changes, and run once,
# blind, on the code of design/0601-0608: its figures are the blind ones, never used to choose a setting. Six other LFW
# crops by held-out 16's rule, written before any was run: the least offset o for which o + 3 k, k = 0..5, meets no
# crop any scene or test uses (o = 84: 84, 87, 90, 93, 96, 99), grey, 24-38 px. The applicant walks left from the
# right, through the pillar, and turns back on frame 130; a turned mirrored one stands at her face's height where she
# starts, behind her; a dim tilted one walks fast right along the bottom edge; the smallest walks slowly left along the
# upper third through the pillar; the most tilted one walks right low and turns back on frame 70; a mirrored one stands
# half out at the right edge; one walks fast right across her face (drawn in front of her sprite)
HELD_OUT_17 = (
    Actor(26, 1040, 100, 11, photo="lfw:84", dim=True, tilt=12, name="26 px LFW, dim, tilted, walking fast along the bottom edge"),
    Actor(32, 520, 1350, 0, photo="lfw:87", mirror=True, squeeze=0.75,
          name="32 px LFW, mirrored, turned, standing at her face's height where she starts, behind her"),
    Actor(24, 200, 1600, -4, photo="lfw:90", name="24 px LFW, walking slowly left along the upper third through the pillar"),
    Actor(38, 800, 500, 6, photo="lfw:93", tilt=-16, turn=70, name="38 px LFW, tilted, walking right low and back"),
    Actor(28, 400, 1905, 0, photo="lfw:96", mirror=True, name="28 px LFW, mirrored, standing half out at the right edge"),
    Actor(96, 480, 1500, -3, applicant=True, turn=130, name="applicant"),
    Actor(34, 530, 200, 9, photo="lfw:99", name="34 px LFW, walking fast right across her face"),
)
# bench/redaction --crowd [--held-out [2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 | 16 | 17] | --profiles]: the scene's key here, and its name in
# the bench's lines
SCENES = {0: CAST, 1: HELD_OUT, 2: HELD_OUT_2, 3: PROFILES, 4: HELD_OUT_3, 5: HELD_OUT_4, 6: HELD_OUT_5, 7: HELD_OUT_6,
          8: HELD_OUT_7, 9: HELD_OUT_8, 10: HELD_OUT_9, 11: HELD_OUT_10, 12: HELD_OUT_11, 13: HELD_OUT_12, 14: HELD_OUT_13,
          15: HELD_OUT_14, 16: HELD_OUT_15, 17: HELD_OUT_16, 18: HELD_OUT_17}
SCENE_NAMES = {0: "crowd", 1: "held out 1", 2: "held out 2", 3: "profiles (tuning)", 4: "held out 3",
               5: "held out 4", 6: "held out 5", 7: "held out 6", 8: "held out 7",
               9: "held out 8", 10: "held out 9", 11: "held out 10",
               12: "held out 11", 13: "held out 12", 14: "held out 13", 15: "held out 14",
               16: "held out 15", 17: "held out 16", 18: "held out 17"}

# What the detector's settings may be chosen on: the small faces alone, standing still
TUNING = (Actor(24, 100, 200, 0), Actor(32, 300, 700, 0), Actor(44, 500, 1300, 0))


def _draw(frame: int, width: int, height: int, cast: tuple[Actor, ...], scene: np.ndarray | None,
          pillar: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """One frame's picture (None where `scene` is None) and its owner map (the actor's index, 254
    for none, PILLAR_ID for the pillar)."""
    img = scene.copy() if scene is not None else None
    owner = np.full((height, width), 254, np.uint8)
    for n, a in enumerate(cast):
        rgb, mask, _ = sprite(a)
        x, y = a.place(frame)
        h, w = mask.shape
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = mask[y0 - y:y1 - y, x0 - x:x1 - x]
        owner[y0:y1, x0:x1][m] = n
        if img is not None and (soft := alpha(a)) is not None:   # an LFW head: blended into what is behind it
            k = soft[y0 - y:y1 - y, x0 - x:x1 - x, None]
            img[y0:y1, x0:x1] = (k * rgb[y0 - y:y1 - y, x0 - x:x1 - x] + (1 - k) * img[y0:y1, x0:x1] + 0.5).astype(np.uint8)
        elif img is not None:
            img[y0:y1, x0:x1][m] = rgb[y0 - y:y1 - y, x0 - x:x1 - x][m]
    if pillar:
        px, py, pw, ph = PILLAR
        owner[py:py + ph, px:px + pw] = PILLAR_ID
        if img is not None:
            img[py:py + ph, px:px + pw] = (120, 118, 112)
    return img, owner


def pictures(frames: int, size: tuple[int, int] = (1920, 1080), cast: tuple[Actor, ...] = CAST,
             pillar: bool = True, first: int = 0) -> Iterator[np.ndarray]:
    """The scene's frames `first` to `frames` - 1, RGB."""
    width, height = size
    scene = background(width, height)
    for i in range(first, frames):
        img, _ = _draw(i, width, height, cast, scene, pillar)
        assert img is not None
        yield img


def write_clip(path: Path, frames: int, size: tuple[int, int] = (1920, 1080), fps: int = 20,
               cast: tuple[Actor, ...] = CAST, pillar: bool = True) -> None:
    """The scene as a camera's recording would be: H.264 in MP4, a keyframe every 2 s."""
    width, height = size
    with av.open(str(path), "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=Fraction(fps), options={"preset": "ultrafast", "crf": "20",
                                                                 "g": str(2 * fps)})
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        for img in pictures(frames, size, cast, pillar):
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)


def applicant_marks(frames: int, cast: tuple[Actor, ...] = CAST, width: int = 1920) -> list[Mark]:
    """The custodian's marks: the applicant's whole sprite on the first frame and on the last."""
    who = next(a for a in cast if a.applicant)
    return [Mark(0, who.body(0)), Mark(frames - 1, who.body(frames - 1))]


def _seen_share(y_plane: np.ndarray, owner: np.ndarray, n: int, box: Box,
                was: np.ndarray | None = None) -> tuple[float, float]:
    """(the share of the face's box that is seen, the share of what is seen that reads as fill). With
    `was` (the original's luma plane), only what did not read as fill there counts: a face whose own
    dark pixels (hair, eyes, a shadow) read as fill is not counted part-hidden where nothing hid it."""
    x, y, w, h = box
    x0, y0, x1, y1 = max(0, x), max(0, y), min(owner.shape[1], x + w), min(owner.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return 0.0, 0.0
    mine = owner[y0:y1, x0:x1] == n
    seen = int(mine.sum())
    if not seen:
        return 0.0, 0.0
    if was is not None:
        mine &= was[y0:y1, x0:x1] > FILL_MAX_Y
        if not mine.any():
            return seen / (w * h), 0.0
    return seen / (w * h), float((y_plane[y0:y1, x0:x1][mine] <= FILL_MAX_Y).mean())


def judge(path: Path, cast: tuple[Actor, ...] = CAST, pillar: bool = True, min_face: int = 24,
          original: Path | None = None) -> dict[str, object]:
    """The copy read back frame by frame. A stranger's face counts on a frame where at least
    SEEN_LEAST of its box is seen (not covered, in the picture) and it is at least `min_face`
    high; it is hidden where at least 90 % of what is seen reads as fill, fully visible where at
    most VISIBLE_MOST does. The applicant is masked on a frame where more than 10 % of what is
    seen of their face reads as fill. With `original` (the clip the copy was made from), what is
    seen is what did not read as fill there (`_seen_share`; design/0578). Per stranger: faces
    counted, hidden, the longest run of frames fully visible."""
    per: dict[str, dict[str, int]] = {a.name: {"faces": 0, "hidden": 0, "worst_run": 0, "run": 0}
                                       for a in cast if not a.applicant}
    masked: list[int] = []
    frames = 0
    with av.open(str(path)) as f, (av.open(str(original)) if original else contextlib.nullcontext()) as o:
        befores = (b.to_ndarray(format="gray") for b in o.decode(video=0)) if o else itertools.repeat(None)
        for i, (frame, was) in enumerate(zip(f.decode(video=0), befores)):
            y_plane = frame.to_ndarray(format="gray")
            _, owner = _draw(i, y_plane.shape[1], y_plane.shape[0], cast, None, pillar)
            frames += 1
            for n, a in enumerate(cast):
                seen, filled = _seen_share(y_plane, owner, n, a.face(i), was)
                if a.applicant:
                    if seen >= SEEN_LEAST and filled > 0.1:
                        masked.append(i)
                    continue
                p = per[a.name]
                if seen < SEEN_LEAST or a.face(i)[3] < min_face:
                    p["run"] = 0
                    continue
                p["faces"] += 1
                p["hidden"] += filled >= 0.9
                p["run"] = p["run"] + 1 if filled <= VISIBLE_MOST else 0
                p["worst_run"] = max(p["worst_run"], p["run"])
    faces = sum(p["faces"] for p in per.values())
    hidden = sum(p["hidden"] for p in per.values())
    return {"recall": hidden / faces if faces else 1.0, "faces": faces, "frames": frames,
            "applicant_masked": len(masked), "applicant_masked_frames": masked,
            "worst_run": max((p["worst_run"], name) for name, p in per.items()),
            "per": {name: {k: v for k, v in p.items() if k != "run"} for name, p in per.items()}}
