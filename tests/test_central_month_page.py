"""The auditor's month in Chromium (issue 43 item 6, design/0117): a store fed directly (no edged
daemon) with a destruction, an access, a finding and a suspect alarm; the month page in zh-TW
reached from the site's page after a login, with ROC dates, the reason and hash, the approval
chain by name, the findings' words and no bare finding id, the print rules, a CSV downloaded (the
dashboard and Chromium: tests/support/month_page.py; a kind's own section is shown in its own test
module, tests/test_central_intakes.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from central import finding_words
from central.store.store import now_us
from tests.support.month_page import month_of, opened, store_path
from tests.test_central_month import SHA, _feed


@pytest.mark.browser
def test_the_auditors_month_in_zh_tw_in_chromium(tmp_path):
    t0 = now_us() - 120_000_000
    ym, roc_day = month_of(t0 + 30)
    _feed(store_path(tmp_path), t0)
    with opened(tmp_path) as month:
        page, base = month.page, month.base
        tech = month.browser.new_context().new_page()
        month.log_in(tech, "chen")
        assert tech.goto(f"{base}/site/s/month/{ym}").status == 403, "the accesses name people: auditors only"
        assert tech.goto(f"{base}/site/s/month/{ym}/accesses.csv").status == 403
        page.goto(f"{base}/site/s")
        page.click(f"a[href='/site/s/month/{ym}']")   # reachable from the site's page
        page.wait_for_url(f"{base}/site/s/month/{ym}")
        text = page.inner_text("body")
        y, m = (int(x) for x in ym.split("-"))
        assert page.inner_text("h1") == f"s 場所，民國{y - 1911}年{m}月"
        assert "每部攝影機每日保存達成情形" in text and "銷毀紀錄" in text and "調閱及其核准" in text
        row = page.locator("#destructions ~ table tbody tr").first.inner_text()
        assert row.startswith(roc_day) and "已逾最長保存期限" in row and SHA in row, row
        # the destructions narrowed by verdict (design/0141): the form keeps what was chosen
        page.select_option("select[name=verdict]", "early")
        page.click("form[action='#destructions'] button")
        page.wait_for_url("**verdict=early**")
        assert page.locator("select[name=verdict]").input_value() == "early"
        assert page.locator("#destructions ~ table tbody tr").first.inner_text() == row, "the one early destruction"
        page.goto(f"{base}/site/s/month/{ym}")
        taken = page.locator("#intakes + table tbody tr").first.inner_text().split("\t")   # beside the destructions
        assert "納管之便攜式器材錄影" in page.inner_text("#intakes") and taken[0].startswith(roc_day), taken
        # the device's file name (design/0426) blank: this intake's message sent none
        assert taken[3:8] == ["portable.bwc-7", "bwc-7", "", "carol", "officer Lin"] and SHA in taken, taken
        row = page.locator("#accesses + table tbody tr").first.inner_text().split("\t")
        assert row[0].startswith(roc_day) and row[2:4] == ["閱覽", "bob"], row
        assert (row[6], row[8]) == ("carol", "alice"), "the approval chain by the names of the node's records"
        assert row[10] == "調閱許可 7，核准人 alice", row
        findings = page.locator("#findings + table").inner_text()
        assert "影像提早銷毀" in findings and "請向場所查明原因" in findings, findings
        for kind in finding_words.FINDINGS:   # no id shown as a finding's title
            assert not page.locator(f"#findings + table td:nth-child(4):text-is('{kind}')").count()
        alarm = page.locator("#alarms + table tbody tr.suspect").inner_text()
        assert "可疑：嚴重度不明" in alarm and "None" not in text, alarm
        assert page.evaluate("() => [...document.styleSheets].some(s => [...s.cssRules].some("
                             "r => r.media && r.media.mediaText === 'print'))"), "a print stylesheet"
        with page.expect_download() as got:
            page.click(f"a[href='/site/s/month/{ym}/destructions.csv']")
        body = Path(got.value.path()).read_bytes()
        assert body.startswith(b"\xef\xbb\xbf"), "a BOM: Excel reads UTF-8"
        rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))
        assert rows[0][0] == "銷毀時間" and rows[1][0].startswith(roc_day) and rows[1][3] == "已逾最長保存期限"
        assert rows[1][6] == SHA and rows[1][4] == "提前銷毀", "the verdict, in the sites' words"
        none = page.request.get(f"{base}/site/s/month/{ym}/destructions.csv?camera=nope").body()
        assert len(list(csv.reader(io.StringIO(none[3:].decode("utf-8"))))) == 1, "filtered by camera: the header only"
