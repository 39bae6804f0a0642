"""Accounts and sessions (R4): on a real catalog with an injected clock, then end to end against a
real daemon (init-admin only as root, login, lockout, token expiry, a grant used twice)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from edged import people as people_rules
from storage import audit, cameras as camera_table
from storage.people import accounts, sessions
from storage.catalog import open_db
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, one, rows
from tests.support.daemon import ROOT, Daemon, wait_for, write_config
from tests.support.people import People, password_for

S = 1_000_000
MIN = 60 * S
T0 = 1_795_000_000 * S
POLICY = accounts.Policy(session_ttl_us=15 * MIN, lockout_after=3, lockout_for_us=10 * MIN, min_password=10)


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    camera_table.sync(db, [{"id": c, "name": c, "url": "synthetic:", "enabled": 1} for c in ("a", "b")],
                      SYSTEM.now_us())
    people_rules.init_admin(db, "boss", "the-admin-password", os_user="root", now_us=T0)
    return db


def actions(db):
    return [(r["actor"], r["action"], json.loads(r["detail"])) for r in audit_rows(db)]


def test_passwords_are_scrypt_hashes_and_tokens_are_kept_hashed(db):
    people_rules.add_account(db, "carol", "secret-pw-for-c1", ["custodian"], None, by="boss", reason="app", now_us=T0)
    row = one(db, "accounts", lambda r: r["name"] == "carol")
    assert row["pw_hash"].startswith("scrypt$16384$8$1$") and "secret-pw-for-c1" not in row["pw_hash"]
    assert accounts.check_password("secret-pw-for-c1", row["pw_hash"])
    assert not accounts.check_password("x", row["pw_hash"])
    s = sessions.login(db, "carol", "secret-pw-for-c1", now_us=T0, via="test", policy=POLICY)
    stored = [r["token_hash"] for r in rows(db, "sessions")]
    assert s["token"] not in stored and accounts.token_hash(s["token"]) in stored
    dump = "\n".join(db.conn.iterdump())
    assert s["token"] not in dump and "secret-pw-for-c1" not in dump


def test_admin_and_custodian_never_on_one_account_and_names_are_never_reused(db):
    with pytest.raises(accounts.AccountError, match="can never be held by one account"):
        people_rules.add_account(db, "both", "a-long-password", ["admin", "custodian"], None, by="boss", reason="x",
                                 now_us=T0)
    people_rules.add_account(db, "dave", "a-long-password", ["viewer"], ["a"], by="boss", reason="x", now_us=T0)
    accounts.revoke_account(db, "dave", by="boss", reason="moved to another office", now_us=T0 + S)
    with pytest.raises(accounts.AccountError, match="never deleted or reused"):
        people_rules.add_account(db, "dave", "a-long-password", ["viewer"], None, by="boss", reason="back",
                                 now_us=T0 + 2 * S)
    with pytest.raises(accounts.AccountError, match="needs a reason"):
        people_rules.add_account(db, "erin", "a-long-password", ["viewer"], None, by="boss", reason=" ", now_us=T0)
    with pytest.raises(accounts.AccountError, match="unknown camera"):
        people_rules.add_account(db, "erin", "a-long-password", ["viewer"], ["zz"], by="boss", reason="x", now_us=T0)
    with pytest.raises(accounts.AccountError, match="at least 10 characters"):
        people_rules.add_account(db, "erin", "short", ["viewer"], None, by="boss", reason="x", now_us=T0,
                                 min_password=10)
    with pytest.raises(accounts.AccountError, match="not an account name"):
        people_rules.add_account(db, "Erin Smith", "a-long-password", ["viewer"], None, by="boss", reason="x",
                                 now_us=T0)
    dave = accounts.account(db, "dave")
    assert dave["revoked_us"] == T0 + S and [e["action"] for e in dave["events"]] == ["opened", "revoked"]
    assert [e["reason"] for e in dave["events"]] == ["x", "moved to another office"]
    assert "pw_hash" not in dave
    assert [r["name"] for r in accounts.accounts(db)] == ["boss", "dave"]


def test_init_admin_only_while_no_active_admin(db):
    with pytest.raises(accounts.AccountError, match="an admin exists"):
        people_rules.init_admin(db, "second", "another-password", os_user="root", now_us=T0)
    accounts.revoke_account(db, "boss", by="boss", reason="left", now_us=T0 + S)
    people_rules.init_admin(db, "second", "another-password", os_user="root", now_us=T0 + 2 * S)  # recovery by root
    assert people_rules.active_admins(db) == ["second"]


def test_lockout_after_repeated_failures_then_it_passes(db):
    people_rules.add_account(db, "carol", "secret-pw-for-c1", ["custodian"], None, by="boss", reason="app", now_us=T0)
    for i in range(3):
        with pytest.raises(accounts.AuthError, match="wrong account name or password"):
            sessions.login(db, "carol", f"guess{i}", now_us=T0 + i * S, via="test", policy=POLICY)
    with pytest.raises(accounts.AuthError, match="locked after repeated failed logins; try again in 10 min"):
        sessions.login(db, "carol", "secret-pw-for-c1", now_us=T0 + 3 * S, via="test", policy=POLICY)
    s = sessions.login(db, "carol", "secret-pw-for-c1", now_us=T0 + 2 * S + 10 * MIN, via="test", policy=POLICY)
    assert s["account"] == "carol"
    with pytest.raises(accounts.AuthError):  # the count starts again after a good login
        sessions.login(db, "carol", "nope", now_us=T0 + 11 * MIN, via="test", policy=POLICY)
    sessions.login(db, "carol", "secret-pw-for-c1", now_us=T0 + 11 * MIN + S, via="test", policy=POLICY)
    kinds = [(a, act, d.get("why")) for a, act, d in actions(db) if act.startswith(("login", "account.locked"))]
    assert kinds == [("carol", "login.failed", "wrong password")] * 3 + [
        ("edged", "account.locked", None), ("carol", "login.failed", "locked"), ("carol", "login", None),
        ("carol", "login.failed", "wrong password"), ("carol", "login", None)]
    assert len(rows(db, "login_failures")) == 5


def test_an_admin_setting_a_password_unlocks_and_ends_sessions(db):
    people_rules.add_account(db, "carol", "secret-pw-for-c1", ["custodian"], None, by="boss", reason="app", now_us=T0)
    s = sessions.login(db, "carol", "secret-pw-for-c1", now_us=T0, via="test", policy=POLICY)
    for _ in range(3):
        with pytest.raises(accounts.AuthError):
            sessions.login(db, "carol", "x", now_us=T0 + S, via="test", policy=POLICY)
    accounts.change_password(db, "carol", "new-secret-pw-22", by="boss", reason="forgotten", now_us=T0 + 2 * S)
    assert sessions.session_of(db, s["token"], now_us=T0 + 3 * S) is None, "a new password ends the sessions"
    assert sessions.login(db, "carol", "new-secret-pw-22", now_us=T0 + 3 * S, via="test", policy=POLICY)
    with pytest.raises(accounts.AccountError, match="the old one"):
        accounts.change_password(db, "carol", "new-secret-pw-22", by="carol", reason="", now_us=T0 + 4 * S)


def test_sessions_expire_end_on_logout_and_on_revocation(db):
    people_rules.add_account(db, "vic", "viewer-password", ["viewer"], ["a"], by="boss", reason="app", now_us=T0)
    s = sessions.login(db, "vic", "viewer-password", now_us=T0, via="test", policy=POLICY)
    assert s["expires_us"] == T0 + 15 * MIN and s["roles"] == ["viewer"] and s["cameras"] == ["a"]
    assert sessions.session_of(db, s["token"], now_us=T0 + 15 * MIN - 1)["account"] == "vic"
    assert sessions.session_of(db, s["token"], now_us=T0 + 15 * MIN) is None, "short-lived"
    assert sessions.session_of(db, "forged", now_us=T0) is None and sessions.session_of(db, None, now_us=T0) is None
    s2 = sessions.login(db, "vic", "viewer-password", now_us=T0, via="test", policy=POLICY)
    assert sessions.logout(db, s2["token"], now_us=T0 + S) and not sessions.logout(db, s2["token"], now_us=T0 + 2 * S)
    assert sessions.session_of(db, s2["token"], now_us=T0 + 2 * S) is None
    s3 = sessions.login(db, "vic", "viewer-password", now_us=T0, via="test", policy=POLICY)
    accounts.revoke_account(db, "vic", by="boss", reason="left", now_us=T0 + S)
    assert sessions.session_of(db, s3["token"], now_us=T0 + 2 * S) is None
    with pytest.raises(accounts.AuthError, match="revoked"):
        sessions.login(db, "vic", "viewer-password", now_us=T0 + 3 * S, via="test", policy=POLICY)
    with pytest.raises(accounts.AuthError, match="wrong account name or password"):
        sessions.login(db, "nobody", "whatever-pw", now_us=T0 + 3 * S, via="test", policy=POLICY)
    assert audit.verify(db)[1] is None


def test_policy_stored_for_logins_outside_the_socket(db):
    accounts.store_policy(db, POLICY)
    assert accounts.load_policy(db) == POLICY
    people_rules.add_account(db, "vic", "viewer-password", ["viewer"], None, by="boss", reason="app", now_us=T0)
    assert sessions.login(db, "vic", "viewer-password", now_us=T0, via="viewer")["expires_us"] == T0 + 15 * MIN


# --- end to end ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clip"), fps=20, gop=20, seconds=10)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as server:
        yield server


def test_daemon_login_lockout_expiry_roles_and_a_grant_used_twice(tmp_path, camera):
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-ctl-"))
    os.chmod(sock_dir, 0o755)
    sock = sock_dir / "control.sock"
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"})
    config.write_text(config.read_text() + textwrap.dedent(f"""
        [control]
        socket = "{sock}"

        [accounts]
        session_ttl = "30s"
        lockout_after = 3
        lockout_for = "10s"
        """))
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        assert oct(stat.S_IMODE(sock.stat().st_mode)) == "0o600"  # no [control] group: the daemon's user and root
        again = people.ctl("init-admin", "--name", "other", "--password-stdin", input="a-long-password\n")
        assert again.returncode == 2 and "an admin exists" in again.stderr
        # init-admin is for root only: the same request from another uid is refused by the daemon
        os.chmod(sock, 0o666)
        probe = ("import json, socket\n"
                 "s = socket.socket(socket.AF_UNIX); s.connect(%r)\n"
                 "s.sendall(json.dumps({'op': 'init-admin', 'args': {'name': 'x', 'password': 'y' * 12}}).encode()"
                 " + b'\\n')\n"
                 "print(json.loads(s.makefile().readline())['error'])\n") % str(sock)
        r = subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True, text=True, cwd="/", user=65534,
                           timeout=30)
        assert "runs only as root" in r.stdout, r.stderr

        people.add("carol", "custodian")
        people.add("alice", "approver")
        people.add("vic", "viewer", cameras=["cam"])
        assert stat.S_IMODE(people.session.stat().st_mode) == 0o600
        assert "token" not in people.ctl("login", "vic", "--password-stdin", "--json",
                                         input=password_for("vic") + "\n").stdout

        # roles are checked by the daemon, per op
        r = people.ctl("hold", "add", "--camera", "cam", "--from", "-1m", "--to", "now", "--reason", "r", "--case", "c")
        assert r.returncode == 2 and "needs the custodian or approver role; vic has viewer" in r.stderr
        assert "vic (viewer; cam)" in people.ctl("whoami").stdout

        # lockout after 3 failures, for 10 s; then the right password works again
        for _ in range(3):
            assert "wrong account name or password" in people.login("carol", "bad-password").stderr
        r = people.login("carol")
        assert r.returncode == 2 and "locked" in r.stderr
        wait_for(lambda: alarms(d, lambda r: r["key"] == "account_locked:carol"), 5, "the lockout alarm")
        wait_for(lambda: people.login("carol").returncode == 0, 30, "the lock to pass")

        # a copy request filed by the custodian, approved by the approver, exported once
        wait_for(lambda: len(d.segments("cam")) >= 3, 30, "footage")
        segs = d.segments("cam")
        frm, to = segs[0]["start_us"], segs[-1]["end_us"]
        from datetime import datetime
        iso = lambda us: datetime.fromtimestamp(us / S).astimezone().isoformat()  # noqa: E731
        r = people.ctl("request", "file", "--kind", "police-urgent", "--category", "personal-safety", "--reason",
                       "assault at the door", "--camera", "cam", "--from", iso(frm), "--to", iso(to), "--copy",
                       "--requester", "Sgt. Lin", "--org", "precinct 3", "--letter", "P-77", "--json")
        assert r.returncode == 0, r.stderr
        request_id = json.loads(r.stdout)["id"]
        r = people.ctl("request", "approve", str(request_id), "--reason", "mine")
        assert r.returncode == 2 and "needs the approver role" in r.stderr
        people.as_("alice")
        r = people.ctl("request", "approve", str(request_id), "--reason", "letter checked", "--json")
        assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]["id"]
        people.as_("carol")
        first = people.ctl("export", "--grant", str(grant), "--out", str(tmp_path / "e1"))
        assert first.returncode == 0, first.stderr
        second = people.ctl("export", "--grant", str(grant), "--out", str(tmp_path / "e2"))
        assert second.returncode == 2 and "already used" in second.stderr
        refused = audit_rows(d, "grant.refused")
        assert len(refused) == 1 and "already used" in json.loads(refused[0]["detail"])["why"]
        assert rows(d, "requests")[0]["state"] == "used"

        # a person changes their own password (knowing the current one); that ends their sessions
        people.as_("vic")
        new = "a-new-password-99"
        r = people.ctl("account", "passwd", "--password-stdin", input=f"not-it-at-all\n{new}\n")
        assert r.returncode == 2 and "current password is wrong" in r.stderr
        r = people.ctl("account", "passwd", "admin", "--reason", "x", "--password-stdin", input=f"{new}\n")
        assert r.returncode == 2 and "only an admin" in r.stderr
        r = people.ctl("account", "passwd", "--password-stdin", input=f"{password_for('vic')}\n{password_for('vic')}\n")
        assert r.returncode == 2 and "the new password is the old one" in r.stderr
        r = people.ctl("account", "passwd", "--password-stdin", input=f"{password_for('vic')}\n{new}\n")
        assert r.returncode == 0, r.stderr
        assert "not logged in" in people.ctl("whoami").stderr
        assert people.login("vic", new).returncode == 0

        # the session is short-lived: after session_ttl every op asks for a login again
        logged_in = time.monotonic()
        wait_for(lambda: "not logged in" in people.ctl("whoami").stderr, 50, "the session to expire")
        assert time.monotonic() - logged_in >= 29
        assert people.ctl("logout").returncode == 0

        # revoked on departure: the account stays on record and cannot log in
        people.as_("admin")
        r = people.ctl("account", "revoke", "vic", "--reason", "transferred to the land office")
        assert r.returncode == 0, r.stderr
        r = people.login("vic", new)
        assert r.returncode == 2 and "revoked" in r.stderr
        listed = json.loads(people.ctl("account", "list", "--json").stdout)
        assert [a["name"] for a in listed] == ["admin", "alice", "carol", "vic"] and listed[3]["revoked_us"]
    finally:
        assert d.stop() == 0, d.log
        sock_dir.rmdir() if sock_dir.exists() and not any(sock_dir.iterdir()) else None
    trail = [(r["actor"], r["action"]) for r in audit_rows(d)]
    assert ("carol", "login.failed") in trail and ("edged", "account.locked") in trail
    assert ("vic", "login") in trail and ("carol (os: root)", "grant.use") in trail
    assert subprocess.run([sys.executable, "-m", "edged.cli.edgectl", "audit", "verify",
                           "--catalog", str(data / "catalog.db")], cwd=ROOT, capture_output=True).returncode == 0


# --- the [accounts] table -----------------------------------------------------------------------
def test_accounts_config_defaults_and_errors(tmp_path):
    from edged.config import ConfigError, parse_config

    base = {"site": {"id": "s1"}, "storage": {"data_dir": str(tmp_path)}}
    a = parse_config(base).accounts
    assert (a.session_ttl_us, a.lockout_after, a.lockout_for_us, a.min_password) == (15 * MIN, 5, 15 * MIN, 10)
    assert (a.grant_ttl_us, a.citizen_due_us, a.keep_requests_years) == (3 * 1440 * MIN, 6 * 1440 * MIN, 3)
    a = parse_config({**base, "accounts": {"session_ttl": "5m", "lockout_after": 3, "lockout_for": "1h"}}).accounts
    assert (a.session_ttl_us, a.lockout_after, a.lockout_for_us) == (5 * MIN, 3, 60 * MIN)
    for table, field, words in (
            ({"session_timeout": "5m"}, "accounts.session_timeout", 'did you mean "session_ttl"'),
            ({"session_ttl": "1d"}, "accounts.session_ttl", "out of range"),
            ({"lockout_after": 0}, "accounts.lockout_after", "out of range"),
            ({"lockout_after": "5"}, "accounts.lockout_after", "expected an integer"),
            ({"citizen_due": "7d"}, "accounts.citizen_due", "out of range"),
            ({"keep_requests_years": 2}, "accounts.keep_requests_years", "out of range"),
            ({"min_password": 4}, "accounts.min_password", "out of range")):
        with pytest.raises(ConfigError) as info:
            parse_config({**base, "accounts": table})
        assert info.value.field == field and words in info.value.message


# --- the control socket itself ------------------------------------------------------------------
async def test_control_socket_checks_sessions_and_roles_and_streams_progress(tmp_path, monkeypatch):
    import asyncio

    monkeypatch.setenv("EDGECTL_SESSION", str(tmp_path / "none.json"))

    from edged.control.client import call
    from edged.control.protocol import RequestError
    from edged.control.server import Caller, ControlServer

    sessions = {"tok-c": {"account": "carol", "roles": ["custodian"], "cameras": ["a"], "expires_us": 1},
                "tok-v": {"account": "vic", "roles": ["viewer"], "cameras": None, "expires_us": 1}}
    seen: list[Caller] = []

    async def long_job(args, caller):
        seen.append(caller)
        for i in range(3):
            caller.progress({"done": i})
        return {"actor": str(caller)}

    async def lookup(token):
        return sessions.get(token)

    handlers = {"ping": long_job, "maintenance.begin": long_job, "not.in.matrix": long_job}
    server = ControlServer(tmp_path / "c.sock", handlers, lookup)
    await server.start()
    try:
        got: list[dict] = []
        r = await asyncio.to_thread(call, tmp_path / "c.sock", "maintenance.begin", {}, "tok-c", got.append)
        assert r == {"actor": "carol (os: root)"} and got == [{"done": 0}, {"done": 1}, {"done": 2}]
        assert seen[-1].account == "carol" and seen[-1].roles == ("custodian",) and seen[-1].cameras == ("a",)
        assert seen[-1].uid == 0 and seen[-1].os_user == "root"
        for token, words in ((None, "not logged in"), ("forged", "not logged in"),
                             ("tok-v", "this is for the custodian; your role is clerk")):
            with pytest.raises(RequestError, match=words) as refused:
                await asyncio.to_thread(call, tmp_path / "c.sock", "maintenance.begin", {}, token)
        assert getattr(refused.value, "hint", "") == "refused: maintenance.begin needs the custodian role; vic has viewer"
        with pytest.raises(RequestError, match="nobody may do this here") as refused:
            await asyncio.to_thread(call, tmp_path / "c.sock", "not.in.matrix", {}, "tok-c")
        assert "not an operation any role may run" in refused.value.hint
        r = await asyncio.to_thread(call, tmp_path / "c.sock", "ping", {})
        assert r == {"actor": "root"} and seen[-1].account is None, "ping needs no session"
    finally:
        await server.close()
