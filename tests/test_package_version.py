"""The package version a box runs from (design/0253): read beside the environment, in the birth,
and shown by the office as the node's version."""

from __future__ import annotations

import json

from central.pages.fleet import overview
from central.store.store import Store
from edged.version import package_version


def test_the_package_version_is_read_beside_the_environment(tmp_path):
    assert package_version(str(tmp_path)) is None  # off a package (a checkout's venv)
    (tmp_path / "PACKAGE_VERSION").write_text("0.1.0-2\n")
    assert package_version(str(tmp_path)) == "0.1.0-2"


def test_the_office_shows_the_package_version_else_the_codes(tmp_path):
    store = Store(tmp_path / "central.db")
    t0 = 1_795_222_444_000_000
    births = (("node1", {"version": "0.1.0", "package": "0.1.0-2"}), ("node2", {"version": "0.1.0"}),
              ("node3", {"version": "0.1.0", "package": 5}))
    store.ingest([(f"edged/v1/site1/{node}/birth", json.dumps({"ts_us": t0, "session": 1, **birth}).encode())
                  for node, birth in births], t0)
    nodes = {n["node"]: n["version"] for n in overview(store, t0, 60_000_000)["nodes"]}
    assert nodes == {"site1/node1": "0.1.0-2", "site1/node2": "0.1.0", "site1/node3": "0.1.0"}


def test_status_lists_each_boxs_version(tmp_path, capsys):
    """A staged rollout box by box at the office's command line too (docs/guide/packages.md)."""
    from central.cli import main

    store = Store(tmp_path / "office/central.db")
    t0 = 1_795_222_444_000_000
    store.ingest([("edged/v1/site1/node1/birth", json.dumps({"ts_us": t0, "session": 1, "version": "0.1.0",
                                                              "package": "0.1.0-2"}).encode())], t0)
    store.close()
    (tmp_path / "central.toml").write_text('[storage]\ndata_dir = "office"\n')
    assert main(["--config", str(tmp_path / "central.toml"), "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("NODE"))
    row = next(line for line in out if line.startswith("site1/node1"))
    assert "VERSION" in header.split() and "0.1.0-2" in row.split()
