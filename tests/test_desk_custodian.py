"""The custodian's pages at the web desk (issue 30, design/0073), on the fixtures of
tests/test_desk.py (a real daemon recording a real RTSP camera, headless Chromium): the
custodian runs and signs an inspection, an approver finds it in the inbox and countersigns it,
the month's register is printed (PDF) by the renderer edgectl uses. Every page is read
in zh-TW and English (screenshotted with EDGED_WALK_SHOTS=DIR); each action must be on the audit record under the person's account.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from storage.export import checking
from storage.time.clock import SYSTEM
from tests.support.daemon import wait_for
from tests.support.people import password_for
from tests.test_desk import SITE, both_languages, desk, first_login, open_account, shoot  # noqa: F401 (the fixture)

@pytest.fixture(scope="module")
def people(desk):  # noqa: F811
    """carl the custodian and dora the approver, opened by the admin at the desk."""
    admin = desk.login("admin", password_for("admin"))
    for name, role in (("carl", "custodian"), ("dora", "approver")):
        first_login(desk, name, open_account(desk, admin, name, role))
    admin.context.close()
    return desk


def test_an_inspection_run_signed_by_the_custodian_countersigned_from_the_inbox_and_printed(people):
    d = people
    wait_for(lambda: len(d.daemon.segments("cam1")) >= 2, 60, "footage of cam1")
    carl = d.login("carl", password_for("carl"))
    carl.goto(d.base + "/desk/inspections")
    shoot(d, carl, "inspections-empty-carl", "zh-TW")
    carl.click("form[action='/desk/inspections/run'] button")
    carl.wait_for_selector(".notice-ok")
    run_id = int(re.search(r"/desk/inspections/(\d+)", carl.url)[1])
    assert [r["actor"] for r in d.audit("inspection.run")] == ["carl"]
    assert carl.locator("#countersign").count() == 0, "the custodian does not countersign"
    shoot(d, carl, "inspection-carl", "zh-TW")
    for note in carl.locator("#sign textarea").all():   # the handling of each anomaly, if any
        note.fill("已通知廠商檢修")
    carl.click("#sign button[type=submit]")
    carl.wait_for_selector(".notice-ok")
    assert carl.locator("#sign").count() == 0, "signed once"
    signed = d.audit("inspection.sign")
    assert [(r["actor"], r["detail"]["run"]) for r in signed] == [("carl", run_id)]
    r = carl.request.post(d.base + f"/desk/inspections/{run_id}/countersign", form={"name": "carl"})
    assert r.status == 403, "no CSRF token, and not the custodian's operation"

    dora = d.login("dora", password_for("dora"))
    assert dora.locator(".st-wait").count() == 1, "her home says something waits for her"
    dora.goto(d.base + "/desk/inbox")
    shoot(d, dora, "inbox-inspection-dora", "zh-TW")
    dora.click(f"a[href='/desk/inspections/{run_id}']")
    assert dora.locator("#sign").count() == 0, "the approver does not sign as the inspector"
    dora.click("#countersign button[type=submit]")
    dora.wait_for_selector(".notice-ok")
    assert dora.locator(".st-done").count() >= 1 and dora.locator("#countersign").count() == 0
    assert [(r["actor"], r["detail"]["run"]) for r in d.audit("inspection.countersign")] == [("dora", run_id)]
    dora.goto(d.base + "/desk/inbox")
    assert dora.locator(f"a[href='/desk/inspections/{run_id}']").count() == 0, "no longer waiting"

    # the month's register, the renderer `edgectl inspect report` writes, printed to PDF
    dora.goto(d.base + "/desk/inspections")
    dora.click("a[href^='/desk/inspections/register']")
    text = dora.inner_text("body")
    assert "民國" in text and "carl" in text and "dora" in text and "櫃檯" in text
    csp = dora.request.get(d.base + "/desk/inspections/register").headers["content-security-policy"]
    assert "sha256-" in csp and "script" not in csp
    dora.pdf(path=str(d.shots / "register.pdf"), format="A4")
    assert (d.shots / "register.pdf").read_bytes()[:4] == b"%PDF"
    dora.context.close()

    # the clerk and the admin may not reach the inspections
    admin = d.login("admin", password_for("admin"))
    for path in ("/desk/inspections", f"/desk/inspections/{run_id}", "/desk/inspections/register"):
        assert admin.request.get(d.base + path).status == 403, path
    admin.context.close()
    both_languages(d, {"inspections": "/desk/inspections", "inspection": f"/desk/inspections/{run_id}",
                       "cameras": "/desk/cameras"}, "carl",
                   password_for("carl"))
    both_languages(d, {"inbox": "/desk/inbox", "inspection": f"/desk/inspections/{run_id}"}, "dora",
                   password_for("dora"))
    carl.context.close()


def test_the_cameras_state_and_the_open_alarms_read_only(people):
    d = people
    wait_for(lambda: len(d.daemon.segments("cam1")) >= 1, 60, "footage of cam1")
    carl = d.login("carl", password_for("carl"))
    carl.click("a[href='/desk/cameras']")   # in the navigation
    # recording, or degraded when a loaded test box delivers fewer frames than the camera's rate
    cams = carl.locator("main table").first
    wait_for(lambda: carl.reload() or cams.locator("td .st-done, td .st-due").count() == 1, 30,
             "cam1 recording on the page")
    shown = carl.inner_text("main")   # the camera by its name, never its id (issue 56)
    assert "櫃檯" in shown and "cam1" not in shown, shown
    assert carl.locator("main form").count() == 0, "read-only"
    # the poster and the inventory print from here (issue 56), the renderers edgectl writes
    for href in ("/desk/cameras/notice", "/desk/cameras/inventory"):
        assert carl.locator(f"main a[href='{href}']").count() == 1, href
        printed = carl.request.get(d.base + href)
        assert printed.status == 200 and "櫃檯" in printed.text() and "cam1" not in printed.text(), href
    shoot(d, carl, "cameras-carl", "zh-TW")
    carl.context.close()


def test_a_signed_export_made_at_the_desk_and_downloaded_once_by_its_custodian(people, tmp_path):
    d = people
    wait_for(lambda: len(d.daemon.segments("cam1")) >= 2, 60, "footage of cam1")
    zone = ZoneInfo("Asia/Taipei")
    now = datetime.fromtimestamp(SYSTEM.now_us() / 1e6, zone)
    carl = d.login("carl", password_for("carl"))
    carl.goto(d.base + "/desk/requests/new")
    carl.select_option("select[name=kind]", "internal")
    carl.select_option("select[name=category]", "other")
    carl.fill("textarea[name=reason]", "設備異常調查，需複製影像")
    carl.check("input[name=cameras][value=cam1]")
    carl.fill("input[name=from]", (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"))
    carl.fill("input[name=to]", (now + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M"))
    carl.check("input[name=mode][value=copy]")
    carl.fill("input[name=requester]", "林小姐")
    carl.fill("input[name=org]", "政風室")
    carl.click("button[type=submit].primary")
    carl.wait_for_selector(".notice-ok, .notice-error")
    assert carl.locator(".notice-ok").count() == 1, carl.inner_text("main")
    rid = int(re.search(r"/desk/requests/(\d+)", carl.url)[1])
    assert carl.locator("#export").count() == 0, "not approved yet: no export offered"
    dora = d.login("dora", password_for("dora"))
    dora.goto(d.base + f"/desk/requests/{rid}")
    dora.fill("#decide textarea[name=reason]", "同意複製")
    dora.click("#decide button[value=approve]")
    dora.wait_for_selector(".notice-ok")
    assert dora.locator("#export").count() == 0, "the approver does not export"
    assert dora.request.post(d.base + "/desk/exports/new", form={"grant": "1"}).status == 403
    dora.context.close()

    carl.goto(d.base + f"/desk/requests/{rid}")
    shoot(d, carl, "export-offer-carl", "zh-TW")
    carl.click("#export button[type=submit]")
    carl.wait_for_selector("#download", timeout=120_000)
    shoot(d, carl, "export-made-carl", "zh-TW", ("MB", "SHA-256", "ZIP"))  # units and formats
    done = d.audit("export.done")
    assert [r["actor"] for r in done] == ["carl"]
    made = {"public_key": carl.inner_text("#public-key"), "manifest_sha256": carl.inner_text("#manifest-sha256")}
    assert carl.inner_text("#verify-line").startswith("edgectl verify export-"), "the page says how to check it"
    with carl.expect_download() as info:
        carl.click("#download button[type=submit]")
    path = tmp_path / "export.zip"
    info.value.save_as(path)
    with zipfile.ZipFile(path) as z:
        names = {Path(n).name for n in z.namelist()}
        assert {"manifest.json", "manifest.sig"} <= names and len({Path(n).parent for n in z.namelist()}) == 1
        z.extractall(tmp_path / "unzipped")
    folder = next((tmp_path / "unzipped").iterdir())
    assert checking.verify_export(folder, made["public_key"]) == [], "intact and signed by this recorder's key"
    assert hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest() == made["manifest_sha256"]
    reads = d.audit("export.read")
    assert {r["actor"] for r in reads} == {"carl"} and {r["detail"]["file"] for r in reads} == set(names)
    carl.click("#download button[type=submit]")   # a second time: refused, in words
    carl.wait_for_selector(".notice-error")
    assert len(d.audit("export.read")) == len(reads), "nothing more read"
    carl.goto(d.base + f"/desk/requests/{rid}")
    assert carl.locator("#export").count() == 0, "the grant is spent"
    carl.context.close()


def test_the_auditor_prints_the_periodic_report_from_the_desk(people):
    d = people
    admin = d.login("admin", password_for("admin"))
    first_login(d, "aldo", open_account(d, admin, "aldo", "auditor"))
    admin.context.close()
    p = d.login("aldo", password_for("aldo"))
    p.goto(d.base + "/desk/audit")
    shoot(d, p, "audit-report-form-aldo", "zh-TW")
    p.click("#report button[type=submit]")
    p.wait_for_load_state()
    assert "/desk/audit/report?" in p.url
    text = p.inner_text("body")
    assert SITE in text and "民國" in text and "aldo" in text, "the report names the accounts, in ROC dates"
    csp = p.request.get(d.base + "/desk/audit/report").headers["content-security-policy"]
    assert "sha256-" in csp and "script" not in csp
    p.pdf(path=str(d.shots / "audit-report.pdf"), format="A4")
    assert (d.shots / "audit-report.pdf").read_bytes()[:4] == b"%PDF"
    assert "aldo" in {r["actor"] for r in d.audit("audit.report")}
    p.context.close()
    carl = d.login("carl", password_for("carl"))
    assert carl.request.get(d.base + "/desk/audit/report").status == 403, "the auditor's alone"
    carl.context.close()
