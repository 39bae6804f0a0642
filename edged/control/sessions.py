"""Sessions over the control socket: logging in, the first admin, logging out, who am I.

The socket's peer credentials prove the OS account; a session token (`edgectl login`) proves
the person. Failed logins count toward a lockout, which raises `account_locked`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from edged import people, pools
from edged.people import policy_of, unsigned_gate
from edged.rules.applications import not_signed_words
from edged.rules.persons import not_vouched_words
from edged.alarms import Alarms
from edged.config import Config
from edged.control.operation import Operations, op, text, write_refusing
from edged.control.protocol import RequestError
from edged.control.server import Caller, SessionLookup
from edged.i18n import Msg, N_, _, hinted
from edged.rules import roles
from edged.rules.throttle import Limits, LoginThrottle
from storage import audit
from storage.people import accounts, sessions
from storage.people.doors import LockPerCaller
from storage.alarm_kinds import ACCOUNT_LOCKED
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, Clock


# edgectl's logins per OS account: 10 at once, then one every 6 s; 30 failures recorded a minute
LOGIN_LIMITS = Limits(burst=10, refill_s=6.0, records_per_min=30)


def session_lookup(writer: CatalogWriter, clock: Clock = SYSTEM) -> SessionLookup:
    async def lookup(token: str) -> dict[str, Any] | None:
        return await writer.run(lambda c: sessions.session_of(c.db, token, now_us=clock.now_us()))
    return lookup


class SessionOps(Operations):
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms | None = None, clock: Clock = SYSTEM):
        self.policy = policy_of(cfg)
        self.unsigned = unsigned_gate(cfg)   # [accounts] signed_to_log_in (design/0113)
        self.titles = cfg.policy.titles
        self.writer = writer
        self.alarms = alarms
        self.clock = clock
        self.throttle = LoginThrottle(LOGIN_LIMITS)
        # the lockout per account and OS account (issue 56): a member of the socket's group locks
        # an account for itself only, never for everyone
        self.locks = LockPerCaller(self.policy.lockout_after, self.policy.lockout_for_us)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._summary: asyncio.TimerHandle | None = None

    @op("login")
    async def login(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """Throttled per OS account (the viewer's bucket, keyed by uid) before anything is checked;
        beyond `records_per_min` failures are counted into one summary record a minute
        (design/0062), so a flood of logins cannot fill the disk with rows, records and messages."""
        name, password = text(args, "name"), str(args.get("password") or "")
        via = f"edgectl (os: {caller.os_user})"  # i18n: on the audit record
        who = f"uid {caller.uid}"
        wait = self.throttle.try_login(who, time.monotonic())
        if wait is not None:
            raise RequestError(_("too many login attempts from OS account {user}; try again in {s} s").format(
                user=caller.os_user, s=int(wait) + 1))
        # root included (issue 45): an admin working as root (sudo) is not its holder either; root
        # could still rewrite the catalog, but that is on the office's signed chain heads, not a login
        setters = await self.writer.run(lambda c: accounts.one_time_setters(c.db, name, now_us=self.clock.now_us()))
        if roles.one_time_door(setters, os_user=caller.os_user):
            raise RequestError(_("login refused: {name}'s one-time password was set from the OS account {user} (root "
                                 "too is refused); its holder logs in from their own OS account or at the desk and "
                                 "changes it, or another admin acknowledges the account (edgectl account "
                                 "acknowledge)").format(name=name, user=caller.os_user))
        until = self.locks.locked_until(name, who, self.clock.now_us())
        if until is not None:   # a new password set since ends it, as it ends the stored lock
            row = await self.writer.run(lambda c: accounts.account_row(c.db, name))
            until = self.locks.locked_until(name, who, self.clock.now_us(), (row or {}).get("pw_changed_us"))
        if until is not None:
            raise RequestError(_("login refused: account {name} is locked for the OS account {user} after repeated "
                                 "failed logins from it; try again in {n} min, or ask an admin to set a new "
                                 "password").format(name=name, user=caller.os_user,
                                                    n=-(-(until - self.clock.now_us()) // 60_000_000)))
        written, left_out = self.throttle.record_failure(time.monotonic())
        if not written and left_out == 1:
            self._summary_later()
        try:
            session = await sessions.login_async(
                self.writer, name, password, now_us=self.clock.now_us, via=via, policy=self.policy,
                run_slow=pools.LOGINS.run, record=written, unsigned=self.unsigned, count_failures=False,
                record_extra={"left_out_before": left_out} if written and left_out else None)
        except sessions.NotVouched as exc:   # issue 74: an approver's account nobody vouched for
            raise RequestError(not_vouched_words(exc.name)) from None
        except sessions.NotSigned as exc:
            raise hinted(RequestError(not_signed_words(exc.name, exc.pending, self.titles)),
                         "[accounts] signed_to_log_in; edgectl account sign") from None
        except accounts.AuthError as exc:
            if str(exc) == sessions.WRONG:   # a wrong password (or name), not a revoked or locked account
                await self._lock_alarm(name, caller, self.locks.failure(name, who, self.clock.now_us()))
            raise RequestError(_("login refused: {why}").format(why=exc)) from None
        except pools.Busy:
            self.throttle.unused(written, left_out)
            raise
        self.throttle.unused(written, left_out)
        self.throttle.succeeded(who, time.monotonic())
        self.locks.succeeded(name, who)
        return session

    def _summary_later(self) -> None:
        """Write the failures left out this minute as one record once the minute is over."""
        delay = max(0.1, self.throttle.window_start + 60.0 - time.monotonic() + 0.1)
        self._summary = asyncio.get_running_loop().call_later(
            delay, lambda: self._tasks.add(asyncio.ensure_future(self._write_summary())))

    async def _write_summary(self) -> None:
        left_out = self.throttle.summary_due(time.monotonic())
        if left_out:
            await self.writer.run(lambda c: audit.append(c.db, "edged", "login.failed.summary", {
                "via": "edgectl", "failures": left_out,
                # i18n: on the audit record
                "why": "failed logins beyond the control socket's cap on records per minute, counted not listed"}))
        if self.throttle.suppressed:
            self._summary_later()

    async def _lock_alarm(self, name: str, caller: Caller, until: int | None) -> None:
        if until is None:
            return
        await self.writer.run(lambda c: audit.append(c.db, "edged", "account.locked", {
            "account": name, "os_user": caller.os_user, "failed": self.policy.lockout_after, "until_us": until}))
        if self.alarms is not None:
            await self.alarms.raise_(ACCOUNT_LOCKED, Msg(N_(
                "account {name} is locked for the OS account {user} after {n} failed logins in a row from it"),
                name=name, user=caller.os_user, n=self.policy.lockout_after),
                {"account": name, "os_user": caller.os_user, "until_us": until}, about=name)

    @op("init-admin")
    async def init_admin(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if caller.uid != 0:
            raise RequestError(_("init-admin runs only as root on the box itself (you are "
                                 "{user})").format(user=caller.os_user))
        name, password = text(args, "name"), str(args.get("password") or "")
        pw_hash = await pools.LOGINS.run(accounts.hash_password, password)  # scrypt: not on the writer thread
        return await write_refusing(self.writer, lambda db: people.init_admin(
            db, name, password, os_user=caller.os_user, now_us=self.clock.now_us(),
            min_password=self.policy.min_password, pw_hash=pw_hash, full_name=text(args, "full_name")),
            _("no admin created"))

    @op("logout")
    async def logout(self, _args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        token = caller.token or ""
        ended = await self.writer.run(lambda c: sessions.logout(c.db, token, now_us=self.clock.now_us()))
        return {"account": caller.account, "ended": ended}

    @op("whoami")
    async def whoami(self, _args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return {"account": caller.account, "os_user": caller.os_user, "roles": list(caller.roles),
                "cameras": None if caller.cameras is None else list(caller.cameras), "expires_us": caller.expires_us}
