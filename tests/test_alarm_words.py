"""Every alarm's words reach the office (issue 80, design/0343): each raise in the box is made with a
`Msg` whose template is marked `A_`, so `scripts/i18n` puts it in the office's catalog as well as the
box's and the office says the alarm in the site's language. Read from the source, as the house's
other rules are: a raise whose message is an English string, an f-string, or a template marked
anything but `A_` fails here; edged/alarms.py refuses one at run time too."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from edged.alarms import Alarms
from edged.i18n import A_, Msg, N_
from storage import alarm_kinds
from storage.catalog import CatalogWriter
from tests.support import sources

ROOT = Path(__file__).resolve().parents[1]
# Where alarms are raised or their messages made: the box, and the retention planner under it.
SOURCES = ("edged", "storage", "recorder")
MESSAGE_AT = {"raise_": 1, "set": 2}  # the message's position in Alarms.raise_ and Alarms.set


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, sources.tree(p)) for d in SOURCES for p in sorted((ROOT / d).rglob("*.py"))]


def _called(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _marked(node: ast.AST, names: set[str]) -> bool:
    """A template: A_("...") itself, a choice between such, or a name bound to one."""
    if isinstance(node, ast.IfExp):
        return _marked(node.body, names) and _marked(node.orelse, names)
    if isinstance(node, ast.Name):
        return node.id in names
    return _called(node, "A_") and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)


def _templates(modules: list[tuple[Path, ast.Module]]) -> set[str]:
    """Names bound to an A_ template anywhere in the box (`ETHICS = A_(...)`, `template = A_(...) if ...`)."""
    names: set[str] = set()
    for _path, tree in modules:
        for node in sources.walk(tree):
            if isinstance(node, ast.Assign) and _marked(node.value, set()):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _fault(node: ast.AST, names: set[str], inactive_ok: bool) -> str | None:
    """Why this message is not an alarm's words, or None."""
    if isinstance(node, ast.IfExp):
        return _fault(node.body, names, inactive_ok) or _fault(node.orelse, names, inactive_ok)
    if isinstance(node, ast.Constant) and node.value == "" and inactive_ok:
        return None  # Alarms.set's message when it clears
    if isinstance(node, (ast.Name, ast.Attribute)):
        return None  # a Msg made above (mypy and the run-time check hold it to Msg; its Msg(...) is checked there)
    if _called(node, "Msg"):
        assert isinstance(node, ast.Call)
        return None if node.args and _marked(node.args[0], names) else "a Msg whose template is not marked A_"
    return "not a Msg"


def _raises(modules: list[tuple[Path, ast.Module]]) -> list[tuple[str, ast.Call]]:
    """Every `....alarms.raise_(...)`/`alarms.set(...)` call: (where, the call)."""
    out = []
    for path, tree in modules:
        for node in sources.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MESSAGE_AT
                    and ast.unparse(node.func.value).endswith("alarms")):
                out.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return out


def _message(call: ast.Call) -> ast.AST | None:
    assert isinstance(call.func, ast.Attribute)
    at = MESSAGE_AT[call.func.attr]
    given = call.args[at] if len(call.args) > at else next((k.value for k in call.keywords if k.arg == "message"), None)
    return given


@pytest.mark.pure
def test_every_raise_carries_its_words():
    modules = _modules()
    names = _templates(modules)
    raises = _raises(modules)
    assert len(raises) >= 35, f"the scan finds the box's raises ({len(raises)})"
    bad = []
    for where, call in raises:
        message = _message(call)
        fault = "no message" if message is None else _fault(message, names, call.func.attr == "set")  # type: ignore[attr-defined]
        if fault:
            bad.append(f"{where}: {fault}: {ast.unparse(message) if message else ''}"[:200])
    assert not bad, "alarms raised in English only (make the message Msg(A_(...), ...), design/0343):\n" + \
        "\n".join(bad)


@pytest.mark.pure
def test_every_msg_of_an_alarm_is_marked_where_it_is_made():
    """A message made before its raise (`message = Msg(...)`, the planner's `Alarm.of(kind, cam, Msg(...))`):
    every Msg in a module that raises alarms or plans them takes an A_ template, or is not an alarm's."""
    modules = _modules()
    names = _templates(modules)
    made = 0
    bad = []
    for path, tree in modules:
        for node in sources.walk(tree):
            if _called(node, "Msg") and isinstance(node, ast.Call) and node.args and _marked(node.args[0], names):
                made += 1
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "of"
                    and ast.unparse(node.func.value) == "Alarm"):
                if len(node.args) < 3 or _fault(node.args[2], names, False):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, f"planned alarms in English only: {bad}"
    assert made >= 40, f"the scan finds the alarms' messages ({made})"


def test_a_raise_in_english_only_is_refused(tmp_path):
    """edged/alarms.py: a plain string (an English message no reader can say) is a programming error."""
    published: list[dict] = []

    async def scenario() -> None:
        writer = CatalogWriter(tmp_path / "catalog.db")
        await writer.start()
        try:
            alarms = Alarms(writer)

            async def publish(event: dict) -> None:
                published.append(event)

            alarms.publish.connect(publish)
            with pytest.raises(TypeError, match="no reader can say"):
                await alarms.raise_(alarm_kinds.CAMERA_OFFLINE, "camera cam2 is not recording", camera="cam2")  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="no reader can say"):
                await alarms.set(True, alarm_kinds.CAMERA_OFFLINE, "camera cam2 is not recording", camera="cam2")
            await alarms.set(False, alarm_kinds.CAMERA_OFFLINE, "", camera="cam2")  # clearing needs no words
            said = Msg(A_("camera {camera} is not recording: {why}"), camera="cam2", why="offline")
            await alarms.raise_(alarm_kinds.CAMERA_OFFLINE, said, camera="cam2")
        finally:
            await writer.close()

    asyncio.run(scenario())
    assert [e["action"] for e in published] == ["raise"] and published[0]["words"]["template"] == \
        "camera {camera} is not recording: {why}"


def _catalog(domain: str):
    with open(ROOT / f"{domain}/locale/zh_TW/LC_MESSAGES/{domain}.po", "rb") as f:
        return read_po(f, locale="zh_TW")


@pytest.mark.pure
def test_the_office_has_every_alarms_words_as_the_box_says_them():
    """scripts/i18n extracts every A_ template into both catalogs; compile gives the office the box's words."""
    templates = set()
    for _path, tree in _modules():
        for node in sources.walk(tree):
            if _called(node, "A_") and isinstance(node, ast.Call) and isinstance(node.args[0], ast.Constant):
                templates.add(node.args[0].value)
    assert len(templates) >= 40 and N_("camera {camera} is not recording: {why}") in templates
    box, office = _catalog("edged"), _catalog("central")
    missing = sorted(t for t in templates if box.get(t) is None or not box.get(t).string)
    assert not missing, f"alarm messages the box's catalog does not translate (scripts/i18n): {missing}"
    unlike = sorted(t for t in templates if office.get(t) is None or office.get(t).string != box.get(t).string)
    assert not unlike, f"alarm messages the office says otherwise than the box (scripts/i18n): {unlike}"
