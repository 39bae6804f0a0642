"""The office's paper in the office's words (issue 42 item 7, design/0103): pure renders of the
seed sites' printed forms, read as text. No product name on the office's paper; 003's report to
the ethics office in the site's words (no category id); 004's 附件二 ticks □影像調閱 on a viewing;
001's 附件5 signs in two columns (管理人員, 主管); 附件1's time is a range (時分至時分)."""

from __future__ import annotations

import re

from edged.documents import Doc
from edged.documents.ethics import ethics_html
from edged.documents.register import register_html
from edged.documents.usage import usage_html
from edged.i18n import speaking
from tests.support.forms import CAMERAS, LIST_CHANGED, PRINTED, REQUEST, RUNS, TAIPEI
from tests.test_site_forms import rendered, request_for, site


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<(style|script)\b.*?</\1>|<[^>]+>", " ", page, flags=re.S))


def test_no_product_name_and_no_paper_replaced_on_a_form():
    text = text_of(rendered(site("000-household-registration-office"), "citizen"))
    assert "edged" not in text and "取代紙本" not in text, text
    assert "表單：" in text and "列印時間：" in text


def test_the_ethics_report_says_the_reason_in_the_sites_words():
    cfg = site("003-township-office")
    req = {**request_for(cfg, "agency"), "category": "security-incident", "flag": "major", "flag_note": "危安"}
    with speaking("zh-TW"):
        text = text_of(ethics_html(Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms), req, {}, PRINTED))
    assert "調查機關危安事件" in text and "security-incident" not in text, text
    assert "司法、警察或其他公務機關" in text   # [forms.kinds], not edged's "public agency"


def test_a_viewing_ticks_the_viewing_box_of_004s_annex_2():
    text = text_of(rendered(site("004-vocational-school"), "internal"))
    assert "☑ 影像調閱" in text and "☐ 影像保存" in text, text


def test_the_usage_register_signs_in_two_columns():
    cfg = site("001-land-office")
    use = {"used_us": REQUEST["grant"]["used_us"], "requester_name": "張大同", "requester_org": None,
           "filed_by": "clerk", "category": "lost-property", "reason": "遺失皮夾", "cameras": ["counter1"],
           "from_us": REQUEST["from_us"], "to_us": REQUEST["to_us"], "mode": "view", "watcher": "張大同",
           "custodian": "carol", "request_id": 12, "grant_id": 5, "export_id": None}
    with speaking("zh-TW"):
        page = usage_html(Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms),
                          {"from_us": REQUEST["from_us"] - 86_400_000_000, "to_us": PRINTED, "uses": [use]}, {},
                          PRINTED)
    assert re.search(r'<th colspan="2">簽章</th></tr><tr><th>管理人員</th><th>主管</th>', page), page
    assert page.count("<td></td><td></td></tr>") == 1   # both left to sign by hand


def test_the_inspection_time_is_a_range():
    cfg = site("001-land-office")
    with speaking("zh-TW"):
        page = register_html(Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms), 2026, 11, RUNS,
                             ("picture", "audio"), {}, PRINTED)
    assert "09:12 至 09:40" in text_of(page), text_of(page)


def test_the_notice_says_the_retention_in_the_rules_own_unit():
    """001 第十二點: 3個月 and 1年內, not the 93 and 372 days edged keeps them as; a camera with its
    own retention still says its days."""
    from edged.documents.notice import inventory_rows, notice_html
    cfg = site("001-land-office")
    doc = Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms)
    rows = [{**CAMERAS[0], "min_days": 93, "max_days": 372, "site_retention": True},
            {**CAMERAS[1], "min_days": 30, "max_days": 60, "site_retention": False}]
    with speaking("zh-TW"):
        text = text_of(notice_html(doc, rows, LIST_CHANGED, PRINTED))
        inventory = inventory_rows(rows, doc)
    assert "至少保存3個月，至遲於1年內銷毀" in text and "372" not in text and "93 日" not in text, text
    assert "60" in text   # the other camera's own retention, in days
    assert inventory[0][8] == "至少保存3個月，至遲於1年內銷毀" and inventory[1][8] == "30-60 日"


def test_000s_register_prints_the_columns_of_its_annex_only():
    """000 附件1 檢查表: 年月日, 有無異常, 姓名, 處理情形, 主管核章, one row per check; no item or
    camera column it does not have (issue 56). The register's columns are the site file's."""
    cfg = site("000-household-registration-office")
    reg = {"title": cfg.inspection.register_title, "columns": [list(c) for c in cfg.inspection.register_columns]}
    with speaking("zh-TW"):
        page = register_html(Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms), 2026, 11, RUNS,
                             cfg.inspection.columns, {"counter1": "1至4號櫃檯"}, PRINTED, None, reg)
    heads = re.findall(r"<th>([^<]*)</th>", page)
    assert heads[:5] == ["年月日", "有無異常", "姓名", "處理情形", "主管核章"], heads
    assert page.count("<tr><td") == len(RUNS), "one row per check, not per camera"
    assert "畫面" not in heads and "攝影機" not in heads and "監視器" not in heads, heads


def test_002s_poster_says_its_rules_month():
    """002 設置管理要點第五點: 「至少儲存一個月」, not 「至少保存 31 日」 (issue 56)."""
    from edged.documents.notice import notice_html
    cfg = site("002-police-station")
    rows = [{**CAMERAS[0], "min_days": 31, "max_days": 365, "site_retention": True}]
    with speaking("zh-TW"):
        text = text_of(notice_html(Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms), rows, LIST_CHANGED, PRINTED))
    assert "一個月" in text and "31 日" not in text and "365" not in text, text


# the annex's own columns, as the seeds print them (issue 56, design/0261); the lists are the
# annexes', written here, so a column dropped from or reordered in the site file fails
ANNEX_1_OF_001 = ["檢查日期", "檢查時間", "檢查項目", "檢查結果", "相關註記"]
ANNEX_4_OF_004 = ["檢查日期(年月日)", "監視主機是否正常運作", "錄影監材是否正常運轉", "視訊畫面是否清晰", "檢查人簽章",
                  "帳管單位主管簽章", "備考(主機地點、機號)損壞情形(鏡頭位置)、是否申請修復"]


def annex_page(name: str, runs: list, unit: str | None = None, units: dict | None = None) -> str:
    from edged.control.inspections import register_of
    cfg = site(name)
    reg = {**register_of(cfg), **({"units": units} if units else {})}
    with speaking("zh-TW"):
        return register_html(Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms), 2026, 11, runs, cfg.inspection.columns,
                             {"counter1": "登記櫃檯", "door": "大門"}, PRINTED, None, reg, unit)


def table_rows(page: str) -> list[list[str]]:
    return [[text_of(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", page)]


def test_001s_register_is_annex_1_one_row_per_item_under_one_date_and_time():
    """001 附件1 檢查紀錄表: 檢查日期, 檢查時間, 檢查項目, 檢查結果, 相關註記; each inspection a block
    of its three items (聲音, 畫面, 權限登入) with the date and time written once across them."""
    page = annex_page("001-land-office", RUNS)
    rows = table_rows(page)
    assert rows[0] == ANNEX_1_OF_001, rows[0]
    assert rows[1:] == [["115/11/03", "09:12 至 09:40", "聲音", "正常", "-"],
                        ["畫面", "異常", "大門：已通報廠商清潔鏡頭"],
                        ["權限登入", "正常", "-"]], rows
    assert page.count('rowspan="3"') == 2, "the date and the time span the inspection's three rows"
    assert "攝影機" not in rows[0] and "是否申請修復" not in page


def test_004s_register_is_annex_4_one_row_per_inspection_in_each_units_book():
    """004 附件四 保養紀錄簿: 檢查日期, the three 是否 columns, 檢查人簽章, 帳管單位主管簽章, 備考 (each
    abnormal camera with its handling and whether repair was requested); one row per inspection in
    each managing unit's book, the unit's chief in its own."""
    recs = RUNS[0]["records"]
    runs = [{**RUNS[0], "records": [
        {**recs[0], "unit": "圖書館", "supervisor": "李主任", "countersigned_us": PRINTED, "repair": 0},
        {**recs[1], "unit": "機械科", "supervisor": None, "countersigned_us": None, "repair": 1}]}]
    units = {"counter1": "圖書館", "door": "機械科", "gate": "學務處"}
    page = annex_page("004-vocational-school", runs, units=units)
    assert re.findall(r"<h2>([^<]*)</h2>", page) == ["圖書館", "機械科", "學務處"], "one book per unit"
    books = [table_rows(t) for t in page.split("<h2>")[1:]]
    assert all(book[0] == ANNEX_4_OF_004 for book in books), books
    library, workshop, office = (book[1:] for book in books)
    assert len(library) == len(workshop) == 1 and office == [["本月無檢查紀錄。"]], books
    assert library[0][0] == "115/11/03" and library[0][3] == "正常" and library[0][5].startswith("李主任")
    assert library[0][6] == "-", "no abnormal camera in the library's book"
    assert workshop[0][3] == "異常" and workshop[0][5] == "主管未核章"
    assert workshop[0][6] == "大門：已通報廠商清潔鏡頭（是否申請修復：是）", workshop
    alone = annex_page("004-vocational-school", runs, "機械科", units)
    assert table_rows(alone)[0] == ANNEX_4_OF_004 and "李主任" not in alone and "大門" in alone


def test_the_register_says_a_deadline_only_where_the_site_sets_one():
    """issue 91 W11 (design/0393): with `register_due_day = 0` (000, 002, 003, 004) the register printed
    the product's 「應於次月5日前陳送主管核閱。」; now nothing, and 001's day joined without a space."""
    cfg = site("001-land-office")
    due = 1_796_400_000_000_000   # an instant in December 2026, Taipei
    with speaking("zh-TW"):
        doc = Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms)
        none = text_of(register_html(doc, 2026, 11, RUNS, cfg.inspection.columns, {}, PRINTED, None))
        dated = text_of(register_html(doc, 2026, 11, RUNS, cfg.inspection.columns, {}, PRINTED, due))
    assert "陳送主管核閱" not in none and "次月5日" not in none, none
    assert re.search(r"次檢查。應於 115/12/\d\d 前陳送主管核閱。", dated), dated
