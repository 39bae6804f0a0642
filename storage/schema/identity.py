"""Ids that are never given twice (invariant 11; design/0096), migration m019 (storage/schema/migrations.py),
frozen with it: a later change is a new migration, never an edit here.

An `INTEGER PRIMARY KEY` takes max(rowid) + 1, so once the newest rows are deleted (every segment
destroyed, for one) the next insert gets their ids again, and `destructions.segment_id = 1` would
name two different pieces of footage. `AUTOINCREMENT` keeps the highest id ever given in
`sqlite_sequence` and never goes below it. SQLite cannot add it with ALTER TABLE: the table is
rebuilt under the same name, every row keeping its id, and the sequence is seeded with the highest
id the catalog names anywhere (a destroyed newest segment is named only by its destruction, its
garbage row, its correction or an audit record).

The tables whose rows are deleted and whose ids other records name: `segment_rows` (destroyed by
retention; named by destructions, restamps, audit records, exports' manifests, the office's
store) and `motion_events` (destroyed with their footage; their ids go over MQTT and into the
`events.destroyed` audit record). Every other table with an integer id keeps its rows for ever
(holds, requests, grants, exports, alarms, passes, inspections, maintenance: purged requests are
blanked, not deleted), so its ids cannot come back.
"""

from __future__ import annotations

import sqlite_utils

# (table, the highest id named elsewhere: SQL returning one value or NULL each)
NAMED_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "segment_rows": (
        "SELECT max(segment_id) FROM destructions",
        "SELECT max(segment_id) FROM garbage",
        "SELECT max(segment_id) FROM restamps",
        "SELECT max(json_extract(detail, '$.last_id')) FROM audit WHERE action = 'segments.restamp'",
        "SELECT max(j.value) FROM audit a, json_each(a.detail, '$.ids') j "
        "WHERE a.action IN ('segments.flagged', 'segments.flag_resolved')",
    ),
    "motion_events": (
        "SELECT max(j.value) FROM audit a, json_each(a.detail, '$.ids') j WHERE a.action = 'events.destroyed'",
    ),
}


def highest_named(db: sqlite_utils.Database, table: str) -> int:
    """The highest id of `table` the catalog names anywhere, its own rows included (0: none)."""
    found: list[int] = [int(next(db.query(f"SELECT coalesce(max(id), 0) AS n FROM {table}"))["n"])]
    for sql in NAMED_ELSEWHERE[table]:
        value = next(db.conn.execute(sql))[0]
        if isinstance(value, (int, float)):
            found.append(int(value))
    return max(found)


def rebuild_autoincrement(db: sqlite_utils.Database, table: str) -> None:
    """`table` again, its `id INTEGER PRIMARY KEY` now AUTOINCREMENT, every row with its id, its
    indexes and the views over it as they were; the sequence at the highest id named anywhere.
    In the migration's transaction (execute only: executescript would commit first)."""
    old_sql = next(db.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]))["sql"]
    marker = "id INTEGER PRIMARY KEY"
    if marker not in old_sql:
        raise RuntimeError(f"{table}: no '{marker}' in its schema")  # i18n: a developer's (a migration's own check)
    new_sql = old_sql.replace(marker, marker + " AUTOINCREMENT", 1).replace(
        f"CREATE TABLE {table}", f"CREATE TABLE {table}_new", 1)
    indexes = [r["sql"] for r in db.query("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                          "AND sql IS NOT NULL", [table])]
    views = [(r["name"], r["sql"]) for r in db.query("SELECT name, sql FROM sqlite_master WHERE type = 'view'")]
    views = [(name, sql) for name, sql in views if table in sql]
    top = highest_named(db, table)
    secure = next(db.query("PRAGMA secure_delete"))["secure_delete"]
    db.execute("PRAGMA secure_delete=FAST")  # the same rows are written again: zeroing the old pages is waste
    for name, _sql in views:
        db.execute(f"DROP VIEW {name}")
    db.execute(new_sql)
    db.execute(f"INSERT INTO {table}_new SELECT * FROM {table} ORDER BY id")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for sql in indexes:
        db.execute(sql)
    for _name, sql in views:
        db.execute(sql)
    db.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [top, table])
    if not db.conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = ?", [table]).fetchone():
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [table, top])
    db.execute(f"PRAGMA secure_delete={secure}")


def m019(db: sqlite_utils.Database) -> None:
    for table in NAMED_ELSEWHERE:
        rebuild_autoincrement(db, table)
