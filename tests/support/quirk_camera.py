"""A scriptable RTSP camera on 127.0.0.1 that does what real cameras' servers do (design/0092):
plain sockets, a thread per connection, an H.264 clip's RTP over TCP interleaved at its frame
rate (an H.265 clip, `.h265`, as RFC 7798's AP and FU). Each quirk is a name in `quirks`:

  live555         an RTCP SR+SDES on channel 1 (`$\\x01\\x00,`, 44 bytes) before PLAY's 200 OK,
                  `Session: ...;timeout=65`, GET_PARAMETER and SET_PARAMETER in Public
  frames_first    `$` frames (RTCP) before every answer, from DESCRIBE's on
  early_packets   the first access unit's RTP packets before PLAY's answer
  no_rtpinfo      PLAY's answer without RTP-Info;  wrong_rtpinfo: one with wrong seq and rtptime
  base_relative, base_schemeless, base_doubled, base_noslash, base_none: Content-Base variants
  rooted_control  a=control:/stream/trackID=0, and SETUP only at that path (FFmpeg's join doubles it)
  ka_refused      keep-alives other than OPTIONS answered 405; ka_cseq: answered with another CSeq
  timeout=N       `Session: ...;timeout=N`, and the session is dropped N s after the last request it
                  answered 200 (live555 reclaims sessions so)
  basic, digest   every request needs the credentials; stale: a digest nonce that goes stale after
                  DESCRIBE and every 3 s after PLAY (401 stale=true)
  redirect        DESCRIBE of /cam answered 302 to /stream
  server_request  the server sends `OPTIONS * RTSP/1.0` once the stream runs; `replies` counts answers
  ssrc_change     another SSRC and sequence number from the 3rd keyframe on
  fu_cut          one FU-A piece of a picture left out (no sequence gap), the 2nd GOP
  fu_noend        a picture's last FU-A piece without its E bit, the 2nd GOP
  no_sprop        an SDP without sprop-parameter-sets (SPS/PPS only in band)
  sei             an SEI NAL unit (with emulation prevention bytes) before every keyframe
  hates_edged     the session is dropped 1 s after PLAY when the client calls itself "edged"
  stall           nothing more is sent 2 s after PLAY, the session kept open and answered (a hung encoder)
  aud_cut         an access unit delimiter, its own packet, before every picture (gst-rtsp-server's
                  x264 streams), and the session dropped after the delimiter of the picture 2 s and 9
                  pictures in (the 50th at 20 fps), before its slices (a camera killed between them)
  leading         a B-frame clip (`bframe_clip`) whose every session starts at its 2nd keyframe and then
                  sends the two pictures before it in decode order (displayed before it, referring to
                  pictures never sent): a first keyframe without its complete decode order (issue 55)
  key_back        every stamp from the 3rd keyframe on 1.15 s back (`KEY_BACK`): a B-frame camera's
                  shared stream as another client joined it mid-GOP (issue 79)
  udp             RTP over UDP when a SETUP asks for it (`client_port=`), as VLC serves; TCP still served
  lost            the 3rd RTP packet of every 50th picture (from the 50th; a piece of its FU-A) not sent,
                  its sequence number spent: a datagram lost mid-stream (`lost` counts them; issue 79)
  ffmpeg          the RTP is FFmpeg's own (its rtp muxer, `-re`, over UDP here, relayed over the
                  interleave), with its SDP: FFmpeg's RTSP muxer only publishes (and its `listen` mode
                  only takes a publisher), so this is how FFmpeg serves a reader here
"""

from __future__ import annotations

import base64
import hashlib
import json
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.support import rtp_clip
from tests.support.cameras import encoded_once

USER, PASSWORD = "admin", "s3cret"
KEY_BACK = 103_500  # 1.15 s at 90 kHz


class QuirkCamera:
    def __init__(self, clip: Path, quirks: set[str] | frozenset[str] = frozenset(), fps: int = 20):
        self.quirks = set(quirks)
        self.clip = Path(clip)
        self.hevc = self.clip.suffix in (".h265", ".hevc")  # tests/support/cameras.py make_clip's names
        self.aus = rtp_clip.load(self.clip, sei="sei" in self.quirks, hevc=self.hevc)
        order = self.clip.with_name(self.clip.name + ".pts")  # a B-frame clip's presentation order
        self.order: list[int] | None = json.loads(order.read_text()) if order.exists() else None
        self.fps = fps
        self.timeout = next((int(q[8:]) for q in self.quirks if q.startswith("timeout=")), 65 if "live555" in quirks
                            else 60)
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.methods: list[str] = []  # every request's method, in order, all sessions
        self.replies = 0  # answers to the server's own requests
        self.sessions = 0
        self.dropped = 0  # sessions dropped for want of a keep-alive
        self.refused_playing = 0  # 401s answered while a session played
        self.lost = 0  # RTP packets left out ("lost")
        self._nonce = 0
        self._conns: list[socket.socket] = []
        self.listeners: list[_Conn] = []  # playing sessions of the "ffmpeg" camera
        self._ffmpeg: subprocess.Popen | None = None
        self.ffmpeg_sdp = ""

    @property
    def url(self) -> str:
        auth = f"{USER}:{PASSWORD}@" if {"basic", "digest"} & self.quirks else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/{'cam' if 'redirect' in self.quirks else 'stream'}"

    def __enter__(self) -> "QuirkCamera":
        if "ffmpeg" in self.quirks:
            self._start_ffmpeg(self.clip)
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True, name="quirk-accept").start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ffmpeg is not None:
            self._ffmpeg.terminate()
            self._ffmpeg.wait(10)
            shutil.rmtree(self._folder, ignore_errors=True)
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=_Conn(self, conn).serve, daemon=True, name="quirk-conn").start()

    def nonce(self) -> str:
        return f"n{self._nonce:04d}"

    # the "ffmpeg" camera: FFmpeg's rtp muxer, relayed --------------------------------------
    def _start_ffmpeg(self, clip: Path) -> None:
        rtp_sock, rtcp_sock = _udp_pair()
        port = rtp_sock.getsockname()[1]
        folder = tempfile.mkdtemp(prefix="edged-ffrtp-")
        sdp, looped = Path(folder) / "cam.sdp", Path(folder) / "clip.mkv"
        # A raw H.264 file cannot be looped (FFmpeg: "Seek to start failed"): in Matroska first.
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-fflags", "+genpts", "-framerate", str(self.fps), "-i",
                        str(clip), "-c", "copy", str(looped)], check=True, timeout=60)
        self._ffmpeg = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(looped), "-c", "copy", "-f", "rtp", "-sdp_file", str(sdp), f"rtp://127.0.0.1:{port}?rtcpport={port + 1}&pkt_size=1400"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while not (sdp.exists() and "a=fmtp" in sdp.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        text = sdp.read_text()
        self._folder = folder  # the looped clip, read for as long as FFmpeg runs
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith("c=")]
        at = next(i for i, ln in enumerate(lines) if ln.startswith("m=video"))
        lines[at] = "m=video 0 RTP/AVP 96"
        self.ffmpeg_sdp = "\r\n".join(lines[:at] + ["a=control:*"] + lines[at:] + ["a=control:trackID=0"]) + "\r\n"
        threading.Thread(target=self._relay, args=(rtp_sock, rtcp_sock), daemon=True, name="quirk-relay").start()

    def _relay(self, rtp_sock: socket.socket, rtcp_sock: socket.socket) -> None:
        channels = {rtp_sock.fileno(): 0, rtcp_sock.fileno(): 1}
        with rtp_sock, rtcp_sock:
            while not self._stop.is_set():
                ready, _, _ = select.select([rtp_sock, rtcp_sock], [], [], 0.2)
                for sock in ready:
                    packet = rtp_clip.framed(channels[sock.fileno()], sock.recv(65536))
                    for conn in list(self.listeners):
                        if not conn.playing.is_set() or not conn.send(packet):
                            self.listeners.remove(conn)


def _udp_pair() -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets on adjacent ports (RTP, RTCP), as FFmpeg's rtp muxer sends to."""
    for _try in range(50):
        rtp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp_sock.bind(("127.0.0.1", 0))
        rtp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        rtcp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtcp_sock.bind(("127.0.0.1", rtp_sock.getsockname()[1] + 1))
            return rtp_sock, rtcp_sock
        except OSError:
            rtp_sock.close()
            rtcp_sock.close()
    raise RuntimeError("no two adjacent UDP ports free")


class _Conn:
    def __init__(self, cam: QuirkCamera, sock: socket.socket):
        self.cam, self.sock, self.q = cam, sock, cam.quirks
        self.lock = threading.Lock()
        self.stream = rtp_clip.RtpStream()
        self.playing = threading.Event()
        self.alive = time.monotonic()
        self.agent = ""
        self.base = f"rtsp://127.0.0.1:{cam.port}/stream"
        self.udp: tuple[socket.socket, socket.socket, int] | None = None  # ("udp") RTP, RTCP, client's RTP port

    def send(self, data: bytes) -> bool:
        if self.udp is not None and data.startswith(b"$"):
            return self.send_udp(data)
        try:
            with self.lock:
                self.sock.sendall(data)
            return True
        except OSError:
            return False

    def send_udp(self, data: bytes) -> bool:
        """Framed packets as datagrams: channel 0 from the RTP socket to the client's RTP port, 1 RTCP."""
        assert self.udp is not None
        rtp_sock, rtcp_sock, port = self.udp
        while data:
            size = int.from_bytes(data[2:4], "big")
            channel, packet, data = data[1], data[4:4 + size], data[4 + size:]
            try:
                (rtcp_sock if channel else rtp_sock).sendto(packet, ("127.0.0.1", port + channel))
            except OSError:
                return False
        return True

    def rtcp(self) -> bytes:
        return rtp_clip.framed(1, self.stream.sender_report(self.stream.last_ts or self.stream.ts0))

    # requests ---------------------------------------------------------------------------
    def serve(self) -> None:
        buf = b""
        self.sock.settimeout(0.2)
        while not self.cam._stop.is_set():
            if self.playing.is_set() and time.monotonic() - self.alive > self.cam.timeout:
                self.cam.dropped += 1
                break
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                break
            if not data:
                break
            buf += data
            while True:
                while buf.startswith(b"$") and len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[2:4], "big"):
                    buf = buf[4 + int.from_bytes(buf[2:4], "big"):]  # the client's RTCP
                if b"\r\n\r\n" not in buf:
                    break
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                if lines[0].startswith("RTSP/"):
                    self.cam.replies += 1  # an answer to our own request
                    continue
                self.request(lines)
        self.playing.clear()
        for sock in self.udp[:2] if self.udp else ():
            sock.close()
        try:
            self.sock.close()
        except OSError:
            pass

    def request(self, lines: list[str]) -> None:
        method, url = lines[0].split(" ")[:2]
        head = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        cseq = head.get("cseq", "0")
        self.agent = head.get("user-agent", self.agent)
        self.cam.methods.append(method)
        q = self.q
        if not self.authorized(method, url, head):
            stale = ', stale=true' if "stale" in q and "authorization" in head else ""
            challenge = (f'Digest realm="quirk", nonce="{self.cam.nonce()}"{stale}' if "digest" in q
                         else 'Basic realm="quirk"')
            if self.playing.is_set():
                self.cam.refused_playing += 1  # a 401 mid-session (a stale nonce met by a keep-alive)
            return self.answer(cseq, "401 Unauthorized", f"WWW-Authenticate: {challenge}\r\n")
        if "frames_first" in q and method != "OPTIONS":
            self.send(self.rtcp())
        if method == "OPTIONS":
            public = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN" + (", GET_PARAMETER, SET_PARAMETER" if
                                                                 {"live555", "ka_refused"} & q else "")
            self.answer(cseq, headers=f"Public: {public}\r\n", alive=True)
        elif method == "DESCRIBE":
            if "redirect" in q and url.endswith("/cam"):
                return self.answer(cseq, "302 Found", f"Location: {self.base}\r\n")
            if "stale" in q:
                self.cam._nonce += 1  # the next request meets a stale nonce
            self.answer(cseq, headers=self.content_base(), body=self.sdp())
        elif method == "SETUP":
            if "rooted_control" in q and not url.endswith(":%d/stream/trackID=0" % self.cam.port):
                return self.answer(cseq, "404 Not Found")
            if "trackID=0" not in url or not url.startswith(f"rtsp://127.0.0.1:{self.cam.port}/stream"):
                return self.answer(cseq, "404 Not Found")
            transport = head.get("transport", "")
            if "udp" in q and "client_port=" in transport and "/TCP" not in transport:
                ports = transport.split("client_port=")[1].split(";")[0]
                rtp_sock, rtcp_sock = _udp_pair()
                self.udp = (rtp_sock, rtcp_sock, int(ports.split("-")[0]))
                return self.answer(cseq, headers=f"Transport: RTP/AVP;unicast;client_port={ports};server_port="
                                                 f"{rtp_sock.getsockname()[1]}-{rtcp_sock.getsockname()[1]};"
                                                 f"ssrc={self.stream.ssrc:08X}\r\nSession: 5EC7E7;timeout={self.cam.timeout}\r\n")
            self.answer(cseq, headers=f"Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc={self.stream.ssrc:08X}\r\n"
                                      f"Session: 5EC7E7;timeout={self.cam.timeout}\r\n")
        elif method == "PLAY":
            self.play(cseq)
        elif method in ("GET_PARAMETER", "SET_PARAMETER") and "ka_refused" in q:
            self.answer(cseq, "405 Method Not Allowed")
        elif method in ("GET_PARAMETER", "SET_PARAMETER", "TEARDOWN"):
            self.answer(str(int(cseq) + 100) if "ka_cseq" in q else cseq, headers="Session: 5EC7E7\r\n", alive=True)
        else:
            self.answer(cseq, "501 Not Implemented")

    def authorized(self, method: str, url: str, head: dict[str, str]) -> bool:
        q, given = self.q, head.get("authorization", "")
        if "basic" in q:
            return given == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if "digest" not in q:
            return True
        fields = {k.strip(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in given[7:].split(","))}
        ha1 = hashlib.md5(f"{USER}:quirk:{PASSWORD}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{fields.get('uri', '')}".encode()).hexdigest()
        want = hashlib.md5(f"{ha1}:{self.cam.nonce()}:{ha2}".encode()).hexdigest()
        return given.startswith("Digest ") and fields.get("nonce") == self.cam.nonce() and fields.get("response") == want

    def answer(self, cseq: str, status: str = "200 OK", headers: str = "", body: str = "", alive: bool = False) -> None:
        if alive and status.startswith("200"):
            self.alive = time.monotonic()
        extra = f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n" if body else ""
        self.send(f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{headers}{extra}\r\n{body}".encode())

    def content_base(self) -> str:
        q, port = self.q, self.cam.port
        for name, value in (("base_relative", "stream/"), ("base_schemeless", f"127.0.0.1:{port}/stream/"),
                            ("base_doubled", f"rtsp://rtsp://127.0.0.1:{port}/stream/"),
                            ("base_noslash", self.base)):
            if name in q:
                return f"Content-Base: {value}\r\n"
        return "" if "base_none" in q else f"Content-Base: {self.base}/\r\n"

    def sdp(self) -> str:
        if "ffmpeg" in self.q:
            return self.cam.ffmpeg_sdp
        b64 = [base64.b64encode(n).decode() for n in self.cam.aus[0][:3]]
        if self.cam.hevc:
            sprop = "" if "no_sprop" in self.q else ";sprop-vps=%s;sprop-sps=%s;sprop-pps=%s" % tuple(b64)
            codec, fmtp = "H265", "profile-id=1"
        else:
            sprop = "" if "no_sprop" in self.q else ";sprop-parameter-sets=%s,%s" % tuple(b64[:2])
            codec, fmtp = "H264", "packetization-mode=1;profile-level-id=42C01E"
        control = "/stream/trackID=0" if "rooted_control" in self.q else "trackID=0"
        return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=quirk\r\nt=0 0\r\na=tool:LIVE555 Streaming Media v2020.01.01\r\n"
                f"a=control:*\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 {codec}/90000\r\n"
                f"a=fmtp:96 {fmtp}{sprop}\r\na=control:{control}\r\n")

    # the stream --------------------------------------------------------------------------
    def play(self, cseq: str) -> None:
        q, s = self.q, self.stream
        self.cam.sessions += 1
        if "live555" in q:
            self.send(self.rtcp())  # live555's RTCP instance reports before the RTSP answer is written
        packets = self.picture(0) if "early_packets" in q else []
        for p in packets:
            self.send(p)
        info = "" if "no_rtpinfo" in q else \
            f"RTP-Info: url={self.base}/trackID=0;seq={s.seq + (999 if 'wrong_rtpinfo' in q else 0)};" \
            f"rtptime={s.ts0 + (123456 if 'wrong_rtpinfo' in q else 0)}\r\n"
        self.answer(cseq, headers=f"Session: 5EC7E7;timeout={self.cam.timeout}\r\nRange: npt=0.000-\r\n{info}", alive=True)
        self.playing.set()
        if "ffmpeg" in q:
            self.cam.listeners.append(self)
            return
        threading.Thread(target=self.pace, args=(1 if packets else 0,), daemon=True, name="quirk-send").start()

    def picture(self, n: int) -> list[bytes]:
        """The framed packets of the n-th access unit, with this quirk's faults in them."""
        q, s, aus = self.q, self.stream, self.cam.aus
        hevc = self.cam.hevc
        gop = next((i for i, a in enumerate(aus[1:], 1) if any(rtp_clip.is_key(x, hevc) for x in a)), len(aus))
        if "leading" in q:  # the 2nd keyframe, the two pictures before it in decode order, then on
            n = gop if n == 0 else gop - 3 + n if n < 3 else gop + n - 2
        au = aus[n % len(aus)]
        if "ssrc_change" in q and n == 2 * gop:
            s.ssrc, s.seq = 0x0BADCAFE, 51000
        order = self.cam.order
        shown = n if order is None else n - n % len(order) + order[n % len(order)]
        ts = s.ts0 + shown * 90000 // self.cam.fps - (KEY_BACK if "key_back" in q and n >= 2 * gop else 0)
        loads = rtp_clip.payloads(au, hevc=hevc)
        if "aud_cut" in q:
            loads.insert(0, rtp_clip.AUD_265 if hevc else rtp_clip.AUD)
        heads = [rtp_clip.fragment(p, hevc) for p in loads]
        broken = n == gop + gop // 2 and len(loads) > 3
        if broken and "fu_cut" in q:
            fu = [i for i, h in enumerate(heads) if h is not None and not h & 0xC0]
            if fu:
                del loads[fu[0]]
        if broken and "fu_noend" in q:
            ends = [i for i, h in enumerate(heads) if h is not None and h & 0x40]
            if ends:
                at, end = ends[-1], 2 if hevc else 1  # the FU header's place
                loads[at] = loads[at][:end] + bytes([loads[at][end] & ~0x40 & 0xFF]) + loads[at][end + 1:]
        packets = [rtp_clip.framed(0, s.packet(p, ts, i == len(loads) - 1)) for i, p in enumerate(loads)]
        if "lost" in q and n and not n % 50 and len(packets) > 3:
            del packets[2]  # its sequence number spent: a gap
            self.cam.lost += 1
        return packets

    def drop(self) -> None:
        self.playing.clear()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def pace(self, n: int) -> None:
        start = time.monotonic() - n / self.cam.fps
        last_sr = nonce_at = time.monotonic()
        asked = False
        cut = 2 * self.cam.fps + 9 if "aud_cut" in self.q else -1
        while self.playing.is_set() and not self.cam._stop.is_set():
            if not self.send(b"".join(self.picture(n)[:1 if n == cut else None])):
                return
            if n == cut:
                self.drop()
                return
            now = time.monotonic()
            if now - last_sr >= 1:
                last_sr = now
                self.send(self.rtcp())
            if "server_request" in self.q and not asked and n > self.cam.fps:
                asked = self.send(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nSession: 5EC7E7\r\n\r\n")
            if "stale" in self.q and now - nonce_at > 3:
                nonce_at = now
                self.cam._nonce += 1
            if "hates_edged" in self.q and self.agent == "edged" and now - start > 1:
                self.drop()
                return
            if "stall" in self.q and now - start > 2:
                return  # the connection stays: its requests are still answered (serve)
            n += 1
            delay = start + n / self.cam.fps - time.monotonic()
            if delay > 0:
                self.cam._stop.wait(delay)


def bframe_clip(folder: Path, fps: int = 20, gop: int = 40, seconds: int = 6) -> Path:
    """An x264 high-profile clip with B pictures (2, b-pyramid), a keyframe every `gop` pictures,
    as Annex B, and beside it (`.pts`) each picture's place in presentation order, in decode
    order: what the quirk camera stamps a B-frame stream's RTP with."""
    mp4, out = folder / "bf.mp4", folder / "bf.h264"
    encoded_once(mp4, ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={fps}", "-t", str(seconds), "-c:v", "libx264",
                         "-profile:v", "high", "-bf", "2", "-g", str(gop), "-x264-params", "b-pyramid=normal:scenecut=0",
                         "-pix_fmt", "yuv420p", "-f", "mp4"])  # encoded once a machine (tests/support/cameras.py)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(mp4), "-c", "copy", "-bsf:v", "h264_mp4toannexb",
                    "-f", "h264", str(out)], check=True, timeout=60)
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts,duration",
                            "-of", "json", str(mp4)], capture_output=True, text=True, check=True, timeout=60)
    packets = json.loads(probe.stdout)["packets"]
    first, frame = min(int(p["pts"]) for p in packets), int(packets[0]["duration"])
    out.with_name(out.name + ".pts").write_text(json.dumps([(int(p["pts"]) - first) // frame for p in packets]))
    return out
