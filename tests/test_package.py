"""The Debian packages on a site's Debian 12 (issue 58; design/0250-0254): built by scripts/package,
installed into a fresh Debian 12 root booted under its own systemd (tests/support/container.py, as
the boot test), with no compiler, no pip and no package index.

Install `./edged_A.deb` with apt, `edged init-data`, record from a test camera, `apt install` a
second build B (version bumped, with one more catalog migration) while recording and measure the
gap per camera, then the downgrade to A (refused, saying why, since the catalog has B's migration;
then done anyway with EDGED_DOWNGRADE_ANYWAY=1, footage and catalog readable), and purge: footage,
catalog and keys left in place. lintian runs on both builds.

Runs only when asked (tests/conftest.py ASKED_ONLY), as root, about 15-25 minutes (two builds):
    .venv/bin/python -m pytest -q -m package tests/test_package.py -s
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from storage.footage.segment_rows import FOOTAGE_STATES
from storage.time.clock import SYSTEM
from tests.support.catalog import rows
from tests.support.container import SITE_PACKAGES, Container, copy_checkout
from tests.support.daemon import ROOT, wait_for

NEEDS = ("systemd-nspawn", "debootstrap", "nsenter", "dpkg-buildpackage", "lintian")
missing = [t for t in NEEDS if not shutil.which(t)]
pytestmark = [
    pytest.mark.package,
    pytest.mark.skipif(os.geteuid() != 0, reason="building packages and booting a container need root"),
    pytest.mark.skipif(bool(missing), reason=f"not installed: {missing} (scripts/package installs the build tools)"),
    pytest.mark.timeout(3600),
]

A, B = "0.1.0-1", "0.1.0-2"
CONFIG = """\
[site]
id = "pkgtest"
node = "node1"
[storage]
data_dir = "/var/lib/edged"
segment_length = "10s"
[control]
socket = "/run/edged/control.sock"
group = "edgectl"
[secrets]
file = "secrets.toml"
[[cameras]]
id = "cam1"
[[cameras]]
id = "cam2"
"""
SECRETS = '[cameras]\ncam1 = "synthetic:"\ncam2 = "synthetic:"\n'
# B's migration: additive (a table), so that A could still read the catalog; A's preinst refuses
# the downgrade anyway, since A cannot know that (design/0254).
MIGRATION = '''

@migrations()
def m999_package_test(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE package_test (id INTEGER PRIMARY KEY)")
'''


def build(source: Path, version: str, dist: Path) -> dict[str, float]:
    """scripts/package VERSION in `source`, the two .deb files copied to `dist`, and lintian on them.
    With EDGED_PACKAGE_DIST set (a folder of both builds' .deb files, from an earlier run), its files
    are taken instead of building: for working on the test itself."""
    t = time.monotonic()
    prebuilt = os.environ.get("EDGED_PACKAGE_DIST")
    if not prebuilt:
        r = subprocess.run(["scripts/package", "--version", version], cwd=source, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = [Path(prebuilt or source / "dist") / f"{p}_{version}_amd64.deb" for p in ("edged", "edged-central")]
    for deb in debs:
        shutil.copy2(deb, dist)
    return {"build, s": time.monotonic() - t, **{f"{d.name}, MB": d.stat().st_size / 1e6 for d in debs}}


def lintian(dist: Path) -> subprocess.Popen[str]:
    """lintian on every .deb, in the background (minutes on a gigabyte): checked at the test's end."""
    return subprocess.Popen(["lintian", "--fail-on", "error,warning", "--no-tag-display-limit",
                             *map(str, sorted(dist.glob("*.deb")))], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def second_source(tmp: Path) -> Path:
    """This checkout with one more catalog migration, as a git tree (scripts/package copies what git lists)."""
    src = tmp / "src-b"
    copy_checkout(src)
    with open(src / "storage/schema/migrations.py", "a") as f:
        f.write(MIGRATION)
    subprocess.run(["git", "init", "-q"], cwd=src, check=True)
    subprocess.run(["git", "add", "-A"], cwd=src, check=True)
    return src


def segments(ct: Container) -> list[dict]:
    path = ct.root / "var/lib/edged/catalog.db"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return rows(db, "segments", lambda r: r["state"] in FOOTAGE_STATES, order="start_us")
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def recording(ct: Container, cameras: int = 2):
    u = ct.unit("edged", "ActiveState", "MainPID", "StatusText")
    ok = u.get("ActiveState") == "active" and u.get("StatusText", "").startswith(f"{cameras}/{cameras} cameras recording")
    return u if ok else None


def gaps_across(segs: list[dict], at_us: int) -> dict[str, float]:
    """Per camera: the seconds between the last segment ending before `at_us` and the next one's start."""
    out = {}
    for cam in ("cam1", "cam2"):
        mine = [s for s in segs if s["camera"] == cam and s["end_us"]]
        before = [s for s in mine if s["start_us"] < at_us]
        after = [s for s in mine if s["start_us"] >= before[-1]["end_us"] and s is not before[-1]] if before else []
        assert before and after, (cam, mine)
        out[cam] = (after[0]["start_us"] - before[-1]["end_us"]) / 1e6
    return out


def test_packages_install_upgrade_downgrade_purge(tmp_path):
    figures: dict[str, float | str] = {}
    dist = tmp_path / "dist"
    dist.mkdir()
    figures.update({k.replace("build", f"build {A}"): v for k, v in build(ROOT, A, dist).items()})
    figures.update({k.replace("build", f"build {B}"): v for k, v in build(second_source(tmp_path), B, dist).items()})

    lint = lintian(dist)
    ct = Container.from_base(tmp_path, tmp_path / "nspawn.log", SITE_PACKAGES)
    shutil.copytree(dist, ct.root / "root/dist")
    try:
        ct.boot()
        # A site's box as the issue has it: no compiler, no pip, no package index.
        ct.sh("rm -rf /var/lib/apt/lists/* && ! command -v gcc && ! command -v cc && ! python3 -m pip --version")
        apt = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --allow-downgrades"
        ct.sh(f"{apt} /root/dist/edged_{A}_amd64.deb", timeout=900)
        # Installed: enabled, running and waiting for its data folder, which no package script made.
        assert ct.sh("systemctl is-enabled edged").stdout.strip() == "enabled"
        wait_for(lambda: ct.unit("edged", "ActiveState")["ActiveState"] == "active", 60, "edged to run on install")
        assert not (ct.root / "var/lib/edged/catalog.db").exists()
        assert sorted(os.listdir(ct.root / "var/lib/edged")) == []
        assert os.listdir(ct.root / "opt/edged") == [A]
        assert ct.sh("dpkg-query -W -f='${Conffiles}' edged").stdout.strip().startswith("/etc/edged/edged.toml")

        (ct.root / "etc/edged/edged.toml").write_text(CONFIG)
        (ct.root / "etc/edged/secrets.toml").write_text(SECRETS)
        ct.sh("edged init-data --config /etc/edged/edged.toml --reason 'package test'")
        ct.sh("systemctl restart edged")
        wait_for(lambda: recording(ct), 90, "both cameras to record under A", interval=0.5)
        wait_for(lambda: len(segments(ct)) >= 4, 60, "two closed segments a camera", interval=0.5)
        old_pid = int(recording(ct)["MainPID"])

        # The upgrade while recording: one restart, B's migration once, with its progress in the journal.
        t = time.monotonic()
        began_us = SYSTEM.now_us()
        ct.sh(f"{apt} /root/dist/edged_{B}_amd64.deb", timeout=900)
        figures["apt install B, s"] = time.monotonic() - t
        u = wait_for(lambda: (u := recording(ct)) and int(u["MainPID"]) != old_pid and u, 90, "B to record")
        assert os.listdir(ct.root / "opt/edged") == [B]
        assert f"/opt/edged/{B}/bin/python" in ct.sh(f"cat /proc/{u['MainPID']}/cmdline | tr '\\0' ' '").stdout
        # Every recorder worker of the new daemon runs from the new folder (design/0252).
        children = ct.sh(f"cat /proc/{u['MainPID']}/task/*/children").stdout.split()
        cmdlines = [ct.sh(f"tr '\\0' ' ' < /proc/{c}/cmdline", check=False).stdout for c in children]
        recorders = [c for c in cmdlines if "recorder.worker" in c]
        assert recorders and all(c.startswith(f"/opt/edged/{B}/bin/python ") for c in recorders), cmdlines
        journal = ct.sh("journalctl -u edged -o cat --no-pager").stdout
        assert journal.count("m999_package_test") >= 1 and "catalog: migrated" in journal, journal[-3000:]
        assert ct.sh("systemctl show edged -p NRestarts").stdout.strip() == "NRestarts=0"
        wait_for(lambda: len([s for s in segments(ct) if s["start_us"] > began_us]) >= 4, 90,
                 "segments after the upgrade", interval=0.5)
        gaps = gaps_across(segments(ct), began_us)
        figures.update({f"upgrade gap {cam}, s": g for cam, g in gaps.items()})

        # The downgrade: refused, saying why; then done anyway, and A reads B's catalog.
        r = ct.sh(f"{apt} /root/dist/edged_{A}_amd64.deb", check=False, timeout=900)
        assert r.returncode != 0 and "downgrade from" in r.stdout + r.stderr and "m999_package_test" in r.stdout + \
            r.stderr, r.stdout[-2000:] + r.stderr[-2000:]
        assert ct.sh("dpkg-query -W -f='${Version}' edged").stdout == B
        ct.sh(f"EDGED_DOWNGRADE_ANYWAY=1 {apt} /root/dist/edged_{A}_amd64.deb", timeout=900)
        wait_for(lambda: recording(ct), 90, "A to record again after the downgrade", interval=0.5)
        assert os.listdir(ct.root / "opt/edged") == [A]
        first = segments(ct)[0]  # A's own, from before the upgrade: still listed, and it plays
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                                str(ct.root / "var/lib/edged" / first["path"])], capture_output=True, text=True)
        assert probe.returncode == 0 and "h264" in probe.stdout, probe.stderr

        # Purge: the software goes, the evidence stays.
        before = sorted(p.relative_to(ct.root) for p in (ct.root / "var/lib/edged").rglob("*") if p.suffix == ".mp4")
        ct.sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y edged", timeout=600)
        after = sorted(p.relative_to(ct.root) for p in (ct.root / "var/lib/edged").rglob("*") if p.suffix == ".mp4")
        # every file listed before is still there (the daemon records until purge stops it, so the
        # listing may have grown meanwhile: asserting equality failed when a segment began between)
        assert before and set(before) <= set(after), sorted(set(before) - set(after))
        for kept in ("var/lib/edged/catalog.db", "var/lib/edged/node-ed25519.key", "etc/edged/secrets.toml"):
            assert (ct.root / kept).exists(), kept
        assert not (ct.root / "opt/edged").exists() and not (ct.root / "etc/edged/edged.toml").exists()

        # The office's package installs beside it on the same plain Debian.
        ct.sh(f"{apt} /root/dist/edged-central_{B}_amd64.deb", timeout=900)
        assert os.listdir(ct.root / "opt/edged-central") == [B]
        assert re.search(r"usage|edged-central", ct.sh("edged-central --help").stdout)
        out, _ = lint.communicate(timeout=1800)
        assert lint.returncode == 0, out[-6000:]
    finally:
        if lint.poll() is None:
            lint.kill()
        ct.stop()
        print("\npackage test figures:")
        for k, v in figures.items():
            print(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")
