"""The office's `intakes` table (issue 76, design/0349): each portable device's recording a box took
into its custody, as its `intake` message said (mqtt/kinds.py INTAKE), with the office's time of
hearing, and its original's destruction as the box's `intake_destroyed` message said it (design/0355);
the month page lists them beside the destructions. SQL as named functions, here in the
store's room (SQLite, and PostgreSQL through central/store/pgdialect.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# the month page's and the CSV's columns (central/report/month.py SECTIONS["intakes"])
COLUMNS = ("received_us", "at_us", "node", "camera", "device", "file_name", "taken_by", "filmed_by", "request",
           "segments", "claimed_start_us", "original_sha256", "bytes", "original_destroyed_us")


# the statements, held as constants (so each is compiled on both engines where main's
# tests/test_central_statements.py holds central/store/'s constants to them)
INSERT = ("INSERT OR IGNORE INTO intakes (node, intake, site, seq, at_us, received_us, camera, device, sha256, bytes,"
          " taken_by, filmed_by, request, segments, claimed_start_us, file_name) VALUES"
          " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
ONE = "SELECT sha256, at_us, camera, destroyed_us FROM intakes WHERE node = ? AND intake = ?"
DESTROYED = ("UPDATE intakes SET destroyed_us = ?, destroyed_pass = ?, destroyed_heard_us = ?, destroyed_verdict = ?"
             " WHERE node = ? AND intake = ? AND destroyed_us IS NULL")
BETWEEN = ("SELECT * FROM intakes WHERE site = ? AND received_us >= ? AND received_us < ?"
           " ORDER BY received_us, node, intake")


def put(db: Any, node: str, site: str, seq: int, m: dict[str, Any], received_us: int) -> None:
    """One intake as its message says it (a repeat of the same node's intake is kept once)."""
    db.execute(INSERT, [node, m["intake"], site, seq, m.get("at_us"), received_us, m["camera"], m.get("device"),
                        m["sha256"], m.get("bytes"), m.get("taken_by"), m.get("filmed_by"), m.get("request"),
                        m.get("segments"), m.get("claimed_start_us"), m.get("file_name")])


def each_between(db: Any, site: str, from_us: int, to_us: int) -> Iterator[dict[str, Any]]:
    """The site's intakes the office heard of in [from, to), oldest first (its own clock judges the month)."""
    for r in db.query(BETWEEN, [site, from_us, to_us]):
        yield {**{c: r.get(c) for c in COLUMNS}, "original_sha256": r["sha256"],
               "original_destroyed_us": r.get("destroyed_us")}


def one(db: Any, node: str, intake: int) -> dict[str, Any] | None:
    """The node's intake as the office heard it ({sha256, at_us, camera, destroyed_us}), or None: never heard of."""
    for r in db.query(ONE, [node, intake]):
        return dict(r)
    return None


def destroyed(db: Any, node: str, m: dict[str, Any], heard_us: int, verdict: str) -> None:
    """An intake's original destroyed, as its `intake_destroyed` message says (the first word kept:
    a repeat changes nothing)."""
    db.execute(DESTROYED, [m["destroyed_us"], m.get("pass_id"), heard_us, verdict, node, m["intake"]])
