"""One intake at a time per custodian, not per box (issue 87 item 6, T33, design/0404). On the real
daemon, carol's upload slows to a trickle half-way (as a slow USB stick or an hour-long file holds it): dave's
intake is taken in meanwhile (it waited for hers before), and sweeps none of her staging; carol's own
second intake waits for her first. Then her upload goes on, and both of hers are taken in."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

from edged.control.client import call, saved_session
from tests.support import portable
from tests.support.catalog import rows
from tests.support.daemon import ROOT, Daemon, ctl_argv, wait_for, write_config
from tests.support.people import People


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    d = tmp_path_factory.mktemp("devices")
    os.chmod(d, 0o755)
    made = {k: portable.body_camera(d / f"{k}.mp4", seconds=3, created=f"2026-0{i + 1}-01T08:00:00Z")
            for i, k in enumerate(("a", "b", "c"))}
    for p in made.values():
        os.chmod(p, 0o644)
    return made


def test_a_custodians_long_upload_never_holds_another_custodians_intake(tmp_path, monkeypatch, devices):
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": "synthetic:", "enabled": False}])
    d = Daemon(config, data, tmp_path / "edged.log").start()
    go = threading.Event()
    try:
        people = People(config, tmp_path, monkeypatch)
        people.add("carol", "custodian")
        people.add("dave", "custodian")
        people.as_("carol")
        token = saved_session(people.socket)["token"]
        carols = tmp_path / "carol-session.json"   # her second edgectl keeps her session while dave logs in
        shutil.copy(people.session, carols)
        body = devices["a"].read_bytes()

        def send(s, size: int) -> None:
            """Half the file, then a trickle (a slow stick: a byte stream the daemon's 10 s idle bound
            keeps), then the rest once the test says so."""
            at = size // 2
            s.sendall(body[:at])
            while not go.wait(1.0) and at < size - 64:
                s.sendall(body[at:at + 64])
                at += 64
            s.sendall(body[at:])

        got: dict = {}

        def first() -> None:
            try:
                got["a"] = call(people.socket, "evidence.import", {"device": "bwc-1", "by": "officer Lin",
                                "bytes": len(body), "name": "a.mp4"}, token=token, timeout=300, send=send)
            except Exception as exc:  # noqa: BLE001 - said by the assertion below
                got["a"] = exc

        upload = threading.Thread(target=first)
        upload.start()

        def half_sent() -> list:
            return [p for p in (data / "imports").glob(".incoming-*")
                    if (p / "original").exists() and (p / "original").stat().st_size >= len(body) // 2]
        [staging] = wait_for(half_sent, 60, "carol's upload half sent")
        second = subprocess.Popen([*ctl_argv(people.socket), "evidence", "import", str(devices["b"]), "--device",
                                   "bwc-1", "--by", "officer Lin"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env={**people.env, "EDGECTL_SESSION": str(carols)})
        people.as_("dave")
        r = people.ctl("evidence", "import", str(devices["c"]), "--device", "bwc-2", "--by", "officer Wu")
        assert r.returncode == 0 and "intake 1:" in r.stdout, r.stdout + r.stderr
        assert second.poll() is None, "carol's second intake waits for her first"
        assert staging.exists(), "dave's intake swept no staging folder under way"

        go.set()
        upload.join(300)
        assert isinstance(got.get("a"), dict) and got["a"]["device"] == "bwc-1", got
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, out + err
        taken = rows(d, "intakes", order="id")
        assert [(t["taken_by"], t["file_name"]) for t in taken] == [("dave", "c.mp4"), ("carol", "a.mp4"),
                                                                    ("carol", "b.mp4")], taken
        assert sorted(p.name for p in (data / "imports").iterdir()) == sorted(t["sha256"] for t in taken)
    finally:
        go.set()
        d.stop()
