"""The recording mode, detection stream and motion settings of a camera (edged/config/motion.py):
real TOML files, the errors naming the field, check-config's exit status."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edged.config import load_config
from edged.config.motion import AVAILABLE_MODES, MODES, _mode
from edged.daemon.recording.prestart import add_command
from recorder.motion import MotionSettings, Polygon, Rect, settings_of
from tests.support.configs import MINIMAL, SECRET, error_for, write
from tests.support.daemon import ROOT

def load(path):
    """These tests are about motion: the camera's URL keeps its password in the config (issue 45's
    refusal of that: tests/test_secrets.py)."""
    return load_config(path, allow_config_secrets=True)


CAMERA = MINIMAL + '[[cameras]]\nid = "door"\nurl = "rtsp://admin:%s@192.0.2.10:554/Streaming/Channels/101"\n' % SECRET


def test_defaults_are_continuous_on_the_main_stream_with_five_and_ten_seconds(tmp_path):
    cam = load(write(tmp_path, CAMERA)).cameras[0]
    assert cam.mode == "continuous" and cam.detect_url is None
    assert cam.motion.pre_roll_us == 5_000_000 and cam.motion.post_roll_us == 10_000_000
    assert cam.motion.settings == MotionSettings()


def test_a_motion_table_becomes_the_detector_settings_and_a_path_detect_url_the_sub_stream(tmp_path):
    text = CAMERA + (
        'detect_url = "/Streaming/Channels/102?transport=tcp"\n'
        "[cameras.motion]\n"
        'pre_roll = "8s"\npost_roll = "30s"\nsensitivity = 70\nmin_area = 0.01\n'
        "masks = [[0, 0, 0.62, 0.1], [[0.7, 0], [1, 0], [1, 0.4]]]\n"
    )
    cam = load(write(tmp_path, text)).cameras[0]
    assert cam.detect_url == "rtsp://admin:%s@192.0.2.10:554/Streaming/Channels/102?transport=tcp" % SECRET
    assert cam.motion.pre_roll_us == 8_000_000 and cam.motion.post_roll_us == 30_000_000
    s = cam.motion.settings
    assert (s.sensitivity, s.min_area, s.post_roll) == (70, 0.01, 30.0)
    assert s.masks == (Rect(0, 0, 0.62, 0.1), Polygon(((0.7, 0), (1, 0), (1, 0.4))))
    # The password of the sub-stream is no more printable than the main stream's.
    assert SECRET not in repr(cam) and "admin:***@" in repr(cam)


def test_a_whole_detect_url_is_taken_as_it_is(tmp_path):
    cam = load(write(tmp_path, CAMERA + 'detect_url = "rtsp://192.0.2.11/sub"\n')).cameras[0]
    assert cam.detect_url == "rtsp://192.0.2.11/sub"


@pytest.mark.parametrize("extra, field, says", [
    ('mode = "motoin"\n', "cameras[0].mode", 'is not a recording mode; use "continuous", "motion", "live"'),
    ("mode = 1\n", "cameras[0].mode", "expected a string"),
    ('detect_url = "http://"\n', "cameras[0].detect_url", ""),
    ("detect_url = 5\n", "cameras[0].detect_url", "expected a string"),
    ('motion = "on"\n', "cameras[0].motion", "expected a table"),
    ("[cameras.motion]\nsensitivity = 0\n", "cameras[0].motion.sensitivity", "from 1 (least) to 100"),
    ("[cameras.motion]\nsensitivity = true\n", "cameras[0].motion.sensitivity", "found boolean"),
    ("[cameras.motion]\nsensitivity = 50.5\n", "cameras[0].motion.sensitivity", "whole number"),
    ("[cameras.motion]\nmin_area = 1\n", "cameras[0].motion.min_area", "below 1"),
    ('[cameras.motion]\npre_roll = "5"\n', "cameras[0].motion.pre_roll", "with a unit"),
    ('[cameras.motion]\npre_roll = "2m"\n', "cameras[0].motion.pre_roll", "out of range"),
    ('[cameras.motion]\npost_roll = "1h"\n', "cameras[0].motion.post_roll", "out of range"),
    ("[cameras.motion]\nmasks = [0, 0, 1, 1]\n", "cameras[0].motion.masks[0]", "a rectangle [x0, y0, x1, y1]"),
    ("[cameras.motion]\nmasks = [[0, 0, 1.5, 1]]\n", "cameras[0].motion.masks[0]", "x1 must be a fraction"),
    ("[cameras.motion]\nmasks = [[0.5, 0, 0.2, 1]]\n", "cameras[0].motion.masks[0]", "x0 < x1"),
    ("[cameras.motion]\nmasks = [[[0, 0], [1, 1]]]\n", "cameras[0].motion.masks[0]", "at least 3 corners"),
    ("[cameras.motion]\nmasks = [[], [[0, 0], [1, 0], [0, 1]]]\n", "cameras[0].motion.masks[0]", "a polygon"),
    ('[cameras.motion]\nmasks = "clock"\n', "cameras[0].motion.masks", "expected an array of masks"),
    ("[cameras.motion]\nsensitivty = 50\n", "cameras[0].motion.sensitivty", 'did you mean "sensitivity"'),
])
def test_bad_values_name_the_field(tmp_path, extra, field, says):
    err = error_for(tmp_path, CAMERA + extra)
    assert err.field == field, err
    assert says in err.message
    assert SECRET not in str(err)


def test_a_path_detect_url_needs_a_network_camera(tmp_path):
    err = error_for(tmp_path, MINIMAL + '[[cameras]]\nid = "a"\nurl = "synthetic:"\ndetect_url = "/sub"\n')
    assert err.field == "cameras[0].detect_url" and "rtsp://" in err.message


def test_every_mode_is_accepted_and_reaches_the_worker_command_with_its_settings(tmp_path):
    """The worker gets the mode, and for `motion` the detection stream and the settings it
    rebuilds the detector's MotionSettings from (recorder/modes.py)."""
    assert AVAILABLE_MODES == MODES
    text = CAMERA + ('mode = "motion"\ndetect_url = "/sub"\n[cameras.motion]\npre_roll = "7s"\n'
                     "masks = [[0, 0, 0.62, 0.1], [[0.7, 0], [1, 0], [1, 0.4]]]\n")
    cam = load(write(tmp_path, text)).cameras[0]
    cmd = add_command(cam)["camera"]
    assert cmd["mode"] == "motion" and cmd["detect_url"].endswith("192.0.2.10:554/sub")
    assert cmd["motion"]["pre_roll_us"] == 7_000_000
    assert settings_of(json.loads(json.dumps(cmd["motion"]["settings"]))) == cam.motion.settings
    for mode in ("live", "continuous"):
        cam = load(write(tmp_path, CAMERA + 'mode = "%s"\n' % mode)).cameras[0]
        assert add_command(cam)["camera"] == {"id": "door", "url": cam.url, "mode": mode, "transport": "auto",
                                                 "reader": "auto"}
        assert _mode(mode, "f") == mode


def test_check_config_exits_78_naming_the_mode_field(tmp_path):
    path = write(tmp_path, CAMERA + 'mode = "motoin"\n')
    r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(path)], capture_output=True,
                       text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 78
    assert "cameras[0].mode" in r.stderr and "Traceback" not in r.stderr and SECRET not in r.stderr


def test_check_config_points_at_a_password_in_the_detect_url(tmp_path):
    path = write(tmp_path, MINIMAL + '[[cameras]]\nid = "a"\nurl = "rtsp://192.0.2.10/main"\n'
                 'detect_url = "rtsp://u:%s@192.0.2.10/sub"\n' % SECRET)
    r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", str(path)], capture_output=True,
                       text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 78, r.stderr
    assert "cameras[0].detect_url: holds a password" in r.stderr and "as a path on the camera's URL" in r.stderr
    assert SECRET not in r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "edged.cli", "check-config", "--allow-config-secrets", str(path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "cameras[0].detect_url holds a password" in r.stdout and SECRET not in r.stdout + r.stderr
