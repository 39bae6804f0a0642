"""A scene for the applicant followed between the custodian's marks (design/0285): a textured
patch (the applicant) moving along a half circle over a textured wall, and a second, different
patch (a third party) standing at the circle's centre, where the straight line between the
first and the last frame's marks runs. Built with numpy; `write_clip` encodes it as a camera's
recording would be. The truth is known to the pixel: it is where the patches were drawn.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from storage.redact.plan import Box, Mark

SIZE = (640, 360)
SIDE = 48                 # each patch's side, pixels
RADIUS = 110              # the applicant's half circle, around the third party
CENTRE = (320, 180)


def texture(seed: int, height: int, width: int, lo: int = 0, hi: int = 256, block: int = 4) -> np.ndarray:
    """Blocks of `block` pixels of random grey levels in [lo, hi): a texture that survives scaling down."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(lo, hi, (height // block + 1, width // block + 1)).astype(np.uint8)
    return np.kron(cells, np.ones((block, block), np.uint8))[:height, :width]


def applicant(frame: int, frames: int) -> Box:
    """The applicant's patch on `frame`: half way round a circle from its right to its left, by its bottom."""
    angle = math.pi * frame / (frames - 1)
    x = CENTRE[0] + RADIUS * math.cos(angle) - SIDE / 2
    y = CENTRE[1] + RADIUS * math.sin(angle) - SIDE / 2
    return (round(x), round(y), SIDE, SIDE)


def third_party(frame: int, frames: int) -> Box:
    """The third party's patch: standing at the circle's centre."""
    return (CENTRE[0] - SIDE // 2, CENTRE[1] - SIDE // 2, SIDE, SIDE)


def frames_of(frames: int, flat_applicant: bool = False) -> list[np.ndarray]:
    """The scene's frames, 8-bit luma at SIZE (the applicant's patch one grey where `flat_applicant`)."""
    width, height = SIZE
    wall = texture(1, height, width, 60, 190)
    mine = np.full((SIDE, SIDE), 128, np.uint8) if flat_applicant else texture(2, SIDE, SIDE)
    theirs = texture(3, SIDE, SIDE)
    out = []
    for i in range(frames):
        img = wall.copy()
        for patch, (x, y, w, h) in ((theirs, third_party(i, frames)), (mine, applicant(i, frames))):
            img[y:y + h, x:x + w] = patch
        out.append(img)
    return out


def marks(frames: int) -> list[Mark]:
    """The custodian's marks: the applicant's patch on the first frame and on the last, no more."""
    return [Mark(0, applicant(0, frames)), Mark(frames - 1, applicant(frames - 1, frames))]


def scaled(picture: np.ndarray, factor: int) -> np.ndarray:
    """`picture` scaled down by `factor` (the mean of each factor x factor block, as an area scaler)."""
    h, w = picture.shape[0] // factor, picture.shape[1] // factor
    blocks = picture[:h * factor, :w * factor].reshape(h, factor, w, factor).astype(np.uint32)
    return ((blocks.sum(axis=(1, 3)) + factor * factor // 2) // (factor * factor)).astype(np.uint8)


def write_clip(path: Path, frames: int, fps: int = 20) -> None:
    """The scene as a camera's recording: H.264 in MP4, a keyframe every 2 s."""
    width, height = SIZE
    with av.open(str(path), "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=Fraction(fps), options={"preset": "ultrafast", "crf": "20",
                                                                 "g": str(2 * fps)})
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        for picture in frames_of(frames):
            for packet in v.encode(av.VideoFrame.from_ndarray(picture, format="gray")):
                out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)
