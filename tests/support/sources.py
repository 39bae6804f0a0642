"""The repository's source files, read and parsed once a test process: the house-rule tests
(test_layers, test_alarm_kinds, test_audit_words, test_i18n) each walk the whole tree, and
parsing it again for every test was most of the pure tier's time. The trees are read, never
changed, and kept for the whole process: each is moved out of the garbage collector's sight once
parsed (gc.freeze), or every full collection after it walks their millions of nodes again (that
was 3 s of the pure tier's CPU, most of it while the trees were being parsed; design/0266)."""

from __future__ import annotations

import ast
import functools
import gc
from pathlib import Path


@functools.cache
def text(path: Path) -> str:
    return path.read_text()


@functools.cache
def tree(path: Path) -> ast.Module:
    parsed = ast.parse(text(path), str(path))
    gc.freeze()   # with whatever else is alive now: still freed by reference counts, only a cycle is kept
    return parsed


_walked: dict[int, tuple[ast.AST, tuple[ast.AST, ...]]] = {}


def walk(parsed: ast.AST) -> tuple[ast.AST, ...]:
    """Every node of a tree, in ast.walk's order, listed once a tree (ast.walk itself was most of
    the time of the tests that walk every file several times)."""
    hit = _walked.get(id(parsed))
    if hit is None or hit[0] is not parsed:
        hit = _walked[id(parsed)] = (parsed, tuple(ast.walk(parsed)))
    return hit[1]


def nodes(path: Path) -> tuple[ast.AST, ...]:
    """Every node of the file's tree, in ast.walk's order."""
    return walk(tree(path))


_typed: dict[tuple[int, tuple[type, ...]], tuple[ast.AST, tuple[ast.AST, ...]]] = {}


def of_type(parsed: ast.AST, *types: type[ast.AST]) -> tuple[ast.AST, ...]:
    """The nodes of a tree whose type is one of `types` (exactly: a parsed tree's nodes are of the
    classes themselves), in ast.walk's order, listed once a tree and types. A check that reads a few
    kinds of node filters the walk once, in one pass of `type(node) in types`, instead of testing
    every node of the tree in Python at every call (design/0473)."""
    key = (id(parsed), types)
    hit = _typed.get(key)
    if hit is None or hit[0] is not parsed:
        wanted = frozenset(types)
        hit = _typed[key] = (parsed, tuple(node for node in walk(parsed) if type(node) in wanted))
    return hit[1]
