"""Every statement the office's store holds, compiled on both engines (issue 80, design/0351): each
module constant of central/store/ that is an SQL statement (or the head of a multi-row INSERT, or
a template central/store/held.py completes) is compiled against a store made at this schema
version, on SQLite (EXPLAIN: parsed and planned, not run) and on a real PostgreSQL (PREPARE:
parsed, its tables, columns and types resolved, not run; a statement that changes the schema is
run in a transaction rolled back), each in the form that engine is sent (on PostgreSQL after
central/store/pgdialect.py `translate`). A statement one engine refuses fails here, not first on
a site's PostgreSQL.

PostgreSQL's own statements are declared so: the pg*.py modules' and a module's whose DIALECT is
"postgresql", and the names a module lists in POSTGRESQL_ONLY; SQLite's own are its PRAGMAs and
`INDEXED BY`. The schema's steps (store_schema.STEPS) are not here: every store a test makes runs
them on its engine, and tests/test_central_postgres.py migrates a store of each version.
"""

from __future__ import annotations

import importlib
import itertools
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from central.store import held, pgstore
from central.store.pgdialect import translate
from central.store.store import Store
from tests.support.catalog import CENTRAL_ARCHIVING_TABLE, CENTRAL_REFUSED_BY_POSTGRESQL, CENTRAL_REFUSED_BY_SQLITE
from tests.support.postgres import pg_server  # noqa: F401  (pg_server: a fixture)
from tests.test_layers import ROOT, SQL

STORE = ROOT / "central" / "store"
# what a template's other names stand for here (a table and columns the schema has)
NAMES = {"cols": "node, seq", "source": "archiving_test", "part": "messages_default", "held": "archiving_held",
         "table": "destructions", "before": "202601", "after": "202603"}


def _width(sql: str) -> int:
    m = re.search(r"INSERT (?:OR \w+ )?INTO \w+(?: AS \w+)? \(([^()]*)\) VALUES", sql)
    return len(m.group(1).split(",")) if m else 1


# a template of the words the engines spell apart (central/store/held.py), in each engine's
SPELLED = {"sqlite": {"max": "max", "min": "min", "grant": held.GRANT_IS, "request": held.REQUEST_IS},
           "postgresql": {"max": "greatest", "min": "least", "grant": held.GRANT_IS_PG, "request": held.REQUEST_IS_PG}}


def _complete(sql: str, tail: str = "", words: dict[str, str] = SPELLED["sqlite"]) -> str:
    """A held statement as it is sent: a template filled with two values (or rows), a multi-row
    INSERT's head with two rows and its upsert."""
    if "{" in sql and "{}" not in sql:
        sql = sql.format(**NAMES, **words, marks=held.marks(2), rows=held.rows(2, _width(sql)),
                         grants=held.any_of(held.GRANT_IS, 2), requests=held.any_of(held.REQUEST_IS, 2),
                         grants_pg=held.any_of(held.GRANT_IS_PG, 2), requests_pg=held.any_of(held.REQUEST_IS_PG, 2))
    if sql.rstrip().endswith("VALUES"):
        sql += held.rows(2, _width(sql))
    return sql + tail


def held_statements() -> list[tuple[str, str, str]]:
    """(where, dialect, statement) of every module constant of central/store/ that is an SQL
    statement, or a dict or list of them, each once (a constant imported elsewhere is its own
    module's); dialect "both", "postgresql" or "sqlite"."""
    out: dict[str, tuple[str, str, str]] = {}
    for path in sorted(STORE.glob("*.py")):
        if path.stem == "store_schema":
            continue  # the schema's steps: run by every store made (above)
        module = importlib.import_module(f"central.store.{path.stem}")
        own = path.stem.startswith("pg") or getattr(module, "DIALECT", None) == "postgresql"
        pg_names = set(getattr(module, "POSTGRESQL_ONLY", ()))
        lite_names = set(getattr(module, "SQLITE_ONLY", ()))
        for name, value in vars(module).items():
            items = (value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple))
                     else [(None, value)])
            for key, sql in items:
                if not (isinstance(sql, str) and (SQL.search(sql) or sql.startswith("WITH "))) \
                        or sql.lstrip().startswith("CREATE"):
                    continue
                where = f"{path.stem}.{name}" + (f"[{key!r}]" if key is not None else "")
                if re.search(r"\{(max|min|grant|request)\}", sql):  # both engines' forms from one template
                    for dialect, words in SPELLED.items():
                        text = _complete(sql, "", words)
                        out.setdefault(text, (f"{where}[{dialect}]", dialect, text))
                    continue
                for upserts, dialect in (("UPSERTS", "sqlite"), ("UPSERTS_PG", "postgresql")) if name == "INSERTS" \
                        else ((None, None),):
                    tail = str(getattr(module, upserts).get(key, "")) if upserts else ""
                    text = _complete(sql, tail)
                    if tail and module.UPSERTS.get(key) == module.UPSERTS_PG.get(key):
                        dialect = "both"  # one upsert both engines take
                    dialect = dialect if tail else (
                        "postgresql" if own or name in pg_names or "%s" in text
                        else "sqlite" if name in lite_names or text.lstrip().startswith("PRAGMA") or "INDEXED BY" in text
                        else "both")
                    out.setdefault(text, (where + (f"[{dialect}]" if tail else ""), dialect, text))
    return list(out.values())


HELD = held_statements()
ON_SQLITE = [(w, s) for w, d, s in HELD if d != "postgresql"]
ON_POSTGRESQL = [(w, s) for w, d, s in HELD if d != "sqlite"]


def test_the_store_holds_its_statements():
    """The set is the store's: the statements the verifier, the archive, the commands and the
    reports ran themselves before issue 80 are among them, a module constant each."""
    where = {w.split(".")[0] for w, _d, _s in HELD}
    assert {"passes", "footage", "clocks", "destructions", "coverage", "archives", "nodes", "instances", "seqs",
            "store", "store_reads", "pgstore", "pgshared"} <= where, sorted(where)
    assert len(ON_SQLITE) >= 100 and len(ON_POSTGRESQL) >= 110, (len(ON_SQLITE), len(ON_POSTGRESQL))


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = Store(Path(tmp_path_factory.mktemp("held")) / "central.db")
    yield store.db.conn
    store.close()


@pytest.mark.parametrize("where, sql", ON_SQLITE, ids=[w for w, _s in ON_SQLITE])
def test_each_held_statement_compiles_on_sqlite(lite: sqlite3.Connection, where: str, sql: str) -> None:
    lite.execute("EXPLAIN " + sql, [None] * sql.count("?"))


@pytest.fixture(scope="module")
def pg(pg_server: Any) -> Any:
    store = pgstore.PgStore(pg_server.database(migrated=True))
    store.pg.execute(CENTRAL_ARCHIVING_TABLE)
    yield store.pg
    store.close()


_names = itertools.count()


def _dollars(sql: str) -> str:
    """psycopg's placeholders (%s) as the server's ($1 ...), its escaped percents as one."""
    n = itertools.count(1)
    return re.sub(r"%(%|s)", lambda m: "%" if m.group(1) == "%" else f"${next(n)}", sql)


@pytest.mark.parametrize("where, sql", ON_POSTGRESQL, ids=[w for w, _s in ON_POSTGRESQL])
def test_each_held_statement_compiles_on_postgresql(pg: Any, where: str, sql: str) -> None:
    sent = _dollars(sql if "%s" in sql else translate(sql))
    if re.match(r"\s*(ALTER|DROP|CREATE)\b", sent):
        with pg.transaction(force_rollback=True):  # a schema statement (no parameters) runs, and is undone
            pg.execute(sent)
        return
    pg.execute(f"PREPARE held{next(_names)} AS {sent}")


def test_a_statement_one_engine_refuses_fails_here(lite: sqlite3.Connection, pg: Any) -> None:
    """The checks above fail on what they are for: SQLite refuses PostgreSQL's `greatest`, and
    PostgreSQL a column no table has (EXPLAIN and PREPARE resolve names without running)."""
    with pytest.raises(sqlite3.OperationalError):
        test_each_held_statement_compiles_on_sqlite(lite, "t", CENTRAL_REFUSED_BY_SQLITE)
    import psycopg

    with pytest.raises(psycopg.errors.UndefinedColumn):
        test_each_held_statement_compiles_on_postgresql(pg, "t", CENTRAL_REFUSED_BY_POSTGRESQL)
