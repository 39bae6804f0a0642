"""The central office's store's reads (split from central/store/store.py, issue 57): what the dashboard,
the auditor's month (a section at a time, through cursors: central/report/month.py, design/0273), the
report and the CLI read, in SQLite's dialect (central/store/pgstore.py translates, and streams through a
server-side cursor). A mixin of central/store/store.py's Store. Blocking: call from a thread.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlite_utils

from central import finding_words


# the nodes with a message to verify, an index probe a node (the partial index messages_todo) instead
# of a read of every such message (issue 53)
TODO_NODES = ("WITH RECURSIVE todo(node) AS (SELECT min(node) FROM messages WHERE verified = 0 UNION ALL"
              " SELECT (SELECT min(node) FROM messages WHERE verified = 0 AND node > todo.node) FROM todo"
              " WHERE todo.node IS NOT NULL) SELECT node FROM todo WHERE node IS NOT NULL")
UNCHECKED_BIRTHS = " UNION SELECT node FROM births WHERE checked = 0"


class Reads:
    """A mixin of central/store/store.py's Store: its connection is its state."""

    db: sqlite_utils.Database

    def todo_nodes(self, births: bool = True) -> list[str]:
        """The nodes with a message to verify, and with `births` those with a birth not checked;
        the verifier asks every pass (central/store/pgstore.py: of its own share under run)."""
        return [r["node"] for r in self.db.query(TODO_NODES + (UNCHECKED_BIRTHS if births else ""))]

    def stream(self, sql: str, params: list[Any], batch: int = 5000) -> Iterator[dict[str, Any]]:
        """The rows of ``sql`` as dicts, as they are read: never all of them in memory (central/store/pgstore.py:
        a server-side cursor, ``batch`` rows a round trip)."""
        cur = self.db.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row))

    # the auditor's month, a section at a time (central/report/month.py, design/0273): cursors, never a list
    def reading(self) -> contextlib.AbstractContextManager[Any]:
        """Reads that keep several cursors open side by side (central/report/report.py `each_camera_day`): one
        transaction on PostgreSQL (central/store/pgstore.py); nothing on SQLite."""
        return contextlib.nullcontext()

    def audit_accesses(self, node: str, actions: Sequence[str], start_us: int, end_us: int, *,
                       by_time: bool = False) -> Iterator[dict[str, Any]]:
        """The node's audit records of ``actions`` at [start, end), in its order (``by_time``: by
        their time), as they are read."""
        ph = ",".join("?" * len(actions))
        return self.stream(f"SELECT * FROM audit WHERE node = ? AND action IN ({ph}) AND at_us >= ? AND at_us < ?"
                           f" ORDER BY {'at_us, ' if by_time else ''}seq_local", [node, *actions, start_us, end_us])

    def audit_naming(self, node: str, action: str, field: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """The node's ``action`` records whose detail's ``field`` ("grant" or "request") is one of
        ``values`` (JSON values: a number is not its text; at most 500), in its order, by the
        audit_grant and audit_request indexes: what a batch of accesses is judged by
        (central/report/report.py, design/0287)."""
        if field not in ("grant", "request"):
            raise ValueError(field)
        if not values:
            return []
        # SQLite's planner, without statistics, reads every record of the node by its key instead
        # (PostgreSQL's is its own: central/store/pgstore.py)
        named = " OR ".join([f"json_extract(detail, '$.{field}') = ?"] * len(values))
        return list(self.db.query(f"SELECT * FROM audit INDEXED BY audit_{field} WHERE node = ? AND action = ?"
                                  f" AND ({named}) ORDER BY seq_local", [node, action, *values]))

    def alarms_between(self, node: str, start_us: int, end_us: int) -> Iterator[dict[str, Any]]:
        """The node's alarms open at some time of [start, end), oldest first, as they are read."""
        return self.stream("SELECT * FROM alarms WHERE node = ? AND raised_us < ? AND"
                           " (cleared_us IS NULL OR cleared_us >= ?) ORDER BY raised_us, id", [node, end_us, start_us])

    def destruction_days(self, node: str, first_day: str, last_day: str, *,
                         stream: bool = False) -> Iterator[dict[str, Any]]:
        """The node's camera-day summaries of destructions (verdict, reason) of local days [first,
        last], by day (``stream``: as they are read)."""
        sql, params = ("SELECT * FROM destruction_days WHERE node = ? AND day >= ? AND day <= ? ORDER BY day, camera",
                       [node, first_day, last_day])
        return self.stream(sql, params) if stream else self.db.query(sql, params)

    def destroyed_cameras(self, node: str, first_day: str, last_day: str) -> list[str]:
        """The cameras the node destroyed footage of on local days [first, last]."""
        return [r["camera"] for r in self.db.query("SELECT DISTINCT camera FROM destruction_days WHERE node = ? AND"
                                                   " day >= ? AND day <= ? ORDER BY camera", [node, first_day, last_day])]

    def inspection_runs(self, node: str, start_us: int, end_us: int) -> Iterator[dict[str, Any]]:
        """The node's inspection runs at [start, end), oldest first."""
        return self.db.query("SELECT * FROM inspections WHERE node = ? AND ran_us >= ? AND ran_us < ? ORDER BY ran_us",
                             [node, start_us, end_us])

    def findings_between(self, site: str, start_us: int, end_us: int,
                         kinds: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """The site's findings about [start, end) (of ``kinds``: all), newest first as ``findings()``
        lists them, as they are read, without the 100,000 rows' limit."""
        sql = "SELECT * FROM findings WHERE site = ? AND coalesce(about_us, found_us) >= ? AND coalesce(about_us, found_us) < ?"
        params: list[Any] = [site, start_us, end_us]
        if kinds is not None:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params += list(kinds)
        for r in self.stream(sql + " ORDER BY id DESC", params):
            yield finding_words.read(r)

    def nodes(self, site: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM nodes", []
        if site:
            sql, params = sql + " WHERE site = ?", [site]
        return list(self.db.query(sql + " ORDER BY node", params))

    def retained_of(self, node: str) -> dict[str, Any]:
        """{"status": text, "birth": dict, "state": dict, "cameras": {id: dict}} as last said."""
        out: dict[str, Any] = {"status": None, "birth": None, "state": None, "cameras": {}}
        for r in self.db.query("SELECT topic, what, payload, received_us FROM retained WHERE node = ?", [node]):
            if r["what"] == "status":
                out["status"] = r["payload"] or None
                continue
            try:
                body = json.loads(r["payload"]) if r["payload"] else None
            except ValueError:
                body = None
            if r["what"] == "camera":
                out["cameras"][r["topic"].rsplit("/", 2)[-2]] = body
            else:
                out[r["what"]] = body
        return out

    def findings(self, *, site: str | None = None, node: str | None = None, severity: str | None = None,
                 since_us: int | None = None, until_us: int | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM findings WHERE 1 = 1", list[str | int]()
        for col, val in (("site", site), ("node", node), ("severity", severity)):
            if val:
                sql += f" AND {col} = ?"
                params.append(val)
        if since_us is not None:
            sql += " AND coalesce(about_us, found_us) >= ?"
            params.append(since_us)
        if until_us is not None:
            sql += " AND coalesce(about_us, found_us) < ?"
            params.append(until_us)
        rows = self.db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        return [finding_words.read(r) for r in rows]

    def finding_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.db.query("SELECT node, severity, count(*) AS n FROM findings GROUP BY node, severity"):
            out.setdefault(r["node"], {})[r["severity"]] = r["n"]
        return out

    def open_alarms(self, site: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT a.* FROM alarms a JOIN nodes n ON n.node = a.node WHERE a.cleared_us IS NULL"
        params: list[Any] = []
        if site:
            sql += " AND n.site = ?"
            params.append(site)
        return list(self.db.query(sql + " ORDER BY a.raised_us", params))

    def rejected(self, node: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Messages turned away at ingest (schema, seq, quota), newest first."""
        sql, params = "SELECT * FROM rejected", []
        if node:
            sql, params = sql + " WHERE node = ?", [node]
        return list(self.db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]))

    def unverified(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM messages WHERE verified = 0").fetchone()[0])

    def heads(self, node: str) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM heads WHERE node = ? AND valid = 1 ORDER BY seq_local, at_us",
                                  [node]))

    def audit_hash(self, node: str, seq_local: int) -> str | None:
        row = self.db.execute("SELECT hash FROM audit WHERE node = ? AND seq_local = ?", [node, seq_local]).fetchone()
        return None if row is None else row[0]
