"""Destructions judged again when the evidence they waited on arrives (issue 73, design/0310): a
destruction is "unverified" while a bound of its age is not proven (central/checks/verdicts.py
`by_office`); a clock sample heard later (central/verifier/clock_samples.py) may prove it. Each
such destruction is judged again on everything the office holds now, with the same function, so
its verdict is the one a single delivery after the sample would have had: no verdict depends on
how a backlog was cut or when the verifier ran. I/O over the verifier's transaction.

Only the destructions a new sample can settle are read again: those destroyed (by the node's
clock) since the newest sample of the node's last re-judging, up to its newest sample now,
REJUDGE_MOST a node and run (after a restart of the office: all of them once). One that stays
"unverified" keeps its camera-day's warning, in the words of its latest judging: the words a single
delivery after every sample would have had.
"""

from __future__ import annotations

import json
from typing import Any

from central.checks import node_births, quick_verdict, verdicts, verify
from central.store import clocks, destructions
from central.verifier import clock_samples, retention_watch
from central.verifier.verifier_kinds import day_of
from storage.time.readings import readings

REJUDGE_MOST = 5000  # destructions of one node judged again in one run
UNVERIFIED = "unverified"
OK = verdicts.Verdict("ok", "", verdicts.NODE, verdicts.STAMPS)  # what a quick "ok" reads as here: its verdict only


def settle(v: Any, nodes: set[str]) -> int:
    """`rejudge` each node that got a clock sample, in one transaction; returns the verdicts changed."""
    if not nodes:
        return 0
    with v.store.writing(durable=False):
        return sum(rejudge(v, node) for node in sorted(nodes))


def _unverified(db: Any, node: str, since_us: int | None) -> tuple[list[tuple[int, int, dict[str, Any], int, Any]], int | None]:
    """(seq, n, destruction, its receipt, its message's stamp) of the node's "unverified" destructions its samples may
    settle (destroyed since ``since_us`` by its clock, up to its newest sample), REJUDGE_MOST at most,
    and the newest sample's reading."""
    span = clocks.readings(db, node)
    if span is None:
        return [], None
    rows = destructions.waiting(db, node, span[0] if since_us is None else since_us, span[1], REJUDGE_MOST)
    bodies: dict[int, tuple[int, Any]] = {}
    for seq, received_us, payload in destructions.said(db, node, sorted({r[0] for r in rows})):
        try:
            bodies[seq] = (received_us, json.loads(payload))
        except ValueError:
            continue
    todo: list[tuple[int, int, dict[str, Any], int, Any]] = []
    for seq, n in rows:
        got = bodies.get(seq)
        gone = verify.destructions(got[1]) if got is not None and isinstance(got[1], dict) else []
        if got is not None and n < len(gone):
            todo.append((seq, n, gone[n], got[0], got[1].get("ts_us")))
    return todo, span[1]


def rejudge(v: Any, node: str) -> int:
    """The node's "unverified" destructions its samples may now settle, judged again (``v``: the
    Verifier, for its zone, rules and findings); returns those whose verdict changed."""
    db = v.store.db
    todo, newest = _unverified(db, node, v.settled.get(node))
    row = destructions.site_name(db, node) if todo else None
    if newest is not None:  # the next run from here: its newest sample's reading, or, when REJUDGE_MOST cut
        # this run short, the last destruction it judged (the rest wait for the node's next sample: design/0367)
        v.settled[node] = newest if len(todo) < REJUDGE_MOST else max(int(d["destroyed_us"]) for _s, _n, d, _r, _t in todo)
    if row is None:
        return 0
    v.node, v.site, v.name = node, row["site"], row["name"]
    births = v._policy()["births"]
    line = clock_samples.line(db, node, [x for _s, _n, d, _r, t in todo for x in readings(verify.bounded(d, t)).marks()],
                              getattr(v, "lines", None))
    changed, days, still = 0, set(), {}
    for seq, n, d, received_us, report_ts in todo:
        birth_ts, rules = node_births.in_force(births, d["destroyed_us"])
        low, high = node_births.limits(rules, d["camera"])
        sid = d.get("segment_id")
        found = retention_watch.probe(db, node, sid) if isinstance(sid, int) and not isinstance(sid, bool) else None
        q = quick_verdict.verdict(verify.bounded(d, report_ts), heard=None if found is None else found.heard,
                                  reported_us=received_us, min_days=low, max_days=high, line=line)  # None: "ok" (0475, 0531)
        j = OK if q is None else q
        day = v_day(v, d["destroyed_us"])
        if j.verdict == UNVERIFIED:
            still[(d["camera"], day)] = verify.destroyed(j.verdict, d["camera"], v_day(v, d["start_us"]), j.why, day,
                                                        received_us, _detail(d, day, seq, birth_ts, low, high, found,
                                                                             received_us, j))
            continue
        changed += 1
        days.add((d["camera"], day))
        destructions.judged(db, node, seq, n, j.verdict)
        size = d.get("bytes") if isinstance(d.get("bytes"), int) else 0
        destructions.day_moved(db, node, d["camera"], day, d["reason"], UNVERIFIED, j.verdict, size,
                               readings(d).own_age_us / verdicts.DAY_US)
        if j.verdict != "ok":
            v._finding(verify.destroyed(j.verdict, d["camera"], v_day(v, d["start_us"]), j.why, day,
                                        received_us if j.clock == verdicts.OFFICE else d["destroyed_us"],
                                        _detail(d, day, seq, birth_ts, low, high, found, received_us, j)))
    destructions.drop_empty_days(db, node, UNVERIFIED)
    for camera, day in days | set(still):  # a camera-day's warning: settled, or in its latest words
        left = destructions.day_left(db, node, camera, day, UNVERIFIED)
        if not left or (camera, day) in still:
            destructions.forget_finding(db, f"{node}:{verify.DESTROYED_KINDS[UNVERIFIED]}:{camera}:{day}")
        if left and (camera, day) in still:
            v._finding(still[(camera, day)])
    return changed


def _detail(d: dict[str, Any], day: str, seq: int, birth_ts: Any, low: Any, high: Any, found: Any, received_us: int,
            j: verdicts.Verdict) -> dict[str, Any]:
    """A re-judged destruction's finding's detail, as central/verifier/verifier_kinds.py makes it."""
    return {"camera": d["camera"], "day": day, "msg_seq": seq, "rules_of_birth_us": birth_ts, "min_days": low,
            "max_days": high, "reported_us": received_us, "heard_us": None if found is None else found.heard.heard_us,
            "rejudged": True, **j.basis()}


def v_day(v: Any, us: int) -> str:
    return day_of(us, v.tz)
