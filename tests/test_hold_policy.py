"""Holds by the site's policy (issue 17 item 2; design/0041): the pure rules, the [policy.holds]
reader, and the store's pending holds on a real SQLite catalog."""

from __future__ import annotations

import json
import textwrap

import pytest

from edged.config import ConfigError, parse_config
from edged.config.holds import HoldPolicy, HoldRules
from edged.rules import holds as rules
from edged.rules.holds import HoldRuleError
from storage.retention import holds as store
from storage.catalog import Catalog, open_db
from tests.support.daemon import Daemon, write_config
from tests.support.people import People

D = 86_400_000_000
NOW = 1_800_000_000 * 1_000_000
SCHOOL = HoldPolicy(  # 004 §5: student affairs preserves, the director approves, 30 days at most
    evidence=HoldRules(placed_by=frozenset({"custodian"}), approval=True, max_us=30 * D, pending_for_us=2 * D,
                       extend_by=frozenset({"approver"})),
    legal=HoldRules(placed_by=frozenset({"approver"}), approval=False, extend_by=frozenset()))


def _hold(**kw):
    return {"id": 7, "kind": "evidence", "placed_by": "carol", "ended_us": None, "ended_how": None,
            "state": "active", "expires_us": NOW + 5 * D, "wanted_expires_us": None, **kw}


def test_the_default_policy_is_todays_behaviour():
    p = HoldPolicy()
    for kind in ("evidence", "legal"):
        placed = rules.placing(p, kind=kind, roles=["custodian"], expires_us=None, now_us=NOW, default_us=30 * D)
        assert placed["state"] == "active"
    assert rules.placing(p, kind="evidence", roles=["custodian"], expires_us=NOW + 400 * D, now_us=NOW,
                         default_us=30 * D)["expires_us"] == NOW + 400 * D, "no cap on an evidence hold's length"
    assert rules.placing(p, kind="legal", roles=["custodian"], expires_us=None, now_us=NOW,
                         default_us=30 * D)["expires_us"] is None
    with pytest.raises(HoldRuleError, match="only custodian place evidence"):
        rules.placing(p, kind="evidence", roles=["approver"], expires_us=None, now_us=NOW, default_us=30 * D)
    assert rules.mqtt_bound(p, NOW, 30 * D) == NOW + 30 * D


def test_who_may_place_each_kind():
    with pytest.raises(HoldRuleError, match=r"only approver place legal holds \(\[policy.holds.legal\] placed_by\)"):
        rules.placing(SCHOOL, kind="legal", roles=["custodian"], expires_us=None, now_us=NOW, default_us=30 * D)
    assert rules.placing(SCHOOL, kind="legal", roles=["viewer", "approver"], expires_us=None, now_us=NOW,
                         default_us=30 * D) == {"state": "active", "expires_us": None, "wanted_expires_us": None}
    # a signed MQTT command has no roles: the role rule does not apply, the others do
    assert rules.placing(SCHOOL, kind="evidence", roles=None, expires_us=None, now_us=NOW,
                         default_us=30 * D)["state"] == "pending"
    with pytest.raises(HoldRuleError, match="unknown hold kind"):
        rules.placing(SCHOOL, kind="forever", roles=["custodian"], expires_us=None, now_us=NOW, default_us=D)


def test_an_evidence_hold_that_needs_approval_waits_and_keeps_its_footage_meanwhile():
    placed = rules.placing(SCHOOL, kind="evidence", roles=["custodian"], expires_us=NOW + 20 * D, now_us=NOW,
                           default_us=30 * D)
    assert placed == {"state": "pending", "expires_us": NOW + 2 * D, "wanted_expires_us": NOW + 20 * D}
    short = rules.placing(SCHOOL, kind="evidence", roles=["custodian"], expires_us=NOW + D, now_us=NOW,
                          default_us=30 * D)
    assert short["expires_us"] == NOW + D, "the wait never outlasts the hold asked for"
    with pytest.raises(HoldRuleError, match=r"at most 30 days here .*an approver can extend it"):
        rules.placing(SCHOOL, kind="evidence", roles=["custodian"], expires_us=NOW + 31 * D, now_us=NOW,
                      default_us=30 * D)
    with pytest.raises(HoldRuleError, match="expiry in the future"):
        rules.placing(SCHOOL, kind="evidence", roles=["custodian"], expires_us=NOW, now_us=NOW, default_us=D)


def test_an_approver_other_than_the_placer_decides():
    pending = _hold(state="pending", expires_us=NOW + 2 * D, wanted_expires_us=NOW + 20 * D,
                    placed_by="carol (os: root)")
    with pytest.raises(HoldRuleError, match="carol placed hold 7: another approver decides it"):
        rules.deciding(pending, approver="carol", approve=True, reason="", now_us=NOW + D)
    ok = rules.deciding(pending, approver="dora", approve=True, reason="", now_us=NOW + D)
    assert ok["state"] == "active" and ok["expires_us"] == NOW + 20 * D and ok["decided_by"] == "dora"
    with pytest.raises(HoldRuleError, match="needs a reason"):
        rules.deciding(pending, approver="dora", approve=False, reason=" ", now_us=NOW + D)
    no = rules.deciding(pending, approver="dora", approve=False, reason="not evidence", now_us=NOW + D)
    assert no["ended_how"] == "rejected" and no["ended_us"] == NOW + D and "state" not in no
    with pytest.raises(HoldRuleError, match="not waiting for an approval"):
        rules.deciding(_hold(), approver="dora", approve=True, reason="", now_us=NOW)
    with pytest.raises(HoldRuleError, match="already ended"):
        rules.deciding({**pending, "ended_us": NOW, "ended_how": "lapsed"}, approver="dora", approve=True, reason="",
                       now_us=NOW)
    legal = _hold(kind="legal", state="pending", expires_us=NOW + 2 * D)
    assert rules.deciding(legal, approver="dora", approve=True, reason="", now_us=NOW)["expires_us"] is None


def test_extension_by_an_approver_at_most_max_from_now():
    hold = _hold(expires_us=NOW + D)
    with pytest.raises(HoldRuleError, match=r"lets approver extend evidence holds"):
        rules.extending(SCHOOL, hold, by="erin", roles=["custodian"], expires_us=NOW + 10 * D, now_us=NOW)
    with pytest.raises(HoldRuleError, match="at most 30 days from now"):
        rules.extending(SCHOOL, hold, by="dora", roles=["approver"], expires_us=NOW + 31 * D, now_us=NOW)
    with pytest.raises(HoldRuleError, match="ends later than the hold does now"):
        rules.extending(SCHOOL, hold, by="dora", roles=["approver"], expires_us=NOW + D, now_us=NOW)
    with pytest.raises(HoldRuleError, match="carol placed hold 7: another person extends it"):
        rules.extending(SCHOOL, hold, by="carol", roles=["approver"], expires_us=NOW + 9 * D, now_us=NOW)
    assert rules.extending(SCHOOL, hold, by="dora", roles=["approver"], expires_us=NOW + 30 * D, now_us=NOW) == {
        "expires_us": NOW + 30 * D, "extended_by": "dora", "extended_us": NOW}
    with pytest.raises(HoldRuleError, match="legal hold has no expiry"):
        rules.extending(SCHOOL, _hold(kind="legal"), by="dora", roles=["approver"], expires_us=NOW + D, now_us=NOW)
    with pytest.raises(HoldRuleError, match="waiting for an approval"):
        rules.extending(SCHOOL, _hold(state="pending"), by="dora", roles=["approver"], expires_us=NOW + 9 * D,
                        now_us=NOW)
    assert rules.mqtt_bound(SCHOOL, NOW, 40 * D) == NOW + 30 * D


BASE = {"site": {"id": "s"}, "storage": {"data_dir": "/tmp/x"}, "cameras": [{"id": "a", "url": "synthetic:"}]}


def _cfg(holds: dict, retention: dict | None = None):
    return parse_config({**BASE, "retention": retention or {}, "policy": {"holds": holds}}, base_dir=None)


def test_the_config_reads_policy_holds():
    cfg = _cfg({"evidence": {"approval": True, "max": "30d", "pending_for": "2d", "extend_by": ["approver"]},
                "legal": {"placed_by": ["approver"]}}, {"evidence_hold": "30d"})
    assert cfg.policy.holds == SCHOOL
    assert parse_config(BASE, base_dir=None).policy.holds == HoldPolicy()


@pytest.mark.parametrize("holds, retention, field, why", [
    ({"evidence": {"placed_by": ["viewer"]}}, None, "policy.holds.evidence.placed_by", "may not hold footage"),
    ({"evidence": {"placed_by": []}}, None, "policy.holds.evidence.placed_by", "nobody could place"),
    ({"evidence": {"approval": "yes"}}, None, "policy.holds.evidence.approval", "true or false"),
    ({"evidence": {"max": "20d"}}, None, "policy.holds.evidence.max", "shorter than [retention] evidence_hold"),
    ({"legal": {"max": "20d"}}, None, "policy.holds.legal.max", "unknown key"),
    ({"evidence": {"max_length": "20d"}}, None, "policy.holds.evidence.max_length", 'did you mean "max"'),
    ({"other": {}}, None, "policy.holds.other", "unknown key"),
    ({"evidence": {"pending_for": "40d"}}, None, "policy.holds.evidence.pending_for", "out of range"),
])
def test_a_bad_hold_policy_names_its_field(holds, retention, field, why):
    with pytest.raises(ConfigError) as e:
        _cfg(holds, retention)
    assert e.value.field == field and why in str(e.value)


def test_a_pending_hold_keeps_footage_until_it_lapses(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    Catalog(db).sync_cameras([{"id": "a", "name": "a", "url": "", "enabled": 1}])
    placed = rules.placing(SCHOOL, kind="evidence", roles=["custodian"], expires_us=NOW + 20 * D, now_us=NOW,
                           default_us=30 * D)
    row = store.add_hold(db, kind="evidence", cameras=["a"], from_us=NOW - D, to_us=NOW, reason="fight",
                         case_ref="C-1", placed_by="carol", now=NOW, **placed)
    assert row["state"] == "pending" and [h.id for h in store.active_holds(db, NOW + D)] == [row["id"]]
    assert store.expire_holds(db, NOW + 2 * D) == [row["id"]]
    ended = store.hold_row(db, row["id"])
    assert ended["ended_how"] == "lapsed" and store.active_holds(db, NOW + 2 * D) == []
    again = store.add_hold(db, kind="evidence", cameras=["a"], from_us=NOW - D, to_us=NOW, reason="fight",
                           case_ref="C-1", placed_by="carol", now=NOW, **placed)
    approved = store.update_hold(db, again["id"], rules.deciding(again, approver="dora", approve=True, reason="ok",
                                                                 now_us=NOW + D))
    assert approved["state"] == "active" and approved["expires_us"] == NOW + 20 * D
    assert store.expire_holds(db, NOW + 3 * D) == []
    with pytest.raises(store.HoldError, match="cannot be changed"):
        store.update_hold(db, again["id"], {"placed_by": "mallory"})


# the daemon, driven by edgectl -----------------------------------------------------------------
def test_edgectl_places_a_hold_that_waits_for_another_approver_and_is_extended(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": "synthetic:"}])
    config.write_text(config.read_text() + textwrap.dedent("""
        [retention]
        evidence_hold = "10d"

        [policy.holds.evidence]
        placed_by = ["custodian", "approver"]
        approval = true
        max = "30d"
        extend_by = ["approver"]

        [policy.holds.legal]
        placed_by = ["approver"]
        """))
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian")
        people.add("dora", "approver")
        people.add("sam", "approver")
        add = ("hold", "add", "--camera", "cam", "--from", "-1h", "--to", "now", "--reason", "fight", "--case", "C-9")
        people.as_("carol")
        r = people.ctl(*add, "--expires", "31d")
        assert r.returncode == 2 and "at most 30 days here" in r.stderr, r.stderr
        r = people.ctl(*add, "--legal")
        assert r.returncode == 2 and "only approver place legal holds" in r.stderr, r.stderr
        r = people.ctl(*add, "--json")
        assert r.returncode == 0, r.stderr
        hold = json.loads(r.stdout)
        assert hold["state"] == "pending" and hold["wanted_expires_us"] - hold["placed_us"] == 10 * D
        assert "pending approval" in people.ctl("hold", "list").stdout
        hid = str(hold["id"])
        r = people.ctl("hold", "approve", hid)
        assert r.returncode == 2 and "needs the approver role" in r.stderr, r.stderr
        people.as_("dora")
        r = people.ctl("hold", "approve", hid, "--reason", "evidence of the fight")
        assert r.returncode == 0 and "approved by dora" in r.stdout, r.stderr
        r = people.ctl("hold", "extend", hid, "--by", "31d", "--reason", "court date")
        assert r.returncode == 2 and "at most 30 days from now" in r.stderr, r.stderr
        r = people.ctl("hold", "extend", hid, "--by", "30d", "--reason", "court date", "--json")
        assert r.returncode == 0, r.stderr
        extended = json.loads(r.stdout)
        assert extended["extended_by"] == "dora" and extended["expires_us"] > hold["wanted_expires_us"]
        # a legal hold placed by an approver holds at once (approval = false for legal holds)
        r = people.ctl(*add, "--legal", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["state"] == "active", r.stderr
        # the approver's own pending hold is decided by another approver
        r = people.ctl(*add, "--json")
        assert r.returncode == 0, r.stderr
        own = str(json.loads(r.stdout)["id"])
        r = people.ctl("hold", "approve", own)
        assert r.returncode == 2 and "dora placed hold" in r.stderr, r.stderr
        people.as_("sam")
        r = people.ctl("hold", "reject", own, "--reason", "not evidence")
        assert r.returncode == 0 and "rejected by sam" in r.stdout, r.stderr
        people.add("aud", "auditor")
        people.as_("aud")
        acts = [a["action"] for a in json.loads(people.ctl("audit", "list", "--json").stdout)
                if a["action"].startswith("hold.")]
        assert acts == ["hold.add", "hold.approve", "hold.extend", "hold.add", "hold.add", "hold.reject"]
    finally:
        assert d.stop() == 0, d.log
