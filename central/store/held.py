"""The shapes the store's held statements are completed with (issue 80, design/0351): a statement
of central/store/ is a module constant, written once; where it takes a list of values its text
holds ``{marks}`` (a list of placeholders) or ``{rows}`` (a VALUES list of rows), filled here and
nowhere else. tests/test_central_statements.py runs every held statement on SQLite and on
PostgreSQL. Pure."""

from __future__ import annotations


def marks(n: int) -> str:
    """``n`` placeholders, for an IN list."""
    return ", ".join("?" * n)


def rows(n: int, width: int) -> str:
    """``n`` rows of ``width`` placeholders, for a multi-row VALUES."""
    one = "(" + marks(width) + ")"
    return ", ".join([one] * n)


def fill(sql: str, n: int, width: int = 1) -> str:
    """A held statement with its list of ``n`` values (or rows of ``width``) spelled out."""
    return sql.format(marks=marks(n), rows=rows(n, width), grants=any_of(GRANT_IS, n), requests=any_of(REQUEST_IS, n),
                      grants_pg=any_of(GRANT_IS_PG, n), requests_pg=any_of(REQUEST_IS_PG, n))


GRANT_IS = "json_extract(detail, '$.grant') = ?"
REQUEST_IS = "json_extract(detail, '$.request') = ?"


def any_of(condition: str, n: int) -> str:
    """``condition`` (one placeholder) ``n`` times, any of them true."""
    return " OR ".join([condition] * n)


# where the two engines truly differ, a statement is declared twice, side by side (NAME and NAME_PG),
# and its module lists the one form in SQLITE_ONLY, the other in POSTGRESQL_ONLY: a JSON field
# compared with a value (PostgreSQL compares the text first, as its expression indexes hold it, then
# the JSON, so a number matches the number and not its text, as SQLite's json_extract), and the
# larger or smaller of two values (SQLite's two-argument max and min, PostgreSQL's greatest and least)
GRANT_IS_PG = "((detail::jsonb ->> 'grant') = (?::jsonb #>> '{}') AND (detail::jsonb -> 'grant') = ?)"
REQUEST_IS_PG = "((detail::jsonb ->> 'request') = (?::jsonb #>> '{}') AND (detail::jsonb -> 'request') = ?)"


def dialect(db: object) -> str:
    """"postgresql" for the PostgreSQL store's connection (central/store/pgconn.py), else "sqlite"."""
    return str(getattr(db, "dialect", "sqlite"))


def pick(db: object, sqlite: str, postgresql: str) -> str:
    """The statement of ``db``'s engine, of the two declared side by side."""
    return postgresql if dialect(db) == "postgresql" else sqlite


def json_values(db: object, values: list[object]) -> list[object]:
    """The values a JSON field is compared with, as ``db``'s engine binds them: on PostgreSQL each
    as jsonb, twice (its text, then its JSON, as GRANT_IS_PG compares)."""
    if dialect(db) != "postgresql":
        return values
    from psycopg.types.json import Jsonb

    return [j for v in values for j in (Jsonb(v), Jsonb(v))]
