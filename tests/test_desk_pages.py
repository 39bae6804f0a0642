"""The web desk's pure parts (design/0073): the one `perform` both doors run, the navigation by
role, the inbox's question to the chain's rule, the page frame's escaping, the printed form's
CSP hash, the one-time passwords. The pages themselves: tests/test_desk.py (a real browser)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re

from edged.control.server import Caller, for_sessions, perform
from edged.documents import CSS
from edged.i18n import speaking
from edged.viewer.desk.accounts import one_time_password
from edged.viewer.desk.page import Ctx, Person, frame
from edged.viewer.desk.page import PRINT_CSP
from edged.viewer.desk.requests import waiting_for

NOW = 1_800_000_000_000_000


def caller(*roles: str, account: str = "ann", must_change: bool = False, cameras=None) -> Caller:
    return Caller(os_user=account, account=account, roles=roles, must_change=must_change, cameras=cameras)


def ctx_of(c: Caller) -> Ctx:
    """The desk's view of the same person (the web session's account, roles and cameras)."""
    return Ctx(caller=Person(account=c.account or "", roles=c.roles, cameras=c.cameras, must_change=c.must_change), lang="en", site="Office <1>", tz=None, now_us=NOW, path="/desk/", csrf="tok")


def test_perform_checks_the_role_and_the_one_time_password_before_the_handler():
    """The control socket and the desk (through for_sessions) both run this."""
    ran = []

    async def handler(args, c):
        ran.append((args, c.account))
        return {"done": True}
    table = {"request.approve": handler, "account.passwd": handler}
    answer = asyncio.run(perform(table, "request.approve", {"id": 1}, caller("viewer")))
    assert not answer["ok"] and answer["code"] == "role" and "needs the approver role" in answer["hint"]
    assert "request.approve" not in answer["error"] and "clerk" in answer["error"]   # words (design/0103)
    answer = asyncio.run(perform(table, "request.approve", {"id": 1}, caller("approver", must_change=True)))
    assert not answer["ok"] and answer["code"] == "passwd"
    assert asyncio.run(perform(table, "account.passwd", {}, caller("viewer", must_change=True)))["ok"]
    assert asyncio.run(perform(table, "request.approve", {"id": 1}, caller("approver"))) == {
        "ok": True, "result": {"done": True}}
    assert ran == [({}, "ann"), ({"id": 1}, "ann")]
    assert asyncio.run(perform(table, "hold.add", {}, caller("custodian")))["ok"] is False, "no handler: refused"


def test_the_navigation_shows_what_the_role_may_run_and_every_value_is_escaped():
    with speaking("en"):
        clerk = frame(ctx_of(caller("viewer")), "<title>", "", site="Office <1>", lang="en")
        admin = frame(ctx_of(caller("admin")), "t", "", site="S", lang="en")
        first = frame(ctx_of(caller("viewer", must_change=True)), "t", "", site="S", lang="en")
    assert 'href="/desk/requests/new"' in clerk and 'href="/desk/inbox"' not in clerk
    assert 'href="/desk/accounts"' not in clerk and 'href="/desk/accounts"' in admin
    assert 'href="/desk/requests/new"' not in admin, "the admin is not staff: no filing"
    assert "<nav" not in first, "a one-time password sees only its password page"
    assert "Office &lt;1&gt;" in clerk and "&lt;title&gt;" in clerk and "<title><title>" not in clerk
    # no inline script: the desk's one script is a file of its own (static/desk.js, design/0113)
    assert set(re.findall(r"<script[^>]*>[^<]*</script>", clerk + admin)) == {
        '<script src="/static/desk.js" defer></script>'} and " style=" not in clerk


def test_the_inbox_asks_the_chain_rule_who_signs_next():
    req = {"id": 7, "state": "filed", "filed_by": "vera", "requester_account": None, "cameras": ["cam1"],
           "chain": [{"name": "chief", "approvers": None}, {"name": "director", "approvers": ["dora"]}],
           "steps": [], "requester_name": "x", "from_us": 0, "to_us": 1, "mode": "view"}
    assert waiting_for(req, ctx_of(caller("approver", account="sam")))
    assert not waiting_for(req, ctx_of(caller("approver", account="vera"))), "not the filer (R5.3)"
    assert not waiting_for(req, ctx_of(caller("viewer", account="sam"))), "not a clerk"
    assert not waiting_for(req, ctx_of(caller("approver", account="sam", cameras=("cam2",)))), "scope (R4.2)"
    signed = {**req, "steps": [{"step": 0, "name": "chief", "by": "sam", "at_us": 1, "approve": True, "reason": "ok"}]}
    assert not waiting_for(signed, ctx_of(caller("approver", account="sam"))), "signed already"
    assert not waiting_for(signed, ctx_of(caller("approver", account="tom"))), "the step names dora"
    assert waiting_for(signed, ctx_of(caller("approver", account="dora")))


def test_the_printed_form_is_allowed_its_own_style_by_hash_and_nothing_else():
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in PRINT_CSP
    assert "unsafe-inline" not in PRINT_CSP and "script-src" not in PRINT_CSP and "default-src 'none'" in PRINT_CSP


def test_one_time_passwords_are_long_and_unambiguous():
    seen = {one_time_password() for _ in range(50)}
    assert len(seen) == 50
    assert all(re.fullmatch(r"[a-km-zA-HJ-NP-Z2-9]{5}(-[a-km-zA-HJ-NP-Z2-9]{5}){3}", p) for p in seen)


def test_for_sessions_runs_the_operation_as_the_session_account():
    seen = []

    async def handler(args, c):
        seen.append((str(c), c.roles, c.cameras, c.must_change))
        return None
    run = for_sessions({"request.list": handler})
    session = {"account": "vera", "roles": ["viewer"], "cameras": ["cam1"], "expires_us": 1, "token": "t"}
    assert asyncio.run(run("request.list", {}, session))["ok"]
    assert seen == [("vera", ("viewer",), ("cam1",), False)], "the actor on the record is the person"
    assert asyncio.run(run("request.list", {}, {**session, "must_change": True}))["code"] == "passwd"


def test_the_inspection_forms_ask_the_runners_rule_who_signs_and_who_countersigns():
    from edged.viewer.desk.inspections import may_countersign, may_sign

    run = {"id": 3, "signed_us": None, "inspector": None, "countersigned_us": None, "supervisor": None}
    assert may_sign(run, ctx_of(caller("custodian", account="carl")))
    assert not may_sign(run, ctx_of(caller("approver", account="dora"))), "signing is the custodian's"
    assert not may_countersign(run, ctx_of(caller("approver", account="dora"))), "not signed yet"
    signed = {**run, "signed_us": 1, "inspector": "carl"}
    assert not may_sign(signed, ctx_of(caller("custodian", account="carl"))), "signed once"
    assert may_countersign(signed, ctx_of(caller("approver", account="dora")))
    assert not may_countersign(signed, ctx_of(caller("custodian", "approver", account="carl"))), "not the inspector"
    done = {**signed, "countersigned_us": 2, "supervisor": "dora"}
    assert not may_countersign(done, ctx_of(caller("approver", account="sam"))), "countersigned once"


def test_the_cameras_page_keeps_to_the_accounts_cameras_and_the_boxs_own_alarms():
    from edged.viewer.desk.cameras import in_scope

    lobby = ctx_of(caller("custodian", cameras=("lobby",)))
    assert in_scope("lobby", lobby) and not in_scope("evidence", lobby)
    assert in_scope(None, lobby), "an alarm about the box itself (its disk, its clock)"
    assert in_scope("evidence", ctx_of(caller("approver"))), "no scope: every camera"


def test_the_desks_upload_reaches_the_operation_as_the_sockets_does():
    """design/0356: a session's `upload` is what `Caller.upload` yields to the operation (the form's
    file part, chunk by chunk); without one, a desk caller has no file to give."""
    async def handler(args, c):
        return {"got": [chunk async for chunk in c.upload(args["bytes"])], "uploaded": c.uploaded}

    async def part(_size):
        for chunk in (b"ab", b"cd"):
            yield chunk
    run = for_sessions({"evidence.import": handler})
    session = {"account": "carl", "roles": ["custodian"], "cameras": None}
    answer = asyncio.run(run("evidence.import", {"bytes": 9}, {**session, "upload": part}))
    assert answer == {"ok": True, "result": {"got": [b"ab", b"cd"], "uploaded": True}}
    answer = asyncio.run(run("evidence.import", {"bytes": 9}, session))
    assert not answer["ok"] and "control socket" in answer["error"]
