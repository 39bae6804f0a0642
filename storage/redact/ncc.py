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


TABLE_STRIDE_MOST = 3   # the windows' sums from summed-area tables up to this stride, from views beyond (the faster, bench/ncc_match.py)


def _window_sums(area: np.ndarray, stride: int, shape: tuple[int, int],
                 count: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For each of `count` (rows, columns) windows of `area` (float64 holding 8-bit values), one
    pixel apart, the sum and the sum of squares of its samples (`shape` of them, every `stride`
    pixels), flattened. Every sum is of integers far under 2**53: exact, whichever way it is taken."""
    if stride > TABLE_STRIDE_MOST:
        return _viewed_sums(area, stride, shape, count)
    th, tw = shape
    ny, nx = count
    s = stride
    # a summed-area table of `area` and of its squares kept per phase of the stride: each entry the
    # sum of the samples `stride` apart up to it, `stride` zeros ahead of the first; four entries a window
    height, width = area.shape
    hp, wp = -(-height // s) * s + s, -(-width // s) * s + s
    table = np.zeros((2, hp, wp))
    table[0, s:s + height, s:s + width] = area
    np.multiply(area, area, out=table[1, s:s + height, s:s + width])
    phased = table.reshape(2, hp // s, s, wp // s, s)
    np.add.accumulate(phased, axis=1, out=phased)
    np.add.accumulate(phased, axis=3, out=phased)
    down, across = th * s, tw * s
    sums = (table[:, down:down + ny, across:across + nx] - table[:, :ny, across:across + nx]
            - table[:, down:down + ny, :nx] + table[:, :ny, :nx])
    return sums[0].reshape(-1), sums[1].reshape(-1)


def _viewed_sums(area: np.ndarray, stride: int, shape: tuple[int, int],
                 count: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`_window_sums` for a wide stride: each row's sums over the template's width at every column
    (a view over `area`, summed), then those of the template's rows for each window (a view over
    them, summed)."""
    th, tw = shape
    ny, nx = count
    out = []
    for values in (area, area * area):
        v0 = values.strides[0]
        across = np.ndarray((values.shape[0], nx, tw), np.float64, values, 0, (v0, 8, 8 * stride)).sum(axis=2)
        down = np.ndarray((ny, nx, th), np.float64, across, 0, (nx * 8, 8, nx * 8 * stride))
        out.append(down.sum(axis=2).reshape(-1))
    return out[0], out[1]


def _cross(area: np.ndarray, t: np.ndarray, stride: int, count: tuple[int, int]) -> np.ndarray:
    """Each of `count` (rows, columns) windows of `area` (one pixel apart, sampled every `stride`
    pixels) times template `t`, summed, flattened. Each row of `area`'s samples under the
    template's width at every column copied out once (`rows`: [r, x, l] = area[r, x + l * stride]),
    then for each template row k the rows under it (a view of `rows`, one block a k) times that
    row of `t`: one matrix product a template row (each small enough for BLAS to keep to one
    thread), summed over k."""
    th, tw = t.shape
    ny, nx = count
    rows = np.ndarray((area.shape[0], nx, tw), np.float64, area, 0, (area.strides[0], 8, 8 * stride)).copy()
    under = np.ndarray((th, ny * nx, tw), np.float64, rows, 0, (nx * tw * 8 * stride, tw * 8, 8))
    summed: np.ndarray = np.matmul(under, t[:, :, None]).sum(axis=0)
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
    x0, x1 = max(0, around[0] - reach), min(width - w, around[0] + reach) + 1
    y0, y1 = max(0, around[1] - reach), min(height - h, around[1] + reach) + 1
    if x1 <= x0 or y1 <= y0:
        return None
    th, tw = template.shape
    n, ny, nx = th * tw, y1 - y0, x1 - x0
    area = small[y0:y1 - 1 + h, x0:x1 - 1 + w].astype(np.float64)
    t = template.astype(np.float64)
    # float64 sums of integers under 2**53: exact in any order. The windows are never copied out
    # (issue 75: the copy was most of a match's cost), only the area's rows once (_cross, one
    # product a template row); the windows' sums and sums of squares from summed-area tables
    # (_window_sums)
    dot = _cross(area, t, stride, (ny, nx))
    sw, sq = _window_sums(area, stride, (th, tw), (ny, nx))
    st = float(t.sum())
    cov = n * dot - sw * st
    var_w = n * sq - sw * sw
    var_t = n * float((t * t).sum()) - st * st
    denom = np.sqrt(var_w * var_t)
    # cov / denom where denom > 0, else 0.0 (the windows and templates flat): divided only there
    scores = np.divide(cov, denom, out=np.zeros_like(cov), where=denom > 0).reshape(ny, nx)
    iy, ix = divmod(int(np.argmax(scores)), nx)
    best = float(scores[iy, ix])

    def refine(lo: float, mid: float, hi: float) -> float:
        curve = lo - 2 * mid + hi
        return max(-0.5, min(0.5, 0.5 * (lo - hi) / curve)) if curve < 0 else 0.0

    dx = refine(float(scores[iy, ix - 1]), best, float(scores[iy, ix + 1])) if 0 < ix < nx - 1 else 0.0
    dy = refine(float(scores[iy - 1, ix]), best, float(scores[iy + 1, ix])) if 0 < iy < ny - 1 else 0.0
    return x0 + ix + dx, y0 + iy + dy, best
