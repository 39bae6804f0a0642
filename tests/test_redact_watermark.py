"""The preparer's review copy carries a visible watermark; the release renders the deliverable again
from the same decisions without it (issue 88, design/0479): the words' bitmaps as the catalogs say
(pure), drawn only where the stamp is, and a job's review copy and its release's render compared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np

from edged.i18n import _, speaking
from storage.disk.hashing import sha256_file
from storage.redact import copies, watermark
from storage.redact import job as jobs
from storage.redact.detect import FAINT, WEAK, WEAK_INT8, Method
from storage.redact.plan import FACES
from tests.support import faces
from tests.support.daemon import ROOT

FRAMES = 12


def test_each_languages_words_have_their_bitmap():
    assert f'_("{watermark.WORDS}")' in (ROOT / "edged" / "control" / "redact.py").read_text()
    seen = set()
    for lang in ("en", "zh-TW"):
        with speaking(lang):
            words = _(watermark.WORDS)
        assert words in json.loads(watermark.TABLE.read_text()), f"run scripts/watermark: {words!r} has no bitmap"
        seen.add(watermark.bitmap(words).tobytes())
    assert len(seen) == 2, "each language drawn in its own words"
    assert watermark.bitmap("words nobody drew").tobytes() == watermark.bitmap(watermark.WORDS).tobytes()


def test_the_catalogs_words_are_the_ones_drawn():
    """scripts/watermark --check: the bitmaps are what the catalogs say now (a translation changed
    and the script not run fails here)."""
    got = subprocess.run([sys.executable, "scripts/watermark", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert got.returncode == 0, "storage/redact/watermark.json is stale: run .venv/bin/python scripts/watermark"


def test_the_words_are_drawn_where_the_stamp_is_and_nowhere_else():
    for width, height in ((1920, 1080), (320, 240), (64, 48)):
        stamp = watermark.stamp(watermark.WORDS, width, height)
        luma = np.full((height, width), 100, np.uint8)
        watermark.draw(luma, stamp)
        assert (luma[stamp.text] == watermark.TEXT_Y).all() and (luma[stamp.edge] == watermark.EDGE_Y).all()
        touched = np.zeros_like(luma, bool)
        touched[stamp.text] = touched[stamp.edge] = True
        assert (luma[~touched] == 100).all()
        assert 0.02 < touched.mean() < 0.3, (width, height, touched.mean())   # seen, never the whole picture


def _luma(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as f:
        for i, frame in enumerate(f.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="gray")
    raise AssertionError(f"{path.name} has no frame {index}")


class _NoDetector:
    def __init__(self, method: object) -> None:
        self.method, self.input = method, (640, 352)

    def faces(self, *args: object) -> list:
        raise AssertionError("the release ran the detector: it renders from the decisions already made")

    weighed = faces


def test_the_review_copy_is_watermarked_and_the_release_renders_it_again_without(tmp_path):
    original = tmp_path / "export"
    original.mkdir()
    faces.write_clip(original / "cam1.mp4", FRAMES)
    folder = tmp_path / "copy"
    jobs.write_job(folder, {"source": str(original), "mode": FACES, "review_mark": "審閱版 未交付", "clips": [
        {"file": "cam1.mp4", "sha256": sha256_file(original / "cam1.mp4"), "marks": [
            [m.frame, list(m.box) if m.box else None] for m in faces.applicant_marks(FRAMES)]}]})
    review = jobs.run(folder)["cam1.mp4"]
    assert review["watermark"] == "審閱版 未交付"
    stamp = watermark.stamp("審閱版 未交付", 1920, 1080)
    shown = _luma(folder / "cam1.mp4", FRAMES // 2)
    assert shown[stamp.text].mean() > 200 and shown[stamp.edge].mean() < 60, "the words seen on the review copy"
    assert jobs.run(folder)["cam1.mp4"]["sha256"] == review["sha256"], "made once: not rendered again unreleased"
    (folder / copies.SIGN).write_text(json.dumps({"chain": [], "alg": "ed25519", "context": {}}))   # a box not enrolled
    method = json.loads((folder / "cam1.mp4.summary.json").read_text())["method"]["detector"]
    weak = WEAK_INT8 if method.get("quantized_from") else WEAK   # the model's own (design/0532)
    assert [(w["pass"][0], w["threshold"]) for w in method["weak"]] == [(960, weak), (1280, weak), (1920, weak)], \
        "the manifest says the weak boxes each pass keeps (design/0501; the 1280 px pass beside the others, 0550; 0589)"
    assert [w.get("faint", {}).get("from") for w in method["weak"]] == [None, FAINT, FAINT], "and its closer look (0551)"
    assert [w.get("also_on") for w in method["weak"]] == [None, [0], None], "the 1280 px on the first frame (0613)"
    was = Method(**{**{k: v for k, v in method.items() if k not in ("passes", "weak")}, "input": tuple(method["input"])})
    final = jobs.run(folder, detector=_NoDetector(was))["cam1.mp4"]
    assert "watermark" not in final and final["review_sha256"] == review["sha256"] != final["sha256"]
    assert final["plans_sha256"] == review["plans_sha256"], "the same decisions: the same masks on the same frames"
    assert final["masks"] == review["masks"] and final["frames_written"] == FRAMES
    assert final["sha256"] == sha256_file(folder / "cam1.mp4") and "c2pa" not in final
    clean = _luma(folder / "cam1.mp4", FRAMES // 2)
    assert abs(clean[stamp.text].astype(int) - shown[stamp.text]).mean() > 40, "the deliverable carries no words"
    assert json.loads((folder / "cam1.mp4.summary.json").read_text())["sha256"] == final["sha256"]
