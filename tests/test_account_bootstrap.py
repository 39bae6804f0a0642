"""Approvers held back until their own 附件2 is signed, and the bootstrap from the paper (issue 56
item 3, design/0260): at a site with `[accounts] signed_to_log_in` (001 十一), an approver's account
is not usable before its application is signed; while nobody who may sign a box can log in, the
account administrator records that box from the signed paper form (`edgectl account sign
--on-paper --signed-by`, or the account's page at the desk), on the audit chain with who recorded
it and when; once someone may sign it at the desk, the paper route refuses. A real daemon, edgectl
and the desk in Chromium, the holders' first logins from another OS account (issue 45)."""

from __future__ import annotations

import json

import pytest

from tests.support.browser import launch
from tests.support.catalog import audit_rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.forms import seed_table
from tests.support.people import People, first_password_for, password_for
from tests.support.ports import free_port

TITLES = '\n[policy.titles]\n"主任" = ["cheng"]\n"秘書" = ["wu"]\n'
HELD = "cannot log in yet"   # edgectl speaks the OS user's language (English here); the desk, zh-TW
BOXES = ["申請單位", "秘書", "主任"]   # 001 附件2's boxes an approver signs (管理單位 is the admin's, filled by edged)


@pytest.fixture
def site(tmp_path):
    port, data = free_port(), tmp_path / "data"
    cfg = write_config(tmp_path / "edged.toml", data,
                       [{"id": "cam1", "name": "登記櫃檯", "url": f"rtsp://127.0.0.1:{free_port()}/down"}],
                       tables={"viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"},
                               "accounts": {"signed_to_log_in": True}})
    text = cfg.read_text().replace('[site]\nid = "test"', '[site]\nid = "test"\nname = "測試地政事務所"\n'
                                   'language = "zh-TW"\ntimezone = "Asia/Taipei"', 1)
    cfg.write_text(text + TITLES + "\n" + seed_table("001-land-office", "[forms.account]"))
    d = Daemon(cfg, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        yield d, People(cfg, tmp_path), f"http://127.0.0.1:{port}"
    finally:
        d.stop()


def _open(p: People, name: str, full: str) -> None:
    p.login(p.admin)
    r = p.ctl("account", "add", name, "--role", "approver", "--full-name", full, "--reason", "附件2 已核准",
              "--password-stdin", input=first_password_for(name) + "\n")
    assert r.returncode == 0, r.stderr
    p.vouch(name)   # root on the box vouches for an approver's opening (issue 74, design/0322)


def _first_login(p: People, name: str) -> str:
    r = p.first_login(name, first_password_for(name))
    if r.returncode != 0:
        return r.stderr
    r = p.ctl("account", "passwd", "--password-stdin", input=f"{first_password_for(name)}\n{password_for(name)}\n")
    assert r.returncode == 0, r.stderr
    return ""


def test_approvers_wait_for_their_own_application_and_the_first_are_recorded_from_paper(site):
    d, p, base = site
    _open(p, "cheng", "鄭主任")
    refused = _first_login(p, "cheng")
    assert HELD in refused and all(b in refused for b in BOXES), "an approver is held back too"
    assert "cheng" not in refused, "the refusal names titles, not login names"
    p.login(p.admin)
    r = p.ctl("account", "sign", "cheng", "--box", "主任", "--on-paper", "--signed-by", "wu")
    assert r.returncode != 0 and "主任" in r.stderr, "a title's box only by that title's holder, on paper too"
    r = p.ctl("account", "sign", "cheng", "--box", "主任", "--on-paper")
    assert r.returncode != 0, "who signed the paper is said"
    # the signer as the paper shows them (issue 77): a name, a title one person holds, a login name
    for box, by in (("申請單位", "登記課課長 高"), ("秘書", "wu"), ("主任", "主任")):
        r = p.ctl("account", "sign", "cheng", "--box", box, "--on-paper", "--signed-by", by)
        assert r.returncode == 0, r.stderr
    r = p.ctl("account", "sign", "cheng", "--box", "主任", "--on-paper", "--signed-by", "cheng")
    assert r.returncode != 0 and "already" in r.stderr, "a box is recorded once"
    assert _first_login(p, "cheng") == "", "signed: the director logs in"
    paper = [r for r in audit_rows(d, "account.sign")]
    details = [json.loads(r["detail"]) for r in paper]
    assert [(x["box"], x["signed_by"], x["on_paper"]) for x in details] == [
        ("申請單位", "登記課課長 高", True), ("秘書", "wu", True), ("主任", "cheng", True)]
    assert all(r["actor"].startswith("admin") and r["at_us"] for r in paper), "who recorded it, and when"

    # the secretary: the director can log in, so his box is signed at the desk, never from paper
    _open(p, "wu", "吳秘書")
    p.login(p.admin)
    r = p.ctl("account", "sign", "wu", "--box", "主任", "--on-paper", "--signed-by", "cheng")
    assert r.returncode != 0 and "主任" in r.stderr, r.stderr
    assert HELD in _first_login(p, "wu")
    pw, browser = launch()
    try:
        admin = browser.new_context(locale="zh-TW").new_page()
        admin.goto(base + "/desk/login")
        admin.fill("input[name=name]", p.admin)
        admin.fill("input[name=password]", password_for(p.admin))
        admin.press("input[name=password]", "Enter")
        admin.wait_for_load_state()
        admin.goto(base + "/desk/accounts/wu")
        why = admin.locator(".notice-warn").inner_text()
        assert "尚不能登入" in why and all(b in why for b in BOXES), "the desk shows why"
        # an error state: the director's box from paper, while the director can sign it
        admin.select_option("#paper select[name=box]", "主任")
        admin.fill("#paper input[name=signed_by]", "cheng")
        admin.click("#paper button")
        assert "登入" in admin.locator(".notice-error").inner_text(), "refused: he signs it at the desk"
        admin.goto(base + "/desk/accounts/wu")
        admin.select_option("#paper select[name=box]", "秘書")   # another's name in a title's box
        admin.fill("#paper input[name=signed_by]", "鄭主任")
        admin.click("#paper button")
        said = admin.locator(".notice-error").inner_text()
        assert "吳秘書" in said and "wu" not in said, "the refusal names whose box it is, by name"
        admin.goto(base + "/desk/accounts/wu")
        director = browser.new_context(locale="zh-TW").new_page()
        director.goto(base + "/desk/login")
        director.fill("input[name=name]", "cheng")
        director.fill("input[name=password]", password_for("cheng"))
        director.press("input[name=password]", "Enter")
        director.wait_for_load_state()
        # the director finds the application waiting for him from his home page (issue 77 D1), not by URL
        director.goto(base + "/desk/")
        # one: the secretary's application, which holds her back; the first admin's (init-admin's) holds
        # nobody back and waits for nobody (issue 91 D6, design/0391), counted apart from any request
        waiting = director.locator("section.card", has_text="待您核章").inner_text()
        assert "1 份帳號申請表待您核章" in waiting and "件申請案" not in waiting, waiting
        director.goto(base + "/desk/inbox")
        waiting = director.locator("table", has_text="吳秘書")
        assert "開通" in waiting.inner_text() and "主任" in waiting.inner_text(), waiting.inner_text()
        waiting.locator("a", has_text="吳秘書").click()
        director.wait_for_url("**/desk/accounts/wu*")
        director.locator("form[action$='/sign'] button[value=主任]").click()
        director.wait_for_selector(".notice-ok")
        admin.goto(base + "/desk/accounts/wu")   # her own title's box, and the chief's: from paper
        for box, by in (("秘書", "吳秘書"), ("申請單位", "行政課課長 賴")):   # her name, as on the paper
            admin.select_option("#paper select[name=box]", box)
            admin.fill("#paper input[name=signed_by]", by)
            admin.click("#paper button")
            admin.wait_for_selector(".notice-ok")
        assert admin.locator(".notice-warn").count() == 0, "every box signed: nothing waits"
        history = admin.locator("table").last.inner_text()
        assert "以紙本簽核" in history or "紙本" in history, history
        form = admin.goto(base + "/desk/accounts/wu/form?action=opened")
        assert form.status == 200
        boxes = admin.locator("table.boxes").inner_text()
        assert "鄭主任" in boxes and "紙本" in boxes and "cheng" not in boxes, boxes
        # a third application: the director is offered his own title's box and the unit's, never the
        # secretary's (issue 56 item 3: a box named for a title is its holder's, at the desk too)
        _open(p, "kao", "高課長")
        director.goto(base + "/desk/accounts/kao")
        offered = director.locator("form[action$='/sign'] button").all_inner_texts()
        assert "簽核：主任" in offered and "簽核：申請單位" in offered and "簽核：秘書" not in offered, offered
    finally:
        browser.close()
        pw.stop()
    assert _first_login(p, "wu") == "", "signed: the secretary logs in"
    # the secretary, usable now, may not sign the director's box, with edgectl either; each box
    # signed by its title's holder prints that person
    r = p.as_("wu").ctl("account", "sign", "kao", "--box", "主任")
    assert r.returncode != 0 and "主任" in r.stderr and "kao" not in r.stderr, r.stderr
    assert p.ctl("account", "sign", "kao", "--box", "秘書").returncode == 0
    assert p.as_("cheng").ctl("account", "sign", "kao", "--box", "主任").returncode == 0
    out = d.data_dir.parent / "kao.html"
    assert p.as_(p.admin).ctl("account", "form", "kao", "--out", str(out)).returncode == 0
    printed = out.read_text()
    boxes = printed[printed.index('class="boxes"'):]
    assert "吳秘書" in boxes and "鄭主任" in boxes and "cheng" not in boxes and " wu " not in boxes, boxes
