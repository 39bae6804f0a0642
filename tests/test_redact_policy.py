"""[policy.citizen] redact and unredacted_by (issue 54; design/0174), and what a grant shows
(edged/rules/redaction.py), by tables."""

from __future__ import annotations

import pytest

from edged.config.policy import KindRules, _policy, default_policy
from edged.config.values import ConfigError
from edged.rules.redaction import RedactionRuleError, Shown, allower_refusal, grant_redacted, shown, whole_picture

CITIZEN = KindRules(redact="everything", unredacted_by=frozenset({"huang"}))


def test_a_citizens_copy_is_redacted_where_the_site_is_silent():
    """Silent on `redact`: a citizen's copy (it leaves the office) hides everything but the
    applicant; an accompanied viewing alone shows the footage as the site's rule says (design/0327:
    seed 001 十七1(3)), and a site that wants it hidden says so. No other kind is redacted."""
    assert _policy({"citizen": {"modes": ["view", "copy"]}}, [], 6 * 86_400_000_000).kinds["citizen"].redact == \
        "everything"
    assert _policy({"citizen": {"modes": ["view"]}}, [], 6 * 86_400_000_000).kinds["citizen"].redact == "none"
    assert _policy({"citizen": {"modes": ["view"], "redact": "everything"}}, [],
                   6 * 86_400_000_000).kinds["citizen"].redact == "everything"
    assert default_policy().kinds["citizen"].modes == frozenset({"view"})
    assert {k: r.redact for k, r in default_policy().kinds.items()} == {k: "none" for k in default_policy().kinds}
    assert _policy({}, [], 6 * 86_400_000_000).kinds["citizen"].unredacted_by == frozenset()


def test_at_001_the_accompanied_viewing_shows_the_footage_as_written():
    """Seed 001 十七1(3): 複製相關影音資料後，以派員陪同閱覽方式辦理. Its example config, with no line
    added, grants a citizen an accompanied viewing of the footage (the whole picture, its sound),
    not a redacted copy; 000 and 002, whose rules limit what a citizen sees, still redact."""
    from pathlib import Path

    from edged.config import load_config
    from edged.rules.redaction import redacted_kinds

    sites = Path(__file__).resolve().parents[1] / "examples" / "sites"
    cfg = load_config(sites / "001-land-office.toml")
    rules = cfg.policy.kinds["citizen"]
    assert rules.modes == frozenset({"view"}) and shown("citizen", rules) == Shown("none")
    assert "citizen" not in redacted_kinds(cfg.policy.kinds)
    for seed in ("000-household-registration-office", "002-police-station"):
        assert "citizen" in redacted_kinds(load_config(sites / f"{seed}.toml").policy.kinds), seed


def test_the_seed_that_asks_a_second_person_releases_by_another():
    """Seed 000 四(二)2: 如核准後同意調閱，應會同系統管理人辦理 (a citizen's viewing handled together
    with the system's administrator): its example asks a second person to release the redacted copy
    ([policy.citizen] release_by_another, design/0358); no other seed asks one."""
    from pathlib import Path

    from edged.config import load_config

    sites = Path(__file__).resolve().parents[1] / "examples" / "sites"
    asks = {p.stem: bool((k := load_config(p).policy.kinds.get("citizen")) and k.release_by_another)
            for p in sorted(sites.glob("*.toml"))}
    assert asks == {name: name.startswith("000-") for name in asks} and len(asks) == 5, asks


@pytest.mark.parametrize("table, want", [
    ({"citizen": {"redact": "faces"}}, ("faces", frozenset())),
    ({"citizen": {"redact": "none"}}, ("none", frozenset())),
    ({"titles": {"主任": ["huang"]}, "citizen": {"modes": ["copy"], "unredacted_by": ["主任", "lin"]}},
     ("everything", frozenset({"huang", "lin"}))),
])
def test_policy_citizen_read(table, want):
    rules = _policy(table, [], 6 * 86_400_000_000).kinds["citizen"]
    assert (rules.redact, rules.unredacted_by) == want


@pytest.mark.parametrize("table, field, why", [
    ({"citizen": {"redact": "blur"}}, "policy.citizen.redact", "not a choice"),
    ({"citizen": {"redact": True}}, "policy.citizen.redact", ""),
    ({"internal": {"redact": "faces"}}, "policy.internal.redact", "only a citizen"),
    ({"agency": {"unredacted_by": ["huang"]}}, "policy.agency.unredacted_by", "only a citizen"),
])
def test_policy_citizen_refused(table, field, why):
    with pytest.raises(ConfigError) as exc:
        _policy(table, [], 6 * 86_400_000_000)
    assert exc.value.args[0] == field and why in str(exc.value)


@pytest.mark.parametrize("kind, rules, by, reason, want", [
    ("citizen", CITIZEN, None, None, Shown("everything")),
    ("citizen", KindRules(redact="faces"), None, None, Shown("faces")),
    ("citizen", KindRules(redact="none"), None, None, Shown("none")),
    ("agency", CITIZEN, None, None, Shown("none")),
    ("citizen", CITIZEN, "huang", "  法院調查證據所需  ", Shown("none", "huang", "法院調查證據所需")),
])
def test_what_a_grant_shows(kind, rules, by, reason, want):
    assert shown(kind, rules, by, reason) == want


@pytest.mark.parametrize("by, reason, why", [
    ("lin", "法院調查證據所需", "not one of them"),     # not named in unredacted_by
    ("huang", None, "needs a reason"),
    ("huang", "  ok ", "needs a reason"),
])
def test_the_whole_picture_refused(by, reason, why):
    with pytest.raises(RedactionRuleError, match=why):
        shown("citizen", CITIZEN, by, reason)


# the approver's allowance of the whole picture on one request (design/0276): who asks, holding
# which roles, with or without a reason; the request filed by "lin", signed by "huang"
NOW = 1_800_000_000_000_000
GRANT = {"id": 9, "request_id": 4, "mode": "view", "used_us": None, "expires_us": NOW + 1, "unredacted_by": None}
REQUEST = {"id": 4, "kind": "citizen", "state": "approved", "filed_by": "lin", "requester_account": None,
           "grant": GRANT}
SITE = KindRules(redact="everything", unredacted_by=frozenset({"huang", "lin", "chen", "wu"}))
REASON = "法院調查證據所需"


@pytest.mark.parametrize("who, roles, reason, refused", [
    ("lin", ("viewer",), REASON, "not an approver"),                   # the filer (a clerk)
    ("lin", ("viewer",), None, "not an approver"),
    ("lin", ("approver",), REASON, "filed or asked"),                  # the filer, an approver too
    ("chen", ("custodian",), REASON, "not an approver"),               # the custodian alone
    ("chen", ("custodian",), None, "not an approver"),
    ("wu", ("auditor",), REASON, "not an approver"),                   # the ethics office reads, never decides
    ("wu", ("auditor",), None, "not an approver"),
    ("huang", ("approver",), None, "needs a reason"),                  # the approver, without a reason
    ("huang", ("approver",), " 好 ", "needs a reason"),
    ("zhao", ("approver",), REASON, "not one of them"),                # an approver the site does not name
    ("huang", ("approver",), REASON, None),                            # the approver, with a reason
    ("chen", ("custodian", "approver"), REASON, None),                 # an approver who is a custodian too
])
def test_who_may_allow_the_whole_picture(who, roles, reason, refused):
    if refused is None:
        assert whole_picture(REQUEST, SITE, by=who, roles=roles, reason=reason, now_us=NOW) == Shown(
            "none", who, REASON)
        return
    with pytest.raises(RedactionRuleError, match=refused):
        whole_picture(REQUEST, SITE, by=who, roles=roles, reason=reason, now_us=NOW)


@pytest.mark.parametrize("req, rules, why", [
    (REQUEST, KindRules(redact="none", unredacted_by=frozenset({"huang"})), "not redacted"),
    ({**REQUEST, "kind": "agency"}, SITE, "not redacted"),
    ({**REQUEST, "grant": None, "state": "filed"}, SITE, "no grant waiting"),            # not approved yet
    ({**REQUEST, "grant": {**GRANT, "used_us": NOW - 1}}, SITE, "no grant waiting"),     # used for its copy
    ({**REQUEST, "grant": {**GRANT, "expires_us": NOW}}, SITE, "no grant waiting"),
    ({**REQUEST, "grant": {**GRANT, "unredacted_by": "wu"}}, SITE, "already allowed"),   # once
])
def test_the_whole_picture_only_on_a_redacted_grant_waiting(req, rules, why):
    with pytest.raises(RedactionRuleError, match=why):
        whole_picture(req, rules, by="huang", roles=("approver",), reason=REASON, now_us=NOW)


def test_the_custodian_who_uses_it_never_allowed_it():
    allowed = {**GRANT, "unredacted_by": "chen"}
    assert "separation of duties" in (allower_refusal(allowed, "chen") or "")
    assert allower_refusal(allowed, "carol") is None and allower_refusal(GRANT, "chen") is None
    assert grant_redacted(GRANT, "citizen", {"citizen"}) and not grant_redacted(allowed, "citizen", {"citizen"})
    assert not grant_redacted(GRANT, "agency", {"citizen"})
