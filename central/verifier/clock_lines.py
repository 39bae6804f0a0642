"""The clock lines the verifier keeps per node (issue 86 item 6, design/0405): what two consecutive
samples of a node showed (storage/time/interval.py `ClockLine`'s pairs), kept from the node's last
line, so the next line of that node (its next page, its re-judging when a sample comes, the hourly
retention watch) works out only the pairs it has not seen. Pure: no clock, no I/O.

A line is still read from the store each time (its samples: a few index reads and the rows), and
is the line the same samples always made: the memo holds what the pairs showed, never a verdict. The
memory is bounded: at most KEEP_PAIRS pairs over every node, the nodes used longest ago dropped
first (a sample a minute, 4 days around a page's readings: about 12,000 pairs a node).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

KEEP_PAIRS = 400_000  # about 0.4 KB a pair, estimated (its two samples shared with the next): ~160 MB at most


class Lines:
    """Per node, the pairs of its last clock line (a memo `ClockLine` reads and refills)."""

    def __init__(self, most: int = KEEP_PAIRS):
        self.most = most
        self.kept: OrderedDict[str, dict[Any, Any]] = OrderedDict()
        self.held = 0      # pairs in the memos (as they stood when last handed out or counted)
        self.built = 0     # lines built
        self.pairs = 0     # pairs in the lines built
        self.fresh = 0     # of those, worked out (not in the node's memo)

    def memo(self, node: str) -> dict[Any, Any]:
        """The node's memo, made the newest; the oldest nodes' dropped while over the bound."""
        got = self.kept.pop(node, None)
        self.kept[node] = got = {} if got is None else got
        while self.held > self.most and len(self.kept) > 1:
            _old, gone = self.kept.popitem(last=False)
            self.held -= len(gone)
        return got

    def count(self, line: Any, before: int) -> None:
        """A line built with a memo that held ``before`` pairs (it now holds the line's)."""
        self.built += 1
        self.pairs += len(line._pairs)
        self.fresh += line.fresh
        self.held += len(line._pairs) - before

    def forget(self, node: str) -> None:
        gone = self.kept.pop(node, None)
        self.held -= len(gone) if gone is not None else 0
