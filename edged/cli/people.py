"""edgectl verbs for people: the first admin, logging in and out, accounts, retrieval requests.
Everything goes through the daemon's control socket with the person's session token, which `edgectl
login` keeps in a private file (edged/control/client.py: session_file). Passwords are read with
getpass, or one per line from stdin with --password-stdin; never on the command line. The audit
verbs are in edged/cli/audit.py. Over 400 lines on purpose: the account and request verbs' parsers
are read next to their handlers."""

from __future__ import annotations

import argparse
import getpass
import sys
from argparse import Namespace
from typing import Any

from edged.cli import audit as ctl_audit, documents as ctl_documents
from storage.declare import ConfigError, parse_duration
from edged.control.client import call, save_session, saved_session, session_file
from edged.control.protocol import RequestError
from edged.cli.display import Ctx, Verbs, JSON, UsageError, fmt_time, label_of, parse_when, table, width
from edged.documents.retrieval import CATEGORY_LABELS, KIND_LABELS, STATE_LABELS
from edged.i18n import N_, _
from edged.rules import chains
from edged.rules.retrieval import CATEGORIES, FLAGS, KINDS
from edged.rules.words import mode_word
from storage.time.clock import SYSTEM
from storage.states.requests import APPROVED, FILED, REQUEST_STATES


class _Secrets:
    """Passwords from the terminal (hidden) or, with --password-stdin, one per line from stdin."""

    def __init__(self, from_stdin: bool):
        self.lines = sys.stdin.read().splitlines() if from_stdin else None

    def get(self, prompt: str, confirm: bool = False) -> str:
        if self.lines is not None:
            if not self.lines:
                raise UsageError(_("--password-stdin: no line left for {what}").format(what=prompt.strip(": ")))
            return self.lines.pop(0)
        try:
            first = getpass.getpass(prompt)
            if confirm and getpass.getpass(_("again: ")) != first:
                raise UsageError(_("the two passwords differ; nothing was changed"))
        except (EOFError, KeyboardInterrupt):
            raise UsageError(_("no password given")) from None
        return first


def _scope(cameras: list[str] | None) -> str:
    return _("all cameras") if cameras is None else ", ".join(cameras)


# sessions ---------------------------------------------------------------------------
def cmd_init_admin(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    password = _Secrets(args.password_stdin).get(_("password for the new admin {name}: ").format(name=args.name),
                                                 confirm=True)
    row = call(ctx.socket, "init-admin", {"name": args.name, "password": password,
                                          "full_name": args.full_name or ""})
    return row, _("admin account {name} opened. Log in with `edgectl login {name}` and open the other accounts "
                  "with `edgectl account add`").format(name=row["name"])


def cmd_login(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    name = args.name or getpass.getuser()
    password = _Secrets(args.password_stdin).get(_("password for {name}: ").format(name=name))
    s = call(ctx.socket, "login", {"name": name, "password": password})
    path = save_session(ctx.socket, {"token": s["token"], "account": s["account"], "expires_us": s["expires_us"]})
    shown = {k: v for k, v in s.items() if k != "token"}
    if s.get("must_change"):
        return {**shown, "session_file": str(path)}, _(
            "logged in as {account} with a one-time password (an admin set it): change it now with "
            "`edgectl account passwd`; nothing else runs until then").format(account=s["account"])
    return {**shown, "session_file": str(path)}, _("logged in as {account} ({roles}; {cameras}) until {time}").format(
        account=s["account"], roles=", ".join(s["roles"]), cameras=_scope(s["cameras"]), time=fmt_time(s["expires_us"]))


def cmd_logout(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    saved = saved_session(ctx.socket)
    if saved is None:
        return {"ended": False}, _("not logged in")
    try:
        r = call(ctx.socket, "logout", {}, token=saved["token"])
    except RequestError:
        r = {"account": saved.get("account"), "ended": False}  # already expired: forgetting it is enough
    save_session(ctx.socket, None)
    return r, _("logged out ({account})").format(account=saved.get("account"))


def cmd_whoami(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    r = call(ctx.socket, "whoami", {})
    return {**r, "session_file": str(session_file())}, _(
        "{account} ({roles}; {cameras}), OS user {os_user}, session until {time}").format(
        account=r["account"], roles=", ".join(r["roles"]), cameras=_scope(r["cameras"]), os_user=r["os_user"],
        time=fmt_time(r["expires_us"]))


# accounts ---------------------------------------------------------------------------
def _account_lines(a: dict[str, Any]) -> str:
    state = (_("REVOKED {time} by {by}").format(time=fmt_time(a["revoked_us"]), by=a["revoked_by"])
             if a["revoked_us"] else _("locked until {time}").format(time=fmt_time(a["locked_until_us"]))
             if a["locked_until_us"] and a["locked_until_us"] > SYSTEM.now_us() else _("active"))
    lines = [_pad(k, 13) + str(v) for k, v in (
        (_("account"), a["name"]), (_("name"), a["full_name"] or "-"), (_("roles"), ", ".join(a["roles"])),
        (_("cameras"), _scope(a["cameras"])), (_("live view"), _("yes") if a.get("live") else _("no")),
        (_("opened"), _("{time} by {by}").format(time=fmt_time(a["opened_us"]), by=a["opened_by"])),
        (_("password"), _("set {time}").format(time=fmt_time(a["pw_changed_us"])) + (
            " " + _("(one-time: changed at the next login)") if a.get("must_change") else "")),
        (_("state"), state))]
    if a.get("events"):
        lines.append(_("history:"))
        lines += ["  " + _("{time}  {action} by {by}: {reason}").format(
            time=fmt_time(e["at_us"]), action=f"{e['action']:9}", by=e["by"], reason=e["reason"]) for e in a["events"]]
    return "\n".join(lines)


def _pad(label: str, column: int) -> str:
    """The label padded so what follows starts at `column` (display width)."""
    return label + " " * max(1, column - width(label))


def cmd_account(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    if args.acct_cmd == "form":
        return ctl_documents.account_form(ctx, args)
    if args.acct_cmd == "add":
        password = _Secrets(args.password_stdin).get(_("initial password for {name}: ").format(name=args.name),
                                                     confirm=True)
        a = call(ctx.socket, "account.add", {"name": args.name, "password": password, "roles": args.role or [],
                                             "cameras": args.camera or None, "full_name": args.full_name or "",
                                             "reason": args.reason, "live": args.live})
        return a, _("account opened:") + "\n" + _account_lines(a)
    if args.acct_cmd == "set":  # live view, given per person (design/0108)
        a = call(ctx.socket, "account.live", {"name": args.name, "live": args.live, "reason": args.reason})
        return a, _("account {name}: live view {state}").format(
            name=a["name"], state=_("given") if a["live"] else _("withdrawn"))
    if args.acct_cmd == "passwd":
        secrets = _Secrets(args.password_stdin)
        me = (saved_session(ctx.socket) or {}).get("account")
        req: dict[str, Any] = {"name": args.name or me, "reason": args.reason or ""}
        if not args.name or args.name == me:
            req["old_password"] = secrets.get(_("current password: "))
        req["password"] = secrets.get(_("new password for {name}: ").format(name=req["name"] or _("your account")),
                                      confirm=True)
        a = call(ctx.socket, "account.passwd", req)
        if a["name"] == me:
            save_session(ctx.socket, None)  # a new password ends the account's sessions
        return a, (_("password of {name} changed; its sessions ended: log in again") if a["name"] == me else
                   _("password of {name} changed; its sessions ended")).format(name=a["name"])
    if args.acct_cmd in ("revoke", "acknowledge"):
        a = call(ctx.socket, f"account.{args.acct_cmd}", {"name": args.name, "reason": args.reason})
        said = {"revoke": _("account {name} revoked; the row stays on record and its sessions ended"),
                "acknowledge": _("{name}: the opening or reset is acknowledged; its alarm is cleared")}
        if args.acct_cmd == "acknowledge" and not a.get("cleared"):   # a one-time password still (issue 74)
            return a, _("{name}: vouched for; its alarm stays until the holder has chosen their own password").format(
                name=a["name"])
        return a, said[args.acct_cmd].format(name=a["name"])
    if args.acct_cmd == "sign" and args.on_paper:   # the admin records the paper (design/0260)
        if args.action != "opened" or not args.signed_by:
            raise SystemExit(_("--on-paper records the application to open an account, with --signed-by"))
        call(ctx.socket, "account.sign_paper", {"name": args.name, "box": args.box, "signed_by": args.signed_by})
        return {"account": args.name, "action": args.action, "box": args.box, "on_paper": True,
                "signed_by": args.signed_by}, _("recorded {box} on the application of {name} as signed on paper "
                                                "by {who}").format(box=args.box, name=args.name, who=args.signed_by)
    if args.acct_cmd == "sign":  # an approver's sign-off of one box of the application (design/0088)
        call(ctx.socket, "account.sign", {"name": args.name, "action": args.action, "box": args.box})
        return {"account": args.name, "action": args.action, "box": args.box}, _(
            "signed {box} on the application of {name} ({action})").format(box=args.box, name=args.name,
                                                                           action=args.action)
    if args.acct_cmd == "show":
        a = call(ctx.socket, "account.show", {"name": args.name})
        return a, _account_lines(a)
    rows = call(ctx.socket, "account.list", {"all": True})
    now = SYSTEM.now_us()
    text = table([_("ACCOUNT"), _("NAME"), _("ROLES"), _("CAMERAS"), _("OPENED"), _("STATE")], [
        [a["name"], a["full_name"] or "-", ",".join(a["roles"]), _scope(a["cameras"]), fmt_time(a["opened_us"]),
         _("revoked") if a["revoked_us"] else (_("locked") if (a["locked_until_us"] or 0) > now else _("active"))]
        for a in rows])
    return rows, text if rows else _("no accounts yet: root creates the first admin with `edgectl init-admin`")


# requests ---------------------------------------------------------------------------
def _request_line(r: dict[str, Any]) -> list[Any]:
    g = r.get("grant") or {}
    state = label_of(STATE_LABELS, r["state"])
    if r["state"] == APPROVED and g:
        state = _("approved, grant {grant} until {time}").format(grant=g["id"], time=fmt_time(g["expires_us"]))
    if r["due_us"] and r["state"] == FILED:
        state += " " + (_("(due {time}, OVERDUE)") if SYSTEM.now_us() > r["due_us"] else _("(due {time})")).format(
            time=fmt_time(r["due_us"]))
    return [r["id"], label_of(KIND_LABELS, r["kind"]), label_of(CATEGORY_LABELS, r["category"]), ",".join(r["cameras"]),
            fmt_time(r["from_us"]), fmt_time(r["to_us"]), mode_word(r["mode"]), r["requester_name"],
            r["filed_by"], (r["flag"] or "-"), state]


def _request_text(r: dict[str, Any]) -> str:
    g = r.get("grant")
    grant = "-" if not g else _("{id} ({mode}), expires {time}").format(
        id=g["id"], mode=mode_word(g["mode"]), time=fmt_time(g["expires_us"])) + "; " + (
        _("used {time} by {by}, watched by {watcher}").format(
            time=fmt_time(g["used_us"]), by=g["used_by"], watcher=g["watcher"]) if g["used_us"] else _("not used yet"))
    rows = [(_("request"), r["id"]), (_("kind"), label_of(KIND_LABELS, r["kind"])),
            (_("state"), label_of(STATE_LABELS, r["state"])),
            (_("reason"), f"{label_of(CATEGORY_LABELS, r['category'])}: {r['reason']}"),
            *([(_("use"), r["purpose"])] if r.get("purpose") else []),
            (_("cameras"), ", ".join(r["cameras"])),
            (_("footage"), _("{start} to {end}").format(start=fmt_time(r["from_us"]), end=fmt_time(r["to_us"]))),
            (_("mode"), mode_word(r["mode"])),
            (_("requester"), " / ".join(x for x in (r["requester_name"], r["requester_org"], r["requester_contact"])
                                        if x)),
            (_("letter"), r["letter_ref"] or "-"), (_("citizen ID"), r["citizen_id_masked"] or "-"),
            (_("filed"), _("{time} by {by}").format(time=fmt_time(r["filed_us"]), by=r["filed_by"])),
            (_("due"), fmt_time(r["due_us"])),
            (_("flag"), f"{r['flag']}: {r['flag_note'] or ''}" if r["flag"] else "-"),
            (_("approvals"), _chain_text(r)),
            (_("decided"), _("{time} by {by}: {reason}").format(
                time=fmt_time(r["decided_us"]), by=r["decided_by"], reason=r["decision_reason"])
             if r["decided_us"] else "-"),
            (_("grant"), grant), (_("purged"), fmt_time(r["purged_us"]) if r["purged_us"] else "-")]
    return "\n".join(_pad(k, 12) + str(v) for k, v in rows)


def _chain_text(r: dict[str, Any]) -> str:
    """Each sign-off of the request's chain: who signed it and when, or who may still."""
    chain = r.get("chain") or [{"name": _("approver"), "approvers": None}]
    steps = r.get("steps") or []
    lines = []
    for i, step in enumerate(chain):
        done = steps[i] if i < len(steps) else None
        if done:
            lines.append(f"{i + 1}. {step['name']}: " + (_("approved by {by} {time}: {reason}") if done["approve"] else
                                                          _("REJECTED by {by} {time}: {reason}")).format(
                by=done["by"], time=fmt_time(done["at_us"]), reason=done["reason"]))
        else:
            who = ", ".join(step["approvers"]) if step.get("approvers") else _("any approver")
            lines.append(f"{i + 1}. {step['name']}: " + (_("waiting for {who}").format(who=who)
                                                         if r["state"] == "filed" else "-"))
    why = chains.stuck(r)  # design/0102: a request nobody can finish says so, and who can close it
    return ("\n" + " " * 12).join(lines + ([chains.stuck_text(why)] if why else []))


def cmd_request(ctx: Ctx, args: Namespace) -> tuple[Any, str]:
    now = SYSTEM.now_us()
    if args.req_cmd == "file":
        id_number = args.id_number
        if id_number == "-":
            id_number = getpass.getpass(_("citizen's ID number (not shown): "))
        req = {"kind": args.kind, "category": args.category, "reason": args.reason, "cameras": args.camera or [],
               "from_us": parse_when(args.from_, now), "to_us": parse_when(args.to, now),
               "mode": "copy" if args.copy else "view", "requester_name": args.requester,
               "requester_org": args.org, "requester_contact": args.contact, "letter_ref": args.letter,
               "id_number": id_number, "identity_checked": args.identity_checked, "flag": args.flag,
               "flag_note": args.flag_note, "purpose": args.purpose}
        r = call(ctx.socket, "request.file", req)
        return r, _filed_text(r)
    if args.req_cmd in ("approve", "reject"):
        req = {"id": args.id, "reason": args.reason, "flag": args.flag, "flag_note": args.flag_note}
        if args.req_cmd == "approve" and args.expires:
            try:
                req["expires_us"] = parse_duration(args.expires, "--expires")
            except ConfigError as exc:
                raise UsageError(str(exc)) from None
        r = call(ctx.socket, f"request.{args.req_cmd}", req)
        note = f"\n{r['note']}" if r.get("note") else ""
        return r, _decided_text(r, args.req_cmd) + note
    if args.req_cmd == "unredact":   # design/0276: an approver allows a citizen the whole picture, with a reason
        r = call(ctx.socket, "request.unredact", {"id": args.id, "reason": args.reason})
        return r, _("request {id}: the whole picture is allowed (grant {grant}); on the record with your reason").format(
            id=r["id"], grant=r["grant"]["id"])
    if args.req_cmd == "form":
        return ctl_documents.request_form(ctx, args)
    if args.req_cmd == "ethics-report":
        return ctl_documents.ethics_report(ctx, args)
    if args.req_cmd == "reply":
        return ctl_documents.request_reply(ctx, args)
    if args.req_cmd == "receipt":
        return ctl_documents.request_receipt(ctx, args)
    if args.req_cmd == "usage":
        now = SYSTEM.now_us()
        return ctl_documents.usage_register(ctx, args, parse_when(args.from_, now),
                                            parse_when(args.to, now) if args.to else now)
    if args.req_cmd == "show":
        r = call(ctx.socket, "request.show", {"id": args.id})
        return r, _request_text(r)
    rows = call(ctx.socket, "request.list", {"state": args.state, "kind": args.kind,
                                             "citizen_id": args.citizen_id, "limit": args.limit})
    text = table([_("ID"), _("KIND"), _("REASON"), _("CAMERAS"), _("FROM"), _("TO"), _("MODE"), _("REQUESTER"),
                  _("FILED BY"), _("FLAG"), _("STATE")], [_request_line(r) for r in rows])
    return rows, text if rows else _("no requests")


def _filed_text(r: dict[str, Any]) -> str:
    text = _("request {id} filed ({kind}, {mode})").format(id=r["id"], kind=r["kind"], mode=r["mode"])
    if r["due_us"]:
        text += "; " + _("answer it by {time}").format(time=fmt_time(r["due_us"]))
    if r["flag"]:
        text += "; " + _("flagged {flag}: the ethics office has been alerted").format(flag=r["flag"])
    return text + "\n" + _("an approver who did not file it decides: edgectl request approve {id} --reason ...").format(
        id=r["id"])


def _decided_text(r: dict[str, Any], verb: str) -> str:
    if verb == "reject":
        return _("request {id} rejected: {reason}").format(id=r["id"], reason=r["decision_reason"])
    if r["state"] == "filed":  # an approval before the last step of the chain
        done, chain = r["steps"][-1], r["chain"]
        nxt = chain[len(r["steps"])]
        who = ", ".join(nxt["approvers"]) if nxt.get("approvers") else _("another approver")
        return _("request {id}: step {step} of {steps} ({name}) approved; next: {next}, by {who} (edgectl request "
                 "approve {id} --reason ...)").format(id=r["id"], step=done["step"] + 1, steps=len(chain),
                                                     name=done["name"], next=nxt["name"], who=who)
    g = r["grant"]
    how = ("edgectl export --grant {id} --out DIR".format(id=g["id"]) if g["mode"] == "copy" else
           _("the local viewer, with a custodian's session"))
    return _("request {id} approved: grant {grant} ({mode}, {cameras}, {start} to {end}) is valid once, until "
             "{expires}; a custodian uses it with {how}").format(
        id=r["id"], grant=g["id"], mode=g["mode"], cameras=", ".join(g["cameras"]), start=fmt_time(g["from_us"]),
        end=fmt_time(g["to_us"]), expires=fmt_time(g["expires_us"]), how=how)


# Over 60 lines on purpose: the argparse declarations of every people verb, read as one list.
def register(sub: Verbs) -> None:
    p = sub.add_parser("init-admin", parents=[JSON], help=_("create the first admin account (root, on the box, only "
                                                            "while none exists)"))
    p.add_argument("--name", required=True)
    p.add_argument("--full-name", help=_("the admin's full name, as the desk shows them"))
    p.add_argument("--password-stdin", action="store_true", help=_("read the password from stdin (one line)"))
    p.set_defaults(handler=cmd_init_admin)
    p = sub.add_parser("login", parents=[JSON], help=_("log in with your personal account; the session is short-lived"))
    p.add_argument("name", nargs="?", help=_("account name (default: your OS user name)"))
    p.add_argument("--password-stdin", action="store_true", help=_("read the password from stdin (one line)"))
    p.set_defaults(handler=cmd_login)
    p = sub.add_parser("logout", parents=[JSON], help=_("end your session"))
    p.set_defaults(handler=cmd_logout)
    p = sub.add_parser("whoami", parents=[JSON], help=_("the account, roles and camera scope of your session"))
    p.set_defaults(handler=cmd_whoami)
    p = sub.add_parser("account", help=_("personal accounts: opened, password changed, revoked; never deleted"))
    acs = p.add_subparsers(dest="acct_cmd", required=True)
    a = acs.add_parser("add", parents=[JSON], help=_("open an account (admin)"))
    a.add_argument("name")
    a.add_argument("--role", action="append", help=_("viewer, custodian, approver, auditor or admin (repeatable)"))
    a.add_argument("--camera", action="append", help=_("limit the account to these cameras (default: all)"))
    a.add_argument("--full-name")
    a.add_argument("--live", action="store_true", help=_("the person may watch live (the head authorised it)"))
    a.add_argument("--reason", required=True, help=_("the approved application"))
    a.add_argument("--password-stdin", action="store_true")
    a = acs.add_parser("set", parents=[JSON], help=_("give or take an account's live view (admin)"))
    a.add_argument("name")
    a.add_argument("--live", action=argparse.BooleanOptionalAction, required=True,
                   help=_("--live gives live view, --no-live takes it"))
    a.add_argument("--reason", required=True, help=_("who authorised it"))
    a = acs.add_parser("passwd", parents=[JSON], help=_("change your password (or, as admin, another account's)"))
    a.add_argument("name", nargs="?")
    a.add_argument("--reason")
    a.add_argument("--password-stdin", action="store_true", help=_("current then new password, one per line"))
    for verb, says in (("revoke", _("revoke an account on transfer or departure (admin)")), ("acknowledge", _(
            "as a second admin, vouch for an account another admin opened or reset (clears its alarm)"))):
        a = acs.add_parser(verb, parents=[JSON], help=says)
        a.add_argument("name")
        a.add_argument("--reason", required=True)
    a = acs.add_parser("list", parents=[JSON], help=_("every account with its roles and cameras"))
    a = acs.add_parser("show", parents=[JSON], help=_("one account and its history"))
    a.add_argument("name")
    a = acs.add_parser("form", parents=[JSON], help=_("the account application with its sign-offs, printable"))
    a.add_argument("name")
    a.add_argument("--action", choices=ctl_documents.ACCOUNT_ACTIONS, default="opened",
                   help=_("which application: the account opened (default), a password change or the revocation"))
    a.add_argument("--out", metavar="FILE", help=_("where to write the page (default account-NAME-ACTION.html)"))
    a = acs.add_parser("sign", parents=[JSON], help=_("sign one box of an account's application (approver)"))
    a.add_argument("name")
    a.add_argument("--action", choices=ctl_documents.ACCOUNT_ACTIONS, default="opened",
                   help=_("which application: the account opened (default), a password change or the revocation"))
    a.add_argument("--box", required=True, help=_("the box's label as the form prints it, e.g. 秘書"))
    a.add_argument("--on-paper", action="store_true",
                   help=_("the admin records the box as signed on the paper form, while nobody who may sign it "
                          "can log in (the first approvers)"))
    a.add_argument("--signed-by", metavar="WHO",
                   help=_("with --on-paper: who signed the box (the title's account where the box names a title)"))
    p.set_defaults(handler=cmd_account)

    p = sub.add_parser("request", help=_("retrieval requests: file, approve or reject, list"))
    rs = p.add_subparsers(dest="req_cmd", required=True)
    f = rs.add_parser("file", parents=[JSON], help=_("file a request to view or copy footage"))
    f.add_argument("--kind", required=True, choices=KINDS)
    f.add_argument("--category", required=True, metavar="CATEGORY",
                   help=_("the reason category, one of the site's [policy] categories (by default: {categories}); the "
                          "daemon checks it").format(
                       categories=', '.join(CATEGORIES)))
    f.add_argument("--reason", required=True, help=_("why the footage is needed"))
    f.add_argument("--purpose", help=_("what the footage is for (its use), where the site asks (用途)"))
    f.add_argument("--camera", action="append", required=True)
    f.add_argument("--from", dest="from_", required=True, metavar="T")
    f.add_argument("--to", required=True, metavar="T")
    f.add_argument("--copy", action="store_true", help=_("ask for a copy (agencies and police only); default: view"))
    f.add_argument("--requester", required=True, help=_("who asks (name)"))
    f.add_argument("--org", help=_("their unit or agency"))
    f.add_argument("--contact")
    f.add_argument("--letter", help=_("official letter or case reference (agency, police)"))
    f.add_argument("--id-number", help=_("a citizen's ID number (kept masked and hashed; '-' to type it hidden)"))
    f.add_argument("--identity-checked", action="store_true", help=_("the citizen's ID document was checked"))
    f.add_argument("--flag", choices=FLAGS, help=_("a major or abnormal request: the ethics office is alerted"))
    f.add_argument("--flag-note")
    for verb, what in (("approve", "approve: a single-use grant is issued"), ("reject", "reject")):
        d = rs.add_parser(verb, parents=[JSON], help=_("{what} (an approver who did not file it)").format(what=what))
        d.add_argument("id", type=int)
        d.add_argument("--reason", required=True)
        if verb == "approve":
            d.add_argument("--expires", metavar="DURATION", help=_("grant lifetime (default from [accounts] "
                                                                   "grant_ttl)"))
        d.add_argument("--flag", choices=FLAGS)
        d.add_argument("--flag-note")
    d = rs.add_parser("unredact", parents=[JSON], help=_("allow a citizen's request the whole picture where the site "
                                                         "redacts it (an approver the site names, with a reason)"))
    d.add_argument("id", type=int)
    d.add_argument("--reason", required=True, help=_("why the citizen sees third parties too: on the record"))
    s = rs.add_parser("show", parents=[JSON], help=_("one request with its grant"))
    s.add_argument("id", type=int)
    s = rs.add_parser("form", parents=[JSON], help=_("the application form and its approval record, printable"))
    s.add_argument("id", type=int)
    s.add_argument("--out", metavar="FILE", help=_("where to write the page (default request-ID.html)"))
    s = rs.add_parser("ethics-report", parents=[JSON], help=_("a flagged request's report to the ethics office, "
                                                              "printable"))
    s.add_argument("id", type=int)
    s.add_argument("--out", metavar="FILE", help=_("where to write the page (default ethics-report-ID.html)"))
    for verb, what in (("reply", N_("the answer to the applicant once decided, printable")),
                       ("receipt", N_("the receipt the recipient signs for a copy (with the fee where charged)"))):
        s = rs.add_parser(verb, parents=[JSON], help=_(what))
        s.add_argument("id", type=int)
        s.add_argument("--out", metavar="FILE", help=_("where to write the page (default {verb}-ID.html)").format(
            verb=verb))
    s = rs.add_parser("usage", parents=[JSON], help=_("the usage register of a period, printable (custodian, approver, "
                                                      "auditor)"))
    s.add_argument("--from", dest="from_", required=True, metavar="T")
    s.add_argument("--to", metavar="T", help=_("default: now"))
    s.add_argument("--out", metavar="FILE", help=_("where to write the page (default usage-register.html)"))
    ls = rs.add_parser("list", parents=[JSON], help=_("requests, newest first"))
    ls.add_argument("--state", choices=REQUEST_STATES)
    ls.add_argument("--kind", choices=KINDS)
    ls.add_argument("--citizen-id", help=_("a citizen's earlier requests (matched by keyed hash)"))
    ls.add_argument("--limit", type=int, default=200)
    p.set_defaults(handler=cmd_request)

    ctl_audit.register(sub)
