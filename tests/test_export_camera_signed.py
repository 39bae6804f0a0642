"""A signing camera's export validated by ONVIF's own validator (issue 52, item 6; design/0135).

The camera is the ONVIF media-signing-framework's own signed test file (its `examples/test-files`,
signed with ONVIF Media Signing), recorded into segments by the recorder's segment writer
(tests/support/footage.py); the validator is that framework's `validator` example, built here from
a snapshot of its source. Runs only when asked (`-m validator`: tests/conftest.py), and skips,
saying why, unless the tester gives a checkout of the framework and the folder its validator and
signer examples were installed into, built as its own README says (this repository carries no
copy of it and no recipe for it):

    EDGED_MSF_SOURCE=/path/to/media-signing-framework EDGED_MSF_PREFIX=/path/to/its/install \
        .venv/bin/python -m pytest -q -m validator tests/test_export_camera_signed.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.readonly import open_readonly
from storage.export import evidence as export
from storage.export import signed_video
from storage.keys import nodekey
from tests.support.footage import write_segments

pytestmark = pytest.mark.validator

S = 1_000_000
T0 = 1_800_000_000_000_000
SOURCE_ENV, PREFIX_ENV = "EDGED_MSF_SOURCE", "EDGED_MSF_PREFIX"


def _given(env: str, what: str) -> Path:
    value = os.environ.get(env)
    if not value or not Path(value).is_dir():
        pytest.skip(f"${env} names no folder: {what} (this repository builds none of it)")
    return Path(value)


@dataclass
class Framework:
    tree: Path
    prefix: Path

    @property
    def validator(self) -> Path:
        return self.prefix / "bin" / "validator"

    @property
    def files(self) -> Path:
        return self.tree / "examples" / "test-files"

    def sign(self, name: str, out: Path) -> Path:
        """The framework's unsigned test file `name` signed by its `signer` with its test key, with
        one certificate SEI at the start (`-C 0`), as a camera using the certificate SEI sends it."""
        if "media-signing-framework" not in self.tree.name:
            pytest.skip("the signer finds its test key only in a folder named media-signing-framework")
        work = self.tree / f"work-{os.getpid()}"
        work.mkdir(exist_ok=True)
        shutil.copy(self.files / name, work / name)
        plugins = next(self.prefix.glob("lib*/**/libgstsigning.so")).parent
        subprocess.run([str(self.prefix / "bin" / "signer"), "-C", "0", "-c", "h264", name], cwd=work, check=True,
                       capture_output=True, timeout=120, env={**os.environ, "GST_PLUGIN_PATH": str(plugins)})
        shutil.move(work / f"signed_{name}", out)
        shutil.rmtree(work)
        return out


@pytest.fixture(scope="module")
def msf() -> Framework:
    """The framework's validator and signer as the tester built and installed them (its README)."""
    framework = Framework(_given(SOURCE_ENV, "a checkout of ONVIF's media-signing-framework"),
                          _given(PREFIX_ENV, "where its validator and signer examples were installed"))
    if not framework.validator.exists() or not (framework.prefix / "bin" / "signer").exists():
        pytest.skip(f"no bin/validator and bin/signer under ${PREFIX_ENV}")
    return framework


def validate(msf: Framework, clip: Path, ca: Path | None = None, codec: str = "h264") -> dict[str, str]:
    """The validator's batch verdicts on `clip` (its public key's, its video's) and its counts."""
    work = clip.parent / f".validate-{clip.stem}"
    work.mkdir(exist_ok=True)
    subprocess.run([str(msf.validator), "-b", "-C", str(ca or msf.files / "ca.pem"), "-c", codec,
                    str(clip.resolve())], cwd=work, capture_output=True, timeout=120, check=True)
    text = (work / "validation_results.txt").read_text()
    found = {"verdict": next(line for line in text.splitlines() if line.startswith("VIDEO ")),
             "key": next(line for line in text.splitlines() if line.startswith("PUBLIC KEY "))}
    found.update((m[1].strip(), m[2]) for m in re.finditer(r"Number of ([a-z ]+?)\s*: (\d+)", text))
    shutil.rmtree(work)
    return found


@pytest.fixture(scope="module")
def recorded(msf, tmp_path_factory):
    """The framework's signed H.264 test file (10 s, a keyframe every 62 frames, each GOP's signature
    SEI in the next GOP's second frame) recorded as cam1 in 3 s segments (cut at keyframes)."""
    data = tmp_path_factory.mktemp("signed") / "data"
    data.mkdir()
    write_segments(data, "cam1", msf.files / "test_signed_h264.mp4", [(T0, 9.9)], segment_s=3)
    return data


def export_range(data: Path, out: Path, a_s: float, b_s: float, copy: bool = True) -> dict:
    key_dir = out.parent / "key"
    key_dir.mkdir(exist_ok=True)
    db = open_readonly(data / "catalog.db")
    try:
        cams = export.gather(db, ["cam1"], T0 + int(a_s * S), T0 + int(b_s * S))
    finally:
        db.conn.close()
    return export.write_export(data, out, key=nodekey.load_or_create(key_dir), header={"site": {"id": "s"}, "node": "n"},
                               cameras=cams, from_us=T0 + int(a_s * S), to_us=T0 + int(b_s * S),
                               clips_writer=functools.partial(export.write_clips, copy=copy))


def drop_frame(src: Path, dst: Path, n: int, keep: int | None = None) -> None:
    """`src` without its video frame `n` (and only its first `keep` frames, if given), bytes copied."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-c", "copy", "-bsf:v", f"noise=drop=eq(n\\,{n})"]
    subprocess.run([*cmd, *(["-frames:v", str(keep)] if keep else []), str(dst)], check=True, timeout=120)


@pytest.fixture(scope="module")
def signed_export(recorded, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "x"
    manifest = export_range(recorded, out, 3, 6)
    return out / "cam1.mp4", manifest["cameras"][0]["clips"][0]


def test_a_signing_cameras_export_runs_on_for_its_last_gops_signature(signed_export):
    clip, entry = signed_export
    assert entry["camera_signed"]["tail_frames"] > 0 and entry["camera_signed"]["media_to_us"] > T0 + 6 * S
    assert entry["to_us"] <= T0 + 6 * S  # what a player is told to show: the range
    buf = clip.read_bytes()
    assert b"edts" in buf and b"elst" in buf
    # the SEIs in GOPs 2, 3 and 4 (frames 63, 125, 187): the last signs GOP 3, the last requested
    assert buf.count(signed_video.ONVIF_UUID) == 3


def test_onvifs_validator_validates_every_frame_of_the_range(msf, signed_export):
    clip, entry = signed_export
    got = validate(msf, clip)
    assert got["verdict"] == "VIDEO IS VALID!", got
    assert int(got["validated frames"]) >= entry["frames"], got  # the last requested GOP's too: its signature is in


def test_a_frame_removed_from_the_export_is_detected(msf, signed_export, tmp_path):
    clip, entry = signed_export
    inside = entry["frames"] - 10  # in the last requested GOP, whose signature only the tail holds
    drop_frame(clip, tmp_path / "dropped.mp4", inside)
    got = validate(msf, tmp_path / "dropped.mp4")
    assert got["verdict"] != "VIDEO IS VALID!" and "MISSING" in got["verdict"], got


def test_cut_at_the_requested_end_the_same_removal_goes_unseen(msf, signed_export, tmp_path):
    """What exports did before (issue 52): every frame at or after the end dropped, so the last GOP's
    signature is not in the file and a frame taken out of that GOP is never noticed."""
    clip, entry = signed_export
    drop_frame(clip, tmp_path / "cut.mp4", entry["frames"] - 10, keep=entry["frames"] - 1)
    assert validate(msf, tmp_path / "cut.mp4")["verdict"] == "VIDEO IS VALID!"


# --- the camera's certificate SEI at the export's start ------------------------------------------------
@pytest.fixture(scope="module")
def with_certificate(msf, tmp_path_factory):
    """The framework's unsigned test file signed by its signer with one certificate SEI, in the
    first frame only (the camera's stream starting), recorded as cam1 in 3 s segments."""
    folder = tmp_path_factory.mktemp("cert")
    signed = msf.sign("test_h264.mp4", folder / "signed.mp4")
    data = folder / "data"
    data.mkdir()
    write_segments(data, "cam1", signed, [(T0, 9.9)], segment_s=3)
    return data


def test_the_cameras_certificate_sei_is_at_the_start_of_an_export_from_later_on(msf, with_certificate, tmp_path):
    manifest = export_range(with_certificate, tmp_path / "x", 5, 8)  # starts in the second segment
    cam = manifest["cameras"][0]
    key = cam["clips"][0]["camera_signed"]["key_sei"]
    first = cam["sources"][0]
    assert key["source"] == first["path"] and first["key_sei"] is True and first["clip"] is None  # read for it only
    buf = (tmp_path / "x" / "cam1.mp4").read_bytes()
    mdat = buf.index(b"mdat") + 4
    sample = buf[mdat:mdat + key["bytes"] + 64]
    assert signed_video.kinds_in(sample[:key["bytes"]], False) == {signed_video.KEY}  # the first frame's first unit
    got = validate(msf, tmp_path / "x" / "cam1.mp4", ca=msf.tree / "tests" / "ca_ec.pem")
    assert got["key"] == "PUBLIC KEY IS VALID!" and int(got["validated frames"]) > 0, got


def test_the_remux_path_keeps_the_last_gops_signature_too(msf, recorded, tmp_path):
    """Segments the fragment copy refuses are remuxed: the clip (a plain MP4) runs on as well, with
    no edit list trimming it (GStreamer's demuxer would hide the signature from the validator)."""
    manifest = export_range(recorded, tmp_path / "x", 3, 6, copy=False)
    entry = manifest["cameras"][0]["clips"][0]
    assert entry["camera_signed"]["tail_frames"] > 0
    got = validate(msf, tmp_path / "x" / "cam1.mp4")
    assert got["verdict"] == "VIDEO IS VALID!" and int(got["validated frames"]) >= entry["frames"], got
    drop_frame(tmp_path / "x" / "cam1.mp4", tmp_path / "dropped.mp4", entry["frames"] - 10)
    assert "MISSING" in validate(msf, tmp_path / "dropped.mp4")["verdict"]


def test_an_h265_cameras_export_validates_too(msf, tmp_path):
    """The framework's signed H.265 test file (a key frame every 62 frames at 30 fps), likewise."""
    data = tmp_path / "data"
    data.mkdir()
    write_segments(data, "cam1", msf.files / "test_signed_h265.mp4", [(T0, 9.9)], segment_s=3)
    manifest = export_range(data, tmp_path / "x", 3, 6)
    entry = manifest["cameras"][0]["clips"][0]
    assert entry["camera_signed"]["tail_frames"] > 0
    got = validate(msf, tmp_path / "x" / "cam1.mp4", codec="h265")
    assert got["verdict"] == "VIDEO IS VALID!" and int(got["validated frames"]) >= entry["frames"], got
    drop_frame(tmp_path / "x" / "cam1.mp4", tmp_path / "dropped.mp4", entry["frames"] - 10)
    assert "MISSING" in validate(msf, tmp_path / "dropped.mp4", codec="h265")["verdict"]
