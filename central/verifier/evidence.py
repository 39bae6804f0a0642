"""A node's verification pass, set-based (issue 53, design/0137): the evidence the pure checks
(central/checks/verify.py) need for a page of messages, read with a few range lookups, and what they
conclude, written with a few multi-row statements at the end of the pass, instead of ~5
statements a message (each a round trip to a PostgreSQL on its own machine).

What the pass wrote is read back from here, not from the store: an audit record's hash, the
footage a `footage` message named earlier in the same pass. A message whose checks raise is
undone here (``mark``/``rollback``), as a savepoint undid it in the store. Blocking: the
verifier's thread.

The retention verdicts are central/checks/verdicts.py's over the evidence central/verifier/retention_watch.py
defines (footage_heard and footage_evidence, design/0122): a destruction's range is read here
with the same query and the same rule, a page's ranges at once. A `footage` message's clock
offset is read from a window of the messages around the page's footage messages (one read a
page), what the store holds of its range is read for the page's ranges at once, and the merge
the store would make (the first word stands, a carried span fills in) is made here, so a
destruction after it in the pass is judged on what the store will hold (tests/test_central_batched.py).
On PostgreSQL the rows go in through the store's `insert_rows` (one array a column). Its statements
are central/store/passes.py's and footage.py's (issue 80).

Over 400 lines on purpose: one class, the pass's cache. What it reads (the prefetches) and what
it writes (the rows held till `flush`) are one set of dictionaries, read back by the checks
before they are written (an audit hash, a footage range, a mark to roll back to); split in two,
each half would reach into the other's. Its module-level helpers are its rows' small shapes.
"""

from __future__ import annotations

import bisect
import json
from itertools import compress
from operator import and_
from collections.abc import Sequence
from typing import Any

from central.verifier import retention_watch
from central.store import footage as stored_footage, passes
from central.checks import verdicts, verify
from storage.time import interval

ROWS = passes.ROWS  # rows of one multi-row INSERT (SQLite binds at most 32,766 values)
AUDIT_SPAN = 200_000   # audit seq_locals one range lookup may cover (a wider page asks record by record)
FOOTAGE_SPAN = 2_000_000  # segment ids one range lookup of footage_heard may cover

_ORDER = ("audit", "heads", "footage_heard", "footage_evidence", "coverage", "days", "destructions",
          "retention_heard", "findings")
_FOOTAGE = ("footage_heard", "footage_evidence")
WINDOW_SPAN = 60_000  # seqs between a page's first and last footage message its offset window may cover


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
        self.window: list[tuple[int, int, int]] = []  # (seq, ts_us, received_us) around the page's footage
        self.newest: list[tuple[int, int]] = []      # the node's newest message's (ts_us, received_us)
        self.stored: dict[int, tuple[Any, Any]] = {}  # first_id -> (footage_heard row, footage_evidence row)
        self._window = (1, 0)                         # the footage seqs self.window serves
        self.columns: tuple[list[Any], list[Any]] = ([], [])  # `columns` of self.window
        # what an access is judged on (design/0270): the approvals, filings and uses of the page's
        # grants the store held, and the pass's since, by key; None: ask the store (judge_in_store)
        self.people: dict[str, dict[tuple[str, Any], list[dict[str, Any]]]] | None = None
        self._asked: tuple[set[tuple[str, Any]], set[tuple[str, Any]]] = (set(), set())  # the grants, requests read
        self.line = interval.ClockLine([])  # the node's clock samples around the page's destructions (design/0310)

    # reading: a page's evidence at once --------------------------------------------------------
    def prefetch(self, audits: list[int], segments: list[int], footage: list[tuple[int, int]] | None = None,
                 people: list[dict[str, Any]] | None = None) -> None:
        """``audits``: the seq_locals the page's audit messages may ask about; ``segments``: the
        segment ids its destructions name; ``footage``: its footage messages' (seq, first_id);
        ``people``: its audit records that are accesses or approvals."""
        if footage:
            self._footage_prefetch(footage)
        if people:
            self._people_prefetch(people)
        if audits and max(audits) - min(audits) <= AUDIT_SPAN:
            lo, hi = min(audits), max(audits)
            self.statements += 1
            got = passes.audit_hashes(self.db, self.node, lo, hi)
            for s in range(lo, hi + 1) if hi - lo < 4 * len(audits) + 64 else set(audits):
                self.hashes.setdefault(s, None)
            for s, h in got:
                if self.hashes.get(s) is None:
                    self.hashes[s] = h
        self.statements += 1
        self.heard_from = stored_footage.lowest(self.db, self.node)
        if segments and max(segments) - min(segments) <= FOOTAGE_SPAN:
            lo, hi = min(segments), max(segments)
            self.statements += 1
            got = stored_footage.ranges_from(self.db, self.node, lo, hi)  # the range at or below lo, and every
            # one after up to hi
            self.heard = sorted((r[0], retention_watch.range_of(r)) for r in got)
            self._span = (lo, hi)

    def _people_prefetch(self, records: list[dict[str, Any]]) -> None:
        """The approvals and uses of the grants the page's accesses name, and the filings of the
        requests those approvals name (the page's own among them), as the store holds them: two
        reads a page instead of three an access (judge_in_store). A value the store's JSON
        comparison might match otherwise than Python's (not a text or a whole number) leaves
        ``people`` None: every access of the pass is then asked of the store."""
        grants: set[tuple[str, Any]] = set()
        for m in records:
            d = m.get("detail")
            if m.get("action") in verify.ACCESS_ACTIONS and isinstance(d, dict) and d.get("grant") is not None:
                k = _plain(d["grant"])
                if k is None:
                    return
                grants.add(k)
        if not grants:
            return
        requests: set[tuple[str, Any]] = set()
        for m in records:
            d = m.get("detail")
            if m.get("action") == "request.approve" and isinstance(d, dict) and _plain(d.get("grant")) in grants:
                if d.get("request") is not None:
                    k = _plain(d["request"])
                    if k is None:
                        return
                    requests.add(k)
        people: dict[str, dict[tuple[str, Any], list[dict[str, Any]]]] = {a: {} for a in _PEOPLE}
        got = self._people_read("grant", [v for _t, v in grants])
        for row in got:
            r, k = _person(row, "grant")
            if r is None or k is None:
                return
            people[r["action"]].setdefault(k, []).append(r)
            if r["action"] == "request.approve" and r["detail"].get("request") is not None:
                rk = _plain(r["detail"]["request"])
                if rk is None:
                    return
                requests.add(rk)
        for row in self._people_read("request", [v for _t, v in requests]):
            r, k = _person(row, "request")
            if r is None or k is None:
                return
            people["request.file"].setdefault(k, []).append(r)
        self.people, self._asked = people, (grants, requests)

    def _people_read(self, field: str, values: list[Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(values), ROWS // 3):  # the store's JSON comparison, one a value
            chunk = values[i:i + ROWS // 3]
            self.statements += 1
            out += passes.people(self.db, self.node, field, chunk)
        return out

    def judges(self, m: dict[str, Any]) -> bool:
        """Whether access record ``m`` (a message's body) is judged from the pass's evidence, not the
        store (then the pass's audit records are written before it, as before design/0270)."""
        if not isinstance(m.get("detail") or {}, dict):
            return False  # its judging fails, as in the store
        return self.access({**m, "seq": m.get("seq_local")}) is not None  # the record itself changes no answer

    def access(self, rec: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None, int] | None:
        """judge_in_store's (approval, filing, earlier uses) of an access record, from what the
        store held at the prefetch and the pass added since; None: ask the store."""
        grant = (rec.get("detail") or {}).get("grant")
        if grant is None:
            return None, None, 0
        k, seq = _plain(grant), rec.get("seq")
        if self.people is None or k not in self._asked[0] or _plain(seq) is None or not isinstance(seq, int):
            return None
        approvals = self.people["request.approve"].get(k)
        approve = min(approvals, key=lambda r: r["seq_local"]) if approvals else None
        filed = None
        if approve is not None and approve["detail"].get("request") is not None:
            rk = _plain(approve["detail"]["request"])
            if rk not in self._asked[1]:
                return None
            filings = self.people["request.file"].get(rk)
            filed = min(filings, key=lambda r: r["seq_local"]) if filings else None
        return approve, filed, sum(1 for r in self.people["grant.use"].get(k, ()) if r["seq_local"] < seq)

    def _footage_prefetch(self, footage: list[tuple[int, int]]) -> None:
        """The offset window of the page's footage messages and what the store holds of their ranges."""
        seqs = [s for s, _f in footage]
        lo, hi = min(seqs), max(seqs)
        if hi - lo <= WINDOW_SPAN:
            self.statements += 1
            got = stored_footage.window(self.db, self.node, lo, hi, retention_watch.SAMPLES)
            self.window = sorted((r[1], r[2], r[3]) for r in got if r[0] == 0)
            self.columns = columns(self.window)
            self.newest = [(r[2], r[3]) for r in got if r[0] == 1]
            self._window = (lo, hi)
        self._stored(sorted({f for _s, f in footage}))

    def _stored(self, firsts: list[int]) -> None:
        for i in range(0, len(firsts), ROWS):
            chunk = firsts[i:i + ROWS]
            self.statements += 2
            for first, *row in stored_footage.heard(self.db, self.node, chunk):
                self.stored[first] = (tuple(row), None)
            for first, *row in stored_footage.evidences(self.db, self.node, chunk):
                self.stored[first] = (self.stored.get(first, (None, None))[0], tuple(row))
            for first in chunk:
                self.stored.setdefault(first, (None, None))

    def offset(self, seq: int, received_us: int) -> int | None:
        """The node's clock offset when footage message ``seq`` came (central/verifier/retention_watch.py
        read_offset), from the page's window."""
        lo, hi = self._window
        if not lo <= seq <= hi:
            self.statements += 3
            return retention_watch.read_offset(self.db, self.node, seq, received_us)
        i = bisect.bisect_left(self.window, seq, key=lambda r: r[0])
        return _offset(self.window, i, self.newest, received_us, self.columns)

    def audit_hash(self, seq_local: int) -> str | None:
        if seq_local not in self.hashes:
            self.statements += 1
            self.hashes[seq_local] = passes.audit_hash(self.db, self.node, seq_local)
        return self.hashes[seq_local]

    def heard_of(self, segment_id: Any) -> tuple[verdicts.Range | None, int | None]:
        """central/verifier/retention_watch.py `heard`, from the page's ranges: (the range that names the
        segment, the lowest segment id the node named); the one starting last at or below the id
        holds it or none does. A segment outside the page's span is asked of the store (the lowest
        id is the store's: read at the prefetch, and kept with every range the pass wrote since)."""
        lo, hi = self._span
        if not isinstance(segment_id, int):
            return None, self.heard_from
        if not lo <= segment_id <= hi:
            if self.rows["footage_heard"]:
                self.flush(_FOOTAGE)  # the store then holds every range the pass heard of
            self.statements += 1
            return retention_watch.probe(self.db, self.node, segment_id), self.heard_from
        i = bisect.bisect_right(self.heard, segment_id, key=lambda e: e[0])
        best = self.heard[i - 1][1] if i else None
        return (best if best is not None and best.last_id >= segment_id else None), self.heard_from

    def footage(self, seq: int, m: dict[str, Any], received_us: int) -> None:
        """A `footage` message's range and evidence, merged as the store merges them (a range named
        before keeps its receipt and its evidence; what it carried fills in where none was said),
        kept for the end of the pass and for the pass's next destructions. A range past the page's
        span is never the one a segment in it falls in (a segment outside is asked of the store):
        only the lowest id changes, as the store's min does."""
        first, last = m["first_id"], m["last_id"]
        if first not in self.stored:
            self._stored([first])
        was_h, was_e = self.stored[first]
        new_e = retention_watch.evidence_row(self.node, m, self.offset(seq, received_us))[2:]
        h = was_h if was_h is not None else (last, received_us)
        e = new_e if was_e is None else (*was_e[:4], was_e[4] if was_e[4] is not None else new_e[4])
        self._undo.append(("stored", (first, self.stored[first])))
        self.stored[first] = (h, e)
        self.rows["footage_heard"].append((self.node, first, *h))
        self.rows["footage_evidence"].append((self.node, first, *e))
        if first <= self._span[1]:
            i = bisect.bisect_left(self.heard, first, key=lambda x: x[0])
            was = self.heard[i] if i < len(self.heard) and self.heard[i][0] == first else None
            self._undo.append(("heard", (first, was, self.heard_from)))
            entry = (first, retention_watch.range_of((first, *h, e[0], e[1], e[4], e[2], e[3])))
            if was is None:
                self.heard.insert(i, entry)
            else:
                self.heard[i] = entry
        else:
            self._undo.append(("from", self.heard_from))
        self.heard_from = first if self.heard_from is None else min(self.heard_from, first)

    # writing: kept till the end of the pass -------------------------------------------------------
    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)

    def audit(self, row: tuple[Any, ...]) -> None:
        """An audit record (node, seq_local, ..., hash, msg_seq) the pass stores."""
        self.rows["audit"].append(row)
        self._undo.append(("hash", (row[1], self.hashes.get(row[1]))))
        self.hashes[row[1]] = row[7]
        if self.people is not None and row[4] in _PEOPLE:  # what a later access is judged on
            field = "request" if row[4] == "request.file" else "grant"
            r, k = _person(dict(zip(_AUDIT_COLUMNS, row)), field)
            if r is not None and r["detail"].get(field) is None:
                return  # a null or missing field matches no value in the store's comparison either
            if r is None or k is None:
                self.people = None  # the store's comparison decides: ask it from here on
                return
            self.people[row[4]].setdefault(k, []).append(r)
            self._undo.append(("person", (row[4], k)))

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
            if what == "stored":
                self.stored[val[0]] = val[1]
                continue
            if what == "from":
                self.heard_from = val
                continue
            if what == "person":
                if self.people is not None:
                    self.people[val[0]][val[1]].pop()
                continue
            first_id, was, self.heard_from = val
            i = bisect.bisect_left(self.heard, first_id, key=lambda e: e[0])
            if was is None:
                del self.heard[i]
            else:
                self.heard[i] = was

    def flush(self, only: tuple[str, ...] = _ORDER, then: Sequence[tuple[str, list[Any]]] = ()) -> list[tuple[Any, ...]]:
        """What the pass concluded, a few multi-row statements a table, and ``then`` (the pass's
        own updates, SQLite's dialect): on PostgreSQL all of it in one statement, one round trip
        (the store's ``write_all``, design/0270). Returns the critical findings the store did not
        hold yet (the verifier logs them, as it logged each one new)."""
        new: list[tuple[Any, ...]] = []
        parts: list[tuple[str, list[Any]]] = []
        for table in only:
            rows, self.rows[table] = self.rows[table], []
            if table == "days":
                rows = _days(rows)
            elif table == "retention_heard":
                rows = _newest(rows)
            elif table == "findings":
                new = self._new_critical(rows)
            elif table in _FOOTAGE:
                rows = list({r[1]: r for r in rows}.values())  # the merged row of each range (a key once a statement)
            parts += passes.inserts(self.db, table, rows)
        self.statements += passes.write(self.db, [*parts, *then])
        if only == _ORDER:
            self._undo.clear()
        return new

    def _new_critical(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Findings rows (key, node, site, kind, severity, ...) critical and not in the store yet."""
        critical = {r[0]: r for r in reversed(rows) if r[4] == verify.CRITICAL}  # the first of a key stands
        keys = list(critical)
        for i in range(0, len(keys), ROWS):
            chunk = keys[i:i + ROWS]
            self.statements += 1
            for key in passes.critical_known(self.db, chunk):
                critical.pop(key, None)
        return list(critical.values())


_PEOPLE = ("request.approve", "request.file", "grant.use")
_AUDIT_COLUMNS = ("node", "seq_local", "at_us", "actor", "action", "detail", "prev_hash", "hash", "msg_seq")


def _plain(v: Any) -> tuple[str, Any] | None:
    """A JSON value the store's comparison (json_extract = ?, SQLite's and PostgreSQL's) matches
    exactly as Python's ==: a text or a whole number (not a boolean, not a float, within 2^53)."""
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, int) and not isinstance(v, bool) and -(1 << 53) < v < (1 << 53):
        return ("n", v)
    return None


def _person(row: dict[str, Any], field: str) -> tuple[dict[str, Any] | None, tuple[str, Any] | None]:
    """An audit row with its detail read, and the key of its ``field``; (None, None) when either
    is not plain (the store's answer is then asked for)."""
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        return None, None
    if not isinstance(detail, dict):
        return None, None
    return {**row, "detail": detail}, _plain(detail.get(field))


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


NONE = float("-inf")  # a row with no stamp (or no receipt): no wait it could tell


def columns(window: Sequence[tuple[Any, Any, Any]]) -> tuple[list[Any], list[Any]]:
    """The window's receipts, and each row's stamp less its receipt (NONE without both): made once a page."""
    recs = [rec for _s, _ts, rec in window]
    waits = [ts - rec if isinstance(ts, int) and isinstance(rec, int) else NONE for _s, ts, rec in window]
    return recs, waits


def _offset(window: list[tuple[int, int, int]], i: int, newest: list[tuple[int, int]], received_us: int,
            cols: tuple[list[Any], list[Any]] | None = None) -> int | None:
    """retention_watch.offset_of(the SAMPLES rows of ``window`` before ``i`` newest first, those from
    ``i`` on and ``newest``, received_us), each side's rows picked by C-level walks over the page's
    `columns` (``cols``; made here when not given), without the lists it takes: a day's page made
    each footage message walk ~4,000 rows in Python (design/0212; its cost: design/0405).
    tests/test_central_batched.py holds it to the store's own read_offset."""
    recs, waits = cols if cols is not None else columns(window)
    cut = received_us - verdicts.OFFSET_WINDOW_US
    lo = max(0, i - retention_watch.SAMPLES)
    if min(recs[lo:i], default=cut) >= cut:
        return None  # none received before the window (a backlog received at once): no offset before it
    told = list(compress(range(lo, i), map(cut.__gt__, recs[lo:i])))[-retention_watch.BEFORE:]
    b = max((waits[k] for k in told if recs[k] >= -(1 << 62)), default=NONE)
    if b == NONE:
        return None
    hi, j = received_us + verdicts.OFFSET_WINDOW_US, i + retention_watch.SAMPLES
    a = max(compress(waits[i:j], map(and_, map(received_us.__le__, recs[i:j]), map(hi.__ge__, recs[i:j]))),
            default=NONE)
    for ts, rec in newest:
        if isinstance(ts, int) and isinstance(rec, int) and received_us <= rec <= hi:
            a = max(a, ts - rec)
    return None if a == NONE else int(min(a, b))
