"""Item 9 of issue 31 on the daemon's side (design/0083), on a real daemon with a real camera:
a vendor-attended maintenance window raises `vendor_password_unchanged` when it closes, until a
technician records the superuser password change (audited, 002 §6(3)); a window that touches
storage first copies the footage on record to [maintenance] backup_dir, each copy's hash checked,
nothing copied twice, and is refused (no window, on the record) when the folder lacks room or is
on the footage's own disk (002 §15)."""

from __future__ import annotations

import hashlib
from datetime import datetime
import json
import signal

import pytest

from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, audit_rows, rows
from tests.support.daemon import Daemon, ctl, wait_for, write_config
from tests.support.disks import tmpfs
from tests.support.forms import seed_table
from tests.support.people import People
from storage import alarm_kinds as kinds

KEY = kinds.VENDOR_PASSWORD_UNCHANGED.name


@pytest.fixture
def camera(tmp_path):
    clip = make_clip(tmp_path / "clips", width=640, height=360, fps=20, gop=20, seconds=10, bitrate="1M")
    with RtspServer({"a": f"clip:{clip.video}@20"}) as cams:
        yield cams.url("a")


def test_a_vendor_window_alarms_until_the_superuser_password_is_changed(tmp_path, camera, monkeypatch):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "a", "url": camera}])
    config.write_text(config.read_text() + "\n" + seed_table("002-police-station", "[forms.maintenance]"))
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, monkeypatch)
        people.add("tech", "custodian")
        people.as_("tech")
        r = ctl(d, "maintenance", "begin", "--reason", "firmware", "--vendor", "ACME Security")
        assert r.returncode != 0 and "--attended-by" in r.stderr  # a vendor never works unattended
        r = ctl(d, "maintenance", "begin", "--reason", "firmware", "--vendor", "ACME Security", "--attended-by",
                "Manager Wang", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["vendor"] == "ACME Security"
        r = ctl(d, "maintenance", "password-changed", "--note", "too early")
        assert r.returncode != 0 and "awaits" in r.stderr  # while the vendor is still at work
        assert not alarms(d, lambda x: x["key"] == KEY, active=True)
        assert ctl(d, "maintenance", "end", "--note", "firmware 2.1").returncode == 0

        alarm = wait_for(lambda: alarms(d, lambda x: x["key"] == KEY, active=True), 10, "the vendor alarm")[0]
        assert "ACME Security" in alarm["message"] and "password-changed" in alarm["message"]
        d.signal(signal.SIGHUP)  # still there after a reload of the config
        r = ctl(d, "alarms", "--json")
        assert r.returncode == 0 and KEY in r.stdout

        r = ctl(d, "maintenance", "password-changed", "--note", "root password changed, sealed envelope to Wang",
                "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["vendors"] == ["ACME Security"]
        wait_for(lambda: not alarms(d, lambda x: x["key"] == KEY, active=True), 10, "the vendor alarm to clear")
        rec = audit_rows(d, "maintenance.password_changed")
        assert len(rec) == 1 and rec[0]["actor"].startswith("tech") and "sealed envelope" in rec[0]["detail"]
        w = rows(d, "maintenance")[-1]
        assert w["password_changed_by"].startswith("tech") and w["password_changed_us"] >= w["ended_us"]
        assert ctl(d, "maintenance", "password-changed", "--note", "again").returncode != 0  # nothing awaits
        listing = ctl(d, "maintenance", "list")
        assert "ACME Security (password changed" in listing.stdout, listing.stdout

        # the maintenance record, on the site's own paper (002 §6(3), design/0088), from edgectl
        out = tmp_path / "record.html"
        r = ctl(d, "--lang", "zh-TW", "maintenance", "record", str(w["id"]), "--out", str(out))
        assert r.returncode == 0, r.stderr
        page = out.read_text()
        assert "駐地安全監視錄影系統維護紀錄" in page and "臺北市政府警察局" not in page  # no [forms] rule here
        assert "第六點(三)、第十五點" in page and "firmware 2.1" in page and "ACME Security" in page
        assert '<span class="line">Manager Wang</span>' in page and "已於 " in page and "由 tech 變更" in page  # the person (design/0112), not "tech (os: root)"
        roc = datetime.fromtimestamp(w["began_us"] / 1e6).year - 1911
        assert "否：影像於原處保護，未另備份" in page and f"{roc}/" in page  # ROC years on a zh-TW page
        assert ctl(d, "maintenance", "record", "99", "--out", str(tmp_path / "none.html")).returncode != 0
    finally:
        assert d.stop() == 0, d.log


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_window_that_touches_storage_copies_the_footage_first_or_is_refused(tmp_path, camera, monkeypatch):
    backups = tmp_path / "backups"  # another filesystem than the footage's tmpfs
    backups.mkdir()
    with tmpfs(tmp_path / "disk", "40m") as disk, tmpfs(tmp_path / "tiny", "1m") as tiny:
        data = disk / "data"
        config = write_config(tmp_path / "edged.toml", data, [{"id": "a", "url": camera}],
                              storage={"segment_length": "2s"})
        base = config.read_text()
        config.write_text(base + f'\n[maintenance]\nbackup_dir = "{backups}"\n')
        d = Daemon(config, data, tmp_path / "edged.log").start()
        try:
            people = People(config, tmp_path, monkeypatch)
            people.add("tech", "custodian")
            people.as_("tech")
            wait_for(lambda: sum(s["bytes"] or 0 for s in d.segments("a")) > 1_500_000 and len(d.segments("a")) >= 3,
                     60, "1.5 MB of footage")
            r = ctl(d, "maintenance", "begin", "--reason", "replace the disk", "--attended-by", "Wang",
                    "--touches-storage", "--json")
            assert r.returncode == 0, r.stderr + d.log[-6000:]
            assert "copy: 100%" in r.stderr  # the progress, as lines when not on a terminal
            w = json.loads(r.stdout)
            copy = json.loads(w["footage_copy"])
            on_record = [s for s in d.segments("a") if s["end_us"] < copy["at_us"] - 2_000_000 and s["sha256"]]
            assert copy["copied"] >= len(on_record) - copy["missing"] >= 2 and not copy["changed"]
            for s in on_record:
                assert _sha(backups / "footage" / s["path"]) == s["sha256"]  # checked: the copy is the footage
            assert json.loads(audit_rows(d, "maintenance.begin")[-1]["detail"])["footage_copy"]["copied"] \
                == copy["copied"]
            assert all(p.exists() for p in (data / s["path"] for s in on_record))  # the copy deletes nothing
            assert ctl(d, "maintenance", "end", "--note", "disk replaced").returncode == 0
            r = ctl(d, "maintenance", "record", str(w["id"]), "--out", str(tmp_path / "record.html"))
            assert r.returncode == 0, r.stderr   # the record says the footage was copied first (002 §15)
            assert f"yes: {copy['copied']} files" in (tmp_path / "record.html").read_text()

            # a second window copies only what is new
            r = ctl(d, "maintenance", "begin", "--reason", "again", "--attended-by", "Wang", "--touches-storage",
                    "--json")
            assert r.returncode == 0, r.stderr + d.log[-6000:]  # an internal error's traceback is in the log
            again = json.loads(json.loads(r.stdout)["footage_copy"])
            assert again["already"] >= copy["copied"] and again["copied"] < copy["copied"] + again["already"]
            assert ctl(d, "maintenance", "end", "--note", "done").returncode == 0

            # refused: a folder without the room, and one on the footage's own disk; no window opens
            for folder, why in ((tiny, "MB free"), (disk / "copies", "footage's own disk")):
                folder.mkdir(exist_ok=True)
                config.write_text(base + f'\n[maintenance]\nbackup_dir = "{folder}"\n')
                d.signal(signal.SIGHUP)
                r = wait_for(lambda: (x := ctl(d, "maintenance", "begin", "--reason", "raid", "--attended-by", "Wang",
                                               "--touches-storage")) and why in x.stderr and x, 30,
                             f"a refusal naming {why!r}")
                assert r.returncode != 0 and "maintenance not begun" in r.stderr.lower()
            assert all(x["ended_us"] for x in rows(d, "maintenance"))  # no window opened
            failed = audit_rows(d, "maintenance.copy_failed")
            assert failed and "MB free" in failed[0]["detail"]
            assert not list((disk / "copies").rglob("*.mp4"))
        finally:
            assert d.stop() == 0, d.log
