"""Today's catalog schema: every migration applied to an empty catalog, read back as the SQL that
makes it (docs/ref/catalog-schema.md, written by `python -m refdocs`, as Moonfire keeps its
schema.sql). A new migration changes the page; tests/test_docs.py fails until it is rewritten.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from storage.schema.migrations import migrations


def applied() -> sqlite_utils.Database:
    """An empty catalog in memory with every migration applied, as storage.catalog.open_db does."""
    db = sqlite_utils.Database(sqlite3.connect(":memory:", isolation_level=None), execute_plugins=False)
    db.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db)
    return db


def last_migration(db: sqlite_utils.Database) -> str:
    return str(db.execute("SELECT name FROM _sqlite_migrations ORDER BY id DESC LIMIT 1").fetchone()[0])


def sql(db: sqlite_utils.Database | None = None) -> str:
    """Each table with its indexes and triggers, tables by name, then the views; one statement a
    paragraph, as SQLite keeps it (a column a later migration added sits at its table's end)."""
    db = db or applied()
    rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                      " AND name NOT LIKE 'sqlite_%' ORDER BY tbl_name, type <> 'table', name").fetchall()
    order = {"table": 0, "index": 1, "trigger": 1, "view": 2}
    rows.sort(key=lambda r: (order[r[0]] == 2, r[2], order[r[0]], r[1]))
    return "".join(f"{' '.join(text.split()) if kind != 'table' else _table(text)};\n\n"
                   for kind, _name, _table_name, text in rows).rstrip("\n") + "\n"


def _table(text: str) -> str:
    """A CREATE TABLE with its own line breaks, each line's indent made even."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return "\n".join(lines[:1] + ["    " + line if line != ")" else line for line in lines[1:]])
