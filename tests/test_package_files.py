"""What debian/ makes from the repository's own files (design/0250, 0252), without building a
package: the units point at the versioned install folder, the maintainer scripts know their
version and the catalog's migrations, and the office's example config loads."""

from __future__ import annotations

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
    assert "\nExecStart=/opt/edged/0.1.0-7/bin/python -m edged.cli run --config /etc/edged/edged.toml\n" in unit
    assert "/opt/edged/venv" not in unit
    central = (tmp_path / "debian/edged-central.service").read_text()
    assert "\nExecStart=/opt/edged-central/0.1.0-7/bin/python -m central.cli run --config /etc/edged/central.toml\n" \
        in central
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
    assert cfg.data_dir == Path("/var/lib/edged-central") and cfg.broker.host == "127.0.0.1"
