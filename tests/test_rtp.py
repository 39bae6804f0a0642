"""The edged reader's pure parts (design/0079): the interleave parser and the depacketiser on
bytes, and the RTSP session's parsing and authentication. Its real cameras: tests/test_reader_edged.py."""

from __future__ import annotations

import hashlib
import struct

from recorder import rtp
from recorder.rtsp_session import Media, _bare, _challenge, parameter_sets, parse_sdp
from tests.support.rtp_clip import AUD

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
    mtu = framed(0, b"m" * 1400)
    for _ in range(200):  # MTU-sized packets across reads: the buffer stays at its start size (design/0483)
        inter.feed(mtu[:700])
        assert inter.next() is None
        inter.feed(mtu[700:])
        assert inter.next() == (0, b"m" * 1400)
    assert len(inter.buf) == rtp.START_BYTES < rtp.BUFFER_BYTES
    big = framed(0, bytes(60000))
    room = inter.room()
    room[:len(big) - 10] = big[:-10]
    inter.filled(len(big) - 10)
    assert inter.next() is None  # the packet is not whole yet
    inter.feed(big[-10:])  # `room`, a slice of the first buffer, still held: it is replaced, not resized
    assert len(inter.buf) == rtp.BUFFER_BYTES
    channel, data = inter.next()
    assert channel == 0 and data == bytes(60000)


# the depacketiser ------------------------------------------------------------------------
def test_h264_stap_a_and_fu_a_make_one_access_unit_per_timestamp():
    dep = rtp.Depacketizer("h264")
    out = dep.push(rtp_packet(1, 9000, stap_a(SPS, PPS)))
    for i, piece in enumerate(fu_a(IDR, 3)):
        out += dep.push(rtp_packet(2 + i, 9000, piece, marker=i == 2))
    out += dep.push(rtp_packet(5, 13500, P, marker=True)) + dep.flush()
    assert [(u.ts, u.key, u.params) for u in out] == [(9000, True, True), (13500, False, False)]
    assert out[0].data == annexb(SPS, PPS, IDR) and out[1].data == annexb(P)


def test_two_slices_of_one_keyframe_are_one_access_unit_even_without_a_marker():
    dep = rtp.Depacketizer("h264")
    slice2 = b"\x65\x40" + bytes(10)  # first_mb_in_slice != 0
    out = dep.push(rtp_packet(1, 0, IDR)) + dep.push(rtp_packet(2, 0, slice2))
    assert out == []
    out = dep.push(rtp_packet(3, 4500, P, marker=True)) + dep.flush()  # the next timestamp ends it
    assert [u.data for u in out] == [annexb(IDR, slice2), annexb(P)]


def test_a_marker_on_every_nal_unit_does_not_split_the_picture_but_a_second_picture_does():
    dep = rtp.Depacketizer("h264")
    idr = b"\x65\x88" + bytes(20)  # first_mb_in_slice 0
    out = []
    for i, nal in enumerate((SPS, PPS, idr)):  # a server that marks each NAL unit
        out += dep.push(rtp_packet(1 + i, 0, nal, marker=True))
    out += dep.push(rtp_packet(4, 4500, P, marker=True))
    out += dep.push(rtp_packet(5, 4500, b"\x41\x9a" + bytes(5), marker=True))  # another picture, same stamp
    out += dep.flush()
    assert [(u.ts, u.data) for u in out] == [(0, annexb(SPS, PPS, idr)), (4500, annexb(P)),
                                             (4500, annexb(b"\x41\x9a" + bytes(5)))]


def test_nal_units_without_a_picture_go_with_the_next_one_and_at_the_end_nowhere():
    """An AUD or SEI stamped apart from its picture is not a sample of its own (a decoder refuses
    "missing picture in access unit"); a stream that ends after a delimiter (a camera killed
    between its AUD and its slices) leaves nothing behind it."""
    aud, sei = AUD, b"\x06\x05\x01\x00\x80"
    dep = rtp.Depacketizer("h264")
    out = dep.push(rtp_packet(1, 0, stap_a(SPS, PPS))) + dep.push(rtp_packet(2, 0, IDR, marker=True))
    out += dep.push(rtp_packet(3, 4000, aud)) + dep.push(rtp_packet(4, 4500, sei))  # apart from their picture
    out += dep.push(rtp_packet(5, 4500, P, marker=True)) + dep.push(rtp_packet(6, 9000, aud))
    out += dep.flush()
    assert [(u.ts, u.key, u.params, u.data) for u in out] == [(0, True, True, annexb(SPS, PPS, IDR)),
                                                              (4500, False, False, annexb(aud, sei, P))]
    assert (dep.units, dep.dropped) == (2, 0)
    assert dep.flush() == [] and dep.push(rtp_packet(7, 13500, P, marker=True)) == []  # nothing left over
    assert [u.data for u in dep.flush()] == [annexb(P)]


def test_a_lost_packet_drops_pictures_up_to_the_next_keyframe():
    dep = rtp.Depacketizer("h264")
    out = dep.push(rtp_packet(1, 0, IDR, marker=True))
    pieces = fu_a(P, 3)
    out += dep.push(rtp_packet(2, 4500, pieces[0])) + dep.push(rtp_packet(4, 4500, pieces[2], marker=True))
    out += dep.push(rtp_packet(5, 9000, P, marker=True))  # whole, but refers to the lost one
    out += dep.push(rtp_packet(6, 13500, IDR, marker=True)) + dep.flush()
    assert [u.ts for u in out] == [0, 13500] and dep.dropped == 2


def test_nothing_before_the_first_keyframe():
    dep = rtp.Depacketizer("h264")
    out = dep.push(rtp_packet(1, 0, P, marker=True)) + dep.push(rtp_packet(2, 4500, IDR, marker=True)) + dep.flush()
    assert [u.key for u in out] == [True]


def test_timestamps_and_sequence_numbers_wrap():
    dep = rtp.Depacketizer("h264")
    start = 2 ** 32 - 9000
    out = []
    for i in range(4):
        out += dep.push(rtp_packet(65534 + i, start + 4500 * i, IDR if i == 0 else P, marker=True))
    out += dep.flush()
    assert [u.ts - out[0].ts for u in out] == [0, 4500, 9000, 13500] and dep.dropped == 0


def test_padding_extension_and_csrc_are_skipped():
    dep = rtp.Depacketizer("h264")
    head = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 0x80 | 96, 1, 0, 1) + b"CSRC"
    ext = struct.pack("!HH", 0xBEDE, 1) + b"EXT!"
    out = dep.push(head + ext + IDR + b"\x00\x00\x03") + dep.flush()
    assert [u.data for u in out] == [annexb(IDR)]


def test_h265_aggregation_and_fragments():
    vps, sps, pps = b"\x40\x01\x0c", b"\x42\x01\x01", b"\x44\x01\xc1"
    idr = b"\x26\x01" + bytes(range(100))  # type 19 (IDR_W_RADL)
    ap = b"\x60\x01" + b"".join(struct.pack("!H", len(n)) + n for n in (vps, sps, pps))
    fu = [b"\x62\x01" + bytes([0x80 | 19]) + idr[2:50], b"\x62\x01" + bytes([0x40 | 19]) + idr[50:]]
    dep = rtp.Depacketizer("hevc")
    out = dep.push(rtp_packet(1, 0, ap)) + dep.push(rtp_packet(2, 0, fu[0])) + dep.push(rtp_packet(3, 0, fu[1], True)) + dep.flush()
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
