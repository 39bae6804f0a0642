"""What the store holds of a node's footage for the retention verdicts (design/0122): the ranges
its footage messages named (footage_heard) with their evidence (footage_evidence), the newest
destruction heard (retention_heard), the messages a footage message's clock offset is read from,
and the holds its audit records leave in force. Each statement a named function over the store's
connection (``db``, in the verifier's transaction); moved out of central/verifier/retention_watch.py
and evidence.py (issue 80), whose judgements stay there. Blocking: the verifier's thread."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from central.store.held import fill

NEWEST = ("SELECT m.ts_us, m.received_us FROM messages m JOIN nodes n ON n.node = m.node AND m.seq = n.max_seq"
          " WHERE n.node = ?")  # the node's newest message
AFTER = "SELECT ts_us, received_us FROM messages WHERE node = ? AND seq >= ? ORDER BY seq LIMIT ?"
BEFORE = ("SELECT ts_us, received_us FROM (SELECT ts_us, received_us FROM messages WHERE node = ?"
          " AND seq < ? ORDER BY seq DESC LIMIT ?) AS x WHERE received_us < ? LIMIT ?")
# a window of the node's messages around a page's footage messages, and its newest (the offsets)
WINDOW = ("SELECT 0, seq, ts_us, received_us FROM (SELECT seq, ts_us, received_us FROM messages WHERE node = ?"
          " AND seq < ? ORDER BY seq DESC LIMIT ?) AS b"
          " UNION ALL SELECT 0, seq, ts_us, received_us FROM messages WHERE node = ? AND seq BETWEEN ? AND ?"
          " UNION ALL SELECT 0, seq, ts_us, received_us FROM (SELECT seq, ts_us, received_us FROM messages"
          " WHERE node = ? AND seq > ? ORDER BY seq LIMIT ?) AS a"
          " UNION ALL SELECT 1, 0, ts_us, received_us FROM (" + NEWEST + ") AS n")
EVIDENCE = "INSERT INTO footage_evidence (node, first_id, stamp_us, offset_us, from_us, to_us, carried) VALUES "
EVIDENCE_UPSERT = " ON CONFLICT (node, first_id) DO UPDATE SET carried = coalesce(footage_evidence.carried, excluded.carried)"
# a footage range with its evidence, the columns central/verifier/retention_watch.py `range_of` reads
RANGE = ("SELECT h.first_id, h.last_id, h.heard_us, e.stamp_us, e.offset_us, e.carried, e.from_us, e.to_us"
         " FROM footage_heard h LEFT JOIN footage_evidence e ON e.node = h.node AND e.first_id = h.first_id"
         " WHERE h.node = ?")
RANGE_AT = RANGE + " AND h.first_id <= ? ORDER BY h.first_id DESC LIMIT 1"
RANGES_FROM = (RANGE + " AND h.first_id <= ? AND h.first_id >= coalesce((SELECT max(first_id) FROM"
               " footage_heard WHERE node = ? AND first_id <= ?), ?)")
RANGE_NEWEST = RANGE + " ORDER BY h.first_id DESC LIMIT 1"
RANGE_KEPT = RANGE + " AND h.last_id > ? AND coalesce(e.to_us, 0) > ? ORDER BY h.first_id LIMIT 1"
LOWEST = "SELECT min(first_id) FROM footage_heard WHERE node = ?"
HEARD = "SELECT first_id, last_id, heard_us FROM footage_heard WHERE node = ? AND first_id IN ({marks})"
EVIDENCES = ("SELECT first_id, stamp_us, offset_us, from_us, to_us, carried FROM footage_evidence WHERE node = ?"
             " AND first_id IN ({marks})")
BACKLOG = "SELECT 1 FROM messages WHERE node = ? AND verified = 0 LIMIT 1"
DESTROYED = "SELECT destroyed_id, destroyed_us FROM retention_heard WHERE node = ?"
HOLDS = "SELECT action, detail FROM audit WHERE node = ? AND action IN ({marks}) ORDER BY seq_local"
HELD = ("SELECT min(e.from_us), min(e.to_us), min(e.stamp_us) FROM footage_heard h JOIN footage_evidence e"
        " ON e.node = h.node AND e.first_id = h.first_id WHERE h.node = ? AND h.last_id > ?")


def _rows(db: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.execute(sql, list(params)).fetchall()]


def after(db: Any, node: str, seq: int, most: int) -> list[tuple[Any, ...]]:
    """(ts_us, received_us) of the node's message ``seq`` and those after it, ``most`` at most."""
    return _rows(db, AFTER, [node, seq, most])


def newest(db: Any, node: str) -> list[tuple[Any, ...]]:
    """(ts_us, received_us) of the node's newest message (none: an empty list)."""
    return _rows(db, NEWEST, [node])


def before(db: Any, node: str, seq: int, most: int, received_before: int, keep: int) -> list[tuple[Any, ...]]:
    """(ts_us, received_us) of the ``most`` messages before ``seq``, newest first, those received
    before ``received_before`` (``keep`` at most)."""
    return _rows(db, BEFORE, [node, seq, most, received_before, keep])


def window(db: Any, node: str, lo: int, hi: int, most: int) -> list[tuple[Any, ...]]:
    """(0, seq, ts_us, received_us) of ``most`` messages before ``lo``, those at [lo, hi] and
    ``most`` after ``hi``; (1, 0, ts_us, received_us) of the node's newest."""
    return _rows(db, WINDOW, [node, lo, most, node, lo, hi, node, hi, most, node])


def range_at(db: Any, node: str, segment_id: int) -> tuple[Any, ...] | None:
    """The RANGE row starting last at or below ``segment_id``."""
    row = db.execute(RANGE_AT, [node, segment_id]).fetchone()
    return None if row is None else tuple(row)


def ranges_from(db: Any, node: str, lo: int, hi: int) -> list[tuple[Any, ...]]:
    """The RANGE rows of the range at or below ``lo`` and every one after it up to ``hi``."""
    return _rows(db, RANGES_FROM, [node, hi, node, lo, lo])


def range_newest(db: Any, node: str) -> tuple[Any, ...] | None:
    row = db.execute(RANGE_NEWEST, [node]).fetchone()
    return None if row is None else tuple(row)


def range_kept(db: Any, node: str, past: int, after_us: int) -> tuple[Any, ...] | None:
    """The oldest RANGE row past segment ``past`` whose footage ends after ``after_us``."""
    row = db.execute(RANGE_KEPT, [node, past, after_us]).fetchone()
    return None if row is None else tuple(row)


def lowest(db: Any, node: str) -> int | None:
    """The lowest segment id the node named."""
    row = db.execute(LOWEST, [node]).fetchone()
    return None if row is None else row[0]


def heard(db: Any, node: str, firsts: Sequence[int]) -> list[tuple[Any, ...]]:
    """(first_id, last_id, heard_us) of the node's ranges starting at ``firsts`` (a few hundred)."""
    return _rows(db, fill(HEARD, len(firsts)), [node, *firsts])


def evidences(db: Any, node: str, firsts: Sequence[int]) -> list[tuple[Any, ...]]:
    """(first_id, stamp_us, offset_us, from_us, to_us, carried) of the node's ranges starting at ``firsts``."""
    return _rows(db, fill(EVIDENCES, len(firsts)), [node, *firsts])


def backlog(db: Any, node: str) -> bool:
    """Whether the node has a message still to verify."""
    return db.execute(BACKLOG, [node]).fetchone() is not None


def destroyed(db: Any, node: str) -> tuple[Any, Any]:
    """(the newest segment id destroyed, the office's receipt of the newest destruction), or Nones."""
    row = db.execute(DESTROYED, [node]).fetchone()
    return (row[0], row[1]) if row is not None else (None, None)


def holds(db: Any, node: str, actions: Sequence[str]) -> list[dict[str, Any]]:
    """The node's audit records of ``actions`` ({"action", "detail"}), in its order."""
    return [{"action": r[0], "detail": r[1]} for r in _rows(db, fill(HOLDS, len(actions)), [node, *actions])]


def held(db: Any, node: str, past: int) -> tuple[Any, ...]:
    """The lowest from_us, to_us and stamp_us of the node's ranges past segment ``past``."""
    return tuple(db.execute(HELD, [node, past]).fetchone() or ())
