"""Personal accounts over the control socket (R4.1): opened, password changed and revoked by an
admin, each with a reason; everyone changes their own password; the auditor reads them.

Separation of duties (design/0042): a password an admin sets (a new account's, a reset) is
one-time, changed at the holder's first login ([accounts] one_time_passwords), so the admin never
knows a password in use; a reset raises a `password_reset` alarm until the holder has changed
it; an admin never resets an admin's password; a wrong current password counts toward the lockout.

Passwords are hashed (scrypt) on a thread of their own, never on the catalog writer's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edged import people, pools
from edged.alarms import Alarms
from edged.people import policy_of
from edged.config import Config
from edged.control.operation import Operations, op, read_catalog, text, write_refusing
from edged.control.protocol import RequestError
from edged.control.server import Caller
from edged.rules.roles import ADMIN
from edged.documents.pages import account_boxes
from edged.rules.applications import waiting_signatures
from edged.i18n import Msg, A_, _
from storage import audit
from storage.people import accounts, sessions, vouching
from storage.health import alarms as alarm_table
from storage.alarm_kinds import ACCOUNT_LOCKED, ACCOUNT_OPENED, PASSWORD_RESET
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import SYSTEM, Clock


def set_by(caller: Caller) -> dict[str, str]:
    """Where a one-time password is set from (issue 45): the OS account, and at the desk (the
    request's audit door) the client's address and the session's digest."""
    door = audit.DOOR.get() or {}
    found = {"set_by_os": caller.os_user}
    if door.get("via") == "desk":
        found.update({k: str(door[d]) for k, d in (("set_by_address", "address"), ("set_by_session", "session"))
                      if door.get(d)})
    return found


class AccountOps(Operations):
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms | None = None, clock: Clock = SYSTEM):
        self.policy = policy_of(cfg)
        self.one_time = cfg.accounts.one_time_passwords
        self.data_dir: Path = cfg.storage.data_dir
        self.writer = writer
        self.alarms = alarms
        self.clock = clock
        self.forms, self.language = cfg.forms, cfg.site.language
        self.titles = cfg.policy.titles   # a box named for a title is its holder's (issue 56)
        self.signed_to_log_in = cfg.accounts.signed_to_log_in   # whose applications wait (design/0391)

    @op("account.add")
    async def add(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        roles = args.get("roles") or []
        cameras = args.get("cameras")
        if not isinstance(roles, list) or not (cameras is None or isinstance(cameras, list)):
            raise RequestError(_("account not opened: roles and cameras are lists"))
        password = str(args.get("password") or "")
        pw_hash = await pools.LOGINS.run(accounts.hash_password, password)  # scrypt: not on the writer thread
        row = await write_refusing(self.writer, lambda db: people.add_account(
            db, text(args, "name"), password, roles, cameras, by=str(caller),
            reason=text(args, "reason"), now_us=self.clock.now_us(), full_name=text(args, "full_name"),
            min_password=self.policy.min_password, pw_hash=pw_hash, one_time=self.one_time,
            live=bool(args.get("live"))), _("account not opened"))
        if self.alarms is not None:  # until the holder has changed the password the admin chose (design/0064)
            name = text(args, "name")
            await self.alarms.raise_(ACCOUNT_OPENED,
                                     Msg(A_("{admin} (admin) opened the account {name}; another admin acknowledges "
                                            "its holder (edgectl account acknowledge)"), admin=caller.account,
                                         name=name),
                                     {"account": name, "by": caller.account, **set_by(caller)}, about=name)
        return row

    @op("account.live")
    async def live(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """Give or take a person's live view (design/0108), with the authorisation as the reason."""
        return await write_refusing(self.writer, lambda db: people.set_live(
            db, text(args, "name"), bool(args.get("live")), by=str(caller), reason=text(args, "reason"),
            now_us=self.clock.now_us()), _("live view not changed"))

    @op("account.passwd")
    async def passwd(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name = text(args, "name") or caller.account or ""
        password = str(args.get("password") or "")
        own = name == caller.account
        if not own:
            await self._may_reset(name, args, caller)
        stored = await self.writer.run(lambda c: sessions.stored_hash(c.db, name))
        current = str(args.get("old_password") or "") if own else None
        if current is not None and not await pools.LOGINS.run(accounts.check_password, current, stored):
            until = await self.writer.run(lambda c: sessions.wrong_current_password(
                c.db, name, via=f"account passwd (os: {caller.os_user})", now_us=self.clock.now_us(),
                policy=self.policy))
            if until is not None and self.alarms is not None:
                await self.alarms.raise_(ACCOUNT_LOCKED,
                                         Msg(A_("account {name} is locked after {n} wrong passwords in a row; its "
                                                "sessions "
                                             "ended"), name=name, n=self.policy.lockout_after),
                                         {"account": name, "until_us": until}, about=name)
            raise RequestError(_("password not changed: the current password is wrong") if until is None else _(
                "password not changed: the current password is wrong; the account is now locked and its sessions "
                "ended"))
        # scrypt, off the writer: the holder's current password was checked just now, so whether the new one is
        # the old one is told by comparing them (two scrypts a holder's change, not three)
        prepared = await pools.LOGINS.run(accounts.prepare_password, password, stored, current)
        row = await write_refusing(self.writer, lambda db: accounts.change_password(
            db, name, password, by=str(caller), reason=text(args, "reason"), now_us=self.clock.now_us(),
            min_password=self.policy.min_password, prepared=prepared, one_time=self.one_time and not own),
            _("password not changed"))
        if self.alarms is not None:
            await self.alarms.clear(ACCOUNT_LOCKED.key(name))
            if own:   # an opening stays until a second person acknowledges the holder (issue 56) ...
                await self.alarms.clear(PASSWORD_RESET.key(name))
                if await self.writer.run(lambda c: vouching.is_vouched(
                        (accounts.account(c.db, name) or {}).get("events", []), True)):
                    await self.alarms.clear(ACCOUNT_OPENED.key(name))   # ... who did so already (issue 74)
            else:
                await self.alarms.raise_(PASSWORD_RESET,
                                         Msg(A_("{admin} (admin) set the password of {name}: {reason}"),
                                             admin=caller.account, name=name, reason=text(args, "reason")),
                                         {"account": name, "by": caller.account, **set_by(caller)},
                                         about=name)
        return row

    async def _may_reset(self, name: str, args: dict[str, Any], caller: Caller) -> None:
        """An admin sets another account's password, with a reason; never an admin's (design/0042)."""
        if caller.must_change or not caller.may("account.passwd.other"):
            raise RequestError(_("password not changed: only an admin sets another account's password; "
                                 "{account} may change only their own").format(account=caller.account))
        if not text(args, "reason"):
            raise RequestError(_("password not changed: setting another account's password needs --reason"))
        target = await self.writer.run(lambda c: accounts.account_row(c.db, name))
        if target is not None and ADMIN in json.loads(target["roles"]):
            raise RequestError(_("password not changed: {name} is an admin, and an admin never sets an admin's "
                                 "password (separation of duties); {name} changes it with the current one, or "
                                 "another admin revokes the account and opens a new one").format(name=name))

    @op("account.revoke")
    async def revoke(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = await write_refusing(self.writer, lambda db: accounts.revoke_account(
            db, text(args, "name"), by=str(caller), reason=text(args, "reason"), now_us=self.clock.now_us()),
            _("account not revoked"))
        if self.alarms is not None:  # a reset password nobody will change any more
            await self.alarms.clear(PASSWORD_RESET.key(row["name"]))
            await self.alarms.clear(ACCOUNT_OPENED.key(row["name"]))
        return row

    @op("account.acknowledge")
    async def acknowledge(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """Someone vouches for an account opened or reset by an admin (issue 45, R4.4): its
        `account_opened` / `password_reset` alarm is cleared on the record. Never by the admin who
        set the password, nor by the holder (issue 56); only by root on the box (no account) or an
        admin or approver whose own opening was vouched for, so one admin's own accounts never vouch
        for each other, and an approver's account logs in only once vouched for (issue 74,
        storage/people/vouching.py)."""
        name, reason = text(args, "name"), text(args, "reason")
        if name == caller.account:
            raise RequestError(_("not acknowledged: another admin acknowledges {name}, never its holder").format(
                name=name))
        if not reason:
            raise RequestError(_("not acknowledged: give the reason (--reason), e.g. the application you checked"))
        keys = {k.key(name) for k in accounts.ONE_TIME_ALARMS}
        open_ = await self.writer.run(lambda c: [a for a in alarm_table.active(c.db) if a["key"] in keys])
        if not open_:
            raise RequestError(_("not acknowledged: {name} has no account opened or password reset waiting for "
                                 "it").format(name=name))
        setters = {json.loads(a["detail"] or "{}").get("by") for a in open_}
        await self._may_vouch(name, {str(s) for s in setters if s}, caller)
        opening = ACCOUNT_OPENED.key(name) in {a["key"] for a in open_}
        row = await self.writer.run(lambda c: accounts.account_row(c.db, name))
        # a one-time password not yet changed: its alarm names the doors it may not be used from
        # first (design/0064), so it stays until the holder's own change, which clears it (issue 74)
        keep = bool(row and row.get("must_change"))
        for a in [] if keep else open_:
            if self.alarms is not None:
                await self.alarms.clear(a["key"])

        def record(c: Catalog) -> None:
            audit.append(c.db, str(caller), "account.acknowledge", {
                "account": name, "reason": reason, "alarms": sorted(a["key"] for a in open_),
                "set_by": sorted(str(x) for x in setters)})
            if opening:   # in the account's history too (issue 74)
                accounts.vouched(c.db, name, by=str(caller), reason=reason, now_us=self.clock.now_us())
        await self.writer.run(record)
        return {"name": name, "cleared": [] if keep else sorted(a["key"] for a in open_), "vouched": opening}

    async def _may_vouch(self, name: str, setters: set[str], caller: Caller) -> None:
        root = caller.account is None and caller.uid == 0
        events: list[dict[str, Any]] = []
        open_ = False
        if caller.account is not None:
            me = caller.account
            events, open_ = await self.writer.run(lambda c: (
                (accounts.account(c.db, me) or {}).get("events", []), accounts.opening_open(c.db, me)))
        why = vouching.voucher_refusal(name, setters, caller.account, root=root, voucher_events=events,
                                       voucher_open=open_)
        if why == vouching.SETTER:
            raise RequestError(_("not acknowledged: {admin} set {name}'s password; another admin acknowledges "
                                 "it (separation of duties)").format(admin=caller.account, name=name))
        if why == vouching.UNVOUCHED:
            raise RequestError(_("not acknowledged: nobody has vouched for {admin}'s own account yet; an account "
                                 "an admin opened vouches for others only once root on the box (sudo edgectl "
                                 "account acknowledge {admin}) or a vouched admin or approver has vouched for it"
                                 ).format(admin=caller.account))
        if why is not None:
            raise RequestError(_("not acknowledged: another admin acknowledges {name}, never its holder").format(
                name=name))

    @op("account.sign")
    async def sign(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """An approver signs one box of an account's application (design/0088): the boxes are the
        site's [forms.account] (edged's own in the site's language) that name no daemon value."""
        boxes = account_boxes(self.forms, self.language)
        return await write_refusing(self.writer, lambda db: people.sign_application(
            db, text(args, "name"), text(args, "action"), text(args, "box"), signer=caller.account or "",
            by=str(caller), boxes=boxes, now_us=self.clock.now_us(), titles=self.titles), _("not signed"))

    @op("account.waiting")
    async def waiting(self, _args: dict[str, Any], caller: Caller) -> list[dict[str, Any]]:
        """The account applications the caller must sign now (issue 77 D1, issue 91 D6): an approver's
        inbox and home page list them, where the site signs accounts to log in (design/0391)."""
        boxes = account_boxes(self.forms, self.language)
        rows = await read_catalog(self.data_dir, lambda db: [
            accounts.account(db, r["name"]) or r for r in accounts.accounts(db, include_revoked=False)])
        return waiting_signatures(rows, caller.account or "", boxes, signed_to_log_in=self.signed_to_log_in,
                                  titles=self.titles)

    @op("account.sign_paper")
    async def sign_paper(self, args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """The account administrator records a box of an account's application to open it as
        signed on paper (design/0260): only while nobody usable may sign it at the desk."""
        boxes = account_boxes(self.forms, self.language)
        return await write_refusing(self.writer, lambda db: people.record_paper_signature(
            db, text(args, "name"), text(args, "box"), signed_by=str(args.get("signed_by") or ""), by=str(caller),
            recorder=caller.account or str(caller), boxes=boxes, now_us=self.clock.now_us(), titles=self.titles),
            _("not recorded"))

    @op("account.list")
    async def listing(self, args: dict[str, Any], _caller: Caller) -> list[dict[str, Any]]:
        include_revoked = bool(args.get("all", True))
        return await read_catalog(self.data_dir, lambda db: accounts.accounts(db, include_revoked=include_revoked))

    @op("account.show")
    async def show(self, args: dict[str, Any], _caller: Caller) -> dict[str, Any]:
        name = text(args, "name")
        row = await read_catalog(self.data_dir, lambda db: accounts.account(db, name))
        if row is None:
            raise RequestError(_("no account {name}; `edgectl account list` shows them").format(name=name))
        return row
