"""The review copy's watermark (issue 88, design/0479): the words "for review, not released" in the
site's language drawn on every picture of the copy the preparer plays through, in the same pass that
fills it (storage/redact/media.py `filled`); the release renders the deliverable again from the same
decisions without them (storage/redact/job.py).

The words are drawn from a 1-bit bitmap made once from the catalogs (scripts/watermark writes
watermark.json beside this module): the box needs no font and no text library. Words without a
bitmap (a language added and the script not run) are drawn in English, never left off. The stamp
is worked out once a clip (`stamp`: the bitmap scaled to the picture, its outline, three rows of
it) and drawn on each frame's luma plane by index (`draw`): a few hundred microseconds a 1080p frame.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from storage.redact import x264

if TYPE_CHECKING:
    import numpy as np

WORDS = "FOR REVIEW - NOT RELEASED"   # the English words; the site's are edged's catalog's (edged/control/redact.py)
TABLE = Path(__file__).with_name("watermark.json")
HIGH = 16     # the words' height: this share of the picture's height (1080 lines: 67 px)
WIDE = 0.9    # and at most this share of its width
ROWS = (0.2, 0.5, 0.8)   # where the rows of words are centred, shares of the picture's height
TEXT_Y, EDGE_Y = 235, 16   # white words in a black outline: read on any picture


@dataclass(frozen=True)
class Stamp:
    """Where the words go on a picture of one size: the luma pixels of the words and of their outline."""
    text: tuple[np.ndarray, np.ndarray]   # (rows, columns)
    edge: tuple[np.ndarray, np.ndarray]


@lru_cache(maxsize=8)
def bitmap(words: str) -> np.ndarray:
    """The words' bitmap (bool, rows by columns); words without one: WORDS'."""
    import numpy as np

    table = json.loads(TABLE.read_text())
    got = table.get(words) or table[WORDS]
    width, height = int(got["width"]), int(got["height"])
    bits = np.unpackbits(np.frombuffer(zlib.decompress(base64.b64decode(got["bits"])), np.uint8))
    return bits.reshape(height, -1)[:, :width].astype(bool)


def stamp(words: str, width: int, height: int) -> Stamp:
    """The words scaled to a `width` x `height` picture (nearest pixel), outlined, in ROWS rows."""
    import numpy as np

    src = bitmap(words)
    scale = min(height / HIGH / src.shape[0], width * WIDE / src.shape[1])
    h, w = max(1, int(src.shape[0] * scale)), max(1, int(src.shape[1] * scale))
    mask = src[(np.arange(h) * src.shape[0] // h)[:, None], np.arange(w) * src.shape[1] // w]
    grown = np.zeros((h + 4, w + 4), bool)   # the outline: the words grown by 2 px each way
    for dy in range(5):
        for dx in range(5):
            grown[dy:dy + h, dx:dx + w] |= mask
    inner = np.zeros_like(grown)
    inner[2:2 + h, 2:2 + w] = mask
    x0 = max(0, (width - w) // 2 - 2)
    text: list[tuple[np.ndarray, np.ndarray]] = []
    edge: list[tuple[np.ndarray, np.ndarray]] = []
    for share in ROWS:
        y0 = min(max(0, int(height * share) - h // 2 - 2), max(0, height - h - 4))
        for into, m in ((text, inner), (edge, grown & ~inner)):
            ys, xs = np.nonzero(m)
            keep = (ys + y0 < height) & (xs + x0 < width)
            into.append((ys[keep] + y0, xs[keep] + x0))
    return Stamp((np.concatenate([t[0] for t in text]), np.concatenate([t[1] for t in text])),
                 (np.concatenate([e[0] for e in edge]), np.concatenate([e[1] for e in edge])))


def draw(luma: np.ndarray, mark: Stamp) -> None:
    """The words drawn on a picture's luma plane (rows by columns, written in place)."""
    luma[mark.edge] = EDGE_Y
    luma[mark.text] = TEXT_Y


def encoding(words: str | None) -> str:
    """How a part is made, as its record holds it (resume.plan_digest): x264's settings and the words
    drawn on it, so a part of the review copy is never kept for the deliverable, nor the reverse."""
    return x264.encoding() + (f" watermark={words}" if words else "")
