"""Holds by the site's policy (issue 17 item 2; design/0041): the pure rules, the [policy.holds]
reader, and the store's pending holds on a real SQLite catalog."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from edged.config import ConfigError, parse_config
from edged.config.holds import HoldPolicy, HoldRules
from edged.i18n import hint_of, speaking
from edged.rules import holds as rules
from edged.rules.holds import HoldRuleError
from edged.rules.persons import Named
from storage import cameras as camera_table
from storage.time.clock import SYSTEM
from storage.retention import holds as store
from storage.catalog import open_db
from tests.support.daemon import Daemon, wait_for, write_config
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


def test_where_a_site_is_silent_the_strictest_reading_holds():
    """design/0076: an evidence hold waits for another person and lapses at max_retention unless
    extended; a legal hold takes two people and a review date."""
    p = HoldPolicy.strict(365 * D)
    placed = rules.placing(p, kind="evidence", roles=["custodian"], expires_us=None, now_us=NOW, default_us=30 * D)
    assert placed == {"state": "pending", "expires_us": NOW + 3 * D, "wanted_expires_us": NOW + 30 * D,
                      "review_us": None}
    with pytest.raises(HoldRuleError, match="at most 365 days: ask for less"):
        rules.placing(p, kind="evidence", roles=["custodian"], expires_us=NOW + 400 * D, now_us=NOW, default_us=30 * D)
    with pytest.raises(HoldRuleError, match="names its review date"):
        rules.placing(p, kind="legal", roles=["custodian"], expires_us=None, now_us=NOW, default_us=30 * D)
    with pytest.raises(HoldRuleError, match="reviewed within 365 days"):
        rules.placing(p, kind="legal", roles=["custodian"], expires_us=None, now_us=NOW, default_us=30 * D,
                      review_us=NOW + 366 * D)
    legal = rules.placing(p, kind="legal", roles=["approver"], expires_us=None, now_us=NOW, default_us=30 * D,
                          review_us=NOW + 180 * D)
    assert legal == {"state": "pending", "expires_us": NOW + 3 * D, "wanted_expires_us": None,
                     "review_us": NOW + 180 * D}
    with pytest.raises(HoldRuleError, match="only the custodian may place this kind of hold: evidence hold"):
        rules.placing(p, kind="evidence", roles=["approver"], expires_us=None, now_us=NOW, default_us=30 * D)
    assert rules.mqtt_bound(p, NOW, 30 * D) == NOW + 30 * D
    # the legal hold's second person: any approver but its placer; it then holds with no expiry
    pending = _hold(kind="legal", state="pending", placed_by="dora", **{k: v for k, v in legal.items() if k != "state"})
    with pytest.raises(HoldRuleError, match="dora placed hold 7"):
        rules.deciding(pending, approver="dora", approve=True, reason="", now_us=NOW, policy=p)
    assert rules.deciding(pending, approver="sam", approve=True, reason="", now_us=NOW, policy=p)["expires_us"] is None


def test_the_site_names_who_approves_each_kind():
    p = HoldPolicy(evidence=HoldRules(approvers=frozenset({"huang"}), max_us=30 * D),
                   legal=HoldRules(placed_by=frozenset({"approver"}), approvers=frozenset({"huang", "lee"}),
                                   review_us=365 * D))
    pending = _hold(state="pending", expires_us=NOW + 2 * D, wanted_expires_us=NOW + 20 * D)
    with pytest.raises(HoldRuleError, match=r"huang approve this kind of hold \(evidence hold\), not dora"):
        rules.deciding(pending, approver="dora", approve=True, reason="", now_us=NOW, policy=p)
    assert rules.deciding(pending, approver="huang (os: x)", approve=True, reason="", now_us=NOW,
                          policy=p)["decided_by"] == "huang"
    with pytest.raises(HoldRuleError, match="huang approve this kind of hold .evidence hold."):
        rules.extending(p, _hold(), by="dora", roles=["approver"], expires_us=NOW + 9 * D, now_us=NOW)
    assert rules.extending(p, _hold(), by="huang", roles=["approver"], expires_us=NOW + 9 * D,
                           now_us=NOW)["extended_by"] == "huang"
    # a legal hold is reviewed (a new review date), not extended, by one of its approvers
    legal = _hold(kind="legal", expires_us=None, placed_by="lee", review_us=NOW + D)
    with pytest.raises(HoldRuleError, match="huang, lee approve this kind of hold .legal hold."):
        rules.reviewing(p, legal, by="dora", roles=["approver"], review_us=NOW + 90 * D, now_us=NOW)
    with pytest.raises(HoldRuleError, match="lee placed hold 7: another person reviews it"):
        rules.reviewing(p, legal, by="lee", roles=["approver"], review_us=NOW + 90 * D, now_us=NOW)
    assert rules.reviewing(p, legal, by="huang", roles=["approver"], review_us=NOW + 90 * D, now_us=NOW) == {
        "review_us": NOW + 90 * D, "extended_by": "huang", "extended_us": NOW}
    assert rules.review_overdue(legal, NOW + D) and not rules.review_overdue(legal, NOW)
    assert not rules.review_overdue({**legal, "ended_us": NOW}, NOW + D)


def test_who_may_place_each_kind():
    with pytest.raises(HoldRuleError, match="only the approver may place this kind of hold: legal hold") as refused:
        rules.placing(SCHOOL, kind="legal", roles=["custodian"], expires_us=None, now_us=NOW, default_us=30 * D)
    assert refused.value.hint == "[policy.holds.legal] placed_by = ['approver']"   # edgectl's hint (design/0103)
    assert rules.placing(SCHOOL, kind="legal", roles=["viewer", "approver"], expires_us=None, now_us=NOW,
                         default_us=30 * D) == {"state": "active", "expires_us": None, "wanted_expires_us": None,
                                                "review_us": None}
    # a signed MQTT command has no roles: the role rule does not apply, the others do
    assert rules.placing(SCHOOL, kind="evidence", roles=None, expires_us=None, now_us=NOW,
                         default_us=30 * D)["state"] == "pending"
    with pytest.raises(HoldRuleError, match="unknown hold kind"):
        rules.placing(SCHOOL, kind="forever", roles=["custodian"], expires_us=None, now_us=NOW, default_us=D)


def test_an_evidence_hold_that_needs_approval_waits_and_keeps_its_footage_meanwhile():
    placed = rules.placing(SCHOOL, kind="evidence", roles=["custodian"], expires_us=NOW + 20 * D, now_us=NOW,
                           default_us=30 * D)
    assert placed == {"state": "pending", "expires_us": NOW + 2 * D, "wanted_expires_us": NOW + 20 * D,
                      "review_us": None}
    short = rules.placing(SCHOOL, kind="evidence", roles=["custodian"], expires_us=NOW + D, now_us=NOW,
                          default_us=30 * D)
    assert short["expires_us"] == NOW + D, "the wait never outlasts the hold asked for"
    with pytest.raises(HoldRuleError, match=r"at most 30 days: .*an approver can extend it"):
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


@pytest.mark.parametrize("how", ["released", "expired", "rejected", "lapsed"])
def test_an_ended_holds_refusal_says_how_it_ended_in_words(how):   # issue 42 item 2: no state id
    with speaking("zh-TW"), pytest.raises(HoldRuleError) as refused:
        rules.deciding(_hold(ended_us=NOW, ended_how=how), approver="dora", approve=True, reason="", now_us=NOW)
    assert how not in str(refused.value) and not re.search(r"[A-Za-z]{3,}", str(refused.value)), refused.value


def test_extension_by_an_approver_at_most_max_from_now():
    hold = _hold(expires_us=NOW + D)
    with pytest.raises(HoldRuleError, match=r"only the approver may extend an evidence hold") as refused:
        rules.extending(SCHOOL, hold, by="erin", roles=["custodian"], expires_us=NOW + 10 * D, now_us=NOW)
    assert "extend_by" not in str(refused.value) and "extend_by" in hint_of(refused.value)   # the key: a hint
    names = {"dora": Named("黃志明", ("學務主任",)), "carol": Named("陳美玲")}
    with pytest.raises(HoldRuleError, match="陳美玲 placed hold 7: another person extends it"):   # by their names
        rules.extending(SCHOOL, hold, by="carol", roles=["approver"], expires_us=NOW + 2 * D, now_us=NOW, names=names)
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
                "legal": {"placed_by": ["approver"], "approval": False, "extend_by": []}}, {"evidence_hold": "30d"})
    assert cfg.policy.holds == HoldPolicy(evidence=SCHOOL.evidence, legal=HoldRules(
        placed_by=frozenset({"approver"}), approval=False, extend_by=frozenset(), review_us=365 * D))
    # silent: the strictest reading, an evidence hold lapsing at max_retention
    assert parse_config(BASE, base_dir=None).policy.holds == HoldPolicy.strict(365 * D)
    assert _cfg({}, {"max_retention": "90d"}).policy.holds.evidence.max_us == 90 * D
    # approvers: accounts, or titles of [policy.titles]
    titled = parse_config({**BASE, "policy": {"titles": {"主任": ["huang"]}, "holds": {
        "evidence": {"approvers": ["主任", "lee"]}, "legal": {"review": "180d"}}}}, base_dir=None).policy.holds
    assert titled.evidence.approvers == {"huang", "lee"} and titled.legal.review_us == 180 * D


@pytest.mark.parametrize("holds, retention, field, why", [
    ({"evidence": {"placed_by": ["viewer"]}}, None, "policy.holds.evidence.placed_by", "may not hold footage"),
    ({"evidence": {"placed_by": []}}, None, "policy.holds.evidence.placed_by", "nobody could place"),
    ({"evidence": {"approval": "yes"}}, None, "policy.holds.evidence.approval", "true or false"),
    ({"evidence": {"max": "20d"}}, None, "policy.holds.evidence.max", "shorter than [retention] evidence_hold"),
    ({"legal": {"max": "20d"}}, None, "policy.holds.legal.max", "unknown key"),
    ({"evidence": {"max_length": "20d"}}, None, "policy.holds.evidence.max_length", 'did you mean "max"'),
    ({"other": {}}, None, "policy.holds.other", "unknown key"),
    ({"legal": {"approval": False, "approvers": ["a"]}}, None, "policy.holds.legal.approvers", "nobody would be asked"),
    ({"evidence": {"approvers": []}}, None, "policy.holds.evidence.approvers", "non-empty array"),
    ({"legal": {"review": "1h"}}, None, "policy.holds.legal.review", "out of range"),
    ({"evidence": {"pending_for": "40d"}}, None, "policy.holds.evidence.pending_for", "out of range"),
])
def test_a_bad_hold_policy_names_its_field(holds, retention, field, why):
    with pytest.raises(ConfigError) as e:
        _cfg(holds, retention)
    assert e.value.field == field and why in str(e.value)


def test_a_pending_hold_keeps_footage_until_it_lapses(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": "a", "name": "a", "url": "", "enabled": 1}], SYSTEM.now_us())
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


def test_a_hold_has_no_term_where_the_rule_sets_none_and_keeps_one_where_it_does(tmp_path):
    """000 §4(1)2 preserves footage with no term (`term = false`): kept until released, after the
    approval, never lapsing at [retention] evidence_hold; 004 §5's 30 days stay (issue 56)."""
    household = _cfg({"evidence": {"term": False}}, {"evidence_hold": "30d"}).policy.holds
    assert household.evidence.term is False and household.evidence.max_us is None
    school = _cfg({"evidence": {"max": "30d"}}, {"evidence_hold": "30d"}).policy.holds
    assert school.evidence.term and school.evidence.max_us == 30 * D
    placed = rules.placing(household, kind="evidence", roles=["custodian"], expires_us=None, now_us=NOW,
                           default_us=30 * D)
    assert placed == {"state": "pending", "expires_us": NOW + 3 * D, "wanted_expires_us": None, "review_us": None}
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": "a", "name": "a", "url": "", "enabled": 1}], SYSTEM.now_us())
    row = store.add_hold(db, kind="evidence", cameras=["a"], from_us=NOW - D, to_us=NOW, reason="fight",
                         case_ref="C-1", placed_by="carol", now=NOW, **placed)
    approved = store.update_hold(db, row["id"], rules.deciding(row, approver="dora", approve=True, reason="ok",
                                                               now_us=NOW + D))
    assert approved["state"] == "active" and approved["expires_us"] is None
    assert store.expire_holds(db, NOW + 400 * D) == [] and [h.id for h in store.active_holds(db, NOW + 400 * D)] == [
        row["id"]]
    with pytest.raises(ConfigError, match="term = false"):
        _cfg({"evidence": {"term": False, "max": "30d"}}, {"evidence_hold": "30d"})
    timed = rules.placing(SCHOOL, kind="evidence", roles=["custodian"], expires_us=None, now_us=NOW, default_us=30 * D)
    assert timed["wanted_expires_us"] == NOW + 30 * D


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
        approval = false

        [accounts]
        sweep_interval = "1s"
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
        assert r.returncode == 2 and "at most 30 days: ask for less" in r.stderr, r.stderr
        r = people.ctl(*add, "--legal")
        assert r.returncode == 2 and "only the approver may place this kind of hold" in r.stderr
        assert "[policy.holds.legal] placed_by" in r.stderr   # the technician's hint, on edgectl only (design/0103), r.stderr
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
        # a legal hold placed by an approver holds at once (approval = false for legal holds), with a
        # review date: an alarm when it passes, until an approver reviews it (a new date)
        r = people.ctl(*add, "--legal", "--json")
        assert r.returncode == 2 and "names its review date" in r.stderr, r.stderr
        r = people.ctl(*add, "--legal", "--review", "2s", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["state"] == "active", r.stderr
        legal = json.loads(r.stdout)
        assert 0 < legal["review_us"] - legal["placed_us"] <= 2_000_000  # the date edgectl asked for
        key = f"hold_review_due:{legal['id']}"
        due = lambda: key in [a.get("key") for a in json.loads(people.ctl("alarms", "--json").stdout)]  # noqa: E731
        wait_for(due, 30, "the review alarm")
        r = people.ctl("hold", "extend", str(legal["id"]), "--by", "180d", "--reason", "case still open")
        assert r.returncode == 0 and "reviewed by dora" in r.stdout, r.stderr
        wait_for(lambda: not due(), 30, "the review alarm cleared")
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
        assert acts == ["hold.add", "hold.approve", "hold.extend", "hold.add", "hold.review", "hold.add",
                        "hold.reject"]
    finally:
        assert d.stop() == 0, d.log
