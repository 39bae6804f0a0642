"""What real cameras' RTSP servers do, on bytes (design/0092): the reader's message parsing and URL
rules (recorder/rtsp_text.py), the interleave and depacketiser's quirks (recorder/rtp.py), and
which reader "auto" chooses and why (recorder/reader_choice.py). The same quirks over a socket,
recorded: tests/test_rtsp_quirks.py."""

from __future__ import annotations

import struct

import pytest

from recorder import rtp
from recorder.reader_choice import (ANSWERS, AUTH, CODEC, KEEP_US, KEYFRAME, LOST, REFUSED, SILENT, SOUND,
                                    ReaderChoice, reason)
from recorder.rtsp_text import (ANSWER, FRAME, JUNK, NEED, REQUEST, challenge, content_base, control_urls,
                                keepalive_method, next_message, renewed, reply_to_server, session_control,
                                session_timeout_s)
from tests.support.rtp_clip import SEI
from tests.test_rtp import IDR, PPS, SPS, P, annexb, framed, fu_a, stap_a

REQ = "rtsp://127.0.0.1:8554/stream"
SR44 = b"$\x01\x00," + bytes(44)  # live555's report before PLAY's answer


# messages among frames -------------------------------------------------------------------
@pytest.mark.parametrize("data,kind,size", [
    (SR44 + b"RTSP/1.0 200 OK\r\n", FRAME, len(SR44)),
    (SR44[:30], NEED, 0),
    (b"$\x00", NEED, 0),
    (b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 1\r\n\r\n$\x00", ANSWER, 40),
    (b"RTSP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nv=", NEED, 0),
    (b"RT", NEED, 0),
    (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", REQUEST, 31),
    (b"SET_PARAMETER rtsp://h/s RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 2\r\n\r\nx\n", REQUEST, 67),
    (b"GET_PARA", NEED, 0),
    (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", JUNK, 0),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", JUNK, 0),
    (bytes(range(40)), JUNK, 0),
])
def test_next_message_tells_frames_answers_requests_and_junk(data, kind, size):
    got, n, msg = next_message(data)
    assert (got, n) == (kind, size)
    assert (msg is not None) == (kind in (ANSWER, REQUEST))


def test_an_answer_and_a_request_parsed():
    _k, _n, msg = next_message(b"RTSP/1.0 401 Unauthorized\r\nCSeq: 12 \r\nWWW-Authenticate: Basic realm=\"a\"\r\n"
                               b"WWW-Authenticate: Digest realm=\"a\", nonce=\"n\"\r\n\r\n")
    assert msg.status == 401 and msg.cseq == 12 and msg.head["www-authenticate"].startswith("Digest")
    _k, _n, req = next_message(b"OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n")
    assert req.method == "OPTIONS" and reply_to_server(req, "S1") == b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: S1\r\n\r\n"
    _k, _n, other = next_message(b"ANNOUNCE rtsp://h/s RTSP/1.0\r\nCSeq: 4\r\n\r\n")
    assert reply_to_server(other, "").startswith(b"RTSP/1.0 501")


# URLs as cameras write them ---------------------------------------------------------------------
@pytest.mark.parametrize("value,base", [
    ("rtsp://127.0.0.1:8554/stream/", "rtsp://127.0.0.1:8554/stream/"),
    ("rtsp://10.1.1.9/stream", "rtsp://10.1.1.9/stream"),  # a camera behind NAT names its own address
    ("rtsp://rtsp://cam.lan:554/stream1/", "rtsp://cam.lan:554/stream1/"),  # doubled scheme (go2rtc #830)
    ("192.168.1.10:554/stream0/", "rtsp://192.168.1.10:554/stream0/"),  # no scheme (retina, Anjvision)
    ("127.0.0.1/stream/", "rtsp://127.0.0.1/stream/"),
    ("stream/", "rtsp://127.0.0.1:8554/stream/"),  # relative
    ("/live/main/", "rtsp://127.0.0.1:8554/live/main/"),
    ("", REQ),
])
def test_content_base_variants(value, base):
    assert content_base(value, REQ) == base


@pytest.mark.parametrize("base,control,urls", [
    ("rtsp://h/s/", "trackID=0", ["rtsp://h/s/trackID=0"]),
    ("rtsp://h/s", "trackID=0", ["rtsp://h/s/trackID=0"]),  # no trailing slash: FFmpeg's join adds one
    ("rtsp://h/s/", "*", ["rtsp://h/s/"]),
    ("rtsp://h/s/", "", ["rtsp://h/s/"]),
    ("rtsp://h/s/", "rtsp://h/s/track1", ["rtsp://h/s/track1"]),
    ("rtsp://h/s/", "/s/trackID=0", ["rtsp://h/s//s/trackID=0", "rtsp://h/s/trackID=0"]),  # doubled path first
    ("rtsp://h/s/", "s/trackID=0", ["rtsp://h/s/s/trackID=0"]),
    ("rtsp://h/a/b", "track2", ["rtsp://h/a/b/track2"]),
])
def test_control_urls_ffmpegs_join_first_then_rfc_3986s(base, control, urls):
    assert control_urls(base, control)[:len(urls)] == urls


def test_session_level_control_and_timeout_and_keepalive_method():
    sdp = "v=0\r\na=control:rtsp://h/s/\r\nm=video 0 RTP/AVP 96\r\na=control:track1\r\n"
    assert session_control(sdp) == "rtsp://h/s/" and session_control("v=0\r\nm=video 0 RTP/AVP 96\r\na=control:t\r\n") == ""
    assert [session_timeout_s(h) for h in ("5EC7;timeout=65", "1 ; timeout = 10", "12", "1;timeout=x")] == \
        [65, 10, None, None]
    assert keepalive_method("OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE, GET_PARAMETER, SET_PARAMETER") == \
        "GET_PARAMETER"
    assert keepalive_method("OPTIONS,SET_PARAMETER") == "SET_PARAMETER" and keepalive_method("") == "OPTIONS"


def test_a_401_is_tried_again_only_for_a_new_or_stale_nonce():
    first = challenge('Digest realm="r", nonce="a"')
    assert renewed(None, first)
    assert not renewed(first, challenge('Digest realm="r", nonce="a"'))  # the password is wrong
    assert renewed(first, challenge('Digest realm="r", nonce="b"'))
    assert renewed(first, challenge('Digest realm="r", nonce="a", stale=TRUE'))
    assert renewed(challenge("Basic realm=r"), first)


# the interleave: messages between the packets -----------------------------------------------
def test_interleave_hands_answers_and_requests_to_the_session_and_skips_stray_line_ends():
    heard: list[bytes] = []
    inter = rtp.Interleave(on_message=heard.append)
    keepalive = b"RTSP/1.0 405 Method Not Allowed\r\nCSeq: 7\r\n\r\n"
    request = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"
    stream = framed(0, b"A" * 10) + keepalive + b"\r\n" + framed(1, b"B" * 8) + request + framed(0, b"C" * 4)
    got = []
    for i in range(0, len(stream), 5):
        inter.feed(stream[i:i + 5])
        while (p := inter.next()) is not None:
            got.append((p[0], bytes(p[1])))
    assert got == [(0, b"A" * 10), (1, b"B" * 8), (0, b"C" * 4)]
    assert heard == [keepalive, request] and inter.answers == 2 and inter.skipped == 2


# the depacketiser's quirks ------------------------------------------------------------------
def _pkt(seq: int, ts: int, payload: bytes, ssrc: int = 1, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, seq & 0xFFFF, ts, ssrc) + payload


def test_a_new_ssrc_is_followed_from_its_keyframe_and_the_old_ones_late_packets_dropped():
    dep = rtp.Depacketizer("h264")
    out = dep.push(_pkt(1, 0, IDR)) + dep.push(_pkt(2, 4500, P, marker=True))  # marked: the picture is whole
    out += dep.push(_pkt(700, 9000, P, ssrc=2))  # a new source: not a keyframe, not a gap
    out += dep.push(_pkt(3, 9000, P, ssrc=1))  # the old one's late packet
    out += dep.push(_pkt(701, 13500, IDR, ssrc=2)) + dep.push(_pkt(702, 18000, P, ssrc=2)) + dep.flush()
    assert [u.ts for u in out] == [0, 4500, 13500, 18000]
    assert (dep.ssrc_changes, dep.foreign, dep.dropped) == (1, 1, 1)


@pytest.mark.parametrize("fault", ["no_end", "no_start", "new_start", "single_inside"])
def test_a_fragment_with_pieces_missing_drops_its_picture_and_the_rest_of_the_gop(fault):
    dep = rtp.Depacketizer("h264")
    out = dep.push(_pkt(1, 0, IDR, marker=True))
    pieces = fu_a(P + bytes(300), 3)
    if fault == "no_end":
        pieces[2] = pieces[2][:1] + bytes([pieces[2][1] & ~0x40 & 0xFF]) + pieces[2][2:]
    elif fault == "no_start":
        pieces = pieces[1:]
    elif fault == "new_start":
        pieces = pieces[:1] + fu_a(P, 2)
    else:
        pieces = pieces[:2] + [P]
    for i, piece in enumerate(pieces):
        out += dep.push(_pkt(2 + i, 4500, piece))
    seq = 2 + len(pieces)
    out += dep.push(_pkt(seq, 9000, P)) + dep.push(_pkt(seq + 1, 13500, IDR)) + dep.flush()
    assert [u.ts for u in out] == [0, 13500], fault  # no sequence gap, yet nothing broken handed on


def test_h265_cut_fragments_and_a_short_aggregate_are_dropped():
    idr = b"\x26\x01" + bytes(range(100))
    fu_start = b"\x62\x01" + bytes([0x80 | 19]) + idr[2:50]
    trail = b"\x02\x01\xd0" + bytes(10)  # TRAIL_R, first slice
    dep = rtp.Depacketizer("hevc")
    out = dep.push(_pkt(1, 0, fu_start)) + dep.push(_pkt(2, 0, trail))  # the FU never ended
    out += dep.push(_pkt(3, 3000, b"\x60\x01\x00\x20" + bytes(5)))  # an AP whose NAL unit is cut short
    out += dep.push(_pkt(4, 6000, idr)) + dep.flush()
    assert [u.ts for u in out] == [6000] and dep.dropped == 2


def test_sei_and_in_band_parameter_sets_are_kept_byte_for_byte():
    dep = rtp.Depacketizer("h264")
    out = dep.push(_pkt(1, 0, stap_a(SPS, PPS))) + dep.push(_pkt(2, 0, SEI))
    for i, piece in enumerate(fu_a(IDR, 2)):
        out += dep.push(_pkt(3 + i, 0, piece))
    out += dep.flush()
    assert out[0].data == annexb(SPS, PPS, SEI, IDR) and out[0].params and out[0].key
    assert b"\x00\x00\x03\x01\x00\x00\x03\x00" in out[0].data  # emulation prevention as sent


# which reader "auto" chooses ----------------------------------------------------------------
@pytest.mark.parametrize("message,status,kind,unspoken,timed_out,why", [
    ("the camera sends sound", None, "fallback", False, False, SOUND),
    ("video in X-VENDOR-MJPEG4", None, "fallback", False, False, CODEC),
    ("no video in the stream description", None, "fallback", False, False, CODEC),
    ("no keyframe within the connect timeout", None, "fallback", False, False, KEYFRAME),
    ("no picture size in the parameter sets", None, "fallback", False, False, KEYFRAME),
    ("the camera asks for an authentication the edged reader does not speak", 401, "unspoken", True, False, AUTH),
    ("the answer is not RTSP", None, "garbled", False, False, ANSWERS),
    ("the answer is not RTSP", None, "not_rtsp", False, False, ANSWERS),
    ("SETUP answered 455", 455, None, False, False, REFUSED),
    ("the camera did not finish answering", None, None, False, True, SILENT),
])
def test_why_auto_records_with_ffmpegs_reader(message, status, kind, unspoken, timed_out, why):
    assert reason(message, status, kind, unspoken, timed_out) == why


def test_auto_hands_any_failure_but_no_connection_to_libavformat_and_keeps_what_worked():
    auto = ReaderChoice("auto")
    assert auto.edged_first(True) and not auto.edged_first(False)
    assert all(auto.hand_on(k) for k in ("not_rtsp", "no_answer", "slow", "auth", "not_found", "other", "stalled"))
    assert not auto.hand_on("refused") and not auto.hand_on("unreachable")
    assert not auto.hand_on("no_answer", silent=True)  # not a byte back: libavformat would wait as long
    auto.run_ended(True, KEEP_US - 1)  # an edged run that did not last: libavformat next
    assert not auto.edged_first(True)
    auto.ffmpeg_failed()  # libavformat failed too: the camera's fault
    assert auto.edged_first(True)
    auto.run_ended(True, KEEP_US + 1)
    assert auto.edged_first(True)
    auto.run_ended(True, 5)
    auto.ffmpeg_opened(LOST)
    assert auto.fallback == LOST and not auto.edged_first(True)
    auto.run_ended(False, 5)  # libavformat lost it as fast: the camera's doing, the edged reader again
    assert auto.fallback is None and auto.edged_first(True)
    auto.run_ended(True, 5)
    auto.ffmpeg_opened(LOST)
    auto.run_ended(False, KEEP_US + 1)
    assert auto.fallback == LOST and not auto.edged_first(True)  # for the worker's life
    auto.ffmpeg_opened(SOUND)  # a failed start: kept at once
    auto.run_ended(False, 5)
    assert auto.fallback == SOUND
    forced = ReaderChoice("edged")
    forced.run_ended(True, 5)
    assert forced.edged_first(True) and not forced.hand_on("not_rtsp")
    assert not ReaderChoice("ffmpeg").edged_first(True)


def test_edgectl_names_the_fallback_in_the_readers_language():
    from edged.cli.edgectl import reader_text
    from edged.i18n import speaking

    assert reader_text(None) == "-" and reader_text("edged") == "edged"
    assert reader_text(f"ffmpeg (fallback: {LOST})") == f"ffmpeg (fallback: {LOST})"
    with speaking("zh_TW"):
        assert reader_text(f"ffmpeg (fallback: {LOST})") == "ffmpeg（改用原因：edged 讀取器無法維持與攝影機的連線工作階段）"


def test_not_rtsp_means_wrong_port_only_when_nothing_spoke_rtsp():
    from recorder.edged_source import explain
    from recorder.rtsp_session import GARBLED, RtspFailure

    url = "rtsp://admin:pw@192.0.2.7:554/s"
    never = RtspFailure("the answer is not RTSP", received=b"SSH-2.0-OpenSSH", complete=False)
    assert explain(never, url, 5)[0] == "not_rtsp" and "wrong port or wrong device" in explain(never, url, 5)[1]
    spoke = RtspFailure("the answer is not RTSP", received=b"\x00\x01", complete=False, kind=GARBLED)
    kind, words = explain(spoke, url, 5)
    assert kind == "other" and "wrong port" not in words and "speaks RTSP" in words and "pw" not in words
