"""The paper that had no page (issue 31 item 9, design/0089): the answer to a citizen within 6
days with its due date on the site's calendar (001 第十七點), the usage register kept by the
custodian (001 第十八點、附件5), the receipt's amount where the site charges (002 第八點(三)) and
one managing unit's register pages alone (004 附件四). Rendered for the shipped Chinese example
sites and checked word by word. Through a real daemon: the answer and the usage register (a
custodian may print it, the clerk may not) from edgectl and the desk in Chromium are checked in
tests/test_desk_sites.py, on each site's own daemon; one unit's register through edgectl in
tests/test_register_units.py."""

from __future__ import annotations

import pytest

from edged.config import ConfigError, load_config
from edged.config.forms import parse_forms
from edged.documents import Doc
from edged.documents.register import register_html
from edged.documents.reply import NotPrintable, receipt_html, reply_html
from edged.documents.usage import usage_html
from edged.i18n import _, speaking
from edged.rules import deadlines, roles
from tests.support.forms import PRINTED, REQUEST, RUNS, TAIPEI, us
from tests.test_sites import SITES

DAY = 86_400_000_000
NEVER = ("規定0", "seed", "edged", "附件5；")   # no file number of ours, nothing internal on a citizen's paper


def site(name: str):
    return load_config(SITES / f"{name}.toml")


def doc_of(cfg) -> Doc:
    return Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms)


def names(cfg) -> dict[str, str]:
    return {c.id: c.name for c in cfg.cameras}


def render(fn, cfg, *args) -> str:
    with speaking("zh-TW"):
        return fn(doc_of(cfg), *args, PRINTED)


# the due date: 6 days on the site's calendar -----------------------------------------------------
def test_the_answer_is_due_at_the_end_of_the_sixth_day_on_the_sites_calendar():
    # filed at 23:30 on the 21st in Taipei (15:30 UTC): due through the 27th, Taipei's, whatever the host's zone
    filed = us("2026-11-21 23:30")
    assert deadlines.answer_due_us(filed, 6 * DAY, TAIPEI) == us("2026-11-28 00:00")
    assert deadlines.answer_due_us(us("2026-11-21 00:00"), 6 * DAY, TAIPEI) == us("2026-11-28 00:00")
    assert deadlines.answer_due_us(filed, 4 * 3_600_000_000, TAIPEI) == filed + 4 * 3_600_000_000  # hours: exact
    assert deadlines.answer_due_us(filed, 6 * DAY, None) == filed + 6 * DAY


# the answer to a citizen ---------------------------------------------------------------------------
def test_the_answer_to_a_citizen_prints_the_decision_the_due_date_and_the_sites_rule():
    cfg = site("001-land-office")
    req = {**REQUEST, "due_us": us("2026-11-28 00:00")}
    page = render(reply_html, cfg, req, names(cfg))
    for word in ("錄影監視系統影音資料調閱申請答復", "張大同", "民國115年11月27日", "☑ 同意", "☐ 不同意",
                 "事由具必要性及關聯性", "派員陪同", "不得複製、拍攝",
                 "臺北市建成地政事務所錄影監視系統管理暨影音資料處理利用規範 第十七點(一)(二)"):
        assert word in page, word
    assert not any(w in page for w in NEVER), [w for w in NEVER if w in page]

    refused = {**req, "state": "rejected", "grant": None, "steps": [
        {"step": 0, "name": "課長", "by": "chief", "at_us": us("2026-11-22 09:00"), "approve": False,
         "reason": "調閱時段無相關影像"}]}
    page = render(reply_html, cfg, refused, names(cfg))
    for word in ("☐ 同意", "☑ 不同意", "調閱時段無相關影像", "訴願", "30日", "民國115年11月22日"):
        assert word in page, word

    with pytest.raises(NotPrintable, match="115年11月27日"):
        render(reply_html, cfg, {**req, "state": "filed", "grant": None, "steps": []}, names(cfg))


# the receipt and its fee ---------------------------------------------------------------------------
def test_the_receipt_prints_an_amount_where_the_site_charges_and_none_where_it_does_not():
    police = site("002-police-station")
    assert police.forms.fees == {"citizen": 0}
    copy = {**REQUEST, "mode": "copy", "grant": {**REQUEST["grant"], "mode": "copy"}}
    page = render(receipt_html, police, copy, names(police))
    for word in ("影音資料複製簽收單", "費用", "新臺幣 ____________ 元", "簽收人（簽章）",
                 "臺北市政府警察局駐地安全監視錄影系統設置管理要點 第八點(二)(三)"):
        assert word in page, word
    # an officer's copy is not charged; nor is anything at the land office, which sets no fee
    assert "費用" not in render(receipt_html, police, {**copy, "kind": "internal"}, names(police))
    land = site("001-land-office")
    assert "費用" not in render(receipt_html, land, copy, names(land))
    # a fee in the schedule is printed as the amount
    charged = Doc("zh-TW", TAIPEI, "x", parse_forms({"fees": {"citizen": 1200}}, ["citizen"], ["other"],
                                                   builtin_categories=["other"]))
    with speaking("zh-TW"):
        assert "新臺幣 1,200 元" in receipt_html(charged, copy, {}, PRINTED)
    with pytest.raises(NotPrintable):
        render(receipt_html, police, REQUEST, names(police))  # a viewing has nothing to sign for
    with pytest.raises(ConfigError, match="forms.fees.citizen"):
        parse_forms({"fees": {"citizen": -1}}, ["citizen"], ["other"], builtin_categories=["other"])
    with pytest.raises(ConfigError, match="forms.fees"):
        parse_forms({"fees": {"police-urgent": 1}}, ["citizen"], ["other"], builtin_categories=["other"])


# the usage register ----------------------------------------------------------------------------------
USES = {"from_us": us("2026-11-01 00:00"), "to_us": us("2026-12-01 00:00"), "uses": [
    {"grant_id": 5, "request_id": 12, "mode": "view", "cameras": ["counter1"], "from_us": us("2026-11-21 14:00"),
     "to_us": us("2026-11-21 14:30"), "used_us": us("2026-11-22 09:30"), "custodian": "carol", "watcher": "張大同",
     "approver": "director", "kind": "citizen", "category": "lost-property", "reason": "在櫃檯遺失皮夾",
     "requester_name": "張大同", "requester_org": None, "filed_by": "clerk", "export_id": None}]}


def test_the_usage_register_prints_annex_5s_columns_and_is_the_custodians():
    cfg = site("001-land-office")
    page = render(usage_html, cfg, USES, {"counter1": "登記櫃檯"})
    head = page[page.index("<table>"):page.index("</tr>")]
    order = ["日期", "時間", "申請人", "案由", "應用情形", "簽章"]   # 附件5's columns, in its order
    assert [head.index(w) for w in order] == sorted(head.index(w) for w in order), head
    for word in ("地政事務所錄影監視系統影音應用記錄簿", "115/11/22", "09:30", "張大同", "財物遺失：在櫃檯遺失皮夾",
                 "登記櫃檯", "carol", "第十八點、附件5"):
        assert word in page, word
    assert roles.allowed(["custodian"], "usage.register") and roles.allowed(["auditor"], "usage.register")
    assert not roles.allowed(["viewer"], "usage.register") and not roles.allowed(["admin"], "usage.register")


# one unit's register pages ---------------------------------------------------------------------------
def test_one_units_register_pages_alone():
    cfg = site("004-vocational-school")
    runs = [{**RUNS[0], "records": [{**RUNS[0]["records"][0], "unit": "圖書館", "supervisor": "Lee",
                                     "countersigned_us": us("2026-11-04 08:00")},
                                    {**RUNS[0]["records"][1], "unit": "機械科", "supervisor": None,
                                     "countersigned_us": None}]}]
    reg = {"title": cfg.inspection.register_title, "countersign": "unit", "ask_repair": True}
    with speaking("zh-TW"):
        page = register_html(doc_of(cfg), 2026, 11, runs, ("host", "recording", "picture"), {"counter1": "圖書館大廳"},
                             PRINTED, None, reg, "圖書館")
        whole = register_html(doc_of(cfg), 2026, 11, runs, ("host", "recording", "picture"), {}, PRINTED, None, reg)
    with speaking("zh-TW"):
        review = _("Reviewed by the chief of {unit}")
    assert "圖書館大廳" in page and "Lee" in page and review.format(unit="圖書館") in page
    assert review.format(unit="機械科") in whole and review.format(unit="機械科") not in page
    assert "機械科" not in page and "已通報廠商" not in page, "only the library's rows and review box"
    assert f"{cfg.inspection.register_title}：圖書館" in page
    assert "機械科" in whole and "圖書館" in whole


# the desk's overdue mark -----------------------------------------------------------------------------
def test_an_undecided_request_past_its_due_date_is_marked_overdue_at_the_desk():
    from edged.viewer.desk.page import Ctx, Person
    from edged.viewer.desk.requests import due_text, state_badge

    req = {**REQUEST, "state": "filed", "steps": [], "grant": None, "decided_by": None, "decided_us": None,
           "due_us": us("2026-11-28 00:00")}

    def ctx(account: str, role: str, now: str) -> Ctx:
        return Ctx(caller=Person(account=account, roles=(role,)), lang="zh-TW", site="", tz=TAIPEI, now_us=us(now),
                   path="/desk/requests")
    with speaking("zh-TW"):
        assert "逾期" not in state_badge(req, ctx("carol", "custodian", "2026-11-27 23:59"))
        assert "115/11/27 23:59" in due_text(req, ctx("carol", "custodian", "2026-11-27 12:00"))
        late = state_badge(req, ctx("carol", "custodian", "2026-11-28 00:01"))
        assert "逾期" in late and "115/11/28 00:00" in late and "st-due" in late, late
        mine = state_badge(req, ctx("chief", "approver", "2026-11-28 00:01"))   # the first step is the chief's
        assert "待您簽核" in mine and "逾期" in mine, mine
