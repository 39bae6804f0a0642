"""The office's word for a node's retention achieved while the node says its clock is in dispute
(issue 90, design/0372, design/0416): "cannot be judged", never a figure beside it, never the box's
own text; the site page says it in zh-TW, rendered in-process (tests/support/month_page.py)."""

from __future__ import annotations

import json

from central.i18n import Speaker
from central.pages import fleet
from central.report import month as mo
from central.store.store import Store, now_us
from tests.support.catalog import central_put_birth
from tests.support.month_page import TAIPEI, month_of, rendered, section, store_path

WHY = "a source disagrees with the host clock: office says 40 days behind"


def test_a_node_that_says_its_clock_is_in_dispute_is_shown_as_cannot_be_judged_with_no_figure():
    said = fleet.retention_said
    assert said({"achieved_days": 30.5}) == {"retention_days": 30.5, "retention_unjudged": False}
    assert said({"achieved_days": None, "cannot_be_judged": WHY}) == {"retention_days": None,
                                                                     "retention_unjudged": True}
    # a box that sends a figure beside its dispute: the weaker claim stands, the figure is dropped
    assert said({"achieved_days": 40.001, "cannot_be_judged": WHY})["retention_days"] is None
    # untrusted input: what is no reason is no dispute, and a figure that is no number is none
    for odd in ("", "  ", None, 1, True, ["x"], {"why": "x"}):
        assert said({"achieved_days": 3, "cannot_be_judged": odd}) == {"retention_days": 3, "retention_unjudged": False}
    assert said({"achieved_days": "40"})["retention_days"] is None


def test_the_words_in_english_and_zh_tw():
    en, zh = Speaker("en", TAIPEI), Speaker("zh-TW", TAIPEI)
    unjudged = fleet.retention_said({"cannot_be_judged": WHY})
    assert fleet.retention_cell(en, unjudged) == "cannot be judged (the node's clock is in dispute)"
    assert fleet.retention_cell(zh, unjudged) == "無法判斷（節點時鐘有爭議）"
    assert fleet.retention_cell(en, fleet.retention_said({"achieved_days": 30.5})) == "30.5 d"
    assert fleet.retention_cell(en, fleet.retention_said({})) == "-"


def test_the_month_page_note_names_the_nodes_in_dispute_and_says_whose_verdicts_the_days_are():
    en, zh = Speaker("en", TAIPEI), Speaker("zh-TW", TAIPEI)
    assert mo.dispute_note(en, []) is None
    said = mo.dispute_note(en, ["s/n1", "s/n3"])
    assert said is not None and said.startswith("n1, n3: retention achieved cannot be judged on the node's own clock")
    assert "office's own time requests" in said
    assert (mo.dispute_note(zh, ["s/n1"]) or "").startswith("n1：節點目前自稱其時鐘有爭議，依節點自身時鐘無法判斷")


def _fed(tmp_path, at: int) -> None:
    store = Store(store_path(tmp_path))
    store.ingest([("edged/v1/s/n1/status", b"online"), ("edged/v1/s/n2/status", b"online"),
                  ("edged/v1/s/n1/state", json.dumps({"ts_us": at, "retention": {
                      "achieved_days": None, "verdicts": {"cam1": "CANNOT BE JUDGED"}, "cannot_be_judged": WHY}}).encode()),
                  ("edged/v1/s/n2/state", json.dumps({"ts_us": at, "retention": {
                      "achieved_days": 30.5, "verdicts": {"cam1": "OK"}}}).encode())], at)
    central_put_birth(store, "s/n1", at - 1, json.dumps({"cameras": [{"id": "cam1"}]}))
    store.close()


def test_the_site_page_says_cannot_be_judged_for_the_node_in_dispute_and_the_figure_for_the_other(tmp_path):
    _fed(tmp_path, now_us())
    tree = rendered(tmp_path, "s", "", path="/site/s")
    table = tree.xpath('//h2[1]/following-sibling::table[1]')[0]
    heads = [" ".join(th.text_content().split()) for th in table.xpath("./thead//th")]
    col = heads.index("已達保存")
    cells = {tr.xpath("./td")[0].text_content().strip(): tr.xpath("./td")[col].text_content().strip()
             for tr in table.xpath("./tbody/tr")}
    assert cells == {"n1": "無法判斷（節點時鐘有爭議）", "n2": "30.5 日"}, cells
    assert WHY not in tree.text_content()  # the box's own text is not the office's to print


def test_this_months_page_says_so_above_its_retention_and_last_months_does_not(tmp_path):
    at = now_us()
    _fed(tmp_path, at)
    ym = month_of(at)[0]
    tree = rendered(tmp_path, "s", ym)
    notes = [" ".join(p.text_content().split()) for p in tree.xpath('//h2[@id="retention"]/following-sibling::p'
                                                                     '[@class="clock-dispute"]')]
    assert len(notes) == 1 and notes[0].startswith("n1：節點目前自稱其時鐘有爭議"), notes
    assert "n2" not in notes[0] and WHY not in tree.text_content()
    heading, _heads, rows = section(tree, "retention")
    assert heading == "每部攝影機每日保存達成情形" and rows, rows
    verdicts = {row[3] for row in rows}  # day, node, camera, retention (month.SECTIONS)
    # the office's own verdicts stand beside the note: none of them turned into "cannot be judged"
    assert verdicts and not any("無法判斷" in v for v in verdicts), verdicts
    assert tree.text_content().count("無法判斷") == 1
    before = rendered(tmp_path, "s", mo_shift(ym, -1))
    assert not before.xpath('//p[@class="clock-dispute"]'), "a state says what is now, not what was"


def mo_shift(ym: str, by: int) -> str:
    from central.pages.month_page import shift
    return shift(ym, by)
