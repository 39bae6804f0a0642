"""The edged reader (design/0079): the interleave parser and the depacketiser on bytes, the
RTSP session's pure parts, then real gst-rtsp-server cameras recorded with reader = "edged"
forced (segments checked by ffprobe and `ffmpeg -xerror`), and "auto" falling back to
libavformat on a server it cannot read over TCP."""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess

import pytest

from recorder import rtp
from recorder.camera import Settings
from recorder.rtsp_session import Media, _bare, _challenge, parameter_sets, parse_sdp
from tests.support.bad_cameras import BadCamera
from tests.support.cameras import RtspServer, count_video_packets, ffprobe_errors, make_clip, media_duration
from edged.config import ConfigError, load_config
from tests.support.daemon import wait_for, write_config
from tests.support.recorders import recording

S = 1_000_000


def rtp_packet(seq: int, ts: int, payload: bytes, marker: bool = False, pt: int = 96) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, 1234) + payload


def framed(channel: int, packet: bytes) -> bytes:
    return b"$" + bytes([channel]) + struct.pack("!H", len(packet)) + packet


SPS, PPS = b"\x67\x42\xc0\x1e\xd9", b"\x68\xcb\x8c\xb2"
IDR = b"\x65" + bytes(range(200))
P = b"\x41" + bytes(range(50))


def stap_a(*nals: bytes) -> bytes:
    return b"\x18" + b"".join(struct.pack("!H", len(n)) + n for n in nals)


def fu_a(nal: bytes, pieces: int) -> list[bytes]:
    head, body = nal[0], nal[1:]
    size = -(-len(body) // pieces)
    out = []
    for i in range(pieces):
        fu = (head & 0x1F) | (0x80 if i == 0 else 0) | (0x40 if i == pieces - 1 else 0)
        out.append(bytes([(head & 0xE0) | 28, fu]) + body[i * size:(i + 1) * size])
    return out


def annexb(*nals: bytes) -> bytes:
    return b"".join(rtp.START + n for n in nals)


# the interleave ------------------------------------------------------------------------
def test_interleave_finds_packets_across_reads_and_skips_answers_and_garbage():
    a, b, c = framed(0, b"A" * 100), framed(1, b"B" * 30), framed(0, b"C" * 5000)
    answer = b"RTSP/1.0 200 OK\r\nCSeq: 7\r\nContent-Length: 4\r\n\r\nbody"
    stream = a + answer + b + b"\x00\x01junk" + c
    inter = rtp.Interleave()
    got = []
    for i in range(0, len(stream), 37):  # in small reads: every packet crosses a read
        inter.feed(stream[i:i + 37])
        while (p := inter.next()) is not None:
            got.append((p[0], bytes(p[1])))
    assert got == [(0, b"A" * 100), (1, b"B" * 30), (0, b"C" * 5000)]
    assert inter.answers == 1 and inter.skipped == 6


def test_interleave_room_is_one_read_and_compacts():
    inter = rtp.Interleave()
    room = inter.room()
    assert len(room) == rtp.READ_BYTES
    big = framed(0, bytes(60000))
    room[:len(big) - 10] = big[:-10]
    inter.filled(len(big) - 10)
    assert inter.next() is None  # the packet is not whole yet
    inter.feed(big[-10:])
    channel, data = inter.next()
    assert channel == 0 and len(data) == 60000


# the depacketiser ------------------------------------------------------------------------
def test_h264_stap_a_and_fu_a_make_one_access_unit_per_timestamp():
    dep = rtp.Depacketizer("h264")
    out = dep.push(rtp_packet(1, 9000, stap_a(SPS, PPS)))
    for i, piece in enumerate(fu_a(IDR, 3)):
        out += dep.push(rtp_packet(2 + i, 9000, piece, marker=i == 2))
    out += dep.push(rtp_packet(5, 13500, P, marker=True))
    assert [(u.ts, u.key, u.params) for u in out] == [(9000, True, True), (13500, False, False)]
    assert out[0].data == annexb(SPS, PPS, IDR) and out[1].data == annexb(P)


def test_two_slices_of_one_keyframe_are_one_access_unit_even_without_a_marker():
    dep = rtp.Depacketizer("h264")
    slice2 = b"\x65\x40" + bytes(10)  # first_mb_in_slice != 0
    out = dep.push(rtp_packet(1, 0, IDR)) + dep.push(rtp_packet(2, 0, slice2))
    assert out == []
    out = dep.push(rtp_packet(3, 4500, P, marker=True))  # the next timestamp ends it
    assert [u.data for u in out] == [annexb(IDR, slice2), annexb(P)]


def test_a_lost_packet_drops_pictures_up_to_the_next_keyframe():
    dep = rtp.Depacketizer("h264")
    out = dep.push(rtp_packet(1, 0, IDR, marker=True))
    pieces = fu_a(P, 3)
    out += dep.push(rtp_packet(2, 4500, pieces[0])) + dep.push(rtp_packet(4, 4500, pieces[2], marker=True))
    out += dep.push(rtp_packet(5, 9000, P, marker=True))  # whole, but refers to the lost one
    out += dep.push(rtp_packet(6, 13500, IDR, marker=True))
    assert [u.ts for u in out] == [0, 13500] and dep.dropped == 2


def test_nothing_before_the_first_keyframe():
    dep = rtp.Depacketizer("h264")
    out = dep.push(rtp_packet(1, 0, P, marker=True)) + dep.push(rtp_packet(2, 4500, IDR, marker=True))
    assert [u.key for u in out] == [True]


def test_timestamps_and_sequence_numbers_wrap():
    dep = rtp.Depacketizer("h264")
    start = 2 ** 32 - 9000
    out = []
    for i in range(4):
        out += dep.push(rtp_packet(65534 + i, start + 4500 * i, IDR if i == 0 else P, marker=True))
    assert [u.ts - out[0].ts for u in out] == [0, 4500, 9000, 13500] and dep.dropped == 0


def test_padding_extension_and_csrc_are_skipped():
    dep = rtp.Depacketizer("h264")
    head = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 0x80 | 96, 1, 0, 1) + b"CSRC"
    ext = struct.pack("!HH", 0xBEDE, 1) + b"EXT!"
    out = dep.push(head + ext + IDR + b"\x00\x00\x03")
    assert [u.data for u in out] == [annexb(IDR)]


def test_h265_aggregation_and_fragments():
    vps, sps, pps = b"\x40\x01\x0c", b"\x42\x01\x01", b"\x44\x01\xc1"
    idr = b"\x26\x01" + bytes(range(100))  # type 19 (IDR_W_RADL)
    ap = b"\x60\x01" + b"".join(struct.pack("!H", len(n)) + n for n in (vps, sps, pps))
    fu = [b"\x62\x01" + bytes([0x80 | 19]) + idr[2:50], b"\x62\x01" + bytes([0x40 | 19]) + idr[50:]]
    dep = rtp.Depacketizer("hevc")
    out = dep.push(rtp_packet(1, 0, ap)) + dep.push(rtp_packet(2, 0, fu[0])) + dep.push(rtp_packet(3, 0, fu[1], True))
    assert len(out) == 1 and out[0].key and out[0].params
    assert out[0].data == annexb(vps, sps, pps, idr)


def test_sender_report():
    ntp_s = rtp.NTP_UNIX_S + 1_700_000_000
    sr = struct.pack("!BBH", 0x80, 200, 6) + struct.pack("!IIII", 1, ntp_s, 1 << 31, 12345) + bytes(8)
    rr_first = struct.pack("!BBH", 0x80, 201, 1) + bytes(4)
    assert rtp.sender_report(rr_first + sr) == (1_700_000_000_500_000, 12345)
    assert rtp.sender_report(rr_first) is None


# the session's pure parts ---------------------------------------------------------------
def test_sdp_and_its_parameter_sets():
    sdp = ("v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=framerate:20\r\n"
           "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkD,aMuMsg==\r\na=control:track1\r\n"
           "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000/1\r\na=control:track2\r\n")
    video, sound = parse_sdp(sdp)
    assert (video.kind, video.encoding, video.clock, video.control, video.framerate) == \
        ("video", "H264", 90000, "track1", 20.0)
    assert (sound.kind, sound.encoding, sound.clock) == ("audio", "MPEG4-GENERIC", 16000)
    assert parameter_sets(video).startswith(rtp.START + b"\x67\x42\xc0\x1e")
    assert parameter_sets(Media("video", 96, "H264")) == b""


def test_challenges_and_a_url_without_its_password():
    digest = _challenge('Digest realm="cam, front", nonce="abc", qop="auth,auth-int", algorithm=MD5')
    assert digest == {"scheme": "digest", "realm": "cam, front", "nonce": "abc", "qop": "auth,auth-int",
                      "algorithm": "MD5"}
    assert _challenge('Basic realm="x"') == {"scheme": "basic"}
    assert _challenge('Digest realm="x", nonce="n", algorithm=SHA-256') is None  # libavformat's, under auto
    assert _bare("rtsp://admin:hunter2@10.0.0.5:8554/stream?ch=1") == "rtsp://10.0.0.5:8554/stream?ch=1"


def test_digest_answer_is_rfc_2617s():
    from recorder.rtsp_session import Session

    s = Session("rtsp://Mufasa:Circle%20Of%20Life@127.0.0.1/dir/index.html", 1)
    s._auth = {"scheme": "digest", "realm": "testrealm@host.com", "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093"}
    answer = s._authorization("GET", "/dir/index.html")
    ha1 = hashlib.md5(b"Mufasa:testrealm@host.com:Circle Of Life").hexdigest()
    ha2 = hashlib.md5(b"GET:/dir/index.html").hexdigest()
    want = hashlib.md5(f"{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{ha2}".encode()).hexdigest()
    assert f'response="{want}"' in answer and "Circle" not in answer and "Circle" not in s.url


@pytest.mark.parametrize("value,ok", [("auto", True), ("edged", True), ("ffmpeg", True), ("FFmpeg", False),
                                      ("libav", False)])
def test_reader_is_checked_at_load_with_its_field(tmp_path, value, ok, monkeypatch):
    monkeypatch.delenv("EDGED_TEST_READER", raising=False)
    path = write_config(tmp_path / "edged.toml", tmp_path / "data",
                        [{"id": "a", "url": "rtsp://192.0.2.1/s"}, {"id": "b", "url": "rtsp://192.0.2.2/s",
                                                                     "reader": value}])
    if ok:
        cams = load_config(path).cameras
        assert (cams[0].reader, cams[1].reader) == ("auto", value)
        return
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "cameras[1].reader" and '"auto"' in err.value.message


# real cameras -----------------------------------------------------------------------------
def _settings(tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                    connect_timeout_us=5 * S, read_timeout_us=5 * S, reconnect_max_us=2 * S, sample_us=0, **kw)


def _decodes(path) -> None:
    assert ffprobe_errors(path) == ""
    run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stderr


def _readers(run, cam: str) -> set:
    return {e.get("reader") for e in run.events if e["ev"] == "stats" and e["camera"] == cam}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return (make_clip(folder, width=320, height=240, fps=20, gop=20, seconds=6),
            make_clip(folder, width=320, height=240, fps=20, gop=20, seconds=6, codec="h265"))


def test_edged_reader_records_h264_h265_and_wraps_that_decode(tmp_path, clips):
    h264, h265 = clips
    settings = _settings(tmp_path)
    mounts = {"avc": f"clip:{h264.video}@20", "hevc": f"clip265:{h265.video}@20", "wrap": "livewrap:320x240@20"}
    with RtspServer(mounts) as server, recording({m: server.url(m) for m in mounts}, settings, reader="edged") as run:
        wait_for(lambda: all(len(run.closed_of(m)) >= 4 for m in mounts), 90, "four segments of each camera")
        wait_for(lambda: all(_readers(run, m) for m in mounts), 30, "stats of each camera")
    states = [e for e in run.events if e["ev"] == "state" and e["state"] == "offline"]
    assert states == [], states
    for cam in mounts:
        assert _readers(run, cam) == {"edged"}, (cam, _readers(run, cam))
        for seg in run.closed_of(cam)[1:4]:
            path = settings.data_dir / seg["path"]
            _decodes(path)
            assert count_video_packets(path) == seg["frames"]
            assert count_video_packets(path) / media_duration(path) == pytest.approx(20, abs=0.5), cam


def test_edged_forced_says_the_cameras_words(tmp_path):
    settings = _settings(tmp_path, )
    with BadCamera("auth") as auth, BadCamera("bad_sdp") as bad, BadCamera("not_found") as missing, \
            BadCamera("udp_only") as udp, recording({"auth": auth.url, "bad": bad.url, "missing": missing.url,
                                                     "udp": udp.url}, settings, reader="edged") as run:
        def kinds():
            return {e["camera"]: e["kind"] for e in run.events if e["ev"] == "state" and e["state"] == "offline"}
        wait_for(lambda: len(kinds()) == 4, 40, "each camera offline")
    assert kinds() == {"auth": "auth", "bad": "unsupported", "missing": "not_found", "udp": "transport"}


@pytest.mark.skipif(shutil.which("cvlc") is None, reason="VLC is not installed")
def test_auto_falls_back_to_ffmpeg_on_a_udp_only_server_and_says_so(tmp_path):
    from tests.support.vlc_server import VlcServer

    settings = _settings(tmp_path)
    with VlcServer() as vlc, recording({"vlc": vlc.url}, settings, reader="auto") as run:
        wait_for(lambda: len(run.closed_of("vlc")) >= 2 and _readers(run, "vlc"), 60, "the VLC camera recorded")
    (reader,) = _readers(run, "vlc")
    assert reader.startswith("ffmpeg (fallback: "), reader
    # libavformat's reading of VLC's stamps as before (tests/test_camera_transport.py): ffprobe only
    assert ffprobe_errors(settings.data_dir / run.closed_of("vlc")[1]["path"]) == ""
