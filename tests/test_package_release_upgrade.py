"""A Debian 12 box with edged recording, upgraded to Debian 13 as an admin does it (issue 89; design/0438).

The office's one signed repository has a suite per release (bookworm: edged built on Debian 12 against
python3.11; trixie: the same source built on Debian 13 against python3.13, its version one higher by
its `+deb13`). The box, a minimal Debian 12 booted under its own systemd (tests/support/container.py),
installs edged from the repository, records four RTSP cameras (tests/test_package.py's), and then: both
sources changed from bookworm to trixie, `apt-get full-upgrade`, a reboot. Checked: the box runs Debian
13 and edged's Debian 13 build on python3.13, every camera records again, and nothing recorded is lost:
every footage file from before is there byte for byte, every catalog row from before is there, the
node's key, the config and the secrets file are unchanged. The gap per camera across the upgrade and the
reboot is printed from the segments (not bounded: a release upgrade stops the box).

Runs only when asked (tests/conftest.py ASKED_ONLY), as root, about 20-30 minutes (two builds):
    .venv/bin/python -m pytest -q -m package tests/test_package_release_upgrade.py -s
"""

from __future__ import annotations

import hashlib
import time

from storage.time.clock import SYSTEM
from tests.support.container import SITE_PACKAGES, SUITES, Container
from tests.support.daemon import wait_for
from tests.support.release_build import build, first_source
from tests import test_package
from tests.test_package import APT, CAMERAS, begin_recording, cameras, gaps_across, recording, repository, \
    segments

pytestmark = test_package.pytestmark  # the package tier, and its guards: root and the build tools

V12, V13 = "0.1.0-1+deb12", "0.1.0-1+deb13"
UPGRADE = ("DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confdef "
           "-o Dpkg::Options::=--force-confold full-upgrade")
KEPT = ("var/lib/edged/node-ed25519.key", "etc/edged/edged.toml", "etc/edged/secrets.toml")


def evidence(ct: Container) -> dict[str, str]:
    """Every closed segment's file (one being written still grows), and the files the box cannot lose,
    by their SHA-256."""
    closed = ["var/lib/edged/" + s["path"] for s in segments(ct) if s["end_us"]]
    return {k: hashlib.sha256((ct.root / k).read_bytes()).hexdigest() for k in [*closed, *KEPT]}


def catalog_rows(ct: Container) -> set[tuple]:
    return {(s["camera"], s["start_us"], s["path"], s["sha256"]) for s in segments(ct) if s["end_us"]}


def test_a_debian_12_box_upgraded_to_13_keeps_its_evidence_and_records(tmp_path):
    figures: dict[str, float | str] = {}
    dist = tmp_path / "dist"
    dist.mkdir()
    for suite, version in (("bookworm", V12), ("trixie", V13)):
        got = build(first_source(tmp_path / suite, suite), version, dist, suite)
        figures.update({f"{k} ({suite})": v for k, v in got.items()})
    server = cameras(tmp_path / "clips")
    ct = Container.from_base(tmp_path, tmp_path / "nspawn.log", SITE_PACKAGES, "bookworm")
    try:
        server.start()
        ct.boot()
        repository(tmp_path, ct, [dist / f"edged_{V12}_amd64.deb"],
                   {"trixie": [dist / f"edged_{V13}_amd64.deb"]}, dist="bookworm")
        ct.sh("apt-get update", timeout=600)
        t = time.monotonic()
        ct.sh(f"{APT} edged", timeout=900)
        figures["apt install edged on Debian 12, s"] = time.monotonic() - t
        assert ct.sh("readlink -f /opt/edged/current/bin/python").stdout.strip() == f"/usr/bin/{SUITES['bookworm']}"
        begin_recording(ct, server, V12)
        before, rows_before = evidence(ct), catalog_rows(ct)
        old_pid = int(recording(ct)["MainPID"])

        ct.sh("sed -i 's/\\bbookworm\\b/trixie/g' /etc/apt/sources.list /etc/apt/sources.list.d/edged.sources")
        ct.sh("apt-get update", timeout=600)
        began_us = SYSTEM.now_us()
        t = time.monotonic()
        r = ct.sh(UPGRADE, timeout=2400)
        figures["apt full-upgrade to Debian 13, s"] = time.monotonic() - t
        assert ct.sh("dpkg-query -W -f='${Version} ${Status}' edged").stdout == f"{V13} install ok installed", \
            r.stdout[-3000:]
        t = time.monotonic()
        ct.reboot(timeout=300)
        figures["reboot, s"] = time.monotonic() - t
        assert "VERSION_CODENAME=trixie" in (ct.root / "etc/os-release").read_text()
        u = wait_for(lambda: (u := recording(ct)) and int(u["MainPID"]) != old_pid and u, 180,
                     "edged to record on Debian 13", interval=0.5)
        ended_us = SYSTEM.now_us()
        assert ct.sh("readlink -f /opt/edged/current/bin/python").stdout.strip() == f"/usr/bin/{SUITES['trixie']}"
        assert f"/opt/edged/{V13}/bin/python" in ct.sh(f"tr '\\0' ' ' < /proc/{u['MainPID']}/cmdline").stdout
        assert f"(package {V13})" in ct.sh("edgectl status").stdout
        wait_for(lambda: all(any(s["camera"] == c and s["start_us"] > ended_us and s["end_us"] for s in segments(ct))
                             for c in CAMERAS), 120, "a closed segment of each camera on Debian 13", interval=0.5)

        after, rows_after = evidence(ct), catalog_rows(ct)
        lost = {k: v for k, v in before.items() if after.get(k) != v}
        assert not lost, f"changed or gone after the release upgrade: {sorted(lost)[:10]}"
        assert rows_before <= rows_after, sorted(rows_before - rows_after)[:5]
        figures["footage files kept"] = sum(k.endswith(".mp4") for k in before)
        gaps = gaps_across(segments(ct), began_us, ended_us, "12 -> 13")
        figures.update({f"12 -> 13 gap {cam}, s": g for cam, g in gaps.items()})
    finally:
        ct.stop()
        server.close()
        print("\nrelease upgrade figures:")
        for k, v in figures.items():
            print(f"  {k}: {v:.3f}" if isinstance(v, float) else f"  {k}: {v}")
