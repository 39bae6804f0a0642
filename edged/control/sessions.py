"""Sessions over the control socket: logging in, the first admin, logging out, who am I.

The socket's peer credentials prove the OS account; a session token (`edgectl login`) proves
the person. Failed logins count toward a lockout, which raises `account_locked`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from edged import people
from edged.people import policy_of
from edged.alarms import Alarms
from edged.config import Config
from edged.control.operation import Operations, op, text, write_refusing
from edged.control.protocol import RequestError
from edged.control.server import Caller, SessionLookup
from edged.i18n import Msg, N_, _
from storage import accounts, sessions
from storage.catalog import CatalogWriter
from storage.clock import SYSTEM, Clock


def session_lookup(writer: CatalogWriter, clock: Clock = SYSTEM) -> SessionLookup:
    async def lookup(token: str) -> dict[str, Any] | None:
        return await writer.run(lambda c: sessions.session_of(c.db, token, now_us=clock.now_us()))
    return lookup


class SessionOps(Operations):
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms | None = None, clock: Clock = SYSTEM):
        self.policy = policy_of(cfg)
        self.writer = writer
        self.alarms = alarms
        self.clock = clock

    @op("login")
    async def login(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name, password = text(args, "name"), str(args.get("password") or "")
        via = f"edgectl (os: {caller.os_user})"  # i18n: on the audit record
        try:
            return await sessions.login_async(self.writer, name, password, now_us=self.clock.now_us, via=via,
                                              policy=self.policy)
        except accounts.AuthError as exc:
            await self._lock_alarm(name)
            raise RequestError(_("login refused: {why}").format(why=exc)) from None

    async def _lock_alarm(self, name: str) -> None:
        until = await self.writer.run(lambda c: accounts.locked_until(c.db, name))
        if self.alarms is not None and until and until > self.clock.now_us():
            await self.alarms.raise_(f"account_locked:{name}", "account_locked", "warning", None,
                                     Msg(N_("account {name} is locked after {n} failed logins in a row"),
                                         name=name, n=self.policy.lockout_after), {"account": name, "until_us": until})

    @op("init-admin")
    async def init_admin(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if caller.uid != 0:
            raise RequestError(_("init-admin runs only as root on the box itself (you are "
                                 "{user})").format(user=caller.os_user))
        name, password = text(args, "name"), str(args.get("password") or "")
        pw_hash = await asyncio.to_thread(accounts.hash_password, password)  # scrypt: not on the writer thread
        return await write_refusing(self.writer, lambda db: people.init_admin(
            db, name, password, os_user=caller.os_user, now_us=self.clock.now_us(),
            min_password=self.policy.min_password, pw_hash=pw_hash), _("no admin created"))

    @op("logout")
    async def logout(self, _args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        token = caller.token or ""
        ended = await self.writer.run(lambda c: sessions.logout(c.db, token, now_us=self.clock.now_us()))
        return {"account": caller.account, "ended": ended}

    @op("whoami")
    async def whoami(self, _args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return {"account": caller.account, "os_user": caller.os_user, "roles": list(caller.roles),
                "cameras": None if caller.cameras is None else list(caller.cameras), "expires_us": caller.expires_us}
