"""A portable camera's file taken in at the desk (issue 76, design/0356), in headless Chromium on the
fixtures of tests/test_desk.py (a real daemon recording a real RTSP camera): the custodian uploads
files made by ffmpeg as devices write them (an MP4 with its creation time and model, an H.265 MOV),
in zh-TW; the same refusals as `edgectl evidence import` on the page (no media, a plain MP4 cut
short, a duplicate naming the first intake, a device name that is not plain, and on a small disk a
file too large for its reserve) with nothing stored; the intake on the audit record as the person
logged in; the result page printed (PDF); the timeline marks the device's footage as its claim."""

from __future__ import annotations

import hashlib
import html
import os
import re
import socket
from pathlib import Path

import pytest

from edged.i18n import translations
from tests.support import portable
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.disks import tmpfs
from tests.support.people import People, password_for
from tests.support.ports import free_port
from tests.test_desk import desk, first_login, open_account, shoot  # noqa: F401 (the fixture)

ZH_CLAIM = "匯入：時間為器材所稱"
ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")
NAMED = "錄影\u202e4pm.mov"
FORM_DATA = ("SHA-256", "MP4", "MOV", "bwc-07", "bwc-7")   # the form's words that are data, not text


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    bwc = portable.body_camera(d / "bwc.mp4", seconds=10)
    made = {"bwc": bwc, "hevc": portable.hevc_g711(d / "hevc.mov", seconds=4),
            "junk": portable.not_media(d / "錄影筆記.pdf"), "cut": portable.cut(bwc, d / "cut.mp4", bwc.stat().st_size // 2),
            "joined": portable.joined(d / "00000.MTS", seconds=2)}
    made["named"] = d / NAMED   # the H.265 file as a device named it: CJK and a direction mark
    made["named"].write_bytes(made["hevc"].read_bytes())
    return made


@pytest.fixture(scope="module")
def carl(desk):  # noqa: F811
    admin = desk.login("admin", password_for("admin"))
    first_login(desk, "carl", open_account(desk, admin, "carl", "custodian"))
    admin.context.close()
    return desk


def upload(d, page, path: Path, device: str = "bwc-7", by: str = "林警員", request: str = "",
           past_the_browser: bool = False) -> None:
    page.goto(d.base + "/desk/intake")
    if past_the_browser:   # the form's own pattern would stop the browser sending it: the daemon's rule is asked
        page.evaluate("document.querySelector('#f-device').removeAttribute('pattern')")
    page.fill("#f-device", device)
    page.fill("#f-by", by)
    if request:
        page.fill("#f-request", request)
    page.set_input_files("#f-file", str(path))
    page.click("form[action='/desk/intake'] button[type=submit]")
    page.wait_for_selector(".notice-ok, .notice-error")


def guide_terms() -> tuple[list[tuple[str, str]], list[str]]:
    """docs/guide/export.md's desk route: its bold names with the desk's words beside them
    (`**NAME** (WORDS)`), and every term in parentheses with Chinese in it."""
    text = (ROOT / "docs/guide/export.md").read_text().split("**At the desk** (design/0356)", 1)[1]
    text = " ".join(text.split("tests/test_desk_intake.py", 1)[0].split())
    pairs = re.findall(r"\*\*([^*]+)\*\* \(([^)]*[\u3400-\u9fff][^)]*)\)", text)
    terms = [t for t in re.findall(r"\(([^()]*)\)", text) if CJK.search(t)]
    return pairs, list(dict.fromkeys(terms))


def test_the_guides_desk_route_names_the_desks_words():
    """Each bold name of the guide's desk route is the desk's msgid, in its zh-TW beside it."""
    pairs, terms = guide_terms()
    zh = translations("zh_TW")
    assert len(pairs) >= 7 and len(terms) >= 11, (pairs, terms)
    assert [(name, zh.gettext(name)) for name, _w in pairs] == pairs


def kept(data: Path) -> list[str]:
    folder = data / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_custodian_takes_in_a_body_cameras_file_at_the_desk(carl, files):
    d, data = carl, carl.daemon.data_dir
    p = d.login("carl", password_for("carl"))
    assert p.locator("a[href='/desk/intake']").count() == 1, "the home page leads to the form"
    seen = [html.unescape(p.content())]
    p.goto(d.base + "/desk/intake")
    seen.append(html.unescape(p.content()))
    shoot(d, p, "intake-form-carl", "zh-TW", data=FORM_DATA)
    p.pdf(path=str(d.shots / "intake-form.pdf"), format="A4")
    assert (d.shots / "intake-form.pdf").read_bytes()[:4] == b"%PDF"

    upload(d, p, files["bwc"])
    sha = hashlib.sha256(files["bwc"].read_bytes()).hexdigest()
    text = p.inner_text("main")
    assert p.locator(".notice-ok").count() == 1, text
    intake = int(re.search(r"(\d+)", p.inner_text(".notice-ok"))[1])
    assert sha in text and "bwc-7 (BWC-7X)" in text and "林警員" in text, text
    assert "portable.bwc-7" not in text, "the desk names the device, never its internal id (design/0394)"
    assert ZH_CLAIM in text and "104/01/01" in text, text   # the claimed 2015-01-01, in the site's calendar
    shoot(d, p, "intake-result-carl", "zh-TW", data=(sha, "portable.bwc-7", "bwc-7", "BWC-7X", "bwc.mp4", "imports", "original.mp4",
                                                    "SHA-256", "MP4"))
    seen.append(html.unescape(p.content()))
    p.pdf(path=str(d.shots / "intake-result.pdf"), format="A4")
    assert (d.shots / "intake-result.pdf").read_bytes()[:4] == b"%PDF"
    [rec] = d.audit("evidence.imported")
    assert rec["actor"] == "carl" and rec["detail"]["sha256"] == sha and rec["detail"]["intake"] == intake
    assert rec["detail"]["filmed_by"] == "林警員"
    assert (data / "imports" / sha / "original.mp4").read_bytes() == files["bwc"].read_bytes()
    assert len(d.daemon.segments("portable.bwc-7")) == rec["detail"]["segments"] >= 3

    # the timeline of the device's claimed day marks its footage as the device's claim
    p.click("a[href^='/desk/timeline?camera=portable.bwc-7']")
    assert ZH_CLAIM in p.inner_text("main") and p.locator(".imported").count() == 1

    # the same refusals as edgectl, in zh-TW, nothing half-stored
    upload(d, p, files["bwc"], device="bwc-8")
    err = p.inner_text(".notice-error")
    assert f"{intake}" in err and sha in err and "carl" in err, err
    assert p.input_value("#f-device") == "bwc-8", "the form keeps what was typed"
    seen.append(html.unescape(p.content()))
    upload(d, p, files["junk"])
    assert "錄影筆記.pdf" in p.inner_text(".notice-error") and "影音檔" in p.inner_text(".notice-error")   # CJK as itself
    assert "未保存任何內容" in p.inner_text(".notice-error"), "nothing was kept, in the site's language"
    upload(d, p, files["cut"])
    assert "cut.mp4" in p.inner_text(".notice-error") and "未保存任何內容" in p.inner_text(".notice-error")
    shoot(d, p, "intake-refused-carl", "zh-TW", data=("cut.mp4", *FORM_DATA))
    upload(d, p, files["joined"])   # FFmpeg refuses it: what is wrong and where, no path, no FFmpeg words (0477)
    err = p.inner_text(".notice-error")
    assert "00000.MTS 無法納管：檔案第 2.0 秒之後時間倒退" in err and "未保存任何內容" in err, err
    assert "incoming" not in err and "returned" not in err and "Error" not in err, err
    upload(d, p, files["hevc"], device="bwc 7", past_the_browser=True)
    assert '"bwc 7"' in p.inner_text(".notice-error")
    upload(d, p, files["hevc"], request="9999")
    assert "9999" in p.inner_text(".notice-error")
    upload(d, p, files["hevc"], by="PC \u202eniL")   # T30: who filmed it with a direction mark: refused, shown escaped
    err = p.inner_text(".notice-error")
    assert "\\u202e" in err and "\u202e" not in err and "PC" in err, err
    assert kept(data) == [sha], "a refusal leaves nothing behind"
    assert len(d.audit("evidence.imported")) == 1

    upload(d, p, files["named"], device="cam-2")   # H.265 and G.711, no creation time: placed at the intake
    assert p.locator(".notice-ok").count() == 1, p.inner_text("main")
    assert "cam-2" in p.inner_text("main") and "portable.cam-2" not in p.inner_text("main") and ZH_CLAIM in p.inner_text("main")
    assert [r["actor"] for r in d.audit("evidence.imported")] == ["carl", "carl"]

    # the intakes' register (edgectl evidence list): newest first, the original kept, printed
    p.click("a[href='/desk/intakes']")
    cells = [[c.strip() for c in row.split("\t")] for row in p.locator("tbody tr").all_inner_texts()]
    # each with the device's own file name, as sent (design/0403), escaped where it does not print (design/0383)
    assert [(row[2], row[3], row[8]) for row in cells] == [("cam-2", "錄影\\u202e4pm.mov", "保存中"),
                                                           ("bwc-7 (BWC-7X)", "bwc.mp4", "保存中")], cells
    assert ZH_CLAIM in cells[1][6] and cells[0][6] == "-" and cells[1][9] == sha, cells
    assert p.locator("tbody a[href^='/desk/timeline?camera=portable.']").count() == 2, "each one's footage"
    shoot(d, p, "intakes-carl", "zh-TW", data=(sha, *FORM_DATA, "BWC-7X", "cam-2", "錄影\\u202e4pm.mov"))
    assert "\u202e" not in p.inner_text("main"), "nothing printed raw"
    seen.append(html.unescape(p.content()))
    p.pdf(path=str(d.shots / "intakes.pdf"), format="A4")
    assert (d.shots / "intakes.pdf").read_bytes()[:4] == b"%PDF"
    p.context.close()

    # the auditor reads the register from the home page, and may not take a file in
    admin = d.login("admin", password_for("admin"))
    first_login(d, "aldo", open_account(d, admin, "aldo", "auditor"))
    admin.context.close()
    a = d.login("aldo", password_for("aldo"))
    assert a.locator("a[href='/desk/intake']").count() == 0
    a.click("a[href='/desk/intakes']")
    assert a.locator("tbody tr").count() == 2 and a.locator("a[href='/desk/intake']").count() == 0
    assert a.request.get(d.base + "/desk/intake").status == 403
    a.context.close()

    # docs/guide/export.md's desk route, word for word: every term it gives in parentheses was on a page walked
    shown = "\n".join(seen)
    assert [t for t in guide_terms()[1] if t not in shown] == []


def test_a_file_too_large_for_the_disks_reserve_is_refused_on_the_page(tmp_path, files, desk):  # noqa: F811
    """A 16 MiB data disk keeping half free: a 6 MiB file is refused on the page, read to its end and
    dropped (a second daemon, in the desk fixture's browser)."""
    with tmpfs(tmp_path / "disk", "16m") as disk:
        data, port = disk / "data", free_port()
        config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": "synthetic:", "enabled": False}],
                              tables={"retention": {"reserve": "50%"},
                                      "viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"}})
        big = tmp_path / "big.mp4"
        big.write_bytes(files["bwc"].read_bytes() + bytes(6 << 20))
        os.chmod(big, 0o644)
        d = Daemon(config, data, tmp_path / "edged.log").start()
        context = None
        try:
            wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
            People(config, tmp_path).add("carl", "custodian")
            context = desk.browser.new_context()
            p = context.new_page()
            base = f"http://127.0.0.1:{port}"
            p.goto(base + "/desk/login")
            p.fill("input[name=name]", "carl")
            p.fill("input[name=password]", password_for("carl"))
            p.press("input[name=password]", "Enter")
            p.wait_for_load_state()
            p.goto(base + "/desk/intake")
            p.fill("#f-device", "bwc-7")
            p.fill("#f-by", "officer Lin")
            p.set_input_files("#f-file", str(big))
            p.click("form[action='/desk/intake'] button[type=submit]")
            p.wait_for_selector(".notice-error")
            assert "above its reserve" in p.inner_text(".notice-error") and "Nothing was kept" in p.inner_text(".notice-error")
            assert kept(data) == []
        finally:
            if context is not None:
                context.close()
            d.stop()


def test_a_browser_gone_mid_file_is_a_refusal_that_keeps_nothing(carl):
    """A browser closed part-way through a file: the staged part is dropped, nothing is kept, and the
    daemon says so as a refusal, not an internal error with a traceback (a raw socket sends the form
    as Chromium does, then closes)."""
    d, data = carl, carl.daemon.data_dir
    p = d.login("carl", password_for("carl"))
    p.goto(d.base + "/desk/intake")
    csrf = p.get_attribute("form[action='/desk/intake'] input[name=csrf]", "value")
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in p.context.cookies())
    p.context.close()
    before, log_at = kept(data), len(d.daemon.log)
    boundary = "----edged" + "7" * 16
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in (("csrf", csrf), ("device", "bwc-9"), ("by", "officer Lin")))
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bwc.mp4"\r\n' \
            "Content-Type: video/mp4\r\n\r\n"
    length = len(head.encode()) + (64 << 20) + len(f"\r\n--{boundary}--\r\n")
    staging = lambda: [n for n in kept(data) if n.startswith(".incoming-")]  # noqa: E731
    with socket.create_connection(("127.0.0.1", d.port)) as s:
        s.sendall((f"POST /desk/intake HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\nOrigin: {d.base}\r\n"
                   f"Cookie: {cookies}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                   f"Content-Length: {length}\r\n\r\n").encode() + head.encode() + bytes(4 << 20))
        wait_for(lambda: staging(), 30, "the daemon staging the file as it arrives")
    wait_for(lambda: not staging(), 60, "the staged part dropped")
    wait_for(lambda: "evidence import of bwc.mp4 by carl refused" in d.daemon.log[log_at:]
             or "failed" in d.daemon.log[log_at:], 30, "the daemon's word on it")
    said = d.daemon.log[log_at:]
    # the refusal in the words of the person's language (the desk's session), with how far the file came
    assert re.search(r"refused: (the browser stopped sending the file after|瀏覽器傳送檔案至) \d+", said), said
    assert "Traceback" not in said and "internal error" not in said and "failed" not in said, said
    assert kept(data) == before, "nothing kept"
