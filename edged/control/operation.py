"""A group of control operations: one small class per group (holds, accounts, requests, ...),
whose coroutine methods are marked with the role matrix key they serve (`@op("hold.add")`).

`op` refuses, at import, a key that edged/rules/roles.py does not know: an operation nobody may
run cannot be registered by mistake (the server denies unknown keys anyway). The server has
checked the caller's role for the key before a method runs; the method checks what depends on
the details (the cameras in the caller's scope, whose password, whose request).

Also here: what several groups share (scope checks, argument parsing, the read-only catalog).
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any, Callable, TypeVar

from edged import pools
from edged.control.protocol import RequestError
from edged.control.server import Caller, Handler
from edged.rules import retrieval, roles
from edged.i18n import N_, _, hint_of, hinted
from edged.rules.roles import Actor
from storage.people import accounts, retrieval_store
from storage.catalog import CatalogWriter
from storage.readonly import open_readonly
from storage.disk.layout import CATALOG_FILE

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
OP_ATTR = "control_op"
MAX_ROWS = 100_000


def op(key: str) -> Callable[[F], F]:
    """Mark a method as the handler of the control operation `key` (a roles.MATRIX or PUBLIC key)."""
    if key not in roles.PUBLIC and key not in roles.MATRIX:
        # i18n: a programming error at start-up
        raise ValueError(f"control operation {key!r} has no roles in edged/rules/roles.py: nobody may run it")

    def mark(fn: F) -> F:
        setattr(fn, OP_ATTR, key)
        return fn
    return mark


class Operations:
    """A group of control operations; `handlers()` maps each marked method's key to it."""

    def handlers(self) -> dict[str, Handler]:
        found: dict[str, Handler] = {}
        for name in dir(type(self)):
            key = getattr(getattr(type(self), name), OP_ATTR, None)
            if key is not None:
                found[key] = getattr(self, name)
        return found


def handlers_of(*groups: Operations) -> dict[str, Handler]:
    """Every group's handlers in one table; two groups claiming one key is a programming error."""
    table: dict[str, Handler] = {}
    for group in groups:
        for key, handler in group.handlers().items():
            if key in table:
                # i18n: a programming error at start-up
                raise ValueError(f"control operation {key} is registered twice")
            table[key] = handler
    return table


async def read_catalog(data_dir: Path, fn: Callable[[Any], T], pool: pools.Pool = pools.REPORTS) -> T:
    """`fn(db)` on a read-only catalog connection of its own, on a thread of `pool`: readers never
    wait for the writer, the event loop never waits for SQLite, and a flood of reports waits
    behind itself, capped per caller (design/0062)."""
    def run() -> T:
        db = open_readonly(data_dir / CATALOG_FILE)
        try:
            return fn(db)
        finally:
            db.conn.close()
    return await pool.run(run)


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class CatalogReader:
    """The reports' reads of the catalog, each on a read-only connection of its own, refused in
    words while the data disk is gone (design/0023): the catalog at its path must still be the
    file edged has open, not a folder left empty by an unmounted disk, nor another data set's
    catalog mounted in its place. `storage_lost()` says why the disk is not the one edged
    started on (None: it is)."""

    def __init__(self, data_dir: Path, storage_lost: Callable[[], str | None] = lambda: None):
        self.data_dir = data_dir
        self.catalog = data_dir / CATALOG_FILE
        self.storage_lost = storage_lost
        self.opened = _file_id(self.catalog)  # the catalog file the writer has open

    async def readable(self) -> bool:
        return self.opened is None or await asyncio.to_thread(_file_id, self.catalog) == self.opened

    def unreadable(self) -> RequestError:
        why = self.storage_lost() or _("{path} is no longer the catalog edged has open").format(path=self.catalog)
        return RequestError(_("the catalog cannot be read while the data disk is gone ({why}). Recording has stopped "
                              "and resumes by itself when the disk is back; `edgectl status` shows the "
                              "state").format(why=why))

    async def query(self, fn: Callable[[Any], T], pool: pools.Pool = pools.REPORTS) -> T:
        if not await self.readable():
            raise self.unreadable()
        try:
            return await read_catalog(self.data_dir, fn, pool)
        except FileNotFoundError:
            raise self.unreadable() from None


def check_scope(caller: Actor, cameras: list[str] | None, what: str) -> None:
    """A person acts only on the cameras of their account (R4.2); signed commands are not scoped."""
    if isinstance(caller, Caller) and caller.account is not None:
        outside = roles.out_of_scope(caller.cameras, cameras)
        if outside:
            raise RequestError(_("{what}: {account} has no rights on {cameras}").format(
                what=what, account=caller.account, cameras=", ".join(outside)))


def sees(caller: Actor, cameras: list[str] | None) -> bool:
    """Whether a read may show something about these cameras (None: every camera) to the caller."""
    return not (isinstance(caller, Caller) and caller.account is not None) or roles.in_scope(caller.cameras, cameras)


def scope_of(caller: Actor) -> tuple[str, ...] | None:
    """The cameras a scoped account's reads are cut down to (None: every camera)."""
    return caller.cameras if isinstance(caller, Caller) and caller.account is not None else None


def scoped(caller: Actor, camera: str | None) -> list[str] | None:
    """The cameras a read may cover: the one asked for (checked against the account's scope), or
    the account's scope (None: every camera)."""
    if camera is not None:
        check_scope(caller, [camera], _("refused"))
        return [camera]
    return None if not isinstance(caller, Caller) or caller.cameras is None else list(caller.cameras)


def integer(value: Any, field: str, default: int | None = None) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RequestError(_("{field} must be an integer").format(field=field)) from None


def limit_of(args: dict[str, Any], default: int) -> int:
    n = integer(args.get("limit"), "limit", default)
    return max(1, min(int(n or default), MAX_ROWS))


def text(args: dict[str, Any], key: str) -> str:
    return str(args.get(key) or "").strip()


async def write_refusing(writer: CatalogWriter, fn: Callable[[Any], T], refused: str) -> T:
    """Run fn(db) on the catalog writer; the people rules' refusals become a RequestError that
    says what was not done and why."""
    try:
        return await writer.run(lambda c: fn(c.db))
    except (accounts.AccountError, retrieval_store.GrantError, retrieval.RequestRuleError) as exc:
        raise hinted(RequestError(_("{refused}: {why}").format(refused=refused, why=stored_words(str(exc)))),
                     hint_of(exc)) from None


# storage/ speaks English (it has no catalog): the refusals of its own a person can meet, in words
STORED = {"a password must not contain the account name": N_("a password must not contain the account name"),
          "the new password is the old one": N_("the new password is the old one"),
          "the password was changed meanwhile; try again": N_("the password was changed meanwhile; try again")}
_AT_LEAST = re.compile(r"a password has at least (\d+) characters")  # i18n: storage's English, matched


def stored_words(text: str) -> str:
    if text in STORED:
        return _(STORED[text])
    m = _AT_LEAST.fullmatch(text)
    return _("a password has at least {n} characters").format(n=m[1]) if m else text
