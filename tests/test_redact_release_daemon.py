"""docs/guide/redaction.md's edgectl route, word for word, through the real daemon (issue 75,
design/0328): a citizen's request filed and approved, its grant used for the redacted copy, the copy
made by carol, her own release refused where the site asks a second person ([policy.citizen]
release_by_another), the copy released by dave, another custodian, and written out with its own
signed manifest naming its original, carol as who prepared it and dave as who released it;
`edgectl verify` on it exits 0 and says so. Every release and refusal is on the audit chain.

The guide's lines are run as written (bash, from a folder of the test's own), the variables they
name filled from what the commands before printed; `edgectl login NAME` is run as the tests log in
(People.as_: the password on stdin) and `.venv/bin/edgectl` is told the test daemon's socket."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from edged_evidence_check import check as core
from storage.keys import nodecert
from storage.redact import watermark
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import audit_rows
from tests.support.daemon import ROOT, Daemon, ctl_argv, wait_for, write_config
from tests.support.enrol import Office
from tests.support.people import People

S = 1_000_000
GUIDE = ROOT / "docs" / "guide" / "redaction.md"
EDGECTL = ".venv/bin/edgectl"


def guide_lines() -> list[str]:
    """The indented commands of the guide's "With edgectl" section, as written."""
    text = GUIDE.read_text()
    section = text.split("## With edgectl, from the grant to the release", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith(f"    {EDGECTL} ")]


def test_the_guide_names_every_step_of_the_route():
    steps = [" ".join(line.split()[1:3]) for line in guide_lines()]
    for needed in ("request file", "request approve", "export --grant", "redact --export", "redact-release --export",
                   "verify released"):
        assert needed in steps, (needed, steps)


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("cam"), fps=20, gop=20, seconds=10)
    with RtspServer({"cam": clip.spec()}) as server:
        yield server


def _run(people: People, line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """One of the guide's lines as bash runs it, edgectl told the daemon's socket."""
    argv = " ".join(shlex.quote(a) for a in ctl_argv(people.socket))
    return subprocess.run(["bash", "-c", argv + line[len(EDGECTL):]], capture_output=True, text=True, cwd=cwd,
                          timeout=900, env={**people.env, **env,
                                                      "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "checker")])})


def _nothing_signed_reaches_the_preparer(data: Path, copy: str, prepared: Path, said: str,
                                        ca: str) -> dict[str, bytes]:
    """Before its release, all a preparer can get of the copy (`redact.read` serves its folder's clips,
    and its signed files only once released) is unsigned: no clip carries a C2PA manifest, the folder
    holds no signed manifest, and what `redact --out` wrote is those very clips (design/0435)."""
    [folder] = data.rglob(f"*.redacted-{copy}")
    assert not any((folder / n).exists() for n in ("manifest.json", "manifest.sig", "README.txt")), sorted(
        p.name for p in folder.iterdir())
    clips = sorted(p.name for p in folder.glob("*.mp4") if ".part-" not in p.name)
    assert clips == ["cam.mp4"] and sorted(p.name for p in prepared.iterdir()) == clips
    for name in clips:
        assert core.read_c2pa(folder / name, ca) == "the C2PA reader finds none", name
        assert (prepared / name).read_bytes() == (folder / name).read_bytes(), "the review copy is what it read"
        words = json.loads((folder / f"{name}.summary.json").read_text()).get("watermark")
        assert words in json.loads(watermark.TABLE.read_text()), "its pictures carry the words (design/0479)"
    assert "a review copy" in said and "not signed: its release signs it" in said, said
    return {n: (prepared / n).read_bytes() for n in clips}


def _the_court_checks_the_copy_alone_and_with_its_original(tmp_path: Path, out: Path, people: People, office: Office,
                                                          data: Path, env: dict[str, str]) -> None:
    """The stand-alone checker and `edgectl verify` with the office's CA and list: the released copy
    alone is CHECKED AS A COPY (exit 4), naming its original as not supplied; with its original export
    (the folder the box staged) both are CHECKED (exit 0); another folder as its original is refused."""
    (tmp_path / "ca.pem").write_bytes(nodecert.pem([office.ca]))
    (tmp_path / "crl.pem").write_bytes(office.crl_pem(SYSTEM.now_us() + 33 * 86_400 * S))
    court = ["--ca", str(tmp_path / "ca.pem"), "--crl", str(tmp_path / "crl.pem")]
    staged = env["ORIGINAL"]
    checker = [sys.executable, "-m", "edged_evidence_check", str(out), *court, "--json"]
    run = lambda argv: subprocess.run(argv, capture_output=True, text=True, env={  # noqa: E731
        **os.environ, "PYTHONPATH": str(ROOT / "checker")}, cwd=tmp_path, timeout=300)
    r = run(checker)
    got = json.loads(r.stdout)
    assert (r.returncode, got["verdict"]) == (4, "CHECKED AS A COPY"), r.stdout + r.stderr
    assert f"a redacted copy of export {env['EXPORT']} (its manifest's SHA-256 " in got["why"], got["why"]
    assert "which was not supplied" in got["why"] and 'signed by "test/node1"' in got["why"], got["why"]
    r = people.ctl("verify", str(out), *court)
    assert r.returncode == 4 and r.stdout.startswith("CHECKED AS A COPY: ") and got["why"] in r.stdout, r.stdout
    r = run(checker + ["--original", str(staged)])
    both = json.loads(r.stdout)
    assert (r.returncode, both["verdict"], both["original"]["verdict"]) == (0, "CHECKED", "CHECKED"), r.stdout
    assert any("its original supplied" in n and "binds it" in n for n in both["notes"]), both["notes"]
    r = people.ctl("verify", str(out), *court, "--original", str(staged))
    assert r.returncode == 0 and r.stdout.startswith("CHECKED: "), r.stdout + r.stderr
    r = run(checker + ["--original", str(out)])   # the copy given as its own original
    assert r.returncode == 1 and "is itself a redacted copy" in json.loads(r.stdout)["why"], r.stdout


@pytest.mark.timeout(1800)
def test_the_guides_edgectl_route_releases_by_a_second_person(tmp_path, camera, monkeypatch):
    sock_dir = Path(tempfile.mkdtemp(prefix="edged-release-"))
    data = tmp_path / "data"
    config = write_config(tmp_path / "edged.toml", data, [{"id": "cam", "url": camera.url("cam")}],
                          storage={"segment_length": "2s"},
                          tables={"control": {"socket": str(sock_dir / "control.sock")},
                                  "policy.citizen": {"modes": ["view", "copy"], "redact": "everything",
                                                     "release_by_another": True}})
    data.mkdir()
    office = Office()   # an enrolled box: its copies are signed (C2PA) at their release, never before (design/0435)
    office.enrol(data, "test", "node1")
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, monkeypatch)
        for name, role in (("carol", "custodian"), ("dave", "custodian"), ("alice", "approver")):
            people.add(name, role)
        wait_for(lambda: len(d.segments("cam")) >= 3, 60, "three segments")
        segs = d.segments("cam")
        iso = lambda us: datetime.fromtimestamp(us / S, timezone.utc).isoformat()  # noqa: E731
        keys = sorted(data.rglob("node-ed25519.pub.pem"))
        assert keys, "the node's public key beside its key"
        env = {"FROM": iso(segs[0]["start_us"] + 300_000), "TO": iso(segs[-1]["end_us"] - 300_000),
               "NODE_KEY": str(keys[0])}
        work = tmp_path / "work"
        work.mkdir()
        said: list[tuple[str, subprocess.CompletedProcess]] = []
        for line in guide_lines():
            if line.startswith(f"{EDGECTL} login "):
                people.as_(line.split()[-1])
                continue
            r = _run(people, line, env, work)
            said.append((line, r))
            print(f"$ {line}\nexit {r.returncode}\n{r.stdout[-600:]}{r.stderr[-600:]}")
            if " request file " in f" {line} ":
                env["REQUEST"] = re.search(r"request (\d+)", r.stdout).group(1)   # type: ignore[union-attr]
            elif " request approve " in f" {line} ":
                env["GRANT"] = re.search(r"grant (\d+)", r.stdout).group(1)   # type: ignore[union-attr]
            elif "--redacted" in line:
                env["EXPORT"] = re.search(r"export (\d+)", r.stdout).group(1)   # type: ignore[union-attr]
            elif " redact --export" in f" {line}":
                env["COPY"] = re.search(r"--copy ((everything|faces)-[0-9a-f]{12})", r.stdout).group(1)  # type: ignore[union-attr]
                review = _nothing_signed_reaches_the_preparer(data, env["COPY"], work / "prepared", r.stdout,
                                                              nodecert.pem([office.ca]).decode())
                [staged] = [p.with_name(p.name.split(".redacted-")[0]) for p in data.rglob(f"*.redacted-{env['COPY']}")]
                env["ORIGINAL"] = str(staged)   # the original export, as the box staged it
        codes = [r.returncode for _l, r in said]
        # file, approve, stage, make, carol's release (refused), dave's release, verify (the copy's verdict:
        # its original not supplied), verify with the original
        assert codes == [0, 0, 0, 0, 2, 0, 4, 0], [(line, r.returncode, r.stderr[-400:]) for line, r in said]
        refused = said[4][1].stderr
        assert "prepared the redacted copy of export" in refused and "second person" in refused, refused
        assert "prepared by carol, released by dave" in said[5][1].stdout, said[5][1].stdout
        out = work / "released"
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["redaction"]["prepared_by"] == "carol" and manifest["redaction"]["released_by"] == "dave"
        assert manifest["derivative_of"]["export"] == int(env["EXPORT"]), manifest["derivative_of"]
        assert sorted(p.name for p in out.iterdir()) == ["README.txt", "cam.mp4", "manifest.json", "manifest.sig",
                                                         "node-public-key.pem"]
        readme = (out / "README.txt").read_text()   # what it is and how to check it (design/0358)
        assert f"export {env['EXPORT']}" in readme and "edgectl verify" in readme, readme
        assert manifest["readme"]["text"] == readme
        verified = said[6][1].stdout
        assert verified.startswith("CHECKED AS A COPY: ") and "prepared by carol, released by dave" in verified, verified
        assert f"a redacted copy of export {env['EXPORT']}" in verified and "which was not supplied" in verified
        assert said[7][1].stdout.startswith("OK: "), said[7][1].stdout
        # what the release made is signed, and is not what the preparer held (design/0435)
        ca = nodecert.pem([office.ca])
        got = core.read_c2pa(out / "cam.mp4", ca.decode())
        assert isinstance(got, dict) and core.original_of(got)["sha256"] == manifest["cameras"][0]["clips"][0][
            "original_sha256"], got
        assert (out / "cam.mp4").read_bytes() != review["cam.mp4"], "the release signed a clip of its own"
        _the_court_checks_the_copy_alone_and_with_its_original(tmp_path, out, people, office, data, env)

        # on the record: carol's refusal and dave's release, each with who prepared the copy
        refusals = [json.loads(r["detail"]) for r in audit_rows(d, "redact.release_refused")]
        assert [(x["prepared_by"], x["copy"]) for x in refusals] == [("carol", env["COPY"])], refusals
        released = audit_rows(d, "redact.released")
        assert ["dave" in r["actor"] for r in released] == [True], released
        detail = json.loads(released[0]["detail"])
        assert (detail["prepared_by"], detail["released_by"], detail["use"]) == ("carol", "dave", "copy"), detail

        # a citizen's copy is made only the site's way (design/0348): this site hides everything
        r = people.as_("carol").ctl("redact", "--export", env["EXPORT"], "--mode", "faces", "--mark",
                                    "cam.mp4:0:96,64,96,96", "--out", str(tmp_path / "faces"))
        assert r.returncode == 2 and "[policy.citizen] redact" in r.stderr, r.stderr
        assert not (tmp_path / "faces").exists() and len(audit_rows(d, "redact.started")) == 1, "nothing begun"
        people.as_("dave")

        # a copy with a byte changed no longer verifies, and a copy is released once
        spoiled = tmp_path / "spoiled"
        shutil.copytree(out, spoiled)
        with open(spoiled / "cam.mp4", "r+b") as f:
            f.seek(os.path.getsize(spoiled / "cam.mp4") // 2)
            byte = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([byte[0] ^ 0xFF]))
        r = people.ctl("verify", str(spoiled), "--key", env["NODE_KEY"])
        assert r.returncode == 1 and "cam.mp4" in r.stdout, r.stdout + r.stderr
        r = people.ctl("redact-release", "--export", env["EXPORT"], "--copy", env["COPY"], "--checked")
        assert r.returncode == 2 and "released already" in r.stderr, r.stderr
    finally:
        assert d.stop() == 0, d.log
        shutil.rmtree(sock_dir, ignore_errors=True)
