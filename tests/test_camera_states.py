"""A camera that is not recording says why, in a technician's words, and keeps saying it
across retries (design/0024): one misbehaving camera server per kind of fault, the real
daemon, and what `edgectl cameras` shows."""

from __future__ import annotations

import json

import pytest

from recorder.diagnose import explain_open, Probe
from tests.support.bad_cameras import KINDS, BadCamera
from tests.support.cameras import RtspServer, make_clip
from tests.support.daemon import Daemon, ctl, wait_for, write_config

# What each kind must be called (a phrase of the reason edgectl shows).
EXPECTED = {
    "refuse": "connection refused",
    "hang": "never answers",
    "slow": "answers far too slowly",
    "bad_sdp": "format edged cannot record",
    "junk": "but not RTSP",
    "auth": "user name or password",
    "early_end": "ended it before sending a picture",
}
# And its kind, the stable word for scripts (edgectl --json `error_kind`, MQTT camera state).
KIND_OF = {"refuse": "refused", "hang": "no_answer", "slow": "slow", "bad_sdp": "unsupported", "junk": "not_rtsp",
           "auth": "auth", "early_end": "ended_early"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=10)


def test_each_misbehaving_camera_is_offline_with_its_own_reason(tmp_path, clip):
    with BadCamera("refuse") as c1, BadCamera("hang") as c2, BadCamera("slow") as c3, BadCamera("bad_sdp") as c4, \
            BadCamera("junk") as c5, BadCamera("auth") as c6, BadCamera("early_end") as c7, \
            RtspServer({"good": f"clip:{clip.video}@20"}) as good:
        bad = {c.kind: c for c in (c1, c2, c3, c4, c5, c6, c7)}
        assert set(bad) == set(KINDS)
        cams = [{"id": kind.replace("_", "-"), "url": cam.url} for kind, cam in bad.items()]
        cams.append({"id": "good", "url": good.url("good")})
        config = write_config(tmp_path / "edged.toml", tmp_path / "data", cams,
                              recorder={"connect_timeout": "2s", "read_timeout": "2s", "reconnect_max": "2s"})
        d = Daemon(config, tmp_path / "data", tmp_path / "edged.log").start()
        try:
            wait_for(lambda: (r := d.camera("good") or {}).get("state") == "recording" and r.get("fps"), 40,
                     "the good camera recording, with its figures")
            for kind in KINDS:
                cam_id = kind.replace("_", "-")
                # Retried at least twice, still offline, still with its own reason.
                row = wait_for(lambda: (r := d.camera(cam_id)) and r["reconnects"] >= 2 and r, 60,
                               f"camera {kind} retried")
                assert row["state"] == "offline", row
                assert EXPECTED[kind] in (row["last_error"] or ""), (kind, row["last_error"])
                assert "Invalid data found" not in row["last_error"]
            # The good camera's server goes away: offline, its figures stale, its last frame kept.
            good.stop()
            row = wait_for(lambda: (r := d.camera("good")) and r["state"] == "offline" and r, 30, "good offline")
            assert row["last_packet_us"] and row["last_error"], row
            shown = ctl(d, "cameras")
            assert shown.returncode == 0, shown.stderr
            lines = {ln.split()[0]: ln for ln in shown.stdout.splitlines()[1:] if ln.strip()}
            for kind in KINDS:
                assert "OFFLINE" in lines[kind.replace("_", "-")] and EXPECTED[kind] in lines[kind.replace("_", "-")]
            assert "(" in lines["good"] and "stale" in shown.stdout, shown.stdout
            as_json = {r["id"]: r for r in json.loads(ctl(d, "cameras", "--json").stdout)}
            assert as_json["good"]["figures_stale"] and not any(
                as_json[k.replace("_", "-")]["last_error"] is None for k in KINDS)
            assert {k: as_json[k.replace("_", "-")]["error_kind"] for k in KINDS} == KIND_OF
            assert as_json["good"]["error_kind"] in ("refused", "ended", "stalled"), as_json["good"]
            assert "connecting" not in {r["state"] for r in as_json.values()}, "retries do not flip to connecting"
        finally:
            assert d.stop() == 0, d.log
        gaps = d.gaps("good")
        assert not gaps or all("Invalid data" not in g["reason"] for g in gaps)


def test_explain_never_shows_a_password_and_tells_kinds_apart():
    url = "rtsp://admin:hunter2@10.0.0.9:554/live"
    import av

    vague = av.error.InvalidDataError(1094995529, "Invalid data found when processing input", url)
    cases = [(Probe(111), "refused"), (Probe(None, b""), "no_answer"), (Probe(None, b"RTSP/1.0 2", False, 5.0), "slow"),
             (Probe(None, b"HTTP/1.1 400", True), "not_rtsp"), (Probe(110), "unreachable")]
    for probe, kind in cases:
        got, words = explain_open(vague, url, 5.0, 5.0, probe)
        assert got == kind and "hunter2" not in words, (kind, words)
