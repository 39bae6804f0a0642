"""A camera whose media clock runs fast is re-anchored to the host's, with an alarm (design/0060)."""

from __future__ import annotations

from storage.time.clock import SYSTEM

from edged.config.health import HealthConfig
from edged.rules.health import CameraView, conditions
from recorder.camera import Settings
from recorder.timeline import MEDIA_DRIFT_US, RunClock, media_drift_us
from storage.states.cameras import RECORDING
from tests.support.cameras import RtspServer, ffprobe_errors
from tests.support.daemon import wait_for
from tests.support.recorders import recording

S = 1_000_000


def test_media_drift_is_media_time_against_monotonic_time_since_the_anchor():
    clock = RunClock(offset=1_000 * S, wall_ref=1_000 * S + 5 * S, mono_ref=50 * S)  # anchored at media 5 s
    assert media_drift_us(clock, 15 * S, 60 * S) == 0            # 10 s of each
    assert media_drift_us(clock, 18 * S, 60 * S) == 3 * S        # the camera ran 3 s fast
    assert media_drift_us(clock, 13 * S, 60 * S) == -2 * S       # 2 s slow
    assert MEDIA_DRIFT_US == 2 * S


def test_a_camera_clock_that_runs_fast_is_reanchored_with_an_alarm(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)
    with RtspServer({"fast": "live:320x240@20"}, clock_rate=1.5) as server, \
            recording({"fast": server.url("fast")}, settings) as run:
        started = SYSTEM.now_us() / S
        wait_for(lambda: any(c["reason"] == "media clock drift" for c in run.closed_of("fast")), 60,
                 "a segment ended by the re-anchor")
        stats = wait_for(lambda: [e for e in run.events if e["ev"] == "stats" and e["media_reanchor_s"]], 30,
                         "stats that show the re-anchor")
        now = SYSTEM.now_us() / S
    assert stats[-1]["media_reanchors"] >= 1 and stats[-1]["media_reanchor_s"] > 2.0
    assert not [e for e in run.events if e["ev"] == "state" and e["state"] == "offline"]  # one run throughout
    # Segment times stay near the host's clock: at 1.5 times, media time unanchored would be half
    # the run ahead (over 8 s by now); re-anchored, it is ahead by at most the bound plus the two
    # 5 s stats windows the drift must last (0.5 s a second) before the next keyframe.
    opens = [e["start_us"] for e in run.events if e["ev"] == "open"]
    ahead_s = opens[-1] / S - now
    assert ahead_s < 0.5 * (now - started) and ahead_s < MEDIA_DRIFT_US / S + 5.5, (ahead_s, now - started)
    for seg in run.closed_of("fast")[1:]:
        assert ffprobe_errors(settings.data_dir / seg["path"]) == ""
    view = CameraView("fast", True, False, RECORDING, stats[-1], None, None)
    present, known = conditions(view, HealthConfig(), 12 * 60)
    assert "media_clock_drift" in known and "fast" in present["media_clock_drift"], present
