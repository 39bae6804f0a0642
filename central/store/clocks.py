"""The office's time exchange in the store (issue 73, design/0310): the statements of the time
requests' nonces (clock_asks) and the clock samples the answers made (clock_samples), each a
named function over the store's connection (``db``: the store's `db`, in its caller's
transaction). Moved out of central/verifier/clock_samples.py and rejudge.py (issue 80), whose
judgements stay there. Blocking: the verifier's thread."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from central.store.held import fill

ASK = "INSERT INTO clock_asks (node, nonce, sent_us) VALUES {rows} ON CONFLICT (node, nonce) DO NOTHING"
FORGET_ASKS = "DELETE FROM clock_asks WHERE sent_us < ?"
ANSWERS = "SELECT node, received_us, payload FROM retained WHERE what = 'clock' AND received_us > ?"
ASKED_AT = "SELECT sent_us FROM clock_asks WHERE node = ? AND nonce = ?"
SAMPLE = ("INSERT INTO clock_samples (node, sent_us, node_us, received_us, mono_us, boot) VALUES"
          " (?, ?, ?, ?, ?, ?) ON CONFLICT (node, sent_us) DO NOTHING")
ANSWERED = "DELETE FROM clock_asks WHERE node = ? AND nonce = ?"
NODE_KEY = "SELECT public_key FROM nodes WHERE node = ?"
READ_BETWEEN = "SELECT min(sent_us), max(sent_us) FROM clock_samples WHERE node = ? AND node_us BETWEEN ? AND ?"
READ_BELOW = "SELECT sent_us FROM clock_samples WHERE node = ? AND node_us < ? ORDER BY node_us DESC LIMIT 1"
READ_ABOVE = "SELECT sent_us FROM clock_samples WHERE node = ? AND node_us > ? ORDER BY node_us LIMIT 1"
SENT_BEFORE = "SELECT max(sent_us) FROM clock_samples WHERE node = ? AND sent_us < ?"
SENT_AFTER = "SELECT min(sent_us) FROM clock_samples WHERE node = ? AND sent_us > ?"
SENT_FROM = "SELECT min(sent_us) FROM clock_samples WHERE node = ? AND sent_us >= ?"
READ_FROM = "SELECT min(sent_us) FROM clock_samples WHERE node = ? AND node_us >= ?"
SAMPLES = ("SELECT sent_us, node_us, received_us, boot, mono_us FROM clock_samples WHERE node = ?"
           " AND sent_us BETWEEN ? AND ?")
NEWEST_READING = "SELECT node_us FROM clock_samples WHERE node = ? ORDER BY sent_us DESC LIMIT 1"
READINGS = "SELECT min(node_us), max(node_us) FROM clock_samples WHERE node = ?"
OLDER = "SELECT 1 FROM clock_samples WHERE node = ? AND sent_us < ? LIMIT 1"
WAITING = ("SELECT min(start_us), min(end_us), min(destroyed_us) FROM destructions WHERE node = ?"
           " AND verdict = 'unverified' AND destroyed_us > ?")  # the partial index destructions_waiting (design/0420)
PRUNE = ("DELETE FROM clock_samples WHERE node = ? AND sent_us IN (SELECT sent_us FROM clock_samples"
         " WHERE node = ? AND sent_us < ? ORDER BY sent_us LIMIT ?)")
NODES = "SELECT node FROM nodes ORDER BY node"
ASKS_A_STATEMENT = 300  # rows of one ASK


def _one(db: Any, sql: str, params: list[Any]) -> Any:
    row = db.execute(sql, params).fetchone()
    return None if row is None else row[0]


def ask(db: Any, rows: Sequence[tuple[str, str, int]]) -> None:
    """The (node, nonce, sent_us) of requests sent, a few hundred a statement."""
    for i in range(0, len(rows), ASKS_A_STATEMENT):
        chunk = rows[i:i + ASKS_A_STATEMENT]
        db.execute(fill(ASK, len(chunk), 3), [v for r in chunk for v in r])


def forget_asks(db: Any, before_us: int) -> None:
    db.execute(FORGET_ASKS, [before_us])


def answers(db: Any, since_us: int) -> list[tuple[str, int, str]]:
    """(node, received_us, payload) of the nodes' answers kept after ``since_us``."""
    return [(r[0], r[1], r[2]) for r in db.execute(ANSWERS, [since_us]).fetchall()]


def asked_at(db: Any, node: str, nonce: str) -> int | None:
    """When the office sent the node the request of ``nonce`` (None: it did not, or forgot it)."""
    return _one(db, ASKED_AT, [node, nonce])  # type: ignore[no-any-return]


def add_sample(db: Any, node: str, sent_us: int, node_us: int, received_us: int, mono_us: int | None,
               boot: str | None) -> None:
    db.execute(SAMPLE, [node, sent_us, node_us, received_us, mono_us, boot])


def answered(db: Any, node: str, nonce: str) -> None:
    """The request of ``nonce`` answered: one answer a question."""
    db.execute(ANSWERED, [node, nonce])


def node_key(db: Any, node: str) -> str | None:
    """The node's key the verifier took from its births (nodes.public_key)."""
    row = next(db.query(NODE_KEY, [node]), None)
    return None if row is None else row["public_key"]


def sent_between_readings(db: Any, node: str, lo: int, hi: int) -> tuple[int, int] | None:
    """The first and last sending of the node's samples read at [lo, hi] of its clock."""
    got = db.execute(READ_BETWEEN, [node, lo, hi]).fetchone()
    return None if got is None or got[0] is None else (got[0], got[1])


def read_around(db: Any, node: str, lo: int, hi: int) -> tuple[int | None, int | None]:
    """The sending of the node's sample read last below ``lo`` of its clock and of the one read first
    above ``hi`` (None: none): the samples that bracket readings at [lo, hi], however far."""
    return _one(db, READ_BELOW, [node, lo]), _one(db, READ_ABOVE, [node, hi])


def sent_before(db: Any, node: str, sent_us: int) -> int | None:
    return _one(db, SENT_BEFORE, [node, sent_us])  # type: ignore[no-any-return]


def sent_after(db: Any, node: str, sent_us: int) -> int | None:
    return _one(db, SENT_AFTER, [node, sent_us])  # type: ignore[no-any-return]


def first_sent_from(db: Any, node: str, sent_us: int) -> int | None:
    return _one(db, SENT_FROM, [node, sent_us])  # type: ignore[no-any-return]


def first_read_from(db: Any, node: str, node_us: int) -> int | None:
    return _one(db, READ_FROM, [node, node_us])  # type: ignore[no-any-return]


def samples(db: Any, node: str, first: int, last: int) -> list[tuple[Any, ...]]:
    """(sent_us, node_us, received_us, boot, mono_us) of the node's samples sent at [first, last]."""
    return [tuple(r) for r in db.execute(SAMPLES, [node, first, last]).fetchall()]


def newest_reading(db: Any, node: str) -> int | None:
    """The node's clock as its newest sample read it."""
    return _one(db, NEWEST_READING, [node])  # type: ignore[no-any-return]


def readings(db: Any, node: str) -> tuple[int, int] | None:
    """The lowest and highest reading of the node's samples (None: it has none)."""
    got = db.execute(READINGS, [node]).fetchone()
    return None if got is None or got[0] is None else (got[0], got[1])


def any_before(db: Any, node: str, sent_us: int) -> bool:
    return db.execute(OLDER, [node, sent_us]).fetchone() is not None


def waiting_marks(db: Any, node: str, after_us: int) -> tuple[Any, ...]:
    """The lowest start, end and destruction of the node's "unverified" destructions destroyed after ``after_us``."""
    return tuple(db.execute(WAITING, [node, after_us]).fetchone() or ())


def prune(db: Any, node: str, cut: int, batch: int) -> int:
    """The node's oldest samples sent before ``cut`` deleted, ``batch`` at most; how many."""
    return int(db.execute(PRUNE, [node, node, cut, batch]).rowcount or 0)


def node_names(db: Any) -> list[str]:
    """Every node the office knows, in order."""
    return [r["node"] for r in db.query(NODES)]
