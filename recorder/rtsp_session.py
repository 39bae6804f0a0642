"""The RTSP conversation of the edged reader (design/0079): OPTIONS, DESCRIBE, SETUP over TCP
(interleaved), PLAY, keepalive, TEARDOWN, on one blocking socket of the camera's thread.

Basic and Digest (MD5, qop=auth or none) authentication after a 401; redirects (3xx with a
Location) followed up to MAX_REDIRECTS times. A failure raises `RtspFailure` with what is
known (the RTSP status, the socket's errno, the bytes received), which recorder/diagnose.py
turns into the camera state's words. The URL's password is only ever in the Authorization
header: `self.url` and every message are without credentials.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

MAX_REDIRECTS = 3
USER_AGENT = "edged"
STOP_CHECK_S = 0.25  # how often a wait for an answer looks whether the camera was stopped
KEEPALIVE_DEFAULT_S = 60  # RFC 2326's session timeout when the camera names none
UNSPOKEN = "unspoken"  # RtspFailure.kind: a 401 whose scheme this reader does not speak (libavformat may)


class RtspFailure(Exception):
    """The session could not be set up. `status`: the RTSP status (401, 404, 461, ...);
    `errno`: the socket's; `received`: the answer's first bytes (a garbled or slow one);
    `complete`: a whole answer header arrived; `kind`: a recorder/diagnose.py kind when
    the reader itself knows it (no_video, unsupported)."""

    def __init__(self, message: str, *, status: int | None = None, err: int | None = None,
                 received: bytes = b"", complete: bool = True, kind: str | None = None, seconds: float = 0.0):
        super().__init__(message)
        self.status = status
        self.errno = err
        self.received = received
        self.complete = complete
        self.kind = kind
        self.seconds = seconds


@dataclass(slots=True)
class Media:
    """One m= section of the SDP."""

    kind: str                     # video, audio, ...
    payload: int
    encoding: str = ""            # H264, H265, ...
    clock: int = 90000
    fmtp: dict[str, str] = field(default_factory=dict)
    control: str = ""
    framerate: float | None = None


def parse_sdp(text: str) -> list[Media]:
    media: list[Media] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            try:
                media.append(Media(parts[0], int(parts[3])))
            except (IndexError, ValueError):
                media.append(Media(parts[0] if parts else "", -1))
        elif not media or not line.startswith("a="):
            continue
        elif line.startswith("a=rtpmap:"):
            _pt, _, enc = line[9:].partition(" ")
            name, _, rest = enc.partition("/")
            media[-1].encoding = name.upper()
            try:
                media[-1].clock = int(rest.split("/")[0])
            except ValueError:
                pass
        elif line.startswith("a=fmtp:"):
            _pt, _, params = line[7:].partition(" ")
            for item in params.split(";"):
                key, _, value = item.strip().partition("=")
                if key:
                    media[-1].fmtp[key.lower()] = value.strip()
        elif line.startswith("a=control:"):
            media[-1].control = line[10:].strip()
        elif line.startswith("a=framerate:"):
            try:
                media[-1].framerate = float(line[12:].strip())
            except ValueError:
                pass
    return media


def parameter_sets(m: Media) -> bytes:
    """The SDP's SPS/PPS (and VPS) as Annex B; b"" when it names none or they do not decode."""
    keys = ("sprop-parameter-sets",) if m.encoding == "H264" else ("sprop-vps", "sprop-sps", "sprop-pps")
    out = bytearray()
    for key in keys:
        for item in m.fmtp.get(key, "").split(","):
            if not item:
                continue
            try:
                out += b"\x00\x00\x00\x01" + base64.b64decode(item + "=" * (-len(item) % 4))
            except ValueError:
                return b""
    return bytes(out)


class Session:
    def __init__(self, url: str, timeout_s: float, stop: threading.Event | None = None):
        parts = urlsplit(url)
        self._user = unquote(parts.username) if parts.username is not None else None
        self._password = unquote(parts.password) if parts.password is not None else ""
        self.url = _bare(url)  # never with credentials
        self.timeout_s = timeout_s
        self._stop = stop  # set: the camera is being stopped, an answer is not waited for
        self.sock: socket.socket | None = None
        self.cseq = 0
        self.session_id = ""
        self.keepalive_s = KEEPALIVE_DEFAULT_S / 2
        self.keepalive_method = "OPTIONS"
        self.leftover = b""  # bytes that came after the PLAY answer: the stream's first
        self.channels = (0, 1)
        self._auth: dict[str, str] | None = None  # the challenge answered (scheme, realm, nonce, ...)
        self._nc = 0
        self._started = time.monotonic()

    # the conversation -----------------------------------------------------------------
    def describe(self) -> tuple[str, list[Media]]:
        """Connect, OPTIONS, DESCRIBE (following redirects): (content base, the SDP's media)."""
        for _hop in range(MAX_REDIRECTS + 1):
            self._connect()
            status, head, _ = self.request("OPTIONS", self.url)
            if status == 200 and "GET_PARAMETER" in head.get("public", "").upper():
                self.keepalive_method = "GET_PARAMETER"
            status, head, body = self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
            if status in (301, 302, 303, 305, 307, 308) and head.get("location"):
                self.close()
                self.url = _bare(urljoin(self.url, head["location"]))
                continue
            self._check(status, "DESCRIBE")
            base = head.get("content-base") or head.get("content-location") or self.url
            return base, parse_sdp(body.decode("utf-8", "replace"))
        raise RtspFailure("the camera redirected more than %d times" % MAX_REDIRECTS, status=302)

    def setup_and_play(self, base: str, media: Media) -> None:
        control = media.control
        url = control if "://" in control else (urljoin(base if base.endswith("/") else base + "/", control)
                                                 if control and control != "*" else base)
        status, head, _ = self.request("SETUP", url, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
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
        sid, _, rest = head.get("session", "").partition(";")
        self.session_id = sid.strip()
        for item in rest.split(";"):
            key, _, value = item.strip().partition("=")
            if key.lower() == "timeout" and value.strip().isdigit():
                self.keepalive_s = max(5, int(value) // 2)
        status, _, _ = self.request("PLAY", base, {"Range": "npt=0.000-"})
        self._check(status, "PLAY")

    def keepalive(self) -> None:
        """Sent without waiting: its answer arrives among the packets and is skipped there."""
        self._send(self.keepalive_method, self.url, {})

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        try:
            if self.session_id:
                sock.settimeout(0.5)
                self._send("TEARDOWN", self.url, {}, sock)
        except OSError:
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

    def request(self, method: str, url: str, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
        headers = headers or {}
        self._send(method, url, headers)
        status, head, body = self._answer()
        if status == 401 and self._user is not None and self._auth is None:
            self._auth = _challenge(head.get("www-authenticate", ""))
            if self._auth is None:
                raise RtspFailure("the camera asks for an authentication the edged reader does not speak",
                                  status=401, kind=UNSPOKEN)
            self._send(method, url, headers)
            status, head, body = self._answer()
        return status, head, body

    def _send(self, method: str, url: str, headers: dict[str, str], sock: socket.socket | None = None) -> None:
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

    def _sock(self) -> socket.socket:
        if self.sock is None:
            raise RtspFailure("not connected", err=errno.ENOTCONN)
        return self.sock

    def _answer(self) -> tuple[int, dict[str, str], bytes]:
        sock = self._sock()
        got = self.leftover
        deadline = time.monotonic() + self.timeout_s
        while True:
            end = got.find(b"\r\n\r\n")
            if end >= 0:
                break
            left = deadline - time.monotonic()
            if left <= 0 or len(got) > 65536:
                raise RtspFailure("the camera did not finish answering", received=got[:64], complete=False,
                                  seconds=time.monotonic() - self._started)
            if self._stop is not None and self._stop.is_set():
                raise RtspFailure("stopped while waiting for the camera", received=got[:64], complete=False,
                                  seconds=time.monotonic() - self._started)
            sock.settimeout(min(left, STOP_CHECK_S))
            try:
                data = sock.recv(65536)
            except (TimeoutError, socket.timeout):
                continue
            except OSError as exc:
                raise RtspFailure("the connection failed", err=exc.errno or errno.EIO, received=got[:64]) from None
            if not data:
                raise RtspFailure("the camera closed the connection", received=got[:64], complete=False,
                                  seconds=time.monotonic() - self._started)
            got += data
        lines = got[:end].decode("latin-1").split("\r\n")
        first = lines[0].split(" ", 2)
        if not first[0].startswith("RTSP/") or len(first) < 2 or not first[1].isdigit():
            raise RtspFailure("the answer is not RTSP", received=got[:64], complete=False)
        head: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            if key == "www-authenticate" and key in head and not head[key].lower().startswith("digest"):
                head[key] = value.strip()  # Digest preferred over Basic when both are offered
            elif key not in head or key != "www-authenticate":
                head[key] = value.strip()
        length = int(head.get("content-length", "0") or 0)
        rest = got[end + 4:]
        while len(rest) < length:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except (TimeoutError, socket.timeout):
                raise RtspFailure("the camera did not finish answering", received=got[:64], complete=True) from None
            if not data:
                raise RtspFailure("the camera closed the connection", received=got[:64])
            rest += data
        self.leftover = rest[length:]
        return int(first[1]), head, rest[:length]

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


def _challenge(header: str) -> dict[str, str] | None:
    """The WWW-Authenticate challenge as a dict with `scheme`; None for a scheme not spoken."""
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        return {"scheme": "basic"}
    if scheme != "digest":
        return None
    out = {"scheme": "digest"}
    for item in _split_params(rest):
        key, _, value = item.partition("=")
        out[key.strip().lower()] = value.strip().strip('"')
    if out.get("algorithm", "MD5").upper() != "MD5":
        return None
    return out


def _split_params(text: str) -> list[str]:
    items, cur, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        items.append(cur)
    return items


def _bare(url: str) -> str:
    """The URL without user name and password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
