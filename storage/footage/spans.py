"""Time covered, counted once: the union of intervals (design/0115). Pure: no I/O.

A camera's time may be covered twice: by its box and by the standby that stood in for it, or by
what a box recorded and what it fetched back. The office's figures and a box's own say how much
time is covered, by union, never by adding the segments up; each covered stretch says by what
kind (the first in KIND_ORDER that covers it)."""

from __future__ import annotations

from collections.abc import Iterable

Span = tuple[int, int]
KIND_ORDER = ("live", "backfilled", "standby")  # a stretch both recorded live and fetched back counts as live


def union(spans: Iterable[Span]) -> list[Span]:
    """The intervals merged: sorted, none overlapping or touching."""
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def covered_us(spans: Iterable[Span]) -> int:
    return sum(b - a for a, b in union(spans))


def holes(from_us: int, to_us: int, spans: Iterable[Span], longer_than_us: int = 0) -> list[Span]:
    """The stretches of [from, to) no interval covers, longer than `longer_than_us`."""
    out, at = [], from_us
    for a, b in union(spans):
        if b <= at:
            continue
        if a >= to_us:
            break
        if a > at:
            out.append((at, min(a, to_us)))
        at = max(at, b)
    if at < to_us:
        out.append((at, to_us))
    return [h for h in out if h[1] - h[0] > longer_than_us]


def by_kind(spans: Iterable[tuple[int, int, str]]) -> dict[str, int]:
    """Microseconds covered by each kind, each instant once: by the first of KIND_ORDER (then
    any other kind, by name) that covers it. The sum is the union's length."""
    spans = list(spans)
    kinds = sorted({k for _a, _b, k in spans}, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else 99, k))
    out: dict[str, int] = {}
    taken: list[Span] = []
    for kind in kinds:
        mine = union((a, b) for a, b, k in spans if k == kind)
        fresh = sum(sum(h[1] - h[0] for h in holes(a, b, taken)) for a, b in mine)
        out[kind] = fresh
        taken = union([*taken, *mine])
    return out
