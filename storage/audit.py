"""The audit log: an append-only hash chain (DESIGN.md invariant 6, REQUIREMENTS R7).

Each record carries the hash of the one before, so rewriting or removing a record breaks
every hash after it. Blocking: call on the catalog writer thread.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import sqlite_utils

GENESIS = "0" * 64


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + _canonical(body)).hexdigest()


def ensure_table(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE IF NOT EXISTS audit (
            seq INTEGER PRIMARY KEY,
            at_us INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,      -- canonical JSON
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""")


def append(db: sqlite_utils.Database, actor: str, action: str, detail: dict[str, Any] | None = None,
           at_us: int | None = None) -> dict[str, Any]:
    at_us = time.time_ns() // 1000 if at_us is None else at_us
    with db.atomic():
        last = next(db.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"), None)
        seq = 1 if last is None else last["seq"] + 1
        prev = GENESIS if last is None else last["hash"]
        body = {"seq": seq, "at_us": at_us, "actor": actor, "action": action, "detail": detail or {}}
        digest = record_hash(prev, body)
        db.execute("INSERT INTO audit (seq, at_us, actor, action, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [seq, at_us, actor, action, _canonical(detail or {}).decode(), prev, digest])
    return {**body, "prev_hash": prev, "hash": digest}


def verify(db: sqlite_utils.Database) -> tuple[int, str | None]:
    """(records checked, first problem or None)."""
    prev = GENESIS
    n = 0
    for r in db.query("SELECT * FROM audit ORDER BY seq"):
        n += 1
        if r["seq"] != n:
            return n, f"record {n} is missing (found {r['seq']})"
        if r["prev_hash"] != prev:
            return n, f"record {r['seq']} does not follow the record before it"
        body = {"seq": r["seq"], "at_us": r["at_us"], "actor": r["actor"], "action": r["action"],
                "detail": json.loads(r["detail"])}
        if record_hash(prev, body) != r["hash"]:
            return n, f"record {r['seq']} was altered"
        prev = r["hash"]
    return n, None
