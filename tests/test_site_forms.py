"""Each seed site prints its own paper (issue 31 items 3-4, design/0081): every application form
of the five example sites, rendered by headless Chromium and printed to PDF, holds the annex's
fields in the annex's order and its signature boxes, a kind or category in the site's words
(never a raw id), no kind the site does not take, and a footer that cites the site's own rule,
never our seed file numbers. Then the [forms] table's checks, pure."""

from __future__ import annotations

import pytest

from edged.config import ConfigError, load_config, parse_config
from edged.config.forms import NO_FORMS, forms_from_json, parse_forms
from edged.documents import Doc
from edged.documents.notice import notice_html
from edged.documents.retrieval import KIND_LABELS, application_html
from edged.i18n import _, speaking
from edged.viewer.desk.page import PRINT_CSP
from tests.support.daemon import ROOT
from tests.support.forms import CAMERAS, LIST_CHANGED, PRINTED, REQUEST, TAIPEI, us
from tests.support.browser import chromium  # noqa: F401 (the module's browser)

SITES = ROOT / "examples" / "sites"

# The annexes' fields in the paper's order, and their signature boxes (from the seeds, by hand):
# (site, kind) -> (title, fields, boxes). A kind absent here prints edged's generic form.
ANNEX = {
    ("000-household-registration-office", "internal"): (   # seed 000 annex 2
        "臺北市文山區戶政事務所錄影監視系統調閱影音資料申請表（內部）",
        ["申請日期", "申請人", "調閱事由", "調閱監視器主機", "調閱鏡頭位置", "調閱時段", "影像檔案需求",
         "須保存影像檔案事由"],
        ["申請課室", "管理課室", "秘書", "主任"]),
    ("000-household-registration-office", "citizen"): (    # seed 000 annex 3
        "臺北市文山區戶政事務所錄影監視系統調閱影音資料申請表（民眾）",
        ["申請日期", "申請人", "身分證字號", "聯絡電話", "戶籍地址", "申請事由", "調閱監視器主機", "調閱鏡頭位置",
         "調閱時段"],
        ["管理人員", "課長", "秘書", "主任"]),
    ("001-land-office", "citizen"): (                      # seed 001 annex 3
        "臺北市建成地政事務所錄影監視系統調閱申請書",
        ["受文機關", "申請日期", "申請人姓名", "申請人統一編號", "申請人地址", "申請人蓋章", "代理人姓名",
         "代理人統一編號", "代理人地址", "代理人蓋章", "委任關係", "申請人(代理人)電話", "附繳證件", "申請原因",
         "申請調閱日期", "畫面", "辦理情形"],
        ["管理人員", "管理單位主管", "秘書", "主任"]),
    ("001-land-office", "internal"): (                     # seed 001 annex 4
        "臺北市建成地政事務所錄影監視系統調閱申請書(所內)",
        ["申請日期", "申請人", "申請課室", "閱覽人", "申請原因", "申請調閱日期", "畫面", "調閱紀錄"],
        ["申請單位", "管理單位", "秘書", "主任"]),
    ("004-vocational-school", "internal"): (               # seed 004 annex 2
        "南港高工校園安全監視錄影系統調閱申請單",
        ["申請日期", "申請人單位(職稱)", "姓名", "學號或身分證字號", "聯絡電話", "申請事由", "申請調閱時段",
         "申請調閱地點", "調閱說明", "申請人簽名"],
        ["業管單位核章", "學務處(學安室)核章", "學務主任核示"]),
    ("004-vocational-school", "agency"): (                 # seed 004 §5: the same 調閱申請單
        "南港高工校園安全監視錄影系統調閱申請單",
        ["申請日期", "申請人單位(職稱)", "姓名", "學號或身分證字號", "聯絡電話", "申請事由", "申請調閱時段",
         "申請調閱地點", "調閱說明", "申請人簽名"],
        ["業管單位核章", "學務處(學安室)核章", "學務主任核示"]),
}
# words each site's printed form must hold (the missing pieces of issue 31 item 3)
MUST = {
    "000-household-registration-office": ["所本部", "景美辦事處", "臺北市文山區戶政事務所錄影監視系統管理作業規定",
                                          "申請人：張大同", "課長：signer0"],   # 附件2's lines filled (design/0448)
    "001-land-office": ["臺北市建成地政事務所", "委任關係", "申請須知", "代理人", "第十七點", "申請人：張大同",
                        "主管：signer0"],
    "002-police-station": ["臺北市政府警察局駐地安全監視錄影系統設置管理要點", "第八點、附表一", "☑ 民眾"],
    "003-township-office": ["大湖鄉公所內部監視系統管理作業要點", "☑ 遭受損害", "☐ 保存"],   # 保存: 003's copy
    "004-vocational-school": ["學號或身分證字號", "申請人簽名", "☐ 影像保存", "☑ 遭受損害",
                              "臺北市立南港高級工業職業學校校園監視錄影系統管理要點"],
}
NEVER = ("規定0", "附件三第五點(一)；", "rules 0", "annex", "☑ damage", "damage", "campus-safety")


def site(name: str):
    return load_config(SITES / f"{name}.toml")


def request_for(cfg, kind: str) -> dict:
    """A request of `kind` at the site, every step of its chain signed (by step name's account)."""
    chain = [{"name": s.name, "approvers": None} for s in cfg.policy.kinds[kind].chain]
    cams = [c.id for c in cfg.cameras][:3]
    steps = [{"step": i, "name": s["name"], "by": f"signer{i}", "at_us": us("2026-11-21 15:40") + i * 60_000_000,
              "approve": True, "reason": "同意"} for i, s in enumerate(chain)]
    category = "damage" if "damage" in cfg.policy.categories else cfg.policy.categories[0]
    return {**REQUEST, "kind": kind, "category": category, "cameras": cams, "chain": chain, "steps": steps,
            "requester_org": "教務處", "grant": {**REQUEST["grant"], "cameras": cams}}


def rendered(cfg, kind: str) -> str:
    doc = Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms)
    with speaking("zh-TW"):
        return application_html(doc, request_for(cfg, kind), {c.id: c.name for c in cfg.cameras}, PRINTED)




# the title and each field's label on one line, as on A4 (design/0448: 000 附件2's 「…申請表（內 / 部）」
# and 「須保存影像檔案事 / 由」): each laid out at the width A4 leaves (186 mm at 96 dpi) in print
ONE_LINE = """() => [...document.querySelectorAll('h1, table.annex th')].filter(e => {
    const r = document.createRange(); r.selectNodeContents(e);
    return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1; }).map(e => e.innerText)"""


def printed(chromium, html: str) -> tuple[str, list[str], list[str]]:
    """The page as Chromium lays it out and prints it: its text, the annex's field names in
    order and the signature boxes' headings; no title or label wrapped on A4."""
    page = chromium.new_page(viewport={"width": 703, "height": 1000})
    try:
        page.emulate_media(media="print")   # under the desk's CSP for printed pages: no style attribute
        page.route("http://desk.test/", lambda route: route.fulfill(body=html, headers={
            "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": PRINT_CSP}))
        page.goto("http://desk.test/")
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and b"NotoSansCJK" in pdf
        assert page.evaluate(ONE_LINE) == [], page.evaluate(ONE_LINE)
        fields = page.locator("table.annex th").all_inner_texts()
        boxes = page.locator("table.boxes th").all_inner_texts()
        return page.inner_text("body"), [f.strip() for f in fields], [b.strip() for b in boxes]
    finally:
        page.close()


@pytest.mark.parametrize("name", sorted(MUST))
def test_every_form_of_the_site_prints_its_annex(chromium, name):
    cfg = site(name)
    assert cfg.forms.rule, "the example names its own rule"
    texts = []
    for kind in cfg.policy.kinds:
        text, fields, boxes = printed(chromium, rendered(cfg, kind))
        texts.append(text)
        if (name, kind) in ANNEX:
            title, want_fields, want_boxes = ANNEX[(name, kind)]
            assert title in text.splitlines()[0]
            assert fields == want_fields, (kind, fields)
            assert boxes == want_boxes, (kind, boxes)
            assert "signer0\n115/11/21 15:40" in text   # a box shows who signed its step, and when
        else:
            assert fields == [] and boxes == []      # edged's generic form, in the site's words
        # the footer names the site's rule and never our file numbers, nor a raw id
        footer = text[text.rindex("表單："):]
        assert cfg.forms.rule in footer, footer
        if (name, kind) in ANNEX:   # the site's own form by its own title, not edged's generic one (issue 91)
            assert ANNEX[(name, kind)][0] in footer and "申請表及核准紀錄" not in footer, footer
        for word in NEVER:
            assert word not in text, (kind, word)
        for other in set(KIND_LABELS) - set(cfg.policy.kinds):   # never a kind the site does not take
            with speaking("zh-TW"):
                assert f"☐ {_(KIND_LABELS[other])}" not in text, other
    if name == "001-land-office":  # 辦理情形 and 調閱紀錄 are printed under the boxes, as on the paper
        for kind, last in (("citizen", "辦理情形"), ("internal", "調閱紀錄")):
            html = rendered(cfg, kind)
            assert html.index('class="boxes"') < html.index(f">{last}</th>")
    whole = "\n".join(texts)
    for word in MUST[name]:
        assert word in whole, word


def test_the_schools_form_offers_only_what_the_school_takes(chromium):
    cfg = site("004-vocational-school")
    for kind in cfg.policy.kinds:
        text = printed(chromium, rendered(cfg, kind))[0]
        for word in ("民眾", "偵查機關緊急調閱", "先行查看"):
            assert word not in text, (kind, word)


def test_the_notice_cites_the_rule_and_nothing_internal():
    cfg = site("001-land-office")
    doc = Doc("zh-TW", TAIPEI, cfg.site.name, cfg.forms)
    with speaking("zh-TW"):
        page = notice_html(doc, CAMERAS, LIST_CHANGED, PRINTED)
        bare = notice_html(Doc("zh-TW", TAIPEI, "x"), CAMERAS, LIST_CHANGED, PRINTED)
    assert "臺北市建成地政事務所錄影監視系統管理暨影音資料處理利用規範 第七點" in page
    for text in (page, bare):
        assert "取代紙本" not in text and "edged" not in text and "規定0" not in text and "001" not in text


def test_edgectl_gets_the_forms_from_the_daemon():
    cfg = site("000-household-registration-office")
    again = forms_from_json(cfg.forms.to_json())
    assert again.applications == cfg.forms.applications and again.rule == cfg.forms.rule
    assert again.site_kinds == cfg.forms.site_kinds and forms_from_json(None) is NO_FORMS
    # edged's own categories are the daemon's to word (zh_TW catalog); edgectl takes them as checked
    assert forms_from_json(site("001-land-office").forms.to_json()).rule.startswith("臺北市建成地政事務所")
    assert forms_from_json({"table": {"bogus": 1}, "kinds": ["internal"]}) is NO_FORMS


# the [forms] table's checks (pure) --------------------------------------------------------------
BASE = {"site": {"id": "s"}, "storage": {"data_dir": "/tmp/x"},
        "cameras": [{"id": "a", "url": "synthetic:"}],
        "policy": {"kinds": ["internal", "agency"], "categories": ["lost-property", "damage"],
                   "internal": {"chain": [{"name": "chief"}, {"name": "director"}]}}}
FORM = {"kinds": ["internal"], "title": "表", "fields": [{"label": "申請日期", "value": "filed"}],
        "boxes": [{"label": "主任", "steps": ["director"]}]}


def parse(forms):
    return parse_config({**BASE, "forms": forms}, base_dir=ROOT)


@pytest.mark.parametrize("forms, field, words", [
    ({"categories": {"damage": "損害"}, "application": [{**FORM, "kinds": ["citizen"]}]},
     "forms.application[0].kinds", "does not take 'citizen'"),
    ({"categories": {"damage": "損害"}, "application": [{**FORM, "fields": [{"label": "x", "value": "addr"}]}]},
     "forms.application[0].fields[0].value", "is not something a request holds"),
    ({"categories": {"damage": "損害"}, "application": [{**FORM, "boxes": [{"label": "x", "steps": ["boss"]}]}]},
     "forms.application[0].boxes[0].steps", "no step 'boss'"),
    ({"rule": "r"}, "forms.categories", "'damage' has no words"),
    ({"categories": {"damage": "損害", "fire": "火"}}, "forms.categories.fire", "unknown key"),
    ({"categories": {"damage": "損害"}, "application": [FORM, FORM]}, "forms.application[1].kinds",
     "already have a form"),
    ({"categories": {"damage": "損害"},
      "application": [{**FORM, "fields": [{"label": "主機", "value": "cameras", "choices": ["a"]}]}]},
     "forms.application[0].fields[0]", "one of them"),
    ({"categories": {"damage": "損害"}, "application": [{**FORM, "fields": [{"label": "x", "below": "yes"}]}]},
     "forms.application[0].fields[0].below", "expected true or false"),
    ({"categories": {"damage": "損害"}, "cite": {"poster": "x"}}, "forms.cite.poster", "unknown key"),
    ({"categories": {"damage": "損害"}, "modes": {"print": "列印"}}, "forms.modes.print", "unknown key"),
    ({"categories": {"damage": "損害"}, "application": [{**FORM, "boxes": [{"label": "x", "lines": ["人：{who}"]}]}]},
     "forms.application[0].boxes[0].lines[0]", "{who} is not filled from the request; values are filed"),
    ({"categories": {"damage": "損害"}, "account": {"title": "表", "boxes": [{"label": "x", "lines": ["{by}"]}]}},
     "forms.account.boxes[0].lines[0]", "a page's line prints as written"),
    ({"categories": {"damage": "損害"}, "modes": {"copy": " "}}, "forms.modes.copy", "must not be empty"),
    ({"categories": {"damage": "損害"}, "application": [{**FORM, "title": " "}]}, "forms.application[0].title",
     "must not be empty"),
])
def test_bad_forms_are_refused_naming_the_field(forms, field, words):
    with pytest.raises(ConfigError) as err:
        parse(forms)
    assert err.value.field == field and words in err.value.message, str(err.value)


def test_a_site_without_forms_prints_the_generic_form_of_its_own_kinds():
    cfg = parse_config(BASE, base_dir=ROOT)
    assert cfg.forms.applications == () and cfg.forms.site_kinds == ("internal", "agency")
    doc = Doc("en", TAIPEI, "site", cfg.forms)
    with speaking("en"):
        page = application_html(doc, {**REQUEST, "kind": "internal", "category": "damage"}, {}, PRINTED)
    assert "☑ internal staff" in page and "☐ public agency" in page and "citizen" not in page
    assert "☑ damage" in page   # no words given: the id, the only name it has
    assert "rules 0" not in page and "Form: the application form" in page
    good = parse({"rule": "規定", "categories": {"damage": "損害"}, "application": [FORM]})
    assert good.forms.form_for("internal").boxes[0].steps == ("director",) and good.forms.form_for("agency") is None
    assert parse_forms({}, ("internal",), ()).citation("register") == ""
