"""SQLite's SQL, as central/store/store.py, the verifier and the reports write it, in PostgreSQL's
(`translate`, `translate_ddl`), and the months the office's messages are partitioned by on
PostgreSQL (design/0140): split from central/store/pgstore.py (issue 57, design/0283); central/store/pgconn.py
runs what is translated here on the connection. Pure: no connection, no clock.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from psycopg.types.json import Jsonb

from central.store.store_schema import STEPS

EDGE_US = 600_000_000  # how near a month's end (either side) the instances take turns: their clocks' skew and more
_FILLFACTOR = int(os.environ.get("EDGED_CENTRAL_PG_FILLFACTOR", "50"))  # retained, nodes (the benchmark varies it)
_MAX2 = re.compile(r"\bmax\(([^(),]+),([^(),]+)\)", re.I)
_MIN2 = re.compile(r"\bmin\(([^(),]+),([^(),]+)\)", re.I)
_JSON_EQ = re.compile(r"json_extract\((\w+),\s*'\$\.(\w+)'\)\s*=\s*\?")
_JSON = re.compile(r"json_extract\((\w+),\s*'\$\.(\w+)'\)")
# the office's month of a row made by a statement that does not name it (an instance of the
# version before, during `migrate`; design/0140): the server's clock, UTC, as YYYYMM
MONTH_NOW = ("(extract(year from (now() AT TIME ZONE 'UTC'))::bigint * 100"
             " + extract(month from (now() AT TIME ZONE 'UTC'))::bigint)")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite's dialect, as the store and the verifier write it, in PostgreSQL's (remembered: the
    verifier sends the same few hundred statements all day)."""
    # a JSON field compared with a value: as JSON (the value bound as jsonb, see json_params), so
    # a number matches the number and not its text, as SQLite's json_extract; ->> (text) against a
    # number had no operator, and every access with a grant failed its judging. The text of both
    # sides first: the expression indexes (audit_grant, audit_request) are on ->> (issue 53: with
    # the jsonb comparison alone each lookup read every access record of the node)
    out = _JSON_EQ.sub(r"((\1::jsonb ->> '\2') = (?::jsonb #>> '{}') AND (\1::jsonb -> '\2') = ?)", sql)
    out = out.replace("%", "%%").replace("?", "%s")
    out = _JSON.sub(r"(\1::jsonb ->> '\2')", out)
    out = _MAX2.sub(r"greatest(\1,\2)", out)
    out = _MIN2.sub(r"least(\1,\2)", out)  # destruction_days' youngest: every destruction failed on PostgreSQL
    if re.match(r"\s*INSERT OR IGNORE INTO", out, re.I):
        out = re.sub(r"INSERT OR IGNORE INTO", "INSERT INTO", out, count=1, flags=re.I) + " ON CONFLICT DO NOTHING"
    return out


def json_params(sql: str, params: Sequence[Any]) -> list[Any]:
    """The parameters of ``sql`` (SQLite's dialect), those compared with a JSON field as jsonb."""
    at = {sql.count("?", 0, m.end()) - 1 for m in _JSON_EQ.finditer(sql)}
    if not at:
        return list(params)
    out: list[Any] = []
    for i, p in enumerate(params):
        out += [Jsonb(p), Jsonb(p)] if i in at else [p]  # translate's two comparisons each bind it
    return out


def translate_ddl(sql: str) -> str:
    """A CREATE/ALTER of the SQLite schema for PostgreSQL: times in microseconds need 64 bits."""
    out = sql.replace(" WITHOUT ROWID", "").replace("id INTEGER PRIMARY KEY", "id BIGSERIAL PRIMARY KEY")
    out = re.sub(r"\bINTEGER\b", "BIGINT", out)
    out = _JSON.sub(r"(\1::jsonb ->> '\2')", out)
    if out.lstrip().startswith("CREATE TABLE IF NOT EXISTS messages ("):
        # monthly by the office's receipt (design/0140): the key must hold the partition key
        out = out.replace("PRIMARY KEY (node, seq)", f"month BIGINT NOT NULL DEFAULT {MONTH_NOW},"
                          " PRIMARY KEY (node, seq, month)") + " PARTITION BY RANGE (month)"
    elif re.match(r"\s*CREATE TABLE IF NOT EXISTS (retained|nodes) \(", out):
        out += f" WITH (fillfactor = {_FILLFACTOR})"  # rewritten each batch: room on the page for HOT updates
    elif re.match(r"\s*INSERT OR IGNORE INTO", out):  # a step that fills a new table from the messages
        out = out.replace("INSERT OR IGNORE INTO", "INSERT INTO", 1) + " ON CONFLICT DO NOTHING"
    return out


def month_number(us: int) -> int:
    """The UTC month of ``us`` (microseconds) as YYYYMM: a message's month is its receipt's."""
    d = datetime.fromtimestamp(max(us, 0) / 1e6, timezone.utc)
    return d.year * 100 + d.month


def month_before(month: int) -> int:
    return month - 1 if month % 100 > 1 else month - 100 + 11


def month_after(month: int) -> int:
    return month + 1 if month % 100 < 12 else month + 100 - 11


def near_month_edge(us: int) -> bool:
    """Within EDGE_US of a UTC month's start: two instances may file one message in both months."""
    return month_number(us - EDGE_US) != month_number(us + EDGE_US)


def partition_of(month: int) -> str:
    return f"messages_{month // 100:04d}_{month % 100:02d}"


def repartition_steps() -> list[str]:
    """The statements that move a store's messages from partitions by seq (before design/0140) into
    partitions by receipt month, in one transaction: the old tables renamed out of the way, the new
    ones made, every live row copied with its month, the old ones dropped."""
    month_of = ("(extract(year from to_timestamp(received_us / 1e6) AT TIME ZONE 'UTC')::bigint * 100"
                " + extract(month from to_timestamp(received_us / 1e6) AT TIME ZONE 'UTC')::bigint)")
    cols = "node, seq, kind, ts_us, received_us, payload, verified"
    return [
        "ALTER TABLE messages RENAME TO messages_by_seq",
        "ALTER INDEX IF EXISTS messages_todo RENAME TO messages_by_seq_todo",
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT c.relname FROM pg_inherits i JOIN pg_class c"
        " ON c.oid = i.inhrelid WHERE i.inhparent = 'messages_by_seq'::regclass LOOP"
        " EXECUTE format('ALTER TABLE %I RENAME TO %I', r.relname, 'by_seq_' || r.relname); END LOOP; END $$",
        translate_ddl(STEPS[1][0]),
        translate_ddl(STEPS[2][0]),
        translate_ddl(STEPS[2][2]),
        "CREATE TABLE IF NOT EXISTS messages_default PARTITION OF messages DEFAULT",
        f"DO $$ DECLARE r record; BEGIN FOR r IN SELECT DISTINCT {month_of} AS m FROM messages_by_seq LOOP"
        " EXECUTE format('CREATE TABLE messages_%s_%s PARTITION OF messages FOR VALUES FROM (%s) TO (%s)',"
        " r.m / 100, lpad((r.m % 100)::text, 2, '0'), r.m, r.m + 1); END LOOP; END $$",
        f"INSERT INTO messages ({cols}, month) SELECT {cols}, {month_of} FROM messages_by_seq",
        "DROP TABLE messages_by_seq",
    ]
