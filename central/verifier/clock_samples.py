"""The office's side of the time exchange (issue 73, design/0310): I/O over the store (its statements
central/store/clocks.py's), every judgement central/checks/clock.py's and storage/time/interval.py's.

- `asked`: the nonces of the time requests just sent (central/ingest.py TimeCast), kept with the
  office's time of sending, a node each, for ASK_KEEP_US.
- `take`: the nodes' answers ingest kept (the `clock` topic's newest, in `retained`) made clock
  samples when they answer a nonce the office sent that node and verify with its key, not revoked
  when heard (central/keys/keystanding.py); the nodes that got one (their verdicts waiting on a
  bound are judged again: central/verifier/rejudge.py).
- `line`: a node's samples around some readings of its clock, as a ClockLine.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from central.checks import clock, coverage, verdicts, verify
from central.store import clocks
from storage.time import interval
from storage.time.readings import readings as readings_of

log = logging.getLogger(__name__)
ASK_KEEP_US = 10 * 60_000_000  # a question older than this is forgotten (its answer is no sample after ASK_LIFE_US)
AROUND_US = 2 * 86_400_000_000  # the samples read around each reading of the node's clock (and the stretch holding them)


def asked(db: Any, sent: Iterable[tuple[str, str, int]], now_us: int) -> None:
    """The (node, nonce, sent_us) of requests just sent; the questions too old to answer forgotten."""
    clocks.ask(db, list(sent))
    clocks.forget_asks(db, now_us - ASK_KEEP_US)


def take(db: Any, since_us: int, key_of: Callable[[str, int], str | None]) -> tuple[int, set[str]]:
    """The answers heard after ``since_us`` made samples (``key_of``: the node's key the office trusts
    at the answer's receipt, None: none or revoked). Returns (the newest receipt read, the nodes
    that got a sample)."""
    newest, got = since_us, set()
    for node, received_us, payload in clocks.answers(db, since_us):
        newest = max(newest, received_us)
        try:
            body = json.loads(payload)
        except ValueError:
            continue
        nonce = body.get("nonce") if isinstance(body, dict) else None
        if not isinstance(nonce, str):
            continue
        s = clock.sample_of(body, clocks.asked_at(db, node, nonce), received_us, key_of(node, received_us))
        if s is None:
            continue
        clocks.add_sample(db, node, s.sent_us, s.node_us, s.received_us, s.mono_us, s.boot)
        clocks.answered(db, node, nonce)  # one answer a question
        got.add(node)
    return newest, got


def take_for(store: Any, standing: Callable[[str, str | None], Any], since_us: int) -> tuple[int, set[str]]:
    """`take` for the nodes ``store`` leases to this instance, each with the key the verifier took
    from its births (nodes.public_key), unless the office had revoked it when the answer came
    (``standing``: central/keys/keystanding.py's)."""
    def key_of(node: str, received_us: int) -> str | None:
        if not store.lease(node):
            return None
        key = clocks.node_key(store.db, node)
        if not key or standing(node, key).revoked_by(received_us):
            return None  # no key the office took, or one it had revoked when the answer came
        return str(key)
    return take(store.db, since_us, key_of)


def readings(msgs: list[Any], bodies: list[Any]) -> list[int]:
    """The readings of the node's clock a page's destructions are judged at: each segment's end as
    stamped and its destruction (central/checks/verdicts.py `recorded`, `destroyed_at`;
    storage/time/readings.py), as the verdict reads it: a destruction stamped after its message, at the
    message's stamp (verify.bounded, design/0531)."""
    out: list[int] = []
    for (_seq, kind, _r, _p), m in zip(msgs, bodies):
        if kind == "retention" and isinstance(m, dict):
            for d in verify.destructions(m):
                try:
                    out += readings_of(verify.bounded(d, m.get("ts_us"))).marks()
                except (KeyError, TypeError, ValueError):
                    continue
    return out


def line(db: Any, node: str, readings: Iterable[int], kept: Any = None) -> interval.ClockLine:
    """The node's samples that can bound its clock at ``readings`` (its own clock's): those read
    within AROUND_US of any, every sample the office heard between the first and last of them, and
    one more either side (a stretch that spans an outage); where none was read within AROUND_US of a
    run of readings, the samples that bracket it, however far (the one read last below it, the one
    read first above it, and every sample sent between them: issue 86 item 2, design/0367). ``kept``:
    the verifier's central/verifier/clock_lines.py `Lines` (the pairs of the node's last line are not
    worked out again: design/0405; the node's last line served again or extended: design/0523), None:
    none kept."""
    marks = sorted(set(readings))
    if not marks:
        return interval.ClockLine([])
    spans: list[tuple[int, int]] = []
    for r in marks:
        if spans and r - AROUND_US <= spans[-1][1]:
            spans[-1] = (spans[-1][0], r + AROUND_US)
        else:
            spans.append((r - AROUND_US, r + AROUND_US))
    rows: dict[int, tuple[Any, ...]] = {}
    for lo, hi in spans:
        got = clocks.sent_between_readings(db, node, lo, hi)
        if got is None:  # an outage longer than AROUND_US: the samples either side of it
            below, above = clocks.read_around(db, node, lo, hi)
            ends = [x for x in (below, above) if x is not None]
            if not ends:
                continue
            got = (min(ends), max(ends))
        before, after = clocks.sent_before(db, node, got[0]), clocks.sent_after(db, node, got[1])
        first = before if before is not None else got[0]
        last = after if after is not None else got[1]
        for row in clocks.samples(db, node, first, last):
            rows[row[0]] = row
    if kept is None:
        return interval.ClockLine([interval.Sample(r[0], r[1], r[2], r[3] or "", r[4]) for r in rows.values()])
    made: interval.ClockLine = kept.line(node, [rows[k] for k in sorted(rows)])  # kept, extended or built (0523)
    return made


# pruning (design/0344): what no verdict can need any more, in batches ---------------------------------
PRUNE_BATCH = 2000  # samples deleted a transaction: a short write lock each


def waiting_reading(db: Any, node: str) -> int | None:
    """The lowest reading of the node's clock among its destructions still waiting for a later
    sample ("unverified", destroyed at most AROUND_US before its newest sample's reading:
    central/verifier/rejudge.py judges them again when one comes): their recording and destruction."""
    newest = clocks.newest_reading(db, node)
    if newest is None:
        return None
    waiting = clocks.waiting_marks(db, node, newest - AROUND_US)
    marks = [x for x in waiting if isinstance(x, int)]
    return min(marks) if marks else None


def keep_from(db: Any, node: str, horizon_us: int, lowest: int | None) -> int | None:
    """central/checks/clock.py `keep_from` in the store: a few index reads, never the node's samples."""
    newest = clocks.newest_reading(db, node)
    if newest is None:
        return None
    low = (newest if lowest is None else min(lowest, newest)) - AROUND_US
    firsts = [clocks.first_sent_from(db, node, horizon_us), clocks.first_read_from(db, node, low)]
    first = min(f for f in firsts if f is not None)  # the newest one is at least one of them
    prev = clocks.sent_before(db, node, first)
    if prev is None:
        return None
    return int(prev) if clocks.any_before(db, node, prev) else None


def prune(store: Any, node: str, horizon_us: int, lowest: int | None, batch: int = PRUNE_BATCH) -> int:
    """The node's samples no verdict can need deleted (``lowest``: the lowest reading of its clock
    a verdict may still be given at, with `waiting_reading`'s), ``batch`` a transaction; how many."""
    with store.writing(durable=False):
        marks = [x for x in (lowest, waiting_reading(store.db, node)) if x is not None]
        cut = keep_from(store.db, node, horizon_us, min(marks) if marks else None)
    gone = 0
    while cut is not None:
        with store.writing(durable=False):
            n = clocks.prune(store.db, node, cut, batch)
        gone += n
        if n < batch:
            break
    return gone


def prune_nodes(store: Any, now_us: int, births: Callable[[str], list[tuple[int, dict[str, Any]]]],
                held: Callable[[Any, str], int | None]) -> int:
    """`prune` for every node ``store`` leases to this instance, its horizon from its births'
    longest maximum (``births``: (ts_us, rules) of a node), ``held`` its lowest reading still held
    (central/verifier/retention_watch.py `oldest_held`). Returns how many went."""
    gone = 0
    for node in clocks.node_names(store.db):
        if not store.lease(node):
            continue
        horizon = clock.horizon(now_us, verdicts.longest_max(births(node), None), coverage.MAX_DAYS)
        with store.writing(durable=False):
            lowest = held(store.db, node)
        gone += prune(store, node, horizon, lowest)
    if gone:
        log.info("clock samples: %d no verdict can need any more forgotten", gone)
    return gone
