"""The office's store tests that run on both engines (design/0361): a test of tests/test_central_*.py
marked `@pytest.mark.both_engines` runs on SQLite where it stands and on PostgreSQL in
tests/test_central_postgres.py, which swaps its module's `Store` for PgStore and shares one server
for them all. Found here by reading the source, so a new kind's test marks itself and no list of
them is written out anywhere."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import sources

MARK = "both_engines"
TESTS = Path(__file__).resolve().parents[1]


def both_engines(root: Path = TESTS) -> list[tuple[str, str]]:
    """(module's name, test's name) of each test function of ``root``/test_central_*.py marked
    `@pytest.mark.both_engines`, in file and line order."""
    found = []
    for path in sorted(root.glob("test_central_*.py")):
        if MARK not in sources.text(path):
            continue   # no test of it is marked: not parsed (the mark's name is in the text of a module that uses it)
        for node in sources.tree(path).body:
            if isinstance(node, ast.FunctionDef) and any(_is_mark(d) for d in node.decorator_list):
                found.append((path.stem, node.name))
    return found


def marked_elsewhere(root: Path = TESTS) -> list[str]:
    """The tests marked both_engines outside test_central_*.py (never run on PostgreSQL: a mistake). Only the
    modules whose text names the mark are parsed: parsing all of them was 3 s of the pure tier's CPU."""
    return [f"{path.name}:{node.lineno}" for path in sorted(root.glob("test_*.py"))
            if not path.stem.startswith("test_central_") and MARK in sources.text(path)
            for node in sources.walk(sources.tree(path))
            if isinstance(node, ast.FunctionDef) and any(_is_mark(d) for d in node.decorator_list)]


def _is_mark(decorator: ast.expr) -> bool:
    return ast.unparse(decorator) == f"pytest.mark.{MARK}"
