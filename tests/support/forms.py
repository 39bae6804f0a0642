"""A site with Chinese names and the data of each printable document (edged/documents/), as the
daemon's answers carry them: shared by tests/test_documents.py and tests/test_i18n.py."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")


def us(text: str) -> int:
    """Microseconds of a Taipei wall-clock time, e.g. "2026-11-22 09:30"."""
    return int(datetime.fromisoformat(text).replace(tzinfo=TAIPEI).timestamp() * 1_000_000)


SITE_NAME = "景美辦事處"
PRINTED = us("2026-11-22 10:00")
LIST_CHANGED = us("2026-11-20 16:45")

CAMERAS = [
    {"id": "counter1", "name": "櫃檯1", "kind": "network", "location": "一樓大廳", "purpose": "櫃檯爭議及人員安全",
     "coverage": "櫃檯及等候區", "manager": "行政課 王小明", "contact": "02-2931-0000 分機 12",
     "recording_period": "全天24小時", "machine_room": "一樓機房", "asset_number": "3140101-03-000123",
     "min_days": 30, "max_days": 365, "configured": 1, "enabled": 1},
    {"id": "door", "name": "大門", "kind": "analogue", "location": "大門口", "purpose": "門禁安全",
     "coverage": "出入口", "manager": "行政課 王小明", "contact": "02-2931-0000 分機 12",
     "recording_period": "全天24小時", "machine_room": "一樓機房", "asset_number": "3140101-03-000124",
     "min_days": 90, "max_days": 365, "configured": 1, "enabled": 1},
]

RUNS = [{
    "id": 7, "kind": "weekly", "due_us": us("2026-11-03 17:00"), "ran_us": us("2026-11-03 09:12"), "ran_by": "edged",
    "inspector": "林技士", "signed_us": us("2026-11-03 09:40"), "supervisor": "陳課長",
    "countersigned_us": us("2026-11-04 08:30"), "anomalies": 1,
    "records": [
        {"camera": "counter1", "anomalies": "", "handling": "",
         "items": {i: {"ok": True} for i in ("picture", "audio", "recording", "login", "clock", "quality")}},
        {"camera": "door", "anomalies": "畫面模糊", "handling": "已通報廠商清潔鏡頭",
         "items": {**{i: {"ok": True} for i in ("audio", "recording", "login", "clock")},
                   "picture": {"ok": False}, "quality": {"ok": None}}},
    ]}]

REQUEST = {
    "id": 12, "kind": "citizen", "state": "used", "category": "lost-property", "reason": "在櫃檯遺失皮夾",
    "cameras": ["counter1"], "from_us": us("2026-11-21 14:00"), "to_us": us("2026-11-21 14:30"), "mode": "view",
    "requester_name": "張大同", "requester_org": None, "requester_contact": "0912-345-678",
    "requester_account": None, "letter_ref": None, "citizen_id_masked": "A******789", "identity_checked": 1,
    "flag": None, "filed_by": "clerk", "filed_us": us("2026-11-21 15:05"), "due_us": us("2026-11-27 15:05"),
    "decided_by": "director", "decided_us": us("2026-11-21 16:20"), "decision_reason": "事由具必要性及關聯性",
    "chain": [{"name": "課長", "approvers": None}, {"name": "主任", "approvers": ["director"]}],
    "steps": [{"step": 0, "name": "課長", "by": "chief", "at_us": us("2026-11-21 15:40"), "approve": True,
               "reason": "同意"},
              {"step": 1, "name": "主任", "by": "director", "at_us": us("2026-11-21 16:20"), "approve": True,
               "reason": "事由具必要性及關聯性"}],
    "grant": {"id": 5, "mode": "view", "cameras": ["counter1"], "from_us": us("2026-11-21 14:00"),
              "to_us": us("2026-11-21 14:30"), "approver": "director", "approvers": ["chief", "director"],
              "expires_us": us("2026-11-28 16:20"), "used_us": us("2026-11-22 09:30"), "used_by": "custodian",
              "watcher": "張大同"},
}

AUDIT = {
    "from_us": us("2026-05-01 00:00"), "to_us": us("2026-11-01 00:00"), "made_us": PRINTED,
    "accounts": [{"name": "wang", "full_name": "王小明", "roles": ["custodian"], "cameras": None,
                  "opened_us": us("2026-01-05 09:00"), "opened_by": "admin", "revoked_us": None, "revoked_by": None,
                  "events": [{"action": "passwd", "at_us": us("2026-06-01 10:00"), "by": "wang", "reason": "定期更換"}]}],
    "requests": [{**{k: REQUEST[k] for k in ("id", "kind", "state", "category", "mode", "from_us", "to_us",
                                            "requester_name", "filed_by", "filed_us", "due_us", "decided_by",
                                            "decided_us", "decision_reason", "flag")},
                  "cameras": ["counter1"], "grant_id": 5, "used_us": REQUEST["grant"]["used_us"],
                  "used_by": "custodian",
                  "purged_us": None, "late": False}],
    "viewings": [{"grant_id": 5, "request_id": 12, "cameras": ["counter1"], "from_us": REQUEST["from_us"],
                  "to_us": REQUEST["to_us"], "approver": "director", "requester": "張大同",
                  "used_us": REQUEST["grant"]["used_us"], "custodian": "custodian", "watcher": "張大同"}],
    "live_and_playback": [], "exports": [], "holds": [],
    "destructions": {"passes": 4, "by_camera": [{"camera": "counter1", "reason": "max_retention", "segments": 60,
                                                 "bytes": 123_456_789, "oldest_us": us("2025-05-01 00:00"),
                                                 "newest_us": us("2025-05-02 00:00")}],
                     "segments": 60, "bytes": 123_456_789},
    "inspections": [{k: RUNS[0][k] for k in ("id", "kind", "due_us", "ran_us", "ran_by", "anomalies", "inspector",
                                             "signed_us", "supervisor", "countersigned_us")} | {"cameras": 2}],
    "failed_logins": {"total": 1, "by_account": {"mallory": 1},
                      "list": [{"name": "mallory", "via": "edgectl", "at_us": us("2026-07-01 03:00"),
                                "why": "wrong password"}]},
    "audit_chain": {"records": 812, "intact": True, "problem": None, "head": {"seq": 812, "hash": "ab12" * 16}},
}


def seed_table(site: str, header: str) -> str:
    """One table of a shipped example site as written, e.g. seed_table("001-land-office",
    "[forms.account]"): for a test daemon's config to carry a seed site's page (design/0088)."""
    from tests.support.daemon import ROOT

    lines = (ROOT / "examples" / "sites" / f"{site}.toml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.split("#")[0].strip() == header)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return "\n".join(lines[start:end]) + "\n"
