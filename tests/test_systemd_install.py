"""`scripts/install --root` stages a working service: the unit, sysusers and tmpfiles, the venv's
`edged` that checks the example config, the secrets file root's alone; a second install keeps the
config the site edited. Solo but measuring nothing (a venv built from the lock, mostly waiting on
pip): scripts/test runs it beside the other SOLO_PAIRED modules (tests/conftest.py, design/0278)."""

from __future__ import annotations

import re
import stat
import subprocess

from tests.support.daemon import ROOT

UNIT = ROOT / "systemd" / "edged.service"


def test_install_stages_a_working_service(tmp_path):
    stage = tmp_path / "root"
    r = subprocess.run(["scripts/install", "--root", str(stage)], capture_output=True, text=True, cwd=ROOT,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    unit = stage / "etc/systemd/system/edged.service"
    assert unit.read_text() == UNIT.read_text()
    for path in ("usr/lib/sysusers.d/edged.conf", "usr/lib/tmpfiles.d/edged.conf", "opt/edged/README.md",
                 "etc/systemd/system/edged-media.socket", "etc/systemd/system/edged-media@.service",
                 "opt/edged/docs/ref/config.md"):
        assert (stage / path).exists(), path
    exec_start = re.search(r"^ExecStart=(\S+)", unit.read_text(), re.M).group(1)
    edged = stage / exec_start.lstrip("/")
    conf = stage / "etc/edged/edged.toml"
    ok = subprocess.run([str(edged), "check-config", str(conf)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stderr
    assert "change-me" not in ok.stdout
    secrets = stage / "etc/edged/secrets.toml"  # root's alone; systemd hands edged a copy (design/0018)
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert "LoadCredential=secrets.toml:/etc/edged/secrets.toml" in unit.read_text()
    assert "PrivateUsers=" not in unit.read_text().replace("# No PrivateUsers=", "")  # true SO_PEERCRED
    assert "m edged edgectl" in (stage / "usr/lib/sysusers.d/edged.conf").read_text()
    assert "d /var/lib/edged 0700 edged edged" in (stage / "usr/lib/tmpfiles.d/edged.conf").read_text()
    # A second install keeps the config the site edited.
    text = conf.read_text()
    assert 'name = "範例辦事處"' in text  # the example's site name (systemd/edged.example.toml), edited here
    conf.write_text(text.replace('name = "範例辦事處"', 'name = "Edited"', 1))
    assert subprocess.run(["scripts/install", "--root", str(stage)], capture_output=True, cwd=ROOT,
                          timeout=600).returncode == 0
    assert 'name = "Edited"' in conf.read_text()
