"""A citizen's redacted grant through the real daemon (issue 74, design/0321): the custodian's
`export.run {"redacted": true}` stages the export the copy is made from, and `export.read` over the
control socket reads none of its files (main: all 5 of the untouched, signed export); `edgectl
redact` with the applicant's region over the whole picture is refused in words and makes nothing
(main: exit 0, 0 of 114 frames hidden, a record saying 114 filled); a box around the applicant makes
the copy, and its record says how much of the picture it hid."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from edged.control.client import call
from edged.control.protocol import RequestError
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import audit_rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.people import People

S = 1_000_000


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("cam"), fps=20, gop=20, seconds=10)
    with RtspServer({"cam": clip.spec()}) as server:
        yield server


@pytest.mark.timeout(1800)
def test_a_citizens_redacted_grant_lets_only_the_redacted_copy_leave(tmp_path, camera, monkeypatch):
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-redgrant-"))
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"},
                          tables={"control": {"socket": str(sock_dir / "control.sock")},
                                  # a site whose rules hide everything but the applicant (design/0327: one
                                  # that says nothing of redaction shows a citizen the footage as it is)
                                  "policy.citizen": {"redact": "everything"}})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, monkeypatch)
        people.add("carol", "custodian")
        people.add("alice", "approver")
        wait_for(lambda: len(d.segments("cam")) >= 3, 60, "three segments")
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
        r = people.as_("alice").ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason",
                                    "necessary and relevant", "--json")
        assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]["id"]
        people.as_("carol")

        # the staging export of the redacted copy: made, but none of its files leaves the box
        staged = call(people.socket, "export.run", {"grant": grant, "redacted": True}, timeout=600)
        export_id, names = staged["export"], [f["name"] for f in staged["files"]]
        assert "manifest.json" in names and "cam.mp4" in names, names
        read = 0
        for name in names:
            try:
                call(people.socket, "export.read", {"export": export_id, "file": name, "offset": 0})
                read += 1
            except RequestError as exc:
                assert "staged for a citizen's redacted copy and never leaves the box" in str(exc), exc
        print(f"export.read of the redacted grant's staging export: {read} of {len(names)} files read")
        assert read == 0
        assert len([r for r in audit_rows(d, "export.refused") if '"file"' in r["detail"]]) == len(names)
        assert not audit_rows(d, "export.read")

        # the applicant's region over the whole picture: refused, nothing made
        r = people.ctl("redact", "--export", str(export_id), "--mark", "cam.mp4:0:0,0,320,240", "--out",
                       str(tmp_path / "whole"), "--json")
        print(f"edgectl redact --mark cam.mp4:0:0,0,320,240: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        assert r.returncode == 2 and "the redacted copy was refused, nothing was made" in r.stderr, r.stderr
        assert "covers 100% of the picture" in r.stderr and not (tmp_path / "whole").exists()
        failed = audit_rows(d, "redact.failed")
        assert len(failed) == 1 and json.loads(failed[0]["detail"])["refused"] is True
        assert not audit_rows(d, "redact.made")

        # a box around the applicant: the copy, and its record says how much it hid
        out = tmp_path / "redacted"
        r = people.ctl("redact", "--export", str(export_id), "--mark", "cam.mp4:0:96,64,96,96", "--out", str(out),
                       "--json")
        assert r.returncode == 0, r.stderr
        assert [p.name for p in out.iterdir()] == ["cam.mp4"]
        clip = json.loads(audit_rows(d, "redact.made")[0]["detail"])["clips"][0]
        assert clip["frames_filled_whole"] == clip["frames"] > 20 and clip["least_hidden"] > 0.5, clip
    finally:
        assert d.stop() == 0, d.log
        shutil.rmtree(sock_dir, ignore_errors=True)
