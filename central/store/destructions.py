"""The destructions in the store (design/0141, 0310): the statements that judge one again when the
evidence it waited on comes (central/verifier/rejudge.py, moved here in issue 80), each a named
function over the store's connection (``db``, in its caller's transaction). Blocking: the
verifier's thread."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from central.store.held import fill

# by the partial index destructions_waiting (schema 12, design/0420): the verdict a literal, as the index's
WAITING = ("SELECT seq, n FROM destructions WHERE node = ? AND verdict = 'unverified' AND destroyed_us BETWEEN ? AND ?"
           " ORDER BY destroyed_us, seq, n LIMIT ?")
SAID = "SELECT seq, received_us, payload FROM messages WHERE node = ? AND seq IN ({marks})"
SITE_NAME = "SELECT site, name FROM nodes WHERE node = ?"
VERDICT = "UPDATE destructions SET verdict = ? WHERE node = ? AND seq = ? AND n = ?"
DAY_LESS = ("UPDATE destruction_days SET segments = segments - 1, bytes = bytes - ? WHERE node = ? AND camera = ?"
            " AND day = ? AND reason = ? AND verdict = ?")
DAY_MORE = ("INSERT INTO destruction_days (node, camera, day, reason, verdict, segments, bytes, youngest_days)"
            " VALUES (?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (node, camera, day, reason, verdict) DO UPDATE SET"
            " segments = destruction_days.segments + 1, bytes = destruction_days.bytes + excluded.bytes")
DAYS_EMPTY = "DELETE FROM destruction_days WHERE node = ? AND verdict = ? AND segments <= 0"
DAY_LEFT = "SELECT 1 FROM destruction_days WHERE node = ? AND camera = ? AND day = ? AND verdict = ?"
FINDING_GONE = "DELETE FROM findings WHERE key = ?"
SEQS_A_STATEMENT = 300


def waiting(db: Any, node: str, from_us: int, to_us: int, most: int) -> list[tuple[int, int]]:
    """(seq, n) of the node's "unverified" destructions (those a clock sample may settle) destroyed at
    [from, to] of its clock, ``most`` at most, the earliest destroyed first."""
    return [(r[0], r[1]) for r in db.execute(WAITING, [node, from_us, to_us, most]).fetchall()]


def said(db: Any, node: str, seqs: Sequence[int]) -> list[tuple[int, int, str]]:
    """(seq, received_us, payload) of the node's messages ``seqs``, a few hundred a statement."""
    out: list[tuple[int, int, str]] = []
    for i in range(0, len(seqs), SEQS_A_STATEMENT):
        chunk = list(seqs[i:i + SEQS_A_STATEMENT])
        out += [(r[0], r[1], r[2]) for r in db.execute(fill(SAID, len(chunk)), [node, *chunk]).fetchall()]
    return out


def site_name(db: Any, node: str) -> dict[str, Any] | None:
    """The node's site and name (None: no such node)."""
    return next(db.query(SITE_NAME, [node]), None)


def judged(db: Any, node: str, seq: int, n: int, verdict: str) -> None:
    """The ``n``-th destruction of the node's message ``seq`` given ``verdict``."""
    db.execute(VERDICT, [verdict, node, seq, n])


def day_moved(db: Any, node: str, camera: str, day: str, reason: Any, was: str, verdict: str, size: Any,
              youngest_days: float) -> None:
    """One destruction of a camera-day moved from verdict ``was`` to ``verdict`` in its summary."""
    db.execute(DAY_LESS, [size, node, camera, day, reason, was])
    db.execute(DAY_MORE, [node, camera, day, reason, verdict, size, youngest_days])


def drop_empty_days(db: Any, node: str, verdict: str) -> None:
    db.execute(DAYS_EMPTY, [node, verdict])


def day_left(db: Any, node: str, camera: str, day: str, verdict: str) -> bool:
    """Whether the camera-day still has a destruction of ``verdict``."""
    return db.execute(DAY_LEFT, [node, camera, day, verdict]).fetchone() is not None


def forget_finding(db: Any, key: str) -> None:
    """The finding of ``key`` gone: a camera-day's warning settled (never footage: a finding row)."""
    db.execute(FINDING_GONE, [key])


# the auditor's month (central/report/month.py, design/0141, 0273): by the (site, destroyed_us) index and the
# camera-day summary, never by scanning the messages
MONTH = "FROM destructions WHERE site = ? AND destroyed_us >= ? AND destroyed_us < ?"
MONTH_TOTAL = "SELECT coalesce(sum(segments), 0) AS n FROM destruction_days WHERE node IN ({marks}) AND day >= ? AND day < ?"
MONTH_ORDER = " ORDER BY destroyed_us, node, seq, n"


def _month(site: str, start_us: int, end_us: int, camera: str | None, verdict: str | None) -> tuple[str, list[Any]]:
    """The site's destructions at [start, end) of ``camera`` and ``verdict`` (None: any; a verdict
    but "ok": not ok, and that one)."""
    where, args = MONTH, [site, start_us, end_us]
    if camera is not None:
        where += " AND camera = ?"
        args.append(camera)
    if verdict is not None:
        where += " AND verdict <> 'ok'" if verdict != "ok" else " AND verdict = 'ok'"
        if verdict != "ok":
            where += " AND verdict = ?"
            args.append(verdict)
    return where, args


def month_total(db: Any, nodes: Sequence[str], first_day: str, end_day: str, camera: str | None,
                verdict: str | None) -> int:
    """The destructions of ``nodes`` on local days [first_day, end_day) of ``camera`` and ``verdict``
    (None: any), from the camera-day summary."""
    sql, args = fill(MONTH_TOTAL, len(nodes)), [*nodes, first_day, end_day]
    for col, val in (("camera", camera), ("verdict", verdict)):
        if val is not None:
            sql += f" AND {col} = ?"
            args.append(val)
    return int(next(db.query(sql, args))["n"])


def month_page(db: Any, site: str, start_us: int, end_us: int, camera: str | None, verdict: str | None,
               limit: int, offset: int) -> list[dict[str, Any]]:
    """One page of the site's destructions at [start, end), oldest first."""
    where, args = _month(site, start_us, end_us, camera, verdict)
    return list(db.query(f"SELECT * {where}{MONTH_ORDER} LIMIT {int(limit)} OFFSET {int(offset)}", args))


def month_each(store: Any, site: str, start_us: int, end_us: int, camera: str | None,
               verdict: str | None) -> Iterator[dict[str, Any]]:
    """Every destruction of the site at [start, end), oldest first, as they are read (the store's `stream`)."""
    where, args = _month(site, start_us, end_us, camera, verdict)
    return store.stream(f"SELECT * {where}{MONTH_ORDER}", args)  # type: ignore[no-any-return]
