"""Per-node quotas (design/0027): no one box may take the central office's capacity from the
others. Pure: the caller passes the clock; state is per node in memory (a restart starts the
counts afresh, which only ever lets a node through, never stops a healthy one).

Three bounds: messages a second (a token bucket with a burst, so a node draining its outbox
after an outage is let through), bytes a day, and distinct retained topics. What is over is
refused: the caller keeps it as a rejected message and a `quota_exceeded` finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
            return f"rate: more than {lim.messages_per_second:g} messages a second (burst {lim.burst})"
        if n.bytes + size > lim.bytes_per_day:
            return f"bytes: more than {lim.bytes_per_day} bytes today"
        if retained and topic not in n.topics:
            if len(n.topics) >= lim.retained_topics:
                return f"topics: more than {lim.retained_topics} retained topics"
            n.topics.add(topic)
        n.tokens -= 1
        n.bytes += size
        return None
