"""The check the desk walks run on every page (tests/support/leaks.py, issue 42's done-when): it
catches each kind of id or English a person of the site must not meet, and passes the site's
words, numbers, ROC dates, the office's abbreviations and the proper names it is given. Also the
inspection anomalies in the reader's words (edged/documents/register.py `found`, design/0240)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from edged.config import load_config
from edged.config.summary import settings_in_force
from edged.documents import Doc
from edged.documents.audit import audit_report_html
from edged.i18n import speaking
from edged.rules.persons import names_of
from edged.documents.register import found
from edged.i18n import Msg, N_
from edged.rules.inspections import anomalies, item
from tests.support.forms import AUDIT, PRINTED, TAIPEI
from tests.support.leaks import leaks

CAMERAS = {"1至4號櫃檯", "大廳"}


@pytest.mark.parametrize("text, caught", [
    ("核章：黃志明（主任）", []),                                                 # the office's words
    ("須由 chou 核章，不是 chief", ["chief", "chou"]),                            # login names for people
    ("已核准（林書記 115/11/24 14:30）", []),                                      # a ROC date and time
    ("本處 [policy.units] 所列的單位", ["policy.units"]),                       # a config key
    ("僅允許 approver 設定（placed_by）", ["approver", "placed_by"]),             # a role key and a config key
    ("拒絕：hold.add 需要權限", ["hold.add"]),                                    # an operation key
    ("request.file 的申請", ["request.file"]),
    ("citizen 申請在本場所僅能view，不得copy", ["citizen", "copy", "view"]),     # kind and mode keys
    ("custodian 或 legal 保存", ["custodian", "legal"]),
    ("請填寫來函文號（--letter）或單位（--org）", ["letter", "org"]),              # command-line flags
    ("請以 edgectl hold approve 核准", ["approve", "edgectl", "hold"]),           # the tool's name and words
    ("密碼未變更：a password must not contain the account name",                 # an English sentence
     ["account", "contain", "must", "name", "not", "password", "the"]),
    ("匯出 12.5 MB，SHA-256 雜湊；列印於 A4（Ctrl+P）", []),                     # the office's abbreviations
    ("1至4號櫃檯 (counter-1)", ["counter-1"]),                                   # a camera's id beside its name
    ("1至4號櫃檯、大廳", []),                                                     # cameras by their names
    ("鍵：PageUp、PageDown 換頁，Enter 單獨顯示", []),                            # the keys' own labels
    ("115/11/24 14:30:05", []),
])
def test_each_kind_of_leak_is_caught(text, caught):
    assert leaks(text, CAMERAS) == caught


def test_what_a_site_gives_passes_only_where_given():
    assert leaks("申請人 Lin Mei", {"Lin", "Mei"}) == []
    assert leaks("申請人 Lin Mei") == ["Lin", "Mei"]


def test_inspection_anomalies_in_the_readers_words():
    items = {"picture": item(False, Msg(N_("picture frozen ({share} of it changed between samples)"), share="0.1%"),
                             Msg(N_("no colour in daylight hours (saturation {saturation})"), saturation="2.0")),
             "audio": item(False, Msg(N_("no audio arrives from a camera marked audio_required"))),
             "quality": item(False, Msg(N_("resolution {w}x{h} ({mp} MP) is below the floor {fw}x{fh} and {fmp} "
                                           "megapixel"), w=320, h=240, mp="0.08", fw=1280, fh=720, fmp="1")),
             "recording": item(True, Msg(N_("segments being written")))}
    record = {"items": items, "anomalies": anomalies(items)}
    with speaking("zh-TW"):
        said, foreign = found(record)
        assert not foreign and leaks(said) == [], said
        assert "畫面幾乎靜止，兩次取樣間僅 0.1% 變動" in said and "320×240" in said and "聲音" in said, said
        # a camera's own error is someone else's words: said as abnormal, the English left to the technician
        bad = {"recording": item(False, Msg(N_("not recording: {error}"), error="[Errno 111] Connection refused"))}
        said, foreign = found({"items": bad, "anomalies": anomalies(bad)})
        assert foreign and leaks(said) == [] and "異常" in said, said
    assert found({"items": {}, "anomalies": ""}) == ("", False)


SITES = sorted((Path(__file__).resolve().parents[1] / "examples" / "sites").glob("*.toml"))
DROP = re.compile(r"<(style|code)\b.*?</\1>|<[^>]+>", re.S)   # data to compare (a hash, a path) is not words


@pytest.mark.parametrize("path", SITES, ids=[p.name[:3] for p in SITES])
def test_the_printed_audit_report_in_the_offices_words(path):
    """The auditor's report (issue 42 item 1) as each seed site prints it, in zh-TW: its settings
    in force and its deadlines as well as its use, with people and cameras by name and no key,
    id or English left (the `code` of a hash or a path is data, as the walks read it)."""
    cfg = load_config(path)
    cams = {c.id: c.name for c in cfg.cameras}
    cam = cfg.cameras[0].id
    r = json.loads(json.dumps(AUDIT))   # the sample, on this site's cameras and people
    for part in (r["requests"], r["viewings"]):
        part[0]["cameras"] = [cam]
    r["requests"][0]["category"], r["requests"][0]["flag"] = cfg.policy.categories[0], "major"
    r["destructions"]["by_camera"][0]["camera"] = cam
    r["accounts"][0]["events"] = [{"action": a, "at_us": PRINTED, "by": "wang", "reason": why} for a, why in (
        ("opened", "first admin, created on the box by root"), ("password", "changed by the account holder"),
        ("live.granted", "值勤需要"), ("signed:opened", "主管"))]
    r["live_and_playback"] = [{"seq": 1, "at_us": PRINTED, "actor": "wang", "action": "live.start", "detail": "{}"}]
    r["holds"] = [{"id": 1, "kind": "evidence", "cameras": [cam], "case_ref": "115-陳-001", "placed_us": PRINTED,
                   "placed_by": "wang", "ended_us": PRINTED, "ended_how": "released", "ended_by": "wang"}]
    r["exports"] = [{"id": 1, "grant_id": 5, "request_id": 12, "cameras": [cam], "created_us": PRINTED,
                     "custodian": "wang", "approver": "director", "bytes": 1_800_000, "manifest_sha256": "ab" * 32}]
    r["settings"] = {"in_force": settings_in_force(cfg), "sha256": "cd" * 32, "config_file": "/etc/edged/edged.toml",
                     "config_file_sha256": "ef" * 32}
    r["recorded"] = {"name": "王小明", "account": "wang", "at_us": PRINTED}
    r["deadlines"] = {"last_audit": {"at_us": PRINTED, "by": "王小明", "account": "wang"}, "audit_due_us": PRINTED,
                      "register_due_us": PRINTED, "registers_late": [{"month": "2026-10", "due_us": PRINTED, "runs": [7]}]}
    r["inspections"][0]["kind"] = "scheduled"
    accounts = [{"name": "wang", "full_name": "王小明"}, {"name": "director", "full_name": "黃主任"},
                {"name": "clerk", "full_name": "林書記"}, {"name": "custodian", "full_name": "陳管理"},
                *({"name": a, "full_name": f"核章{i}"} for i, a in enumerate(sorted(
                    {a for k in cfg.policy.kinds.values() for s in k.chain for a in s.approvers or ()})))]
    with speaking("zh-TW"):
        names = names_of(accounts, cfg.policy.titles, cfg.policy.units)
        doc = Doc("zh-TW", TAIPEI, cfg.site.name, forms=cfg.forms, names=names)
        page = audit_report_html(doc, r, PRINTED, cams)
    text = html.unescape(DROP.sub(" ", page))
    # a name typed at a failed login; the OS user who opened the first admin, on the record
    allowed = {cfg.site.name, *cams.values(), *cfg.policy.units, "mallory", "root"}
    assert leaks(text, allowed) == [], text
    assert "王小明" in text and cams[cam] in text and "重大" in text and "日" in text, text
    assert "ab" * 32 not in text and "cd" * 32 in page, "the hashes printed as data"
