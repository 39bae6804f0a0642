"""SQLite's SQL, as central/store/store.py, the verifier and the reports write it, in PostgreSQL's
(`translate`, `translate_ddl`), and the months the office's messages are partitioned by on
PostgreSQL (design/0140): split from central/store/pgstore.py (issue 57, design/0283); central/store/pgconn.py
runs what is translated here on the connection. Pure: no connection, no clock.
"""

from __future__ import annotations

import functools
import os
import re
from datetime import datetime, timezone

from central.store.store_schema import STEPS

EDGE_US = 600_000_000  # how near a month's end (either side) the instances take turns: their clocks' skew and more
_FILLFACTOR = int(os.environ.get("EDGED_CENTRAL_PG_FILLFACTOR", "50"))  # retained, nodes (the benchmark varies it)
_OR_IGNORE = re.compile(r"\s*INSERT OR IGNORE INTO", re.I)
_JSON = re.compile(r"json_extract\((\w+),\s*'\$\.(\w+)'\)")  # the schema's expression indexes (translate_ddl)
# the office's month of a row made by a statement that does not name it (an instance of the
# version before, during `migrate`; design/0140): the server's clock, UTC, as YYYYMM
MONTH_NOW = ("(extract(year from (now() AT TIME ZONE 'UTC'))::bigint * 100"
             " + extract(month from (now() AT TIME ZONE 'UTC'))::bigint)")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """A held statement (central/store/held.py) as psycopg takes it: its placeholders (? as %s, a
    percent escaped), and SQLite's INSERT OR IGNORE as PostgreSQL's ON CONFLICT DO NOTHING: the one
    small, explicit translation left (issue 80, design/0351; SQLite's OR IGNORE skips a row that
    breaks any constraint, PostgreSQL's only one that conflicts, so the two are not one statement
    both take). Where the engines spell a statement apart (a JSON field compared, the larger of two
    values) the store declares both forms side by side; tests/test_central_statements.py runs every
    held statement on both engines. Remembered: the verifier sends the same few hundred all day."""
    out = sql.replace("%", "%%").replace("?", "%s")
    if _OR_IGNORE.match(out):
        out = _OR_IGNORE.sub("INSERT INTO", out, count=1) + " ON CONFLICT DO NOTHING"
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
