"""No one admin brings an approver's first user into being, nor clears the alarm about it (issue
74, design/0322): the pure rule by a table, then the real daemon through edgectl: the first admin opens an
approver and a second admin of her own; the approver's login is refused with the right password,
the second admin's acknowledgement is refused (main: it cleared every `account_opened` alarm and
the approver logged in at once), root on the box vouches, and the approver logs in, never first
from the setter's door; the alarm ends with the holder's own password."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from storage.people import vouching as v
from tests.support.catalog import alarms, audit_rows
from tests.support.daemon import ROOT, Daemon, ctl_argv, write_config
from tests.support.people import HOLDER, People, first_password_for, password_for

OPENED_BY_ADMIN = [{"action": "opened", "at_us": 10, "by": "admin1 (os: root)"}]
FIRST_ADMIN = [{"action": "opened", "at_us": 1, "by": "root (init-admin)"}]


@pytest.mark.parametrize("holder, setters, voucher, root, events, still_open, why", [
    ("paul", {"admin1"}, None, True, [], False, None),                       # root on the box, no account
    ("paul", {"admin1"}, "admin1", False, FIRST_ADMIN, False, v.SETTER),     # the admin who opened it
    ("paul", {"admin1"}, "paul", False, OPENED_BY_ADMIN, False, v.HOLDER),
    ("paul", {"admin1"}, "admin2", False, OPENED_BY_ADMIN, True, v.UNVOUCHED),   # admin1's own second admin
    ("paul", {"admin1"}, "admin2", False, OPENED_BY_ADMIN, False, None),     # once someone vouched for admin2
    ("paul", {"admin1 (os: root)"}, "admin3", False, FIRST_ADMIN, False, None),  # root's first admin
    ("paul", {"admin1"}, "ghost", False, [], False, v.UNVOUCHED),            # no account, no opening
    ("paul", {"admin1"}, None, False, [], False, v.HOLDER),                  # not root, no account
])
def test_who_may_vouch(holder, setters, voucher, root, events, still_open, why):
    assert v.voucher_refusal(holder, setters, voucher, root=root, voucher_events=events,
                             voucher_open=still_open) == why


@pytest.mark.parametrize("roles, events, still_open, held", [
    (["approver"], OPENED_BY_ADMIN, True, True),       # the finding: usable at once on main
    (["approver"], OPENED_BY_ADMIN, False, False),     # vouched for
    (["approver"], FIRST_ADMIN, True, False),
    (["custodian"], OPENED_BY_ADMIN, True, False),     # held back by their signed application instead
    (["admin"], OPENED_BY_ADMIN, True, False),         # an admin waits too: it vouches for nobody (UNVOUCHED)
])
def test_an_approvers_account_waits_for_a_voucher(roles, events, still_open, held):
    assert v.held_for_voucher(roles, events, still_open) is held


@pytest.mark.timeout(900)
def test_one_admin_cannot_make_an_approver_nor_vouch_through_her_own_admin(tmp_path):
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-vouch-"))
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [],
                          tables={"control": {"socket": str(sock_dir / "control.sock")}})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)   # admin1: root's init-admin
        socket_ = people.socket

        def as_holder(name: str, *args: str, input: str = "") -> subprocess.CompletedProcess:
            env = {**people.env, "EDGECTL_SESSION": str(tmp_path / f"{name}.json")}
            return subprocess.run([*HOLDER, *ctl_argv(socket_), *args], capture_output=True, text=True, cwd=ROOT,
                                  timeout=60, env=env, input=input)
        assert people.login(people.admin).returncode == 0
        for name, role in (("paul", "approver"), ("mallory", "admin")):
            r = people.ctl("account", "add", name, "--role", role, "--reason", "application 7", "--password-stdin",
                           input=first_password_for(name) + "\n")
            assert r.returncode == 0, r.stderr
        # the approver's holder, with the right one-time password: refused until vouched for
        r = as_holder("paul", "login", "paul", "--password-stdin", input=first_password_for("paul") + "\n")
        print(f"the approver's first login, nobody vouched: exit {r.returncode}: {r.stderr.strip()}")
        assert r.returncode != 0 and "nobody but the admin who opened it has vouched" in r.stderr, r.stderr
        # admin1's own second admin logs in, changes its password, and tries to vouch: refused
        r = as_holder("mallory", "login", "mallory", "--password-stdin", input=first_password_for("mallory") + "\n")
        assert r.returncode == 0, r.stderr
        r = as_holder("mallory", "account", "passwd", "--password-stdin",
                      input=f"{first_password_for('mallory')}\n{password_for('mallory')}\n")
        assert r.returncode == 0, r.stderr
        r = as_holder("mallory", "login", "mallory", "--password-stdin", input=password_for("mallory") + "\n")
        assert r.returncode == 0, r.stderr
        r = as_holder("mallory", "account", "acknowledge", "paul", "--reason", "looks fine")
        print(f"admin1's second admin vouches for the approver: exit {r.returncode}: {r.stderr.strip()}")
        assert r.returncode != 0 and "nobody has vouched for mallory's own account" in r.stderr, r.stderr
        r = people.ctl("account", "acknowledge", "paul", "--reason", "mine")
        assert r.returncode != 0 and f"{people.admin} set paul's password" in r.stderr, r.stderr
        assert {a["key"] for a in alarms(d, active=True)} >= {"account_opened:paul", "account_opened:mallory"}
        # root on the box vouches (no account): the approver logs in
        people.vouch("paul")
        # vouched for, the one-time password is still never first used from its setter's door (root here)
        r = people.ctl("login", "paul", "--password-stdin", input=first_password_for("paul") + "\n")
        assert r.returncode != 0 and "set from the OS account root" in r.stderr, r.stderr
        r = as_holder("paul", "login", "paul", "--password-stdin", input=first_password_for("paul") + "\n")
        assert r.returncode == 0, r.stderr
        assert "account_opened:paul" in {a["key"] for a in alarms(d, active=True)}, "until the holder's own change"
        r = as_holder("paul", "account", "passwd", "--password-stdin",
                      input=f"{first_password_for('paul')}\n{password_for('paul')}\n")
        assert r.returncode == 0, r.stderr
        assert "account_opened:paul" not in {a["key"] for a in alarms(d, active=True)}
        vouched = [json.loads(r["detail"]) for r in audit_rows(d, "account.acknowledge")]
        assert [x["account"] for x in vouched] == ["paul"]
        r = people.ctl("account", "show", "paul", "--json")
        assert r.returncode == 0 and any(e["action"] == "vouched" for e in json.loads(r.stdout)["events"]), r.stdout
    finally:
        assert d.stop() == 0, d.log
        shutil.rmtree(sock_dir, ignore_errors=True)
