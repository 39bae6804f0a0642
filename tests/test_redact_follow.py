"""A citizen's copy, everything hidden but the applicant, followed by the picture between two marks
(design/0285): a real clip (tests/support/patches.py: a patch going half round a circle, a third
party at its centre), made into a copy by the job and read back; and the tracking step stopped and
taken up again (design/0277)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import av
import pytest

from storage.disk.hashing import sha256_file
from storage.redact import job as jobs
from storage.redact import resume
from storage.redact.plan import EVERYTHING, Box, follow, inside
from storage.redact.track import MARK, TRACKED
from tests.support import faces, patches

FRAMES = 60


class Stop(Exception):
    """The worker stopped here (as the daemon killing it would)."""


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    patches.write_clip(folder / "cam1.mp4", FRAMES)
    return folder


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    monkeypatch.setattr(resume, "CHUNK_SECONDS", 0.5)   # 10 frames a part at 20 fps: the tracker saves every 10


def _job(original: Path, folder: Path) -> Path:
    marks = [[m.frame, list(m.box) if m.box else None] for m in patches.marks(FRAMES)]
    jobs.write_job(folder, {"source": str(original), "mode": EVERYTHING, "clips": [
        {"file": "cam1.mp4", "sha256": sha256_file(original / "cam1.mp4"), "marks": marks}]})
    return folder


def _off(a: Box, b: Box) -> float:
    return math.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2)


def _frames(path: Path) -> list[str]:
    with av.open(str(path)) as f:
        return [hashlib.sha256(fr.to_ndarray(format="yuv420p").tobytes()).hexdigest() for fr in f.decode(video=0)]


def test_the_copy_follows_the_applicant_round_the_curve_and_hides_the_third_party(original, tmp_path):
    folder = _job(original, tmp_path / "copy")
    made = jobs.run(folder)["cam1.mp4"]
    assert made["run"]["follow"] == {"kept": 0, "made": FRAMES}
    assert made["applicant_followed"] == {"mark": 2, "tracked": FRAMES - 2, "partly": 0, "line": 0, "unsure": 0,
                                          "held": 0, "out": 0}
    assert made["applicant_check"] == []                                       # nothing for the custodian to check
    assert made["method"]["follow"]["scale"] == 2
    followed = json.loads((folder / "cam1.mp4.follow.json").read_text())
    assert followed["how"] == [MARK] + [TRACKED] * (FRAMES - 2) + [MARK]
    truth = [patches.applicant(i, FRAMES) for i in range(FRAMES)]
    boxes = [tuple(b) for b in followed["boxes"]]
    assert max(_off(b, t) for b, t in zip(boxes, truth)) <= 4                  # within a few pixels, every frame
    line = [follow([*patches.marks(FRAMES)], i) for i in range(FRAMES)]
    assert max(_off(b, t) for b, t in zip(line, truth) if b) >= 100           # where the line is a hundred off
    third = patches.third_party(0, FRAMES)
    assert sum(inside(third, b) > 0.5 for b in line if b) >= 10              # and would show the third party

    with av.open(str(folder / "cam1.mp4")) as f:
        for i, frame in enumerate(f.decode(video=0)):
            y = frame.to_ndarray(format="gray")
            assert faces.filled_share(y, third) == 1.0, f"the third party shown on frame {i}"
            assert faces.filled_share(y, truth[i]) <= 0.25, f"the applicant hidden on frame {i}"
    assert i == FRAMES - 1
    assert sha256_file(original / "cam1.mp4") == made["original_sha256"]      # the original untouched


def test_the_tracking_stopped_goes_on_from_what_it_saved_and_makes_the_same_copy(original, tmp_path):
    whole = jobs.run(_job(original, tmp_path / "whole"))["cam1.mp4"]
    folder = _job(original, tmp_path / "stopped")

    def stop(info: dict) -> None:
        if info.get("step") == "follow" and info.get("done", 0) >= 35 and "resumed" not in info:
            raise Stop

    with pytest.raises(Stop):
        jobs.run(folder, stop)
    saved = json.loads((folder / "cam1.mp4.follow.partial.json").read_text())
    assert saved["upto"] == 30 and not (folder / "cam1.mp4.follow.json").exists()

    seen: list[dict] = []
    made = jobs.run(folder, seen.append)["cam1.mp4"]
    assert seen[0] == {"clip": "cam1.mp4", "step": "follow", "done": 30, "total": FRAMES, "resumed": 30}
    assert made["run"]["follow"] == {"kept": 30, "made": FRAMES - 30}
    assert not (folder / "cam1.mp4.follow.partial.json").exists()
    assert json.loads((folder / "cam1.mp4.follow.json").read_text()) == json.loads(
        (tmp_path / "whole" / "cam1.mp4.follow.json").read_text())            # the same boxes
    assert made["sha256"] == whole["sha256"]                                   # and the same bytes
    assert _frames(folder / "cam1.mp4") == _frames(tmp_path / "whole" / "cam1.mp4")
