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
    return sql.format(marks=marks(n), rows=rows(n, width), grants=any_of(GRANT_IS, n), requests=any_of(REQUEST_IS, n))


GRANT_IS = "json_extract(detail, '$.grant') = ?"
REQUEST_IS = "json_extract(detail, '$.request') = ?"


def any_of(condition: str, n: int) -> str:
    """``condition`` (one placeholder) ``n`` times, any of them true."""
    return " OR ".join([condition] * n)
