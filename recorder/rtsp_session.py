"""The RTSP conversation of the edged reader (design/0079): OPTIONS, DESCRIBE, SETUP over TCP
(interleaved), PLAY, keepalive, TEARDOWN, on one blocking socket of the camera's thread.

Basic and Digest (MD5, qop=auth or none) authentication after a 401, again after a stale or
new nonce; redirects (3xx with a Location) followed up to MAX_REDIRECTS times. What real
cameras' servers do (design/0092) is taken as they do it: `$` frames before or between the
answers are read aside and kept for the stream (live555 sends an RTCP report before its
answer to PLAY), requests from the server are answered, an answer to a keep-alive is read
among the packets (recorder/rtp.py hands it to `heard`) and never ends the session. The
message parsing is recorder/rtsp_text.py's. A failure raises `RtspFailure` with what is known
(the RTSP status, the socket's errno, the bytes received), which recorder/diagnose.py turns
into the camera state's words. The URL's password is only ever in the Authorization header:
`self.url` and every message are without credentials.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import socket
import threading
import time
from urllib.parse import unquote, urlsplit

from recorder.rtsp_text import (FRAME, JUNK, KEEPALIVE_NEXT, REQUEST, Media, Message, bare, challenge, content_base,
                                control_urls, keepalive_method, next_message, parameter_sets, parse_sdp,
                                renewed, reply_to_server, session_control, session_timeout_s)

__all__ = ["Media", "RtspFailure", "Session", "parameter_sets", "parse_sdp", "_bare", "_challenge"]
_bare, _challenge = bare, challenge  # their names before recorder/rtsp_text.py

MAX_REDIRECTS = 3
USER_AGENT = "edged"
STOP_CHECK_S = 0.25  # how often a wait for an answer looks whether the camera was stopped
KEEPALIVE_DEFAULT_S = 60  # RFC 2326's session timeout when the camera names none
KEEPALIVE_CAP_S = 60  # a generous timeout is kept alive as a minute's (retina: a NAT box between may forget sooner)
ASIDE_BYTES = 1 << 16  # `$` frames kept while waiting for an answer (rtp.READ_BYTES: what the reader is fed at once)
UNSPOKEN = "unspoken"  # RtspFailure.kind: a 401 whose scheme this reader does not speak (libavformat may)
GARBLED = "garbled"  # RtspFailure.kind: a camera that spoke RTSP sent something else where an answer was due
REDIRECTS = (301, 302, 303, 305, 307, 308)
# A SETUP answered so at one control URL tries the next candidate (rtsp_text.control_urls).
WRONG_URL = (400, 404, 451, 452, 453, 454, 455, 456, 457, 458, 459)


class RtspFailure(Exception):
    """The session could not be set up. `status`: the RTSP status (401, 404, 461, ...);
    `errno`: the socket's; `received`: the answer's first bytes (a garbled or slow one);
    `complete`: a whole answer header arrived; `kind`: a recorder/diagnose.py kind when
    the reader itself knows it (no_video, unsupported)."""

    def __init__(self, message: str, *, status: int | None = None, err: int | None = None,
                 received: bytes = b"", complete: bool = True, kind: str | None = None, seconds: float = 0.0,
                 timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out  # the connect timeout ran out waiting for an answer
        self.status = status
        self.errno = err
        self.received = received
        self.complete = complete
        self.kind = kind
        self.seconds = seconds


class Session:
    def __init__(self, url: str, timeout_s: float, stop: threading.Event | None = None):
        parts = urlsplit(url)
        self._user = unquote(parts.username) if parts.username is not None else None
        self._password = unquote(parts.password) if parts.password is not None else ""
        self.url = bare(url)  # never with credentials
        self.timeout_s = timeout_s
        self._stop = stop  # set: the camera is being stopped, an answer is not waited for
        self.sock: socket.socket | None = None
        self.cseq = 0
        self.session_id = ""
        self.play_url = ""  # the aggregate control URL: PLAY's and the keep-alives'
        self.keepalive_s: float = KEEPALIVE_DEFAULT_S / 2
        self.keepalive_method = "OPTIONS"
        self.leftover = b""  # bytes that came with or before the PLAY answer: the stream's first
        self.channels = (0, 1)
        self.spoke_rtsp = False  # an RTSP answer came on this session: later garbage is not "wrong device"
        self.counts = {"aside": 0, "aside_dropped": 0, "server_requests": 0, "late_answers": 0,
                       "keepalive_refused": 0, "reauth": 0}
        self._auth: dict[str, str] | None = None  # the challenge answered (scheme, realm, nonce, ...)
        self._nc = 0
        self._pending: dict[int, str] = {}  # CSeq -> method of requests sent without waiting (keep-alives)
        self._started = time.monotonic()

    # the conversation -----------------------------------------------------------------
    def describe(self) -> tuple[str, list[Media]]:
        """Connect, OPTIONS, DESCRIBE (following redirects): (content base, the SDP's media)."""
        for _hop in range(MAX_REDIRECTS + 1):
            self._connect()
            status, head, _ = self.request("OPTIONS", self.url)
            if status == 200:
                self.keepalive_method = keepalive_method(head.get("public", ""))
            if not self._redirected(status, head):
                status, head, body = self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
                if not self._redirected(status, head):
                    self._check(status, "DESCRIBE")
                    text = body.decode("utf-8", "replace")
                    base = content_base(head.get("content-base") or head.get("content-location") or "", self.url)
                    aggregate = session_control(text)
                    self.play_url = control_urls(base, aggregate)[0] if aggregate else base
                    return base, parse_sdp(text)
        raise RtspFailure("the camera redirected more than %d times" % MAX_REDIRECTS, status=302)

    def _redirected(self, status: int, head: dict[str, str]) -> bool:
        if status not in REDIRECTS or not head.get("location"):
            return False
        self.close()
        self.url = bare(content_base(head["location"], self.url))
        self._auth = None  # another server's challenge
        return True

    def setup_and_play(self, base: str, media: Media) -> None:
        urls = control_urls(base, media.control)
        for i, url in enumerate(urls):
            status, head, _ = self.request("SETUP", url, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
            if status not in WRONG_URL or i + 1 == len(urls):
                break
        self._check(status, "SETUP")
        transport = head.get("transport", "")
        if "interleaved=" in transport:
            try:
                a, _, b = transport.split("interleaved=")[1].split(";")[0].partition("-")
                self.channels = (int(a), int(b or int(a) + 1))
            except ValueError:
                pass
        elif "TCP" not in transport.upper():
            raise RtspFailure("the camera answered SETUP without RTP over TCP", status=461)
        self.session_id = head.get("session", "").partition(";")[0].strip()
        self._timeout(head)
        for i, play in enumerate(targets := list(dict.fromkeys([self.play_url or base, base, url]))):
            status, head, _ = self.request("PLAY", play, {"Range": "npt=0.000-"})
            if status not in WRONG_URL or i + 1 == len(targets):
                break
        self._check(status, "PLAY")
        self.play_url = play
        self._timeout(head)

    def _timeout(self, head: dict[str, str]) -> None:
        timeout = session_timeout_s(head.get("session", ""))
        if timeout:
            self.keepalive_s = max(1.0, min(timeout, KEEPALIVE_CAP_S) / 2)

    def keepalive(self) -> None:
        """Sent without waiting: its answer arrives among the packets and comes to `heard`."""
        method = self.keepalive_method
        cseq = self._send(method, self.play_url or self.url, {})
        self._pending[cseq] = method
        while len(self._pending) > 8:  # answers that never came
            del self._pending[next(iter(self._pending))]

    def heard(self, data: bytes) -> None:
        """An RTSP message among the packets (recorder/rtp.py Interleave): a request from the
        server is answered; a keep-alive's answer is read. A refused keep-alive never ends the
        session: a 401 is answered again with the new challenge, another refusal moves to
        OPTIONS, each at once; an answer with another CSeq is nobody's and is dropped."""
        kind, _, msg = next_message(data)
        if msg is None:
            return
        if kind == REQUEST:
            self._reply(msg)
            return
        method = self._pending.pop(msg.cseq, None) if msg.cseq is not None else None
        if method is None or msg.status < 300:
            return
        self.counts["keepalive_refused"] += 1
        if msg.status == 401:
            new = challenge(msg.head.get("www-authenticate", ""))
            if new is not None and self._user is not None and renewed(self._auth, new):
                self._auth, self._nc = new, 0
                self.counts["reauth"] += 1
                try:
                    self.keepalive()  # at once: the session's timer is running
                except RtspFailure:
                    pass  # the socket's fault: the next read says so
            return
        if self.keepalive_method == method and method in KEEPALIVE_NEXT:
            self.keepalive_method = KEEPALIVE_NEXT[method]
            try:
                self.keepalive()  # at once, the other way
            except RtspFailure:
                pass

    def _reply(self, msg: Message) -> None:
        self.counts["server_requests"] += 1
        try:
            self._sock().sendall(reply_to_server(msg, self.session_id))
        except (OSError, RtspFailure):
            pass  # the socket's fault: the next read says so

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        try:
            if self.session_id:
                sock.settimeout(0.5)
                self._send("TEARDOWN", self.play_url or self.url, {}, sock)
        except (OSError, RtspFailure):
            pass
        finally:
            sock.close()

    # the wire -------------------------------------------------------------------------
    def _connect(self) -> None:
        parts = urlsplit(self.url)
        self._started = time.monotonic()
        try:
            self.sock = socket.create_connection((parts.hostname or "", parts.port or 554), timeout=self.timeout_s)
        except (TimeoutError, socket.timeout):
            raise RtspFailure("no answer to the connection", err=errno.ETIMEDOUT) from None
        except socket.gaierror:
            raise RtspFailure("unknown host", err=errno.EHOSTUNREACH) from None
        except OSError as exc:
            raise RtspFailure(os.strerror(exc.errno or errno.EIO), err=exc.errno or errno.EIO) from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.leftover = b""
        self._pending.clear()

    def request(self, method: str, url: str, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
        headers = headers or {}
        self._send(method, url, headers)
        status, head, body = self._answer()
        for _try in range(2):  # a first challenge, then a stale or rotated nonce at most once more
            if status != 401 or self._user is None:
                break
            new = challenge(head.get("www-authenticate", ""))
            if new is None:
                raise RtspFailure("the camera asks for an authentication the edged reader does not speak",
                                  status=401, kind=UNSPOKEN)
            if not renewed(self._auth, new):
                break  # the same challenge again: the password is wrong
            if self._auth is not None:
                self.counts["reauth"] += 1
            self._auth, self._nc = new, 0
            self._send(method, url, headers)
            status, head, body = self._answer()
        return status, head, body

    def _send(self, method: str, url: str, headers: dict[str, str], sock: socket.socket | None = None) -> int:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if self.session_id:
            lines.append(f"Session: {self.session_id}")
        if self._auth is not None:
            lines.append("Authorization: " + self._authorization(method, url))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        try:
            (sock or self._sock()).sendall(data)
        except OSError as exc:
            raise RtspFailure("the camera closed the connection", err=exc.errno or errno.EPIPE) from None
        return self.cseq

    def _sock(self) -> socket.socket:
        if self.sock is None:
            raise RtspFailure("not connected", err=errno.ENOTCONN)
        return self.sock

    def _answer(self) -> tuple[int, dict[str, str], bytes]:
        """The answer to the request just sent. `$` frames before it are read aside and kept
        (the stream's, fed to the reader first), requests from the server answered, a late
        answer to a keep-alive skipped; an answer with a CSeq of its own is taken (FFmpeg too)."""
        sock = self._sock()
        buf = bytearray(self.leftover)
        self.leftover = b""
        aside: list[bytes] = []
        deadline = time.monotonic() + self.timeout_s
        while True:
            while buf[:2] == b"\r\n":  # a stray line end after the last body
                del buf[:2]
            kind, size, msg = next_message(buf)
            if kind == FRAME:
                aside.append(bytes(buf[:size]))
                del buf[:size]
                continue
            if msg is not None:
                del buf[:size]
                if kind == REQUEST:
                    self._reply(msg)
                elif msg.cseq is not None and self._pending.pop(msg.cseq, None) is not None:
                    self.counts["late_answers"] += 1
                else:
                    self.spoke_rtsp = True
                    self.leftover = self._kept(aside, bytes(buf))
                    return msg.status, msg.head, msg.body
                continue
            if kind == JUNK:
                raise RtspFailure("the answer is not RTSP", received=bytes(buf[:64]), complete=False,
                                  kind=GARBLED if self.spoke_rtsp else None)
            self._read(sock, buf, deadline)

    def _read(self, sock: socket.socket, buf: bytearray, deadline: float) -> None:
        while True:
            left = deadline - time.monotonic()
            complete = b"\r\n\r\n" in buf
            if left <= 0:
                raise RtspFailure("the camera did not finish answering", received=bytes(buf[:64]), complete=complete,
                                  seconds=time.monotonic() - self._started, timed_out=True)
            if self._stop is not None and self._stop.is_set():
                raise RtspFailure("stopped while waiting for the camera", received=bytes(buf[:64]), complete=False,
                                  seconds=time.monotonic() - self._started)
            sock.settimeout(min(left, STOP_CHECK_S))
            try:
                data = sock.recv(65536)
            except (TimeoutError, socket.timeout):
                continue
            except OSError as exc:
                raise RtspFailure("the connection failed", err=exc.errno or errno.EIO,
                                  received=bytes(buf[:64])) from None
            if not data:
                raise RtspFailure("the camera closed the connection", received=bytes(buf[:64]), complete=complete,
                                  seconds=time.monotonic() - self._started)
            buf += data
            return

    def _kept(self, aside: list[bytes], rest: bytes) -> bytes:
        """What came before and after the answer, as the stream's first bytes: the frames read
        aside, newest kept when they are more than the reader takes at once (the oldest are
        dropped: the packets kept run on into what follows, a gap only before them)."""
        room = ASIDE_BYTES - len(rest)
        self.counts["aside"] = len(aside)  # the leftover carries the earlier answers' frames to the next
        kept: list[bytes] = []
        for frame in reversed(aside):
            if len(frame) > room:
                self.counts["aside_dropped"] += len(aside) - len(kept)
                break
            kept.append(frame)
            room -= len(frame)
        return b"".join(reversed(kept)) + rest

    def _check(self, status: int, what: str) -> None:
        if status != 200:
            raise RtspFailure(f"{what} answered {status}", status=status)

    def _authorization(self, method: str, url: str) -> str:
        auth = self._auth or {}
        user, password = self._user or "", self._password
        if auth.get("scheme") == "basic":
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        realm, nonce = auth.get("realm", ""), auth.get("nonce", "")
        ha1 = _md5(f"{user}:{realm}:{password}")
        ha2 = _md5(f"{method}:{url}")
        fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{url}"']
        if "auth" in [q.strip() for q in auth.get("qop", "").split(",")]:
            self._nc += 1
            nc, cnonce = f"{self._nc:08x}", os.urandom(8).hex()
            response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if auth.get("opaque"):
            fields.append(f'opaque="{auth["opaque"]}"')
        return "Digest " + ", ".join(fields)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
