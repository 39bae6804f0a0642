"""A site whose names are all Chinese (景美辦事處, 櫃檯1, 一樓大廳) runs end to end: it records,
edgectl's tables in zh-TW line up on a terminal (East Asian width), the notice is printed in
the site's language with ROC dates, and the MQTT payloads carry the names as UTF-8 (issue 19)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime

import pytest

from edged.cli.display import width
from edged.i18n import roc_date, roc_date_short
from storage.time.clock import SYSTEM
from tests.support.broker import Broker, Subscriber
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import ROOT, Daemon, wait_for, write_config
from tests.support.browser import launch, login_page
from tests.support.cameras import free_port
from tests.support.documents_check import cjk_without_font
from tests.support.forms import TAIPEI
from tests.support.people import People

BASE = "edged/v1/test/node1"
SITE = 'id = "test"\nname = "景美辦事處"\nlanguage = "zh-TW"\ntimezone = "Asia/Taipei"'
# the site's own rule and internal form (design/0081): edgectl prints it as the daemon has it
FORMS = """
[forms]
rule = "臺北市文山區戶政事務所錄影監視系統管理作業規定"
[[forms.application]]
kinds = ["internal"]
title = "調閱影音資料申請表（內部）"
cite = "附件2"
fields = [{ label = "申請日期", value = "filed" }, { label = "申請人", value = "requester" },
          { label = "身分", value = "kind" }, { label = "調閱事由", value = "category" },
          { label = "調閱監視器主機", choices = ["所本部", "景美辦事處"] },
          { label = "調閱鏡頭位置", value = "cameras" }, { label = "須保存影像檔案事由" }]
boxes = [{ label = "核准", steps = ["approver"] }, { label = "申請人簽名" }]
"""


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path, fps=20, gop=20, seconds=10)


def ctl(d: Daemon, *argv: str, lang: str | None = "zh_TW.UTF-8") -> str:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        env.pop(var, None)
    if lang:
        env["LANG"] = lang
    out = subprocess.run([*d.ctl, *argv], cwd=ROOT, capture_output=True, timeout=60, env=env)
    assert out.returncode == 0, (argv, out.stderr.decode(errors="replace"))
    return out.stdout.decode("utf-8")


def column_starts(text: str, header_words: list[str]) -> None:
    """Every line's cell under each header starts at the header's terminal column."""
    lines = text.splitlines()
    head = lines[0]
    for word in header_words:
        col = width(head[:head.index(word)])
        for line in lines[1:]:
            cut = next(i for i in range(len(line) + 1) if width(line[:i]) >= col)
            assert width(line[:cut]) == col and line[cut - 1] == " " and line[cut] != " ", (word, text)


def test_a_site_named_in_chinese_records_reports_and_prints(tmp_path, clip):
    broker = Broker(tmp_path / "broker").start()
    sub = Subscriber(broker, f"{BASE}/#").start()
    data = tmp_path / "data"
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
        config = write_config(tmp_path / "edged.toml", data, [
            {"id": "counter1", "name": "櫃檯1", "url": cameras.url("cam"), "location": "一樓大廳",
             "purpose": "櫃檯爭議", "coverage": "櫃檯及等候區", "manager": "行政課 王小明", "contact": "分機 12",
             "recording_period": "全天24小時", "machine_room": "一樓機房", "asset_number": "3140101-03-000123"},
            {"id": "lobby", "name": "一樓大廳入口", "url": cameras.url("cam"), "location": "一樓大廳",
             "max_retention": "400d"}])
        port = free_port()
        config.write_text(config.read_text().replace('id = "test"', SITE, 1)
                          + f'\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
                          + f'\n[viewer]\nenabled = true\nlisten = "127.0.0.1:{port}"\n' + FORMS)
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            wait_for(lambda: len(d.segments("counter1")) >= 1 and len(d.segments("lobby")) >= 1, 60, "recording")
            table = ctl(d, "cameras")
            assert table.splitlines()[0].startswith("代碼") and "櫃檯1" in table and "錄影中" in table
            column_starts(table, ["名稱", "狀態", "持續"])
            english = ctl(d, "cameras", lang="C.UTF-8")
            assert english.splitlines()[0].startswith("ID") and "櫃檯1" in english
            column_starts(english, ["NAME", "STATE"])
            status = ctl(d, "status")
            assert "景美辦事處" in status and "2/2 錄影中" in status

            day = datetime.fromtimestamp(SYSTEM.now_us() / 1e6).astimezone().date()  # edgectl: the box's zone
            assert f"自 {roc_date_short(day)} " in status, status  # "up since" in the ROC calendar
            today = roc_date(datetime.fromtimestamp(SYSTEM.now_us() / 1e6, TAIPEI).date())
            notice = ctl(d, "cameras", "--notice")  # LANG says zh_TW; the site says zh-TW too
            assert "錄影監視告示：景美辦事處" in notice and f"攝影機清單最近異動日期：{today}。" in notice
            assert "30–365 日" in notice and "30–400 日" in notice
            column_starts(notice.split("\n\n")[1], ["攝影機", "設置目的"])
            page = tmp_path / "notice.html"
            assert "已寫入" in ctl(d, "cameras", "--notice", "--html", str(page), lang=None)  # site's language
            html = page.read_text(encoding="utf-8")
            assert "櫃檯1" in html and "一樓大廳" in html and today in html and "至少保存 30 日，400 日內銷毀" in html
            ctl(d, "--lang", "en", "cameras", "--inventory", "--html", str(tmp_path / "inv.html"))
            inv = (tmp_path / "inv.html").read_text(encoding="utf-8")
            assert "Camera inventory" in inv and "一樓機房" in inv and "3140101-03-000123" in inv

            birth = wait_for(lambda: sub.last(f"{BASE}/birth"), 30, "birth")
            assert "景美辦事處".encode() in birth.payload and "櫃檯1".encode() in birth.payload
            state = wait_for(lambda: sub.last(f"{BASE}/camera/counter1/state"), 30, "camera state")
            assert json.loads(state.payload.decode("utf-8"))["name"] == "櫃檯1"
            assert "櫃檯1".encode() in state.payload  # UTF-8 as written, not \\u escapes

            wait_for(lambda: "web viewer listening" in d.log, 30, "the web viewer")
            people = People(config, tmp_path)
            for name, role in (("vera", "viewer"), ("adam", "approver"), ("aldo", "auditor")):
                people.add(name, role, full_name="王核章" if name == "adam" else None)
            viewer_in_chinese(f"http://127.0.0.1:{port}")
            forms_in_chinese(d, people, tmp_path)
        finally:
            assert d.stop() == 0, d.log
            sub.stop()
            broker.stop()


def viewer_in_chinese(base: str) -> None:
    """The viewer's pages in the site's language, drawn with the CJK font; live view of 櫃檯1."""
    pw, chromium = launch()
    try:
        page = chromium.new_page()
        page.goto(base + "/login")
        assert page.title() == "影像檢視：登入" and "請以個人帳號登入" in page.inner_text("body")
        assert not cjk_without_font(page)
        page.close()
        page = login_page(chromium, base, "vera")
        assert page.title() == "影像檢視：即時影像"
        page.click("button[data-camera='counter1']")
        page.wait_for_function("document.getElementById('status').textContent.includes('本次閱覽最遲於')")
        text = page.inner_text("body")
        assert "櫃檯1" in text and "登出" in text and "民國" in text, text  # the ROC calendar in the browser
        assert not cjk_without_font(page)
    finally:
        chromium.close()
        pw.stop()


def local_iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6).astimezone().isoformat(timespec="seconds")


def forms_in_chinese(d: Daemon, people: People, tmp) -> None:
    """A request filed and approved, then its form, the month's register and the audit report,
    each printed by edgectl in the site's language."""
    now = SYSTEM.now_us()
    r = people.as_("vera").ctl("request", "file", "--kind", "internal", "--category", "lost-property", "--reason",
                               "櫃檯遺失皮夾", "--camera", "counter1", "--from", local_iso(now - 60_000_000),
                               "--to", local_iso(now), "--requester", "張大同", "--org", "行政課", "--json")
    assert r.returncode == 0, r.stderr
    request = json.loads(r.stdout)["id"]
    r = people.as_("adam").ctl("request", "approve", str(request), "--reason", "事由具必要性", "--json")
    assert r.returncode == 0, r.stderr
    r = people.ctl("request", "form", str(request), "--out", str(tmp / "request.html"))
    assert r.returncode == 0, r.stderr
    form = (tmp / "request.html").read_text(encoding="utf-8")
    for word in ("調閱影音資料申請表（內部）", "張大同", "櫃檯遺失皮夾", "櫃檯1", "☑ 內部同仁",
                 "☑ 財物遺失", "事由具必要性", "王核章", "民國", "☐ 所本部", "須保存影像檔案事由", "申請人簽名",
                 "表單：", "臺北市文山區戶政事務所錄影監視系統管理作業規定 附件2"):
        assert word in form, word
    assert "adam" not in form, "edgectl's printed form names the approver, not the login (design/0112)"
    month = datetime.fromtimestamp(now / 1e6, TAIPEI).strftime("%Y-%m")  # the site's month, as edgectl bounds it
    ctl(d, "inspect", "report", "--month", month, "--out", str(tmp))
    register = (tmp / f"inspections-{month}.html").read_text(encoding="utf-8")
    assert "錄影監視系統檢查紀錄表" in register and "景美辦事處" in register and "民國" in register
    r = people.as_("aldo").ctl("audit", "report", "--from", "-1h", "--out", str(tmp / "audit.html"))
    assert r.returncode == 0, r.stderr
    audit = (tmp / "audit.html").read_text(encoding="utf-8")
    for word in ("錄影監視系統稽核報告", "帳號及權限", "vera", "張大同", "財物遺失", "稽核紀錄鏈："):
        assert word in audit, word
