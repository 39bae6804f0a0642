"""A camera that stops sending keyframes: its segment is still cut (design/0060)."""

from __future__ import annotations

from edged.config.health import HealthConfig
from edged.rules.health import CameraView, conditions
from recorder.camera import Settings
from recorder.placement import FORCED_CUT
from storage.states.cameras import RECORDING
from tests.support.cameras import RtspServer, count_video_packets
from tests.support.daemon import wait_for
from tests.support.recorders import recording
from storage import alarm_kinds as kinds

S = 1_000_000


def test_a_segment_without_a_keyframe_is_cut_after_two_lengths_and_the_stats_say_why(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", segment_us=S, fragment_us=S // 2, fsync_us=S,
                        connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0)
    with RtspServer({"nokey": "livenokey:320x240@20"}) as server, recording({"nokey": server.url("nokey")},
                                                                           settings) as run:
        wait_for(lambda: len([c for c in run.closed_of("nokey") if c["reason"] == FORCED_CUT]) >= 2, 60,
                 "two segments cut without a keyframe")
        stats = wait_for(lambda: [e for e in run.events if e["ev"] == "stats" and e["no_keyframe_s"]], 30,
                         "stats saying how long no keyframe came")
    cut = [c for c in run.closed_of("nokey") if c["reason"] == FORCED_CUT]
    starts = {e["path"]: e["start_us"] for e in run.events if e["ev"] == "open"}
    for seg in cut[:2]:
        length = seg["end_us"] - starts[seg["path"]]
        assert 2 * S - 100_000 <= length <= 2 * S + 100_000, length  # two segment lengths, a frame either way
        assert count_video_packets(settings.data_dir / seg["path"]) == seg["frames"] > 0
    assert stats[-1]["no_keyframe_s"] >= 2.0
    # The health rule names it, with what to set on the camera.
    view = CameraView("nokey", True, False, RECORDING, stats[-1], None, None)
    present, known = conditions(view, HealthConfig(), 12 * 60)
    assert kinds.KEYFRAMES_MISSING.name in known and "keyframe (I-frame, GOP) interval" in present[kinds.KEYFRAMES_MISSING.name]
    view = CameraView("nokey", True, False, RECORDING, {**stats[-1], "no_keyframe_s": None}, None, None)
    assert kinds.KEYFRAMES_MISSING.name not in conditions(view, HealthConfig(), 12 * 60)[0]
