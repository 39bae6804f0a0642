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
    assert cfg.storage.data_dir == Path("/var/lib/edged-central") and cfg.broker.host == "127.0.0.1"


def test_the_preinst_refuses_a_downgrade_onto_an_unknown_migration(tmp_path: Path) -> None:
    """debian/edged.preinst run as dpkg runs it for `apt install edged=OLD` (design/0254), on a catalog
    made by the real open_db: refused and named when the catalog has a step OLD does not list, let
    through when it has none, on an upgrade, or with EDGED_DOWNGRADE_ANYWAY=1. Its paths (/etc/edged,
    python3.11) are pointed at this test's folder and interpreter."""
    import sys

    from storage.catalog import open_db

    for d in ("systemd", "debian", "storage"):
        shutil.copytree(ROOT / d, tmp_path / d)
    subprocess.run(["debian/units", "0.1.0-1"], cwd=tmp_path, check=True)
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
