"""A test clip with real faces whose boxes are known (issue 54; design/0176): the photograph of
astronaut Eileen Collins that scikit-image ships (`skimage.data.astronaut()`, a NASA photograph
in the public domain), at four sizes, moved across a 1080p scene, one of them the applicant.

ASTRONAUT_FACE is the face's box in the 512x512 photograph (the detector's own box at full
resolution, looked at by a person: forehead to chin, ear to ear). Each person's face box in a
frame is that box scaled and moved with the photograph, so the truth is known to the pixel
and never comes from the detector run on the clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from storage.redact.plan import Box, Mark

ASTRONAUT_FACE = (181, 58, 89, 120)
FILL_MAX_Y = 30          # a pixel this dark (Y') in the output counts as filled (the fill is 16, plus x264's noise)


@dataclass(frozen=True)
class Person:
    face_h: int       # the face's height in the frame, pixels
    y: int            # the photograph's top edge
    x0: int           # its left edge on the first frame
    vx: int           # pixels a frame (a person walking at about 1.3 m/s, at 20 fps)
    applicant: bool = False
    turn: int = 0     # the frame it turns back on, walking back the way it came (0: it never does)

    def scale(self) -> float:
        return self.face_h / ASTRONAUT_FACE[3]

    def side(self) -> int:
        return round(512 * self.scale())

    def at(self, frame: int, frames: int) -> int:
        return self.place(frame, frames)[0]

    def place(self, frame: int, frames: int) -> tuple[int, int]:
        """The photograph's top-left on `frame`."""
        if self.turn and frame > self.turn:
            return self.x0 + self.vx * (2 * self.turn - frame), self.y
        return self.x0 + self.vx * frame, self.y

    def body(self, frame: int, frames: int) -> Box:
        return (*self.place(frame, frames), self.side(), self.side())

    def face(self, frame: int, frames: int) -> Box:
        s, (fx, fy, fw, fh) = self.scale(), ASTRONAUT_FACE
        x, y = self.place(frame, frames)
        return (x + round(fx * s), y + round(fy * s), round(fw * s), round(fh * s))


# three strangers (faces 30, 48 and 72 px high) and the applicant (96 px), each in a band of its own,
# walking across (and out of) the picture
PEOPLE = (Person(30, 20, 1750, -10), Person(48, 170, 60, 12), Person(72, 380, 1500, -14),
          Person(96, 660, 100, 16, applicant=True))


def _photo() -> np.ndarray:
    from skimage import data
    photo: np.ndarray = data.astronaut()
    return photo


def _scaled(photo: np.ndarray, side: int) -> np.ndarray:
    """The photograph at `side` x `side` pixels (nearest-neighbour sampling)."""
    idx = (np.arange(side) * 512 // side).clip(0, 511)
    return photo[idx][:, idx]


def background(width: int, height: int) -> np.ndarray:
    """A still scene: a wall's gradient with a fixed texture (the same every frame, so it costs the
    encoder what a fixed camera's scene does)."""
    rng = np.random.default_rng(54)
    ramp = np.linspace(90, 160, width, dtype=np.float32)[None, :, None]
    noise = rng.integers(-12, 12, (height, width, 1)).astype(np.float32)
    return np.clip(ramp + noise + np.array([0, 5, 10], np.float32), 0, 255).astype(np.uint8)


def pictures(frames: int, size: tuple[int, int] = (1920, 1080), people: tuple[Person, ...] = PEOPLE) -> Iterator[np.ndarray]:
    """The clip's frames (RGB, height x width x 3), as `write_clip` encodes them."""
    width, height = size
    photo, scene = _photo(), background(width, height)
    sprites = [_scaled(photo, p.side()) for p in people]
    for i in range(frames):
        img = scene.copy()
        for p, sprite in zip(people, sprites):
            x, y, w, h = p.body(i, frames)
            x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
            if x1 > x0 and y1 > y0:
                img[y0:y1, x0:x1] = sprite[y0 - y:y1 - y, x0 - x:x1 - x]
        yield img


def write_clip(path: Path, frames: int, size: tuple[int, int] = (1920, 1080), fps: int = 20,
               people: tuple[Person, ...] = PEOPLE) -> None:
    """The clip as a camera's recording would be: H.264 in MP4, a keyframe every 2 s."""
    width, height = size
    with av.open(str(path), "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=Fraction(fps), options={"preset": "ultrafast", "crf": "20",
                                                                 "g": str(2 * fps)})
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        for img in pictures(frames, size, people):
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)


def applicant_marks(frames: int, people: tuple[Person, ...] = PEOPLE, every: int = 0) -> list[Mark]:
    """The custodian's marks of the applicant's region: the first and last frame (and every
    `every`-th between, if asked), each the whole photograph's box."""
    who = next(p for p in people if p.applicant)
    at = sorted({0, frames - 1, *(range(0, frames, every) if every else ())})
    return [Mark(f, who.body(f, frames)) for f in at]


def filled_share(y_plane: np.ndarray, box: Box, skip: np.ndarray | None = None) -> float:
    """The share of `box` (cut to the frame) whose pixels are the fill's; where `skip` (a mask of the
    picture) is given, of its pixels not skipped (a review copy's words: `watermarked`)."""
    x, y, w, h = box
    cut = (slice(max(0, y), max(0, y + h)), slice(max(0, x), max(0, x + w)))
    region = y_plane[cut] if skip is None else y_plane[cut][~skip[cut]]
    return float((region <= FILL_MAX_Y).mean()) if region.size else 1.0


def judge(path: Path, people: tuple[Person, ...] = PEOPLE, min_face: int = 24) -> dict[str, float]:
    """Read the redacted clip back: the share of strangers' faces (at least `min_face` high and
    in the frame) at least 90 % filled, over all frames; the frames where the applicant's face is
    more than 10 % filled; the frames read."""
    hidden = seen = applicant_masked = frames = 0
    with av.open(str(path)) as f:
        total = f.streams.video[0].frames
        for i, frame in enumerate(f.decode(video=0)):
            y_plane = frame.to_ndarray(format="gray")
            frames += 1
            for p in people:
                box = p.face(i, total)
                if box[0] < 0 or box[0] + box[2] > y_plane.shape[1]:
                    continue  # partly out of the picture: not counted either way
                share = filled_share(y_plane, box)
                if p.applicant:
                    applicant_masked += share > 0.1
                elif box[3] >= min_face:
                    seen += 1
                    hidden += share >= 0.9
    return {"recall": hidden / seen if seen else 1.0, "faces": seen, "applicant_masked": applicant_masked,
            "frames": frames}


def watermarked(width: int, height: int, grow: int = 3) -> np.ndarray:
    """Where a review copy's words may be drawn on a `width` x `height` picture, in any language the
    table holds, grown by `grow` px for the codec's edges (design/0479): left out where a test judges
    a review copy's pixels (what is filled, what is shown)."""
    import json

    from storage.redact import watermark

    mask = np.zeros((height, width), bool)
    for words in json.loads(watermark.TABLE.read_text()):
        stamp = watermark.stamp(words, width, height)
        mask[stamp.text] = True
        mask[stamp.edge] = True
    grown = mask.copy()
    for dy in range(-grow, grow + 1):
        for dx in range(-grow, grow + 1):
            grown |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return grown
