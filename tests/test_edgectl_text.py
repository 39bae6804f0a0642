"""edgectl's text for people: tables line up with Chinese names, and an output encoding
that cannot show them does not crash it (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys

from edged.display import table, width
from storage.catalog import Catalog, open_db
from tests.support.daemon import ROOT, write_config


def test_table_pads_by_display_width():
    text = table(["ID", "NAME", "STATE"], [["lobby", "大廳入口", "recording"], ["gate", "Gate", "OFFLINE"],
                                           ["desk", "戶政櫃台２", "recording"]])
    lines = text.splitlines()
    # The third column starts at the same terminal column on every line.
    starts = [width(ln[:ln.index(word)]) for ln, word in zip(lines, ["STATE", "recording", "OFFLINE", "recording"])]
    assert len(set(starts)) == 1, text
    assert width("大廳") == 4 and width("e\u0301") == 1 and width("ＡＢ") == 4


def test_edgectl_survives_an_output_encoding_without_chinese(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "lobby", "name": "大廳入口", "url": "synthetic:"}])
    r = subprocess.run([sys.executable, "-m", "edged.cli", "init-data", "--config", str(config)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    db = open_db(data / "catalog.db")
    Catalog(db).sync_cameras([{"id": "lobby", "name": "大廳入口", "url": "synthetic:", "enabled": 1}])
    Catalog(db).set_node({"site_name": "戶政事務所"})
    db.conn.close()
    for encoding in ("ascii", "big5", "latin-1"):
        for verb in (["cameras"], ["cameras", "--notice"], ["status"]):
            out = subprocess.run([sys.executable, "-m", "edged.ctl", "--config", str(config), *verb], cwd=ROOT,
                                 capture_output=True, timeout=30, env={**os.environ, "PYTHONIOENCODING": encoding})
            assert out.returncode == 0, (encoding, verb, out.stderr.decode(errors="replace"))
            assert b"Traceback" not in out.stderr
            text = out.stdout.decode(encoding)
            assert "lobby" in text or "CCTV" in text or "edged" in text
            if encoding == "big5" and verb == ["cameras"]:
                assert "大廳入口" in text  # Big5 has these characters: shown, not replaced
