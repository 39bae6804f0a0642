"""The web viewer (issue 8) without a daemon: who may watch live and play back (edged/viewer/rules.py),
the [viewer] config, and playback reading real segment files (edged/viewer/playback.py). The
browser against the real daemon is tests/test_viewer.py."""

from __future__ import annotations

import pytest

from edged.config import ConfigError
from edged.config.viewer import ViewerConfig
from edged.viewer import rules
from edged.viewer.camera_read import has_parameter_sets
from edged.viewer.playback import NoFootage, Piece, RangeReader, clamp, pieces_of
from tests.support.cameras import make_clip
from tests.support.configs import MINIMAL, error_for, write
from tests.support.footage import clip_mp4, write_segments

S = 1_000_000


# --- rules (pure) -------------------------------------------------------------------------

CAMS = ["lobby", "desk", "yard"]


def session(roles, cameras=None, account="vera", expires_us=10_000 * S, live=True):
    return {"account": account, "roles": list(roles), "cameras": cameras, "expires_us": expires_us, "live": live}


def test_live_view_needs_a_live_role_and_the_camera_in_scope():
    assert rules.live_refusal(session(["viewer"]), "lobby", CAMS) is None
    assert rules.live_refusal(session(["custodian"]), "lobby", CAMS) is None
    assert rules.live_refusal(session(["approver"]), "lobby", CAMS) is None
    for role in ("auditor", "admin"):  # R4.5: no footage for the ethics office, nor the settings admin
        why = rules.live_refusal(session([role], account="x"), "lobby", CAMS)
        assert why is not None and "live.view" in why and f"x has {role}" in why
    scoped = session(["viewer"], cameras=["desk"])
    assert rules.live_refusal(scoped, "desk", CAMS) is None
    assert "no rights on camera lobby" in rules.live_refusal(scoped, "lobby", CAMS)
    assert "no camera gate" in rules.live_refusal(session(["viewer"]), "gate", CAMS)
    assert rules.live_cameras(scoped, CAMS) == ["desk"]
    assert rules.live_cameras(session(["viewer"]), CAMS) == CAMS
    assert rules.live_cameras(session(["auditor"]), CAMS) == []


def test_live_view_is_a_permission_given_per_person():
    """Filing requests does not bring live view (001 §15, 002 §7; design/0108): a viewer, custodian
    or approver the admin has not given it is refused every camera, in words that say who gives it."""
    for role in ("viewer", "custodian", "approver"):
        why = rules.live_refusal(session([role], live=False), "lobby", CAMS)
        assert why is not None and "given per person by an admin" in why and "vera" in why
        assert rules.live_cameras(session([role], live=False), CAMS) == []
    assert "no camera gate" in rules.live_refusal(session(["viewer"], live=False), "gate", CAMS)


def _req(rid, cameras, mode="view", used=None, expires=100, signers=("adam",)):
    return {"id": rid, "cameras": cameras, "steps": [{"by": b} for b in signers],
            "grant": {"id": rid * 10, "mode": mode, "used_us": used, "used_by": "x", "expires_us": expires * S}}


def test_the_grid_links_a_camera_to_the_view_grants_waiting_for_it():
    """The live grid is live only; a custodian's tile links to the view grants it may use now
    (as the desk's home page offers them; design/0113's amendment)."""
    reqs = [_req(1, ["lobby", "desk"]), _req(2, ["lobby"]), _req(3, ["lobby"], mode="copy"),
            _req(4, ["lobby"], used=5 * S), _req(5, ["lobby"], expires=10), _req(6, ["lobby"], signers=("carl",)),
            _req(7, ["gate"]), {"id": 8, "cameras": ["lobby"], "grant": None}]
    assert rules.waiting_viewings(reqs, "carl", 50 * S, CAMS) == {"lobby": [10, 20], "desk": [10]}
    assert rules.waiting_viewings(reqs, "carl", 50 * S, ["yard"]) == {}
    assert rules.waiting_viewings(reqs, "adam", 50 * S, CAMS) == {"lobby": [60]}, "never one's own signed request"


def test_playback_is_started_by_a_custodian_for_the_grant_cameras_only():
    assert rules.playback_refusal(session(["custodian"])) is None
    for role in ("viewer", "approver", "auditor", "admin"):
        assert "playback.start" in rules.playback_refusal(session([role]))
    grant = {"id": 4, "cameras": ["desk"], "requester": " Bob Citizen "}
    assert rules.grant_camera_refusal(grant, "desk") is None
    said = rules.grant_camera_refusal(grant, "lobby", {"desk": "Front desk"}.__getitem__)
    assert "not in grant 4" in said and "Front desk" in said and "desk:" not in said and "lobby" not in said, said
    # the person's words (issue 56): who may, in titles; no operation key, no account id
    for role in ("viewer", "approver", "auditor", "admin"):
        words = rules.playback_refusal_words(session([role]))
        assert words and "playback.start" not in words and "custodian" in words, words
    assert rules.playback_refusal_words(session(["custodian"])) is None
    assert rules.watcher_for(grant, "") == "Bob Citizen"
    assert rules.watcher_for(grant, "  Bob's lawyer ") == "Bob's lawyer"
    assert rules.watcher_for({"requester": None}, None) == ""


def test_a_view_ends_at_session_end_expiry_or_time_limit():
    limits = rules.ViewLimits(max_view_us=60 * S, idle_timeout_us=300 * S)
    s = session(["viewer"], expires_us=100 * S)
    assert rules.view_deadline(10 * S, 100 * S, limits) == 70 * S
    assert rules.view_deadline(50 * S, 100 * S, limits) == 100 * S
    assert rules.end_reason(69 * S, 10 * S, s, limits) is None
    assert rules.end_reason(70 * S, 10 * S, s, limits) == "time limit reached"
    assert rules.end_reason(100 * S, 50 * S, s, limits) == "session expired"
    assert rules.end_reason(20 * S, 10 * S, None, limits) == "session ended"
    assert not rules.idle(0, 0, 299 * S, limits)
    assert rules.idle(0, 0, 300 * S, limits)
    assert not rules.idle(0, 1, 900 * S, limits)  # an open view is activity


def test_audit_records_of_a_view_say_who_what_and_how_long():
    grant = {"id": 9, "request_id": 3, "cameras": ["desk"], "from_us": 5 * S, "to_us": 65 * S}
    action, detail = rules.start_record(rules.PLAYBACK, "v1", "desk", viewer="carl", grant=grant, watcher="Bob")
    assert action == "playback.start"
    assert detail == {"view": "v1", "camera": "desk", "via": "viewer", "grant": 9, "request": 3,
                      "from_us": 5 * S, "to_us": 65 * S, "custodian": "carl", "watcher": "request 3"}
    action, detail = rules.stop_record(rules.PLAYBACK, "v1", "desk", started_us=100 * S, now_us=142 * S,
                                       reason="end of the granted range", played=(6 * S, 64 * S))
    assert action == "playback.stop"
    assert detail["duration_us"] == 42 * S and detail["shown_from_us"] == 6 * S and detail["shown_to_us"] == 64 * S
    action, detail = rules.stop_record(rules.LIVE, "v2", "lobby", started_us=0, now_us=3 * S, reason="x")
    assert (action, detail["duration_us"], detail["reason"]) == ("live.stop", 3 * S, "x")
    assert "shown_from_us" not in detail
    assert rules.overlay_text(rules.LIVE, "vera") == "viewer vera"
    assert rules.overlay_text(rules.PLAYBACK, "carl", "Bob") == "watched by Bob, accompanied by carl"


# --- [viewer] config ------------------------------------------------------------------------

def test_viewer_is_off_by_default_on_localhost(tmp_path):
    from edged.config import load_config

    v = load_config(write(tmp_path, MINIMAL)).viewer
    assert v == ViewerConfig()
    assert (v.enabled, v.host, v.port, v.tls_cert) == (False, "127.0.0.1", 8443, None)


def test_viewer_config_full_and_ipv6(tmp_path):
    from edged.config import load_config

    (tmp_path / "cert.pem").write_text("x")
    (tmp_path / "key.pem").write_text("x")
    v = load_config(write(tmp_path, MINIMAL + """
[viewer]
enabled = true
listen = "[fd00::10]:9443"
tls_cert = "cert.pem"
tls_key = "key.pem"
max_viewers = 3
max_view = "30m"
idle_timeout = "5m"
open_timeout = "4s"
""")).viewer
    assert (v.host, v.port, v.max_viewers, v.max_view_us, v.idle_timeout_us, v.open_timeout_us) == \
        ("fd00::10", 9443, 3, 1800 * S, 300 * S, 4 * S)
    assert v.tls_cert == tmp_path / "cert.pem" and v.tls_key == tmp_path / "key.pem"


@pytest.mark.parametrize("body, field, words", [
    ('listen = "viewer.local:8443"', "viewer.listen", "is not an IP address"),
    ('listen = "8443"', "viewer.listen", "is not address:port"),
    ('listen = "10.0.0.1:99999"', "viewer.listen", "out of range"),
    ('listen = "0.0.0.0:8443"', "viewer.listen", "listens on every interface"),
    ('listen = "[::]:8443"', "viewer.listen", "listens on every interface"),
    ('listen = "8.8.8.8:8443"', "viewer.listen", "is a public address"),
    ('listen = "192.168.1.10:8443"\nenabled = true', "viewer.tls_cert", "a LAN address: set tls_cert"),
    ('hostnames = ["bad name"]', "viewer.hostnames[0]", "is not a host name"),
    ('port = 8443', "viewer.port", 'put the port in "listen"'),
    ('tls_cert = "/nonexistent/cert.pem"\ntls_key = "/nonexistent/key.pem"\nenabled = true',
     "viewer.tls_cert", "does not exist"),
    ('tls_cert = "/etc/hostname"', "viewer.tls_key", "set tls_cert and tls_key together"),
    ("max_viewers = 0", "viewer.max_viewers", "out of range"),
    ('max_view = "1s"', "viewer.max_view", "out of range"),
    ("enabled = 1", "viewer.enabled", "expected true or false"),
])
def test_viewer_config_errors_name_the_field(tmp_path, body, field, words):
    err = error_for(tmp_path, MINIMAL + "[viewer]\n" + body + "\n")
    assert isinstance(err, ConfigError)
    assert err.field == field and words in err.message, str(err)


def test_browser_mdns_candidates_are_dropped_from_the_offer():
    from edged.viewer.views import without_mdns_candidates

    sdp = "\r\n".join(["v=0", "m=video 9 UDP/TLS/RTP/SAVPF 96",
                         "a=candidate:1 1 udp 2113937151 1f2e3d4c-aaaa.local 50000 typ host generation 0",
                         "a=candidate:2 1 udp 2113937151 192.168.1.20 50001 typ host generation 0",
                         "a=mid:0", ""])
    out = without_mdns_candidates(sdp)
    assert ".local" not in out and "192.168.1.20 50001" in out and out.endswith("a=mid:0\r\n")


# --- playback reading real segment files ----------------------------------------------------

def test_parameter_sets_are_found_in_annex_b():
    assert has_parameter_sets(b"\x00\x00\x00\x01\x67\x64\x00\x1f" + b"\x00\x00\x01\x65\x88")
    assert not has_parameter_sets(b"\x00\x00\x00\x01\x65\x88\x84")
    assert not has_parameter_sets(b"")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """cam1: 8 s, a 2 s hole, 6 s more; 3 s segments written by the recorder's segment writer.
    The clip has a key frame every second (20 fps, GOP 20)."""
    d = tmp_path_factory.mktemp("recorded")
    source = clip_mp4(make_clip(d / "clips", fps=20, gop=20, seconds=10))
    t0 = 1_700_000_000 * S
    rows = write_segments(d / "data", "cam1", source, [(t0, 8), (t0 + 10 * S, 6)], segment_s=3)
    return d / "data", rows, t0


def play_all(reader: RangeReader, start: int) -> list[tuple[int, bool]]:
    assert reader.seek(start) is not None
    out = []
    while batch := reader.read():
        out += [(dts, pkt.is_keyframe) for dts, _pts, pkt in batch]
    return out


def test_playback_reads_only_the_range_from_its_first_key_frame_across_the_hole(recorded):
    data, rows, t0 = recorded
    start, end = t0 + 2_500_000, t0 + 12_200_000
    pieces = pieces_of(data, [{**r, "state": "complete"} for r in rows], start, end)
    assert all(p.path.is_file() for p in pieces)
    packets = play_all(RangeReader(pieces, start, end), start)
    times = [t for t, _ in packets]
    assert packets[0] == (t0 + 3 * S, True)  # the key frame at 2 s is before the range: not shown
    assert max(times) < end and min(times) >= start
    assert times == sorted(times)
    assert not [t for t in times if t0 + 8 * S <= t < t0 + 10 * S]  # the hole
    assert len(times) == 5 * 20 + 44  # 20 fps: 3.00-7.95 s, then 10.00-12.15 s


def test_seek_lands_on_the_key_frame_before_the_target_inside_the_range_and_clamps(recorded):
    data, rows, t0 = recorded
    start, end = t0 + 2_500_000, t0 + 12_200_000
    reader = RangeReader(pieces_of(data, rows, start, end), start, end)
    assert reader.seek(t0 + 7_330_000) == t0 + 7 * S
    assert reader.seek(t0 + 11 * S) == t0 + 11 * S
    assert reader.seek(t0 + 8_500_000) == t0 + 10 * S  # in the hole: the next footage
    assert reader.seek(t0 - 3600 * S) == t0 + 3 * S    # before the range: clamped to its first key frame
    first = reader.read()[0]
    assert first[0] == t0 + 3 * S and first[2].is_keyframe
    assert has_parameter_sets(bytes(first[2]))         # Annex-B with SPS/PPS: a browser can start here
    assert reader.seek(t0 + 3600 * S) is None          # after the range: nothing (clamped to its last frame)
    assert clamp(t0 + 3600 * S, start, end) == end - 1
    reader.close()


def test_a_range_without_footage_is_refused_before_the_grant_is_used(recorded):
    data, rows, t0 = recorded
    with pytest.raises(NoFootage):
        RangeReader(pieces_of(data, rows, t0 + 8_200_000, t0 + 9_800_000), t0 + 8_200_000, t0 + 9_800_000)
    only_writing = [{**r, "state": "writing"} for r in rows]  # not footage yet (invariant 3)
    assert pieces_of(data, only_writing, t0, t0 + 20 * S) == []
    assert pieces_of(data, rows, t0, t0 + 20 * S)[0] == Piece(data / rows[0]["path"], rows[0]["start_us"],
                                                              rows[0]["end_us"])
