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


def _kept(at: int, samples: int, stride: int, side: int) -> tuple[int, int] | None:
    """The template's samples (first, last), one way, that lie in a picture `side` pixels across
    with the region at `at`; None where fewer than half of them do."""
    first = max(0, -(at // stride))                       # the first sample at or after the picture's start
    last = min(samples - 1, (side - 1 - at) // stride)    # the last before its end
    return (first, last) if 2 * (last - first + 1) >= samples else None


def match_cut(small: np.ndarray, template: np.ndarray, stride: int, guess: tuple[int, int],
              reach: int) -> tuple[float, float, float] | None:
    """`match` of a region's `template` (sampled every `stride` pixels) for a window that reaches the
    picture's edge (design/0558): each place (top-left) in reach of `guess` is scored by the part of
    the template that lies in the picture there (half of its samples each way at least, `_kept`), so
    a region walking partly out of the picture is followed rather than held at the edge and lost.
    The places with the same part kept are matched together (exact sums, as `match`); the best score
    wins, the earlier group on a tie. None: nowhere."""
    height, width = small.shape
    th, tw = template.shape
    s = stride

    def groups(lo: int, hi: int, samples: int, side: int) -> list[tuple[int, int, tuple[int, int]]]:
        out: list[tuple[int, int, tuple[int, int]]] = []   # (first place, last place, samples kept)
        for at in range(lo, hi + 1):
            kept = _kept(at, samples, s, side)
            if kept is None:
                continue
            if out and out[-1][2] == kept and out[-1][1] == at - 1:
                out[-1] = (out[-1][0], at, kept)
            else:
                out.append((at, at, kept))
        return out

    best: tuple[float, float, float] | None = None
    for x0, x1, (c0, c1) in groups(guess[0] - reach, guess[0] + reach, tw, width):
        for y0, y1, (r0, r1) in groups(guess[1] - reach, guess[1] + reach, th, height):
            part = template[r0:r1 + 1, c0:c1 + 1]
            size = ((c1 - c0) * s + 1, (r1 - r0) * s + 1)
            ax, ay = x0 + c0 * s, y0 + r0 * s                # the part's top-left at the group's first place
            area = small[ay:y1 + r0 * s + size[1], ax:x1 + c0 * s + size[0]]
            found = match(area, part, s, size, (0, 0), max(x1 - x0, y1 - y0))
            if found is not None and (best is None or found[2] > best[2]):
                best = (found[0] + x0, found[1] + y0, found[2])
    return best
