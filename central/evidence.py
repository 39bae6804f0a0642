"""A node's verification pass, set-based (issue 53, design/0137): the evidence the pure checks
(central/verify.py) need for a page of messages, read with a few range lookups, and what they
conclude, written with a few multi-row statements at the end of the pass, instead of ~5
statements a message (each a round trip to a PostgreSQL on its own machine).

What the pass wrote is read back from here, not from the store: an audit record's hash, the
footage a `footage` message named earlier in the same pass. A message whose checks raise is
undone here (``mark``/``rollback``), as a savepoint undid it in the store. Blocking: the
verifier's thread.
"""

from __future__ import annotations

import bisect
from typing import Any

ROWS = 300          # rows of one multi-row INSERT (SQLite binds at most 32,766 values)
AUDIT_SPAN = 200_000   # audit seq_locals one range lookup may cover (a wider page asks record by record)
FOOTAGE_SPAN = 2_000_000  # segment ids one range lookup of footage_heard may cover

_SQL = {
    "audit": "INSERT INTO audit (node, seq_local, at_us, actor, action, detail, prev_hash, hash, msg_seq) VALUES ",
    "heads": "INSERT OR IGNORE INTO heads (node, msg_seq, seq_local, hash, at_us, sig, valid, source) VALUES ",
    "footage_heard": "INSERT OR IGNORE INTO footage_heard (node, first_id, last_id, heard_us) VALUES ",
    "coverage": "INSERT INTO coverage (node, camera, from_us, to_us, kind) VALUES ",
    "findings": "INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
                " VALUES ",
    "days": "INSERT INTO destruction_days (node, camera, day, reason, verdict, segments, bytes, youngest_days) VALUES ",
}
_DAYS_UPSERT = (" ON CONFLICT (node, camera, day, reason, verdict) DO UPDATE SET"
                " segments = destruction_days.segments + excluded.segments,"
                " bytes = destruction_days.bytes + excluded.bytes,"
                " youngest_days = min(destruction_days.youngest_days, excluded.youngest_days)")
_ORDER = ("audit", "heads", "footage_heard", "coverage", "days", "findings")


class Evidence:
    def __init__(self, db: Any, node: str):
        self.db, self.node = db, node
        self.hashes: dict[int, str | None] = {}      # audit seq_local -> the hash it was received with
        self.heard: list[tuple[int, int, int]] = []  # footage_heard (first_id, last_id, heard_us), by first_id
        self.heard_from: int | None = None           # the lowest segment id the node named
        self._heard_all = False                      # self.heard holds every range a lookup may need
        self.rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in _ORDER}
        self._undo: list[tuple[str, Any]] = []
        self.statements = 0                          # statements sent (the benchmark's round trips)

    # reading: a page's evidence at once --------------------------------------------------------
    def prefetch(self, audits: list[int], segments: list[int]) -> None:
        """``audits``: the seq_locals the page's audit messages may ask about; ``segments``: the
        segment ids its destructions name."""
        if audits and max(audits) - min(audits) <= AUDIT_SPAN:
            lo, hi = min(audits), max(audits)
            got = self._read("SELECT seq_local, hash FROM audit WHERE node = ? AND seq_local BETWEEN ? AND ?",
                             [self.node, lo, hi])
            for s in range(lo, hi + 1) if hi - lo < 4 * len(audits) + 64 else set(audits):
                self.hashes.setdefault(s, None)
            for s, h in got:
                if self.hashes.get(s) is None:
                    self.hashes[s] = h
        row = self._read("SELECT min(first_id) FROM footage_heard WHERE node = ?", [self.node])
        self.heard_from = row[0][0] if row else None
        if segments and max(segments) - min(segments) <= FOOTAGE_SPAN:
            lo, hi = min(segments), max(segments)
            self.heard = sorted(self._read(  # the range starting last at or below lo, and every one after up to hi
                "SELECT first_id, last_id, heard_us FROM footage_heard WHERE node = ? AND first_id <= ? AND first_id >="
                " coalesce((SELECT max(first_id) FROM footage_heard WHERE node = ? AND first_id <= ?), ?)",
                [self.node, hi, self.node, lo, lo]))
            self._heard_all, self._span = True, (lo, hi)

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        self.statements += 1
        return [tuple(r) for r in self.db.execute(sql, params).fetchall()]

    def audit_hash(self, seq_local: int) -> str | None:
        if seq_local not in self.hashes:
            got = self._read("SELECT hash FROM audit WHERE node = ? AND seq_local = ?", [self.node, seq_local])
            self.hashes[seq_local] = got[0][0] if got else None
        return self.hashes[seq_local]

    def heard_of(self, segment_id: Any) -> tuple[int | None, int | None]:
        """(when the office first heard of the segment, the lowest segment id the node named): as
        the store's one index probe, the range starting last at or below the id holds it or none does."""
        if not isinstance(segment_id, int):
            return None, self.heard_from
        lo, hi = getattr(self, "_span", (0, -1))
        if not (self._heard_all and lo <= segment_id <= hi):
            got = self._read("SELECT first_id, last_id, heard_us FROM footage_heard WHERE node = ? AND first_id <= ?"
                             " ORDER BY first_id DESC LIMIT 1", [self.node, segment_id])
            mine = [r for r in self.heard if r[0] <= segment_id]
            best = max(got + mine[-1:], default=None)
        else:
            i = bisect.bisect_right(self.heard, (segment_id, 2**63, 2**63))
            best = self.heard[i - 1] if i else None
        return (best[2] if best is not None and best[1] >= segment_id else None), self.heard_from

    # writing: kept till the end of the pass -------------------------------------------------------
    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)

    def audit(self, row: tuple[Any, ...]) -> None:
        """An audit record (node, seq_local, ..., hash, msg_seq) the pass stores."""
        self.rows["audit"].append(row)
        self._undo.append(("hash", (row[1], self.hashes.get(row[1]))))
        self.hashes[row[1]] = row[7]

    def footage(self, first_id: int, last_id: int, heard_us: int) -> None:
        self.rows["footage_heard"].append((self.node, first_id, last_id, heard_us))
        if any(r[0] == first_id for r in self.heard):
            return  # the first word on a range stands (INSERT OR IGNORE)
        entry = (first_id, last_id, heard_us)
        bisect.insort(self.heard, entry)
        self._undo.append(("heard", (entry, self.heard_from)))
        self.heard_from = first_id if self.heard_from is None else min(self.heard_from, first_id)

    def mark(self) -> tuple[dict[str, int], int]:
        return {k: len(v) for k, v in self.rows.items()}, len(self._undo)

    def rollback(self, mark: tuple[dict[str, int], int]) -> None:
        """Forget what was added since ``mark`` (a message whose checks raised)."""
        lengths, undo = mark
        for k, n in lengths.items():
            del self.rows[k][n:]
        while len(self._undo) > undo:
            what, val = self._undo.pop()
            if what == "hash":
                self.hashes[val[0]] = val[1]
            else:
                self.heard.remove(val[0])
                self.heard_from = val[1]

    def flush(self, only: tuple[str, ...] = _ORDER) -> None:
        """What the pass concluded, a few multi-row statements a table."""
        for table in only:
            rows, self.rows[table] = self.rows[table], []
            if table == "days":
                rows = _days(rows)
            for i in range(0, len(rows), ROWS):
                chunk = rows[i:i + ROWS]
                one = "(" + ", ".join("?" * len(chunk[0])) + ")"
                sql = _SQL[table] + ", ".join([one] * len(chunk)) + (_DAYS_UPSERT if table == "days" else "")
                self.statements += 1
                self.db.execute(sql, [v for r in chunk for v in r])
        if only == _ORDER:
            self._undo.clear()


def _days(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Destructions (node, camera, day, reason, verdict, 1, bytes, youngest) summed by their key."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for node, camera, day, reason, verdict, n, size, youngest in rows:
        got = out.get((node, camera, day, reason, verdict))
        if got is None:
            out[(node, camera, day, reason, verdict)] = [n, size, youngest]
        else:
            got[0] += n
            got[1] += size
            got[2] = youngest if got[2] is None else got[2] if youngest is None else min(got[2], youngest)
    return [(*k, *v) for k, v in out.items()]
