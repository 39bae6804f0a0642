"""The message kinds of the wire, declared once in mqtt/kinds.py (issue 80, design/0340): the box's
topics, the office's fields, its seq kinds, its routing and its verifier's handlers are all read
from the declarations, and a kind the office must verify that no handler takes fails here."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from central.intake import schema
from central.store import store
from central.verifier import verifier as _verifier  # noqa: F401 - registers every handler
from central.verifier.handlers import HANDLERS, handles
from mqtt import kinds
from mqtt.topics import Topics
from storage import outbox
from tests.support import sources

ROOT = Path(__file__).resolve().parents[1]
T = Topics("tw-hr-001", "node1")


def test_every_kind_the_office_verifies_has_its_handler():
    """A verified kind no handler takes would be stored and never judged: every message of it lost
    to the office's findings, and no other test would fail (issue 80)."""
    missing = sorted(kinds.VERIFIED_KINDS - set(HANDLERS))
    assert not missing, f"verified kinds no handler takes (@handles in central/verifier/): {missing}"
    assert set(HANDLERS) <= kinds.VERIFIED_KINDS


def test_the_handler_check_sees_a_kind_left_out(monkeypatch):
    new = kinds.MessageKind("scratch", "scratch", kinds.DURABLE, (1,), "a test's", verified=True)
    monkeypatch.setitem(kinds.KINDS, "scratch", new)
    monkeypatch.setattr(kinds, "VERIFIED_KINDS", kinds.VERIFIED_KINDS | {"scratch"})
    with pytest.raises(AssertionError, match="scratch"):
        test_every_kind_the_office_verifies_has_its_handler()


def test_a_handler_registers_once_and_only_for_a_verified_kind():
    with pytest.raises(ValueError, match="second handler"):
        handles(kinds.ALARM)(lambda *_a: None)
    with pytest.raises(ValueError, match="not a verified kind"):
        handles(kinds.EVENT)(lambda *_a: None)


def test_no_handler_is_found_by_its_name():
    """Handlers register against a kind: no `getattr(self, "_on_" + kind)` in central/ (a misspelt
    method name was a kind silently unhandled)."""
    wrong = []
    for path in sorted((ROOT / "central").rglob("*.py")):
        for node in sources.nodes(path):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                if any(isinstance(a, ast.BinOp) and isinstance(a.left, ast.Constant) and str(a.left.value).startswith("_on")
                       for a in node.args[1:2]):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not wrong, f"handlers looked up by a built name: {wrong}"


def test_the_office_checks_each_kind_the_box_sends_by_its_declaration():
    assert set(schema.FIELDS) == {k.name for k in kinds.BOX_KINDS if not k.text}
    for k in kinds.BOX_KINDS:
        assert [(n, r) for n, _t, r in schema.FIELDS.get(k.name, [])] == [(f.name, f.required) for f in k.fields]
    assert schema._SEQ_KINDS == {k.name for k in kinds.BOX_KINDS if k.durable}
    assert set(store.DURABLE) == schema._SEQ_KINDS


@pytest.mark.parametrize("kind", [k for k in kinds.KINDS.values() if k.sender == kinds.BOX], ids=lambda k: k.name)
def test_each_kind_routes_from_its_topic(kind):
    """The office finds a message's kind from the topic the box sent it on (T.of)."""
    topic = T.of(kind, **({} if kind.fixed else {kinds._split(kind.topic)[1] or "": "x-1"}))
    assert store.route(topic) == ("tw-hr-001/node1", "tw-hr-001", topic.split("/", 4)[4], kind.name)


def test_topics_the_box_does_not_send_are_not_routed():
    for rest in ("cmd/hold", "cmd/time", "camera/state", "cmd/reply", "alarms", "birth/x", "status/"):
        assert kinds.kind_of(rest) is None, rest


def test_a_required_field_is_refused_by_its_declaration():
    for k in kinds.DURABLE_KINDS:
        good = {"seq": 5, "ts_us": 5, **{f.name: _value(f.type) for f in k.fields if f.required}}
        assert schema.check(k.name, json.dumps(good).encode()) == good, k.name
        for f in (f for f in k.fields if f.required):
            with pytest.raises(schema.Malformed, match=f.name):
                schema.check(k.name, json.dumps({n: v for n, v in good.items() if n != f.name}).encode())


def _value(t: kinds.Type) -> object:
    return next(v for v in (1, "x", {}, [], True) if t.check(v))


def test_the_outbox_reserve_is_the_essential_kinds():
    """storage/outbox.py (below mqtt/, so it cannot read the registry) names the kinds that may use
    the reserve past the bound: the same as the registry's."""
    assert outbox.ESSENTIAL == kinds.ESSENTIAL


def test_a_kind_is_declared_once_and_rightly():
    with pytest.raises(ValueError):
        kinds._declare("alarm", "alarm2", kinds.DURABLE, (1,), "twice")
    with pytest.raises(ValueError):
        kinds._declare("scratch2", "alarm", kinds.DURABLE, (1,), "a topic twice")
    with pytest.raises(ValueError):
        kinds._declare("scratch3", "scratch3", kinds.RETAINED, (0,), "verified but retained", verified=True)
    assert "scratch2" not in kinds.KINDS and "scratch3" not in kinds.KINDS
    with pytest.raises(ValueError, match="not declared"):
        kinds.of("alarms")


def test_the_types_hold_their_bounds():
    assert kinds.UINT.check(0) and not kinds.UINT.check(-1) and not kinds.INT.check(True)
    assert kinds.SHORT.check("x" * 256) and not kinds.SHORT.check("x" * 257)
    assert kinds.NUM.check(1.5) and not kinds.NUM.check(False) and kinds.BOOL.check(False)
    assert kinds.CAMERA_LIST.check([{"id": "a"}]) and not kinds.CAMERA_LIST.check([{"id": 1}])
    assert not kinds.CAMERA_LIST.check([{"id": "a"}] * (kinds.MAX_CAMERAS + 1))


def test_the_reference_table_has_one_row_a_topic():
    """docs/ref/mqtt.md's topic table (generated from mqtt/kinds.py): one row a kind, none twice
    (by hand it had three `birth` rows and two `retention` rows)."""
    text = (ROOT / "docs/ref/mqtt.md").read_text(encoding="utf-8")
    table = text.split("| topic | retained | QoS | what |\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines()[1:]]
    assert len(rows) == len(set(rows)) == len(kinds.KINDS), rows
    assert rows.count("`birth`") == rows.count("`retention`") == 1



def walk_problems(text: str) -> list[str]:
    """What is wrong with CONTRIBUTING's "A new message kind" walk: a file it names by hand (in its
    numbered list) or as generated that is not there (a file the change makes, `<table>`, needs a
    sibling of that shape to copy), or more than ten files by hand."""
    start = text.index("- **A new message kind**")
    part = text[start:text.index("\n- **", start + 1)]
    by_hand = re.findall(r"^  \d+\. ([\w/<>.-]+):", part, re.M)
    generated = re.findall(r"[\w/-]+\.md", part[part.index("Generated, never by hand"):])
    wrong = [f"{len(by_hand)} files by hand (at most 10)"] if not 8 <= len(by_hand) <= 10 else []
    for rel in by_hand:
        found = list(ROOT.glob(re.sub(r"<\w+>", "*", rel))) if "<" in rel else [ROOT / rel]
        wrong += [f"{rel} is not there"] if not any(f.is_file() for f in found) else []
    wrong += [f"{rel} is not there" for rel in generated if not (ROOT / rel).is_file()]
    return wrong + ([] if by_hand[:1] == ["mqtt/kinds.py"] and generated else ["the walk is not read"])


def test_the_newcomers_walk_names_files_that_exist():
    """The newcomer change "a new message the office verifies" (issue 80: 17 files by hand at its
    filing, <= 10 asked; design/0359, design/0361: 14 on intake_destroyed, 10 walked again on a scratch
    kind): each file CONTRIBUTING names exists, ten at most by hand. A
    verified kind no handler takes fails test_every_kind_the_office_verifies_has_its_handler above."""
    assert walk_problems((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")) == []


def test_the_walk_check_sees_a_file_gone_and_one_too_many():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert walk_problems(text.replace("central/report/month.py:", "central/report/monthly.py:")) == [
        "central/report/monthly.py is not there"]
    more = text.replace("  10. tests/", "  10. tests/test_wire_kinds.py: x;\n  11. tests/test_wire_kinds.py: y;\n  12. tests/")
    assert walk_problems(more) == ["12 files by hand (at most 10)"]


def test_a_new_step_and_a_new_kinds_test_need_no_line_elsewhere(monkeypatch, tmp_path):
    """Design/0361: the old-schema stores of tests/support/catalog.py undo every step read off
    store_schema.STEPS (a new table dropped, a new column of an older table dropped), and a test marked
    both_engines is found by tests/test_central_postgres.py without a list (none marked where it is not
    looked for)."""
    from tests.support import catalog, engines

    monkeypatch.setattr(catalog, "STEPS", {**catalog.STEPS, 99: catalog.CENTRAL_SCRATCH_STEP})
    undo = catalog.central_undo_steps(98)
    assert undo == catalog.CENTRAL_SCRATCH_UNDONE, undo
    assert catalog.CENTRAL_SCRATCH_DROPS <= set(catalog.central_undo_steps(9))
    (tmp_path / "test_central_scratch.py").write_text(
        "import pytest\n\n\n@pytest.mark.both_engines\ndef test_kept(tmp_path):\n    pass\n\n\n"
        "def test_not(tmp_path):\n    pass\n")
    (tmp_path / "test_scratch_box.py").write_text("import pytest\n\n\n@pytest.mark.both_engines\ndef test_x():\n    pass\n")
    assert engines.both_engines(tmp_path) == [("test_central_scratch", "test_kept")]
    assert engines.marked_elsewhere(tmp_path) == ["test_scratch_box.py:5"]
    found = engines.both_engines()
    assert len(found) >= 31 and ("test_central_intakes", "test_an_originals_destruction_is_recorded_judged_and_listed") in found
    assert engines.marked_elsewhere() == []
