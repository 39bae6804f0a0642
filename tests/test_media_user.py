"""The media workers run as the media user, who cannot read the node key (issue 74; design/0323).

On the real programs: an export made through its media worker and signing process, and a signed
redacted copy made by the redaction worker, with the node key in the data folder (0600, the
daemon's). Each worker's uid is read from /proc while it runs; a process started the same way, with
the same grants, opens what the worker was given and gets EACCES on the key; the export and the
copy are still made and verified. The account is edged-media where the box has it, else nobody
(an unprivileged account that owns nothing here). Changing user needs root: the suite runs as root.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from storage.media import entry as media_entry, user as media_user
from storage.disk.fsutil import private_dir
from storage.disk.hashing import sha256_file
from storage.export import c2pa_claim, c2pa_sign
from storage.export import evidence as export
from storage.export import checking
from storage.export import worker
from storage.export.worker import run_clips, run_signing
from storage.intake import take
from storage.keys import nodekey
from storage.readonly import open_readonly
from storage.redact import job as jobs
from storage.redact import worker as redact_worker
from storage.redact.plan import EVERYTHING
from tests.support import faces, portable
from tests.support import media as support_media
from tests.support.c2pa_ca import make_ca, read
from tests.support.footage import write_segments
from tests.test_export_c2pa import HEADER, S, T0, _source
from tests.test_redact_signed import CONTEXT, ORIGINAL

PROBE = ("import errno, json, os, sys\n"
         "out = {'uid': os.getuid(), 'groups': os.getgroups()}\n"
         "for name in sys.argv[1:]:\n"
         "    try:\n"
         "        open(name, 'rb').close(); out[name] = 'read'\n"
         "    except OSError as exc:\n"
         "        out[name] = errno.errorcode[exc.errno]\n"
         "print(json.dumps(out))\n")


@pytest.fixture
def media(monkeypatch) -> Iterator[media_user.MediaUser]:
    if os.geteuid() != 0:
        pytest.skip("starting a process as another user needs root (the suite runs as root)")
    monkeypatch.setattr(media_user, "MEDIA_USER", media_user.MEDIA_USER)   # undone after the test
    user = support_media.account()
    assert media_user.how(user) == "switch"
    python, env = support_media.interpreter_for(user)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for module in (worker, redact_worker):
        monkeypatch.setattr(module, "COMMAND", (python, *module.COMMAND[1:]))
    monkeypatch.setattr(take, "REMUX", (python, *take.REMUX[1:]))
    yield user
    if "PYTHONPATH" in env:  # the shim's folder, made for this test
        shutil.rmtree(env["PYTHONPATH"])


@pytest.fixture
def data():
    """A data folder as the box has it: 0700, in a folder anyone may pass through (/var/lib)."""
    folder = Path(tempfile.mkdtemp(prefix="edged-data-"))
    yield folder
    shutil.rmtree(folder)


def _uids(monkeypatch) -> list[int]:
    """The real uid of every worker started, read from /proc as it runs."""
    seen: list[int] = []
    real = media_entry.start

    def start(command, access, cwd):
        proc = real(command, access, cwd)
        status = Path(f"/proc/{proc.pid}/status").read_text()   # type: ignore[attr-defined]
        seen.append(int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]))
        return proc
    monkeypatch.setattr(media_entry, "start", start)
    return seen


def _probe(access: media_entry.Access, *paths: Path) -> dict[str, Any]:
    """What a process started as a worker is, with `access`, may open of `paths`."""
    python = worker.COMMAND[0]
    proc = media_entry.start((python, "-c", PROBE, *map(str, paths)), access, cwd=worker.ROOT)
    out, _ = proc.communicate(timeout=60)   # type: ignore[attr-defined]
    return dict(json.loads(out))


def _recorded(data: Path) -> tuple[Any, Any]:
    """12 s of cam1 recorded into `data`, an office CA, and the export's gathered cameras (1-11 s)."""
    write_segments(data, "cam1", _source(Path(tempfile.mkdtemp(dir=data)), "testsrc2"), [(T0, 12)], segment_s=6)
    office = make_ca("Test office")
    db = open_readonly(data / "catalog.db")
    try:
        return office, export.gather(db, ["cam1"], T0 + 1 * S, T0 + 11 * S)
    finally:
        db.conn.close()


def test_the_exports_media_worker_and_signer_run_as_the_media_user_and_cannot_open_the_key(media, data,
                                                                                           monkeypatch):
    key = nodekey.load_or_create(data)
    keyfile = data / nodekey.KEY_FILE
    office, cams = _recorded(data)
    uids = _uids(monkeypatch)
    out = data / export.EXPORTS_DIR / "x"
    manifest = export.write_export(data, out, key=key, header=HEADER, cameras=cams, from_us=T0 + 1 * S,
                                   to_us=T0 + 11 * S, chain=office.chain(office.issue(key.public)),
                                   clips_writer=run_clips, clip_signer=run_signing)
    assert uids == [media.uid, media.uid]   # the media worker, then the signing process
    assert manifest["c2pa"]["made"] and checking.verify_export(out, key.public_b64) == []
    assert read(out / "cam1.mp4", office.pem).state == "Trusted"
    clip = os.stat(out / "cam1.mp4")   # made by the worker, handed back to the daemon's group (edged is in it)
    assert (clip.st_uid, clip.st_gid, clip.st_mode & 0o777) == (media.uid, media.gid, 0o640)
    segment = data / cams[0]["segments"][0]["path"]
    seen = _probe(media_entry.Access(data, reads=(segment,), writes=(out,)), keyfile, segment, out / "cam1.mp4")
    assert seen["uid"] == media.uid and seen["groups"] == []
    assert (seen[str(keyfile)], seen[str(segment)], seen[str(out / "cam1.mp4")]) == ("EACCES", "read", "read")
    assert oct(os.stat(keyfile).st_mode & 0o777) == oct(0o600) and nodekey.load_or_create(data).fingerprint == \
        key.fingerprint


def test_the_redaction_worker_runs_as_the_media_user_and_its_signed_copy_is_made(media, data, monkeypatch):
    frames = 10
    key = nodekey.load_or_create(data)
    office = make_ca("Test office")
    chain = office.chain(office.issue(key.public))
    source = private_dir(data / export.EXPORTS_DIR / "12")
    faces.write_clip(source / "cam1.mp4", frames)
    c2pa_sign.sign_clip(source / "cam1.mp4", ORIGINAL, chain, "ed25519", key.sign)
    original = sha256_file(source / "cam1.mp4")
    folder = data / export.EXPORTS_DIR / "12.redacted-abc"
    jobs.write_job(folder, {"source": str(source), "mode": EVERYTHING, "clips": [
        {"file": "cam1.mp4", "sha256": original,
         "marks": [[m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(frames)]}],
        "sign": {"chain": chain, "alg": "ed25519", "context": CONTEXT}})
    uids = _uids(monkeypatch)
    made = redact_worker.run_job(folder, sign=c2pa_claim.guarded(key.sign, 1))["cam1.mp4"]
    assert uids == [media.uid]
    assert made["c2pa"] == {"made": True} and made["sha256"] == sha256_file(folder / "cam1.mp4")
    assert read(folder / "cam1.mp4", office.pem).state == "Trusted"
    assert sha256_file(source / "cam1.mp4") == original
    keyfile = data / nodekey.KEY_FILE
    seen = _probe(media_entry.Access(data, reads=(source,), writes=(folder,)), keyfile, source / "cam1.mp4",
                  folder / jobs.JOB)
    assert seen["uid"] == media.uid
    assert (seen[str(keyfile)], seen[str(source / "cam1.mp4")], seen[str(folder / jobs.JOB)]) == \
        ("EACCES", "read", "read")


def test_a_devices_file_is_remuxed_by_the_media_user_and_its_segments_are_the_daemons(media, data, monkeypatch):
    """A portable device's file is untrusted input (issue 76): FFmpeg parses it as the media user, who
    may read the original and write only the remux's own folder; the segments placed are the daemon's
    own private files and the original is byte for byte what arrived."""
    key = nodekey.load_or_create(data)
    src = portable.body_camera(Path(tempfile.mkdtemp(dir=data)) / "bwc.mp4", seconds=6)
    staged = take.Incoming(data, limit=src.stat().st_size)
    staged.write(src.read_bytes())
    sha = staged.finish()
    uids = _uids(monkeypatch)
    made = staged.folder / take.MADE
    result = take.run_remux(data, staged.path, made, 3 * S)
    assert uids == [media.uid] and len(result["segments"]) >= 2, result
    keyfile = data / nodekey.KEY_FILE
    seen = _probe(media_entry.Access(data, reads=(staged.path,), writes=(made,)), keyfile, staged.path)
    assert (seen["uid"], seen[str(keyfile)], seen[str(staged.path)]) == (media.uid, "EACCES", "read")
    intake = take.place(staged, sha, result, take.Who("bwc-7", "officer Lin", "carol", None), T0)
    final = data / intake.original
    assert sha256_file(final) == sha and not (final.parent / take.MADE).exists()
    for seg in intake.segments:
        st = os.stat(data / seg["path"])
        assert (st.st_uid, st.st_mode & 0o777) == (os.geteuid(), 0o600), seg["path"]
        assert seg["sha256"] == sha256_file(data / seg["path"])
    assert nodekey.load_or_create(data).fingerprint == key.fingerprint


class AcceptingSocket:
    """What edged-media.socket (Accept=yes) and edged-media@.service do: for each connection, the
    unit's ExecStart as the media user, the connection its stdin and stdout; each worker's uid kept."""

    def __init__(self, path: Path, user: media_user.MediaUser):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(2)
        self.user, self.uids = user, []   # type: list[int]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            proc = subprocess.Popen([worker.COMMAND[0], "-m", "storage.media.entry"], stdin=conn.fileno(),
                                    stdout=conn.fileno(), cwd=worker.ROOT, **media_user.spawn_args(self.user))
            conn.close()   # systemd keeps no copy either: the worker's end closes the connection
            status = Path(f"/proc/{proc.pid}/status").read_text()
            self.uids.append(int(next(ln for ln in status.splitlines() if ln.startswith("Uid:")).split()[1]))

    def close(self) -> None:
        self.sock.close()


def test_through_the_socket_systemd_starts_the_exports_workers_as_the_media_user(media, data, monkeypatch):
    """The packaged daemon may not change user (no capability): its workers come from the socket."""
    key = nodekey.load_or_create(data)
    office, cams = _recorded(data)
    where = Path(tempfile.mkdtemp(prefix="edged-run-")) / "edged-media.sock"
    monkeypatch.setattr(media_user, "SOCKET", where)
    monkeypatch.setattr(media_user, "may_switch", lambda: False)
    assert media_user.how(media) == "same"   # no socket yet: as the daemon's own user
    systemd = AcceptingSocket(where, media)
    try:
        assert media_user.how(media) == "socket"
        out = data / export.EXPORTS_DIR / "x"
        manifest = export.write_export(data, out, key=key, header=HEADER, cameras=cams, from_us=T0 + 1 * S,
                                       to_us=T0 + 11 * S, chain=office.chain(office.issue(key.public)),
                                       clips_writer=run_clips, clip_signer=run_signing)
    finally:
        systemd.close()
        shutil.rmtree(where.parent)
    assert systemd.uids == [media.uid, media.uid]
    assert manifest["c2pa"]["made"] and checking.verify_export(out, key.public_b64) == []
    assert read(out / "cam1.mp4", office.pem).state == "Trusted"


@pytest.mark.parametrize("asked, why", [
    ({"worker": "edged.cli", "from": str(media_entry.HERE)}, "no such media worker: 'edged.cli'"),
    ({"worker": "export", "from": "/opt/edged/0.1.0-6/lib/python3.11/site-packages/storage"},
     "the daemon runs another installed version"),
])
def test_the_socket_service_runs_only_the_media_workers_of_its_own_version(asked, why):
    r = subprocess.run([sys.executable, "-m", "storage.media.entry"], input=json.dumps(asked).encode() + b"\n",
                       capture_output=True, cwd=worker.ROOT, timeout=60)
    assert r.returncode == 2 and json.loads(r.stdout)["error"].startswith(why)


def test_without_the_media_user_a_worker_runs_as_before_and_the_log_says_so_once(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(media_user, "MEDIA_USER", "edged-media-not-made-here")
    monkeypatch.setattr(media_entry, "_said", [])
    assert media_user.media_user() is None and media_user.how(None) == "same"
    access = media_entry.Access(tmp_path, writes=(tmp_path,))
    with caplog.at_level(logging.WARNING, logger="storage.media.entry"):
        for _ in range(2):
            proc = media_entry.start((sys.executable, "-c", "import os; print(os.getuid())"), access, cwd=tmp_path)
            out, _ = proc.communicate(timeout=60)   # type: ignore[attr-defined]
            assert int(out) == os.getuid()
    said = [r.getMessage() for r in caplog.records if "media workers run as" in r.getMessage()]
    assert len(said) == 1 and "edged-media-not-made-here is not on this system" in said[0]


def test_a_grant_never_reaches_outside_the_data_folder_nor_through_a_link(tmp_path):
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "data" / "link")
    with pytest.raises(ValueError):
        media_user.grant(tmp_path / "data", 65534, reads=(tmp_path / "outside",))
    with pytest.raises(PermissionError):
        media_user.allow(tmp_path / "data" / "link", 65534, media_user.READ)
