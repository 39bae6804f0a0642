"""Confidentiality by construction (design/0017-0019): the data folder is the daemon's alone, people
reach it only through the control socket under their own account, secrets are root's, personal
data leaves the chain and is purged on time, and exports are written safely."""

from __future__ import annotations

import grp
import json
import os
import shutil
import stat
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from edged import people as people_rules
from edged.cli.display import UsageError
from edged.cli.export import new_file, open_out
from edged.rules import retrieval as rq
from edged.viewer import rules
from storage import audit
from storage.people import retrieval_store
from storage.catalog import open_db
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import audit_rows, rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.osuser import OsUser, private_walk
from tests.support.people import People, password_for

S = 1_000_000
DAY = 86_400 * S
T0 = 1_795_000_000 * S


@pytest.fixture
def camera(tmp_path):
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    with RtspServer({"cam": f"clip:{clip.video}@20"}) as srv:
        yield srv


def test_an_edgectl_user_reads_through_the_socket_and_nothing_on_disk(tmp_path, camera):
    """A real account in the socket's group (not the daemon's): edgectl works for it, on the record
    under its OS user and account; it can open no file of the data folder and not the secrets."""
    user = OsUser([f"edt-ctl-{os.getpid() % 100000}"])
    outsider = OsUser([])  # in no group of edged's
    base = Path(tempfile.mkdtemp(prefix="edged-conf-"))
    os.chmod(base, 0o755)  # only edged's own modes stand between the account and the data
    try:
        run = base / "run"
        run.mkdir(mode=0o711)
        os.chmod(run, 0o711)
        url = camera.url("cam").replace("rtsp://", "rtsp://u:Cam-Pw-5@")
        (base / "secrets.toml").write_text(f'[cameras]\ncam = "{url}"\n')
        os.chmod(base / "secrets.toml", 0o600)
        data = base / "data"
        config = write_config(base / "edged.toml", data, [{"id": "cam"}], storage={"segment_length": "2s"},
                              tables={"control": {"socket": str(run / "control.sock"), "group": user.groups[0]},
                                      "secrets": {"file": "secrets.toml"}})
        os.chmod(config, 0o644)  # the config holds no secret: anyone may read it
        old = os.umask(0)  # whatever umask the daemon is started with
        try:
            d = Daemon(config, data, tmp_path / "edged.log").start()
        finally:
            os.umask(old)
        try:
            people = People(config, tmp_path)
            people.add("cus", "custodian")
            people.add("boss", "approver")
            segs = wait_for(lambda: (s := d.segments("cam")) and len(s) >= 3 and s, 40, "three segments")
            # a maintenance backup and an export (its staging copy stays a day) before the checks
            people.as_("cus")
            r = people.ctl("maintenance", "begin", "--reason", "disk check", "--verify", "1m", "--attended-by", "Wang")
            assert r.returncode == 0, r.stderr
            assert people.ctl("maintenance", "end", "--note", "done").returncode == 0
            when = [datetime.fromtimestamp(us / S).astimezone().isoformat()
                    for us in (segs[0]["start_us"], segs[-1]["end_us"])]
            r = people.ctl("request", "file", "--kind", "police-urgent", "--category", "other", "--reason", "r",
                           "--camera", "cam", "--from", when[0], "--to", when[1], "--copy", "--requester",
                           "Officer Hsu", "--letter", "P-9", "--json")
            assert r.returncode == 0, r.stderr
            people.as_("boss")
            r = people.ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "ok", "--json")
            assert r.returncode == 0, r.stderr
            people.as_("cus")
            r = people.ctl("export", "--grant", str(json.loads(r.stdout)["grant"]["id"]), "--out",
                           str(tmp_path / "copy"))
            assert r.returncode == 0, r.stderr
            sock = run / "control.sock"
            assert stat.S_IMODE(sock.stat().st_mode) == 0o660 and sock.stat().st_gid == \
                grp.getgrnam(user.groups[0]).gr_gid

            sessions = base / "sessions"
            sessions.mkdir()
            os.chown(sessions, user.uid, user.gid)
            env = {"PATH": os.environ["PATH"], "EDGECTL_SESSION": str(sessions / "s.json"), "HOME": str(sessions)}
            r = user.ctl("--socket", str(sock), "login", "cus", "--password-stdin", env=env,
                         input=password_for("cus") + "\n")
            assert r.returncode == 0, r.stderr
            for verb in (["status"], ["segments", "--from", "-10m", "--json"], ["alarms", "--all"]):
                r = user.ctl("--socket", str(sock), *verb, env=env)
                assert r.returncode == 0, (verb, r.stderr)
            assert json.loads(user.ctl("--socket", str(sock), "segments", "--from", "-10m", "--json",
                                       env=env).stdout)["segments"]
            # root needs no account for the reports (listing footage is still on the record), but
            # nothing about people without one
            root_env = {**os.environ, "EDGECTL_SESSION": str(tmp_path / "root-has-no-session.json")}
            r = subprocess.run([*d.ctl, "segments", "--from", "-10m"], capture_output=True, text=True, env=root_env)
            assert r.returncode == 0 and " complete " in r.stdout, r.stderr
            assert [r for r in audit_rows(d, "footage.list") if r["actor"] == "root"]
            r = subprocess.run([*d.ctl, "request", "list"], capture_output=True, text=True, env=root_env)
            assert r.returncode == 2 and "not logged in" in r.stderr
            actor = f"cus (os: {user.name})"
            assert [r for r in audit_rows(d, "footage.list") if r["actor"] == actor]
            login = [r for r in audit_rows(d, "login") if r["actor"] == "cus"][-1]
            assert user.name in login["detail"], login

            # nothing under the data folder opens for it: segments, catalog and WAL, backups, keys
            files = [Path(r) / n for r, _, names in os.walk(data) for n in names]
            assert {"catalog.db", "catalog.db-wal", "node-ed25519.key", "request-id.key"} <= {p.name for p in files}
            for part in ("video", "backups", "exports"):  # footage, catalog copies, export staging
                assert any(part in p.relative_to(data).parts for p in files), part
            assert user.can_open([config]) == [str(config)], "the probe itself works"
            assert user.can_open(files + [base / "secrets.toml", data]) == []
            assert private_walk(data) == []
            # an account in no group of edged's cannot even reach the socket
            r = outsider.ctl("--socket", str(sock), "status", env=env)
            assert r.returncode == 2 and "no permission to use" in r.stderr, r.stderr
        finally:
            assert d.stop() == 0, d.log
        assert "Cam-Pw-5" not in d.log
        down = user.ctl("--socket", str(run / "control.sock"), "status", env=env)
        assert down.returncode == 69 and "not running" in down.stderr and "Traceback" not in down.stderr
    finally:
        user.remove()
        outsider.remove()
        shutil.rmtree(base, ignore_errors=True)


# --- R5.7: names off the chain, every personal field purged, undecided requests lapse ------------
def _request(db, name: str, now: int, mode: str = "copy") -> dict:
    fields = {"kind": "agency", "category": "other", "reason": "a fight", "cameras": ["c1"],
              "from_us": now - 600 * S, "to_us": now - 60 * S, "mode": mode, "requester_name": name,
              "requester_org": "precinct 3", "letter_ref": "P-1"}
    return people_rules.file_request(db, fields, filed_by="desk", now_us=now, key=b"k" * 32)


def test_purge_takes_every_personal_field_from_the_catalog_and_its_backups(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    db["cameras"].insert({"id": "c1", "name": "c1", "url": "synthetic:", "enabled": 1, "configured": 1},
                         pk="id", alter=True)
    people_rules.add_account(db, "carol", password_for("carol"), ["custodian"], None, by="root", reason="t", now_us=T0)
    r = _request(db, "Sgt. Lin-Hua", T0)
    r = people_rules.decide_request(db, r["id"], approver="boss", approve=True, reason="ok", now_us=T0 + S,
                          grant_ttl_us=DAY)
    people_rules.use_grant(db, r["grant"]["id"], custodian="carol", watcher="Sgt. Lin-Hua", mode="copy",
                           now_us=T0 + 2 * S)
    retrieval_store.record_export(db, r["grant"]["id"], out_dir="/x", custodian="carol", now_us=T0 + 3 * S,
                                  detail={"recipient": "Sgt. Lin-Hua", "clips": []})
    undecided = _request(db, "Wu Undecided", T0)
    chain = json.dumps(audit_rows(db))
    assert "Lin-Hua" not in chain and "Wu Undecided" not in chain
    (tmp_path / "backups").mkdir()
    backup = tmp_path / "backups" / "catalog-20260101T000000Z.db"
    db.execute("VACUUM INTO ?", [str(backup)])

    # undecided for request_lapse: it lapses (closes), so the three years start
    out = people_rules.sweep(db, T0 + 89 * DAY, 3, lapse_us=90 * DAY)
    assert out["lapsed"] == []
    out = people_rules.sweep(db, T0 + 91 * DAY, 3, lapse_us=90 * DAY)
    assert {x["id"] for x in out["lapsed"]} == {undecided["id"]}
    assert retrieval_store.request_row(db, undecided["id"])["state"] == rq.LAPSED

    later = rq.add_years(T0 + 91 * DAY, 3) + S  # an injected clock: three years on
    out = people_rules.sweep(db, later, 3, lapse_us=90 * DAY)
    assert {x["id"] for x in out["purged"]} == {r["id"], undecided["id"]}
    assert people_rules.purge_backup(backup, retrieval_store.purged_ids(db), later) == 2
    db.conn.close()
    for f in (tmp_path / "catalog.db", tmp_path / "catalog.db-wal", backup):
        if f.exists():
            body = f.read_bytes()
            assert b"Lin-Hua" not in body and b"Wu Undecided" not in body and b"a fight" not in body, f.name
    db = open_db(tmp_path / "catalog.db")
    assert audit.verify(db)[1] is None
    detail = json.loads(rows(db, "exports")[0]["detail"])
    assert detail["recipient"] is None
    db.conn.close()


def test_a_playback_record_names_the_request_not_the_person():
    grant = {"id": 9, "request_id": 3, "cameras": ["desk"], "from_us": 5 * S, "to_us": 65 * S}
    _action, detail = rules.start_record(rules.PLAYBACK, "v1", "desk", viewer="carl", grant=grant,
                                         watcher="Bob Citizen")
    assert "Bob" not in json.dumps(detail) and detail["watcher"] == "request 3"


# --- edgectl export writes safely ------------------------------------------------------------------
def test_a_link_planted_in_the_out_folder_is_not_followed(tmp_path):
    target = tmp_path / "victim.txt"
    target.write_text("keep me")
    out = tmp_path / "evidence"
    fd = open_out(out)
    try:
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        (out / "cam.mp4").symlink_to(target)  # planted while the export is being copied
        with pytest.raises(UsageError, match="nothing was written over it"):
            new_file(fd, "cam.mp4")
        f = new_file(fd, "manifest.json")
        os.close(f)
        assert stat.S_IMODE((out / "manifest.json").stat().st_mode) == 0o600
    finally:
        os.close(fd)
    assert target.read_text() == "keep me"
    link = tmp_path / "linked"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(OSError):
        open_out(link)  # the folder itself swapped for a link: refused, not followed


async def test_the_daemon_repeats_its_purges_in_the_catalog_backups(tmp_path):
    """PeopleWatch with an injected clock: a maintenance backup taken while the request was open
    loses the requester too, on the record, and the backups are pruned to keep_backups."""
    from edged.alarms import Alarms
    from edged.config import default_config
    from edged.daemon.maintenance import BACKUP_DIR, prune_backups
    from edged.daemon.people_watch import PeopleWatch
    from storage.catalog import CatalogWriter
    from storage.maintenance import backup_catalog

    cfg = default_config(tmp_path / "data")
    data = cfg.storage.data_dir
    data.mkdir()
    writer = CatalogWriter(data / "catalog.db")
    await writer.start()
    try:
        await writer.run(lambda c: c.db["cameras"].insert({"id": "c1", "name": "c1", "url": "synthetic:",
                                                           "enabled": 1, "configured": 1}, pk="id", alter=True))
        req = await writer.run(lambda c: _request(c.db, "Chen Mei-Ling", T0))
        backups = data / BACKUP_DIR
        for i in range(4):
            backup_catalog(data / "catalog.db", backups / f"catalog-2026010{i}T000000Z.db")
        assert prune_backups(backups, 3) == ["catalog-20260100T000000Z.db"]
        assert len(list(backups.glob("catalog-*.db"))) == 3
        watch = PeopleWatch(cfg, writer, Alarms(writer))
        out = await watch.sweep(T0 + 91 * DAY)  # undecided for 90 days: lapsed
        assert out["lapsed"] == [{"id": req["id"], "grant": None}]
        out = await watch.sweep(rq.add_years(T0 + 91 * DAY, 3))  # three years on
        assert out["purged"] == [{"id": req["id"]}]
        records = await writer.run(lambda c: [r["action"] for r in audit_rows(c.db)])
        assert records[-2:] == ["request.purge", "backup.purge"]
        ok = await writer.run(lambda c: audit.verify(c.db))
        assert ok[1] is None
    finally:
        await writer.close()
    for f in [data / "catalog.db", data / "catalog.db-wal", *backups.iterdir()]:
        if f.exists():
            assert b"Chen Mei-Ling" not in f.read_bytes(), f.name
            assert stat.S_IMODE(f.stat().st_mode) == 0o600 or f.parent == data, f.name


async def test_export_staging_is_swept_on_a_timer_on_the_record(tmp_path, monkeypatch):
    import asyncio

    from edged.control import export as control_export
    from storage.export import evidence as export
    from storage.catalog import CatalogWriter

    data = tmp_path / "data"
    staged = data / export.EXPORTS_DIR / "7-20260101T000000Z"
    staged.mkdir(parents=True)
    (staged / "cam1.mp4").write_bytes(b"x" * 100)
    day_ago = SYSTEM.now_us() / 1e6 - 86_401
    os.utime(staged, (day_ago, day_ago))
    writer = CatalogWriter(data / "catalog.db")
    await writer.start()
    monkeypatch.setattr(control_export, "STAGING_SWEEP_S", 0.05)
    stopping = asyncio.Event()
    task = asyncio.create_task(control_export.staging_sweeper(writer, data)(stopping))
    try:
        def destroyed(c) -> list[dict]:
            return [json.loads(r["detail"]) for r in audit_rows(c.db, "copy.destroyed")]

        deadline = asyncio.get_running_loop().time() + 10
        while staged.exists() or not (records := await writer.run(destroyed)):  # gone, then on the record
            assert asyncio.get_running_loop().time() < deadline, "the staging copy outlived its day, or no record"
            await asyncio.sleep(0.02)
        assert "older than a day" in records[0]["why"]
    finally:
        stopping.set()
        await task
        await writer.close()


def test_a_socket_group_that_does_not_exist_stops_the_daemon_with_78(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "demo", "url": "synthetic:"}],
                          tables={"control": {"group": "edged-no-such-group"}})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    assert d.proc.wait(60) == 78
    d.stop()
    assert "no group 'edged-no-such-group'" in d.log


def test_an_older_install_is_closed_at_start_without_a_walk_of_the_footage(tmp_path):
    from storage.disk.fsutil import tighten

    data = tmp_path / "data"
    (data / "video" / "cam" / "2026-01-01").mkdir(parents=True)
    os.chmod(data, 0o750)
    (data / "catalog.db").write_bytes(b"x")
    os.chmod(data / "catalog.db", 0o640)
    deep = data / "video" / "cam" / "2026-01-01" / "a.mp4"
    deep.write_bytes(b"x")
    os.chmod(deep, 0o640)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    (data / "link").symlink_to(shared)
    assert tighten(data) == 3  # the folder, the catalog, video/
    assert private_walk(data) == ["video/cam 0o755", "video/cam/2026-01-01 0o755", "video/cam/2026-01-01/a.mp4 0o640"]
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755, "a link is not followed"
