"""A redacted copy signed as a derivative (issue 54; design/0173), read with the C2PA SDK's own
reader against the office's CA (tests/support/c2pa_ca.read): trusted, its parentOf ingredient the
original clip's manifest, its edit action counts and method only; the original untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage.disk.hashing import sha256_file
from storage.export import c2pa_claim, c2pa_sign
from storage.keys import nodekey
from storage.redact import derivative, job as jobs
from storage.redact.plan import EVERYTHING
from storage.redact.worker import run_job
from tests.support import faces
from tests.support.c2pa_ca import make_ca, read

FRAMES = 10
ORIGINAL = {"claim_generator_info": [{"name": "edged", "version": "test"}], "title": "cam1.mp4",
            "format": "video/mp4", "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
                {"action": "c2pa.created",
                 "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}}]}
CONTEXT = {"site": {"id": "tw-hr-001", "name": "Test office"}, "node": "node1", "export": 12,
           "prepared_by": "carol", "reviewed_by": "beth", "software": {"name": "edged", "version": "test"}}


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    office, key = make_ca("Test office"), nodekey.load_or_create(tmp_path_factory.mktemp("key"))
    chain = office.chain(office.issue(key.public))
    export = tmp_path_factory.mktemp("export")
    faces.write_clip(export / "cam1.mp4", FRAMES)
    c2pa_sign.sign_clip(export / "cam1.mp4", ORIGINAL, chain, "ed25519", key.sign)
    original = sha256_file(export / "cam1.mp4")
    folder = tmp_path_factory.mktemp("copy") / "job"
    jobs.write_job(folder, {"source": str(export), "mode": EVERYTHING, "clips": [
        {"file": "cam1.mp4", "sha256": original,
         "marks": [[m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(FRAMES)]}],
        "sign": {"chain": chain, "alg": "ed25519", "context": CONTEXT}})
    # through the worker process, which asks for the claim's signature: the key stays here (design/0134)
    made = run_job(folder, sign=c2pa_claim.guarded(key.sign, 1))["cam1.mp4"]
    assert made["c2pa"] == {"made": True}
    return office, export, folder, original, made, made


def test_the_copy_is_trusted_and_names_its_original(signed):
    office, export, folder, original, made, out = signed
    got = read(folder / "cam1.mp4", office.pem)
    assert (got.state, got.failures) == ("Trusted", [])
    assert out["sha256"] == sha256_file(folder / "cam1.mp4")
    theirs = read(export / "cam1.mp4", office.pem)
    parent = derivative.parent_of(got.report)
    assert parent == {"title": "cam1.mp4", "manifest": theirs.report["active_manifest"], "signer": "tw-hr-001/node1",
                      "sha256": original, "validated": True}
    assert sha256_file(export / "cam1.mp4") == original  # the original as it was


def test_the_edit_says_what_was_hidden_and_by_whom_never_where(signed):
    office, export, folder, original, made, out = signed
    got = read(folder / "cam1.mp4", office.pem)
    actions = got.assertion("c2pa.actions.v2")["actions"]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited", "c2pa.transcoded"]
    edited = actions[1]["parameters"]["redaction"]
    assert edited == {"mode": EVERYTHING, "fill": "solid", "frames": FRAMES, "frames_filled_whole": FRAMES,
                      "masks": 0, "faces_followed": 0, "applicant_marks": 2, "custodian_boxes": 0}
    ours = got.assertion(derivative.REDACTION)
    assert (ours["prepared_by"], ours["reviewed_by"], ours["original_export"]) == ("carol", "beth", 12)
    marks = [list(m.box) for m in faces.applicant_marks(FRAMES) if m.box]
    text = json.dumps(got.manifest)
    assert not any(json.dumps(b)[1:-1] in text for b in marks)  # no box of the applicant's region


def test_a_signed_job_is_not_signed_again(signed):
    office, export, folder, original, made, out = signed
    again = jobs.run(folder, signer=lambda data: b"")["cam1.mp4"]    # a signer that would fail: not asked
    assert again.pop("run") == {"render": {"kept": made["frames_written"], "made": 0}}
    assert again == {k: v for k, v in made.items() if k != "run"}


def test_without_a_signer_the_copy_says_why_it_is_unsigned(signed, tmp_path):
    office, export, folder, original, made, out = signed
    job = json.loads((folder / "job.json").read_text())
    jobs.write_job(tmp_path / "job", job)
    got = jobs.run(tmp_path / "job")["cam1.mp4"]
    assert got["c2pa"] == {"made": False, "why": "no signer was given to the redaction"}


def test_the_stand_alone_checker_names_the_same_original(signed):
    import sys
    checker = str(Path(__file__).resolve().parents[1] / "checker")
    sys.path.insert(0, checker)
    try:
        from edged_evidence_check.check import original_of
    finally:
        sys.path.remove(checker)
    office, export, folder, *_ = signed
    for path in (folder / "cam1.mp4", export / "cam1.mp4"):
        report = read(path, office.pem).report
        assert original_of(report) == derivative.parent_of(report)


def test_a_clip_without_a_parent_names_none(signed):
    office, export, *_ = signed
    assert derivative.parent_of(read(export / "cam1.mp4", office.pem).report) is None
