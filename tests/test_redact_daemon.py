"""A redacted copy through the real daemon (issue 54; design/0231): a custodian's export of
footage a real camera recorded, then `edgectl redact` makes the copy with the daemon's
redaction worker (a progress bar, the worker at idle priority) and writes the redacted clips
only; every step on the audit chain; the original export untouched; another custodian, an
unmarked request, an unknown mode and a copy not made yet are refused in words."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import pytest

from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import audit_rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.faces import FILL_MAX_Y, watermarked
from tests.support.people import People

S = 1_000_000
BOX = (96, 64, 96, 96)   # the applicant's region, in the 320x240 camera's pixels


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("cam"), fps=20, gop=20, seconds=10)
    with RtspServer({"cam": clip.spec()}) as server:
        yield server


def _lumas(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as f:
        return [fr.to_ndarray(format="gray") for fr in f.decode(video=0)]


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.timeout(1800)  # a daemon, nine edgectl runs and an idle-priority worker on a shared box
def test_a_custodian_redacts_their_export_through_the_daemon(tmp_path, camera):
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-redact-"))
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"},
                          tables={"control": {"socket": str(sock_dir / "control.sock")}})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian")
        people.add("dave", "custodian")
        people.add("alice", "approver")
        wait_for(lambda: len(d.segments("cam")) >= 3, 60, "three segments")
        segs = d.segments("cam")
        start, end = segs[0]["start_us"] + 500_000, segs[-1]["end_us"] - 300_000
        iso = lambda us: datetime.fromtimestamp(us / S).astimezone().isoformat()
        people.as_("carol")
        r = people.ctl("request", "file", "--kind", "agency", "--category", "other", "--reason", "the applicant's "
                       "own visit", "--camera", "cam", "--from", iso(start), "--to", iso(end), "--copy",
                       "--requester", "Ms. Wu", "--org", "herself", "--letter", "A-1", "--json")
        assert r.returncode == 0, r.stderr
        people.as_("alice")
        r = people.ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "her own footage", "--json")
        assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]["id"]
        people.as_("carol")
        original = tmp_path / "original"
        r = people.ctl("export", "--grant", str(grant), "--out", str(original), "--json")
        assert r.returncode == 0, r.stderr
        export_id = json.loads(r.stdout)["export"]
        staged = Path(json.loads(r.stdout)["dir"])
        before = _digests(staged)
        mark = ",".join(map(str, BOX))

        # refused in words, nothing made: no marks, an unknown mode, a copy not made yet, another's export
        r = people.ctl("redact", "--export", str(export_id), "--out", str(tmp_path / "x"))
        assert r.returncode == 2 and "applicant's region marked" in r.stderr, r.stderr
        r = people.ctl("redact", "--export", str(export_id), "--mark", "cam.mp4:0:1,2", "--out", str(tmp_path / "x"))
        assert r.returncode == 2 and "CLIP:FRAME:X,Y,W,H" in r.stderr, r.stderr
        r = people.ctl("redact", "--export", str(export_id), "--mark", f"other.mp4:0:{mark}", "--out",
                       str(tmp_path / "x"))
        assert r.returncode == 2 and "no clip 'other.mp4'" in r.stderr, r.stderr
        people.as_("dave")
        r = people.ctl("redact", "--export", str(export_id), "--mark", f"cam.mp4:0:{mark}", "--out",
                       str(tmp_path / "x"))
        assert r.returncode == 2 and f"export {export_id} is not one you made" in r.stderr, r.stderr
        people.as_("carol")
        assert not (tmp_path / "x").exists() and not audit_rows(d, "redact.started")

        out = tmp_path / "redacted"
        r = people.ctl("redact", "--export", str(export_id), "--mark", f"cam.mp4:0:{mark}", "--out", str(out),
                       "--json")
        assert r.returncode == 0, r.stderr
        assert "redact: 100%" in r.stderr  # not a terminal: plain percentage lines
        result = json.loads(r.stdout)
        assert [p.name for p in out.iterdir()] == ["cam.mp4"]   # the redacted clip only
        clip = result["clips"][0]
        assert clip["sha256"] == hashlib.sha256((out / "cam.mp4").read_bytes()).hexdigest()
        assert clip["original_sha256"] == before["cam.mp4"] and clip["c2pa"] is False  # not enrolled: unsigned
        x, y, w, h = BOX
        frames = _lumas(out / "cam.mp4")
        assert len(frames) == clip["frames"] > 20
        for luma in frames:
            outside = luma.copy()
            outside[y - h // 2:y + h + h // 2, x - w // 2:x + w + w // 2] = 0   # the region, padded, and the codec's edge
            outside[watermarked(luma.shape[1], luma.shape[0])] = 0   # a review copy's words (design/0479)
            assert outside.max() <= FILL_MAX_Y                 # every third party hidden
            assert luma[y:y + h, x:x + w].mean() > 2 * FILL_MAX_Y  # the applicant shown
        assert _digests(staged) == before                      # the original export byte-identical

        # on the record: started, made (counts, never boxes), read; all by carol
        started, made, read = (audit_rows(d, a) for a in ("redact.started", "redact.made", "redact.read"))
        assert len(started) == len(made) == len(read) == 1 and started[0]["actor"].startswith("carol")
        detail = json.loads(made[0]["detail"])
        assert detail["export"] == export_id and detail["clips"][0]["sha256"] == clip["sha256"]
        assert mark not in made[0]["detail"] and str(list(BOX)) not in made[0]["detail"]

        # asked again: the job is done, nothing redone, the same copy
        again = tmp_path / "again"
        r = people.ctl("redact", "--export", str(export_id), "--mark", f"cam.mp4:0:{mark}", "--out", str(again),
                       "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["clips"][0]["sha256"] == clip["sha256"]
        # another custodian never reads it
        people.as_("dave")
        r = people.ctl("redact", "--export", str(export_id), "--mark", f"cam.mp4:0:{mark}", "--out",
                       str(tmp_path / "y"))
        assert r.returncode == 2 and "not one you made" in r.stderr
    finally:
        assert d.stop() == 0, d.log
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.mark.timeout(1800)
def test_a_citizens_copy_started_from_the_grant_with_edgectl(tmp_path, camera):
    """Issue 75, the edgectl route: a citizen's grant that shows only a redacted copy (the site
    lets a citizen take a copy and says nothing of `redact`: everything hidden, design/0327) is
    refused as a whole export and staged for its copy with `edgectl export --redacted`; `edgectl
    redact` makes the copy from it, with a box the custodian hides over a second of it."""
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-redact-"))
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"},
                          tables={"control": {"socket": str(sock_dir / "control.sock")}})
    config.write_text(config.read_text() + '\n[policy.citizen]\nmodes = ["view", "copy"]\n')
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian")
        people.add("alice", "approver")
        wait_for(lambda: len(d.segments("cam")) >= 3, 60, "three segments")
        segs = d.segments("cam")
        iso = lambda us: datetime.fromtimestamp(us / S).astimezone().isoformat()
        people.as_("carol")
        r = people.ctl("request", "file", "--kind", "citizen", "--category", "other", "--reason", "her own visit",
                       "--camera", "cam", "--from", iso(segs[0]["start_us"] + 500_000), "--to",
                       iso(segs[-1]["end_us"] - 300_000), "--requester", "Ms. Wu", "--id-number", "A123456789",
                       "--identity-checked", "--contact", "0912-000-000", "--copy", "--json")
        assert r.returncode == 0, r.stderr
        people.as_("alice")
        r = people.ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "her own footage", "--json")
        assert r.returncode == 0, r.stderr
        grant = json.loads(r.stdout)["grant"]["id"]
        people.as_("carol")
        r = people.ctl("export", "--grant", str(grant), "--out", str(tmp_path / "whole"), "--recipient", "Ms. Wu")
        assert r.returncode == 2 and f"edgectl export --grant {grant} --redacted" in r.stderr, r.stderr
        assert not (tmp_path / "whole").exists() or not any((tmp_path / "whole").iterdir())
        r = people.ctl("export", "--grant", str(grant), "--redacted", "--recipient", "Ms. Wu", "--json")
        assert r.returncode == 0, r.stderr
        export_id = json.loads(r.stdout)["export"]
        x, y, w, h = BOX
        hidden = (x + 16, y + 16, 32, 32)   # a box the custodian hides inside the applicant's region, 0-1 s
        out = tmp_path / "redacted"
        r = people.ctl("redact", "--export", str(export_id), "--mark", f"cam.mp4:0:{','.join(map(str, BOX))}",
                       "--hide", f"cam.mp4:0-1:{','.join(map(str, hidden))}", "--out", str(out), "--json")
        assert r.returncode == 0, r.stderr
        frames = _lumas(out / "cam.mp4")
        hx, hy, hw, hh = hidden
        for i, luma in enumerate(frames[:21]):
            assert luma[hy + 2:hy + hh - 2, hx + 2:hx + hw - 2].max() <= FILL_MAX_Y, f"the hidden box shown on frame {i}"
        assert frames[40][hy + 2:hy + hh - 2, hx + 2:hx + hw - 2].mean() > 2 * FILL_MAX_Y   # shown after its second
        assert frames[40][y:y + h, x:x + w].mean() > 2 * FILL_MAX_Y
        uses = [json.loads(a["detail"]) for a in audit_rows(d, "grant.use")]
        assert [u.get("mode") for u in uses] == ["redacted"], uses
    finally:
        assert d.stop() == 0, d.log
        shutil.rmtree(sock_dir, ignore_errors=True)
