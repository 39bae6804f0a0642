"""Control-socket operations for people: logging in, accounts, retrieval requests, the audit log.

The server has checked the op's role (edged/rules/roles.py) before these run; what depends on the
details (whose password, whose request) is checked here. Writes go through the catalog
writer; reading the audit log (which can be a million records) uses a read-only connection
in a thread, so neither the event loop nor the writer waits for it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar

from edged import people
from edged.rules import retrieval as rq
from edged.alarms import Alarms
from edged.config import Config
from edged.control.server import Caller, Handler, RequestError, SessionLookup, read_catalog
from storage import audit, audit_report
from storage import people_store as ps
from storage.catalog import CatalogWriter
from storage.clock import SYSTEM, Clock

T = TypeVar("T")
PAGE = 5000  # audit records per reply


def policy_of(cfg: Config) -> ps.Policy:
    a = cfg.accounts
    return ps.Policy(session_ttl_us=a.session_ttl_us, lockout_after=a.lockout_after, lockout_for_us=a.lockout_for_us,
                     min_password=a.min_password)


def session_lookup(writer: CatalogWriter, clock: Clock = SYSTEM) -> SessionLookup:
    async def lookup(token: str) -> dict[str, Any] | None:
        return await writer.run(lambda c: ps.session_of(c.db, token, now_us=clock.now_us()))
    return lookup


def _text(args: dict[str, Any], key: str) -> str:
    return str(args.get(key) or "").strip()


def people_handlers(cfg: Config, writer: CatalogWriter, alarms: Alarms | None = None,
                    clock: Clock = SYSTEM) -> dict[str, Handler]:
    policy = policy_of(cfg)
    data_dir = cfg.storage.data_dir

    async def write(fn: Callable[[Any], T], refused: str) -> T:
        """Run fn(db) on the writer; the rules' refusals become a RequestError for the person."""
        try:
            return await writer.run(lambda c: fn(c.db))
        except (ps.AccountError, ps.GrantError, rq.RequestRuleError) as exc:
            raise RequestError(f"{refused}: {exc}") from None

    def read(fn: Callable[[Any], T]) -> Any:
        return read_catalog(data_dir, fn)

    # sessions -----------------------------------------------------------------------
    async def login(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name, password = _text(args, "name"), str(args.get("password") or "")
        via = f"edgectl (os: {caller.os_user})"
        try:
            return await ps.login_async(writer, name, password, now_us=clock.now_us, via=via, policy=policy)
        except ps.AuthError as exc:
            await _lock_alarm(name)
            raise RequestError(f"login refused: {exc}") from None

    async def _lock_alarm(name: str) -> None:
        until = await writer.run(lambda c: ps.locked_until(c.db, name))
        if alarms is not None and until and until > clock.now_us():
            await alarms.raise_(f"account_locked:{name}", "account_locked", "warning", None,
                                f"account {name} is locked after {policy.lockout_after} failed logins in a row",
                                {"account": name, "until_us": until})

    async def init_admin(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if caller.uid != 0:
            raise RequestError(f"init-admin runs only as root on the box itself (you are {caller.os_user})")
        name, password = _text(args, "name"), str(args.get("password") or "")
        pw_hash = await asyncio.to_thread(ps.hash_password, password)  # scrypt: not on the writer thread
        return await write(lambda db: people.init_admin(db, name, password, os_user=caller.os_user,
                                                        now_us=clock.now_us(), min_password=policy.min_password,
                                                        pw_hash=pw_hash),
                           "no admin created")

    async def logout(_args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        token = caller.token or ""
        ended = await writer.run(lambda c: ps.logout(c.db, token, now_us=clock.now_us()))
        return {"account": caller.account, "ended": ended}

    async def whoami(_args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return {"account": caller.account, "os_user": caller.os_user, "roles": list(caller.roles),
                "cameras": None if caller.cameras is None else list(caller.cameras), "expires_us": caller.expires_us}

    # accounts -----------------------------------------------------------------------
    async def account_add(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        roles = args.get("roles") or []
        cameras = args.get("cameras")
        if not isinstance(roles, list) or not (cameras is None or isinstance(cameras, list)):
            raise RequestError("account not opened: roles and cameras are lists")
        password = str(args.get("password") or "")
        pw_hash = await asyncio.to_thread(ps.hash_password, password)  # scrypt: not on the writer thread
        return await write(lambda db: people.add_account(
            db, _text(args, "name"), password, roles, cameras, by=str(caller),
            reason=_text(args, "reason"), now_us=clock.now_us(), full_name=_text(args, "full_name"),
            min_password=policy.min_password, pw_hash=pw_hash), "account not opened")

    async def account_passwd(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name = _text(args, "name") or caller.account or ""
        password = str(args.get("password") or "")
        if name != caller.account:
            if not caller.may("account.passwd.other"):
                raise RequestError(f"password not changed: only an admin sets another account's password; "
                                   f"{caller.account} may change only their own")
            if not _text(args, "reason"):
                raise RequestError("password not changed: setting another account's password needs --reason")
        stored = await writer.run(lambda c: ps.stored_hash(c.db, name))
        if name == caller.account and not await asyncio.to_thread(
                ps.check_password, str(args.get("old_password") or ""), stored):
            raise RequestError("password not changed: the current password is wrong")
        prepared = await asyncio.to_thread(ps.prepare_password, password, stored)  # scrypt: off the writer thread
        row = await write(lambda db: ps.change_password(db, name, password, by=str(caller),
                                                        reason=_text(args, "reason"), now_us=clock.now_us(),
                                                        min_password=policy.min_password, prepared=prepared),
                          "password not changed")
        if alarms is not None:
            await alarms.clear(f"account_locked:{name}")
        return row

    async def account_revoke(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return await write(lambda db: ps.revoke_account(db, _text(args, "name"), by=str(caller),
                                                        reason=_text(args, "reason"), now_us=clock.now_us()),
                           "account not revoked")

    async def account_list(args: dict[str, Any], _caller: Caller) -> list[dict[str, Any]]:
        return await read(lambda db: ps.accounts(db, include_revoked=bool(args.get("all", True))))

    async def account_show(args: dict[str, Any], _caller: Caller) -> dict[str, Any]:
        name = _text(args, "name")
        row = await read(lambda db: ps.account(db, name))
        if row is None:
            raise RequestError(f"no account {name}; `edgectl account list` shows them")
        return row

    # requests -----------------------------------------------------------------------
    async def request_file(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        fields = dict(args)
        row = await write(lambda db: people.file_request(db, fields, filed_by=caller.account or str(caller),
                                                     now_us=clock.now_us(), key=ps.id_key(data_dir),
                                                     citizen_due_us=cfg.accounts.citizen_due_us),
                          "request not filed")
        await _ethics(row)
        return row

    async def _ethics(row: dict[str, Any]) -> None:
        """R5.8: a major or abnormal request goes to the ethics office at once (an alarm on MQTT)."""
        if alarms is not None and row.get("flag"):
            await alarms.raise_(f"ethics:request:{row['id']}", "ethics", "critical", None,
                                f"request {row['id']} ({row['kind']}, {row['category']}) is flagged {row['flag']}: "
                                "report it to the ethics office", rq.stub(row))

    async def _own(caller: Caller, request_id: int) -> dict[str, Any]:
        row = await read(lambda db: ps.request_row(db, request_id))
        if row is None or (not caller.may("request.all") and row["filed_by"] != caller.account):
            raise RequestError(f"no request {request_id}" + ("" if row is None else " that you filed"))
        return row

    async def request_show(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return await _own(caller, int(args.get("id") or 0))

    async def request_list(args: dict[str, Any], caller: Caller) -> list[dict[str, Any]]:
        filed_by = None if caller.may("request.all") else caller.account
        id_hmac = None
        if args.get("citizen_id"):
            try:
                id_hmac = rq.id_hmac(str(args["citizen_id"]), await asyncio.to_thread(ps.id_key, data_dir))
            except rq.RequestRuleError as exc:
                raise RequestError(str(exc)) from None
        return await read(lambda db: ps.list_requests(db, state=args.get("state"), kind=args.get("kind"),
                                                      filed_by=filed_by, id_hmac=id_hmac,
                                                      limit=int(args.get("limit") or 500)))

    async def _decide(args: dict[str, Any], caller: Caller, approve: bool) -> dict[str, Any]:
        request_id = int(args.get("id") or 0)
        ttl = int(args.get("expires_us") or cfg.accounts.grant_ttl_us)
        row = await write(lambda db: people.decide_request(
            db, request_id, approver=caller.account or str(caller), approve=approve, reason=_text(args, "reason"),
            now_us=clock.now_us(), grant_ttl_us=ttl, flag=args.get("flag") or None,
            flag_note=_text(args, "flag_note") or None), "request not " + ("approved" if approve else "rejected"))
        if alarms is not None:
            await alarms.clear(f"request_overdue:{request_id}")
        await _ethics(row)
        return row

    async def request_approve(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return await _decide(args, caller, True)

    async def request_reject(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return await _decide(args, caller, False)

    # the audit log ------------------------------------------------------------------
    async def audit_list(args: dict[str, Any], _caller: Caller) -> list[dict[str, Any]]:
        limit = min(int(args.get("limit") or 200), PAGE)
        since = args.get("from_us")

        return await read(lambda db: audit.newest(db, limit=limit, from_us=None if since is None else int(since),
                                                  action=args.get("action") or None))

    async def audit_export(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        after = int(args.get("after_seq") or 0)
        rows = await read(lambda db: audit.records(db, after_seq=after, limit=PAGE))
        if after == 0:  # one record per export, at its start: who took the log out
            await writer.run(lambda c: audit.append(c.db, str(caller), "audit.export", {}))
        return {"records": rows, "more": len(rows) == PAGE}

    async def audit_report_op(args: dict[str, Any], caller: Caller) -> dict[str, Any]:
        start, end = int(args.get("from_us") or 0), int(args.get("to_us") or clock.now_us())
        if end <= start:
            raise RequestError("the report's --to must be after --from")
        report = await read(lambda db: audit_report.build(db, start, end, now_us=clock.now_us()))
        await writer.run(lambda c: audit.append(c.db, str(caller), "audit.report", {"from_us": start, "to_us": end}))
        return report

    return {
        "login": login, "init-admin": init_admin, "logout": logout, "whoami": whoami,
        "account.add": account_add, "account.passwd": account_passwd, "account.revoke": account_revoke,
        "account.list": account_list, "account.show": account_show,
        "request.file": request_file, "request.list": request_list, "request.show": request_show,
        "request.approve": request_approve, "request.reject": request_reject,
        "audit.list": audit_list, "audit.export": audit_export,
        "audit.report": audit_report_op,
    }

