"""Which camera runs where after a recorder worker dies (design/0063): the pure decision.

A worker that dies takes every camera it carries with it. Which camera's stream killed it
cannot be told from outside (a crash in FFmpeg's decoder leaves no word), so the cameras of a
crashed worker are *suspects*: they are dealt at once into at most `split` quarantine groups,
each group a worker of its own, so the shared workers never carry a suspect again and the next
crash narrows the search. A group of several that crashes again is split again; a camera that
crashes alone is the culprit. Every quarantined camera that has not crashed for `CLEAN_US` (an
hour) goes back to the shared workers; one that was only a suspect is not moved back sooner,
because each move is a reconnect and so a short gap in its footage.

Plain data in, plain data out; edged/daemon/recording/workers.py does the processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

CLEAN_US = 3600 * 1_000_000  # a quarantined camera returns after this long without a crash
SPLIT = 4                    # a crash's suspects go to at most this many workers of their own


@dataclass(frozen=True)
class Held:
    """One quarantined camera."""

    group: int        # its quarantine worker (cameras of one group share one)
    since_us: int     # its group's last crash: the clean hour counts from here
    culprit: bool     # it crashed a worker it had to itself


@dataclass(frozen=True)
class Quarantine:
    held: dict[str, Held] = field(default_factory=dict)
    crashes: int = 0      # crashes seen (numbers them)
    groups: int = 0       # group numbers given out

    def members(self, group: int) -> list[str]:
        return sorted(c for c, h in self.held.items() if h.group == group)

    def placement(self) -> dict[int, list[str]]:
        """Each quarantine group and its cameras."""
        out: dict[int, list[str]] = {}
        for cam in sorted(self.held):
            out.setdefault(self.held[cam].group, []).append(cam)
        return out


def after_crash(q: Quarantine, crashed: frozenset[str] | set[str], now_us: int, split: int = SPLIT) -> Quarantine:
    """The quarantine after a worker carrying `crashed` died at `now_us`."""
    cams = sorted(crashed)
    if not cams:
        return q
    crash = q.crashes + 1
    held = dict(q.held)
    if len(cams) == 1:  # alone in its worker: the culprit; it stays in (or gets) a worker of its own
        cam = cams[0]
        before = held.get(cam)
        group = before.group if before is not None else q.groups + 1
        held[cam] = Held(group, now_us, True)
        return Quarantine(held, crash, max(q.groups, group))
    n = min(max(split, 1), len(cams))
    for i, cam in enumerate(cams):
        held[cam] = Held(q.groups + 1 + i % n, now_us, False)
    return Quarantine(held, crash, q.groups + n)


def released(q: Quarantine, now_us: int, clean_us: int = CLEAN_US) -> tuple[Quarantine, list[str]]:
    """Cameras that have behaved for `clean_us`: the quarantine without them, and them."""
    out = sorted(c for c, h in q.held.items() if now_us - h.since_us >= clean_us)
    if not out:
        return q, []
    return replace(q, held={c: h for c, h in q.held.items() if c not in out}), out


def forget(q: Quarantine, cameras: set[str]) -> Quarantine:
    """The quarantine of only the cameras still configured and enabled."""
    if all(c in cameras for c in q.held):
        return q
    return replace(q, held={c: h for c, h in q.held.items() if c in cameras})
