"""Modules imported on first use: for the worker's start-up (design/0025, addendum of 2026-11-22), and in the
daemon for what it rarely runs (design/0286, 0297).

A restarted worker's cameras wait for its imports; numpy is needed only once a picture is
checked (recorder/imagecheck.py) or a synthetic camera draws one (recorder/synthetic.py), so
it is imported then, on the thread that first reads it. `importlib.util.LazyLoader` alone is
not thread-safe in Python 3.11: a thread reading the module while another thread's first read
runs the import sees it half-initialised (AttributeError). Here the first read takes a lock
and the others wait for the import's end; once imported it is a plain module, lock-free.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

_first_use = threading.RLock()  # re-entrant: the import itself reads the module


class _Importing(ModuleType):
    """While the first read imports the module: other threads wait for the end, the importing
    thread goes on (the lock is re-entrant). LazyLoader's module sets its class to a plain
    module as its first step, which would let other threads in half-way: that is ignored."""

    def __getattribute__(self, attr: str) -> Any:
        with _first_use:
            return ModuleType.__getattribute__(self, attr)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "__class__":
            ModuleType.__setattr__(self, name, value)


class _Lazy(ModuleType):
    """Not imported yet: the first read, on any thread, imports it under the lock. Where the stdlib's
    lazy module has a lock of its own (Python 3.13, Debian 13's; design/0437), it loads only while its
    class is its own (under another, it returns the bare attribute: `av.__version__` missing), and its
    lock makes other threads wait: it is given its own class for the import."""

    def __getattribute__(self, attr: str) -> Any:
        with _first_use:
            if type(self) is _Lazy:
                state = object.__getattribute__(self, "__spec__").loader_state
                own_lock = isinstance(state, dict) and "lock" in state
                object.__setattr__(self, "__class__", _STDLIB_LAZY if own_lock else _Importing)
                try:
                    _LAZY_READ(self, "__name__")  # LazyLoader's own first read: runs the import
                finally:
                    object.__setattr__(self, "__class__", ModuleType)
        return getattr(self, attr)


_STDLIB_LAZY = importlib.util._LazyModule  # type: ignore[attr-defined]  # the stdlib's lazy module
_LAZY_READ = _STDLIB_LAZY.__getattribute__  # (3.11), read with ours


class _Loader(importlib.util.LazyLoader):
    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)  # makes it LazyLoader's lazy module ...
        object.__setattr__(module, "__class__", _Lazy)  # ... whose first read goes through ours


def lazy_import(name: str) -> ModuleType:
    """The module `name`, imported when an attribute is first read (at once if already imported).
    Registered in sys.modules, so a later plain `import name` gets the same module."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    spec.loader = _Loader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def loaded(module: ModuleType) -> ModuleType:
    """`module`, really imported: call it where the import may be paid (a pool thread before
    its first picture), not on a camera's path."""
    module.__name__  # noqa: B018 - the attribute read is what imports it
    return module


def import_hiding(name: str, hidden: str) -> ModuleType:
    """The module `name`, imported (unless it already is) while the module `hidden` cannot be: for a
    library that imports an optional one whenever it is installed, which this process never uses
    through it. `hidden` imports as usual afterwards (lazily, if lazy_import registered it). Call it
    before any thread could import `hidden`."""
    was = sys.modules.get(hidden)
    if name in sys.modules or (was is not None and type(was) is not _Lazy):  # too late: imported already
        return importlib.import_module(name)
    sys.modules[hidden] = None  # type: ignore[assignment]  # an import of it raises ImportError meanwhile
    try:
        return importlib.import_module(name)
    finally:
        if was is None:
            del sys.modules[hidden]
        else:
            sys.modules[hidden] = was
