"""Both ways of hiding where the site lists them (design/0348): [policy.citizen] redact as a list,
the site's own first; the modes a citizen's copy is made in (edged/rules/redaction.py
modes_offered, mode_refusal, which `redact.run` applies to an export staged for a citizen's copy);
the desk offers the choice only where there are two (edged/viewer/desk/redaction.py). Tables;
the choice in Chromium: tests/test_desk_redaction_release.py."""

from __future__ import annotations

import pytest

from edged.config.policy import _policy
from edged.config.values import ConfigError
from edged.rules.redaction import mode_refusal, modes_offered
from edged.viewer.desk.page import Ctx, Person
from edged.viewer.desk.redaction import Job, Pages

DAY_US = 86_400_000_000


def _citizen(table):
    return _policy({"citizen": {"modes": ["view", "copy"], **table}}, [], 6 * DAY_US).kinds["citizen"]


@pytest.mark.parametrize("redact, site, also, offered", [
    ("everything", "everything", (), ("everything",)),
    ("faces", "faces", (), ("faces",)),
    (["faces", "everything"], "faces", ("everything",), ("faces", "everything")),
    (["everything", "faces"], "everything", ("faces",), ("everything", "faces")),
    (["faces"], "faces", (), ("faces",)),
    ("none", "none", (), ()),
])
def test_the_site_lists_one_or_both_modes(redact, site, also, offered):
    rules = _citizen({"redact": redact})
    assert (rules.redact, rules.redact_also, modes_offered(rules)) == (site, also, offered)


def test_a_site_silent_on_redact_offers_its_one_mode():
    assert modes_offered(_citizen({})) == ("everything",)   # a copy leaves the office (design/0327)
    assert modes_offered(None) == ()


@pytest.mark.parametrize("redact", [[], ["everything", "everything"], ["everything", "none"], ["blur"], [1]])
def test_a_list_of_modes_that_says_nothing_clear_is_refused(redact):
    with pytest.raises(ConfigError) as got:
        _citizen({"redact": redact})
    assert "policy.citizen.redact" in str(got.value)


@pytest.mark.parametrize("mode, offered, refused", [
    ("faces", ("everything", "faces"), False),
    ("everything", ("everything", "faces"), False),
    ("faces", ("everything",), True),
    ("everything", ("faces",), True),
    ("faces", (), False),   # not a citizen's site (or the whole picture allowed): redact.run's own checks
])
def test_a_copy_is_made_only_in_a_mode_the_site_allows(mode, offered, refused):
    why = mode_refusal(mode, offered)
    assert (why is not None) is refused, why
    if refused:
        assert mode in why and offered[0] in why and "[policy.citizen] redact" in why


def _ctx() -> Ctx:
    return Ctx(caller=Person(account="carol", roles=("custodian",)), lang="en", site="x", tz=None, now_us=0,
               path="/desk/redact/7", csrf="tok")


def test_the_desk_offers_the_choice_only_where_the_site_allows_both():
    one = Job("carol", 1, "copy", ["cam.mp4"], mode="everything", offered=("everything",))
    assert Pages._mode_form(_ctx(), 7, one) == ""
    both = Job("carol", 1, "copy", ["cam.mp4"], mode="faces", offered=("faces", "everything"))
    page = Pages._mode_form(_ctx(), 7, both)
    assert 'action="/desk/redact/7/mode"' in page and 'name="csrf" value="tok"' in page
    assert page.index('value="faces"') < page.index('value="everything"'), "the site's own first"
    assert 'value="faces" checked' in page and 'value="everything" checked' not in page
