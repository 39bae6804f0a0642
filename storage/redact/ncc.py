"""Normalized cross-correlation of a template over a search window, exact (design/0285; the
windows summed where they lie, design/0360): pure, numpy only.

The template is integers (UNIT of a grey level, track.py); the picture 8-bit luma. Every sum is of
integers under 2**53, so float64 gives it exactly in any order: the same frames give the same
score to the last bit, whatever BLAS or einsum's order of adding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.lazy import lazy_import

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")  # at the job's first frame: the daemon imports this module and redacts rarely (design/0297)


def _window_sums(area: np.ndarray, stride: int, shape: tuple[int, int],
                 count: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For each of `count` (rows, columns) windows of `area` (float64 holding 8-bit values), one
    pixel apart, the sum and the sum of squares of its samples (`shape` of them, every `stride`
    pixels), flattened: each row's sums over the template's width at every column (a view over
    `area`, summed), then those of the template's rows for each window (a view over them, summed).
    Every sum is of integers far under 2**53: exact."""
    th, tw = shape
    ny, nx = count
    out = []
    for values in (area, area * area):
        v0, v1 = values.strides
        across = np.lib.stride_tricks.as_strided(values, (values.shape[0], nx, tw), (v0, v1, v1 * stride),
                                                 writeable=False).sum(axis=2)
        r0, r1 = across.strides
        down = np.lib.stride_tricks.as_strided(across, (ny, nx, th), (r0, r1, r0 * stride), writeable=False)
        out.append(down.sum(axis=2).reshape(-1))
    return out[0], out[1]


def _cross(area: np.ndarray, t: np.ndarray, stride: int, count: tuple[int, int]) -> np.ndarray:
    """Each of `count` (rows, columns) windows of `area` (one pixel apart, sampled every `stride`
    pixels) times template `t`, summed, flattened. First each row of `area` against each row of
    the template at every column (`rows`, a view over `area`, times t's transpose: one matrix
    product), then for window (y, x) the sum over template rows k of that product at row
    y + k * stride, column x, template row k (a view over the product, summed)."""
    th, tw = t.shape
    ny, nx = count
    a0, a1 = area.strides
    rows = np.lib.stride_tricks.as_strided(area, (area.shape[0], nx, tw), (a0, a1, a1 * stride), writeable=False)
    product = np.matmul(rows, t.T)   # [y, x, k] = sum over l of area[y, x + l * stride] * t[k, l]
    p0, p1, p2 = product.strides
    diagonal = np.lib.stride_tricks.as_strided(product, (ny, nx, th), (p0, p1, p0 * stride + p2), writeable=False)
    summed: np.ndarray = diagonal.sum(axis=2)
    return summed.reshape(-1)


def match(small: np.ndarray, template: np.ndarray, stride: int, size: tuple[int, int],
          around: tuple[int, int], reach: int) -> tuple[float, float, float] | None:
    """The best normalized cross-correlation of `template` (integers, in UNIT of a grey level,
    sampled every `stride` pixels over a region of `size`) in `small`, its top-left within `reach`
    of `around`: (x, y, score), x and y refined to a fraction of a pixel; None when the region
    fits nowhere in reach. The sums are of integers, exact in any order: the same frames give the
    same score to the last bit."""
    height, width = small.shape
    w, h = size
    xs = range(max(0, around[0] - reach), min(width - w, around[0] + reach) + 1)
    ys = range(max(0, around[1] - reach), min(height - h, around[1] + reach) + 1)
    if not xs or not ys:
        return None
    th, tw = template.shape
    n, ny, nx = th * tw, len(ys), len(xs)
    area = small[ys.start:ys.stop - 1 + h, xs.start:xs.stop - 1 + w].astype(np.float64)
    t = template.astype(np.float64)
    # float64 sums of integers under 2**53: exact in any order. The windows are never copied out
    # (issue 75: the copy was most of a match's cost): _cross's two products, and the windows' sums
    # and sums of squares from summed-area tables (_window_sums)
    dot = _cross(area, t, stride, (ny, nx))
    sw, sq = _window_sums(area, stride, (th, tw), (ny, nx))
    st = float(t.sum())
    cov = n * dot - sw * st
    var_w = n * sq - sw * sw
    var_t = n * float((t * t).sum()) - st * st
    denom = np.sqrt(var_w * var_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(denom > 0, cov / denom, 0.0).reshape(ny, nx)
    iy, ix = (int(v) for v in np.unravel_index(int(np.argmax(scores)), scores.shape))
    best = float(scores[iy, ix])

    def refine(lo: float, mid: float, hi: float) -> float:
        curve = lo - 2 * mid + hi
        return max(-0.5, min(0.5, 0.5 * (lo - hi) / curve)) if curve < 0 else 0.0

    dx = refine(float(scores[iy, ix - 1]), best, float(scores[iy, ix + 1])) if 0 < ix < len(xs) - 1 else 0.0
    dy = refine(float(scores[iy - 1, ix]), best, float(scores[iy + 1, ix])) if 0 < iy < len(ys) - 1 else 0.0
    return xs.start + ix + dx, ys.start + iy + dy, best
