"""A citizen's redacted copy at the desk (issue 54, design/0232), in Chromium, in zh-TW, at the two
seed sites that say how a citizen sees footage: 000 (四(二): viewed only, accompanied) and 002
(八(三): viewed or copied). The request is filed and signed through edgectl (tests/test_sites.py
walks those steps at the desk already); the custodian then does the new part at the desk: the
whole picture is refused, she prepares the copy, drags a box on the applicant on the clip's first
frame, watches the progress bar, scrubs the copy, releases it (000: to the accompanied viewing,
never a download; 002: as the copy, downloaded once as a ZIP of the redacted clips only). Each
page is read for ids and English (tests/support/leaks.py); each step is on the audit record; the
copy hides everything but the box; the original export is untouched."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest

from edged.config import load_config
from tests.support.browser import CHROMIUM, launch
from tests.support.cameras import free_port
from tests.support.catalog import audit_rows, rows
from tests.support.daemon import Daemon, wait_for
from tests.support.faces import FILL_MAX_Y
from tests.support.people import People, password_for
from tests.support.walk import Shots
from tests.test_sites import camera, signers_for, site_config  # noqa: F401 (camera: a fixture)

S = 1_000_000
CASES = [("000-household-registration-office", "view"), ("002-police-station", "copy")]


def preparer_releases(config) -> None:
    """The site's config with its preparer releasing their own copy: seed 000 asks a second person
    (release_by_another, design/0358), whose release tests/test_desk_redaction_release.py walks;
    these tests walk the preparer's own."""
    config.write_text(config.read_text().replace("release_by_another = true", "release_by_another = false", 1))


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium-headless-shell is needed for the desk tests: scripts/bootstrap --test")
    pw, chromium = launch()
    yield chromium
    chromium.close()
    pw.stop()


def _login(browser, base: str, name: str):
    page = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True).new_page()
    page.goto(base + "/desk/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password_for(name))
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state()
    assert page.url.endswith("/desk/"), page.url
    return page


def _started_again(d: Daemon, config, data, tmp_path) -> Daemon:
    """The daemon started again on its data, once its web viewer listens (it loads on a thread
    after the control socket answers, design/0286; the log is one file across the starts)."""
    views = d.log.count("web viewer listening")
    d = Daemon(config, data, tmp_path / "edged.log", init_data=False).start()
    wait_for(lambda: d.log.count("web viewer listening") > views, 60, "the web viewer again")
    return d


def _lumas(data: bytes) -> list:
    with av.open(io.BytesIO(data)) as f:
        return [fr.to_ndarray(format="gray") for fr in f.decode(video=0)]


def file_citizens_request(people, cfg, camera: str, segs: list, *extra: str) -> int:
    """The citizen 林美's request for `camera`'s footage from the first of `segs` to the last (0.3 s
    inside each end), filed by the custodian carol in the site's words; `extra`: more of its flags
    (`--copy`). Returns its id."""
    iso = lambda us: datetime.fromtimestamp(us / S, timezone.utc).isoformat()  # noqa: E731
    args = ["request", "file", "--kind", "citizen", "--category", cfg.policy.categories[0], "--reason",
            "民眾反映櫃檯遺失皮夾", "--camera", camera, "--from", iso(segs[0]["start_us"] + 300_000),
            "--to", iso(segs[-1]["end_us"] - 300_000), "--requester", "林美", "--id-number", "A123456789",
            "--identity-checked", "--contact", "0912-000-000", "--json", *extra]
    args += ["--purpose", "歸還民眾遺失物"] if cfg.policy.asks_purpose else []
    r = people.as_("carol").ctl(*args)
    assert r.returncode == 0, r.stderr
    return int(json.loads(r.stdout)["id"])


def redacted_at_the_desk(carol, d, base: str, rid: int, use: str, shots: Shots):
    """The custodian's part: the request's page offers only the redacted copy; she prepares it, marks
    the applicant by a drag, waits on the bar, scrubs the copy and releases it (and downloads it, for
    a copy). Returns the redacted clip's bytes, the mark, the staged export and its files' SHA-256."""
    carol.goto(f"{base}/desk/requests/{rid}")
    assert carol.locator("#viewing, #export").count() == 0, "no whole-picture viewing or export offered"
    shots(carol, "request-carol")
    if carol.locator("#redact input[name=receipt]").count():
        carol.fill("#redact input[name=receipt]", "林美")
    carol.click("#redact button[type=submit]")
    carol.wait_for_selector("figure.mark, .notice-error", state="attached", timeout=120_000)
    n = carol.locator("figure.mark video").count()
    assert n >= 1, carol.inner_text("main") + d.log[-3000:]   # a clip a camera
    export_id = int(re.search(r"/desk/redact/(\d+)", carol.url)[1])
    staged = Path(rows(d, "exports")[0]["out_dir"])
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(staged.iterdir())}

    # the applicant marked by a drag on each clip's first frame: a box in the picture's middle (more
    # marks, the slider and corrections: tests/test_desk_redaction_marks.py)
    marks = []
    for i in range(n):
        video = f"document.querySelectorAll('figure.mark video')[{i}]"
        wait_for(lambda video=video: carol.evaluate(f"{video}.videoWidth > 0"), 60, "the clip's first frame shown")
        vw, vh = carol.evaluate(f"[{video}.videoWidth, {video}.videoHeight]")
        carol.locator("figure.mark video").nth(i).scroll_into_view_if_needed()   # a clip a camera, one under another
        box = carol.locator("figure.mark video").nth(i).bounding_box()
        carol.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.25)
        carol.mouse.down()
        carol.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=6)
        carol.mouse.up()
        when, box_text = carol.input_value(f"#f-marks-{i}").split()
        mark = [int(v) for v in box_text.split(",")]
        assert when == "0", "marked on the first frame shown"
        assert abs(mark[0] - 0.3 * vw) <= 3 and abs(mark[2] - 0.3 * vw) <= 3 and abs(mark[3] - 0.45 * vh) <= 3, mark
        marks.append(mark)
    shots(carol, "mark-carol")
    carol.click("#mark button[type=submit]")
    if carol.locator("#redact-progress").count():   # the bar, while the worker runs at idle priority
        shots(carol, "making-carol")
    carol.wait_for_selector("#made", timeout=600_000)
    wait_for(lambda: carol.evaluate("document.querySelector('video.redacted').readyState >= 2"), 60,
             "the copy playable on the page")
    carol.evaluate("document.querySelector('video.redacted').currentTime = 1")   # scrubbed
    wait_for(lambda: carol.evaluate("!document.querySelector('video.redacted').seeking"), 30, "the seek")
    shots(carol, "made-carol")
    if carol.locator("#made input[name=checked]").count():   # moments to check: played (design/0326)
        carol.check("#made input[name=checked]")
    carol.click(f"form[action='/desk/redact/{export_id}/release'] button")
    carol.wait_for_selector("#made .notice-ok >> nth=1")
    shots(carol, "released-carol")
    if use == "copy":
        with carol.expect_download() as dl:
            carol.click(f"form[action='/desk/redact/{export_id}/download'] button")
        z = zipfile.ZipFile(dl.value.path())
        names = z.namelist()
        clips = [x for x in names if x.endswith(".mp4")]   # and the copy's manifest signed at its release
        assert len(clips) == n and sorted(Path(x).name for x in names if x not in clips) == [
            "README.txt", "manifest.json", "manifest.sig", "node-public-key.pem"], names
        clip = z.read(clips[0])
        again = carol.request.post(f"{base}/desk/redact/{export_id}/download")
        assert again.status == 403, "no CSRF token; and a second download is refused on the page"
    else:
        assert carol.locator(f"form[action='/desk/redact/{export_id}/download']").count() == 0, "viewed only"
        file = json.loads(audit_rows(d, "redact.made")[0]["detail"])["clips"][0]["file"]
        url, clip, size = f"{base}/desk/redact/{export_id}/copy/{file}", b"", 1
        while len(clip) < size:   # as the page's video reads it: a piece a range
            r = carol.request.get(url, headers={"Range": f"bytes={len(clip)}-"})
            assert r.status == 206, r.status
            clip += r.body()
            size = int(r.headers["content-range"].rsplit("/", 1)[1])
    return clip, marks[0], staged, before


@pytest.mark.timeout(900)   # a daemon, Chromium and an idle-priority redaction on a shared box
@pytest.mark.parametrize("name, use", CASES, ids=[c[0][:3] for c in CASES])
def test_a_citizens_redacted_copy_at_the_desk(tmp_path, camera, browser, name, use):  # noqa: F811
    port = free_port()
    config, data = site_config(name, tmp_path, camera, port)
    preparer_releases(config)
    cfg = load_config(config)
    rules = cfg.policy.kinds["citizen"]
    cameras = [cfg.cameras[0].id]   # one camera: one short clip to redact
    signers = signers_for([s for s in rules.chain if s.applies(cameras)], cfg.policy, "")
    base = f"http://127.0.0.1:{port}"
    shots = Shots(name, allowed={cfg.site.name, *(c.name for c in cfg.cameras), "林美"})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, admin_full_name="張志豪")
        for signer, full in zip(signers, ("黃志明", "李建國", "吳淑惠"), strict=False):
            people.add(signer, "approver", full_name=full)
        people.add("carol", "custodian", full_name="陳美玲")
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        wait_for(lambda: len(d.segments(cameras[0])) >= 3, 60, "footage")
        rid = file_citizens_request(people, cfg, cameras[0], d.segments(cameras[0])[:2],
                                    *(["--copy"] if use == "copy" else []))
        for signer in signers:
            r = people.as_(signer).ctl("request", "approve", str(rid), "--reason", "必要性已審核", "--json")
            assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]
        assert grant["mode"] == use

        # the whole picture is refused: the viewing and the export wait for the redacted copy
        people.as_("carol")
        if use == "copy":
            r = people.ctl("export", "--grant", str(grant["id"]), "--out", str(tmp_path / "whole"),
                           "--receipt", "林美")
            assert r.returncode != 0 and "redacted" in r.stderr and not (tmp_path / "whole").exists(), r.stderr
        carol = _login(browser, base, "carol")
        shots(carol, "home-carol")
        assert carol.locator(f"a[href='/desk/requests/{rid}#redact']").count() == 1, "her day offers the copy"
        clip, mark, staged, before = redacted_at_the_desk(carol, d, base, rid, use, shots)
        for form in ("reply", "receipt") if use == "copy" else ("reply",):   # the printed forms say it
            carol.goto(f"{base}/desk/requests/{rid}/{form}")
            text = carol.inner_text("body")
            assert "第三人" in text and "除申請人外，其餘畫面均已遮蔽" in text, text
        copy = json.loads(audit_rows(d, "redact.made")[0]["detail"])["copy"]
        carol.context.close()

        x, y, w, h = mark
        frames = _lumas(clip)
        assert len(frames) > 10
        for luma in frames:
            outside = luma.copy()
            outside[max(0, y - h // 2):y + h + h // 2, max(0, x - w // 2):x + w + w // 2] = 0
            assert outside.max() <= FILL_MAX_Y        # everyone but the applicant hidden
        assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(staged.iterdir())} == before
        assert shots.found == {}, "ids or English on the pages:\n" + json.dumps(shots.found, ensure_ascii=False)
    finally:
        assert d.stop() == 0, d.log[-3000:]
    actions = [(a["action"], a["actor"].split(" ")[0], json.loads(a["detail"] or "{}")) for a in audit_rows(d)]
    used = [a for a in actions if a[0] == "grant.use"]
    assert [(a[1], a[2]["mode"]) for a in used] == [("carol", "redacted")], used
    assert use == "view" or any(a[0] == "grant.refused" for a in actions), "the whole export was refused"
    released = [a for a in actions if a[0] == "redact.released"]
    assert [(a[1], a[2]["use"], a[2]["copy"]) for a in released] == [("carol", use, copy)], released
    assert [a[1] for a in actions if a[0] in ("redact.started", "redact.made")] == ["carol", "carol"]


@pytest.mark.timeout(600)
def test_the_approver_allows_the_whole_picture_with_a_reason(tmp_path, camera, browser):  # noqa: F811
    """Seed 002 九: the precinct chief (分局長, `[policy.citizen] unredacted_by`) may allow a citizen
    the whole picture, with a reason on the record (design/0276). Refused to the custodian (edgectl
    and the desk share the rule) and without a reason; allowed with one, on the request's page and
    the audit page in the site's words; the custodian then makes the whole export at the desk."""
    name = "002-police-station"
    port = free_port()
    config, data = site_config(name, tmp_path, camera, port)
    preparer_releases(config)
    cfg = load_config(config)
    rules = cfg.policy.kinds["citizen"]
    assert rules.redact == "everything" and rules.unredacted_by, "the seed names who may allow it"
    cameras = [cfg.cameras[0].id]
    signers = signers_for([s for s in rules.chain if s.applies(cameras)], cfg.policy, "")
    chief = sorted(rules.unredacted_by)[0]
    base = f"http://127.0.0.1:{port}"
    reason = "民眾主張法律上利益，須辨識現場其他人之行為"
    shots = Shots(name, allowed={cfg.site.name, *(c.name for c in cfg.cameras), "林美", reason})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, admin_full_name="張志豪")
        fulls = dict(zip(sorted({*signers, chief}), ("黃志明", "李建國", "吳淑惠"), strict=False))
        for signer, full in fulls.items():
            people.add(signer, "approver", full_name=full)
        people.add("carol", "custodian", full_name="陳美玲")
        people.add("audrey", "auditor", full_name="王雅文")
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        wait_for(lambda: len(d.segments(cameras[0])) >= 3, 60, "footage")
        rid = file_citizens_request(people, cfg, cameras[0], d.segments(cameras[0])[:2], "--copy")
        for signer in signers:
            r = people.as_(signer).ctl("request", "approve", str(rid), "--reason", "必要性已審核", "--json")
            assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]

        # the custodian alone never allows it: edgectl asks the same operation the desk does
        r = people.as_("carol").ctl("request", "unredact", str(rid), "--reason", reason)
        assert r.returncode != 0 and rows(d, "grants")[0]["unredacted_by"] is None, r.stderr
        carol = _login(browser, base, "carol")
        carol.goto(f"{base}/desk/requests/{rid}")
        assert carol.locator("#unredact").count() == 0 and carol.locator("#redact").count() == 1
        assert carol.locator("#export").count() == 0, "the whole picture is refused as before"
        shots(carol, "request-carol")

        # the chief: refused without a reason (a word is none), allowed with one
        chief_page = _login(browser, base, chief)
        chief_page.goto(f"{base}/desk/requests/{rid}")
        assert chief_page.locator("#unredact textarea[name=reason]").count() == 1
        shots(chief_page, "request-chief")
        chief_page.click("#unredact button[type=submit]")   # no reason at all: the form is not sent
        assert chief_page.evaluate("document.querySelector('#unredact textarea').validity.valueMissing")
        assert chief_page.url == f"{base}/desk/requests/{rid}"
        chief_page.fill("#unredact textarea[name=reason]", "好")
        chief_page.click("#unredact button[type=submit]")
        chief_page.wait_for_selector("#unredact .notice-error")
        assert "理由" in chief_page.inner_text("#unredact .notice-error")
        shots(chief_page, "refused-chief")
        assert audit_rows(d, "request.unredacted") == [] and rows(d, "grants")[0]["unredacted_by"] is None
        chief_page.fill("#unredact textarea[name=reason]", reason)
        chief_page.click("#unredact button[type=submit]")
        chief_page.wait_for_selector(".notice-ok")
        assert "done=unredacted" in chief_page.url and chief_page.locator("#unredact").count() == 0
        facts = chief_page.inner_text("dl.facts")
        assert "完整畫面" in facts and reason in facts and fulls[chief] in facts, facts
        shots(chief_page, "allowed-chief")
        chief_page.context.close()

        # the custodian now makes the whole export at the desk; no redacted copy is asked
        carol.goto(f"{base}/desk/requests/{rid}")
        assert carol.locator("#redact").count() == 0 and carol.locator("#export").count() == 1
        assert reason in carol.inner_text("dl.facts")
        shots(carol, "request-allowed-carol")
        if carol.locator("#export input[name=receipt]").count():
            carol.fill("#export input[name=receipt]", "林美")
        carol.click("#export button[type=submit]")
        carol.wait_for_selector("#download, .notice-error", timeout=120_000)
        assert carol.locator("#download").count() == 1, carol.inner_text("main") + d.log[-3000:]
        shots(carol, "export-carol")
        carol.context.close()

        # the ethics office reads the decision on the audit page, in words
        audrey = _login(browser, base, "audrey")
        audrey.goto(f"{base}/desk/audit?action=request.unredacted&limit=50")
        text = audrey.inner_text("main")
        assert "准許民眾調閱完整畫面" in text and reason in text, text
        shots(audrey, "audit-audrey")
        audrey.context.close()
        r = people.as_("audrey").ctl("audit", "verify", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert shots.found == {}, "ids or English on the pages:\n" + json.dumps(shots.found, ensure_ascii=False)
    finally:
        assert d.stop() == 0, d.log[-3000:]
    actions = [(a["action"], a["actor"].split(" ")[0], json.loads(a["detail"] or "{}")) for a in audit_rows(d)]
    allowed = [a for a in actions if a[0] == "request.unredacted"]
    assert [(a[1], a[2]["request"], a[2]["grant"], a[2]["reason"]) for a in allowed] == [
        (chief, rid, grant["id"], reason)], allowed
    used = [(a[1], a[2]["mode"]) for a in actions if a[0] == "grant.use"]
    assert used == [("carol", "copy")], used          # the whole picture, used once, after the allowance
    assert [a[0] for a in actions].index("request.unredacted") < [a[0] for a in actions].index("grant.use")
    assert not any(a[0].startswith("redact.") for a in actions)


@pytest.mark.timeout(900)   # a daemon started twice, Chromium and an idle-priority redaction on a shared box
def test_a_copy_whose_daemon_stopped_goes_on_from_the_request_page(tmp_path, camera, browser):  # noqa: F811
    """design/0277: the custodian presses "Make the redacted copy" at the desk; once some of the copy
    is saved the daemon is stopped (SIGTERM) under it and started again; the desk's page of the copy
    is gone with it, and the request's page offers "Go on with the redacted copy", which goes on
    from what was saved (fewer frames made than the clip has) to the same copy as one made without
    a stop."""
    from storage.redact import copies, job as jobs
    from tests.test_redact_restart import _frames, _frozen_at

    name = "000-household-registration-office"
    port = free_port()
    config, data = site_config(name, tmp_path, camera, port)
    preparer_releases(config)
    cfg = load_config(config)
    rules = cfg.policy.kinds["citizen"]
    cameras = [cfg.cameras[0].id]
    signers = signers_for([s for s in rules.chain if s.applies(cameras)], cfg.policy, "")
    base = f"http://127.0.0.1:{port}"
    shots = Shots(name, allowed={cfg.site.name, *(c.name for c in cfg.cameras), "林美"})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, admin_full_name="張志豪")
        for signer, full in zip(signers, ("黃志明", "李建國", "吳淑惠"), strict=False):
            people.add(signer, "approver", full_name=full)
        people.add("carol", "custodian", full_name="陳美玲")
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        # three parts of the copy (5 s each, storage/redact/resume.py; the last shorter): one saved and frozen,
        # the rest made on going on (design/0530)
        wait_for(lambda: sum(s["end_us"] - s["start_us"] for s in d.segments(cameras[0])) >= 12 * S, 120,
                 "12 s of footage: three parts of the copy")
        rid = file_citizens_request(people, cfg, cameras[0], d.segments(cameras[0]))
        for signer in signers:
            r = people.as_(signer).ctl("request", "approve", str(rid), "--reason", "必要性已審核", "--json")
            assert r.returncode == 0, r.stderr

        carol = _login(browser, base, "carol")
        carol.goto(f"{base}/desk/requests/{rid}")
        carol.click("#redact button[type=submit]")
        carol.wait_for_selector("figure.mark", state="attached", timeout=120_000)
        export_id = int(re.search(r"/desk/redact/(\d+)", carol.url)[1])
        staged = Path(rows(d, "exports")[0]["out_dir"])
        before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(staged.iterdir())}
        carol.fill("#f-marks-0", "0 96,64,96,96")
        carol.click("#mark button[type=submit]")
        saved = _frozen_at(d, data, 1)                       # some of the copy saved: the worker held there
        carol.context.close()
        assert d.stop() == 0, d.log[-3000:]                  # the daemon stops under it
        assert not audit_rows(d, "redact.made")

        d = _started_again(d, config, data, tmp_path)
        carol = _login(browser, base, "carol")
        carol.goto(f"{base}/desk/redact/{export_id}")
        assert "不是您在此製作的" in carol.inner_text("body")   # the desk's page of the copy went with the daemon
        carol.goto(f"{base}/desk/requests/{rid}")
        assert carol.locator("#redact-again").count() == 1, carol.inner_text("main")
        shots(carol, "again-carol")
        carol.click("#redact-again button[type=submit]")
        carol.wait_for_selector("#made", timeout=600_000)
        went = re.search(r"從 (\d+)% 繼續製作", carol.inner_text("#made"))   # the bar's "going on from N%", kept
        assert went and 0 < int(went[1]) < 100, carol.inner_text("#made")
        assert carol.input_value("#f-marks-0") == "0 96,64,96,96", "the marks it was asked with, to correct"
        shots(carol, "made-again-carol")
        if carol.locator("#made input[name=checked]").count():   # moments to check: played (design/0326)
            carol.check("#made input[name=checked]")
        carol.click(f"form[action='/desk/redact/{export_id}/release'] button")   # checked and released
        carol.wait_for_selector("#made .notice-ok >> nth=1")
        carol.context.close()
        assert d.stop() == 0, d.log[-3000:]                  # a copy released is never taken up again
        d = _started_again(d, config, data, tmp_path)
        carol = _login(browser, base, "carol")
        carol.goto(f"{base}/desk/requests/{rid}")
        again = carol.inner_text("#redact-again")             # said so, not offered (design/0279)
        # site 000 shows a citizen the copy at the accompanied viewing only (modes = ["view"]): played,
        # nothing handed over (design/0327)
        assert "已放行供陪同閱覽時播放" in again and "不再製作" in again, again
        assert carol.locator("#redact-again form").count() == 0, again
        shots(carol, "released-again-carol")
        carol.evaluate(f"""(() => {{ const f = document.createElement('form');   // asked anyway: refused
            f.method = 'post'; f.action = '/desk/redact/{export_id}/again';
            f.innerHTML = '<input name="csrf" value="' + document.querySelector('input[name=csrf]').value
                + '"><input name="request" value="{rid}">';
            document.body.append(f); f.submit(); }})()""")
        carol.wait_for_selector(".notice-error", timeout=120_000)
        assert "已經交付" in carol.inner_text(".notice-error"), carol.inner_text("main")
        carol.context.close()

        made = json.loads(audit_rows(d, "redact.made")[0]["detail"])
        clip = made["clips"][0]
        kept = made["resumed_frames"][clip["file"]]
        assert kept >= saved * 100 and kept < clip["frames"], made   # 5 s parts at 20 fps: nothing made twice
        folder = next((data / "exports").glob("*.redacted-*"))
        reference = tmp_path / "reference"
        jobs.write_job(reference, json.loads((folder / jobs.JOB).read_text()))
        whole = jobs.run(reference)[clip["file"]]
        assert whole["sha256"] == clip["sha256"]
        (reference / copies.SIGN).write_text(json.dumps({"chain": []}))   # released: its watermark off (design/0479)
        jobs.run(reference)
        assert _frames(folder / clip["file"]) == _frames(reference / clip["file"])
        assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(staged.iterdir())} == before
        assert shots.found == {}, "ids or English on the pages:\n" + json.dumps(shots.found, ensure_ascii=False)
    finally:
        assert d.stop() == 0, d.log[-3000:]
    started = [json.loads(a["detail"]) for a in audit_rows(d, "redact.started")]
    assert [s.get("again", False) for s in started] == [False, True]
    assert len(audit_rows(d, "redact.released")) == 1 and len(audit_rows(d, "redact.made")) == 1
