"""An approver's inbox holds what they must act on under their site's rules (issue 91 D6,
design/0391): edged's own account applications only where the site signs accounts to log in
(`[accounts] signed_to_log_in`, 001 十一), and there only an application that holds its account
back; cleared once signed, moot once revoked; counted apart from the requests on the home page.
The pure rule by a table, then the home page as the desk serves it, in-process: the real Desk,
its real `perform` and the real `account.waiting` over a catalog, at 000 and at 001."""

from __future__ import annotations

import asyncio
import re
import types
from pathlib import Path

import pytest

from edged import people
from edged.config import load_config
from edged.control.accounts import AccountOps
from edged.control.server import for_sessions
from edged.rules.applications import waiting_signatures
from edged.viewer.desk.app import Desk
from edged.viewer.desk.home import Pages
from edged.viewer.desk.page import Ctx, Person
from storage.catalog import open_db
from storage.people import accounts

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "examples" / "sites"
BOXES = ["申請單位", "秘書", "主任"]          # 001 附件2's boxes an approver signs
TITLES = {"主任": ["cheng"], "秘書": ["wu"]}


def ev(action: str, by: str, at: int, reason: str = "r") -> dict:
    return {"action": action, "by": by, "at_us": at, "reason": reason}


OPENED = ev("opened", "admin", 10)
ADMIN = {"name": "admin", "full_name": "管理員", "events": [ev("opened", "root (init-admin)", 1)]}
HELD = {"name": "kao", "full_name": "高課長", "events": [OPENED]}
SIGNED_BY_CHENG = {**HELD, "events": [OPENED, ev("signed:opened", "cheng", 11, "主任")]}
ALL_SIGNED = {**HELD, "events": [OPENED, ev("signed:opened", "cheng", 11, "主任"), ev("signed:opened", "wu", 12, "秘書"),
                                 ev("signed:opened", "lai", 13, "申請單位")]}
OWN_PASSWORD = {**ALL_SIGNED, "events": [*ALL_SIGNED["events"], ev("password", "kao (os: kao)", 20)]}
RESET = {**ALL_SIGNED, "events": [*ALL_SIGNED["events"], ev("password", "admin", 20)]}
REVOKED = {**HELD, "revoked_us": 30, "events": [OPENED, ev("revoked", "admin", 30)]}
OWN = {**HELD, "name": "cheng", "events": [OPENED]}

# (the account, the site signs accounts to log in, what waits for cheng: (action, boxes) or None)
CASES = [
    (HELD, True, ("opened", ["申請單位", "主任"])),   # held back: his title's box and the unit's, never 秘書
    (HELD, False, None),                  # 000, 002-004: no rule holds an account back on a form
    (SIGNED_BY_CHENG, True, None),        # cleared: he signed a box of it
    (ALL_SIGNED, True, None),             # cleared: every box signed, the account logs in
    (OWN_PASSWORD, True, None),           # the holder's own password change: nobody applied
    (RESET, True, None),                  # an admin's reset: signable on the account's page, holds nobody back
    (REVOKED, True, None),                # moot: the account is revoked
    (ADMIN, True, None),                  # moot: the first admin, opened by root, is never held back
    (OWN, True, None),                    # never one's own
]


@pytest.mark.parametrize("a, signed_to_log_in, want", CASES)
def test_an_application_waits_only_where_the_site_signs_accounts_to_log_in(a, signed_to_log_in, want):
    got = waiting_signatures([a], "cheng", BOXES, signed_to_log_in=signed_to_log_in, titles=TITLES)
    assert got == ([] if want is None else [{"name": a["name"], "full_name": a["full_name"], "action": want[0],
                                             "boxes": want[1]}])


def _site(tmp_path: Path, seed: str):
    text = (SITES / f"{seed}.toml").read_text(encoding="utf-8")
    data = tmp_path / seed
    data.mkdir()
    path = tmp_path / f"{seed}.toml"
    path.write_text(text.replace('data_dir = "/var/lib/edged"', f'data_dir = "{data}"', 1), encoding="utf-8")
    cfg = load_config(path)
    assert cfg.storage.data_dir == data
    return cfg


def _accounts(cfg) -> None:
    """The catalog a site has after a few weeks: the first admin, approvers and clerks opened by the
    admin, each clerk's own password change, an admin's reset."""
    db = open_db(cfg.storage.data_dir / "catalog.db")
    add = people.add_account
    add(db, "admin", "x" * 12, ["admin"], None, by="root (init-admin)", reason="first admin, created on the box by root",
        now_us=1, pw_hash="-")
    for i, (name, roles) in enumerate([("cheng", ["approver"]), ("wu", ["approver"]), ("kao", ["viewer"]),
                                       ("lin", ["viewer"]), ("chen", ["custodian"])]):
        add(db, name, "x" * 12, roles, None, by="admin", reason="附件2", now_us=10 + i, pw_hash="-", full_name=f"{name}姓名")
    for i, (name, by) in enumerate([("kao", "kao"), ("lin", "lin"), ("chen", "admin")]):
        accounts.change_password(db, name, "a-long-Passw0rd-x", by=by, reason="", now_us=100 + i,
                                 prepared=("-", "new", False))   # the hash is not what is tested
    db.conn.close()


REQUEST = {"id": 7, "state": "filed", "filed_by": "kao", "requester_account": None, "cameras": ["counter-1"],
           "chain": [{"name": "主任", "approvers": None}], "steps": [], "requester_name": "張大同", "from_us": 0,
           "to_us": 1, "mode": "view", "kind": "citizen"}


def _home(cfg, account: str, roles: tuple[str, ...]) -> str:
    """The home page as the desk serves it to `account`: the real Desk's `run` through the real
    `perform` (role checks) to the real `account.waiting`; the request list holds one filed request."""
    async def listed(args, _caller):
        return [REQUEST] if args.get("state") in (None, "filed") else []

    async def nothing(_args, _caller):
        return []

    async def no_runs(_args, _caller):
        return {"runs": []}

    handlers = {"account.waiting": AccountOps(cfg, writer=None).waiting,   # type: ignore[arg-type]
                "request.list": listed, "hold.list": nothing, "inspect.list": no_runs}
    desk = Desk(types.SimpleNamespace(cfg=cfg, operate=for_sessions(handlers)))
    ctx = Ctx(caller=Person(account=account, roles=roles, session={"account": account, "roles": list(roles),
                                                                     "cameras": None}),
              lang="zh-TW", site=cfg.site.name, tz=None, now_us=1_000, path="/desk/", csrf="tok")

    async def page() -> str:
        from edged.i18n import set_language
        set_language("zh-TW")
        response = await Pages(desk).home(None, ctx)   # type: ignore[arg-type]
        return response.text or ""
    return asyncio.run(page())


def _waiting(html: str) -> str:
    card = re.search(r'<section class="card"><h2>待您核章</h2>(.*?)</section>', html, re.S)
    assert card, html
    return re.sub(r"<[^>]+>", " ", card.group(1))


def test_the_home_page_counts_each_kind_apart_and_only_the_applications_the_site_asks(tmp_path):
    plain = _site(tmp_path, "000-household-registration-office")   # no [accounts] signed_to_log_in
    _accounts(plain)
    said = _waiting(_home(plain, "cheng", ("approver",)))
    assert "1 件申請案待您核章" in said and "帳號申請表" not in said, said
    land = _site(tmp_path, "001-land-office")    # signed_to_log_in: wu, kao, lin and chen wait for their boxes
    _accounts(land)
    said = _waiting(_home(land, "cheng", ("approver",)))
    assert "1 件申請案待您核章" in said and "4 份帳號申請表待您核章" in said, said
    assert not re.search(r"(?<![\d份件]) ?\b\d+ 件待您核章", said), "no bare count that mixes the kinds"
