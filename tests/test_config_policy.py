"""The [policy] table (design/0036): real TOML files, read the way the daemon reads them; a
bad policy names its field, in `edged check-config` too (status 78)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from edged.config import load_config
from edged.config.holds import HoldPolicy
from edged.config.policy import COPY, VIEW, Step, default_policy
from tests.support.configs import MINIMAL, error_for, write
from tests.support.daemon import ROOT

DAY = 86_400_000_000
CAMERAS = """
[[cameras]]
id = "lib-1"
url = "synthetic:"

[[cameras]]
id = "hall"
url = "synthetic:"
"""

SCHOOL = MINIMAL + CAMERAS + """
[policy]
kinds = ["internal", "agency", "police-urgent"]      # 004 §4(3): outsiders through the police
categories = ["lost-property", "damage", "campus-safety"]

[policy.internal]
chain = [
  { name = "managing unit", cameras = ["lib-1"] },
  { name = "safety office", approvers = ["lee", "wu"] },
  { name = "student affairs director", approvers = ["hsu"] },
]

[policy.police-urgent]
modes = ["view", "copy"]
copy_to = "requester"
receipt = true
due = "1d"
"""


def test_no_policy_table_is_the_old_behaviour(tmp_path):
    """Requests as before; holds by the strictest reading, lapsing at max_retention (design/0076)."""
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.policy == dataclasses.replace(default_policy(), holds=HoldPolicy.strict(cfg.retention.max_retention_us))


def test_a_three_step_school_policy(tmp_path):
    pol = load_config(write(tmp_path, SCHOOL)).policy
    assert list(pol.kinds) == ["internal", "agency", "police-urgent"]
    assert pol.categories == ("lost-property", "damage", "campus-safety")
    assert pol.kinds["internal"].chain == (Step("managing unit", None, frozenset({"lib-1"})),
                                           Step("safety office", frozenset({"lee", "wu"})),
                                           Step("student affairs director", frozenset({"hsu"})))
    urgent = pol.kinds["police-urgent"]
    assert (urgent.modes, urgent.copy_to, urgent.receipt, urgent.due_us) == ({VIEW, COPY}, "requester", True, DAY)
    assert pol.kinds["agency"] == default_policy().kinds["agency"], "a kind without a table keeps the defaults"


def test_a_due_written_in_days_counts_the_sites_days_and_one_in_hours_is_exact(tmp_path):
    from edged.rules.retrieval import filing
    from tests.support.forms import TAIPEI, us
    cfg = load_config(write(tmp_path, MINIMAL + '[accounts]\ncitizen_due = "144h"\n[policy.agency]\ndue = "2d"\n'
                                      '[policy.internal]\ndue = "24h"\n'))
    filed = us("2026-11-21 23:30")   # half an hour before midnight in Taipei

    def due(kind: str) -> int:
        return filing(cfg.policy, {"kind": kind, "category": "other", "mode": VIEW}, now_us=filed, tz=TAIPEI)["due_us"]
    assert due("agency") == us("2026-11-24 00:00")                       # through the end of the 23rd
    assert due("internal") == filed + DAY and due("citizen") == filed + 6 * DAY   # hours: exactly
    assert load_config(write(tmp_path, MINIMAL)).policy.kinds["citizen"].due_days   # the default, 6 days


def test_accounts_citizen_due_is_the_citizens_default_and_policy_overrides_it(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + '[accounts]\ncitizen_due = "3d"\n'))
    assert cfg.policy.kinds["citizen"].due_us == 3 * DAY
    cfg = load_config(write(tmp_path, MINIMAL + '[accounts]\ncitizen_due = "3d"\n[policy.citizen]\ndue = "5d"\n'))
    assert cfg.policy.kinds["citizen"].due_us == 5 * DAY


@pytest.mark.parametrize("body, field, says", [
    ('[policy]\nkinds = ["internal", "neighbour"]\n', "policy.kinds", "unknown request kind 'neighbour'"),
    ('[policy]\nkinds = ["internal"]\n[policy.citizen]\ndue = "2d"\n', "policy.citizen", "does not take citizen"),
    ('[policy]\ncategories = "lost-property"\n', "policy.categories", "expected an array of strings"),
    ('[policy.internal]\nmodes = ["view", "print"]\n', "policy.internal.modes", "'print' is not a mode"),
    ('[policy.internal]\ncopy_to = "friends"\n', "policy.internal.copy_to", "not a choice"),
    ('[policy.internal]\nreceipt = true\n', "policy.internal.receipt", "may not copy"),
    ('[policy.citizen]\ndue = "7d"\n', "policy.citizen.due", "allowed 1h to 6d"),
    ('[policy.internal]\napprovers = ["hsu"]\n', "policy.internal.approvers", "belong to a step"),
    ('[policy.internal]\nchain = []\n', "policy.internal.chain", "1 to 12 steps that every request passes, not 0"),
    ('[policy.internal]\nchain = [' + ", ".join(f'{{name = "s{i}"}}' for i in range(13)) + ']\n',
     "policy.internal.chain", "not 13"),
    ('[policy.internal]\nchain = [{ name = "a", unit = "requester" }]\n', "policy.internal.chain",
     "needs [policy.units]"),
    ('[policy.units]\n"x" = ["a"]\n[policy.internal]\nchain = [{ name = "a", unit = "mine" }]\n',
     "policy.internal.chain[0].unit", "not a choice"),
    ('[policy.units]\n"x" = []\n', "policy.units.x", "empty list"),
    ('[policy.internal]\nchain = [{ name = "a" }, { name = "b", approvers = [] }]\n',
     "policy.internal.chain[1].approvers", "nobody could sign"),
    ('[policy.internal]\nchain = [{ name = "a", approver = ["hsu"] }]\n', "policy.internal.chain[0].approver",
     'did you mean "approvers"'),
    ('[policy.internal]\nchain = [{ approvers = ["hsu"] }]\n', "policy.internal.chain[0].name", "missing"),
    ('[policy.internal]\nchain = [{ name = "a", cameras = ["moon"] }, { name = "b" }]\n',
     "policy.internal.chain[0].cameras", "unknown camera(s): moon"),
    ('[policy.internal]\nchain = [{ name = "a", cameras = ["hall"] }]\n', "policy.internal.chain", "no approver"),
    ('[policy.internal]\nchain = [{ name = "a", approvers = ["hsu"] }, { name = "b", approvers = ["hsu"] }]\n',
     "policy.internal.chain", "different people"),
])
def test_a_bad_policy_names_its_field(tmp_path, body, field, says):
    err = error_for(tmp_path, MINIMAL + CAMERAS + body)
    assert err.field == field and says in err.message, (err.field, err.message)


def test_check_config_names_the_bad_policy_field(tmp_path):
    good = write(tmp_path, SCHOOL, "good.toml")
    bad = write(tmp_path, SCHOOL.replace('approvers = ["hsu"]', 'approvers = "hsu"'), "bad.toml")
    ok = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(good)], capture_output=True,
                        text=True, cwd=ROOT, timeout=60)
    assert ok.returncode == 0, ok.stderr
    r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(bad)], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 78 and "policy.internal.chain[2].approvers" in r.stderr and "Traceback" not in r.stderr
