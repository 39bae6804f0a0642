"""Per-node quotas (design/0027): no one box may take the central office's capacity from the
others. Pure: the caller passes the clock; state is per node in memory (a restart starts the
counts afresh, which only ever lets a node through, never stops a healthy one).

Three bounds: messages a second (a token bucket with a burst, so a node draining its outbox
after an outage is let through), bytes a day, and distinct retained topics. What is over is
refused: the caller keeps it as a rejected message and a `quota_exceeded` finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from central.i18n import N_
from storage.msg import Msg

DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class Limits:
    messages_per_second: float = 500.0
    burst: int = 100_000            # messages a node may send at once (an outbox drain)
    bytes_per_day: int = 2 * 1024**3
    retained_topics: int = 1024


@dataclass(slots=True)
class _Node:
    tokens: float
    at_us: int
    day: int = -1
    bytes: int = 0
    topics: set[str] = field(default_factory=set)


class Quotas:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.nodes: dict[str, _Node] = {}

    def admit(self, node: str, topic: str, size: int, retained: bool, now_us: int) -> str | None:
        """None if the message may be stored, else which quota it breaks ("rate: ...", "bytes: ...",
        "topics: ...", the part before the colon naming the quota)."""
        lim = self.limits
        n = self.nodes.get(node)
        if n is None:
            n = self.nodes[node] = _Node(tokens=float(lim.burst), at_us=now_us, day=now_us // DAY_US)
        elif now_us != n.at_us:  # the messages of one batch share its clock: the refill is once a batch
            n.tokens = min(float(lim.burst), n.tokens + max(0, now_us - n.at_us) / 1e6 * lim.messages_per_second)
            n.at_us = now_us
            day = now_us // DAY_US
            if day != n.day:
                n.day, n.bytes = day, 0
        if n.tokens < 1:
            return Msg(N_("rate: more than {rate} messages a second (burst {burst})"), rate=f"{lim.messages_per_second:g}",
                       burst=lim.burst)
        if n.bytes + size > lim.bytes_per_day:
            return Msg(N_("bytes: more than {most} bytes today"), most=lim.bytes_per_day)
        if retained and topic not in n.topics:
            if len(n.topics) >= lim.retained_topics:
                return Msg(N_("topics: more than {most} retained topics"), most=lim.retained_topics)
            n.topics.add(topic)
        n.tokens -= 1
        n.bytes += size
        return None


# what a node's birth allows, counted in the store across instances (issue 43, item 3, part) -------
DRAIN_US = 600_000_000   # a durable message this much older than its receipt is an outbox draining
HEADROOM = 2             # times the birth's own rate
FLOOR = 20               # messages a minute any node may send (a node with no camera: heads, audit)
MINUTE_US = 60_000_000


def birth_budget(birth: dict[str, Any] | None) -> tuple[int, str]:
    """(durable messages a minute, why) a node may send by what its birth says it is: each
    enabled camera's destructions (one a segment, `cadence.segment_s`, 60 s when not said) and
    one alarm, a chain head and a request's burst of audit records, HEADROOM times, plus FLOOR."""
    b = birth if isinstance(birth, dict) else {}
    cams = [c for c in b.get("cameras") or [] if isinstance(c, dict) and c.get("enabled") is not False]
    cadence = b.get("cadence")
    cad: dict[str, Any] = cadence if isinstance(cadence, dict) else {}
    seg = cad.get("segment_s")
    seg = min(3600.0, max(2.0, float(seg))) if isinstance(seg, (int, float)) and not isinstance(seg, bool) else 60.0
    per_minute = len(cams) * (60 / seg + 1) + 10
    return int(HEADROOM * per_minute) + FLOOR, Msg(N_("{cameras} cameras, segments of {seconds} s"),
                                                   cameras=len(cams), seconds=f"{seg:g}")


def fresh_counts(durable: list[tuple[Any, ...]], received_us: int) -> dict[str, int]:
    """Durable rows (node, seq, kind, ts_us, ...) of one batch a node sent lately (not its outbox
    draining after an outage: that comes as fast as the link allows and is lawful), per node."""
    out: dict[str, int] = {}
    for row in durable:
        if received_us - row[3] < DRAIN_US:
            out[row[0]] = out.get(row[0], 0) + 1
    return out
