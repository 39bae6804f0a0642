"""The house rules of issue 16, read off the source (design/0033, design/0034).

- Layers point down: storage/ is the floor; recorder/ and mqtt/ stand on it; edged/ on all
  three. No module below edged/ imports from above, and none hides a first-party import
  inside a function (the way a cycle used to be dodged).
- SQL lives in storage/ (and the tests' one helper, tests/support/catalog.py); the office's
  (central/, a separate program) in its own store, central/store/ (issue 80). bench/ measures
  queries and is not held to this.
- The wall clock is read only in storage/time/clock.py, in every package (central/ too: issue 41).
- No import cycle inside any package (issue 41: every package is scanned, not only edged/viewer/).
- Inside storage/ and central/, rooms on floors: a room imports only rooms below its own
  (STORAGE_FLOORS, design/0241; CENTRAL_FLOORS, design/0288).
"""

from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support import sources
from tests.support.sources import nodes, of_type, text as read, tree

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"edged", "storage", "recorder", "mqtt", "central", "tests", "refdocs"}
PACKAGES = ("edged", "storage", "recorder", "mqtt", "central")  # every package of the repository's code
# What each lower package may import from the repository's own packages.
ALLOWED = {"storage": {"storage"}, "recorder": {"recorder", "storage"}, "mqtt": {"mqtt", "storage"}}
# The two programs stand side by side on those (issue 80): the box's package carries none of the
# office's code and the office's none of the box's; refdocs/, the reference pages' generator, is a
# tool beside both that reads both, imported by neither.
BESIDE = {"edged": {"central", "refdocs", "tests"}, "central": {"edged", "refdocs", "tests"}}
# An SQL statement (the repository writes SQL keywords in capitals).
SQL = re.compile(r"^\s*(SELECT\s.*\bFROM\b|SELECT\s+(count|sum|max|min)\(|INSERT\s+(OR\s+\w+\s+)?INTO\s|"
                 r"UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|INDEX|UNIQUE\s+INDEX)\s|PRAGMA\s+\w+|"
                 r"ALTER\s+TABLE\s|DROP\s+(TABLE|INDEX)\s)", re.S)
# A statement's first words as SQL reads them: a file whose text holds none has no string SQL can match, and is
# not walked (13 of some 630 files hold one; walking every string of the rest was 3 s of the pure tier's CPU,
# design/0473). A keyword split across two literals, or by an f-string's field, is not seen by either.
SQL_WORDS = re.compile(r"SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|ALTER|DROP")
# A transaction's own statements and PostgreSQL's catalogue probes (the office's verifier took savepoints)
SQL_CONTROL = re.compile(r"^\s*(SAVEPOINT\s+\w+|RELEASE\s+\w+|ROLLBACK\s+TO\s+\w+|BEGIN(\s+IMMEDIATE)?|COMMIT|"
                         r"SELECT\s+(to_regclass|pg_\w+)\()\s*$", re.S)


def _modules(*folders: str, skip: tuple[str, ...] = ()) -> list[Path]:
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith(skip):
                found.append(path)
    assert found, folders
    return found


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    # importlib.import_module("edged.cli.documents") or (f"edged.cli.{name}"): the package its words name
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
            and node.args):
        arg = node.args[0]
        head = arg.values[0] if isinstance(arg, ast.JoinedStr) and arg.values else arg
        if isinstance(head, ast.Constant) and isinstance(head.value, str) and head.value.strip("."):
            return [head.value.rstrip(".")]
    return []


def _import_nodes(path: Path) -> tuple[ast.AST, ...]:
    """The nodes of a file `_imported` can name anything of (imports and calls), in ast.walk's order:
    filtered once a file (tests/support/sources.py `of_type`), not tested node by node in every check."""
    return of_type(tree(path), ast.Import, ast.ImportFrom, ast.Call)

def test_lower_layers_import_nothing_from_above():
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in _modules(package):
            for node in _import_nodes(path):
                for name in _imported(node):
                    top = name.split(".")[0]
                    if top in FIRST_PARTY and top not in allowed:
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not wrong, "imports that point up:\n" + "\n".join(wrong)


def test_the_box_and_the_office_import_nothing_of_each_other():
    wrong = [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
             for package, forbidden in BESIDE.items() for path in _modules(package) for node in _import_nodes(path)
             for name in _imported(node) if name.split(".")[0] in forbidden]
    assert not wrong, "the box and the office importing each other (or the docs tool):\n" + "\n".join(wrong)


# The rooms of storage/ (design/0068): what each must not import from the rest of storage/.
STORAGE_ROOMS = {
    "storage/retention": ("storage.export",),
    "storage/export": ("storage.retention",),
    "storage/redact": ("storage.retention",),
}


def test_storage_rooms_keep_to_themselves():
    wrong = []
    for folder, forbidden in STORAGE_ROOMS.items():
        for path in _modules(folder):
            for node in _import_nodes(path):
                for name in _imported(node):
                    names = [name] + ([f"{name}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom)
                                      else [])
                    if any(n == f or n.startswith(f + ".") for n in names for f in forbidden):
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not wrong, "storage/ rooms importing each other (design/0068):\n" + "\n".join(wrong)


# The floors of storage/'s rooms, the lowest first (issue 57, design/0241): a room is a folder of
# storage/ or a module standing alone; it imports only rooms on floors below its own, never one
# beside it. A new room takes a place here; an import that would point sideways or up means the
# code belongs lower (a schema step in schema/, a table's function in its table's room).
STORAGE_FLOORS: tuple[tuple[str, ...], ...] = (
    ("hevc",),  # H.265 at the bit level: a segment file's keyframe copied so that no decoder shows it (design/0543)
    ("states", "alarm_kinds", "msg", "time", "mp4", "schema", "lazy", "process", "names", "free_text"),  # the
    # vocabularies, the clock, the catalog's schema, imports on first use, a process's log fields and threads' names,
    # the one rule for names and the one for free text (design/0383)
    ("disk", "audit", "node", "cameras", "health", "outbox"),  # the disk; one table each (health/: alarms, inspections)
    ("catalog", "readonly", "keys", "maintenance", "declare", "media"),  # the connection (the schema applied),
    # the keys on the disk; the config keys declared once, which edged and edged-central read through (design/0283);
    # a media worker started as the media user, and that user's account (media/, design/0323)
    ("footage", "people"),  # the footage's and the people's tables, the catalog handed to them
    ("datainit", "retention", "export", "audit_report"),  # what works over those tables
    ("redact",),  # a redacted copy is an export's
    ("intake",),  # a portable device's file taken in: remuxed at the redaction's idle classes (design/0349)
)


def _room(package: str, name: str) -> str | None:
    """The room of ``package`` (storage, or edged/daemon) a module name is in, if any."""
    parts, own = name.split("."), package.split("/")
    return parts[len(own)] if parts[:len(own)] == own and len(parts) > len(own) else None


def room_arrows(package: str) -> dict[tuple[str, str], list[str]]:
    """(room, room it imports) -> where, for every import between two rooms of a package (module
    level and inside functions; `from storage import audit` names the room audit)."""
    arrows: dict[tuple[str, str], list[str]] = {}
    for path in _modules(package):
        rel = path.relative_to(ROOT)
        room = _room(package, ".".join(rel.with_suffix("").parts))
        if room is None or room == "__init__":
            continue
        for node in _import_nodes(path):
            names = _imported(node)
            if isinstance(node, ast.ImportFrom) and node.module == package.replace("/", "."):  # `from storage import audit`
                names = [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                other = _room(package, name)
                if other and other != room:
                    arrows.setdefault((room, other), []).append(f"{rel.as_posix()}:{node.lineno} imports {name}")
    return arrows


def storage_room_arrows() -> dict[tuple[str, str], list[str]]:
    """(room, room it imports) -> where, for every import between two rooms of storage/."""
    return room_arrows("storage")


def _rooms_stand_on_floors(package: str, floors: tuple[tuple[str, ...], ...], name: str) -> None:
    floor = {room: n for n, rooms in enumerate(floors) for room in rooms}
    assert sum(map(len, floors)) == len(floor), "a room on two floors"
    found = {p.stem if p.is_file() else p.name for p in (ROOT / package).iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()}
    assert found - floor.keys() == set(), f"rooms of {package}/ on no floor of {name} (give each its floor)"
    assert floor.keys() - found == set(), f"{name} names rooms {package}/ no longer has"
    wrong = [f"{w} ({room} on floor {floor[room]}, {other} on floor {floor[other]})"
             for (room, other), where in sorted(room_arrows(package).items()) if floor[other] >= floor[room]
             for w in where]
    assert not wrong, f"{package}/ rooms importing sideways or up (tests/test_layers.py {name}):\n" + "\n".join(wrong)


def test_storage_rooms_stand_on_floors():
    """Every room of storage/ has its floor, and imports only rooms below it: no room loop, no
    arrow up or sideways (issue 57: 8 of its rooms imported each other in a loop)."""
    _rooms_stand_on_floors("storage", STORAGE_FLOORS, "STORAGE_FLOORS")


# The floors of central/'s rooms, the lowest first (issue 57, design/0288), held as storage/'s are:
# a room is a folder of central/ or a module standing alone; it imports only rooms on floors below
# its own, never one beside it, and no room is excepted. A new module joins the room it belongs to;
# a new room takes its floor here.
CENTRAL_FLOORS: tuple[tuple[str, ...], ...] = (
    ("i18n", "login", "config_secrets", "apt_keys"),  # the words' domain, the accounts, the secrets file, the APT keys
    ("apt_repo",),  # the APT repository, signed with apt_keys
    ("finding_words", "checks"),  # the findings' words; the pure checks a node's messages are judged by
    ("intake", "keys"),  # what a node's message must pass and the subscription; the CA and its register
    ("store",),  # the store on SQLite and on PostgreSQL, its schema, versions and migrations
    ("config", "archive", "verifier", "ops"),  # over the store: the config (it opens the store), a month
    # archived, the verifier's shell, an instance's figures
    ("report", "ingest", "cli_store"),  # a site's month; `run`'s threads (subscriber, store, verifier); store verbs
    ("pages",),  # the dashboard
    ("cli",),  # `edged-central`
)


def test_central_rooms_stand_on_floors():
    """Every room of central/ has its floor, and imports only rooms below it (issue 57: central/
    was 57 flat modules, and nothing in the tree said which were the office's store, verifier or pages)."""
    _rooms_stand_on_floors("central", CENTRAL_FLOORS, "CENTRAL_FLOORS")


def test_the_floor_check_sees_an_arrow_up(tmp_path, monkeypatch):
    for room, body in (("low", "from pkg import high\n"), ("high", "")):
        (tmp_path / "pkg" / room).mkdir(parents=True)
        (tmp_path / "pkg" / room / "__init__.py").write_text(body)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert room_arrows("pkg") == {("low", "high"): ["pkg/low/__init__.py:1 imports pkg.high"]}
    _rooms_stand_on_floors("pkg", (("high",), ("low",)), "FLOORS")
    for floors in ((("low",), ("high",)), (("low", "high"),)):  # up, sideways
        with pytest.raises(AssertionError, match="sideways or up"):
            _rooms_stand_on_floors("pkg", floors, "FLOORS")


def test_edged_daemon_rooms_point_down():
    """edged/daemon/'s rooms (recording/, a folder, and each module standing alone) import one
    another in no loop: the recording plane stands on the health monitor, the tamper guard and the
    task keeper, so nothing it holds is read from below it (issue 80: the health monitor read each
    camera's state from recording/camera_states.py, the package's one arrow up)."""
    graph: dict[str, set[str]] = {}
    for (room, other) in room_arrows("edged/daemon"):
        graph.setdefault(room, set()).add(other)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        loop = exc.args[1]
        where = [room_arrows("edged/daemon")[(a, b)] for a, b in zip(loop, loop[1:])]
        raise AssertionError(f"edged/daemon/ rooms in a loop: {loop}; where: {where}") from None


# The modules of storage/ that may import storage/catalog.py: they open the catalog or are handed
# its writer. Every table module is plain functions over the connection (design/0068).
CATALOG_USERS = ("storage/catalog.py", "storage/datainit.py", "storage/footage/reconcile.py", "storage/people/sessions.py")


def test_table_modules_do_not_import_the_catalog():
    """storage/'s table modules take the connection (`db`) and import nothing of catalog.py:
    `Catalog` is the connection, the writer and its transactions, no table's code."""
    wrong = []
    for path in _modules("storage"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in CATALOG_USERS:
            continue
        for node in _import_nodes(path):
            for name in _imported(node):
                names = [name] + ([f"{name}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom)
                                  else [])
                if "storage.catalog" in names:
                    wrong.append(f"{rel}:{node.lineno} imports {name}")
    assert not wrong, "storage/ modules importing the catalog (take the connection instead):\n" + "\n".join(wrong)


def test_state_vocabularies_are_leaves():
    """storage/states/ names the row states and imports nothing, so the rules can read them."""
    wrong = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in _modules("storage/states")
             for node in of_type(tree(path), ast.Import, ast.ImportFrom) if not (
                 isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    assert not wrong, "imports in storage/states/:\n" + "\n".join(wrong)


@pytest.mark.process
def test_the_rules_load_neither_sqlite_utils_nor_the_catalog():
    """edged/rules/ is pure (design/0031): importing every rule module loads no database code."""
    rules = [f"edged.rules.{p.stem}" for p in _modules("edged/rules") if p.stem != "__init__"]
    code = (f"import sys\nfor m in {rules!r}: __import__(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlite3', 'sqlite_utils')"
            " or m in ('storage.catalog', 'storage.audit')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


# Where a first-party import may sit in a function (issue 80, design/0341, 0359): each entry a function,
# with what its imports would cost at the top (measured: design/0359's command). A command-line entry
# loads a heavy verb's code only when that verb runs, and a part the config enables loads its heavy
# libraries on a thread as it starts (design/0286). Nowhere else: an import whose module the program
# has loaded anyway goes to the module's top, and a new one here needs its reason.
IMPORTS_IN_FUNCTIONS = {
    ("edged/cli/main.py", "resolve_config"): "edged.config, 42 modules: `edged run` forks its workers first (0029)",
    ("edged/cli/main.py", "check_config"): "edged.config: `edged` loads 191 modules before it, not 233",
    ("edged/cli/main.py", "_run"): "edged.app, 539 modules (3 s here): the workers start first (design/0029)",
    ("edged/cli/main.py", "_first_pictures"): "succession, 50 modules: only the next daemon of a handover",
    ("edged/cli/main.py", "init_data"): "storage.datainit, 231 modules: only `edged init-data`",
    ("central/cli.py", "cmd_status"): "central.ops, 83 modules: the other verbs need no intake takeover",
    ("central/cli.py", "_serving"): "the dashboard and the ingest, 209 modules (aiohttp, paho): `run` only",
    ("edged/viewer/__init__.py", "run"): "aiohttp, aiortc, PyAV on the viewer's thread when enabled (0286)",
    ("edged/daemon/peers.py", "once"): "aiohttp on the standby's thread when a peer is configured (0286)",
    ("edged/cli/edgectl.py", "build_parser"): "the verb's module only, not thirteen: 0.5 s of CPU an edgectl call was "
                                              "0.2-0.3 (design/0390)",
    ("edged/cli/edgectl.py", "cmd_cameras"): "edged.cli.documents, the printed notice's 30 modules: `cameras --html` only",
    ("edged/config/__init__.py", "__getattr__"): "the whole config's 40 modules when a name of it is asked for, not for "
                                                 "edged.config.values or .forms alone (edgectl's verbs: design/0390)",
}


def hidden_imports(*folders: str) -> list[str]:
    hidden: list[str] = []

    def walk(node: ast.AST, rel: str, inside: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (rel, child.name) not in IMPORTS_IN_FUNCTIONS:
                    walk(child, rel, child.name)
                continue
            if inside is not None:
                hidden.extend(f"{rel}:{child.lineno} imports {name} inside {inside}()" for name in _imported(child)
                              if name.split(".")[0] in FIRST_PARTY)
            walk(child, rel, inside)

    for path in _modules(*folders):
        parsed = sources.tree(path)
        top = {id(node) for node in parsed.body}
        if all(id(node) in top for node in _import_nodes(path)
               if any(name.split(".")[0] in FIRST_PARTY for name in _imported(node))):
            continue  # every first-party import a statement of the module's own body: none in a function
        walk(parsed, path.relative_to(ROOT).as_posix(), None)
    return hidden


def test_no_first_party_import_is_hidden_in_a_function():
    """An import in a function is an arrow the layer and cycle checks above read only by walking
    every function: move it to the module's top (edged/ and central/ since issue 80: 71 of them,
    49 at the seams after design/0341, 13 in 9 functions after design/0359)."""
    hidden = hidden_imports(*PACKAGES)
    assert not hidden, "imports hidden in functions (at a module's top instead):\n" + "\n".join(hidden)
    for (rel, fn), _why in IMPORTS_IN_FUNCTIONS.items():  # each exception still names a function that imports
        found = [f for f in nodes(ROOT / rel) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and f.name == fn]
        assert any(_imported(n) for f in found for n in ast.walk(f)), f"{rel}:{fn}() imports nothing: drop its entry"


def test_the_hidden_import_check_sees_one(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("def f():\n    from storage import audit\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert hidden_imports("pkg") == ["pkg/mod.py:2 imports storage inside f()"]
    # A command-line module is no longer exempt as a whole (design/0359): only its listed functions,
    # and a function nested in a listed one with them; one nested in any other is seen.
    (tmp_path / "edged" / "cli").mkdir(parents=True)
    (tmp_path / "edged" / "cli" / "main.py").write_text(
        "def _run():\n    def inner():\n        import edged.app\n\n"
        "def cmd_new():\n    import os\n    def inner():\n        from edged.config import load_config\n")
    assert hidden_imports("edged") == ["edged/cli/main.py:8 imports edged.config inside inner()"]


def _strings(walked):
    for node in walked:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr):  # the literal parts of an f-string
            yield node.lineno, "".join(v.value for v in node.values if isinstance(v, ast.Constant))


def test_sql_is_written_only_in_storage():
    found = []
    helper_and_this = ("tests/support/catalog.py", "tests/test_layers.py")
    for path in _modules("edged", "recorder", "mqtt", "tests", skip=helper_and_this):
        if not SQL_WORDS.search(read(path)):
            continue
        for line, text in _strings(of_type(tree(path), ast.Constant)):
            if SQL.search(text):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()[:70]!r}")
    assert not found, "SQL outside storage/ (give storage/ a named function):\n" + "\n".join(found)


# What runs a statement on a connection (sqlite3's, sqlite-utils', psycopg's, the office's PgConn).
RUNS_SQL = {"execute", "executemany", "executescript", "query", "stream", "insert_rows", "write_all", "rows_sql"}


def sql_outside(package: str, room: str) -> list[str]:
    """Where ``package`` writes an SQL statement or runs one on a connection outside ``room``."""
    found = []
    for path in _modules(package, skip=(room,)):
        rel = path.relative_to(ROOT).as_posix()
        for node in of_type(tree(path), ast.Call):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNS_SQL:
                found.append(f"{rel}:{node.lineno}: .{node.func.attr}(...)")
        for line, text in _strings(of_type(tree(path), ast.Constant)):
            if SQL.search(text) or SQL_CONTROL.search(text):
                found.append(f"{rel}:{line}: {text.strip()[:70]!r}")
    return list(dict.fromkeys(found))  # an f-string's literal part is seen twice


def test_the_office_writes_and_runs_sql_only_in_its_store():
    """central/store/ is the only code of the office that knows its SQL (issue 80: 16 modules
    outside it wrote or ran statements): everything else calls a named function of the store."""
    found = sql_outside("central", "central/store/")
    assert not found, "SQL outside central/store/ (give central/store/ a named function):\n" + "\n".join(found)


def test_the_office_sql_check_sees_a_statement_and_a_run(tmp_path, monkeypatch):
    (tmp_path / "pkg" / "store").mkdir(parents=True)
    (tmp_path / "pkg" / "store" / "ok.py").write_text('Q = "SELECT * FROM nodes WHERE node = ?"\n')
    (tmp_path / "pkg" / "verifier.py").write_text('def f(db):\n    db.execute(f"SAVEPOINT node")\n'
                                                    '    return db.query(Q)\n')
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert sql_outside("pkg", "pkg/store/") == ["pkg/verifier.py:2: .execute(...)", "pkg/verifier.py:3: .query(...)",
                                                "pkg/verifier.py:2: 'SAVEPOINT node'"]


def test_the_sql_check_sees_sql():
    """The check above would catch what it is for (and not a docstring that says "Drop")."""
    assert SQL.search("SELECT * FROM segments WHERE path = ?")
    assert SQL.search(" UPDATE segments SET state = ? WHERE id = ?")
    assert SQL.search("SELECT count(*) AS n FROM gaps")
    assert not SQL.search("Drop the connection at once; idempotent.")
    assert not SQL.search("select a camera from the list")


def test_the_wall_clock_is_read_only_in_the_clock_module():
    clock = ROOT / "storage" / "time" / "clock.py"
    reads = []
    for path in _modules(*PACKAGES, "tests"):
        if path == clock:
            continue
        for node in of_type(tree(path), ast.Attribute, ast.ImportFrom):
            if (isinstance(node, ast.Attribute) and node.attr in ("time", "time_ns")
                    and isinstance(node.value, ast.Name) and node.value.id == "time"):
                reads.append(f"{path.relative_to(ROOT)}:{node.lineno}: time.{node.attr}")
            if (isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today")
                    and isinstance(node.value, ast.Name) and node.value.id in ("datetime", "date")):
                reads.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "time" and any(
                    a.name in ("time", "time_ns") for a in node.names):
                reads.append(f"{path.relative_to(ROOT)}:{node.lineno}: from time import time")
    assert not reads, "the wall clock read outside storage/time/clock.py (take a Clock):\n" + "\n".join(reads)


# Inside edged/ (design/0031): what a sub-package must not import from the rest of edged/. The
# composition root (edged/app.py, design/0068) stands above them all, so no folder is excepted.
EDGED_FORBIDDEN = {
    "edged/rules": ("edged.alarms", "edged.people", "edged.daemon", "edged.control", "edged.cli", "edged.viewer"),
    "edged/config": ("edged.alarms", "edged.people", "edged.rules", "edged.daemon", "edged.control", "edged.cli",
                     "edged.viewer"),
    "edged/daemon": ("edged.control", "edged.cli"),
    "edged/viewer": ("edged.daemon", "edged.control", "edged.cli"),
    "edged/control": ("edged.daemon", "edged.cli", "edged.viewer"),
    "edged/cli": ("edged.daemon", "edged.viewer", "edged.control"),
    "edged/documents": ("edged.daemon", "edged.viewer", "edged.control", "edged.cli", "edged.alarms", "edged.people"),
}
# `edged run` starts the daemon; edgectl's modules talk only through the client side of the socket.
# Every module of edged/cli/ (read from the folder: a new verb's module needs no line here).
EDGED_EXCEPT = {"edged/cli/main.py": ("edged.daemon",),
                **{f"edged/cli/{p.name}": ("edged.control.client", "edged.control.protocol")
                   for p in sorted((Path(__file__).resolve().parents[1] / "edged" / "cli").glob("*.py"))
                   if p.name != "main.py"}}


def test_edged_sub_packages_point_down():
    wrong = []
    for folder, forbidden in EDGED_FORBIDDEN.items():
        for path in _modules(folder):
            for node in _import_nodes(path):
                for name in _imported(node):
                    names = [name]
                    if isinstance(node, ast.ImportFrom):  # `from edged import daemon` names edged.daemon
                        names += [f"{name}.{a.name}" for a in node.names]
                    if any(n == f or n.startswith(f + ".") for n in names for f in forbidden):
                        if name.startswith(EDGED_EXCEPT.get(path.relative_to(ROOT).as_posix(), ("-",))):
                            continue
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not wrong, "edged/ imports against design/0031:\n" + "\n".join(wrong)


def test_nothing_but_edged_run_imports_the_composition_root():
    """edged/app.py builds the parts; none of them imports it (design/0068). `edged run` starts it."""
    wrong = []
    for path in _modules("edged", "recorder", "storage", "mqtt", skip=("edged/cli/main.py",)):
        for node in _import_nodes(path):
            names = _imported(node)
            if isinstance(node, ast.ImportFrom) and node.module == "edged":
                names = [f"edged.{a.name}" for a in node.names]
            wrong += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n == "edged.app"]
    assert not wrong, "the composition root imported by a part:\n" + "\n".join(wrong)


# Size (issues 16 and 29): a module about 400 lines, never above 600 (one over 400 says why in its
# docstring: "over 400 lines on purpose: ..."); no function over 60 lines unless a comment in it or
# just above it says why ("over 60 lines on purpose: ...").
MODULE_LINES, MODULE_MAX, FUNCTION_LINES = 400, 600, 60
SIZED = ("edged", "recorder", "storage", "mqtt", "central")  # central/ since issue 57

def _long_functions(path: Path) -> list[tuple[str, int, bool]]:
    """(name, lines, says why) of each function over FUNCTION_LINES, nested ones included."""
    lines = read(path).splitlines()
    found = []
    for node in of_type(tree(path), ast.FunctionDef, ast.AsyncFunctionDef):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > FUNCTION_LINES:
                top = min([node.lineno] + [d.lineno for d in node.decorator_list])
                near = "\n".join(lines[max(0, top - 4):node.end_lineno]).lower()
                found.append((node.name, length, "over 60 lines" in near))
    return found


def test_a_module_is_about_400_lines_and_never_above_600():
    sizes = {p.relative_to(ROOT).as_posix(): (len(text.splitlines()), text) for p in _modules(*SIZED)
             for text in [read(p)]}
    assert {m: n for m, (n, _t) in sizes.items() if n > MODULE_MAX} == {}
    silent = {m: n for m, (n, text) in sizes.items() if n > MODULE_LINES and "over 400 lines on purpose" not in
              (ast.get_docstring(ast.parse(text)) or "").lower()}
    assert silent == {}, silent


def test_no_function_over_60_lines_without_saying_why():
    silent = {}
    for path in _modules(*SIZED):
        rel = path.relative_to(ROOT).as_posix()
        for name, length, says_why in _long_functions(path):
            if not says_why:
                silent[f"{rel}:{name}"] = length
    assert silent == {}, silent


def test_the_size_checks_see_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES + 1))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n\n\n# over 60 lines on purpose: a test\n"
                                      f"def said():\n{body}\n")
    assert _long_functions(tmp_path / "long.py") == [("long", FUNCTION_LINES + 2, False),
                                                     ("said", FUNCTION_LINES + 2, True)]


# Import cycles inside a package (issue 29; every package since issue 41): a module graph with every
# first-party import, the ones inside functions too (a lazy import is how a cycle used to be dodged).
ACYCLIC = PACKAGES


def _import_graph(folder: str) -> dict[str, set[str]]:
    """Module -> the modules of the same folder it imports (`from pkg import mod` names pkg.mod)."""
    mods = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in _modules(folder)}
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        edges = set()
        for node in _import_nodes(path):
            for name in _imported(node):
                subs = [f"{name}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
                hits = [s for s in subs if s in mods] or ([name] if name in mods else [])
                edges.update(h for h in hits if h != mod)
        graph[mod] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle for each module found on one (depth first, so each cycle shows once or a few times)."""
    found, state = [], dict.fromkeys(graph, 0)  # 0 unseen, 1 on the path, 2 done

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = 1
        for dep in sorted(graph[mod]):
            if state[dep] == 1:
                found.append(path[path.index(dep):] + [mod, dep] if dep in path else [mod, dep])
            elif state[dep] == 0:
                visit(dep, path + [mod])
        state[mod] = 2

    for mod in sorted(graph):
        if state[mod] == 0:
            visit(mod, [])
    return found


def test_no_import_cycle_in_any_package():
    """Each package's modules import one another in one direction only (edged/viewer/: the media
    worker's process, its wire frames and the daemon's side of it in modules of their own;
    edged/cli/: the socket and Ctx in edged/cli/ctx.py, not in edgectl's dispatcher)."""
    graph = {m: e for folder in ACYCLIC for m, e in _import_graph(folder).items()}
    cycles = [" -> ".join(c) for c in _cycles(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_cycle_check_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


@pytest.mark.process
def test_the_media_worker_is_a_process_of_its_own():
    """The daemon never imports the worker's entry point, and the worker loads none of the
    daemon's web, WebRTC or catalog code (design/0020)."""
    wrong = [f"{p.relative_to(ROOT)}:{node.lineno}" for p in _modules("edged", "recorder", "storage", "mqtt")
             for node in _import_nodes(p)
             if "edged.viewer.media_worker" in _imported(node) or (
                 isinstance(node, ast.ImportFrom) and node.module == "edged.viewer"
                 and any(a.name == "media_worker" for a in node.names))]
    assert not wrong, "the media worker imported:\n" + "\n".join(wrong)
    code = ("import sys\nimport edged.viewer.media_worker\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiortc', 'aiohttp')"
            " or m in ('storage.catalog', 'edged.viewer.server', 'edged.viewer.live', 'edged.viewer.playback')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_every_package_folder_is_installed():
    """pyproject.toml names each package folder (a folder left out is missing from an installed edged:
    edged/viewer/desk/ was, and storage/schema/ would have been; issue 57)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in _modules(*PACKAGES) if p.name == "__init__.py"}
    found.add("edged_evidence_check")  # the checker's package, edged's verifier core too (package-dir, design/0316)
    assert found - listed == set(), "package folders pyproject.toml [tool.setuptools] packages does not name"
    assert listed - found == set(), "pyproject.toml names packages the tree does not have"

