"""edgectl's text for people: tables line up with Chinese names, and an output encoding
that cannot show them does not crash it (issue 15)."""

from __future__ import annotations

import os
import subprocess

from edged.cli.display import table, width
from tests.support.cameras import free_port
from tests.support.daemon import ROOT, Daemon, wait_for, write_config


def test_table_pads_by_display_width():
    text = table(["ID", "NAME", "STATE"], [["lobby", "大廳入口", "recording"], ["gate", "Gate", "OFFLINE"],
                                           ["desk", "戶政櫃台２", "recording"]])
    lines = text.splitlines()
    # The third column starts at the same terminal column on every line.
    starts = [width(ln[:ln.index(word)]) for ln, word in zip(lines, ["STATE", "recording", "OFFLINE", "recording"])]
    assert len(set(starts)) == 1, text
    assert width("大廳") == 4 and width("e\u0301") == 1 and width("ＡＢ") == 4


def test_edgectl_survives_an_output_encoding_without_chinese(tmp_path):
    """The real daemon with a Chinese-named camera (unreachable: nothing to encode) and the
    site's Chinese name; edgectl's tables through an ASCII, Big5 and Latin-1 stdout."""
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [
        {"id": "lobby", "name": "大廳入口", "url": f"rtsp://127.0.0.1:{free_port()}/x"}])
    config.write_text(config.read_text().replace('id = "test"', 'id = "test"\nname = "戶政事務所"', 1))
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        wait_for(lambda: (d.camera("lobby") or {}).get("state") == "offline", 30, "the camera listed")
        for encoding in ("ascii", "big5", "latin-1"):
            for verb in (["cameras"], ["cameras", "--notice"], ["status"]):
                out = subprocess.run([*d.ctl, *verb], cwd=ROOT, capture_output=True, timeout=30,
                                     env={**os.environ, "PYTHONIOENCODING": encoding})
                assert out.returncode == 0, (encoding, verb, out.stderr.decode(errors="replace"))
                assert b"Traceback" not in out.stderr
                text = out.stdout.decode(encoding)
                assert "lobby" in text or "CCTV" in text or "edged" in text
                if encoding == "big5" and verb == ["cameras"]:
                    assert "大廳入口" in text  # Big5 has these characters: shown, not replaced
                if encoding == "ascii" and verb == ["cameras"]:
                    assert "????" in text
    finally:
        assert d.stop() == 0, d.log
