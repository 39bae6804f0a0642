"""Every event of an account's history and every audit action reads in zh-TW, on paper and on the
desk, and the box's superuser is never printed by its login name (issue 91 W17, design/0392): an
approver's printed 附件2 carried 「vouched root 已核對申請表」 at all five seed sites. The events the
code writes are read from storage/people/accounts.py (`_event(db, name, ACTION, ...)`), so a new
event without words fails here; then the printed application, the audit report's line and the
desk's account page are rendered in zh-TW for an account holding every one of them."""

from __future__ import annotations

import ast
import asyncio
import re
import types
from pathlib import Path

import pytest

from edged.config import load_config
from edged.documents import Doc
from edged.documents.audit import _event as report_line
from edged.documents.pages import account_html
from edged.i18n import speaking
from edged.rules import audit_words as said
from edged.rules.persons import names_of
from edged.rules.words import ACCOUNT_EVENT_WORDS, APPLICATION_WORDS, event_words
from edged.viewer.desk.accounts import Pages
from edged.viewer.desk.page import Ctx, Person
from storage.people.signatures import SIGNED

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "examples" / "sites" / "001-land-office.toml"
ASCII_WORD = re.compile(r"[A-Za-z]{2,}")


def written_events() -> set[str]:
    """The actions storage/people/accounts.py writes in an account's history: literals, both
    branches of a conditional, and `SIGNED + action` as each kind of application's sign-off."""
    tree = ast.parse((ROOT / "storage" / "people" / "accounts.py").read_text(encoding="utf-8"))
    found: set[str] = set()

    def values(e: ast.AST) -> set[str]:
        if isinstance(e, ast.Constant) and isinstance(e.value, str):
            return {e.value}
        if isinstance(e, ast.IfExp):
            return values(e.body) | values(e.orelse)
        if isinstance(e, ast.BinOp) and isinstance(e.left, ast.Name) and e.left.id == "SIGNED":
            return {SIGNED + kind for kind in APPLICATION_WORDS}
        return {f"<unread: {ast.unparse(e)}>"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_event" and len(node.args) > 2:
            found |= values(node.args[2])
    return found


EVENTS = sorted(written_events())


def test_the_reader_finds_every_kind_of_event():
    assert {"opened", "password", "revoked", "vouched", "live.granted", "signed:opened"} <= set(EVENTS), EVENTS
    assert not [e for e in EVENTS if e.startswith("<unread")], EVENTS


@pytest.mark.parametrize("action", EVENTS)
def test_every_account_event_has_words_in_zh_tw(action):
    assert action in ACCOUNT_EVENT_WORDS or action.removeprefix(SIGNED) in APPLICATION_WORDS, (
        f"{action!r}: no words in edged/rules/words.py ACCOUNT_EVENT_WORDS")
    with speaking("zh-TW"):
        words = event_words(action)
    assert not ASCII_WORD.search(words), f"{action!r} reads {words!r} in zh-TW"


def test_every_audit_action_reads_in_zh_tw_without_a_latin_word():
    with speaking("zh-TW"):
        english = {a: said.action_words(a) for a in said.WORDS if ASCII_WORD.search(said.action_words(a))}
    # the product's and the protocol's own names are kept as the glossary writes them
    kept = {a: w for a, w in english.items() if not re.fullmatch(r"[^A-Za-z]*(?:(?:MQTT|edged|edgectl)[^A-Za-z]*)*", w)}
    assert not kept, kept


def _history(who_vouched: str) -> dict:
    at = iter(range(1_780_000_000_000_000, 1_790_000_000_000_000, 60_000_000))
    events = [{"action": a, "by": who_vouched if a == "vouched" else "os:root (uid 0)" if a == "live.granted"
               else "admin", "at_us": next(at), "reason": "主任" if a.startswith(SIGNED) else "已核對申請表"}
              for a in EVENTS]
    return {"name": "wu", "full_name": "吳秘書", "roles": ["approver"], "cameras": None, "events": events,
            "opened_by": "admin", "opened_us": 1_780_000_000_000_000, "revoked_us": None, "live": False,
            "pw_changed_us": None}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<(style|script)\b.*?</\1>|<[^>]+>", " ", html, flags=re.S))


@pytest.mark.parametrize("who_vouched", ["root", "root (init-admin)", "os:root (uid 0)"])
def test_the_printed_application_and_the_report_say_every_event_and_no_login_of_the_box(who_vouched):
    cfg = load_config(SITE)
    names = names_of([{"name": "admin", "full_name": "賴課長"}, {"name": "wu", "full_name": "吳秘書"}],
                     cfg.policy.titles, cfg.policy.units)
    doc = Doc("zh-TW", None, cfg.site.name, cfg.forms, names)
    a = _history(who_vouched)
    with speaking("zh-TW"):
        for action in ("opened", "password", "revoked"):
            text = _text(account_html(doc, a, action, {}, 1_790_000_000_000_000))
            record = text[text.index("帳號紀錄"):]
            assert "root" not in text and "vouched" not in text, record
            assert "主機最高權限使用者" in record and "開通經他人確認" in record, record
        lines = [report_line(doc, e) for e in a["events"]]
    assert not [x for x in lines if ASCII_WORD.search(x)], lines


def test_the_desks_account_page_says_every_event_and_no_login_of_the_box():
    cfg = load_config(SITE)
    a = _history("root")

    class Desk:
        def __init__(self) -> None:
            self.cfg = cfg

        async def run(self, _ctx, op, _args):
            assert op == "account.show"
            return a

        def camera_names(self):
            return {}

        def render(self, _ctx, title, body, status=200):
            return types.SimpleNamespace(text=title + body)

    ctx = Ctx(caller=Person(account="admin", roles=("admin",)), lang="zh-TW", site=cfg.site.name, tz=None,
              now_us=1_790_000_000_000_000, path="/desk/accounts/wu", csrf="tok")
    request = types.SimpleNamespace(match_info={"name": "wu"}, query={})
    with speaking("zh-TW"):
        page = asyncio.run(Pages(Desk()).show(request, ctx)).text   # type: ignore[arg-type]
    history = _text(page[page.index("<h2>歷程"):])
    assert "root" not in history and "主機最高權限使用者" in history, history
    assert not [w for w in ASCII_WORD.findall(history) if w in {"vouched", "opened", "password", "signed", "live"}], history
