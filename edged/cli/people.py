"""edgectl verbs for people: the first admin, logging in and out, accounts, retrieval requests.

Everything goes through the daemon's control socket with the person's session token, which
`edgectl login` keeps in a private file (edged/control/client.py: session_file). Passwords are read
with getpass, or one per line from stdin with --password-stdin (scripts and tests); they never
go on the command line. The audit verbs are in edged/cli/audit.py.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from edged.cli import audit as ctl_audit
from edged.config import ConfigError, parse_duration
from edged.control.client import call, save_session, saved_session, session_file
from edged.control.protocol import RequestError
from edged.cli.display import JSON, UsageError, fmt_time, parse_when, table
from edged.rules.retrieval import CATEGORIES, FLAGS, KINDS
from storage.clock import SYSTEM
from storage.people_store import APPROVED, FILED, REQUEST_STATES


class _Secrets:
    """Passwords from the terminal (hidden) or, with --password-stdin, one per line from stdin."""

    def __init__(self, from_stdin: bool):
        self.lines = sys.stdin.read().splitlines() if from_stdin else None

    def get(self, prompt: str, confirm: bool = False) -> str:
        if self.lines is not None:
            if not self.lines:
                raise UsageError(f"--password-stdin: no line left for {prompt.strip(': ')}")
            return self.lines.pop(0)
        try:
            first = getpass.getpass(prompt)
            if confirm and getpass.getpass("again: ") != first:
                raise UsageError("the two passwords differ; nothing was changed")
        except (EOFError, KeyboardInterrupt):
            raise UsageError("no password given") from None
        return first


def _scope(cameras: list[str] | None) -> str:
    return "all cameras" if cameras is None else ", ".join(cameras)


# sessions ---------------------------------------------------------------------------
def cmd_init_admin(ctx, args) -> tuple[Any, str]:
    password = _Secrets(args.password_stdin).get(f"password for the new admin {args.name}: ", confirm=True)
    row = call(ctx.socket, "init-admin", {"name": args.name, "password": password})
    return row, (f"admin account {row['name']} opened. Log in with `edgectl login {row['name']}` and open the "
                 "other accounts with `edgectl account add`")


def cmd_login(ctx, args) -> tuple[Any, str]:
    name = args.name or getpass.getuser()
    password = _Secrets(args.password_stdin).get(f"password for {name}: ")
    s = call(ctx.socket, "login", {"name": name, "password": password})
    path = save_session(ctx.socket, {"token": s["token"], "account": s["account"], "expires_us": s["expires_us"]})
    shown = {k: v for k, v in s.items() if k != "token"}
    return {**shown, "session_file": str(path)}, (
        f"logged in as {s['account']} ({', '.join(s['roles'])}; {_scope(s['cameras'])}) until "
        f"{fmt_time(s['expires_us'])}")


def cmd_logout(ctx, args) -> tuple[Any, str]:
    saved = saved_session(ctx.socket)
    if saved is None:
        return {"ended": False}, "not logged in"
    try:
        r = call(ctx.socket, "logout", {}, token=saved["token"])
    except RequestError:
        r = {"account": saved.get("account"), "ended": False}  # already expired: forgetting it is enough
    save_session(ctx.socket, None)
    return r, f"logged out ({saved.get('account')})"


def cmd_whoami(ctx, args) -> tuple[Any, str]:
    r = call(ctx.socket, "whoami", {})
    return {**r, "session_file": str(session_file())}, (
        f"{r['account']} ({', '.join(r['roles'])}; {_scope(r['cameras'])}), OS user {r['os_user']}, "
        f"session until {fmt_time(r['expires_us'])}")


# accounts ---------------------------------------------------------------------------
def _account_lines(a: dict[str, Any]) -> str:
    lines = [f"{k:12} {v}" for k, v in (
        ("account", a["name"]), ("name", a["full_name"] or "-"), ("roles", ", ".join(a["roles"])),
        ("cameras", _scope(a["cameras"])), ("opened", f"{fmt_time(a['opened_us'])} by {a['opened_by']}"),
        ("password", f"set {fmt_time(a['pw_changed_us'])}"),
        ("state", f"REVOKED {fmt_time(a['revoked_us'])} by {a['revoked_by']}" if a["revoked_us"] else
         (f"locked until {fmt_time(a['locked_until_us'])}" if a["locked_until_us"] and
          a["locked_until_us"] > SYSTEM.now_us() else "active")))]
    if a.get("events"):
        lines.append("history:")
        lines += [f"  {fmt_time(e['at_us'])}  {e['action']:9} by {e['by']}: {e['reason']}" for e in a["events"]]
    return "\n".join(lines)


def cmd_account(ctx, args) -> tuple[Any, str]:
    if args.acct_cmd == "add":
        password = _Secrets(args.password_stdin).get(f"initial password for {args.name}: ", confirm=True)
        a = call(ctx.socket, "account.add", {"name": args.name, "password": password, "roles": args.role or [],
                                             "cameras": args.camera or None, "full_name": args.full_name or "",
                                             "reason": args.reason})
        return a, f"account opened:\n{_account_lines(a)}"
    if args.acct_cmd == "passwd":
        secrets = _Secrets(args.password_stdin)
        me = (saved_session(ctx.socket) or {}).get("account")
        req: dict[str, Any] = {"name": args.name or me, "reason": args.reason or ""}
        if not args.name or args.name == me:
            req["old_password"] = secrets.get("current password: ")
        req["password"] = secrets.get(f"new password for {req['name'] or 'your account'}: ", confirm=True)
        a = call(ctx.socket, "account.passwd", req)
        if a["name"] == me:
            save_session(ctx.socket, None)  # a new password ends the account's sessions
        return a, f"password of {a['name']} changed; its sessions ended" + (
            ": log in again" if a["name"] == me else "")
    if args.acct_cmd == "revoke":
        a = call(ctx.socket, "account.revoke", {"name": args.name, "reason": args.reason})
        return a, f"account {a['name']} revoked; the row stays on record and its sessions ended"
    if args.acct_cmd == "show":
        a = call(ctx.socket, "account.show", {"name": args.name})
        return a, _account_lines(a)
    rows = call(ctx.socket, "account.list", {"all": True})
    now = SYSTEM.now_us()
    text = table(["ACCOUNT", "NAME", "ROLES", "CAMERAS", "OPENED", "STATE"], [
        [a["name"], a["full_name"] or "-", ",".join(a["roles"]), _scope(a["cameras"]), fmt_time(a["opened_us"]),
         "revoked" if a["revoked_us"] else ("locked" if (a["locked_until_us"] or 0) > now else "active")]
        for a in rows])
    return rows, text if rows else "no accounts yet: root creates the first admin with `edgectl init-admin`"


# requests ---------------------------------------------------------------------------
def _request_line(r: dict[str, Any]) -> list[Any]:
    g = r.get("grant") or {}
    state = r["state"]
    if state == APPROVED and g:
        state = f"approved, grant {g['id']} until {fmt_time(g['expires_us'])}"
    if r["due_us"] and r["state"] == FILED:
        state += f" (due {fmt_time(r['due_us'])}{', OVERDUE' if SYSTEM.now_us() > r['due_us'] else ''})"
    return [r["id"], r["kind"], r["category"], ",".join(r["cameras"]), fmt_time(r["from_us"]),
            fmt_time(r["to_us"]), r["mode"], r["requester_name"], r["filed_by"], (r["flag"] or "-"), state]


def _request_text(r: dict[str, Any]) -> str:
    g = r.get("grant")
    rows = [("request", r["id"]), ("kind", r["kind"]), ("state", r["state"]),
            ("reason", f"{r['category']}: {r['reason']}"), ("cameras", ", ".join(r["cameras"])),
            ("footage", f"{fmt_time(r['from_us'])} to {fmt_time(r['to_us'])}"), ("mode", r["mode"]),
            ("requester", " / ".join(x for x in (r["requester_name"], r["requester_org"], r["requester_contact"])
                                     if x)),
            ("letter", r["letter_ref"] or "-"), ("citizen ID", r["citizen_id_masked"] or "-"),
            ("filed", f"{fmt_time(r['filed_us'])} by {r['filed_by']}"),
            ("due", fmt_time(r["due_us"])), ("flag", f"{r['flag']}: {r['flag_note'] or ''}" if r["flag"] else "-"),
            ("approvals", _chain_text(r)),
            ("decided", f"{fmt_time(r['decided_us'])} by {r['decided_by']}: {r['decision_reason']}"
             if r["decided_us"] else "-"),
            ("grant", "-" if not g else f"{g['id']} ({g['mode']}), expires {fmt_time(g['expires_us'])}" + (
                f"; used {fmt_time(g['used_us'])} by {g['used_by']}, watched by {g['watcher']}" if g["used_us"]
                else "; not used yet")),
            ("purged", fmt_time(r["purged_us"]) if r["purged_us"] else "-")]
    return "\n".join(f"{k:11} {v}" for k, v in rows)


def _chain_text(r: dict[str, Any]) -> str:
    """Each sign-off of the request's chain: who signed it and when, or who may still."""
    chain = r.get("chain") or [{"name": "approver", "approvers": None}]
    steps = r.get("steps") or []
    lines = []
    for i, step in enumerate(chain):
        done = steps[i] if i < len(steps) else None
        if done:
            lines.append(f"{i + 1}. {step['name']}: {'approved' if done['approve'] else 'REJECTED'} by {done['by']} "
                         f"{fmt_time(done['at_us'])}: {done['reason']}")
        else:
            who = ", ".join(step["approvers"]) if step.get("approvers") else "any approver"
            lines.append(f"{i + 1}. {step['name']}: " + ("waiting for " + who if r["state"] == "filed" else "-"))
    return ("\n" + " " * 12).join(lines)


def cmd_request(ctx, args) -> tuple[Any, str]:
    now = SYSTEM.now_us()
    if args.req_cmd == "file":
        id_number = args.id_number
        if id_number == "-":
            id_number = getpass.getpass("citizen's ID number (not shown): ")
        req = {"kind": args.kind, "category": args.category, "reason": args.reason, "cameras": args.camera or [],
               "from_us": parse_when(args.from_, now), "to_us": parse_when(args.to, now),
               "mode": "copy" if args.copy else "view", "requester_name": args.requester,
               "requester_org": args.org, "requester_contact": args.contact, "letter_ref": args.letter,
               "id_number": id_number, "identity_checked": args.identity_checked, "flag": args.flag,
               "flag_note": args.flag_note}
        r = call(ctx.socket, "request.file", req)
        due = f"; answer it by {fmt_time(r['due_us'])}" if r["due_us"] else ""
        flag = f"; flagged {r['flag']}: the ethics office has been alerted" if r["flag"] else ""
        return r, f"request {r['id']} filed ({r['kind']}, {r['mode']}){due}{flag}\n" \
                  f"an approver who did not file it decides: edgectl request approve {r['id']} --reason ..."
    if args.req_cmd in ("approve", "reject"):
        req = {"id": args.id, "reason": args.reason, "flag": args.flag, "flag_note": args.flag_note}
        if args.req_cmd == "approve" and args.expires:
            try:
                req["expires_us"] = parse_duration(args.expires, "--expires")
            except ConfigError as exc:
                raise UsageError(str(exc)) from None
        r = call(ctx.socket, f"request.{args.req_cmd}", req)
        note = f"\n{r['note']}" if r.get("note") else ""
        if args.req_cmd == "reject":
            return r, f"request {r['id']} rejected: {r['decision_reason']}"
        if r["state"] == "filed":  # an approval before the last step of the chain
            done, chain = r["steps"][-1], r["chain"]
            nxt = chain[len(r["steps"])]
            who = ", ".join(nxt["approvers"]) if nxt.get("approvers") else "another approver"
            return r, (f"request {r['id']}: step {done['step'] + 1} of {len(chain)} ({done['name']}) approved; "
                       f"next: {nxt['name']}, by {who} (edgectl request approve {r['id']} --reason ...)")
        g = r["grant"]
        how = (f"edgectl export --grant {g['id']} --out DIR" if g["mode"] == "copy" else
               "the local viewer, with a custodian's session")
        return r, (f"request {r['id']} approved: grant {g['id']} ({g['mode']}, {', '.join(g['cameras'])}, "
                   f"{fmt_time(g['from_us'])} to {fmt_time(g['to_us'])}) is valid once, until "
                   f"{fmt_time(g['expires_us'])}; a custodian uses it with {how}{note}")
    if args.req_cmd == "show":
        r = call(ctx.socket, "request.show", {"id": args.id})
        return r, _request_text(r)
    rows = call(ctx.socket, "request.list", {"state": args.state, "kind": args.kind,
                                             "citizen_id": args.citizen_id, "limit": args.limit})
    text = table(["ID", "KIND", "REASON", "CAMERAS", "FROM", "TO", "MODE", "REQUESTER", "FILED BY", "FLAG", "STATE"],
                 [_request_line(r) for r in rows])
    return rows, text if rows else "no requests"


# Over 60 lines on purpose: the argparse declarations of every people verb, read as one list.
def register(sub) -> None:
    p = sub.add_parser("init-admin", parents=[JSON], help="create the first admin account (root, on the box, only while none exists)")
    p.add_argument("--name", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    p.set_defaults(handler=cmd_init_admin)

    p = sub.add_parser("login", parents=[JSON], help="log in with your personal account; the session is short-lived")
    p.add_argument("name", nargs="?", help="account name (default: your OS user name)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    p.set_defaults(handler=cmd_login)
    p = sub.add_parser("logout", parents=[JSON], help="end your session")
    p.set_defaults(handler=cmd_logout)
    p = sub.add_parser("whoami", parents=[JSON], help="the account, roles and camera scope of your session")
    p.set_defaults(handler=cmd_whoami)

    p = sub.add_parser("account", help="personal accounts: opened, password changed, revoked; never deleted")
    acs = p.add_subparsers(dest="acct_cmd", required=True)
    a = acs.add_parser("add", parents=[JSON], help="open an account (admin)")
    a.add_argument("name")
    a.add_argument("--role", action="append", help="viewer, custodian, approver, auditor or admin (repeatable)")
    a.add_argument("--camera", action="append", help="limit the account to these cameras (default: all)")
    a.add_argument("--full-name")
    a.add_argument("--reason", required=True, help="the approved application")
    a.add_argument("--password-stdin", action="store_true")
    a = acs.add_parser("passwd", parents=[JSON], help="change your password (or, as admin, another account's)")
    a.add_argument("name", nargs="?")
    a.add_argument("--reason")
    a.add_argument("--password-stdin", action="store_true", help="current then new password, one per line")
    a = acs.add_parser("revoke", parents=[JSON], help="revoke an account on transfer or departure (admin)")
    a.add_argument("name")
    a.add_argument("--reason", required=True)
    a = acs.add_parser("list", parents=[JSON], help="every account with its roles and cameras")
    a = acs.add_parser("show", parents=[JSON], help="one account and its history")
    a.add_argument("name")
    p.set_defaults(handler=cmd_account)

    p = sub.add_parser("request", help="retrieval requests: file, approve or reject, list")
    rs = p.add_subparsers(dest="req_cmd", required=True)
    f = rs.add_parser("file", parents=[JSON], help="file a request to view or copy footage")
    f.add_argument("--kind", required=True, choices=KINDS)
    f.add_argument("--category", required=True, metavar="CATEGORY",
                   help=f"the reason category, one of the site's [policy] categories (by default: "
                        f"{', '.join(CATEGORIES)}); the daemon checks it")
    f.add_argument("--reason", required=True, help="why the footage is needed")
    f.add_argument("--camera", action="append", required=True)
    f.add_argument("--from", dest="from_", required=True, metavar="T")
    f.add_argument("--to", required=True, metavar="T")
    f.add_argument("--copy", action="store_true", help="ask for a copy (agencies and police only); default: view")
    f.add_argument("--requester", required=True, help="who asks (name)")
    f.add_argument("--org", help="their unit or agency")
    f.add_argument("--contact")
    f.add_argument("--letter", help="official letter or case reference (agency, police)")
    f.add_argument("--id-number", help="a citizen's ID number (kept masked and hashed; '-' to type it hidden)")
    f.add_argument("--identity-checked", action="store_true", help="the citizen's ID document was checked")
    f.add_argument("--flag", choices=FLAGS, help="a major or abnormal request: the ethics office is alerted")
    f.add_argument("--flag-note")
    for verb, what in (("approve", "approve: a single-use grant is issued"), ("reject", "reject")):
        d = rs.add_parser(verb, parents=[JSON], help=f"{what} (an approver who did not file it)")
        d.add_argument("id", type=int)
        d.add_argument("--reason", required=True)
        if verb == "approve":
            d.add_argument("--expires", metavar="DURATION", help="grant lifetime (default from [accounts] grant_ttl)")
        d.add_argument("--flag", choices=FLAGS)
        d.add_argument("--flag-note")
    s = rs.add_parser("show", parents=[JSON], help="one request with its grant")
    s.add_argument("id", type=int)
    ls = rs.add_parser("list", parents=[JSON], help="requests, newest first")
    ls.add_argument("--state", choices=REQUEST_STATES)
    ls.add_argument("--kind", choices=KINDS)
    ls.add_argument("--citizen-id", help="a citizen's earlier requests (matched by keyed hash)")
    ls.add_argument("--limit", type=int, default=200)
    p.set_defaults(handler=cmd_request)

    ctl_audit.register(sub)
