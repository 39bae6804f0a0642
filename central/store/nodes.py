"""The nodes' rows and births in the store, as the office's commands and reports read and write
them (central/cli.py `head`, central/report/report.py, central/ops.py), each a named function over
the store's connection (``db``); moved out of those (issue 80). Blocking: call from a thread."""

from __future__ import annotations

from typing import Any

from central.store.passes import NODE

KEY = "SELECT public_key FROM nodes WHERE node = ?"
ENROL = "INSERT INTO nodes (node, site, name, first_us, last_us, public_key) VALUES (?, ?, ?, ?, ?, ?)"
SET_KEY = "UPDATE nodes SET public_key = ? WHERE node = ?"
SET_HEAD = "UPDATE nodes SET head_seq = ?, head_hash = ?, head_at_us = ? WHERE node = ?"
NEWEST_BIRTH = "SELECT payload FROM births WHERE node = ? ORDER BY ts_us DESC LIMIT 1"
BACKLOG = "SELECT count(*), min(received_us) FROM messages WHERE verified = 0"


def known(db: Any, node: str) -> dict[str, Any] | None:
    """The node's row ({"public_key"}; None: the office has none)."""
    return next(db.query(KEY, [node]), None)


def row(db: Any, node: str) -> dict[str, Any] | None:
    """The node's whole row (None: the office has none)."""
    return next(db.query(NODE, [node]), None)


def enrol(db: Any, node: str, site: str, name: str, now_us: int, key: str) -> None:
    """A row for a node the office has heard nothing of, with its key (a head given on paper)."""
    db.execute(ENROL, [node, site, name, now_us, now_us, key])


def set_key(db: Any, node: str, key: str) -> None:
    db.execute(SET_KEY, [key, node])


def set_head(db: Any, node: str, head: dict[str, Any]) -> None:
    """The node's newest valid head (seq, hash, at_us)."""
    db.execute(SET_HEAD, [head["seq"], head["hash"], head["at_us"], node])


def newest_birth(db: Any, node: str) -> str | None:
    """The payload of the node's newest birth (None: none)."""
    got = next(db.query(NEWEST_BIRTH, [node]), None)
    return None if got is None else got["payload"]


def backlog(db: Any) -> tuple[int, int | None]:
    """(messages not verified yet, the oldest one's receipt)."""
    got = db.execute(BACKLOG).fetchone()
    return int(got[0]), got[1]
