"""The rules on people applied to their rows: opening accounts (edged/rules/roles.py) and retrieval
requests and grants (edged/rules/retrieval.py), each a blocking function run on the catalog writer
thread, with its audit record in the same transaction. The rows and their SQL are storage/'s
(accounts.py, retrieval_store.py; design/0033); the rules are pure; this module joins them, so
storage/ never imports a rule from edged/.
"""

from __future__ import annotations

import json
from datetime import tzinfo
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import sqlite_utils

from edged.config import Config
from edged.documents.pages import account_boxes
from edged.i18n import _
from edged.rules import redaction as rd, retrieval as rq
from edged.rules.persons import PAPER, Names, names_of, person
from edged.rules.roles import ADMIN, APPROVER, CUSTODIAN, allowed, check_roles, in_scope
from storage import audit
from storage import cameras as camera_table
from storage.people import accounts, retrieval_store
from storage.people.accounts import AccountError
from storage.people.retrieval_store import GrantError


# accounts ---------------------------------------------------------------------------
def policy_of(cfg: Config) -> accounts.Policy:
    """The [accounts] settings the people store applies: session lifetime, lockout, password length."""
    a = cfg.accounts
    return accounts.Policy(session_ttl_us=a.session_ttl_us, lockout_after=a.lockout_after,
                           lockout_for_us=a.lockout_for_us, min_password=a.min_password)


def unsigned_gate(cfg: Config) -> Callable[[dict[str, Any]], list[str]] | None:
    """What a login asks of an account where the site holds accounts back until their application
    is signed (`[accounts] signed_to_log_in`, design/0113): its unsigned boxes; None elsewhere."""
    if not cfg.accounts.signed_to_log_in:
        return None
    boxes = account_boxes(cfg.forms, cfg.site.language)
    return lambda a: unsigned_boxes(a, boxes)


def active_admins(db: sqlite_utils.Database) -> list[str]:
    return accounts.holders(db, ADMIN)


def add_account(db: sqlite_utils.Database, name: str, password: str, roles: list[str], cameras: list[str] | None,
                *, by: str, reason: str, now_us: int, full_name: str = "", min_password: int | None = None,
                pw_hash: str | None = None, one_time: bool = False, live: bool = False) -> dict[str, Any]:
    """Open an account (R4.1): one per person, roles checked (R4.4), scope checked (R4.2).

    `pw_hash`: hash_password(password), made ahead off the catalog writer thread. `one_time`: the
    holder must change the password at the first login (an admin chose it, design/0042)."""
    name = str(name).strip()
    if not accounts.is_account_name(name):
        raise AccountError(_("{name!r} is not an account name: 2 to 32 of a-z, 0-9, '.', '_', '-', starting with a "
                             "letter").format(
            name=name))
    if not reason.strip():
        raise AccountError(_("opening an account needs a reason (--reason): the approved application"))
    try:
        roles = check_roles(roles)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if live and live_role_refusal(roles):
        raise AccountError(live_role_refusal(roles))
    if cameras is not None:
        cameras = sorted(set(cameras))
        unknown = sorted(set(cameras) - set(camera_table.ids(db)))
        if not cameras or unknown:
            raise AccountError(_("unknown camera(s) {value}; leave the scope out for every camera").format(
                value=', '.join(unknown) or _('(none named)')))
    if accounts.account_row(db, name) is not None:
        raise AccountError(_("account {name} exists (accounts are never deleted or reused); choose another "
                             "name").format(
            name=name))
    problem = accounts.password_problem(name, password, min_password or accounts.load_policy(db).min_password)
    if problem:
        raise AccountError(problem)
    pw_hash = pw_hash or accounts.hash_password(password)
    with db.atomic():
        accounts.insert_account(db, name, full_name=full_name, roles=roles, cameras=cameras, pw_hash=pw_hash,
                                by=by, reason=reason, now_us=now_us, must_change=one_time, live=live)
        audit.append(db, by, "account.open", {"account": name, "roles": roles, "cameras": cameras,
                                              "reason": reason, "one_time": one_time, "live": live}, at_us=now_us)
    return accounts.account(db, name)  # type: ignore[return-value]


def live_role_refusal(roles: list[str]) -> str | None:
    """Live view is given only to an account whose roles may watch (R4.5, R4.4: never the auditor nor
    the admin); None when they may (design/0108)."""
    if allowed(roles, "live.view"):
        return None
    return _("live view is given only to a person who handles or oversees the cameras (a viewer, custodian or "
             "approver); this account's roles never watch footage")


def set_live(db: sqlite_utils.Database, name: str, live: bool, *, by: str, reason: str,
             now_us: int) -> dict[str, Any]:
    """Give or take an account's live view (design/0108; 001 §15, 002 §7): the admin records the
    head's authorisation as the reason. AccountError says why not."""
    row = accounts.account(db, name)
    if row is None or row["revoked_us"] is not None:
        raise AccountError(_("there is no open account {name}").format(name=name))
    if not reason.strip():
        raise AccountError(_("giving or taking live view needs a reason: who authorised it"))
    if live and live_role_refusal(row["roles"]):
        raise AccountError(live_role_refusal(row["roles"]))
    with db.atomic():
        if accounts.set_live(db, name, live, by=by, reason=reason, now_us=now_us):
            audit.append(db, by, "account.live", {"account": name, "live": live, "reason": reason}, at_us=now_us)
    return accounts.account(db, name)  # type: ignore[return-value]


def init_admin(db: sqlite_utils.Database, name: str, password: str, *, os_user: str, now_us: int,
               min_password: int | None = None, pw_hash: str | None = None, full_name: str = "") -> dict[str, Any]:
    """The first admin, made by root on the box itself; refused while an admin exists."""
    admins = active_admins(db)
    if admins:
        raise AccountError(_("an admin exists ({admins}): they open accounts with `edgectl account add`").format(
            admins=', '.join(admins)))
    return add_account(db, name, password, [ADMIN], None, by=f"{os_user} (init-admin)",
                       reason="first admin, created on the box by root", now_us=now_us,  # i18n: on the audit record
                       min_password=min_password,
                       pw_hash=pw_hash, full_name=full_name)


def sign_refusal(a: dict[str, Any], action: str, box: str, signer: str, boxes: list[str],
                 titles: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """Why `signer` (an account) may not sign `box` of the application for the account's last
    `action` event (design/0088), or None. Pure: the boxes are the page's without a daemon value;
    the holder and the admin who carried the change out sign nothing, each box is one person's,
    and a box named for a title of [policy.titles] (001 附件2's 秘書, 主任) only by that title's
    holder (issue 56, design/0190). Said to the signer: no login name in it."""
    event = next((e for e in reversed(a.get("events") or []) if e["action"] == action), None)
    if event is None:
        return _("This account has no such change on record to sign.")
    if box not in boxes:
        return _("“{box}” is not a box to sign on the account application; boxes: {boxes}").format(
            box=box, boxes=_(", ").join(boxes) or _("(none)"))
    holders = set((titles or {}).get(box, ()))
    if holders and signer not in holders:
        return _("The box “{box}” is signed by the {box} only.").format(box=box)
    signed = accounts.application_signatures(a["events"], action)
    if box in signed:
        return _("The box “{box}” is already signed.").format(box=box)
    if signer == a["name"]:
        return _("You may not sign your own account's application.")
    if signer == accounts.actor_account(event["by"]):
        return _("You carried out this change and may not also approve it (separation of duties).")
    if any(accounts.actor_account(s["by"]) == signer for s in signed.values()):
        return _("You have already signed this application; each box is another person's.")
    return None


def unsigned_boxes(a: dict[str, Any], boxes: list[str]) -> list[str]:
    """The boxes of an account's application to open it that nobody has signed yet, which keep it
    from logging in where `[accounts] signed_to_log_in` (001 十一, design/0113). Pure. Not held
    back: the first admin (`init-admin`, root's act on the box) alone; the approvers are, and the
    first ones' boxes are recorded from the signed paper (design/0260, record_paper_signature)."""
    event = next((e for e in reversed(a.get("events") or []) if e["action"] == "opened"), None)
    if event is None or "(init-admin)" in str(event["by"]):
        return []
    signed = accounts.application_signatures(a["events"], "opened")
    return [b for b in boxes if b not in signed]


def desk_signers(db: sqlite_utils.Database, a: dict[str, Any], box: str, boxes: list[str],
                 titles: Mapping[str, Iterable[str]]) -> list[str]:
    """The usable accounts that may sign `box` of `a`'s application to open it at the desk: the
    holders of the box's title ([policy.titles]), else every approver; an account is usable once
    its own application is signed and while it is not revoked; never the applicant, nor the admin
    who opened it (design/0260)."""
    event = next((e for e in reversed(a.get("events") or []) if e["action"] == "opened"), None)
    opener = accounts.actor_account(str(event["by"])) if event else ""
    signed = {accounts.actor_account(s["by"]) for s in accounts.application_signatures(a["events"], "opened").values()}
    out = []
    for name in list(titles.get(box, ())) or accounts.holders(db, APPROVER):
        b = accounts.account(db, name) if name not in (a["name"], opener, *signed) else None
        if (b is not None and b["revoked_us"] is None and allowed(b["roles"], "account.sign")
                and not unsigned_boxes(b, boxes)):
            out.append(name)
    return out


def paper_refusal(a: dict[str, Any], box: str, signed_by: str, boxes: list[str],
                  titles: Mapping[str, Iterable[str]], at_desk: list[str]) -> str | None:
    """Why the account administrator may not record `box` of `a`'s application to open it as
    signed on paper by `signed_by` (design/0260), or None. Pure. The paper route is the bootstrap
    the rule allows (附件2 is signed by hand): only while nobody usable may sign the box at the
    desk (`at_desk`, desk_signers); a box named for a title only by that title's holder."""
    if not any(e["action"] == "opened" for e in a.get("events") or []):
        return _("This account has no such change on record to sign.")
    if box not in boxes:
        return _("“{box}” is not a box to sign on the account application; boxes: {boxes}").format(
            box=box, boxes=_(", ").join(boxes) or _("(none)"))
    if box in accounts.application_signatures(a["events"], "opened"):
        return _("The box “{box}” is already signed.").format(box=box)
    holders = set(titles.get(box, ()))
    if not signed_by.strip():
        return _("Say who signed the box on paper.")
    if holders and signed_by not in holders:
        return _("The box “{box}” is signed by the {box} only.").format(box=box)
    if at_desk:
        return _("The box “{box}” can be signed at the desk now: the paper is recorded only while nobody who may "
                 "sign it can log in.").format(box=box)
    return None


def record_paper_signature(db: sqlite_utils.Database, name: str, box: str, *, signed_by: str, by: str,
                           recorder: str, boxes: list[str], now_us: int,
                           titles: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """The account administrator records one box of an account's application to open it as signed
    on paper (design/0260): on the account's record as signed by `signed_by` (recorded by
    `recorder`) and on the audit chain with who recorded it and when; AccountError says why not."""
    a = accounts.account(db, name)
    if a is None:
        raise AccountError(_("no account {name}").format(name=name))
    signed_by = signed_by.strip()
    problem = paper_refusal(a, box, signed_by, boxes, titles, desk_signers(db, a, box, boxes, titles))
    if problem:
        raise AccountError(problem)
    return accounts.sign_application(db, name, "opened", box, by=f"{signed_by}{PAPER}{recorder})", now_us=now_us,
                                     detail={"on_paper": True, "signed_by": signed_by}, actor=by)


def not_signed_words(name: str, pending: list[str], titles: Mapping[str, Iterable[str]]) -> str:
    """Why an account cannot log in yet: which boxes of its application wait, and for whom (the
    accounts of the box's title in [policy.titles], else any approver)."""
    def whom(box: str) -> str:   # by title, never by login name (issue 56)
        return _("the {title}").format(title=box) if titles.get(box) else _("an approver")
    boxes = _(", ").join(_("{box} (signed by {whom})").format(box=b, whom=whom(b)) for b in pending)
    return _("This account cannot log in yet: its application waits for its signatures: {boxes}. They sign it on "
             "the account's page at the desk.").format(boxes=boxes)


def sign_application(db: sqlite_utils.Database, name: str, action: str, box: str, *, signer: str, by: str,
                     boxes: list[str], now_us: int, titles: Mapping[str, Iterable[str]] | None = None
                     ) -> dict[str, Any]:
    """One sign-off of an account's application (design/0088) by `signer`, on the record and
    the audit chain; raises AccountError when sign_refusal says why not."""
    a = accounts.account(db, name)
    if a is None:
        raise AccountError(_("no account {name}").format(name=name))
    problem = sign_refusal(a, action, box, signer, boxes, titles)
    if problem:
        raise AccountError(problem)
    return accounts.sign_application(db, name, action, box, by=by, now_us=now_us)


# requests and grants ----------------------------------------------------------------
def file_request(db: sqlite_utils.Database, fields: dict[str, Any], *, filed_by: str, now_us: int, key: bytes,
                 policy: rq.RequestPolicy = rq.DEFAULT_POLICY, tz: tzinfo | None = None) -> dict[str, Any]:
    """File a request (R5.1, R5.2) under the site's policy (design/0036), its due date counted
    on the site's calendar (`tz`, design/0089); raises edged.rules.retrieval.RequestRuleError."""
    row = rq.new_request(fields, filed_by=filed_by, now_us=now_us, id_key=key, policy=policy,
                         known_cameras=camera_table.ids(db), tz=tz)
    with db.atomic():
        request_id = retrieval_store.insert_request(db, row)
        audit.append(db, filed_by, "request.file", {**rq.stub({**row, "id": request_id}), "due_us": row["due_us"],
                                                    "chain": [s["name"] for s in row["chain"]]}, at_us=now_us)
    return retrieval_store.request_row(db, request_id)  # type: ignore[return-value]


def decide_request(db: sqlite_utils.Database, request_id: int, *, approver: str, approve: bool, reason: str,
                   now_us: int, grant_ttl_us: int, flag: str | None = None,
                   flag_note: str | None = None, titles: Mapping[str, Iterable[str]] | None = None,
                   units: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    """One step of the request's approval chain (design/0036), by an approver who did not file
    it, whose cameras cover the request's: the last approval issues a single-use grant, a
    rejection at any step decides it. Every step is an audit record: `request.step` before the
    last, `request.approve` or `request.reject` when decided. `titles`, `units`: the site's
    [policy], so that a refusal names people by their full names and titles (design/0112)."""
    req = retrieval_store.request_row(db, request_id)
    if req is None:
        raise rq.RequestRuleError(_("no request {request_id}").format(request_id=request_id))
    acct = accounts.account_row(db, approver)
    scope = None if acct is None or acct["cameras"] is None else json.loads(acct["cameras"])
    changes, grant = rq.decide(req, approver=approver, approve=approve, reason=reason, now_us=now_us,
                               grant_ttl_us=grant_ttl_us, approver_scope=scope,
                               names=names_of(accounts.accounts(db), titles or {}, units or {}))
    if flag is not None:
        changes["flag"] = rq.check_flag(flag)
        changes["flag_note"] = flag_note
    step = changes["steps"][-1]
    with db.atomic():
        retrieval_store.update_request(db, req["id"], changes)
        detail = {**rq.stub({**req, **changes}), "reason": step["reason"], "step": step["step"],
                  "step_name": step["name"], "steps": len(req.get("chain") or rq.ONE_STEP)}
        if flag is not None:  # flagged at this step: the ethics office's notice (edged/rules/ethics.py)
            detail["flag_set"] = True
        if grant is not None:
            grant_id = retrieval_store.insert_grant(db, grant)
            detail.update(grant=grant_id, expires_us=grant["expires_us"], approvers=grant["approvers"])
        action = "request.step" if "state" not in changes else "request.approve" if approve else "request.reject"
        audit.append(db, approver, action, detail, at_us=now_us)
    return retrieval_store.request_row(db, req["id"])  # type: ignore[return-value]


def _custodian_refusal(db: sqlite_utils.Database, name: str, grant: dict[str, Any], watcher: str,
                       names: Names) -> str | None:
    acct = accounts.account_row(db, name)
    if acct is None or acct["revoked_us"] is not None or CUSTODIAN not in json.loads(acct["roles"]):
        return _("using a grant needs a custodian's session; {name} is not an active custodian").format(
            name=person(names, name))
    if not in_scope(None if acct["cameras"] is None else json.loads(acct["cameras"]), grant["cameras"]):
        return _("{name} has no rights on camera(s) {cameras}").format(name=person(names, name),
                                                                       cameras=', '.join(grant['cameras']))
    if not watcher:
        return _("name who watches or receives the footage")
    return rq.approver_refusal(grant, name, names)


def custodian_sees(db: sqlite_utils.Database, custodian: str, grant: dict[str, Any]) -> bool:
    """Whether the grant's cameras are in the custodian's scope: one outside it answers "no grant",
    before its mode, state or footage is named (issue 56). An unknown account is left to the
    custodian check."""
    acct = accounts.account_row(db, retrieval_store.custodian_name(custodian))
    return acct is None or acct["cameras"] is None or in_scope(json.loads(acct["cameras"]), grant["cameras"])


def use_grant(db: sqlite_utils.Database, grant_id: int, *, custodian: str, watcher: str, mode: str,
              now_us: int, titles: Mapping[str, Iterable[str]] | None = None,
              units: Mapping[str, Iterable[str]] | None = None, redacted: Iterable[str] = ()) -> dict[str, Any]:
    """Use a grant once (R5.4): {id, request_id, cameras, from_us, to_us, mode, approver, requester,
    expires_us, ...}. `custodian` is the account name of the custodian's session; `watcher` who
    watched (or received the copy). Raises GrantError; a refused use is an audit record too.
    `titles`, `units`, `redacted`: the site's [policy] (people by name, design/0112; kinds used only for a redacted copy, 0232)."""
    name = retrieval_store.custodian_name(custodian)
    watcher = str(watcher or "").strip()
    with db.atomic():
        names = names_of(accounts.accounts(db), titles or {}, units or {})
        grant = retrieval_store.peek_grant(db, grant_id)
        if grant is not None and not custodian_sees(db, custodian, grant):
            grant = None   # scope first: as if there were none (issue 56)
        problem = rq.refuse_use(grant, mode=rd.checked_as(grant, mode), now_us=now_us, grant_id=grant_id, names=names)
        kind = grant and (retrieval_store.request_row(db, grant["request_id"]) or {}).get("kind")
        if problem is None and grant is not None:   # refuse_use answered "no grant" for None
            problem = (rd.redacted_refusal(grant, mode=mode, redacted=rd.grant_redacted(grant, kind, redacted))
                       or _custodian_refusal(db, name, grant, watcher, names) or rd.allower_refusal(grant, name, names))
        if problem is None and not retrieval_store.mark_grant_used(db, grant_id, used_us=now_us, used_by=name,
                                                                   watcher=watcher):
            problem = _("grant {grant_id} was already used").format(grant_id=grant_id)
        if problem is None:
            assert grant is not None
            retrieval_store.close_request(db, grant["request_id"], rq.USED, now_us)
            audit.append(db, custodian, "grant.use", {
                "grant": grant["id"], "request": grant["request_id"], "cameras": grant["cameras"],
                "from_us": grant["from_us"], "to_us": grant["to_us"], "mode": mode,
                "approver": grant["approver"]}, at_us=now_us)
            return {**grant, "used_us": now_us, "used_by": name, "watcher": watcher}
        audit.append(db, custodian, "grant.refused", {"grant": int(grant_id), "mode": mode, "why": problem},
                     at_us=now_us)
    raise GrantError(problem)


# purging and the periodic pass ------------------------------------------------------
def due_for_purge(db: sqlite_utils.Database, now_us: int, keep_years: int) -> list[dict[str, Any]]:
    return [req for req in retrieval_store.closed_unpurged(db) if rq.purge_due(req, now_us, keep_years)]


def purge_backup(path: Path, ids: list[int], now_us: int) -> int:
    """The live catalog's purges (`ids`) repeated in a catalog backup; see retrieval_store.purge_backup."""
    return retrieval_store.purge_backup(path, ids, lambda req: rq.purged(req, now_us))


def sweep(db: sqlite_utils.Database, now_us: int, keep_years: int = 3,
          lapse_us: int = 90 * rq.DAY_US) -> dict[str, list[dict[str, Any]]]:
    """The periodic pass: grants that expired unused, requests never decided, requests to purge,
    what is overdue or flagged."""
    out: dict[str, list[dict[str, Any]]] = {"lapsed": [], "purged": [], "overdue": [], "flagged": []}
    for r in retrieval_store.undecided_since(db, now_us - lapse_us):
        with db.atomic():  # undecided for too long: closed, so that R5.7's three years can start
            retrieval_store.close_request(db, r["id"], rq.LAPSED, now_us)
            audit.append(db, "edged", "request.lapsed", {"request": r["id"], "filed_us": r["filed_us"],
                                                         "why": "never decided"}, at_us=now_us)
        out["lapsed"].append({"id": r["id"], "grant": None})
    for r in retrieval_store.unused_grants_expired(db, now_us):
        with db.atomic():
            retrieval_store.close_request(db, r["id"], rq.LAPSED, r["expires_us"])
            audit.append(db, "edged", "grant.expired", {"grant": r["grant_id"], "request": r["id"]}, at_us=now_us)
        out["lapsed"].append({"id": r["id"], "grant": r["grant_id"]})
    for req in due_for_purge(db, now_us, keep_years):
        with db.atomic():
            retrieval_store.purge_request(db, req["id"], rq.purged(req, now_us))
            audit.append(db, "edged", "request.purge", {**rq.stub(req), "filed_us": req["filed_us"],
                                                        "closed_us": req["closed_us"]}, at_us=now_us)
        out["purged"].append({"id": req["id"]})
    if out["purged"]:
        retrieval_store.scrub(db)
    for req in retrieval_store.open_requests(db):
        if rq.overdue(req, now_us):
            out["overdue"].append(req)
        if req["flag"]:
            out["flagged"].append(req)
    return out
