"""The printable documents (edged/documents/) in zh-TW, rendered by headless Chromium with the
CJK font of Debian's fonts-noto-cjk: every Chinese character is drawn by that font (Chromium's
own account of the fonts it used, CSS.getPlatformFontsForNode), the printed PDF embeds it, and
the dates are in the ROC calendar. The same documents in English, and each names its annex."""

from __future__ import annotations

import re

import pytest

from edged.config.forms import parse_forms
from edged.documents import Doc
from edged.documents.audit import audit_report_html
from edged.documents.notice import inventory_html, notice_html
from edged.documents.register import register_html
from edged.documents.retrieval import application_html
from edged.i18n import speaking
from tests.support.documents_check import CJK, cjk_without_font
from tests.support.forms import AUDIT, CAMERAS, LIST_CHANGED, PRINTED, REQUEST, RUNS, SITE_NAME, TAIPEI
from tests.support.browser import chromium  # noqa: F401 (the module's browser)

ITEMS = ("picture", "audio", "recording", "login", "clock", "quality")
NAMES = {c["id"]: c["name"] for c in CAMERAS}


# the site's own rule and clauses ([forms], design/0081): footers cite these, never our seed numbers
FORMS = parse_forms({"rule": "錄影監視系統管理規定", "cite": {"notice": "第七點", "register": "附件1", "audit": "第十八點",
                                                          "application": "第四點", "inventory": "第八點"}},
                    ("internal", "citizen", "agency", "police-urgent", "quick-look"), ())


def documents(lang: str) -> dict[str, str]:
    doc = Doc(lang, TAIPEI, SITE_NAME, FORMS)
    with speaking(lang):
        return {"notice": notice_html(doc, CAMERAS, LIST_CHANGED, PRINTED),
                "inventory": inventory_html(doc, CAMERAS, LIST_CHANGED, PRINTED),
                "register": register_html(doc, 2026, 11, RUNS, ITEMS, NAMES, PRINTED),
                "application": application_html(doc, REQUEST, NAMES, PRINTED),
                "audit": audit_report_html(doc, AUDIT, PRINTED)}




@pytest.mark.parametrize("name", ["notice", "inventory", "register", "application", "audit"])
def test_zh_tw_documents_render_with_the_cjk_font(chromium, name):
    html = documents("zh-TW")[name]
    page = chromium.new_page()
    try:
        page.set_content(html)
        text = page.inner_text("body")
        assert CJK.search(text)
        missing = cjk_without_font(page)
        assert not missing, f"Chinese text drawn without the CJK font (tofu): {missing}"
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and b"NotoSansCJK" in pdf, "the printed page does not embed the CJK font"
    finally:
        page.close()
    if name == "notice":  # a poster for the public: the rule it is posted under, nothing of edged's
        assert "依錄影監視系統管理規定 第七點公告。" in text and "公告日期：民國115年11月22日。" in text
        assert "取代紙本" not in text and "edged" not in text
    else:
        assert "表單：" in text and "列印時間：115/11/22 10:00" in text and "（錄影監視系統管理規定 " in text
        assert "取代紙本" not in text and "edged" not in text   # the office's paper: no product name (issue 42)
    assert not re.search(r"\b2026\b", text), "a Gregorian year in a zh-TW document"


def test_zh_tw_documents_hold_the_annex_fields_and_roc_dates():
    docs = documents("zh-TW")
    notice = docs["notice"]
    for word in ("錄影監視告示", "景美辦事處", "共 2 具攝影機", "一樓大廳", "櫃檯1", "全天24小時",
                 "至少保存 30 日，365 日內銷毀", "至少保存 90 日", "攝影機清單最近異動日期：民國115年11月20日。",
                 "依錄影監視系統管理規定 第七點公告"):
        assert word in notice, word
    inventory = docs["inventory"]
    for word in ("機房處所", "一樓機房", "財產編號", "3140101-03-000123", "類比式攝影機", "錄影期間"):
        assert word in inventory, word
    register = docs["register"]
    for word in ("錄影監視系統檢查紀錄表", "民國115年11月", "115/11/03", "09:12", "櫃檯1", "畫面清晰", "異常",
                 "已通報廠商清潔鏡頭", "林技士 115/11/03 09:40", "陳課長 115/11/04 08:30", "主管核章",
                 "錄影監視系統管理規定 附件1"):
        assert word in register, word
    assert "陳送主管核閱" not in register, "no deadline where the site sets none (register_due_day = 0, issue 91 W11)"
    audit = docs["audit"]
    for word in ("錄影監視系統稽核報告", "期間：民國115年5月1日至民國115年11月1日。", "稽核紀錄鏈：812 筆，完整。",
                 "王小明", "115/06/01 10:00", "已核准並已調閱", "115/11/22 09:30", "117.7 MB",
                 "60 段，117.7 MB，共 4 次保存期限作業。", "mallory", "稽核人", "錄影監視系統管理規定 第十八點"):
        assert word in audit, word
    application = docs["application"]
    for word in ("錄影監視系統調閱影音資料申請表", "申請日期", "民國115年11月21日", "張大同", "A******789",
                 "☑ 民眾", "☑ 財物遺失", "在櫃檯遺失皮夾", "櫃檯1",
                 "115/11/21 14:00 ～ 115/11/21 14:30", "☑ 閱覽", "☐ 複製", "課長", "chief",
                 "115/11/21 15:40", "主任", "事由具必要性及關聯性", "已核准並已調閱", "限用一次，有效至",
                 "115/11/22 09:30", "custodian", "錄影監視系統管理規定 第四點"):
        assert word in application, word


def test_english_documents_and_escaping():
    docs = documents("en")
    assert "Camera list last changed on 20 November 2026." in docs["notice"]
    assert "at least 30 days, destroyed within 365 days" in docs["notice"]
    assert "November 2026" in docs["register"] and "2026-11-03" in docs["register"]
    assert "☑ citizen" in docs["application"] and "(錄影監視系統管理規定 第四點)" in docs["application"]
    assert not any(re.search(r"rules 0|規定0|annexe?s? [0-9]", d) for d in docs.values())
    doc = Doc("en", TAIPEI, "<b>site</b>")
    with speaking("en"):
        page = notice_html(doc, [{**CAMERAS[0], "name": "<script>x</script>"}], None, PRINTED)
    assert "<script>x" not in page and "&lt;script&gt;" in page and "&lt;b&gt;site" in page
    assert "Camera list last changed on not recorded." in page
