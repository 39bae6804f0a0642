"""Personal accounts over the control socket (R4.1): opened, password changed and revoked by an
admin, each with a reason; everyone changes their own password; the auditor reads them.

Passwords are hashed (scrypt) on a thread of their own, never on the catalog writer's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from edged import people
from edged.alarms import Alarms
from edged.people import policy_of
from edged.config import Config
from edged.control.operation import Operations, op, read_catalog, text, write_refusing
from edged.control.protocol import RequestError
from edged.control.server import Caller
from storage import accounts, sessions
from storage.catalog import CatalogWriter
from storage.clock import SYSTEM, Clock


class AccountOps(Operations):
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms | None = None, clock: Clock = SYSTEM):
        self.policy = policy_of(cfg)
        self.data_dir: Path = cfg.storage.data_dir
        self.writer = writer
        self.alarms = alarms
        self.clock = clock

    @op("account.add")
    async def add(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        roles = args.get("roles") or []
        cameras = args.get("cameras")
        if not isinstance(roles, list) or not (cameras is None or isinstance(cameras, list)):
            raise RequestError("account not opened: roles and cameras are lists")
        password = str(args.get("password") or "")
        pw_hash = await asyncio.to_thread(accounts.hash_password, password)  # scrypt: not on the writer thread
        return await write_refusing(self.writer, lambda db: people.add_account(
            db, text(args, "name"), password, roles, cameras, by=str(caller),
            reason=text(args, "reason"), now_us=self.clock.now_us(), full_name=text(args, "full_name"),
            min_password=self.policy.min_password, pw_hash=pw_hash), "account not opened")

    @op("account.passwd")
    async def passwd(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name = text(args, "name") or caller.account or ""
        password = str(args.get("password") or "")
        if name != caller.account:
            if not caller.may("account.passwd.other"):
                raise RequestError(f"password not changed: only an admin sets another account's password; "
                                   f"{caller.account} may change only their own")
            if not text(args, "reason"):
                raise RequestError("password not changed: setting another account's password needs --reason")
        stored = await self.writer.run(lambda c: sessions.stored_hash(c.db, name))
        if name == caller.account and not await asyncio.to_thread(
                accounts.check_password, str(args.get("old_password") or ""), stored):
            raise RequestError("password not changed: the current password is wrong")
        prepared = await asyncio.to_thread(accounts.prepare_password, password, stored)  # scrypt: off the writer thread
        row = await write_refusing(self.writer, lambda db: accounts.change_password(
            db, name, password, by=str(caller), reason=text(args, "reason"), now_us=self.clock.now_us(),
            min_password=self.policy.min_password, prepared=prepared), "password not changed")
        if self.alarms is not None:
            await self.alarms.clear(f"account_locked:{name}")
        return row

    @op("account.revoke")
    async def revoke(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return await write_refusing(self.writer, lambda db: accounts.revoke_account(
            db, text(args, "name"), by=str(caller), reason=text(args, "reason"), now_us=self.clock.now_us()),
            "account not revoked")

    @op("account.list")
    async def listing(self, args: dict[str, Any], _caller: Caller) -> list[dict[str, Any]]:
        include_revoked = bool(args.get("all", True))
        return await read_catalog(self.data_dir, lambda db: accounts.accounts(db, include_revoked=include_revoked))

    @op("account.show")
    async def show(self, args: dict[str, Any], _caller: Caller) -> dict[str, Any]:
        name = text(args, "name")
        row = await read_catalog(self.data_dir, lambda db: accounts.account(db, name))
        if row is None:
            raise RequestError(f"no account {name}; `edgectl account list` shows them")
        return row
