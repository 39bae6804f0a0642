"""A node's verification pass, set-based (issue 53, design/0137): the evidence the pure checks
(central/verify.py) need for a page of messages, read with a few range lookups, and what they
conclude, written with a few multi-row statements at the end of the pass, instead of ~5
statements a message (each a round trip to a PostgreSQL on its own machine).

What the pass wrote is read back from here, not from the store: an audit record's hash, the
footage a `footage` message named earlier in the same pass. A message whose checks raise is
undone here (``mark``/``rollback``), as a savepoint undid it in the store. Blocking: the
verifier's thread.

The retention verdicts are central/verdicts.py's over the evidence central/retention_watch.py
defines (footage_heard and footage_evidence, design/0122): a destruction's range is read here
with the same query and the same rule, a page's ranges at once. A `footage` message still
writes its evidence at once (its clock offset is read from the messages around it, a message at
a time), and its range is then read back here, so a destruction after it in the pass is judged
on exactly what the store holds (tests/test_central_batched.py).
"""

from __future__ import annotations

import bisect
from typing import Any

from central import retention_watch, store, verdicts, verify

ROWS = 300          # rows of one multi-row INSERT (SQLite binds at most 32,766 values)
AUDIT_SPAN = 200_000   # audit seq_locals one range lookup may cover (a wider page asks record by record)
FOOTAGE_SPAN = 2_000_000  # segment ids one range lookup of footage_heard may cover

_SQL = {
    "audit": "INSERT INTO audit (node, seq_local, at_us, actor, action, detail, prev_hash, hash, msg_seq) VALUES ",
    "heads": "INSERT OR IGNORE INTO heads (node, msg_seq, seq_local, hash, at_us, sig, valid, source) VALUES ",
    "coverage": "INSERT INTO coverage (node, camera, from_us, to_us, kind) VALUES ",
    "findings": "INSERT OR IGNORE INTO findings (key, node, site, kind, severity, found_us, about_us, message, detail)"
                " VALUES ",
    "days": "INSERT INTO destruction_days (node, camera, day, reason, verdict, segments, bytes, youngest_days) VALUES ",
    "destructions": store.DESTRUCTIONS_INSERT,
    "retention_heard": "INSERT INTO retention_heard (node, destroyed_id, destroyed_us) VALUES ",
}
_DAYS_UPSERT = (" ON CONFLICT (node, camera, day, reason, verdict) DO UPDATE SET"
                " segments = destruction_days.segments + excluded.segments,"
                " bytes = destruction_days.bytes + excluded.bytes,"
                " youngest_days = min(destruction_days.youngest_days, excluded.youngest_days)")
_HEARD_UPSERT = (" ON CONFLICT (node) DO UPDATE SET destroyed_us = max(retention_heard.destroyed_us, excluded.destroyed_us),"
                 " destroyed_id = coalesce(max(retention_heard.destroyed_id, excluded.destroyed_id),"
                 " retention_heard.destroyed_id, excluded.destroyed_id)")  # what an upsert a destruction left
_UPSERT = {"days": _DAYS_UPSERT, "retention_heard": _HEARD_UPSERT}
_ORDER = ("audit", "heads", "coverage", "days", "destructions", "retention_heard", "findings")
_RANGE = retention_watch.RANGE  # a footage range with its evidence, the columns retention_watch reads


class Evidence:
    def __init__(self, db: Any, node: str):
        self.db, self.node = db, node
        self.hashes: dict[int, str | None] = {}      # audit seq_local -> the hash it was received with
        self.heard: list[tuple[int, verdicts.Range]] = []  # footage ranges with their evidence, by first_id
        self.heard_from: int | None = None           # the lowest segment id the node named
        self._span = (0, -1)                         # self.heard holds every range a lookup in it may need
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
            got = self._read(_RANGE + " AND h.first_id <= ? AND h.first_id >= coalesce((SELECT max(first_id) FROM"
                             " footage_heard WHERE node = ? AND first_id <= ?), ?)",  # the range at or below lo,
                             [self.node, hi, self.node, lo, lo])                      # and every one after up to hi
            self.heard = sorted((r[0], retention_watch.range_of(r)) for r in got)
            self._span = (lo, hi)

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        self.statements += 1
        return [tuple(r) for r in self.db.execute(sql, params).fetchall()]

    def audit_hash(self, seq_local: int) -> str | None:
        if seq_local not in self.hashes:
            got = self._read("SELECT hash FROM audit WHERE node = ? AND seq_local = ?", [self.node, seq_local])
            self.hashes[seq_local] = got[0][0] if got else None
        return self.hashes[seq_local]

    def heard_of(self, segment_id: Any) -> tuple[verdicts.Range | None, int | None]:
        """central/retention_watch.py `heard`, from the page's ranges: (the range that names the
        segment, the lowest segment id the node named); the one starting last at or below the id
        holds it or none does. A segment outside the page's span is asked of the store (the lowest
        id is the store's: read at the prefetch, and kept with every range the pass wrote since)."""
        lo, hi = self._span
        if not isinstance(segment_id, int):
            return None, self.heard_from
        if not lo <= segment_id <= hi:
            self.statements += 1
            return retention_watch.probe(self.db, self.node, segment_id), self.heard_from
        i = bisect.bisect_right(self.heard, segment_id, key=lambda e: e[0])
        best = self.heard[i - 1][1] if i else None
        return (best if best is not None and best.last_id >= segment_id else None), self.heard_from

    def footage(self, first_id: int) -> None:
        """A `footage` message wrote its range and evidence to the store: read them back (as the
        store merged them with what it held), so the pass's next destructions see them. A range
        past the page's span is never the one a segment in it falls in (a segment outside is
        asked of the store): only the lowest id changes, as the store's min does."""
        if first_id > self._span[1]:
            self.heard_from = first_id if self.heard_from is None else min(self.heard_from, first_id)
            return
        got = self._read(_RANGE + " AND h.first_id = ?", [self.node, first_id])
        if not got:
            return
        i = bisect.bisect_left(self.heard, first_id, key=lambda e: e[0])
        was = self.heard[i] if i < len(self.heard) and self.heard[i][0] == first_id else None
        self._undo.append(("heard", (first_id, was, self.heard_from)))
        entry = (first_id, retention_watch.range_of(got[0]))
        if was is None:
            self.heard.insert(i, entry)
        else:
            self.heard[i] = entry
        self.heard_from = first_id if self.heard_from is None else min(self.heard_from, first_id)

    # writing: kept till the end of the pass -------------------------------------------------------
    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)

    def audit(self, row: tuple[Any, ...]) -> None:
        """An audit record (node, seq_local, ..., hash, msg_seq) the pass stores."""
        self.rows["audit"].append(row)
        self._undo.append(("hash", (row[1], self.hashes.get(row[1]))))
        self.hashes[row[1]] = row[7]

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
                continue
            first_id, was, self.heard_from = val
            i = bisect.bisect_left(self.heard, first_id, key=lambda e: e[0])
            if was is None:
                del self.heard[i]
            else:
                self.heard[i] = was

    def flush(self, only: tuple[str, ...] = _ORDER) -> list[tuple[Any, ...]]:
        """What the pass concluded, a few multi-row statements a table. Returns the critical
        findings the store did not hold yet (the verifier logs them, as it logged each one new)."""
        new: list[tuple[Any, ...]] = []
        for table in only:
            rows, self.rows[table] = self.rows[table], []
            if table == "days":
                rows = _days(rows)
            elif table == "retention_heard":
                rows = _newest(rows)
            elif table == "findings":
                new = self._new_critical(rows)
            for i in range(0, len(rows), ROWS):
                chunk = rows[i:i + ROWS]
                one = "(" + ", ".join("?" * len(chunk[0])) + ")"
                sql = _SQL[table] + ", ".join([one] * len(chunk)) + _UPSERT.get(table, "")
                self.statements += 1
                self.db.execute(sql, [v for r in chunk for v in r])
        if only == _ORDER:
            self._undo.clear()
        return new

    def _new_critical(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Findings rows (key, node, site, kind, severity, ...) critical and not in the store yet."""
        critical = {r[0]: r for r in reversed(rows) if r[4] == verify.CRITICAL}  # the first of a key stands
        keys = list(critical)
        for i in range(0, len(keys), ROWS):
            chunk = keys[i:i + ROWS]
            for (key,) in self._read(f"SELECT key FROM findings WHERE key IN ({', '.join('?' * len(chunk))})", chunk):
                critical.pop(key, None)
        return list(critical.values())


def _newest(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """retention_heard's (node, destroyed_id, destroyed_us) of a pass's destructions in one row:
    the newest of each, as the upserts one a destruction left it."""
    if not rows:
        return []
    ids = [r[1] for r in rows if r[1] is not None]
    return [(rows[0][0], max(ids) if ids else None, max(r[2] for r in rows))]


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
