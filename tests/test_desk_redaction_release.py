"""A citizen's redacted copy released by a second person at the desk (issue 75; design/0347, 0348),
in Chromium, in zh-TW, through the real daemon, at seed site 002 told to ask a second person
([policy.citizen] release_by_another = true) and to allow both ways of hiding (redact =
["everything", "faces"]): carol, a custodian, prepares the copy, is offered the choice and takes
"faces hidden but the applicant's", makes it, and is told it is not hers to release and who may
(no button; a release posted anyway is refused, on the record); dave, another custodian, finds it on
the request's page, opens it (who prepared it, its moments to check), plays it, releases it and
downloads the ZIP once; `edgectl verify` on the folder unzipped says it is a redacted copy of the
export, prepared by carol, released by dave. docs/guide/redaction.md's desk steps are read word for
word: each bold name with the desk's words beside it is that msgid's zh-TW, and each term in
parentheses is on a page the walk showed."""

from __future__ import annotations

import html
import json
import re
import zipfile
from pathlib import Path

import pytest

from edged.config import load_config
from edged.i18n import translations
from tests.support.catalog import audit_rows
from tests.support.cameras import free_port
from edged_evidence_check import check as core
from storage.keys import nodecert
from storage.time.clock import SYSTEM
from tests.support.daemon import ROOT, Daemon, wait_for
from tests.support.enrol import Office
from tests.support.people import People
from tests.support.walk import Shots
from tests.test_desk_redaction import _login, browser, file_citizens_request  # noqa: F401 (browser: a fixture)
from tests.test_sites import camera, signers_for, site_config  # noqa: F401 (camera: a fixture)

S = 1_000_000
SITE = "002-police-station"
GUIDE = ROOT / "docs" / "guide" / "redaction.md"
CJK = re.compile(r"[\u3400-\u9fff]")
# the desk's words the walk does not reach at a site whose citizen takes a copy: the viewing's button
# (seed 000's; tests/test_desk_redaction.py releases to the viewing), read here as the msgid's zh-TW only
VIEWING_ONLY = {"放行供陪同閱覽"}
CHECKED = "本人已逐一播放各待檢查的時刻"   # the tick, shown only where the copy has moments to check


def desk_steps() -> str:
    """The guide's numbered steps at the desk, as written."""
    section = GUIDE.read_text().split("\n## At the desk\n", 1)[1].split("\n## ", 1)[0]
    return section[section.index("\n1. **"):section.index("**After a restart.**")]


def guide_terms() -> tuple[list[tuple[str, str]], list[str]]:
    """The steps' bold names with the desk's words beside them (`**NAME** (WORDS` or `**NAME**, WORDS`),
    and every term in parentheses with Chinese in it (up to a `;` or `:`, without a closing `…`)."""
    text = " ".join(desk_steps().split())
    pairs = re.findall(r"\*\*([^*]+)\*\*(?: \(|, )([^);:,]*[\u3400-\u9fff][^);:,]*)", text)
    terms = [t.split(";")[0].split(":")[0].rstrip("…").strip() for t in re.findall(r"\(([^()]*(?:（[^）]*）[^()]*)*)\)", text)]
    pairs = [(a, b.strip()) for a, b in pairs]
    return pairs, list(dict.fromkeys([*(t for t in terms if CJK.search(t)), *(b for _a, b in pairs)]))


def test_the_guides_desk_steps_name_the_desks_words():
    """Each bold name in the desk's steps given with its Chinese is the desk's msgid, in its zh-TW."""
    pairs, terms = guide_terms()
    zh = translations("zh_TW")
    assert len(pairs) >= 8 and len(terms) >= 15, (pairs, terms)
    assert [(name, zh.gettext(name)) for name, _w in pairs] == pairs


def _seen(page, seen: list[str]) -> None:
    """The page as it stands, its text and its attributes (a slider's label), for the guide's terms."""
    seen.append(html.unescape(page.content()))


@pytest.mark.timeout(900)   # a daemon, Chromium and an idle-priority redaction on a shared box
def _nothing_signed_reaches_the_preparer(page, base: str, export_id: int, data: Path,
                                        office: Office) -> tuple[str, bytes]:
    """Before the release, what carol's desk can get of the copy (its player reads `redact.read`, which
    serves the copy's folder's clips, and its signed files only once released) is unsigned: the folder
    holds no signed manifest, its clip carries no C2PA manifest, the player's first piece is that
    clip's, and neither the download nor the manifest is served to her (design/0435)."""
    [folder] = [p for p in data.rglob("*.redacted-*") if p.is_dir()]
    assert not any((folder / n).exists() for n in ("manifest.json", "manifest.sig", "released.json")), sorted(
        p.name for p in folder.iterdir())
    [clip] = [p for p in folder.glob("*.mp4") if ".part-" not in p.name]   # the site's camera's clip
    assert core.read_c2pa(clip, nodecert.pem([office.ca]).decode()) == "the C2PA reader finds none"
    got = page.context.request.get(f"{base}/desk/redact/{export_id}/copy/{clip.name}", headers={"Range": "bytes=0-"})
    assert got.status in (200, 206) and got.body() and clip.read_bytes().startswith(got.body()), got.status
    assert page.context.request.get(f"{base}/desk/redact/{export_id}/copy/manifest.json").status == 404
    return clip.name, clip.read_bytes()


def _the_court_checks_the_copy(tmp_path: Path, copy: Path, people: People, office: Office, data: Path,
                               export_id: int) -> None:
    """The ZIP unzipped, alone: the checker and `edgectl verify` with the office's CA and list say
    CHECKED AS A COPY (exit 4); with the export the box staged as its original, CHECKED (exit 0)."""
    (tmp_path / "ca.pem").write_bytes(nodecert.pem([office.ca]))
    (tmp_path / "crl.pem").write_bytes(office.crl_pem(SYSTEM.now_us() + 33 * 86_400 * S))
    court = ["--ca", str(tmp_path / "ca.pem"), "--crl", str(tmp_path / "crl.pem")]
    r = people.ctl("verify", str(copy), *court, "--json")
    got = json.loads(r.stdout)
    assert (r.returncode, got["verdict"]) == (4, "CHECKED AS A COPY"), r.stdout + r.stderr
    assert f"a redacted copy of export {export_id} " in got["why"] and "which was not supplied" in got["why"]
    assert core.check(copy, nodecert.pem([office.ca]), office.crl_pem(SYSTEM.now_us() + 33 * 86_400 * S))[
        "verdict"] == core.COPY, "the checker's own core, the same verdict"
    [staged] = [p.with_name(p.name.split(".redacted-")[0]) for p in data.rglob("*.redacted-*") if p.is_dir()]
    r = people.ctl("verify", str(copy), *court, "--original", str(staged))
    assert r.returncode == 0 and r.stdout.startswith("CHECKED: ") and "its original supplied" in r.stdout, r.stdout


def test_a_second_person_releases_the_copy_at_the_desk(tmp_path, camera, browser):  # noqa: F811
    port = free_port()
    config, data = site_config(SITE, tmp_path, camera, port)
    text = config.read_text()
    config.write_text(re.sub(r'^redact = "everything"', 'redact = ["everything", "faces"]\nrelease_by_another = true',
                             text, count=1, flags=re.M))
    cfg = load_config(config)
    rules = cfg.policy.kinds["citizen"]
    assert (rules.redact, rules.redact_also, rules.release_by_another) == ("everything", ("faces",), True)
    cameras = [cfg.cameras[0].id]
    signers = signers_for([s for s in rules.chain if s.applies(cameras)], cfg.policy, "")
    base = f"http://127.0.0.1:{port}"
    shots = Shots(SITE + "-release", allowed={cfg.site.name, *(c.name for c in cfg.cameras), "林美"})
    seen: list[str] = []
    data.mkdir(exist_ok=True)
    office = Office()   # enrolled: the release signs the copy (C2PA), never the making (design/0435)
    office.enrol(data, cfg.site.id, cfg.site.node)
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, admin_full_name="張志豪")
        for signer, full in zip(signers, ("黃志明", "李建國"), strict=False):
            people.add(signer, "approver", full_name=full)
        people.add("carol", "custodian", full_name="陳美玲")
        people.add("dave", "custodian", full_name="林志偉")
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        wait_for(lambda: len(d.segments(cameras[0])) >= 3, 60, "footage")
        rid = file_citizens_request(people, cfg, cameras[0], d.segments(cameras[0])[:2], "--copy")
        for signer in signers:
            r = people.as_(signer).ctl("request", "approve", str(rid), "--reason", "必要性已審核", "--json")
            assert r.returncode == 0, r.stderr

        # carol prepares it; the site allows both ways of hiding: she takes faces, hides a box and makes it
        carol = _login(browser, base, "carol")
        carol.goto(f"{base}/desk/requests/{rid}")
        _seen(carol, seen)
        carol.fill("#redact input[name=receipt]", "林美")
        carol.click("#redact button[type=submit]")
        carol.wait_for_selector("#redact-mode", timeout=120_000)
        export_id = int(re.search(r"/desk/redact/(\d+)", carol.url)[1])
        assert carol.is_checked("#redact-mode input[value=everything]"), "the site's own first"
        assert carol.locator("#f-marks-0[required]").count() == 1, "everything hidden: the applicant marked"
        _seen(carol, seen)
        shots(carol, "mode-carol")
        carol.check("#redact-mode input[value=faces]")
        carol.click("#redact-mode button[type=submit]")
        carol.wait_for_selector("#f-marks-0:not([required])")
        assert carol.is_checked("#redact-mode input[value=faces]")
        _seen(carol, seen)
        carol.fill("#f-marks-0", "0 96,64,96,96")
        carol.fill("#f-hide-0", "0-2 8,8,48,48")
        carol.click("#mark button[type=submit]")
        carol.wait_for_selector("#made", timeout=600_000)
        _seen(carol, seen)
        made = carol.inner_text("#made")
        assert "陳美玲" in made and "須由另一人放行" in made, made   # why not, and who may, in the site's words
        assert "檢查人簽章" not in made and "審閱版，未簽章：交付時才簽章" in made, made   # issue 75; design/0435
        review = _nothing_signed_reaches_the_preparer(carol, base, export_id, data, office)
        assert carol.locator(f"form[action='/desk/redact/{export_id}/release']").count() == 0, "no button for her"
        shots(carol, "made-carol")
        carol.evaluate(f"""(() => {{ const f = document.createElement('form');   // posted anyway: refused
            f.method = 'post'; f.action = '/desk/redact/{export_id}/release';
            f.innerHTML = '<input name="csrf" value="' + document.querySelector('input[name=csrf]').value
                + '"><input name="checked" value="yes">';
            document.body.append(f); f.submit(); }})()""")
        carol.wait_for_selector(".notice-error", timeout=60_000)
        assert "須由另一人放行" in carol.inner_text(".notice-error"), carol.inner_text("main")
        carol.context.close()
        refused = [json.loads(r["detail"]) for r in audit_rows(d, "redact.release_refused")]
        assert [(x["prepared_by"], x["export"]) for x in refused] == [("carol", export_id)], refused

        # dave finds it on his home page (issue 75) and on the request's page, opens it, plays it,
        # releases it and downloads it once
        dave = _login(browser, base, "dave")
        waiting = dave.inner_text("#copies-to-release")
        assert "陳美玲" in waiting and f"申請案 {rid}" in waiting, waiting
        assert dave.locator(f"#copies-to-release a[href='/desk/redact/{export_id}/review']").count() == 1
        dave.goto(f"{base}/desk/requests/{rid}")
        span = dave.inner_text("main")   # a range of seconds read to the second, with its length (issue 75)
        assert re.search(r"\d\d:\d\d:\d\d ～ \d{3}/\d\d/\d\d \d\d:\d\d:\d\d（\d+ 秒）", span), span
        assert "陳美玲" in dave.inner_text("#redact-review"), dave.inner_text("main")
        _seen(dave, seen)
        shots(dave, "request-dave")
        dave.click("#redact-review a")
        dave.wait_for_selector("#made")
        assert dave.url == f"{base}/desk/redact/{export_id}/review"
        about = dave.inner_text("#review")
        assert "陳美玲" in about and "遮蔽申請人以外的人臉" in about, about
        wait_for(lambda: dave.evaluate("document.querySelector('video.redacted').readyState >= 2"), 60,
                 "the copy playable on his page")
        dave.evaluate("document.querySelector('video.redacted').currentTime = 1")   # scrubbed
        wait_for(lambda: dave.evaluate("!document.querySelector('video.redacted').seeking"), 30, "the seek")
        _seen(dave, seen)
        shots(dave, "review-dave")
        ticked = dave.locator("#made input[name=checked]").count() == 1
        if ticked:   # moments to check: played (design/0326)
            dave.check("#made input[name=checked]")
        dave.click(f"form[action='/desk/redact/{export_id}/release'] button")
        dave.wait_for_selector("#download")
        _seen(dave, seen)
        shots(dave, "released-dave")
        with dave.expect_download() as dl:
            dave.click(f"form[action='/desk/redact/{export_id}/download'] button")
        folder = tmp_path / "citizen"
        with zipfile.ZipFile(dl.value.path()) as z:
            names = sorted(z.namelist())
            z.extractall(folder)
        inside = f"export-{export_id}-redacted"
        assert names == [f"{inside}/{n}" for n in ("README.txt", "cam.mp4", "manifest.json", "manifest.sig",
                                                   "node-public-key.pem")] \
            or all(n.startswith(inside + "/") for n in names) and {Path(n).name for n in names} >= {
                "README.txt", "manifest.json", "manifest.sig", "node-public-key.pem"}, names
        readme = (folder / inside / "README.txt").read_text()   # what it is, its original, how to check it
        assert f"匯出編號 {export_id}" in readme and "edgectl verify" in readme, readme
        assert "陳美玲" in readme and "林志偉" in readme and "遮蔽申請人以外的人臉" in readme, readme
        dave.goto(f"{base}/desk/redact/{export_id}/review")
        assert dave.locator(f"form[action='/desk/redact/{export_id}/download']").count() == 0, "downloaded once"
        dave.context.close()
        carol = _login(browser, base, "carol")   # her page now says who released it, and offers nothing
        carol.goto(f"{base}/desk/redact/{export_id}")
        assert "林志偉" in carol.inner_text("#made"), carol.inner_text("main")
        assert carol.locator("#made form").count() == 0 and carol.locator("#mark").count() == 0
        shots(carol, "released-by-dave-carol")
        carol.context.close()

        key = sorted(data.rglob("node-ed25519.pub.pem"))[0]
        r = people.ctl("verify", str(folder / inside), "--key", str(key))
        assert r.returncode == 4 and r.stdout.startswith("CHECKED AS A COPY: "), r.stdout + r.stderr
        assert f"a redacted copy of export {export_id}" in r.stdout and "prepared by carol, released by dave" in r.stdout
        assert "which was not supplied" in r.stdout, r.stdout
        released_clip = (folder / inside / review[0]).read_bytes()
        assert released_clip != review[1] and b"c2pa" in released_clip, "signed at its release, not what carol held"
        _the_court_checks_the_copy(tmp_path, folder / inside, people, office, data, export_id)
        manifest = json.loads((folder / inside / "manifest.json").read_text())
        assert (manifest["redaction"]["prepared_by"], manifest["redaction"]["released_by"],
                manifest["redaction"]["mode"]) == ("carol", "dave", "faces"), manifest["redaction"]
        assert shots.found == {}, "ids or English on the pages:\n" + json.dumps(shots.found, ensure_ascii=False)
    finally:
        assert d.stop() == 0, d.log[-3000:]
    released = [(r["actor"].split(" ")[0], json.loads(r["detail"])) for r in audit_rows(d, "redact.released")]
    assert [(a, x["prepared_by"], x["released_by"], x.get("second_person"), x["use"]) for a, x in released] == [
        ("dave", "carol", "dave", True, "copy")], released
    assert [json.loads(r["detail"])["mode"] for r in audit_rows(d, "redact.started")] == ["faces"]

    # the guide's desk route, word for word: every term it gives in parentheses was on a page walked
    shown = "\n".join(seen)
    _pairs, terms = guide_terms()
    missing = [t for t in terms if t not in shown and t not in VIEWING_ONLY and (ticked or t != CHECKED)]
    assert not missing, missing
