"""The clock lines the verifier keeps per node (issue 86 item 6, design/0405): what two consecutive
samples of a node showed (storage/time/interval.py `ClockLine`'s pairs), kept from the node's last
line, so the next line of that node (its next page, its re-judging when a sample comes, the hourly
retention watch) works out only the pairs it has not seen. Pure: no clock, no I/O.

A line is still read from the store each time (its samples: a few index reads and the rows), and
is the line the same samples always made: the memo holds what the pairs showed, never a verdict. The
memory is bounded: at most KEEP_PAIRS pairs over every node, the nodes used longest ago dropped
first (a sample a minute, 4 days around a page's readings: about 12,000 pairs a node).

Each node's last line is kept too, with the rows it was made of (design/0523, issue 86's "kept per
node and extended"): the same rows again (a page's line, then the watch's) are that line; the same
rows and later ones (a sample heard since) are that line extended by the new pairs alone; any other
rows (a sample pruned or heard late, another stretch of readings) a line built with the memo. At
most KEEP_PAIRS samples in the kept lines, the nodes used longest ago dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from storage.time import interval

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
        # per node, its last line and the store's rows it was made of (design/0523): the same rows are
        # that line again, the same rows and later ones that line extended (`ClockLine.extended`)
        self.lines: OrderedDict[str, tuple[list[tuple[Any, ...]], interval.ClockLine]] = OrderedDict()
        self.samples = 0   # samples in the lines kept (at most ``most``, the nodes used longest ago dropped)
        self.reused = 0    # lines asked for that were the node's last line again
        self.extended = 0  # lines made by extending the node's last line
        self.out: interval.ClockLine | None = None  # the line handed out last (idle once the next is asked for)

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
        was = self.lines.pop(node, None)
        self.samples -= len(was[0]) if was is not None else 0

    def line(self, node: str, rows: list[tuple[Any, ...]]) -> interval.ClockLine:
        """The node's line of the store's sample rows ``rows`` (sent_us, node_us, received_us, boot,
        mono_us; by sent_us, each once): its last line when the rows are the same, that line extended
        when they are the same and later ones (a new sample heard), else built with the node's memo.
        Always the line ``ClockLine`` makes of those samples (tests/test_central_clock_lines.py)."""
        if self.out is not None:
            self.out.idle()  # its reader is done: a kept line holds no page's readings
        was = self.lines.pop(node, None)
        made: interval.ClockLine | None = None
        if was is not None:
            self.samples -= len(was[0])
            old, line = was
            if rows == old:
                made = line
                self.reused += 1
            elif len(rows) > len(old) and rows[:len(old)] == old:
                made = line.extended(_samples(rows[len(old):]))
                self.extended += made is not None
        if made is None:
            memo = self.memo(node)
            before = len(memo)
            made = interval.ClockLine(_samples(rows), memo=memo)
            self.count(made, before)
        self.lines[node] = (rows, made)
        self.samples += len(rows)
        while self.samples > self.most and len(self.lines) > 1:
            _node, (gone, _line) = self.lines.popitem(last=False)
            self.samples -= len(gone)
        self.out = made
        return made


def _samples(rows: list[tuple[Any, ...]]) -> list[interval.Sample]:
    return [interval.Sample(r[0], r[1], r[2], r[3] or "", r[4]) for r in rows]
