"""A redacted copy asked of a box without edged-redact (issue 89, design/0408), through the real daemon,
edgectl and the desk over HTTP: refused in one sentence that names the package and says a box that has it
can serve the request, at edgectl (`export --redacted` and `redact`) and on the desk's page; the daemon
records all along. Then, with the package "installed" and no restart, the same daemon makes the copy.

"Not installed" is simulated, honestly but not by apt: the daemon runs with PYTHONPATH naming a folder
of this test's whose `onnxruntime` package raises ModuleNotFoundError on import, so the face detector's
runtime cannot be imported by the daemon, by the fresh interpreter its check starts, nor by a redaction
worker (each inherits the environment, as each inherits the package's import path on a box). Taking
that folder's package away is "installing" edged-redact: a worker started after it imports the real one,
as a worker started after `apt install edged-redact` imports the package's (debian/rules: its folder is
on every new interpreter's path once it exists)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from edged.control.client import call
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.catalog import audit_rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People, password_for

S = 1_000_000
SAID = ("edged-redact", "a box that has it", "已安裝該套件的錄影主機")   # the package; either language's "a box that has it"
SHADOW = ('raise ModuleNotFoundError("No module named \'onnxruntime\' (tests/test_redact_not_installed.py: '
          'a box without edged-redact)", name="onnxruntime")\n')


def refused(text: str) -> bool:
    text = html.unescape(text)
    return SAID[0] in text and (SAID[1] in text or SAID[2] in text)


def desk_session(base: str, name: str) -> requests.Session:
    s = requests.Session()
    token = re.search(r'name="csrf" value="([^"]+)"', s.get(base + "/desk/login", timeout=30).text)
    assert token
    r = s.post(base + "/desk/login", data={"name": name, "password": password_for(name), "csrf": token[1]}, timeout=30)
    assert r.ok and r.url.endswith("/desk/"), (r.url, r.text[-2000:])
    return s


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("cam"), fps=20, gop=20, seconds=10)
    with RtspServer({"cam": clip.spec()}) as server:
        yield server


@pytest.mark.timeout(1800)
def test_a_box_without_the_detector_refuses_in_one_sentence_and_makes_the_copy_once_it_has_it(
        tmp_path, camera, monkeypatch):
    shadow = tmp_path / "shadow"
    (shadow / "onnxruntime").mkdir(parents=True)
    (shadow / "onnxruntime/__init__.py").write_text(SHADOW)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")])))
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-noredact-"))
    data, port = tmp_path / "data", free_port()
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"},
                          tables={"control": {"socket": str(sock_dir / "control.sock")},
                                  "viewer": {"enabled": True, "listen": f"127.0.0.1:{port}"},
                                  "policy.citizen": {"redact": "everything"}})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, monkeypatch)
        people.add("carol", "custodian")
        people.add("alice", "approver")
        wait_for(lambda: len(d.segments("cam")) >= 3, 60, "three segments")   # it records without the detector
        segs = d.segments("cam")
        iso = lambda us: datetime.fromtimestamp(us / S, timezone.utc).isoformat()  # noqa: E731
        cfg = people.cfg
        args = ["request", "file", "--kind", "citizen", "--category", cfg.policy.categories[0], "--reason",
                "a wallet lost at the counter", "--camera", "cam", "--from", iso(segs[0]["start_us"] + 300_000),
                "--to", iso(segs[-1]["end_us"] - 300_000), "--requester", "Lin Mei", "--id-number", "A123456789",
                "--identity-checked", "--contact", "0912-000-000", "--json"]
        args += ["--purpose", "to return her wallet"] if cfg.policy.asks_purpose else []
        r = people.as_("carol").ctl(*args)
        assert r.returncode == 0, r.stderr
        request_id = json.loads(r.stdout)["id"]
        r = people.as_("alice").ctl("request", "approve", str(request_id), "--reason", "necessary and relevant", "--json")
        assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]["id"]
        people.as_("carol")

        # edgectl: the staging export of the copy is refused before the grant is used
        r = people.ctl("export", "--grant", str(grant), "--redacted", "--json")
        print(f"edgectl export --grant {grant} --redacted: exit {r.returncode}: {r.stderr.strip()}")
        assert r.returncode != 0 and refused(r.stderr), r.stderr

        # the desk: the request page's "Prepare the redacted copy", over HTTP, says the same
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        s = desk_session(base, "carol")
        page = s.get(f"{base}/desk/requests/{request_id}", timeout=30).text
        form = re.search(r'<form method="post" action="/desk/redact/new"[^>]*>(.*?)</form>', page, re.S)
        assert form, page[-3000:]
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[1]))
        r = s.post(f"{base}/desk/redact/new", data={**fields, "recipient": "Lin Mei", "receipt": "Lin Mei"},
                   timeout=60, allow_redirects=False)
        shown = re.sub(r"<[^>]+>", " ", r.text)
        print(f"desk POST /desk/redact/new: {r.status_code}: {' '.join(html.unescape(shown).split())[-400:]}")
        assert r.status_code == 422 and refused(r.text), r.text[-3000:]
        assert not audit_rows(d, "redact.started") and not audit_rows(d, "export.done"), "nothing was made"

        # "installed" (the shadow taken away; the daemon not restarted): the export is staged ...
        pid = d.proc.pid
        shutil.rmtree(shadow / "onnxruntime")
        staged = call(people.socket, "export.run", {"grant": grant, "redacted": True}, timeout=600)
        export_id = staged["export"]
        # ... and, with the package gone again, `edgectl redact` is refused in the same words
        (shadow / "onnxruntime").mkdir()
        (shadow / "onnxruntime/__init__.py").write_text(SHADOW)
        r = people.ctl("redact", "--export", str(export_id), "--mark", "cam.mp4:0:96,64,96,96", "--out",
                       str(tmp_path / "refused"), "--json")
        print(f"edgectl redact --export {export_id}: exit {r.returncode}: {r.stderr.strip()}")
        assert r.returncode != 0 and refused(r.stderr) and not (tmp_path / "refused").exists(), r.stderr

        # installed again: the same daemon's next worker makes the copy
        shutil.rmtree(shadow / "onnxruntime")
        out = tmp_path / "redacted"
        r = people.ctl("redact", "--export", str(export_id), "--mark", "cam.mp4:0:96,64,96,96", "--out", str(out),
                       "--json")
        assert r.returncode == 0, r.stderr
        assert [p.name for p in out.iterdir()] == ["cam.mp4"] and d.proc.pid == pid and d.proc.poll() is None
        assert len(audit_rows(d, "redact.made")) == 1
        # recording went on throughout: a segment after those the request names (on a fast box the copy is made
        # within the segment that was open, so the next one is waited for, not assumed closed)
        wait_for(lambda: max(s["start_us"] for s in d.segments("cam")) > segs[-1]["start_us"], 30,
                 "a segment recorded after the request's")
    finally:
        assert d.stop() == 0, d.log
        shutil.rmtree(sock_dir, ignore_errors=True)
