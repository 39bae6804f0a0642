"""The web desk at the seed sites (issue 30): the shipped example of a site, a real daemon
recording a real RTSP camera, and Chromium driving one request of the site's `[policy]` from the
clerk's filing, through every sign-off from each approver's inbox, to the custodian's viewing
(a view-only kind) or signed export (a copy) at the desk; every step on the audit record.
The signed application is printed to PDF and read back (issue 91), and a site's other forms
(MORE_FORMS: 001's staff request) are filed and signed in the same walk. Over 400 lines on
purpose: one daemon and one browser a site carry the whole walk (design/0390), so its steps stay
together.

Two sites are walked in Chromium (WALKED, design/0450): 001 (a citizen's viewing on the scrub
timeline, the answer to the applicant, a staff request's unit chief, annex 1's register) and 002
(a copy exported at the desk against the recipient's receipt, the use asked at filing). What the
other sites change is their words, chains and forms, not the path: each site's request filed and
signed at the desk and its printed form are tests/test_desk_words.py's (HTTP, no browser), its
register's annex columns tests/test_paper_words.py's, 004's countersigning per unit
tests/test_register_units.py's, a hold an approver decides tests/test_desk.py's. The same chains
through edgectl are tests/test_desk_words.py's too."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from edged.config import load_config
from edged.i18n import zone
from edged.rules.redaction import redacted_kinds
from storage.time.clock import SYSTEM
from tests.support.browser import CHROMIUM, launch, view_end_s
from tests.support.cameras import free_port
from tests.support.catalog import audit_rows, rows
from tests.support.daemon import Daemon, wait_for
from tests.support.people import People, password_for
from tests.support.paper import paper_faults, read_back
from tests.support.walk import Shots
from tests.test_desk_redaction import redacted_at_the_desk
from tests.test_paper_words import ANNEX_1_OF_001, ANNEX_4_OF_004
from tests.test_desk_words import FIELDS, roc
from tests.test_sites import CASES, camera, signers_for, site_config, unit_of  # noqa: F401 (camera: a fixture)

# the people of the walk by their names, as a site opens their accounts (design/0112): the desk
# and the forms show these, never the login names
FULL_NAMES = {"admin": "張志豪", "clerk": "林雅婷", "carol": "陳美玲", "audrey": "王淑芬"}
SIGNER_NAMES = ("黃志明", "李建國", "吳淑惠", "劉俊宏", "鄭文華")
# what the walk's people type that is not in the site's words (an ID number), and what the accounts'
# applications say (tests/support/people.py's reason) with the box's OS user who opened the first
TYPED = {"A123456789", "test", "application", "root"}
ANNEXES = {"000": ["年月日", "有無異常", "姓名", "處理情形", "主管核章"], "001": ANNEX_1_OF_001, "004": ANNEX_4_OF_004}
# the forms a site's walk prints after its first request's (issue 91): 001's staff request (附件4)
MORE_FORMS = {"001-land-office": [("internal", "view")]}
# the sites walked in Chromium (design/0450): a viewing and a copy, the others' differences by contract
WALKED = [case for case in CASES if case[0][:3] in ("001", "002")]


def _sent(page, what: str) -> int:
    """The form on `page` sent by its primary button: it must be taken (a refusal fails with the page's
    words), and the id of the hold or request it made, from the page it lands on."""
    page.click("button[type=submit].primary")
    page.wait_for_selector(".notice-ok, .notice-error")
    assert page.locator(".notice-ok").count() == 1, page.inner_text("main")
    return int(re.search(rf"/desk/{what}/(\d+)", page.url)[1])


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium-headless-shell is needed for the desk tests: scripts/bootstrap --test")
    pw, chromium = launch()
    yield chromium
    chromium.close()
    pw.stop()


def login(browser, base: str, name: str, shots: Shots):
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(base + "/desk/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password_for(name))
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state()
    assert page.url.endswith("/desk/"), f"{name} logged in: {page.url}"
    shots(page, f"home-{name}")
    return page


def printed_by_the_custodian_not_the_clerk(browser, base: str, d, people, cfg, rid: int, kind: str,
                                           use: str, shots: Shots) -> None:
    """The usage register (001 附件5, design/0089): the custodian prints it from the desk and from
    edgectl, the clerk may do neither; for a citizen's request, the answer with its due date on
    the site's calendar (001 第十七點: 6 days), from both; for a copy, the receipt, with a fee line
    only where the site charges the kind (002 第八點(三))."""
    tz, tmp = zone(cfg.site.timezone), d.data_dir.parent
    request = rows(d, "requests")[0]
    start = datetime.fromtimestamp(request["filed_us"] / 1e6 - 3600, tz)
    carol = login(browser, base, "carol", shots)
    assert carol.locator("a[href='/desk/usage']").count() == 1, "the custodian's desk offers the usage register"
    carol.goto(base + "/desk/usage")
    carol.fill("#usage input[name=from]", roc(start))
    carol.click("#usage button[type=submit]")
    carol.wait_for_load_state()
    text = carol.inner_text("body")
    shots(carol, "usage-register-carol")
    assert "錄影監視系統影音應用記錄簿" in text and "林美" in text and "民眾反映櫃檯遺失皮夾" in text, text
    r = people.as_("carol").ctl("request", "usage", "--from", start.isoformat(), "--out", str(tmp / "u.html"),
                                "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["uses"] == 1, r.stderr
    if kind == "citizen":  # the answer to the applicant, once decided
        due = datetime.fromtimestamp((request["due_us"] - 1) / 1e6, tz).date()
        assert due == datetime.fromtimestamp(request["filed_us"] / 1e6, tz).date() + timedelta(days=6)
        due_roc = f"民國{due.year - 1911}年{due.month}月{due.day}日"
        carol.goto(f"{base}/desk/requests/{rid}")
        carol.click(f"a[href='/desk/requests/{rid}/reply']")
        carol.wait_for_load_state()
        text = carol.inner_text("body")
        shots(carol, "reply-carol")
        assert "錄影監視系統影音資料調閱申請答復" in text and due_roc in text and "☑ 同意" in text, text
        assert carol.pdf(format="A4").startswith(b"%PDF")
        r = people.ctl("request", "reply", str(rid), "--out", str(tmp / "reply.html"))
        assert r.returncode == 0 and due_roc in (tmp / "reply.html").read_text(), r.stderr
    if use == "copy":
        carol.goto(f"{base}/desk/requests/{rid}/receipt")
        text = carol.inner_text("body")
        shots(carol, "receipt-carol")
        assert "影音資料複製簽收單" in text and "林美" in text and "簽收人（簽章）" in text, text
        assert ("費用" in text) == (kind in cfg.forms.fees), text
    carol.context.close()
    clerk = login(browser, base, "clerk", shots)
    assert clerk.locator("a[href='/desk/usage']").count() == 0
    answer = clerk.goto(base + "/desk/usage/register")
    refused = clerk.inner_text("main")   # design/0103: the person's words, no operation key
    shots(clerk, "usage-refused-clerk")
    assert answer.status == 403 and "系統管理人" in refused and "usage.register" not in refused, refused
    clerk.context.close()
    r = people.as_("clerk").ctl("request", "usage", "--from", start.isoformat(), "--out", str(tmp / "x.html"))
    assert r.returncode != 0 and "usage.register" in r.stderr and not (tmp / "x.html").exists(), r.stderr
    printed = [a["actor"].split(" ")[0] for a in audit_rows(d) if a["action"] == "usage.register"]
    assert printed == ["carol", "carol"], printed   # who printed it is on the record; a refusal prints nothing


def scrubbed(carol, d, cfg, grant, shots: Shots) -> None:
    """The viewing on its scrub timeline (design/0114): the grant's footage as a band, a thumbnail a
    slot, each decoded once and on the record; a drag seeks."""
    carol.wait_for_selector("#scrub:not([hidden])")
    carol.click("#pause")   # the footage is short: the viewing stays open while the thumbnails come
    wait_for(lambda: carol.evaluate("edgedScrub.slots > 0 && edgedScrub.thumbs + edgedScrub.missing === "
                                    "edgedScrub.slots"), 60, "every slot's thumbnail answered")
    scrub = carol.evaluate("edgedScrub")
    footage = [b for b in scrub["bands"] if b["kind"] == "footage"]
    assert footage and scrub["thumbs"] >= 1, scrub
    thumbs = audit_rows(d, "footage.thumbnail")   # a read like any other, a record a minute per person and day
    assert thumbs and thumbs[0]["actor"] == "carol" and json.loads(thumbs[0]["detail"])["grant"] == grant["id"]
    view = carol.evaluate("edged.view")
    for query in (f"camera={cfg.cameras[0].id}&slot={scrub['slots']}", "camera=nowhere&slot=0"):
        r = carol.request.get(f"{carol.url.split('/playback')[0]}/api/view/{view}/thumb?{query}")
        assert r.status == 403, (query, r.status)   # outside the grant: refused like a segment
    shots(carol, "playback-carol")
    # a drag along the bar seeks the viewing to the middle of the recorded footage
    target = (footage[-1]["from_us"] + footage[-1]["to_us"]) // 2
    box = carol.locator("#scrub-bar").bounding_box()
    x = box["x"] + box["width"] * (target - grant["from_us"]) / (grant["to_us"] - grant["from_us"])
    carol.mouse.move(box["x"] + 5, box["y"] + 30)
    carol.mouse.down()
    carol.mouse.move(x, box["y"] + 30, steps=5)
    carol.mouse.up()
    assert carol.evaluate("edgedScrub.seeks") == 1
    wait_for(lambda: abs(carol.evaluate("edged.playback.position") - target) < 4_000_000, 30,
             "the viewing at the time dragged to")


def live(browser, base: str, cfg, shots: Shots) -> None:
    """The custodian watches the cameras live (she was given it: tests/support/people.py), then her
    page goes away without a word: a tile whose stop beacon the closed context never sent ends when
    the daemon sees its page gone. That takes ICE's consent checks (tests/support/browser.py
    view_end_s), so the walk goes on meanwhile and checks the views ended at its end (design/0200)."""
    cam = cfg.cameras[0].id
    carol = login(browser, base, "carol", shots)
    carol.goto(base + "/grid")
    carol.wait_for_selector("body[data-ready='1']")
    wait_for(lambda: carol.evaluate(
        f"(document.querySelector('.tile[data-camera=\"{cam}\"] video') || {{}}).currentTime > 0.5"),
        60, "the live tile to play")
    shots(carol, "live-grid-carol")
    carol.context.close()


def accounts_printed(browser, base: str, people, shots: Shots) -> None:
    """Every account's applications printed by the account administrator (issue 77 W1): to open it,
    and to change the password each holder set themself (the record's reason is edged's own)."""
    admin = login(browser, base, people.admin, shots)
    for name in ("clerk", "carol", "audrey"):
        for action in ("opened", "password"):
            answer = admin.goto(f"{base}/desk/accounts/{name}/form?action={action}")
            assert answer is not None and answer.status == 200, (name, action)
            shots(admin, f"account-{action}-printed-{name}", allowed={name})   # the form names the account
    admin.context.close()


def a_hold_an_inspection_and_the_month(browser, base: str, d, cfg, signers: list[str], shots: Shots) -> None:
    """The rest of a site's month at the desk (issue 42's done-when): the custodian places a hold
    (an approver decides it where the site asks), runs and signs an inspection (countersigned where
    the site asks), and the auditor reads the month."""
    cam = cfg.cameras[0].id
    now = datetime.fromtimestamp(SYSTEM.now_us() / 1e6, zone(cfg.site.timezone))
    carol = login(browser, base, "carol", shots)
    carol.goto(base + "/desk/holds/new")
    carol.check(f"input[name=cameras][value='{cam}']")
    carol.fill("input[name=from]", roc(now - timedelta(minutes=3)))   # as a person at the site types it
    carol.fill("input[name=to]", roc(now))
    carol.fill("textarea[name=reason]", "民眾陳情，保全證據")
    carol.fill("input[name=case_ref]", "115-陳-001")
    shots(carol, "hold-form-carol")
    hid = _sent(carol, "holds")
    shots(carol, "hold-placed-carol")
    carol.goto(f"{base}/desk/holds/{hid}/form")   # printed while it may wait: the expiry asked, and its lapse
    shots(carol, "hold-printed-carol")
    if carol.locator(".st-open").count():   # waits for an approver at this site
        for signer in reversed(signers):
            p = login(browser, base, signer, shots)
            p.goto(f"{base}/desk/holds/{hid}")
            shots(p, f"hold-{signer}")
            if p.locator("#decide").count():
                p.click("#decide button[value=approve]")
                p.wait_for_selector(".notice-ok")
                shots(p, f"hold-approved-{signer}")
                p.context.close()
                break
            p.context.close()
        assert audit_rows(d, "hold.approve"), "an approver of the site decided the hold"

    carol.goto(base + "/desk/inspections")
    shots(carol, "inspections-carol")
    carol.click("form[action='/desk/inspections/run'] button")
    carol.wait_for_selector(".notice-ok")
    run_id = int(re.search(r"/desk/inspections/(\d+)", carol.url)[1])
    for note in carol.locator("#sign textarea").all():   # the handling of each anomaly, if any
        note.fill("已通知廠商檢修")
    shots(carol, "inspection-carol")
    carol.click("#sign button[type=submit]")
    carol.wait_for_selector(".notice-ok")
    shots(carol, "inspection-signed-carol")
    for signer in signers:
        p = login(browser, base, signer, shots)
        p.goto(f"{base}/desk/inspections/{run_id}")
        shots(p, f"inspection-{signer}")
        if p.locator("#countersign").count():
            p.click("#countersign button[type=submit]")
            p.wait_for_selector(".notice-ok")
            shots(p, f"inspection-countersigned-{signer}")
            p.context.close()
            break
        p.context.close()
    carol.goto(base + "/desk/inspections/register")
    shots(carol, "inspection-register-carol")
    annex = ANNEXES.get(cfg.site.id[-3:])   # the register in the annex's own columns (design/0261)
    if annex is not None:
        for table in carol.locator("table:has(th)").all():
            assert [th.strip() for th in table.locator("th").all_inner_texts()] == annex, cfg.site.id
        cells = carol.locator("td").all_inner_texts()
        if cfg.site.id.endswith("001"):   # one row per item, the date and time written once across them
            assert [c for c in cells if c in ("聲音", "畫面", "權限登入")][:3] == ["聲音", "畫面", "權限登入"], cells
            assert carol.locator("td[rowspan='3']").count() >= 2, cells
    assert audit_rows(d, "inspection.sign"), "the inspection signed"

    audrey = login(browser, base, "audrey", shots)   # the auditor's day leads her home page
    for path, step in (("/desk/audit", "audit-log"), ("/desk/audit/report", "audit-report")):
        answer = audrey.goto(base + path)
        assert answer is not None and answer.status == 200, path
        shots(audrey, f"{step}-audrey")
    audrey.goto(base + "/desk/audit#done")   # the half-yearly audit (002 §17) recorded as done at the desk
    audrey.fill("#done textarea[name=note]", "本期抽查無異常")
    audrey.click("#done button[type=submit]")
    audrey.wait_for_selector(".notice-ok")
    shots(audrey, "audit-done-audrey")
    (done,) = audit_rows(d, "audit.done")
    assert done["actor"].split(" ")[0] == "audrey" and FULL_NAMES["audrey"] in done["detail"], done
    audrey.context.close()
    carol.context.close()


def application_read_back(browser, base: str, cfg, rid: int, kind: str, use: str, names: dict[str, str],
                          shots: Shots) -> None:
    """The signed application printed from the desk, to PDF, and read back (issue 91): the site's
    own form where it has one (000 附件2, 001 附件4, ...), every signer by name, and no English,
    login, id or wrong term on the paper."""
    carol = login(browser, base, "carol", shots)
    answer = carol.goto(f"{base}/desk/requests/{rid}/form")
    assert answer is not None and answer.status == 200, rid
    shot = shots(carol, f"application-{kind}-printed-carol")
    text = read_back(carol, shot)   # beside the screenshot where EDGED_WALK_SHOTS keeps them
    own = cfg.forms.form_for(kind)
    assert own is None or own.title in "".join(text.split()), text
    assert all(full in text for full in names.values()), (names, text)
    assert cfg.forms.modes.get(use, "") in text, text   # 003's 保存 for a copy (design/0447)
    assert kind == "citizen" or "已查驗身分" not in text, text   # a citizen's lines on a citizen's paper only
    assert not paper_faults(text, shots.allowed), (paper_faults(text, shots.allowed), text)
    carol.context.close()


def filed_and_signed(browser, base: str, cfg, kind: str, use: str, org: str, signers: list[str],
                     shots: Shots) -> int:
    """The clerk files a request of `kind` at the desk, and each step is signed from its approver's
    inbox, in order: the request's id."""
    cameras = [c.id for c in cfg.cameras]
    # the clerk files it
    now = datetime.fromtimestamp(SYSTEM.now_us() / 1e6, zone(cfg.site.timezone))
    clerk = login(browser, base, "clerk", shots)
    clerk.goto(base + "/desk/requests/new")
    clerk.select_option("select[name=kind]", kind)
    clerk.select_option("select[name=category]", cfg.policy.categories[0])
    clerk.fill("textarea[name=reason]", "民眾反映櫃檯遺失皮夾，調閱以釐清")
    for cam in cameras:
        clerk.check(f"input[name=cameras][value='{cam}']")
    # dates in the site's calendar (design/0113): the field shows 民國 years and takes them typed
    assert re.fullmatch(r"1\d\d/\d\d/\d\d \d\d:\d\d", clerk.input_value("input[name=from]")), "ROC, as shown"
    clerk.fill("input[name=from]", roc(now - timedelta(minutes=5)))
    clerk.fill("input[name=to]", roc(now + timedelta(minutes=2)))
    if cfg.policy.asks_purpose:   # 002 第八點(一)(二): 敘明具體事由及用途
        clerk.fill("textarea[name=purpose]", "歸還民眾遺失物")
    if clerk.locator(f"input[name=mode][value={use}]").count():
        clerk.check(f"input[name=mode][value={use}]")
    clerk.fill("input[name=requester]", "林美")
    for field, value in {**({"org": org} if kind == "internal" else {}), **FIELDS.get(kind, {})}.items():
        clerk.fill(f"input[name={field}]", value)
    if kind == "citizen":
        clerk.check("input[name=identity_checked]")
    shots(clerk, "request-form-clerk")
    rid = _sent(clerk, "requests")
    shots(clerk, "request-filed-clerk")
    shown = clerk.inner_text("main")
    assert roc(now - timedelta(minutes=5)) in shown, "what was typed is what is shown"
    assert not cfg.policy.asks_purpose or "歸還民眾遺失物" in shown, "the use (用途) on the request's page"
    assert cfg.forms.modes.get(use, "") in shown, "the mode in the site's word (003: 保存 for a copy)"
    clerk.context.close()

    # every step signed from its approver's inbox, in order
    for signer in signers:
        p = login(browser, base, signer, shots)
        p.goto(base + "/desk/inbox")
        shots(p, f"inbox-{signer}")
        assert p.locator(f"a[href='/desk/requests/{rid}']").count() >= 1, f"the request waits for {signer}"
        p.click(f"a[href='/desk/requests/{rid}']")
        p.fill("#decide textarea[name=reason]", "必要性及關聯性已審核")
        p.click("#decide button[value=approve]")
        p.wait_for_selector(".notice-ok")
        shots(p, f"signed-{signer}")
        assert p.locator("#decide").count() == 0, "signed: no second sign-off by the same person"
        p.context.close()
    return rid


@pytest.mark.parametrize("name, kind, use", WALKED, ids=[c[0][:3] for c in WALKED])
def test_a_request_of_the_site_runs_through_the_desk(tmp_path, camera, browser, name, kind, use):  # noqa: F811
    port = free_port()
    config, data = site_config(name, tmp_path, camera, port)
    cfg = load_config(config)
    rules = cfg.policy.kinds[kind]
    cameras = [c.id for c in cfg.cameras]
    steps = [s for s in rules.chain if s.applies(cameras)]
    base = f"http://127.0.0.1:{port}"
    # each page read for ids and English (tests/support/leaks.py); EDGED_WALK_SHOTS=DIR: each step's
    # page in DIR/<site>/ too, for a person to look at
    shots = Shots(name, allowed={cfg.site.name, *(c.name for c in cfg.cameras), *cfg.policy.units, *TYPED})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, admin_full_name=FULL_NAMES["admin"])
        org = unit_of(cfg.policy) if cfg.policy.units else "行政組"   # where the site lists none, typed as a clerk would
        signers = signers_for(steps, cfg.policy, org)
        more = [(k, u, signers_for([s for s in cfg.policy.kinds[k].chain if s.applies(cameras)], cfg.policy, org))
                for k, u in MORE_FORMS.get(name, ())]   # the site's other forms, in the same walk
        names = dict(zip(dict.fromkeys([*signers, *(x for _k, _u, more_signers in more for x in more_signers)]),
                         SIGNER_NAMES, strict=False))
        for signer, full in names.items():   # first: at 001 they sign the others' applications
            people.add(signer, "approver", full_name=full)   # (design/0113)
        for who, role in (("clerk", "viewer"), ("carol", "custodian"), ("audrey", "auditor")):
            people.add(who, role, full_name=FULL_NAMES[who])
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        wait_for(lambda: all(len(d.segments(c)) >= 2 for c in cameras), 60, "footage on every camera")

        rid = filed_and_signed(browser, base, cfg, kind, use, org, signers, shots)
        application_read_back(browser, base, cfg, rid, kind, use, {s: names[s] for s in signers}, shots)
        request = rows(d, "requests")[0]
        assert request["state"] == "approved", request

        # the custodian uses the grant at the desk
        carol = login(browser, base, "carol", shots)
        if use == "copy":
            carol.goto(base + f"/desk/requests/{rid}")
            if rules.receipt:
                carol.fill("#export input[name=receipt]", "林美")
            shots(carol, "export-form-carol")
            carol.click("#export button[type=submit]")
            carol.wait_for_selector("#download", timeout=120_000)
            shots(carol, "exported-carol")
        elif kind in redacted_kinds(cfg.policy.kinds):   # a citizen sees only themselves (design/0232)
            redacted_at_the_desk(carol, d, base, rid, use, shots)
        else:
            grant = rows(d, "grants")[0]
            carol.goto(base + "/playback")
            carol.fill("#grant", str(grant["id"]))
            carol.click("#lookup button")
            carol.wait_for_selector("#start", state="visible")
            shots(carol, "playback-grant-carol")
            carol.click("#start")
            wait_for(lambda: audit_rows(d, "playback.start") or carol.text_content("#message"), 60,
                     "the viewing started")
            assert audit_rows(d, "playback.start"), carol.text_content("#message")
            scrubbed(carol, d, cfg, grant, shots)
        carol.context.close()
        wait_for(lambda: rows(d, "requests")[0]["state"] == "used", 30, "the grant used")
        live(browser, base, cfg, shots)
        printed_by_the_custodian_not_the_clerk(browser, base, d, people, cfg, rid, kind, use, shots)
        a_hold_an_inspection_and_the_month(browser, base, d, cfg, signers, shots)
        for more_kind, more_use, more_signers in more:   # e.g. 001's staff request (附件4) after its citizen's
            more_id = filed_and_signed(browser, base, cfg, more_kind, more_use, org, more_signers, shots)
            application_read_back(browser, base, cfg, more_id, more_kind, more_use, {s: names[s] for s in more_signers}, shots)
        accounts_printed(browser, base, people, shots)
        wait_for(lambda: len(audit_rows(d, "live.stop")) == len(audit_rows(d, "live.start")) > 0, view_end_s(),
                 "the live views to end")
        assert shots.found == {}, "ids or English on the pages:\n" + json.dumps(shots.found, ensure_ascii=False, indent=0)
    finally:
        assert d.stop() == 0, d.log[-3000:]
    actions = [(r["action"], r["actor"]) for r in audit_rows(d)
               if r["action"].split(".")[0] in ("request", "grant", "export", "playback")]
    assert actions[0] == ("request.file", "clerk")
    assert [a for a in actions if a[0] in ("request.step", "request.approve")] == [
        (f"request.{'approve' if i == len(chain) - 1 else 'step'}", who)
        for chain in (signers, *(m for _k, _u, m in more)) for i, who in enumerate(chain)]
    assert ("grant.use", "carol") in actions
    assert (("export.done" if use == "copy" else "playback.start"), "carol") in actions or (
        kind in redacted_kinds(cfg.policy.kinds) and ("export.done", "carol") in actions)
