"""A signing camera (ONVIF Media Signing) that restarts, recorded by both readers: each
connection's recording, its first GOP included, validated end to end by ONVIF's own validator
(issue 79, design/0338). The camera is the media-signing-framework's signed test file served live
by the quirk camera (each connection starts at its first keyframe, as a camera's stream does);
the validator is the framework's, built by the tester from a snapshot of its source
(tests/test_export_camera_signed.py says how to point the tier at it):

    EDGED_MSF_SOURCE=... EDGED_MSF_PREFIX=... .venv/bin/python -m pytest -q -m validator \\
        tests/test_signed_camera_connects.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from recorder.camera import Settings
from tests.support.daemon import wait_for
from tests.support.quirk_camera import QuirkCamera
from tests.support.recorders import recording
from tests.test_camera_edges import clean
from tests.test_export_camera_signed import Framework, msf, validate  # noqa: F401 - msf: the fixture

pytestmark = pytest.mark.validator

S = 1_000_000
GOP = 50  # a keyframe every 50 frames at 25 fps; each GOP's signature in the next GOP
# What FFmpeg says of the framework's signed file itself (`ffmpeg -v error -xerror -i test_signed_h264.mp4`):
# its signing SEIs are bigger than FFmpeg's SEI parser reads. Not the recorder's.
CAMERAS_OWN = ("SEI type 5 size",)


def _annexb(msf: Framework, folder: Path) -> Path:
    """A signing camera's stream: x264 with its parameter sets in band at each keyframe (as a camera
    sends them, and signs them), signed by the framework's `signer` with a certificate SEI at the
    start, as Annex B."""
    plain = folder / "cam.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "10",
                    "-c:v", "libx264", "-profile:v", "high", "-bf", "0", "-g", str(GOP), "-pix_fmt", "yuv420p",
                    "-bsf:v", "dump_extra=freq=keyframe", str(plain)], check=True, timeout=120)
    work = msf.tree / "examples" / "test-files" / f"cam-{os.getpid()}.mp4"
    shutil.copy(plain, work)
    try:
        signed = msf.sign(work.name, folder / "signed.mp4")
    finally:
        work.unlink()
    out = folder / "signed.h264"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(signed), "-c", "copy", "-bsf:v", "h264_mp4toannexb",
                    "-f", "h264", str(out)], check=True, timeout=60)
    return out


def _joined(data: Path, segs: list[dict], out: Path) -> Path:
    """One connection's segments, in order, as the Annex B stream they hold (bytes copied): the
    validator reads a raw stream whole (an MP4 joined from fragmented segments it does not)."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{(data / s['path']).resolve()}'\n" for s in segs if s["frames"]))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    "-bsf:v", "h264_mp4toannexb", "-f", "h264", str(out)], capture_output=True, check=True, timeout=60)
    return out


def _units(path: Path) -> list[bytes]:
    """The NAL units of an Annex B stream."""
    return [u.rstrip(b"\x00") for u in path.read_bytes().split(b"\x00\x00\x01") if u]


def _stream(units: list[bytes], out: Path) -> Path:
    out.write_bytes(b"".join(b"\x00\x00\x00\x01" + u for u in units))
    return out


@pytest.mark.parametrize("reader", ["edged", "ffmpeg"])
def test_a_signing_cameras_first_gop_validates_on_every_connection(msf, tmp_path, reader):  # noqa: F811
    """Each connection's recording holds the camera's signed units byte for byte from its first
    keyframe (the certificate SEI with it), and on them the validator finds the camera's key valid
    and validates the first GOP at least (its signature is in the next GOP's second frame). The
    units are written with 4-byte start codes: on a raw stream this validator's counts depend on
    the start codes' length (3 or 4 bytes, which FFmpeg's copy to Annex B chooses) and on where the
    stream ends (50, 100 and 150 frames validated here for 151-153 frames of the same units), not
    on the units' bytes, and its verdict line reads "VIDEO IS INVALID!" even for the camera's whole
    file."""
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=S, sample_us=0)
    camera = _annexb(msf, tmp_path)
    own = _units(camera)
    results = []
    with QuirkCamera(camera, fps=25) as cam:
        for n in range(3):  # the camera restarts: each connection from its first keyframe
            with recording({"s": cam.url}, settings, reader=reader) as run:
                wait_for(lambda: sum(s["frames"] for s in run.closed_of("s")) >= 2 * GOP + 10, 60,
                         "the first two GOPs and the signature of the second")
            assert clean(run, "s", settings.data_dir, own=CAMERAS_OWN) == {}
            recorded = _units(_joined(settings.data_dir, run.closed_of("s"), tmp_path / f"connection{n}.h264"))
            assert recorded == own[:len(recorded)], f"connection {n}: the camera's units, byte for byte"
            frames = sum(s["frames"] for s in run.closed_of("s"))
            results.append((frames, validate(msf, _stream(recorded, tmp_path / f"units{n}.h264"),
                                             ca=msf.tree / "tests" / "ca_ec.pem")))
    assert cam.sessions == 3
    for frames, found in results:
        assert found["key"] == "PUBLIC KEY IS VALID!", found  # the certificate SEI of the connection's start
        assert int(found["received frames"]) == frames and int(found["validated frames"]) >= GOP, found
