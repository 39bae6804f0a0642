"""Separation of duties around passwords (issue 17 item 4; design/0042): a password an admin sets
is one-time, an admin reset raises an alarm and never touches an admin, and a wrong current
password counts toward the lockout. The store on real SQLite, then the daemon through edgectl."""

from __future__ import annotations

import json
import textwrap

import pytest

from edged import people
from edged.rules import roles
from storage.people import accounts, sessions
from storage.people.accounts import AuthError
from storage.catalog import open_db
from tests.support.catalog import alarms, audit_rows
from tests.support.daemon import Daemon, write_config
from tests.support.people import People, first_password_for, password_for

S = 1_000_000
T0 = 1_800_000_000 * S
POLICY = accounts.Policy(lockout_after=3)


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "catalog.db")


def test_a_one_time_password_opens_a_session_that_may_only_change_it(db):
    people.add_account(db, "carol", "initial-pw-1234", ["custodian"], None, by="admin", reason="r", now_us=T0,
                       one_time=True)
    s = sessions.login(db, "carol", "initial-pw-1234", now_us=T0, via="edgectl", policy=POLICY)
    assert s["must_change"] and sessions.session_of(db, s["token"], now_us=T0)["must_change"]
    assert roles.ONE_TIME_OPS == {"account.passwd", "whoami", "logout"}
    with pytest.raises(AuthError, match="one-time: change it first"):
        sessions.login(db, "carol", "initial-pw-1234", now_us=T0, via="viewer", policy=POLICY, allow_one_time=False)
    changed = accounts.change_password(db, "carol", "her-own-pw-99x", by="carol", reason="", now_us=T0 + S)
    assert not changed["must_change"]
    assert sessions.session_of(db, s["token"], now_us=T0 + S) is None, "a new password ends the sessions"
    again = sessions.login(db, "carol", "her-own-pw-99x", now_us=T0 + 2 * S, via="viewer", policy=POLICY,
                           allow_one_time=False)
    assert not again["must_change"]
    reset = accounts.change_password(db, "carol", "reset-by-admin-7", by="admin", reason="forgot",
                                     now_us=T0 + 3 * S, one_time=True)
    assert reset["must_change"]
    detail = [json.loads(r["detail"]) for r in audit_rows(db, "account.password")]
    assert [d["one_time"] for d in detail] == [False, True]


def test_wrong_current_passwords_count_toward_the_lockout_and_end_the_sessions(db):
    people.add_account(db, "vic", "his-own-pw-1234", ["viewer"], None, by="admin", reason="r", now_us=T0)
    s = sessions.login(db, "vic", "his-own-pw-1234", now_us=T0, via="edgectl", policy=POLICY)
    assert sessions.wrong_current_password(db, "vic", via="account passwd", now_us=T0 + S, policy=POLICY) is None
    # a failed login in between counts toward the same row of failures
    with pytest.raises(AuthError):
        sessions.login(db, "vic", "not-it", now_us=T0 + 2 * S, via="edgectl", policy=POLICY)
    assert sessions.session_of(db, s["token"], now_us=T0 + 2 * S) is not None
    until = sessions.wrong_current_password(db, "vic", via="account passwd", now_us=T0 + 3 * S, policy=POLICY)
    assert until == T0 + 3 * S + POLICY.lockout_for_us
    assert sessions.session_of(db, s["token"], now_us=T0 + 3 * S) is None, "the lock ends the session"
    with pytest.raises(AuthError, match="locked"):
        sessions.login(db, "vic", "his-own-pw-1234", now_us=T0 + 4 * S, via="edgectl", policy=POLICY)
    failures = [json.loads(r["detail"])["why"] for r in audit_rows(db, "login.failed")]
    assert failures == ["wrong current password", "wrong password", "wrong current password", "locked"]
    assert len(audit_rows(db, "account.locked")) == 1


# the daemon, driven by edgectl -----------------------------------------------------------------
def test_edgectl_one_time_passwords_admin_resets_and_lockout(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": "synthetic:"}])
    config.write_text(config.read_text() + textwrap.dedent("""
        [accounts]
        lockout_after = 3
        lockout_for = "10m"
        """))
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian", first_change=False)
        people.add("hugo", "admin", first_change=False)
        # the admin (as root) set it: root is refused, as any OS account the password was set from (issue 45)
        r = people.login("carol", first_password_for("carol"))
        assert r.returncode == 2 and "was set from the OS account root" in r.stderr, r.stderr
        r = people.first_login("carol", first_password_for("carol"))
        assert r.returncode == 0 and "one-time password" in r.stdout, r.stderr
        r = people.ctl("status")
        assert r.returncode == 2 and "change it first with `edgectl account passwd`" in r.stderr, r.stderr
        assert "carol" in people.ctl("whoami").stdout
        r = people.ctl("account", "passwd", "--password-stdin",
                       input=f"{first_password_for('carol')}\n{password_for('carol')}\n")
        assert r.returncode == 0, r.stderr
        people.as_("carol")
        assert people.ctl("status").returncode == 0

        # an admin resets carol's password: one-time again, and an alarm until carol changes it
        people.as_("admin")
        r = people.ctl("account", "passwd", "carol", "--reason", "forgot it", "--password-stdin",
                       input="reset-by-the-admin-1\n")
        assert r.returncode == 0, r.stderr
        assert alarms(d, lambda a: a["key"] == "password_reset:carol", active=True)
        # never an admin's: not another admin's, and not one's own without the current password
        r = people.ctl("account", "passwd", "hugo", "--reason", "x", "--password-stdin", input="admin-reset-pw-1\n")
        assert r.returncode == 2 and "an admin never sets an admin's password" in r.stderr, r.stderr
        r = people.ctl("account", "passwd", "admin", "--reason", "x", "--password-stdin", input="x\nadmin-pw-new-1\n")
        assert r.returncode == 2 and "current password is wrong" in r.stderr, r.stderr
        # a one-time admin cannot reset anyone before changing their own
        assert people.first_login("hugo", first_password_for("hugo")).returncode == 0
        r = people.ctl("account", "passwd", "carol", "--reason", "x", "--password-stdin", input="hugo-sets-this-1\n")
        assert r.returncode == 2 and "may change only their own" in r.stderr, r.stderr
        assert people.first_login("carol", "reset-by-the-admin-1").returncode == 0
        r = people.ctl("account", "passwd", "--password-stdin", input="reset-by-the-admin-1\nher-second-pw-2x\n")
        assert r.returncode == 0, r.stderr
        assert not alarms(d, lambda a: a["key"] == "password_reset:carol", active=True)

        # wrong current passwords count: the third locks the account, ends the session, raises the alarm
        assert people.login("carol", "her-second-pw-2x").returncode == 0
        for _ in range(3):
            r = people.ctl("account", "passwd", "--password-stdin", input="guess-guess-1\nwhatever-new-1\n")
            assert r.returncode == 2 and "current password is wrong" in r.stderr, r.stderr
        assert "now locked" in r.stderr
        assert "not logged in" in people.ctl("whoami").stderr
        assert alarms(d, lambda a: a["key"] == "account_locked:carol", active=True)
        assert "locked" in people.login("carol", "her-second-pw-2x").stderr
    finally:
        assert d.stop() == 0, d.log
    why = [json.loads(r["detail"])["why"] for r in audit_rows(d, "login.failed")]
    assert why.count("wrong current password") == 4 and "locked" in why
