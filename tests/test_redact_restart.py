"""A redacted copy survives the daemon stopping under it (issue 54; design/0277), with the real
daemon and a real camera: `edgectl redact` is under way when the daemon is stopped (SIGTERM), then
again when it is killed with everything it runs (SIGKILL, as a crash), each time once some of the
copy is saved (its first parts' records on disk; no fixed wait); after each start the custodian
asks again and the copy goes on from what was saved: its progress starts there, the frames made
after the restarts are fewer than the clip's, and the copy is frame for frame the one made
without a stop; its hash on the record is the finished clip's; the original export untouched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import av
import pytest

from storage.redact import job as jobs
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import audit_rows
from tests.support.daemon import ROOT, Daemon, ctl_argv, wait_for, write_config
from tests.support.people import People

S = 1_000_000
BOX = (96, 64, 96, 96)   # the applicant's region, in the 320x240 camera's pixels
SECONDS = 24             # of footage exported: five parts of 5 s (storage/redact/resume.py)


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("cam"), fps=20, gop=20, seconds=10)
    with RtspServer({"cam": clip.spec()}) as server:
        yield server


def _frames(path: Path) -> list[str]:
    with av.open(str(path)) as f:
        return [hashlib.sha256(fr.to_ndarray(format="yuv420p").tobytes()).hexdigest() for fr in f.decode(video=0)]


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _worker(d: Daemon) -> int | None:
    """The redaction worker's pid among the daemon's processes, or None."""
    assert d.proc is not None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != d.proc.pid:
                continue
            if b"storage.redact.idle" in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except (OSError, ProcessLookupError):
            continue
    return None


def _parts(data: Path) -> int:
    """Parts of the copy saved (their records written after their files, each whole)."""
    return len(list((data / "exports").glob("*.redacted-*/*.part-*.json")))


def _frozen_at(d: Daemon, data: Path, parts: int) -> int:
    """Wait until at least `parts` parts are saved, then freeze the worker (SIGSTOP) so the copy
    cannot finish before the daemon is stopped; the parts saved."""
    wait_for(lambda: _parts(data) >= parts, 300, f"{parts} part(s) of the copy saved", interval=0.02)
    pid = _worker(d)
    assert pid is not None, "the worker ended before it could be stopped"
    os.kill(pid, signal.SIGSTOP)
    return _parts(data)


@pytest.mark.timeout(1800)  # a daemon started three times and an idle-priority worker on a shared box
def test_a_copy_stopped_by_the_daemons_stop_and_crash_goes_on_where_it_stopped(tmp_path, camera):
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-resume-"))
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"},
                          tables={"control": {"socket": str(sock_dir / "control.sock")}})
    d = Daemon(config, data, tmp_path / "edged.log").start()
    running: subprocess.Popen | None = None
    try:
        people = People(config, tmp_path)
        people.add("carol", "custodian")
        people.add("alice", "approver")
        wait_for(lambda: sum(s["end_us"] - s["start_us"] for s in d.segments("cam")) >= (SECONDS + 2) * S, 120,
                 f"{SECONDS + 2} s of footage")
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
        r = people.ctl("export", "--grant", str(grant), "--out", str(tmp_path / "original"), "--json")
        assert r.returncode == 0, r.stderr
        export_id, staged = json.loads(r.stdout)["export"], Path(json.loads(r.stdout)["dir"])
        before = _digests(staged)
        ask = [*ctl_argv(people.socket), "redact", "--export", str(export_id), "--mark",
               f"cam.mp4:0:{','.join(map(str, BOX))}", "--json"]

        def redact(out: str) -> subprocess.Popen:
            return subprocess.Popen([*ask, "--out", str(tmp_path / out)], cwd=ROOT, env=people.env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        # 1. the daemon stops (SIGTERM) while the worker is at work: the parts saved stay
        running = redact("first")
        first = _frozen_at(d, data, 1)
        assert d.stop() == 0, d.log[-4000:]
        running.communicate(timeout=60)
        assert running.returncode != 0 and not (tmp_path / "first" / "cam.mp4").exists()
        running = None
        assert _parts(data) == first and _worker(d) is None
        assert not audit_rows(d, "redact.made")

        # 2. started again, asked again; this time killed with all it runs (SIGKILL: a crash)
        d = Daemon(config, data, tmp_path / "edged.log", init_data=False).start()
        wait_for(lambda: people.login("carol").returncode == 0, 60, "the daemon answering again")
        running = redact("second")
        second = _frozen_at(d, data, first + 1)
        d.kill_all()
        running.communicate(timeout=60)
        assert running.returncode != 0
        running = None
        assert _parts(data) >= second > first

        # 3. started again (after a crash), asked again: it goes on from the parts saved and finishes
        d = Daemon(config, data, tmp_path / "edged.log", init_data=False).start()
        wait_for(lambda: people.login("carol").returncode == 0, 60, "the daemon answering again")
        running = redact("done")
        out, err = running.communicate(timeout=900)
        running = None
        assert "going on from" in err and "the work saved before it stopped is kept" in err, err
        result = json.loads(out)
        clip = result["clips"][0]
        render = result["run"]["cam.mp4"]["render"]
        per = 100                                                   # 5 s at 20 fps
        assert render["kept"] >= second * per and render["made"] + render["kept"] == clip["frames"]
        assert render["made"] < clip["frames"]                      # not a whole run again
        lines = [ln for ln in err.splitlines() if ln.startswith("redact: ") and ln.endswith("%")]
        pct = int(100 * render["kept"] / clip["frames"])
        assert lines and int(lines[0].removeprefix("redact: ").rstrip("%")) >= pct // 10 * 10, err

        # the copy is the one made without a stop, frame for frame; its hash is the finished clip's
        copy = tmp_path / "done" / "cam.mp4"
        assert clip["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
        folder = next((data / "exports").glob("*.redacted-*"))
        assert not list(folder.glob("*part*"))                    # joined: the parts are gone
        reference = tmp_path / "reference"
        jobs.write_job(reference, json.loads((folder / jobs.JOB).read_text()))
        whole = jobs.run(reference)["cam.mp4"]
        assert whole["run"]["render"] == {"kept": 0, "made": clip["frames"]}
        assert _frames(copy) == _frames(reference / "cam.mp4")
        assert whole["sha256"] == clip["sha256"]                  # the same bytes, even
        check = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(copy), "-f", "null", "-"],
                               capture_output=True, text=True)
        assert check.returncode == 0 and not check.stderr, check.stderr
        assert _digests(staged) == before                          # the original export byte-identical

        # on the record: one copy made, with the finished clip's hash and how much was kept
        made = audit_rows(d, "redact.made")
        assert len(made) == 1 and len(audit_rows(d, "redact.started")) == 3
        detail = json.loads(made[0]["detail"])
        assert detail["clips"][0]["sha256"] == clip["sha256"]
        assert detail["resumed_frames"] == {"cam.mp4": render["kept"]}
    finally:
        if running is not None:
            running.kill()
        assert d.stop() == 0, d.log[-4000:]
        shutil.rmtree(sock_dir, ignore_errors=True)
