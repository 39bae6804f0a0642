"""The audit log: an append-only hash chain (docs/requirements.md, invariant 6, R7).

Each record carries the hash of the one before, so rewriting, removing, inserting or
reordering a record breaks the chain at that point. Someone who rewrites the whole tail and
recomputes every hash after it is caught only against a chain head kept elsewhere: the heads
published over MQTT (the central office keeps them), `verify(..., expect=(seq, hash))`, and
the highest record already sent to the central office. Blocking: call on the catalog writer
thread, or on a read-only connection in a thread.

The hash of a record is sha256(prev_hash + canonical JSON of {seq, at_us, actor, action,
detail}); canonical JSON has sorted keys, no spaces and UTF-8 text. An export (JSON lines
with both hashes) can be re-checked by anyone with `verify_lines`, without edged.
"""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Iterable, Iterator


from storage.time.clock import SYSTEM

if TYPE_CHECKING:
    import sqlite_utils

GENESIS = "0" * 64


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + _canonical(body)).hexdigest()


_str = json.JSONEncoder(ensure_ascii=False).encode


def _body_bytes(seq: int, at_us: int, actor: str, action: str, detail_json: str) -> bytes:
    """The canonical body from the stored columns without parsing `detail` (it is stored canonical).

    Byte-for-byte what _canonical() gives for the same record; verify() relies on it for speed.
    """
    return ('{"action":' + _str(action) + ',"actor":' + _str(actor) + ',"at_us":' + str(at_us)
            + ',"detail":' + detail_json + ',"seq":' + str(seq) + "}").encode()


MAX_TEXT = 512     # a longer text in a record's detail is kept as its start, length and hash
KEPT_TEXT = 128


def bounded(value: Any) -> Any:
    """`value` with every text longer than MAX_TEXT cut to its first KEPT_TEXT characters, its
    length and its SHA-256 (design/0062): a person typing a 7,000-character camera id must not
    make the chain, which is never deleted, grow by what they type."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{value[:KEPT_TEXT]}… ({len(value)} characters, sha256 {digest})"
    if isinstance(value, dict):
        return {bounded(k): bounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bounded(v) for v in value]
    return value


# The door an action came in by (issue 45): the web desk sets {"via": "desk", "address": ...,
# "session": ...} for the whole of one request, and every record that request appends says so; an
# edgectl action (the control socket) has none and reads as the bare account, as before. A
# context variable: the catalog writer runs each write in its caller's context.
DOOR: ContextVar[dict[str, Any] | None] = ContextVar("audit_door", default=None)


def append(db: sqlite_utils.Database, actor: str, action: str, detail: dict[str, Any] | None = None,
           at_us: int | None = None) -> dict[str, Any]:
    at_us = SYSTEM.now_us() if at_us is None else at_us
    door = DOOR.get()
    actor, detail = bounded(actor), bounded({**door, **(detail or {})} if door else (detail or {}))
    with db.atomic():
        last = next(db.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"), None)
        seq = 1 if last is None else last["seq"] + 1
        prev = GENESIS if last is None else last["hash"]
        body = {"seq": seq, "at_us": at_us, "actor": actor, "action": action, "detail": detail or {}}
        digest = record_hash(prev, body)
        db.execute("INSERT INTO audit (seq, at_us, actor, action, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [seq, at_us, actor, action, _canonical(detail or {}).decode(), prev, digest])
    return {**body, "prev_hash": prev, "hash": digest}


def head(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The newest record's seq and hash: what the central office keeps to prove the log."""
    return next(db.query("SELECT seq, hash, at_us FROM audit ORDER BY seq DESC LIMIT 1"), None)


def _check(rows: Iterable[tuple[Any, ...]], prev: str, first_seq: int) -> tuple[int, str | None, str]:
    """(records checked, first problem or None, last hash) over (seq, at_us, actor, action,
    detail_json, prev_hash, hash) tuples in seq order."""
    n = 0
    expected = first_seq
    sha = hashlib.sha256
    for seq, at_us, actor, action, detail, prev_hash, digest in rows:
        n += 1
        if seq != expected:
            if seq > expected:
                return n, f"record {expected} is missing (the next one is {seq})", prev
            return n, f"record {seq} is out of order (expected {expected})", prev
        if prev_hash != prev:
            return n, f"record {seq} does not follow the record before it (removed, inserted or reordered)", prev
        if sha(prev.encode() + _body_bytes(seq, at_us, actor, action, detail)).hexdigest() != digest:
            return n, f"record {seq} was altered", prev
        prev = digest
        expected += 1
    return n, None, prev


def verify(db: sqlite_utils.Database, expect: tuple[int, str] | None = None) -> tuple[int, str | None]:
    """(records checked, first problem or None).

    `expect` is a chain head (seq, hash) kept elsewhere (the central office): the local chain
    must contain that record with that hash. The highest seq already sent over MQTT must
    still be there too, so a truncated tail is noticed.
    """
    cur = db.conn.execute("SELECT seq, at_us, actor, action, detail, prev_hash, hash FROM audit ORDER BY seq")
    n, problem, _last = _check(cur, GENESIS, 1)
    if problem:
        return n, problem
    sent = next(db.query("SELECT value FROM node WHERE key = 'mqtt_audit_seq'"), None) \
        if db["node"].exists() else None
    if sent and int(sent["value"]) > n:
        return n, (f"records {n + 1} to {sent['value']} are missing: the central office was sent records up to "
                   f"{sent['value']}")
    if expect is not None:
        seq, digest = expect
        row = next(db.query("SELECT hash FROM audit WHERE seq = ?", [seq]), None)
        if row is None:
            return n, f"record {seq} (the expected head) is missing: the log was cut short"
        if row["hash"] != digest:
            return n, f"record {seq} does not have the expected head hash: the log was rewritten"
    return n, None


def records(db: sqlite_utils.Database, *, after_seq: int = 0, limit: int = 1000, from_us: int | None = None,
            to_us: int | None = None, action: str | None = None) -> list[dict[str, Any]]:
    """Records in seq order, detail parsed, with both hashes (for listing and export)."""
    sql = "SELECT * FROM audit WHERE seq > ?"
    params: list[Any] = [after_seq]
    if from_us is not None:
        sql += " AND at_us >= ?"
        params.append(from_us)
    if to_us is not None:
        sql += " AND at_us < ?"
        params.append(to_us)
    if action is not None:
        sql += " AND (action = ? OR action LIKE ?)"
        params += [action, action + ".%"]
    rows = db.query(sql + " ORDER BY seq LIMIT ?", [*params, limit])
    return [{**r, "detail": json.loads(r["detail"])} for r in rows]


LIST_DETAIL = 1000  # characters of a record's detail a listing carries (design/0091); export has it whole


def newest(db: sqlite_utils.Database, *, limit: int, from_us: int | None = None,
           action: str | None = None, before_seq: int | None = None,
           detail_chars: int | None = None) -> list[dict[str, Any]]:
    """The newest `limit` records (from `from_us`, of `action` and its sub-actions, before
    `before_seq`: the next page back), oldest first.

    With `detail_chars`, a detail longer than that is not parsed nor carried whole: `detail` is
    None and `detail_cut` is {"chars": its length, "start": its first `detail_chars`
    characters}, so a listing stays small whatever a record holds (a 14.6 MB record was seen)."""
    cols = "seq, at_us, actor, action, prev_hash, hash"
    if detail_chars is None:
        sql = f"SELECT {cols}, detail, NULL AS chars FROM audit WHERE 1 = 1"
        params: list[Any] = []
    else:
        sql = (f"SELECT {cols}, substr(detail, 1, ?) AS detail, length(detail) AS chars FROM audit WHERE 1 = 1")
        params = [int(detail_chars)]
    if from_us is not None:
        sql += " AND at_us >= ?"
        params.append(int(from_us))
    if before_seq is not None:
        sql += " AND seq < ?"
        params.append(int(before_seq))
    if action:
        sql += " AND (action = ? OR action LIKE ?)"
        params += [action, action + ".%"]
    rows = list(db.query(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit]))
    out = []
    for r in reversed(rows):
        chars, text = r.pop("chars"), r.pop("detail")
        if detail_chars is not None and chars > detail_chars:
            out.append({**r, "detail": None, "detail_cut": {"chars": chars, "start": text}})
        else:
            out.append({**r, "detail": json.loads(text)})
    return out


def export_line(record: dict[str, Any]) -> str:
    """One JSON line of an export: the record as hashed, plus prev_hash and hash."""
    return json.dumps({k: record[k] for k in ("seq", "at_us", "actor", "action", "detail", "prev_hash", "hash")},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def verify_lines(lines: Iterable[str]) -> tuple[int, str | None, dict[str, Any] | None]:
    """Re-check an export (JSON lines): (records, first problem or None, last record's seq and hash).

    An export of the whole log starts at seq 1 after the genesis hash; a part of it starts
    after the prev_hash its first record names (check that against a published head).
    """
    def rows() -> Iterator[tuple[Any, ...]]:
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                yield (r["seq"], r["at_us"], r["actor"], r["action"], _canonical(r["detail"]).decode(),
                       r["prev_hash"], r["hash"])
            except (ValueError, KeyError, TypeError):
                yield (None, 0, "", "", "{}", "", f"line {i} is not an audit record")

    it = iter(rows())
    first = next(it, None)
    if first is None:
        return 0, None, None
    if first[0] is None:
        return 1, first[6], None
    start_prev = GENESIS if first[0] == 1 else first[5]

    def chained() -> Iterator[tuple[Any, ...]]:
        yield first
        for row in it:
            if row[0] is None:
                raise ValueError(row[6])
            yield row

    try:
        n, problem, last = _check(chained(), start_prev, first[0])
    except ValueError as exc:
        return 0, str(exc), None
    return n, problem, None if problem else {"seq": first[0] + n - 1, "hash": last}


def main(argv: list[str] | None = None) -> int:
    """`python3 -m storage.audit EXPORT.jsonl [SEQ:HASH]`: re-check an export without edged."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python3 -m storage.audit EXPORT.jsonl [SEQ:HASH]", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        n, problem, last = verify_lines(f)
    if problem:
        print(f"BROKEN at record {n}: {problem}")
        return 1
    if len(args) > 1 and last is not None and f"{last['seq']}:{last['hash']}" != args[1]:
        print(f"intact, but it ends at {last['seq']}:{last['hash']}, not at {args[1]}")
        return 1
    print(f"intact: {n} records" + (f", head {last['seq']}:{last['hash']}" if last else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
