"""The evidence the verifier gathers for the retention verdicts (central/checks/verdicts.py, design/0122),
and the watch it runs on the office's clock: footage kept past its maximum, a node whose
retention pass stopped. I/O over the store's connection (the verifier's transaction); every
judgement is central/checks/verdicts.py's.

Per footage message: its range's stamp, the node's clock offset as the office saw it then (the
messages received with it), its fetched-later footage, beside the receipt footage_heard keeps
(written with its pass's conclusions, central/verifier/evidence.py; a range named again keeps its first
word, what it carried filled in).
Per destruction: the range it is judged on (`heard`), the newest segment id destroyed and when
the office heard it (written with its pass's conclusions, central/verifier/evidence.py). The watch reads,
per node, the oldest range not destroyed past and the newest range, the rules of its births and
the holds its audit records leave in force. Its statements are central/store/footage.py's (issue 80).
"""

from __future__ import annotations

import json
from typing import Any

from central.checks import verdicts, verify
from central.store import footage
from central.verifier import clock_samples

SAMPLES = 2000  # messages after a footage message read for the node's offset (and the node's newest)
BEFORE = 20     # of the SAMPLES before it, those received before the window that tell the offset
HOLD_ACTIONS = ("hold.add", "hold.release", "hold.reject", "hold.expired", "hold.lapsed")


def read_offset(db: Any, node: str, seq: int, received_us: int) -> int | None:
    """The node's clock offset when footage message ``seq`` was received, from the messages
    around it (three reads; central/verifier/evidence.py reads a page's at once and applies `offset_of`)."""
    after = footage.after(db, node, seq, SAMPLES) + footage.newest(db, node)
    # the last few received before a backlog that came with it (a scan of SAMPLES at most)
    before = footage.before(db, node, seq, SAMPLES, received_us - verdicts.OFFSET_WINDOW_US, BEFORE)
    return verdicts.offset_seen([(r[0], r[1]) for r in before], [(r[0], r[1]) for r in after], received_us)


def offset_of(before: list[tuple[int, int]], after: list[tuple[int, int]], received_us: int) -> int | None:
    """`read_offset` of (ts_us, received_us) rows read already: ``before`` the SAMPLES messages
    before the footage message, newest first; ``after`` it and those after, and the node's newest."""
    cut = received_us - verdicts.OFFSET_WINDOW_US
    return verdicts.offset_seen([r for r in before if r[1] < cut][:BEFORE], after, received_us)


def evidence_row(node: str, m: dict[str, Any], offset: int | None) -> tuple[Any, ...]:
    """A footage message's footage_evidence row: its range's stamp, the offset, what it says was carried."""
    carried = verdicts.carried_spans(m.get("spans"))
    ts = m.get("ts_us")
    return (node, m["first_id"], ts if isinstance(ts, int) else None, offset, _int(m.get("from_us")),
            _int(m.get("to_us")), json.dumps(carried, sort_keys=True) if carried else None)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def range_of(row: Any) -> verdicts.Range:
    """A row of central/store/footage.py's RANGE as the verdicts take it."""
    carried = json.loads(row[5]) if row[5] else {}
    return verdicts.Range(row[0], row[1], verdicts.Heard(row[2], row[3], row[4], carried), row[6], row[7])


def heard(db: Any, node: str, segment_id: Any) -> tuple[verdicts.Range | None, int | None]:
    """(the range that names the segment, the lowest segment id the node named). The node's ranges
    follow each other: the one starting last at or below the id is the only one that can hold it
    (one index probe, however many the node sent)."""
    first = footage.lowest(db, node)
    return (probe(db, node, segment_id) if isinstance(segment_id, int) else None), first


def probe(db: Any, node: str, segment_id: int) -> verdicts.Range | None:
    """The range that names the segment, if any (`heard` without the lowest id)."""
    row = footage.range_at(db, node, segment_id)
    return range_of(row) if row is not None and row[1] >= segment_id else None


# a destruction's word (the newest segment destroyed, the office's receipt of the newest destruction)
# goes into retention_heard with the rest of its pass's conclusions: central/verifier/evidence.py


def watch(db: Any, node: str, births: list[tuple[int, dict[str, Any]]], kept: Any = None) -> list[verify.Finding]:
    """Footage kept past its maximum, and a stopped retention pass, of one node whose messages are
    all verified (a backlog being verified may hold the destructions); ``kept``: the verifier's
    clock lines (central/verifier/clock_lines.py)."""
    if footage.backlog(db, node):
        return []
    past, destroyed_us = footage.destroyed(db, node)
    newest = footage.range_newest(db, node)
    holds = verdicts.holds_in_force(footage.holds(db, node, HOLD_ACTIONS))
    oldest, after = None, -(1 << 62)
    for _ in range(len(holds) + 1):  # past the ranges a hold keeps: the oldest one no hold covers
        row = footage.range_kept(db, node, past or 0, after)
        oldest = None if row is None else range_of(row)
        end = None if oldest is None else verdicts.holding(oldest, holds)
        if end is None or end <= after:
            break
        after = end
    if oldest is None or newest is None:
        return []
    longest = verdicts.longest_max(births, oldest.from_us)
    last = range_of(newest)
    # the proof it still held them: the node's newest message of any durable kind (an alarm, an audit
    # record, a state), queued after every footage message in its outbox's order (issue 86 item 4, design/0368)
    top = footage.newest(db, node)
    if top and isinstance(top[0][0], int) and not isinstance(top[0][0], bool) and (
            not isinstance(last.heard.stamp_us, int) or top[0][0] > last.heard.stamp_us):
        last = verdicts.Range(last.first_id, last.last_id, verdicts.Heard(top[0][1], top[0][0]), last.from_us,
                              last.to_us)
    line = clock_samples.line(db, node, [x for x in (oldest.to_us, last.heard.stamp_us) if isinstance(x, int)], kept)
    return [f for f in (verdicts.kept(oldest, last, longest, holds, line),
                        verdicts.stopped(oldest, last, longest, holds, destroyed_us, line)) if f is not None]


def oldest_held(db: Any, node: str) -> int | None:
    """The lowest reading of the node's clock the watch or a destruction still to come may be judged
    at (its clock samples around it are kept: central/verifier/clock_samples.py `prune`): the
    oldest footage the office knows it holds (not reported destroyed) and the start of each hold
    in force (held footage outlives the newest destruction)."""
    top = footage.destroyed(db, node)[0]
    held = footage.held(db, node, top if top is not None else 0)
    holds = verdicts.holds_in_force(footage.holds(db, node, HOLD_ACTIONS))
    marks = [x for x in (*held, *(a for a, _b in holds)) if isinstance(x, int)]
    return min(marks) if marks else None
