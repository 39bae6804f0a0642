"""A migration's SQL script run inside its transaction, split into statements in one pass.

sqlite-utils' `Database.executescript` inside a transaction (where every migration runs) splits the script with
`_iter_complete_sql_statements`, which joins the text read so far and asks sqlite3.complete_statement after every
character: quadratic in a statement's length, about half of a new catalog's making (0.08 s of 0.18 s of CPU, on
every `edged init-data` and every test daemon's fresh data folder; design/0514). A statement can only become complete
at a `;` (sqlite3_complete wants the last token a semicolon), so asking there alone yields the same statements.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import sqlite_utils


def statements(sql: str) -> Iterator[str]:
    """The script's statements, stripped, as sqlite-utils' splitter gives them (the last without its `;` too)."""
    start = 0
    at = sql.find(";")
    while at != -1:
        piece = sql[start:at + 1].strip()
        if piece and sqlite3.complete_statement(piece):
            yield piece
            start = at + 1
        at = sql.find(";", at + 1)
    rest = sql[start:].strip()
    if rest:
        yield rest


def run(db: sqlite_utils.Database, sql: str) -> None:
    """`db.executescript(sql)`: statement by statement inside an open transaction (sqlite3's own executescript
    would commit it first), else sqlite3's executescript."""
    if not db.conn.in_transaction:
        db.conn.executescript(sql)
        return
    cursor = db.conn.cursor()
    for statement in statements(sql):
        cursor.execute(statement)
