"""Every audit action in words (issue 42 item 3, design/0112): the code is read for each action it
writes on the chain (`audit.append(db, actor, ACTION, ...)`, the viewer's and the reads' own
`audit`/`record`), and each must have its phrase in edged/rules/audit_words.py, translated into
zh-TW, so that the desk's audit log never shows an action key to the ethics officer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from edged.i18n import set_language, _
from edged.rules import audit_words as said
from tests.support.sources import tree as parsed, walk

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edged", "storage", "mqtt", "recorder")
WRITERS = {"append": 2, "audit": 1, "record": 1, "_record": 1}   # call name -> the action's argument


def _constants(trees: dict[Path, ast.Module]) -> dict[str, set[str]]:
    """Module-level NAME = "string" of every module: what an action constant stands for."""
    out: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(
                    node.value.value, str):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        out.setdefault(t.id, set()).add(node.value.value)
    return out


def _values(expr: ast.AST, scope: ast.AST, consts: dict[str, set[str]]) -> tuple[set[str], set[str]]:
    """(the strings an action expression can be, the patterns of its f-strings)."""
    found, patterns = set(), set()
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        found.add(expr.value)
    elif isinstance(expr, ast.IfExp):
        for part in (expr.body, expr.orelse):
            f, p = _values(part, scope, consts)
            found |= f
            patterns |= p
    elif isinstance(expr, ast.JoinedStr):
        patterns.add("".join(re.escape(v.value) if isinstance(v, ast.Constant) else r"[a-z_.\-]+"
                             for v in expr.values))
    elif isinstance(expr, (ast.Name, ast.Attribute)):
        name = expr.id if isinstance(expr, ast.Name) else expr.attr
        local = [n.value for n in ast.walk(scope) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
        local += [n.value.elts[0] for n in ast.walk(scope) if isinstance(n, ast.Assign)  # action, x = "a", y
                  and isinstance(n.targets[0], ast.Tuple) and isinstance(n.value, ast.Tuple)
                  and n.targets[0].elts and isinstance(n.targets[0].elts[0], ast.Name)
                  and n.targets[0].elts[0].id == name]
        for v in local:
            f, p = _values(v, scope, consts)
            found |= f
            patterns |= p
        found |= consts.get(name, set()) if not local else set()
    return found, patterns


def written_actions(trees: dict[Path, ast.Module]) -> tuple[dict[str, str], dict[str, str]]:
    """Every action the code writes (action -> where), and every f-string pattern (pattern -> where)."""
    consts = _constants(trees)
    actions: dict[str, str] = {}
    patterns: dict[str, str] = {}
    for path, tree in trees.items():
        for fn in walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name not in WRITERS or (name == "append" and not (
                        isinstance(f, ast.Attribute) and getattr(f.value, "id", "") == "audit")):
                    continue
                if len(node.args) <= WRITERS[name]:
                    continue
                found, pats = _values(node.args[WRITERS[name]], fn, consts)
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                actions.update({a: where for a in found})
                patterns.update({p: where for p in pats})
    return actions, patterns


def _trees(sources: dict[Path, str] | None = None) -> dict[Path, ast.Module]:
    if sources is None:
        return {p: parsed(p) for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    return {p: ast.parse(text, str(p)) for p, text in sources.items()}


@pytest.mark.pure
def test_every_action_the_code_writes_has_words():
    actions, patterns = written_actions(_trees())
    assert {"login", "request.file", "request.step", "request.approve", "footage.missing", "hold.extend",
            "audit.done"} <= set(actions), sorted(actions)   # the reader sees constants, locals and branches
    missing = {a: where for a, where in actions.items() if not said.has_words(a)}
    assert not missing, f"audit actions without words in edged/rules/audit_words.py: {missing}"
    unmatched = {p: where for p, where in patterns.items()
                 if not any(re.fullmatch(p, a) for a in said.WORDS) and not p.endswith(
                     tuple(re.escape("." + d) for d in said.DERIVED))}
    assert not unmatched, f"an action built by an f-string matches no declared action: {unmatched}"


@pytest.mark.pure
def test_the_reader_sees_an_action_without_words():
    source = ("from storage import audit\n"
              "def f(db, ok):\n"
              "    action = 'hold.approve' if ok else 'hold.misspelt'\n"
              "    audit.append(db, 'x', action, {})\n")
    actions, _patterns = written_actions(_trees({ROOT / "fake.py": source}))
    assert set(actions) == {"hold.approve", "hold.misspelt"}
    assert [a for a in actions if not said.has_words(a)] == ["hold.misspelt"]


@pytest.mark.pure
def test_every_action_and_field_reads_in_zh_tw():
    set_language("zh-TW")
    try:
        untranslated = [w for w in [*said.WORDS.values(), *said.FIELDS.values(), *said.DERIVED.values()]
                        if _(w) == w]
        assert not untranslated, untranslated
        assert said.action_words("footage.list.repeated") == "列出錄影（一分鐘內重複，合併計數）"
        assert said.action_words("no.such") == "no.such"   # shown as written; the test above keeps it from happening
    finally:
        set_language(None)


CLOSERS = {"close": 1, "close_all": 0, "_close_apart": 1}   # the viewer's calls that end a view -> the reason's argument


@pytest.mark.pure
def test_every_reason_a_view_ends_for_reads_in_words():
    """A live.stop/playback.stop record's reason is shown on the audit page: each the viewer can
    write is declared in audit_words (VIEW_*), so it reads in the site's language, never English."""
    reasons, where = set(), []
    for path, tree in _trees().items():
        if "viewer" not in path.parts:
            continue
        for node in walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOSERS \
                    and len(node.args) > CLOSERS[node.func.attr]:
                arg = node.args[CLOSERS[node.func.attr]]
                where.append(f"{path.name}:{node.lineno}")
                if isinstance(arg, ast.Attribute) and arg.attr.startswith("VIEW_"):
                    reasons.add(getattr(said, arg.attr))
                elif not (isinstance(arg, ast.Name) and arg.id == "reason"):
                    raise AssertionError(f"{path.name}:{node.lineno}: a view closed for a reason not declared in "
                                         f"edged/rules/audit_words.py: {ast.unparse(arg)}")
    assert len(where) >= 5, where   # the reader found the viewer's closes
    declared = {getattr(said, n) for n in dir(said) if n.startswith("VIEW_")}
    assert reasons <= declared and not declared - set(said.STORED), declared - set(said.STORED)
    set_language("zh-TW")
    try:
        english = [r for r in declared if said.stored(r) == r or _(said.STORED[r]) == said.STORED[r]]
        assert not english, english
        assert said.stored("connection lost") != "connection lost"   # the one CI's audit page showed in English
    finally:
        set_language(None)
