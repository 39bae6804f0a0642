"""A redacted copy stopped in the middle goes on from its last part saved (issue 54; design/0277):
the rules of what is kept (table tests, no I/O), then a job stopped inside a clip's render and
inside the detector's pass, taken up again: the parts made are kept (their SHA-256 checked), only
the rest is made, and the copy is frame for frame the one made without a stop."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest

from storage.disk.hashing import sha256_file
from storage.redact import job as jobs
from storage.redact import x264
from storage.redact import resume
from storage.redact.plan import EVERYTHING, FACES, FramePlan
from tests.support import faces
from tests.support.daemon import ROOT, wait_for

FRAMES = 60
LONGER = 90   # past facetrack.REACH (60) and a part (10)
PLANS = [FramePlan(True, (0, 0, 10, 10))] * 25


def test_a_clip_in_parts_of_a_few_seconds():
    assert resume.chunk_frames((20, 1)) == 20 * resume.CHUNK_SECONDS
    assert resume.chunk_frames((30000, 1001)) == round(resume.CHUNK_SECONDS * 30000 / 1001)
    got = resume.chunks(PLANS, 10)
    assert [(c.index, c.first, c.count) for c in got] == [(0, 0, 10), (1, 10, 10), (2, 20, 5)]
    assert [(c.first, c.count) for c in resume.chunks([], 10)] == [(0, 0)]   # no frames: one empty part
    assert resume.chunk_of(24, 10, 3) == 2 and resume.chunk_of(31, 10, 3) == 2  # past the probe: the last part


def test_a_part_made_with_other_masks_is_another_part():
    a = resume.plan_digest(PLANS[:10])
    assert a == resume.plan_digest(list(PLANS[:10]))
    assert a != resume.plan_digest([FramePlan(True, (0, 0, 12, 10))] * 10)
    assert a != resume.plan_digest([FramePlan(True, (0, 0, 10, 10), ((50, 50, 4, 4),))] * 10)


def _records(chunks: list[resume.Chunk], frames: list[int] | None = None) -> dict[int, dict]:
    return {c.index: resume.record(c, (frames or [c.count] * len(chunks))[c.index], f"h{c.index}", 100)
            for c in chunks}


C = resume.chunks(PLANS, 10)
HASHES = {0: "h0", 1: "h1", 2: "h2"}


@pytest.mark.parametrize("records, hashes, want", [
    ({}, {}, 0),                                                       # nothing made yet
    (_records(C[:1]), HASHES, 1),                                      # the first part made
    (_records(C[:2]), HASHES, 2),
    (_records(C), HASHES, 3),                                          # all made: only the join is left
    (_records(C), {**HASHES, 1: "changed"}, 1),                        # a part changed: it and the rest again
    (_records(C), {0: "h0", 2: "h2"}, 1),                              # a part's file gone
    ({k: v for k, v in _records(C).items() if k != 0}, HASHES, 0),     # the first part's record gone
    (_records(C, [10, 9, 5]), HASHES, 1),                              # a part short of its frames
    (_records(C, [10, 10, 7]), HASHES, 3),                             # the last part longer than probed
    ({0: {**_records(C)[0], "plan": "other marks"}, 1: _records(C)[1]}, HASHES, 0),
    ({0: {**_records(C)[0], "first": 5}}, HASHES, 0),
    ({0: {**_records(C)[0], "sha256": ""}}, {0: ""}, 0),
])
def test_the_parts_that_stand(records, hashes, want):
    assert resume.kept(C, records, hashes) == want


# --- a job stopped and taken up again -------------------------------------------------------

class Stop(Exception):
    """The worker stopped here (as the daemon killing it would)."""


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    faces.write_clip(folder / "cam1.mp4", FRAMES, size=(640, 360))
    return folder


@pytest.fixture(scope="module")
def longer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip longer than facetrack.Settled's lag and a part (LONGER frames): its first part rendered before its end."""
    folder = tmp_path_factory.mktemp("longer")
    faces.write_clip(folder / "cam1.mp4", LONGER, size=(640, 360))
    return folder


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    monkeypatch.setattr(resume, "CHUNK_SECONDS", 0.5)   # 10 frames a part at 20 fps: six parts


def _job(original: Path, folder: Path, mode: str, marked: bool = True) -> Path:
    # marked every 20 frames, as a custodian marks one who walks across: from the first and last
    # frames alone the two directions disagree and the region around both is refused (design/0321)
    marks = [[m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(FRAMES, every=20)]
    marks = [[f, [v // 3 for v in b] if b else None] for f, b in marks] if marked else []   # at 640x360
    jobs.write_job(folder, {"source": str(original), "mode": mode, "clips": [
        {"file": "cam1.mp4", "sha256": sha256_file(original / "cam1.mp4"), "marks": marks}]})
    return folder


def _frames(path: Path) -> list[str]:
    with av.open(str(path)) as f:
        return [hashlib.sha256(fr.to_ndarray(format="yuv420p").tobytes()).hexdigest() for fr in f.decode(video=0)]


def _stop_after(step: str, frames: int):
    def progress(info: dict) -> None:
        if info.get("step") == step and info.get("done", 0) >= frames and "resumed" not in info:
            raise Stop
    return progress


def test_a_render_stopped_goes_on_from_its_last_part_and_makes_the_same_copy(original, tmp_path):
    whole = jobs.run(_job(original, tmp_path / "whole", EVERYTHING))["cam1.mp4"]
    assert whole["run"]["render"] == {"kept": 0, "made": FRAMES}
    folder = _job(original, tmp_path / "stopped", EVERYTHING)
    with pytest.raises(Stop):
        jobs.run(folder, _stop_after("render", 25))              # stopped inside the third part
    saved = {p.name: sha256_file(p) for p in folder.glob("cam1.mp4.part-*.mp4")}
    assert sorted(saved) == ["cam1.mp4.part-000000.mp4", "cam1.mp4.part-000001.mp4"]
    assert not (folder / "cam1.mp4").exists() and not (folder / "cam1.mp4.summary.json").exists()

    seen: list[dict] = []
    made = jobs.run(folder, seen.append)["cam1.mp4"]
    assert seen[0] == {"clip": "cam1.mp4", "step": "render", "done": 20, "total": FRAMES, "resumed": 20}
    assert min(s["done"] for s in seen if s.get("step") == "render") == 20   # the bar starts where it stopped
    assert made["run"]["render"] == {"kept": 20, "made": FRAMES - 20}       # nothing made twice
    assert _frames(folder / "cam1.mp4") == _frames(tmp_path / "whole" / "cam1.mp4")
    assert made["sha256"] == sha256_file(folder / "cam1.mp4") and made["frames_written"] == FRAMES
    assert {k: v for k, v in made.items() if k != "run"} == {k: v for k, v in whole.items() if k != "run"}
    assert not list(folder.glob("*part*"))                       # joined: the parts are gone


def test_the_same_copy_whatever_the_memory_held_before(tmp_path):
    """Made in fresh processes whose allocator hands out memory filled with other bytes (glibc's
    MALLOC_PERTURB_), the copy of a moving picture is the same bytes each time: the encoder reads
    nothing it never wrote (design/0294: x264's macroblock tree with AVX-512 did, and a copy
    resumed in another process than the one that began it came out other bytes)."""
    original = tmp_path / "export"
    original.mkdir()
    clip = original / "cam1.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=20", "-t", "6",
                    "-c:v", "libx264", "-g", "20", "-pix_fmt", "yuv420p", str(clip)], check=True, timeout=120)
    made = set()
    for perturb in ("", "1", "2", "3"):
        folder = tmp_path / f"copy{perturb}"
        jobs.write_job(folder, {"source": str(original), "mode": EVERYTHING, "clips": [
            {"file": "cam1.mp4", "sha256": sha256_file(clip), "marks": [[0, [96, 64, 96, 96]]]}]})
        run = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                              "from storage.redact import job; print(job.run(Path(sys.argv[1]))['cam1.mp4']['sha256'])",
                              str(folder)], cwd=ROOT, env={**os.environ, "MALLOC_PERTURB_": perturb},
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == sha256_file(folder / "cam1.mp4")
        made.add(run.stdout.strip())
    assert len(made) == 1, made


def test_a_part_changed_after_the_stop_is_made_again(original, tmp_path):
    folder = _job(original, tmp_path / "copy", EVERYTHING)
    with pytest.raises(Stop):
        jobs.run(folder, _stop_after("render", 35))
    part = folder / "cam1.mp4.part-000001.mp4"
    part.write_bytes(part.read_bytes()[:-100])                   # cut short (a disk that lied)
    made = jobs.run(folder)["cam1.mp4"]
    assert made["run"]["render"] == {"kept": 10, "made": FRAMES - 10}
    reference = jobs.run(_job(original, tmp_path / "whole", EVERYTHING))["cam1.mp4"]
    assert made["sha256"] == reference["sha256"]


def test_the_detector_stopped_goes_on_from_its_boxes_saved(longer, tmp_path):
    """A faces copy with no applicant marked (every face hidden) renders as its detector's decode goes, each frame
    decoded again lag frames behind (design/0360, 0582); one with the applicant marked renders after it (design/0430:
    the tracks look ahead)."""
    folder = _job(longer, tmp_path / "copy", FACES, marked=False)
    with pytest.raises(Stop):
        jobs.run(folder, _stop_after("detect", 75))   # a frame is rendered once facetrack.REACH (60) more are fed
    saved = json.loads((folder / "cam1.mp4.faces.partial.json").read_text())
    assert saved["upto"] == 70
    assert sorted(p.name for p in folder.glob("cam1.mp4.part-*.json")) == ["cam1.mp4.part-000000.json"]
    made = jobs.run(folder)["cam1.mp4"]
    assert made["run"]["detect"] == {"kept": 70, "made": LONGER - 70}
    # the part the stopped run rendered as its detector's decode went (design/0360) stands: not made again
    assert made["run"]["render"] == {"kept": 10, "made": LONGER - 10}
    assert not (folder / "cam1.mp4.faces.partial.json").exists()
    whole = jobs.run(_job(longer, tmp_path / "whole", FACES, marked=False))["cam1.mp4"]
    assert made["sha256"] == whole["sha256"]
    assert json.loads((folder / "cam1.mp4.faces.json").read_text()) == json.loads(
        (tmp_path / "whole" / "cam1.mp4.faces.json").read_text())
    assert made["masks"] == whole["masks"]
    assert _frames(folder / "cam1.mp4") == _frames(tmp_path / "whole" / "cam1.mp4")


def test_a_faces_copy_is_decoded_once_and_is_the_copy_rendered_pass_by_pass(original, tmp_path):
    """design/0360: a job begun afresh renders each frame in the detector's own decode once its
    faces are settled; its parts are the bytes the render alone makes from the same boxes (the job
    taken up after its detector's pass, which decodes the clip again to render it)."""
    once = _job(original, tmp_path / "once", FACES, marked=False)
    seen: list[dict] = []
    made = jobs.run(once, seen.append)["cam1.mp4"]
    assert made["run"] == {"detect": {"kept": 0, "made": FRAMES}, "render": {"kept": 0, "made": FRAMES}}
    assert not any("resumed" in s for s in seen)
    assert [s["done"] for s in seen if s.get("step") == "render"] == [FRAMES]
    twice = _job(original, tmp_path / "twice", FACES, marked=False)
    shutil.copy(once / "cam1.mp4.faces.json", twice / "cam1.mp4.faces.json")   # stopped after its detector
    again = jobs.run(twice)["cam1.mp4"]
    assert again["run"] == {"detect": {"kept": FRAMES, "made": 0}, "render": {"kept": 0, "made": FRAMES}}
    assert again["sha256"] == made["sha256"] and again["masks"] == made["masks"] > 0
    assert subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(once / "cam1.mp4"), "-f", "null", "-"],
                          capture_output=True, timeout=120).returncode == 0
    seen.clear()   # the applicant marked: their track is followed over the whole clip, then rendered (design/0430)
    marked = jobs.run(_job(original, tmp_path / "marked", FACES), seen.append)["cam1.mp4"]
    assert marked["run"] == {"detect": {"kept": 0, "made": FRAMES}, "render": {"kept": 0, "made": FRAMES}}
    steps = [s["step"] for s in seen if "step" in s]
    assert steps.index("render") > len(steps) - 1 - steps[::-1].index("detect")


def test_a_part_encoded_otherwise_before_is_made_again(original, tmp_path, monkeypatch):
    """design/0360: a copy stopped on a version whose x264 made B pictures (other parameter sets
    than the parts made now, which its first part's could not decode) is made again whole."""
    folder = _job(original, tmp_path / "copy", EVERYTHING)
    now = x264.SUBME
    monkeypatch.setattr(x264, "SUBME", "subme=0")   # as design/0358's version encoded
    x264.x264_params.cache_clear()
    with pytest.raises(Stop):
        jobs.run(folder, _stop_after("render", 25))
    assert len(list(folder.glob("cam1.mp4.part-*.json"))) == 2
    monkeypatch.setattr(x264, "SUBME", now)
    x264.x264_params.cache_clear()
    made = jobs.run(folder)["cam1.mp4"]
    assert made["run"]["render"] == {"kept": 0, "made": FRAMES}
    assert subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", str(folder / "cam1.mp4"), "-f", "null", "-"],
                          capture_output=True, timeout=120).returncode == 0


def test_a_stopped_copy_is_swept_with_its_parts_after_a_day(original, tmp_path):
    """The staging sweep destroys only flat folders (storage/export/evidence.py): a copy stopped
    with its parts saved is one, and goes on the record file by file like any staging copy."""
    from storage.export.evidence import EXPORTS_DIR, destroy_working_copy

    data = tmp_path / "data"
    folder = _job(original, data / EXPORTS_DIR / "7.redacted-everything-0123456789ab", EVERYTHING)
    with pytest.raises(Stop):
        jobs.run(folder, _stop_after("render", 25))
    assert list(folder.glob("cam1.mp4.part-*.json"))
    gone = destroy_working_copy(data, folder)
    assert not folder.exists()
    assert {"cam1.mp4.part-000000.mp4", "cam1.mp4.part-000000.json", "job.json"} <= {f["file"] for f in gone["files"]}


def test_one_worker_a_job_the_next_waits_for_the_lock(original, tmp_path):
    """A worker left by a killed daemon still holds its job: the next one waits, never writes the
    same parts beside it."""
    import fcntl
    import threading

    folder = _job(original, tmp_path / "copy", EVERYTHING)
    seen: list[dict] = []
    with open(folder / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        worker = threading.Thread(target=jobs.run, args=(folder, seen.append))
        worker.start()
        wait_for(lambda: seen, 60, "the second worker's first line")
        assert seen == [{"waiting": "another worker holds this job"}]
        assert not list(folder.glob("*part*"))                    # nothing made while the lock is held
    worker.join(120)
    assert not worker.is_alive() and (folder / "cam1.mp4.summary.json").exists()


def test_a_faces_copy_rendered_as_it_is_decoded_holds_no_decoded_frame(longer, tmp_path, monkeypatch):
    """design/0582: the render decodes each frame again facetrack.Settled's lag behind the detector's decode, so the
    decoded pictures alive as a frame is filled are a few, not the lag's (61: 190 MB at 1080p; the face follower's
    luma pictures, a quarter of one each at 1080p, are not counted)."""
    import gc

    from storage.redact import media

    alive: list[int] = []
    put = media.Parts.put

    def counted(self: media.Parts, i: int, frame: av.VideoFrame, plan: FramePlan) -> None:
        alive.append(sum(isinstance(o, av.VideoFrame) and o.format is not None and o.format.name == "yuv420p"
                         for o in gc.get_objects()))
        put(self, i, frame, plan)

    monkeypatch.setattr(media.Parts, "put", counted)
    jobs.run(_job(longer, tmp_path / "copy", FACES, marked=False))
    assert len(alive) == LONGER and max(alive) <= 4, alive
