"""People by their names (issue 42 item 2, design/0112): the one helper that shows a person on a
desk page, a sign-off or a printed form, as a table; and a printed form that uses it."""

from __future__ import annotations

import pytest

from edged.documents import Doc
from edged.documents.pages import hold_html
from edged.i18n import set_language
from edged.rules.persons import names_of, person

pytestmark = pytest.mark.pure

TITLES = {"主任": frozenset({"huang"}), "行政課課長": frozenset({"chang"})}
UNITS = {"戶籍課": frozenset({"chen"}), "行政課": frozenset({"chang"})}
ACCOUNTS = [{"name": "huang", "full_name": "黃志明"}, {"name": "chang", "full_name": "張美玲"},
            {"name": "chen", "full_name": "陳大文"}, {"name": "carol", "full_name": "林小雲"},
            {"name": "bare", "full_name": ""}, {"name": "lin", "full_name": " "}]


@pytest.mark.parametrize("who, shown", [
    ("huang", "主任 黃志明"),                  # a [policy.titles] title, then the full name
    ("chang", "行政課課長 張美玲"),             # the title wins over "chief of 行政課" (the same post)
    ("chen", "戶籍課主管 陳大文"),              # a unit's chief ([policy.units]) with no title of its own
    ("carol", "林小雲"),                       # no title: the full name alone
    ("bare", "bare"),                          # no full name kept: the login name is all there is
    ("huang (os: root)", "主任 黃志明"),         # an actor as the audit chain writes it
    ("黃志明 (huang)", "主任 黃志明"),           # an inspection's "typed name (account)"
    ("Lin Mei", "Lin Mei"),                    # a name typed, no account: as written
    ("edged", "系統（自動）"),                  # the daemon's own records
    ("os:root (uid 0)", "主機最高權限使用者"),    # the superuser in words, never its login (issue 91 W17)
    ("root (init-admin)", "主機最高權限使用者（建立第一位帳號管理員）"),
    ("root", "主機最高權限使用者"),             # root on the box vouching (design/0322)
    ("os:pi (uid 1000)", "主機使用者 pi"),
    (None, "-"), ("", "-"),
])
def test_a_person_by_title_and_full_name(who, shown):
    set_language("zh-TW")
    try:
        assert person(names_of(ACCOUNTS, TITLES, UNITS), who) == shown
    finally:
        set_language(None)


def test_a_printed_form_names_people_never_their_login():
    hold = {"id": 7, "kind": "evidence", "cameras": ["c1"], "from_us": 0, "to_us": 10, "reason": "r",
            "placed_by": "carol", "placed_us": 5, "decided_by": "huang", "decided_us": 6, "state": "active",
            "expires_us": 99, "segments": 1}
    set_language("zh-TW")
    try:
        page = hold_html(Doc("zh-TW", None, "戶政事務所", names=names_of(ACCOUNTS, TITLES, UNITS)), hold,
                         {"c1": "櫃檯"}, 7)
    finally:
        set_language(None)
    assert "主任 黃志明" in page and "林小雲" in page
    assert "huang" not in page and "carol" not in page
