"""The seed sites' approval and hold rules as shipped (issue 31, design/0075, 0076): each
examples/sites/ config read as the daemon reads it, then its request chains and holds probed with
the pure rules (edged/rules/retrieval.py, edged/rules/holds.py). No daemon: the end-to-end walk is
tests/test_sites.py."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from edged.config import ConfigError, load_config, parse_config
from edged.config.months import months_back_us
from edged.rules.deadlines import local_tz
from edged.daemon.health_monitor import local_minute
from edged.rules import holds, inspections
from storage.time.clock import SYSTEM
from edged.config.policy import KindRules, RequestPolicy, Step, distinct_signers, problems
from edged.rules import retrieval as rq
from edged.rules.retrieval import RequestRuleError
from tests.support.daemon import ROOT

SITES = ROOT / "examples" / "sites"
S = 1_000_000
DAY = 86_400 * S
T0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()) * S
KEY = b"k" * 32


def site(name: str):
    return load_config(next(SITES.glob(f"{name}-*.toml")))


def request(policy, kind="internal", cameras=("counter-1",), org="戶籍課", by="desk", **over):
    fields = {"kind": kind, "category": policy.categories[0], "reason": "a wallet lost at the counter",
              "cameras": list(cameras), "from_us": T0 - 3600 * S, "to_us": T0 - 1800 * S,
              "requester_name": "Lin Mei", "requester_org": org, "letter_ref": "L-1",
              "id_number": "A123456789", "identity_checked": True, **over}
    return {**rq.new_request(fields, filed_by=by, now_us=T0, id_key=KEY, policy=policy), "id": 1}


def walk(req, signers, scopes=None):
    """Sign every step in turn; returns the grant the last one issues."""
    grant = None
    for who in signers:
        changes, grant = rq.decide(req, approver=who, approve=True, reason="necessary", now_us=T0,
                                   grant_ttl_us=DAY, approver_scope=(scopes or {}).get(who))
        req = {**req, **changes}
    assert req["state"] == "approved", req
    return grant


# approval chains (item 1) ----------------------------------------------------------------
def test_000_internal_is_the_four_boxes_of_annex_2_with_the_applying_sections_own_chief():
    pol = site("000").policy
    r = request(pol, org="戶籍課")
    assert [(s["name"], s["approvers"]) for s in r["chain"]] == [
        ("申請課室", ["chen"]), ("管理課室", ["chang"]), ("秘書", ["lin"]), ("主任", ["huang"])]
    with pytest.raises(RequestRuleError, match="signed by chen, not wu"):
        rq.decide(r, approver="wu", approve=True, reason="x", now_us=T0, grant_ttl_us=DAY)
    assert walk(r, ["chen", "chang", "lin", "huang"])["approvers"] == ["chen", "chang", "lin", "huang"]
    # another section's request: its own chief signs the first box
    assert request(pol, org="資訊課")["chain"][0]["approvers"] == ["wu"]
    # the managing section's own request: its chief signs once, as the managing section
    assert [s["name"] for s in request(pol, org="行政課")["chain"]] == ["管理課室", "秘書", "主任"]
    with pytest.raises(RequestRuleError, match="not a unit of this site: choose one of 戶籍課, 資訊課, 行政課"):
        request(pol, org="Counter section")


def test_001_internal_is_the_four_sign_offs_of_annex_4():
    pol = site("001").policy
    r = request(pol, cameras=["records-room"], org="登記課")
    assert [(s["name"], s["approvers"]) for s in r["chain"]] == [
        ("申請單位主管", ["kao"]), ("管理單位主管", ["lai"]), ("秘書", ["wu"]), ("主任", ["cheng"])]
    walk(r, ["kao", "lai", "wu", "cheng"])


def test_004_each_buildings_managing_unit_signs_for_its_own_cameras():
    pol = site("004").policy
    names = lambda cams: [s["name"] for s in request(pol, cameras=cams, org="Class 2A")["chain"]]  # noqa: E731
    assert names(["workshop-1"]) == ["業管單位：機械科", "學務處(學安室)", "學務主任"]
    assert names(["library-1"]) == ["業管單位：圖書館", "學務處(學安室)", "學務主任"]
    assert names(["gate"]) == ["學務處(學安室)", "學務主任"]          # §7(1): student affairs' own area
    both = request(pol, cameras=["library-1", "workshop-1"], org="Class 2A")
    assert [s["name"] for s in both["chain"]] == ["業管單位：圖書館", "業管單位：機械科", "學務處(學安室)", "學務主任"]
    # the department signs for its workshop camera only: its rights need not cover the library's
    scopes = {"chao": ["workshop-1"], "lee": ["library-1"]}
    with pytest.raises(RequestRuleError, match="signed by lee, not chao"):
        rq.decide(both, approver="chao", approve=True, reason="x", now_us=T0, grant_ttl_us=DAY,
                  approver_scope=scopes["chao"])
    walk(both, ["lee", "chao", "kuo", "hsu"], scopes)


@pytest.mark.parametrize("number, kind, names", [
    ("000", "police-urgent", ["主任或其授權人"]), ("002", "internal", ["分局長"]), ("002", "citizen", ["分局長"]),
    ("004", "internal", ["業管單位：圖書館", "業管單位：機械科", "學務處(學安室)", "學務主任"]),
    ("004", "agency", ["學務處(學安室)", "學務主任"])])
def test_the_steps_the_rules_give_a_person_name_their_approvers(number, kind, names):
    """Issue 42 item 1 (design/0102): a step the site's rule gives to one person (the director or
    his delegate, the precinct chief, a managing unit, student affairs) names who signs it, so no
    other approver's inbox offers it and nobody signs a box that is not theirs."""
    steps = {s.name: s for s in site(number).policy.kinds[kind].chain}
    assert {n: bool(steps[n].approvers) for n in names} == {n: True for n in names}


def test_chains_of_any_length_and_scoped_steps_on_top():
    six = tuple(Step(f"s{i}", frozenset({f"a{i}"})) for i in range(6))
    scoped = tuple(Step(f"unit{i}", cameras=frozenset({f"cam{i}"})) for i in range(8))
    pol = RequestPolicy(kinds={"internal": KindRules(chain=scoped + six)}, categories=("other",))
    assert problems(pol) == []
    r = request(pol, cameras=["cam1", "cam5"], org="x")
    assert [s["name"] for s in r["chain"]] == ["unit1", "unit5", "s0", "s1", "s2", "s3", "s4", "s5"]
    assert r["chain"][0]["cameras"] == ["cam1"]
    walk(r, ["u1", "u5", "a0", "a1", "a2", "a3", "a4", "a5"])


def test_distinct_signers_is_a_matching():
    assert distinct_signers([{"a", "b"}, {"a"}])          # b, a
    assert not distinct_signers([{"a"}, {"a", "b"}, {"b"}])
    pools = [{f"p{i}", f"p{i + 1}"} for i in range(30)]   # long chains: no product of choices
    assert distinct_signers(pools) and not distinct_signers(pools + [{"p0"}, {"p1"}])


def test_a_unit_chief_who_cannot_be_told_apart_from_a_later_step_is_refused_at_filing():
    pol = RequestPolicy(kinds={"internal": KindRules(chain=(Step("own chief", unit="requester"),
                                                           Step("director", frozenset({"huang"}))))},
                        categories=("other",), units={"front": frozenset({"huang", "x"}), "odd": frozenset({"huang"})})
    assert [s["name"] for s in request(pol, org="front")["chain"]] == ["own chief", "director"]
    # "odd"'s only chief is the director, who signs the later box: one signature, not two
    assert [s["name"] for s in request(pol, org="odd")["chain"]] == ["director"]


# holds (item 2) --------------------------------------------------------------------------
@pytest.mark.parametrize("name, approvers, max_days", [
    ("000", {"huang"}, 0),                           # 000 §4(1)2: the director; sets no term: kept until released
    ("001", None, None),                             # silent: any other approver, lapses at max_retention
    ("002", None, None),
    ("003", None, None),
    ("004", {"hsu"}, 30),                            # 004 §5: the director of student affairs, 30 days
])
def test_an_evidence_hold_waits_for_a_second_person_at_every_seed_site(name, approvers, max_days):
    cfg = site(name)
    rules_ = cfg.policy.holds.evidence
    assert rules_.approval and rules_.approvers == approvers
    if max_days == 0:   # no term (issue 56): no cap, and a hold placed has no end
        assert rules_.max_us is None and rules_.term is False
    else:
        expected_max = max_days * DAY if max_days else max(cfg.retention.max_retention_us, cfg.retention.evidence_hold_us)
        assert rules_.max_us == expected_max, "lapses at max_retention (or the site's own cap) unless extended"
    placed = holds.placing(cfg.policy.holds, kind="evidence", roles=["custodian"], expires_us=None, now_us=T0,
                           default_us=cfg.retention.evidence_hold_us)
    assert placed["state"] == "pending"
    if max_days == 0:
        assert placed["wanted_expires_us"] is None, placed   # its expires_us is the approval's wait
    pending = {"id": 1, "kind": "evidence", "placed_by": "carol", "ended_us": None, "state": "pending", **placed}
    with pytest.raises(holds.HoldRuleError, match="carol placed hold 1"):
        holds.deciding(pending, approver="carol", approve=True, reason="", now_us=T0, policy=cfg.policy.holds)
    if approvers:
        with pytest.raises(holds.HoldRuleError, match="approve this kind of hold .evidence hold."):
            holds.deciding(pending, approver="somebody", approve=True, reason="", now_us=T0, policy=cfg.policy.holds)
    who = sorted(approvers)[0] if approvers else "somebody"
    assert holds.deciding(pending, approver=who, approve=True, reason="", now_us=T0,
                          policy=cfg.policy.holds)["state"] == "active"


@pytest.mark.parametrize("name", ["000", "001", "002", "003", "004"])
def test_a_legal_hold_takes_two_people_and_a_review_date_at_every_seed_site(name):
    pol = site(name).policy.holds
    assert pol.legal.approval and pol.legal.review_us == 365 * DAY
    roles = sorted(pol.legal.placed_by)
    with pytest.raises(holds.HoldRuleError, match="names its review date"):
        holds.placing(pol, kind="legal", roles=roles, expires_us=None, now_us=T0, default_us=DAY)
    placed = holds.placing(pol, kind="legal", roles=roles, expires_us=None, now_us=T0, default_us=DAY,
                           review_us=T0 + 180 * DAY)
    assert placed["state"] == "pending" and placed["review_us"] == T0 + 180 * DAY


# months and the site's zone (item 6) -----------------------------------------------------
def test_months_are_calendar_months_on_the_sites_calendar():
    taipei = ZoneInfo("Asia/Taipei")
    cfg = site("001").retention
    assert (cfg.min_retention_months, cfg.max_retention_months) == (3, 12)
    # 2026-05-31 10:00 Taipei: three months back is 2026-02-28 10:00 (clamped), a year back 2025-05-31
    now = int(datetime(2026, 5, 31, 10, 0, tzinfo=taipei).timestamp()) * S
    r = cfg.resolved(now, taipei)
    assert r.min_retention_us == now - int(datetime(2026, 2, 28, 10, 0, tzinfo=taipei).timestamp()) * S
    assert r.max_retention_us == 365 * DAY
    assert months_back_us(now, 1, taipei) == 31 * DAY   # back to 30 April (the day clamped)
    # the calendar of the site, not of the host: at 23:30 UTC on 28 February it is 1 March in Taipei,
    # one month after 1 February (28 days); on a UTC calendar one month after 28 January (31 days)
    late = int(datetime(2026, 2, 28, 23, 30, tzinfo=timezone.utc).timestamp()) * S
    assert months_back_us(late, 1, taipei) == 28 * DAY and months_back_us(late, 1, timezone.utc) == 31 * DAY
    assert months_back_us(int(datetime(2026, 3, 31, 12, tzinfo=taipei).timestamp()) * S, 1, taipei) == 31 * DAY
    assert months_back_us(int(datetime(2026, 3, 15, 12, tzinfo=taipei).timestamp()) * S, 1, taipei) == 28 * DAY
    assert site("000").retention.min_retention_months == 1 and site("004").retention.min_retention_months is None
    with pytest.raises(ConfigError, match="not a duration"):
        parse_config({"site": {"id": "s"}, "storage": {"data_dir": "/tmp/x"}, "retention": {"evidence_hold": "1mo"},
                      "cameras": [{"id": "a", "url": "synthetic:"}]}, base_dir=None)


def test_the_sites_zone_governs_schedules_not_the_hosts():
    cfg = site("001")          # daily inspection 08:00-12:00, Taipei
    tz = local_tz(SYSTEM.now_us(), cfg.site.timezone)
    assert tz == ZoneInfo("Asia/Taipei")
    due = inspections.next_due(T0, cfg.inspection, cfg.site.id, tz)
    at = datetime.fromtimestamp(due / S, tz)
    assert 8 <= at.hour < 12 or (at.hour, at.minute) == (12, 0)
    assert local_minute(int(datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc).timestamp()) * S, tz) == 8 * 60 + 30


# the register's 權限登入 (item 5) ---------------------------------------------------------
def test_the_registers_login_item_is_the_operators_login_not_the_cameras(tmp_path):
    from edged import people
    from storage import audit
    from storage.catalog import open_db
    from storage.people.sessions import last_logins

    db = open_db(tmp_path / "catalog.db")
    assert inspections.operators_login(last_logins(db, inspections.OPERATOR_ROLES))["ok"] is None  # nobody yet
    for name, roles in (("lin", ["custodian"]), ("wang", ["approver"]), ("chen", ["custodian"]), ("aud", ["auditor"])):
        people.add_account(db, name, "a-long-password-1", roles, None, by="admin", reason="test", now_us=T0 - DAY,
                           min_password=10)
    never = last_logins(db, inspections.OPERATOR_ROLES)
    assert never == {"custodian": None, "approver": None}
    item = inspections.operators_login(never)
    assert item["ok"] is False and "custodian: never logged in" in item["detail"]
    audit.append(db, "lin", "login", {"via": "socket"}, at_us=T0 - 3600 * S)
    audit.append(db, "chen", "login", {"via": "socket"}, at_us=T0 - 60 * S)
    audit.append(db, "lin", "login.failed", {"via": "socket"}, at_us=T0)   # a failure is not a login
    last = last_logins(db, inspections.OPERATOR_ROLES)
    assert last == {"custodian": {"account": "chen", "at_us": T0 - 60 * S}, "approver": None}
    item = inspections.operators_login(last, lambda us: "09:59")
    assert {k: item[k] for k in ("ok", "detail")} == {"ok": True, "detail": "custodian: chen 09:59; approver: never logged in"}
    assert [m["template"] for m in item["said"]] == ["custodian: {account} {at}", "approver: never logged in"]
    # the checklist: the camera's RTSP login is its own item, the operators' is `login`
    snap = {"enabled": True, "state": "recording", "stats": {}, "last_segment_us": T0, "operators_login": item}
    items = inspections.checklist(snap, T0, 2 * S)
    assert items["login"] == item and items["camera_login"]["ok"] is True


@pytest.mark.pure
def test_001s_citizen_views_with_the_sound_of_a_camera_that_records_it():
    """001 第三點、第十七點 (issue 56 item 3): a citizen views the 影音資料 with staff present, so a
    camera that records sound (its 附件1 checks 聲音) is heard in that viewing; one that records none
    has no sound to give."""
    cfg = site("001")
    assert cfg.policy.kinds["citizen"].modes == {"view"}, cfg.policy.kinds["citizen"].modes
    sound = {c.id: (c.audio_required, c.audio_in_viewer) for c in cfg.cameras}
    assert sound["counter-1"] == (True, True), sound
    assert all(heard for records, heard in sound.values() if records), sound
