"""The face follower's match alone (storage/redact/ncc.py `match`; issue 75, "faces mode <= 1.0
core-second a second of 1080p20"): its CPU a call over faces 12-48 px in the follower's picture
(a 1080p frame scaled down to 960x540, facetrack.py `factor_for`), against the implementation
before issue 75's third cut, kept below as the reference (`reference_match`: the cross term a
matrix product over a strided view of the area, the windows' sums from strided views).

    .venv/bin/python -m bench.ncc_match [--calls 300] [--rounds 7] [--sides 12,16,20,24,32,40,48]

Each side: a template started on a textured picture as the follower starts one (track.py
`start`), matched `--calls` times around a place 3 px right and 2 px up of it with the reach
the follower gives a face that size (track.py `advance` with facetrack.py FACE_SEARCH); the
old and the new alternate round by round; each figure is the least of `--rounds` rounds of the
process's CPU (every thread's: a BLAS that spread a product over threads would show), per call.
Before timing, every case's result is checked to be the same tuple of floats from both (and
2,000 places, sizes and reaches at random on the picture, and 2,000 on one half flat): the
bench refuses to print a figure otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

from bench.common import command_line, environment, log
from storage.redact import ncc, track
from storage.redact.facetrack import FACE_SEARCH

import numpy as np

Match = Callable[[np.ndarray, np.ndarray, int, tuple[int, int], tuple[int, int], int],
                 "tuple[float, float, float] | None"]


def _reference_window_sums(area: np.ndarray, stride: int, shape: tuple[int, int],
                           count: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
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


def _reference_cross(area: np.ndarray, t: np.ndarray, stride: int, count: tuple[int, int]) -> np.ndarray:
    th, tw = t.shape
    ny, nx = count
    a0, a1 = area.strides
    rows = np.lib.stride_tricks.as_strided(area, (area.shape[0], nx, tw), (a0, a1, a1 * stride), writeable=False)
    product = np.matmul(rows, t.T)
    p0, p1, p2 = product.strides
    diagonal = np.lib.stride_tricks.as_strided(product, (ny, nx, th), (p0, p1, p0 * stride + p2), writeable=False)
    summed: np.ndarray = diagonal.sum(axis=2)
    return summed.reshape(-1)


def reference_match(small: np.ndarray, template: np.ndarray, stride: int, size: tuple[int, int],
                    around: tuple[int, int], reach: int) -> tuple[float, float, float] | None:
    """ncc.match as it was before issue 75's third cut (main at 78918312), word for word."""
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
    dot = _reference_cross(area, t, stride, (ny, nx))
    sw, sq = _reference_window_sums(area, stride, (th, tw), (ny, nx))
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


def picture(seed: int = 75) -> np.ndarray:
    """A textured 960x540 8-bit picture (noise smoothed over 5 px each way): a match has a peak."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (540 + 4, 960 + 4)).astype(np.float64)
    across = sum(noise[:, k:k + 960] for k in range(5)) / 5
    smooth = sum(across[k:k + 540] for k in range(5)) / 5
    return np.clip(smooth, 0, 255).astype(np.uint8)


def half_flat(seed: int = 75) -> np.ndarray:
    """`picture` with its left half one grey: windows there have no spread and score 0."""
    small = picture(seed)
    small[:, :480] = 90
    return small


def reach_for(side: int) -> int:
    """The reach the follower gives a face `side` pixels a side (track.py `advance`)."""
    return max(FACE_SEARCH, min(track.SEARCH_MOST, round(track.SEARCH_SHARE * side)))


def check_same(small: np.ndarray, cases: int = 2000, seed: int = 75) -> int:
    """Both matches over random places, sizes and reaches (edges included): how many compared."""
    rng = np.random.default_rng(seed)
    height, width = small.shape
    compared = 0
    for _ in range(cases):
        side = (int(rng.integers(4, 100)), int(rng.integers(4, 100)))
        box = (int(rng.integers(0, width - 4)), int(rng.integers(0, height - 4)), *side)
        tr = track.start(small, box, 1)
        if tr is None:
            continue
        around = (box[0] + int(rng.integers(-20, 21)), box[1] + int(rng.integers(-20, 21)))
        reach = int(rng.integers(1, 17))
        args = (small, tr.template, tr.stride, tr.size, around, reach)
        want, got = reference_match(*args), ncc.match(*args)
        if want != got:
            raise SystemExit(f"not the same: {box} around {around} reach {reach}: {want} != {got}")
        compared += 1
    return compared


def timed(fn: Match, args: tuple, calls: int) -> float:  # type: ignore[type-arg]
    start = time.process_time()
    for _ in range(calls):
        fn(*args)
    return (time.process_time() - start) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--sides", default="12,16,20,24,32,40,48")
    args = ap.parse_args()
    small = picture()
    compared = check_same(small) + check_same(half_flat())
    log(f"the same (x, y, score) from both, to the last bit: {compared} random cases (on the picture and on one "
        "half flat), and every case below")
    log("| face (follower px) | template | stride | reach | before ms/call | after ms/call | before / after |")
    log("|---|---|---|---|---|---|---|")
    ratios = []
    for side in (int(v) for v in args.sides.split(",")):
        tr = track.start(small, (400, 250, side, side), 1)
        assert tr is not None
        call = (small, tr.template, tr.stride, tr.size, (403, 248), reach_for(side))
        if reference_match(*call) != ncc.match(*call):
            raise SystemExit(f"not the same at {side} px")
        old, new = [], []
        for _ in range(args.rounds):
            old.append(timed(reference_match, call, args.calls))
            new.append(timed(ncc.match, call, args.calls))
        ratios.append(min(old) / min(new))
        th, tw = tr.template.shape
        log(f"| {side} | {tw}x{th} | {tr.stride} | {call[5]} | {1e3 * min(old):.3f} | {1e3 * min(new):.3f} "
            f"| {ratios[-1]:.2f} |")
    log(f"before / after, the geometric mean over the sides: {statistics.geometric_mean(ratios):.2f}")
    log(f"command: {command_line('bench.ncc_match')}")
    log(f"environment: {environment()}")


if __name__ == "__main__":
    main()
