"""A media worker's answer is untrusted (issue 87 item 3, T29, design/0382): a real worker process
answering an intake's remux request with a symbolic link to the node key, a `../` name reaching a
daemon file, a FIFO, a file of another user or a hard link to the key is refused; nothing is placed
and nothing is moved. The same worker answering with a plain file of its own is taken (so the test
can fail), as the daemon's private copy. The export's clips are checked by the same rule."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest

from storage.intake import take
from storage.intake.take import MADE, Incoming, Refused, Who, place, run_remux
from storage.media import answer

SECRET = b"-----BEGIN PRIVATE KEY----- the node key, never footage\n"
# The worker: reads the remux request, leaves in its folder what HOSTILE says, answers naming FILE.
WORKER = r"""
import json, os, sys
req = json.loads(sys.stdin.readline())
out, how, name = req["outdir"], os.environ["HOSTILE"], os.environ["FILE"]
target = os.environ["TARGET"]
if how == "link":
    os.symlink(target, os.path.join(out, name))
elif how == "hardlink":
    os.link(target, os.path.join(out, name))
elif how == "fifo":
    os.mkfifo(os.path.join(out, name))
elif how in ("plain", "other"):
    with open(os.path.join(out, "000.mp4"), "wb") as f:
        f.write(b"\0\0\0\x18ftypisom made by the worker")
    if how == "other":
        os.chown(os.path.join(out, "000.mp4"), 65534, 65534)
seg = {"file": name, "offset_us": 0, "duration_us": 1000000, "frames": 1, "codec": "h264", "width": 2,
       "height": 2, "audio": False}
print(json.dumps({"result": {"format": "mov,mp4,m4a,3gp,3g2,mj2", "segments": [seg], "claimed_us": None}}))
"""


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setattr(take, "REMUX", (sys.executable, "-c", WORKER))
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    (folder / "node.key").write_bytes(SECRET)
    os.chmod(folder / "node.key", 0o600)
    (folder / "catalog.db").write_bytes(b"the daemon's own file")
    return folder


def intake(data: Path, monkeypatch, how: str, name: str, target: str = "") -> take.Intake:
    monkeypatch.setenv("HOSTILE", how)
    monkeypatch.setenv("FILE", name)
    monkeypatch.setenv("TARGET", target or str(data / "node.key"))
    staged = Incoming(data, 1 << 20)
    staged.write(b"a device's file " + how.encode())
    sha = staged.finish()
    try:
        result = run_remux(data, staged.path, staged.folder / MADE, 1_000_000)
        return place(staged, sha, result, Who("bwc-7", "officer Lin", "carol", None), 1)
    finally:
        staged.discard()


def holding_the_key(data: Path) -> list[str]:
    return sorted(str(p.relative_to(data)) for p in data.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.name != "node.key" and p.read_bytes() == SECRET)


@pytest.mark.skipif(os.geteuid() != 0, reason="a file of another user is made by chown (the suite runs as root)")
@pytest.mark.parametrize("how, name", [("link", "000.mp4"), ("hardlink", "000.mp4"), ("fifo", "000.mp4"),
                                       ("other", "000.mp4"), ("plain", "../../catalog.db"),
                                       ("plain", "../../node.key"), ("plain", "000.mp4/../../catalog.db")])
def test_a_workers_hostile_answer_is_refused_and_nothing_is_placed_or_moved(data, monkeypatch, how, name):
    with pytest.raises(Refused) as refused:
        intake(data, monkeypatch, how, name)
    assert refused.value.kind == "remux_failed" and "answer was refused" in refused.value.detail
    assert sorted(p.name for p in (data / "imports").iterdir()) == [], "nothing placed, the staging folder gone"
    assert (data / "node.key").read_bytes() == SECRET and (data / "catalog.db").read_bytes() == b"the daemon's own file"
    assert holding_the_key(data) == []


def test_a_workers_plain_file_is_taken_as_the_daemons_private_copy(data, monkeypatch):
    got = intake(data, monkeypatch, "plain", "000.mp4")
    [seg] = got.segments
    placed = data / seg["path"]
    st = placed.lstat()
    assert stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o600
    assert placed.read_bytes().endswith(b"made by the worker") and not (placed.parent / MADE).exists()


def test_the_rule_opens_nothing_but_a_plain_file_of_the_workers_user(tmp_path):
    """The export's and the redaction's answers go through the same function: each case alone."""
    pattern = re.compile(r"cam1(-part[0-9]+)?\.mp4")
    (tmp_path / "cam1.mp4").write_bytes(b"clip")
    answer.check(tmp_path, ["cam1.mp4"], pattern, os.geteuid())
    os.symlink(tmp_path / "cam1.mp4", tmp_path / "cam1-part2.mp4")
    os.mkfifo(tmp_path / "cam1-part3.mp4")
    for name, why in (("cam1-part2.mp4", "cannot be opened"), ("cam1-part3.mp4", "not a regular file"),
                      ("../cam1.mp4", "pattern"), ("cam1.mp4", "owned by uid"), (7, "pattern")):
        with pytest.raises(answer.BadAnswer, match=why):
            answer.check(tmp_path, [name], pattern, os.geteuid() + 1 if why.startswith("owned") else os.geteuid())
