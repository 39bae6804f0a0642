"""[policy.citizen] redact and unredacted_by (issue 54; design/0174), and what a grant shows
(edged/rules/redaction.py), by tables."""

from __future__ import annotations

import pytest

from edged.config.policy import KindRules, _policy, default_policy
from edged.config.values import ConfigError
from edged.rules.redaction import RedactionRuleError, Shown, shown

CITIZEN = KindRules(redact="everything", unredacted_by=frozenset({"huang"}))


def test_a_citizens_grant_is_redacted_where_the_site_is_silent():
    assert default_policy().kinds["citizen"].redact == "everything"
    assert {k: r.redact for k, r in default_policy().kinds.items() if k != "citizen"} == {
        k: "none" for k in default_policy().kinds if k != "citizen"}
    assert _policy({}, [], 6 * 86_400_000_000).kinds["citizen"].unredacted_by == frozenset()


@pytest.mark.parametrize("table, want", [
    ({"citizen": {"redact": "faces"}}, ("faces", frozenset())),
    ({"citizen": {"redact": "none"}}, ("none", frozenset())),
    ({"titles": {"主任": ["huang"]}, "citizen": {"unredacted_by": ["主任", "lin"]}},
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
