"""The paper that had no page (issue 31 item 9 part A, design/0088): the account application with
its sign-offs (001 annex 2), the evidence-preservation request and its approval (000 §4(1)2, 004
annex 2 影像保存) and the maintenance record (002 §6(3), §15), each rendered for the seed sites'
shipped examples and printed by headless Chromium to PDF: the paper's fields in its order, its
signature boxes with who the daemon has on record and when, the site's own rule and clause in the
footer (never our file numbers), zh-TW words and ROC dates; a site that writes no page prints
edged's, in its language. Then the [forms.<page>] checks, pure. The same pages through edgectl
and the desk, on a real daemon: tests/test_desk.py and tests/test_maintenance_vendor.py."""

from __future__ import annotations

import json
import re

import pytest

from edged.config import ConfigError, load_config, parse_config
from edged.documents import Doc
from edged.documents.pages import account_html, hold_html, maintenance_html
from edged.i18n import speaking
from edged.rules.applications import sign_refusal
from tests.support.daemon import ROOT
from tests.support.forms import PRINTED, TAIPEI, us
from tests.support.browser import chromium  # noqa: F401 (the module's browser)

SITES = ROOT / "examples" / "sites"
NEVER = ("規定0", "rules 0", "annex", "表單：規定", "取代紙本", "edged")

ACCOUNT = {"name": "wang", "full_name": "王小明", "roles": ["custodian"], "cameras": ["counter-1"],
           "opened_us": us("2026-01-05 09:00"), "opened_by": "admin", "revoked_us": us("2026-11-20 17:00"),
           "events": [{"action": "opened", "at_us": us("2026-01-05 09:00"), "by": "admin", "reason": "人事令 115-001"},
                      {"action": "password", "at_us": us("2026-06-01 10:00"), "by": "wang", "reason": "定期更換"},
                      {"action": "revoked", "at_us": us("2026-11-20 17:00"), "by": "admin", "reason": "調職"}]}
HOLD = {"id": 3, "kind": "evidence", "cameras": ["counter-1", "lobby"], "from_us": us("2026-11-21 14:00"),
        "to_us": us("2026-11-21 14:30"), "reason": "民眾陳情，保全證據", "case_ref": "115-陳-001", "placed_by": "carol",
        "placed_us": us("2026-11-21 15:00"), "expires_us": us("2026-12-21 15:00"), "state": "active",
        "decided_by": "huang", "decided_us": us("2026-11-21 16:05"), "decision_reason": "同意保存",
        "ended_us": None, "ended_how": None, "segments": 12}
WINDOW = {"id": 2, "began_us": us("2026-11-20 10:00"), "began_by": "tech", "attended_by": "權限管理者王",
          "reason": "更換硬碟", "ended_us": us("2026-11-20 12:30"), "ended_by": "tech", "end_note": "硬碟已更換",
          "vendor": "某保全公司", "backup": "/srv/backup/catalog-2.db", "backup_sha256": "ab" * 32,
          "footage_copy": json.dumps({"dir": "/srv/backup/footage", "copied": 120, "bytes": 3_000_000_000,
                                      "already": 4, "missing": 0}),
          "protected_segments": 124, "protected_bytes": 3_100_000_000, "yielded_segments": 0,
          "password_changed_us": None, "password_changed_by": None}

# the paper's fields in order and its boxes (from the seeds, by hand): (site, page) -> (title, clause, fields, boxes)
PAPER = {
    ("001-land-office", "account"): (
        "臺北市建成地政事務所錄影監視系統權限使用者申請表", "第十一點、附件2",
        ["申請日期", "申請種類", "申請單位", "使用者姓名", "使用者帳號", "申請事由", "開通/變更密碼/註銷", "授權範圍",
         "畫面"],
        ["申請單位", "管理單位", "秘書", "主任"]),
    ("000-household-registration-office", "hold"): (
        "臺北市文山區戶政事務所錄影監視系統影像保存申請及核可", "第四點(一)2",
        ["申請日期", "調閱監視器主機", "調閱鏡頭位置", "調閱時段", "須保存影像檔案事由", "案號", "保存期限", "保存影像"],
        ["系統管理人", "主任或其授權人"]),
    ("004-vocational-school", "hold"): (
        "南港高工校園安全監視錄影系統調閱申請單（影像保存）", "第五點、附件二",
        ["申請日期", "申請人單位(職稱)", "姓名", "學號或身分證字號", "申請事由", "申請調閱時段", "申請調閱地點",
         "影像保存期限"],
        ["申請人簽名", "業管單位核章", "學務處(學安室)核章", "學務主任核示"]),
    ("002-police-station", "maintenance"): (
        "駐地安全監視錄影系統維護紀錄", "第六點(三)、第十五點",
        ["維護開始", "維護結束", "維護事由", "維護情形", "廠商", "影響資料儲存：既有錄影檔案備份", "系統資料備份",
         "維護期間保護之影像", "最高權限密碼變更"],
        ["維護人員", "權限管理者會同", "結束登記", "單位主管"]),
}


def site(name: str):
    return load_config(SITES / f"{name}.toml")


def render(cfg, what: str, lang: str = "zh-TW", **kw) -> str:
    doc = Doc(lang, TAIPEI, cfg.site.name, cfg.forms)
    names = {c.id: c.name for c in cfg.cameras}
    with speaking(lang):
        if what == "account":
            return account_html(doc, ACCOUNT, kw.get("action", "opened"), names, PRINTED)
        if what == "hold":
            return hold_html(doc, {**HOLD, **kw}, names, PRINTED)
        return maintenance_html(doc, {**WINDOW, **kw}, PRINTED)




def printed(chromium, html: str) -> tuple[str, list[str], list[str], list[str]]:
    """The page as Chromium prints it: its text, the fields in order, the boxes' headings and
    what each box holds."""
    page = chromium.new_page()
    try:
        page.set_content(html)
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and b"NotoSansCJK" in pdf
        fields = [f.strip() for f in page.locator("table.annex th").all_inner_texts()]
        heads = [b.strip() for b in page.locator("table.boxes th").all_inner_texts()]
        boxes = [b.strip() for b in page.locator("table.boxes td").all_inner_texts()]
        return page.inner_text("body"), fields, heads, boxes
    finally:
        page.close()


def ticks(text: str) -> list[str]:
    """Boxes as printed: "☑開通", "☐變更密碼", ... (Chromium puts no space between inline boxes)."""
    return ["".join(m) for m in re.findall(r"([☑☐])\s*([^☑☐]+?)\s*(?=[☑☐]|$)", text)]


def field(text: str, label: str) -> str:
    """The value printed after a field's label (its row of the annex table)."""
    line = next(x for x in text.splitlines() if x.startswith(label + "\t"))
    return line.split("\t", 1)[1]


@pytest.mark.parametrize("name, what", sorted(PAPER))
def test_each_seed_page_prints_the_papers_fields_boxes_and_the_sites_clause(chromium, name, what):
    cfg = site(name)
    title, clause, want_fields, want_boxes = PAPER[(name, what)]
    text, fields, heads, boxes = printed(chromium, render(cfg, what))
    assert text.splitlines()[0].strip() == title
    assert fields == want_fields and heads == want_boxes
    footer = text[text.rindex("表單："):]
    assert f"{cfg.forms.rule} {clause}" in footer, footer
    for word in NEVER:
        assert word not in text, word
    if what == "account":
        assert ticks(field(text, "申請種類")) == ["☑開通", "☐變更密碼", "☐註銷"]
        assert field(text, "使用者姓名") == "王小明" and field(text, "使用者帳號") == "wang"
        assert field(text, "申請事由") == "人事令 115-001" and field(text, "開通/變更密碼/註銷") == "民國115年1月5日"
        assert field(text, "授權範圍") == "系統管理人" and field(text, "申請日期") == ""   # not kept: by hand
        names = {c.id: c.name for c in cfg.cameras}
        assert ticks(field(text, "畫面")) == ["☐全畫面", f"☑個別畫面（{names.get('counter-1', 'counter-1')}）"]
        assert field(text, "申請單位").startswith("臺北市建成地政事務所")
        assert boxes[0].split() == ["申請人：", "主管："] and boxes[1].split() == ["管理人：", "主管：", "admin",
                                                                               "115/01/05", "09:00"]
        assert boxes[2] == boxes[3] == ""   # 秘書, 主任: signed on the paper
    elif what == "hold":
        assert field(text, "申請日期") == "民國115年11月21日"
        assert "115/11/21 14:00 ～ 115/11/21 14:30" in text and "民眾陳情，保全證據" in text
        approver = boxes[-1]
        assert approver == "huang 115/11/21 16:05 核准"
        assert "carol 115/11/21 15:00" in boxes[0 if name.startswith("000") else 2]
        until = "保存期限" if name.startswith("000") else "影像保存期限"
        assert field(text, until) == "115/12/21 15:00"   # when the hold lapses
        if name.startswith("004"):
            assert boxes[2].split()[:4] == ["☐", "影像調閱", "☑", "影像保存"] and boxes[0] == boxes[1] == ""
            assert "carol 115/11/21 15:00" in boxes[2]
            assert field(text, "姓名") == "" and field(text, "學號或身分證字號") == ""
        else:
            names = {c.id: c.name for c in cfg.cameras}
            assert field(text, "調閱鏡頭位置") == f"{names['counter-1']}、{names['lobby']}"
            assert field(text, "案號") == "115-陳-001"
    else:
        assert field(text, "廠商") == "某保全公司" and field(text, "維護情形") == "硬碟已更換"
        assert field(text, "影響資料儲存：既有錄影檔案備份").startswith("是：120 個檔案")
        assert "/srv/backup/footage" in text
        assert field(text, "最高權限密碼變更") == "尚未變更：變更前警示持續"
        assert boxes[:3] == ["tech 115/11/20 10:00", "權限管理者王", "tech 115/11/20 12:30"] and boxes[3] == ""


def test_the_account_page_ticks_the_application_the_event_was(chromium):
    cfg = site("001-land-office")
    text = printed(chromium, render(cfg, "account", action="revoked"))[0]
    assert ticks(field(text, "申請種類")) == ["☐開通", "☐變更密碼", "☑註銷"]
    assert field(text, "申請事由") == "調職" and field(text, "開通/變更密碼/註銷") == "民國115年11月20日"
    text = printed(chromium, render(cfg, "account", action="password"))[0]
    assert ticks(field(text, "申請種類")) == ["☐開通", "☑變更密碼", "☐註銷"]


def test_a_site_without_its_own_page_prints_edgeds_in_its_language(chromium):
    cfg = site("003-township-office")
    text, fields, heads, boxes = printed(chromium, render(cfg, "maintenance", vendor=None, footage_copy=None))
    assert text.splitlines()[0].strip() == "錄影監視系統維護紀錄"
    assert fields[:4] == ["開始", "結束", "維護事由", "維護情形"] and heads == ["維護人員", "會同人員", "結束登記",
                                                                                "主管核閱"]
    assert field(text, "影響資料儲存：既有錄影檔案備份") == "否：影像於原處保護，未另備份"
    assert field(text, "最高權限密碼變更") == "不適用：無廠商到場"
    assert "大湖鄉公所內部監視系統管理作業要點" in text[text.rindex("表單："):]
    # 001 writes only its clause for the hold: edged's fields under the site's clause
    cfg = site("001-land-office")
    text, fields, heads, boxes = printed(chromium, render(cfg, "hold", state="pending", decided_by=None,
                                                          decided_us=None, expires_us=None,
                                                          wanted_expires_us=us("2026-12-21 15:00")))
    assert text.splitlines()[0].strip() == "影像保存申請及核可"
    assert heads == ["申請保存人", "核准人"] and boxes[1] == ""   # waits for an approver: blank
    assert field(text, "保存期限") == "115/12/21 15:00"
    assert f"{cfg.forms.rule} 第十二點" in text[text.rindex("表單："):]
    # English, with no [forms] at all
    bare = parse_config({"site": {"id": "s"}, "storage": {"data_dir": "/tmp/x"},
                         "cameras": [{"id": "counter-1", "url": "synthetic:"}]}, base_dir=ROOT)
    page = render(bare, "account", lang="en")
    assert "Application for a user account" in page and "☑ open the account" in page
    assert "Form: the account application" in page and "rules 0" not in page


BASE = {"site": {"id": "s"}, "storage": {"data_dir": "/tmp/x"}, "cameras": [{"id": "a", "url": "synthetic:"}]}


@pytest.mark.parametrize("page, field_, words", [
    ({"account": {"fields": [{"label": "x", "value": "filed"}]}}, "forms.account.fields[0].value",
     "not something the daemon keeps for this page"),
    ({"hold": {"boxes": [{"label": "主任", "steps": ["主任"]}]}}, "forms.hold.boxes[0].steps", "unknown key"),
    ({"maintenance": {"boxes": [{"label": "x", "value": "approver"}]}}, "forms.maintenance.boxes[0].value",
     "not someone the daemon keeps"),
    ({"hold": {"title": 3}}, "forms.hold.title", "expected"),
    ({"hold": {"fields": {"label": "x"}}}, "forms.hold.fields", "expected an array"),
    ({"receipt": {}}, "forms.receipt", "unknown key"),
])
def test_bad_pages_are_refused_naming_the_field(page, field_, words):
    with pytest.raises(ConfigError) as err:
        parse_config({**BASE, "forms": page}, base_dir=ROOT)
    assert err.value.field == field_ and words in err.value.message, str(err.value)


def test_the_daemon_hands_edgectl_its_pages():
    from edged.config.forms import forms_from_json

    cfg = site("001-land-office")
    again = forms_from_json(cfg.forms.to_json())
    assert again.page("account") == cfg.forms.page("account") and again.page("account").boxes[1].value == "by"
    assert again.page("maintenance").title == ""   # not written: edged's own


SIGNED = {**ACCOUNT, "events": [
    *ACCOUNT["events"][:1],
    {"action": "signed:opened", "at_us": us("2026-01-06 10:00"), "by": "lin", "reason": "秘書"},
    *ACCOUNT["events"][1:],
    {"action": "signed:revoked", "at_us": us("2026-11-21 09:30"), "by": "huang (os: root)", "reason": "主任"}]}


def boxes_of(html: str) -> list[str]:
    """What each signature box holds, its lines and tags stripped (the page as HTML, no browser)."""
    row = re.search(r'<table class="boxes">.*?</tr><tr>(.*?)</tr></table>', html).group(1)
    return [re.sub(r"<[^>]+>", " ", td).split() for td in re.findall(r"<td>(.*?)</td>", row)]


def test_a_signed_box_prints_the_signer_and_time_and_the_others_stay_blank():
    """account.sign (design/0088): each signed box of 001's application holds who signed and
    when; a box signed on another application (the opening's 秘書) stays off the revocation's."""
    cfg = site("001-land-office")
    doc = Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms)
    with speaking("zh-TW"):
        opened = boxes_of(account_html(doc, SIGNED, "opened", {}, PRINTED))
        revoked = account_html(doc, SIGNED, "revoked", {}, PRINTED)
    assert opened[2] == ["lin", "115/01/06", "10:00"] and opened[3] == []      # 秘書 signed, 主任 blank
    assert opened[1][-3:] == ["admin", "115/01/05", "09:00"]                   # 管理單位: who carried it out
    assert boxes_of(revoked)[2] == [] and boxes_of(revoked)[3] == ["huang", "(os:", "root)", "115/11/21", "09:30"]


def test_who_may_sign_which_box():
    """The refusals of account.sign, pure (edged/rules/applications.py sign_refusal): the boxes that name no
    daemon value, once each, never by the holder nor the admin who carried the change out, and
    one box per person."""
    boxes = ["申請單位", "秘書", "主任"]
    assert sign_refusal(SIGNED, "opened", "主任", "huang", boxes) is None
    assert "管理單位" in sign_refusal(SIGNED, "opened", "管理單位", "huang", boxes)   # names a value: not a box to sign
    assert "already signed" in sign_refusal(SIGNED, "opened", "秘書", "huang", boxes)   # by lin
    assert "own account" in sign_refusal(SIGNED, "opened", "主任", "wang", boxes)      # the holder
    assert "carried out" in sign_refusal(SIGNED, "opened", "主任", "admin", boxes)     # carried it out
    assert "already signed this" in sign_refusal(SIGNED, "opened", "主任", "lin", boxes)   # signed 秘書 already
    assert sign_refusal(SIGNED, "revoked", "秘書", "lin", boxes) is None             # another application
    assert sign_refusal(SIGNED, "revoked", "秘書", "huang", boxes) is not None      # huang (os: root) signed 主任
    # a box named for a title is its holder's only (001 附件2; issue 56), and no refusal names a login
    titles = {"主任": ["huang"], "秘書": ["lin"]}
    assert sign_refusal(SIGNED, "opened", "主任", "huang", boxes, titles) is None
    assert "主任 only" in sign_refusal(SIGNED, "opened", "主任", "chou", boxes, titles)
    assert sign_refusal(SIGNED, "revoked", "申請單位", "chou", boxes, titles) is None   # no title: any approver
    for signer in ("wang", "admin", "lin", "chou"):
        said = sign_refusal(SIGNED, "opened", "主任", signer, boxes, titles) or ""
        assert not any(n in said for n in ("wang", "admin", "lin", "chou", "huang")), said
    assert "no such change" in sign_refusal({**SIGNED, "events": SIGNED["events"][:2]}, "password", "秘書", "huang", boxes)
