"""The alarm registry (design/0067): every kind is declared once in storage/alarm_kinds.py with its
severity, title, scope and whether maintenance expects it; every title is translated; code
raises only declared kinds, writes no severity of its own, and names every kind it declares."""

from __future__ import annotations

import ast
import asyncio
import functools
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from edged.alarm_titles import title
from edged.alarms import Alarms
from edged.i18n import A_, Msg, speaking
from edged.rules import health
from storage import alarm_kinds
from storage.alarm_kinds import CAMERA_OFFLINE, HOST, KINDS, SCOPES, SEVERITIES, STORAGE_LOST, TASK_FAILED
from storage.catalog import CatalogWriter
from storage.health import alarms as alarm_table
from tests.support import sources

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "edged/locale/zh_TW/LC_MESSAGES/edged.po"
REGISTRY = ROOT / "storage/alarm_kinds.py"
SOURCES = [p for d in ("storage", "recorder", "mqtt", "edged") for p in sorted((ROOT / d).rglob("*.py"))
           if p != REGISTRY]
# A kind and a severity written side by side: the way alarms were raised before the registry.
BY_HAND = re.compile(r"""["']([a-z_]+)["'],\s*["'](critical|warning|info)["']""")


def test_each_kind_is_declared_well():
    assert len(KINDS) >= 40
    for name, kind in KINDS.items():
        assert kind.name == name and re.fullmatch(r"[a-z][a-z_]*[a-z]", name), name
        assert kind.severity in SEVERITIES and kind.scope in SCOPES, kind
        assert kind.title and kind.title == kind.title.strip(), kind
        assert getattr(alarm_kinds, name.upper()) is kind, f"{name}: its constant is {name.upper()}"
    assert {k.name for k in KINDS.values() if k.expected_in_maintenance} == alarm_kinds.EXPECTED_IN_MAINTENANCE


def test_a_key_is_the_kind_and_what_it_is_about():
    assert STORAGE_LOST.key() == "storage_lost" and STORAGE_LOST.scope == HOST
    assert CAMERA_OFFLINE.key("door") == "camera_offline:door"
    assert alarm_kinds.ETHICS.key("request:7") == "ethics:request:7"
    with pytest.raises(ValueError):
        CAMERA_OFFLINE.key()  # a camera's alarm names its camera
    with pytest.raises(ValueError):
        STORAGE_LOST.key("door")  # a host-wide alarm is one alarm
    with pytest.raises(ValueError, match="not declared"):
        alarm_kinds.of("no_such_kind")
    assert alarm_kinds.of("task_failed") is TASK_FAILED is alarm_kinds.of(TASK_FAILED)


def test_every_title_is_translated_into_zh_tw():
    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh_TW")
    missing = [k.name for k in KINDS.values()
               if (m := catalog.get(k.title)) is None or not m.string or m.fuzzy]
    assert not missing, f"alarm titles without a zh_TW translation in {PO.relative_to(ROOT)} (scripts/i18n): {missing}"
    with speaking("zh-TW"):
        shown = {k: title(k) for k in KINDS}
    assert all(shown[k] != KINDS[k].title for k in KINDS), shown
    assert shown["disk_full_held"] and shown["recording_stopped_disk_full"] == "錄影已停止：磁碟已滿"


def _calls(walked):
    for node in walked:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node, ast.unparse(node.func)


def test_no_code_writes_a_severity_or_raises_an_undeclared_kind():
    """New kinds go in storage/alarm_kinds.py (one line); a call site names the kind, never its severity."""
    by_hand, undeclared, bypass = [], [], []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        text = sources.text(path)
        by_hand += [f"{rel}: {m.group(0)}" for m in BY_HAND.finditer(text)]
        for node, func in _calls(sources.nodes(path)):
            if func.endswith(("raise_alarm", "clear_alarm")) and rel not in ("edged/alarms.py",
                                                                               "storage/health/alarms.py"):
                bypass.append(f"{rel}:{node.lineno}")  # the catalog's row, raised or cleared around the registry
            kind = (node.args[0] if func.endswith(".raise_") and node.args else
                    node.args[1] if func.endswith(".set") and "alarm" in func and len(node.args) > 1 else None)
            if isinstance(kind, ast.Constant) and kind.value not in KINDS:
                undeclared.append(f"{rel}:{node.lineno}: {kind.value!r}")
    assert not by_hand, f"severities written by hand (declare the kind in storage/alarm_kinds.py): {by_hand}"
    assert not undeclared, f"alarm kinds raised but not declared in storage/alarm_kinds.py: {undeclared}"
    assert not bypass, f"alarms raised around edged/alarms.py: {bypass}"


def test_every_declared_kind_is_named_by_the_code():
    """No dead kind: each is imported from the registry (or read off it) somewhere it can be raised."""
    named = set()
    for path in SOURCES:
        for node in sources.nodes(path):
            if isinstance(node, ast.ImportFrom) and node.module == "storage.alarm_kinds":
                named |= {a.name for a in node.names}
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in ("alarm_kinds", "kinds"):
                named.add(node.attr)
    dead = sorted(k.name for k in KINDS.values() if k.name.upper() not in named)
    assert not dead, f"declared in storage/alarm_kinds.py but raised nowhere: {dead}"
    assert set(health.KINDS) <= set(KINDS) and health.KINDS["camera_moved"] == "critical"


def test_raising_takes_the_severity_from_the_registry_and_maintenance_downgrades_the_expected(tmp_path):
    published = []

    async def scenario():
        writer = CatalogWriter(tmp_path / "catalog.db")
        await writer.start()
        try:
            alarms = Alarms(writer)

            async def publish(event):
                published.append(event)

            alarms.publish.connect(publish)
            alarms.downgrade.connect(lambda kind: alarm_kinds.of(kind).expected_in_maintenance)
            await alarms.raise_(TASK_FAILED, Msg(A_("the {task} task failed"), task="x"), about="x")
            await alarms.raise_("camera_offline", Msg(A_("camera {camera} is not recording"), camera="door"),
                                camera="door")
            with pytest.raises(ValueError, match="not declared"):
                await alarms.raise_("no_such_kind", Msg(A_("nothing")))
            await alarms.set(False, TASK_FAILED, "", about="x")
            return await writer.run(lambda c: alarm_table.listing(c.db, include_cleared=True))
        finally:
            await writer.close()

    rows = {r["key"]: r for r in asyncio.run(scenario())}
    assert set(rows) == {"task_failed:x", "camera_offline:door"}
    assert rows["task_failed:x"]["severity"] == "critical" and rows["task_failed:x"]["cleared_us"] is not None
    assert rows["camera_offline:door"]["severity"] == "maintenance" and rows["camera_offline:door"]["camera"] == "door"
    assert [(e["id"], e["action"], e.get("severity")) for e in published] == [
        ("task_failed:x", "raise", "critical"), ("camera_offline:door", "raise", "maintenance"),
        ("task_failed:x", "clear", None)]


def test_a_key_cleared_is_not_written_again_until_it_is_raised(tmp_path):
    """Alarms alone writes the table (the test above), so a key it cleared has no active row until it raises
    it: the periodic checks' clear of every healthy camera's camera_offline asks nothing of the catalog
    (design/0535). A row from before (another instance: the last run) is cleared by the first clear."""
    async def scenario():
        writer = CatalogWriter(tmp_path / "catalog.db")
        await writer.start()
        try:
            before = Alarms(writer)
            await before.raise_(CAMERA_OFFLINE, Msg(A_("camera {camera} is not recording"), camera="door"),
                                camera="door")
            alarms, key = Alarms(writer), CAMERA_OFFLINE.key("door")
            writes = [writer.writes]
            for _ in range(3):
                await alarms.clear(key)
                writes.append(writer.writes)
            active = [await writer.run(lambda c: [a["key"] for a in alarm_table.active(c.db)])]
            await alarms.raise_(CAMERA_OFFLINE, Msg(A_("camera {camera} is not recording"), camera="door"),
                                camera="door")
            active.append(await writer.run(lambda c: [a["key"] for a in alarm_table.active(c.db)]))
            await alarms.set(False, CAMERA_OFFLINE, "", camera="door")
            active.append(await writer.run(lambda c: [a["key"] for a in alarm_table.active(c.db)]))
            return writes, active
        finally:
            await writer.close()

    writes, active = asyncio.run(scenario())
    assert [b - a for a, b in zip(writes, writes[1:])] == [1, 0, 0], writes
    assert active == [[], ["camera_offline:door"], []]


# Kinds named by their constants (issue 41): a kind written as a string literal is a copy of the
# registry that nothing checks ("lens_dirt" for "lens_dirty" passed 99 tests once: the rule made a
# condition no alarm would ever rise for). The code names kinds by constant; a literal that is a
# kind is allowed only where it is not an alarm kind at all (a wire word that happens to match);
# anywhere, code or tests, a literal one or two letters off a declared kind is a misspelling.
CODE = ("edged", "recorder", "storage", "mqtt", "central")
NOT_A_KIND = {  # (module, literal): why the literal is not the alarm kind
    ("mqtt/kinds.py", "ethics"): "the wire's message kind of that name (its topic `ethics`, design/0340)",
    ("edged/cli/edgectl.py", "disk_full"): "the status answer's disk_full field (the disk's state)",
    ("edged/control/status.py", "disk_full"): "the node table's disk_full column",
    ("edged/daemon/disk_floor.py", "disk_full"): "the node table's disk_full column",
    ("edged/daemon/host_clock.py", "host_clock_step"): "a restamp's reason",
    ("storage/footage/restamps.py", "host_clock_step"): "a restamp's reason",
    ("mqtt/reporter.py", "ethics"): "the MQTT message type",
    ("central/intake/schema.py", "ethics"): "the MQTT message type",
    ("central/store/store.py", "ethics"): "the MQTT message type",
    ("central/checks/verify.py", "ethics"): "a finding's kind (central/checks/verify.py), not an alarm's",
    ("central/finding_words.py", "ethics"): "a finding's kind (its title and explanation), not an alarm's",
    ("storage/time/stamped.py", "retention_grace"): "the retention_grace table (design/0096's stamped list)",
}
NOT_MISSPELT = {  # words a letter or two off a kind that are words of their own
    "host_clock_ok": "a camera view's flag (edged/rules/health.py CameraView.host_clock_ok)",
    "min_retention_breached": "central's verdict on a destruction (central/verifier/verifier.py)",
}
KIND_SHAPE = re.compile(r"[a-z]+(?:_[a-z]+)+")  # one-word kinds (tamper, ethics) are too near ordinary words


@functools.cache
def _distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _deletions(word: str, n: int = 2) -> set[str]:
    out = {word}
    for _ in range(n):
        out |= {w[:i] + w[i + 1:] for w in out for i in range(len(w))}
    return out


@functools.cache
def _deletion_index(declared: tuple[str, ...]) -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for kind in declared:
        for shorter in _deletions(kind):
            index.setdefault(shorter, set()).add(kind)
    return index


def _near(text: str, declared) -> list[str]:
    """The declared kinds at most two edits from `text`, in their order. Two words two edits apart
    share a word made by deleting at most two letters from each (a substitution is a deletion on
    both sides): only the kinds that share one are measured."""
    index = _deletion_index(tuple(declared))
    shared = set().union(*(index.get(shorter, ()) for shorter in _deletions(text)))
    return [k for k in declared if k in shared and _distance(text, k) <= 2]


def _literals(tree: ast.AST):
    """(line, text) of each string literal but docstrings."""
    docs = {id(n.body[0].value) for n in sources.of_type(tree, ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in sources.of_type(tree, ast.Constant):
        if isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


SQL_KIND = re.compile(r"'(\w+)'")  # a kind quoted inside a literal: SQL's `kind = 'min_retention_breach'`


def kinds_written_as_literals(rel: str, tree: ast.AST, declared=KINDS) -> list[str]:
    """A literal that is a kind, or that quotes one inside it (SQL: bind `kinds.NAME.name` as a
    parameter instead, issue 57)."""
    return [f"{rel}:{line}: {text!r}" for line, text in _literals(tree)
            if (text in declared or any(k in declared for k in SQL_KIND.findall(text)))
            and (rel, text) not in NOT_A_KIND]


def misspelt_kinds(rel: str, tree: ast.AST, declared=KINDS) -> list[str]:
    found = []
    for line, text in _literals(tree):
        if text in declared or text in NOT_MISSPELT or not KIND_SHAPE.fullmatch(text):
            continue
        near = _near(text, declared)
        found += [f"{rel}:{line}: {text!r} (declared: {near[0]!r})"] if near else []
    return found


def _is_kind_read(node: ast.AST) -> bool:
    """x.kind, x["kind"], x.get("kind")"""
    return ((isinstance(node, ast.Attribute) and node.attr == "kind")
            or (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "kind")
            or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "kind"))


def undeclared_kinds_given(rel: str, tree: ast.AST, declared=KINDS) -> list[str]:
    """Literals in a kind's place (compared with a row's kind, `kind=`, a "kind" entry) that are not
    declared but a letter or two off one that is, one-word kinds too ("tamper"). Other words are other
    vocabularies' kinds (a request's, a hold's, a finding's)."""
    found = []
    for node in sources.of_type(tree, ast.Compare, ast.keyword, ast.Dict):
        given: list[ast.AST] = []
        if isinstance(node, ast.Compare) and any(_is_kind_read(n) for n in [node.left, *node.comparators]):
            for n in [node.left, *node.comparators]:
                given += n.elts if isinstance(n, (ast.Tuple, ast.List, ast.Set)) else [n]
        elif isinstance(node, ast.keyword) and node.arg == "kind":
            given = [node.value]
        elif isinstance(node, ast.Dict):
            given = [v for k, v in zip(node.keys, node.values)
                     if isinstance(k, ast.Constant) and k.value == "kind"]
        found += [f"{rel}:{n.lineno}: {n.value!r}" for n in given
                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value not in declared
                  and _near(n.value, declared)]
    return found


def _sources(*folders: str):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != REGISTRY:
                yield path.relative_to(ROOT).as_posix(), sources.tree(path)


def test_code_names_every_kind_by_its_constant():
    found = [hit for rel, tree in _sources(*CODE) for hit in kinds_written_as_literals(rel, tree)]
    assert not found, ("alarm kinds written as string literals: name them by their constant "
                       "(storage/alarm_kinds.py, `kinds.NAME.name`):\n" + "\n".join(found))


def test_no_literal_is_a_misspelt_kind():
    found = [hit for rel, tree in _sources(*CODE, "tests") for hit in misspelt_kinds(rel, tree)]
    assert not found, "string literals a letter or two off a declared alarm kind:\n" + "\n".join(found)


def test_tests_compare_rows_only_with_declared_kinds():
    found = [hit for rel, tree in _sources(*CODE, "tests") if rel != "tests/test_alarm_kinds.py"
             for hit in undeclared_kinds_given(rel, tree)]
    assert not found, "kinds a letter or two off a declared alarm kind:\n" + "\n".join(found)


def test_the_kind_checks_would_catch_lens_dirt():
    declared = {**KINDS, "lens_dirty": KINDS["video_dark"]}
    rule = ast.parse('present["lens_dirt"] = "the lens is dirty"\nknown.add("lens_dirty")\n')
    assert misspelt_kinds("edged/rules/health.py", rule, declared) == [
        "edged/rules/health.py:1: 'lens_dirt' (declared: 'lens_dirty')"]
    assert kinds_written_as_literals("edged/rules/health.py", rule, declared) == ["edged/rules/health.py:2: 'lens_dirty'"]
    sql = ast.parse("db.query(\"SELECT camera FROM alarms WHERE kind = 'lens_dirty'\")\n")
    assert kinds_written_as_literals("storage/x.py", sql, declared) == [
        "storage/x.py:1: \"SELECT camera FROM alarms WHERE kind = 'lens_dirty'\""]
    test = ast.parse('assert rows[0]["kind"] == "lens_dirt"\nassert a.kind in ("video_dark", "lens_dirt")\n'
                     'Alarm(kind="lens_dirt")\nassert r.get("kind") == "tampr" and r["kind"] != "evidence"\n')
    assert undeclared_kinds_given("tests/test_x.py", test, declared) == [
        "tests/test_x.py:1: 'lens_dirt'", "tests/test_x.py:2: 'lens_dirt'", "tests/test_x.py:3: 'lens_dirt'",
        "tests/test_x.py:4: 'tampr'"]
    assert not misspelt_kinds("x.py", ast.parse('"""video_darkish docstring"""\nx = "host_clock_ok"\n'))
