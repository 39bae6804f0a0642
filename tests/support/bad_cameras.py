"""Cameras that misbehave, as small socket servers on 127.0.0.1 (one thread per connection).

Each kind is one way a real camera or the network in front of it fails: nothing listens
(`refuse`), the connection is taken and never answered (`hang`), answers come one byte a
second (`slow`), the stream description names a codec nobody can record (`bad_sdp`),
the answer is not RTSP at all (`junk`), the password is refused (`auth`), and the stream is
set up and then ends at once (`early_end`). Two more, outside KINDS: a camera that refuses RTP
over TCP as VLC's server does (`udp_only`: `461 Unsupported transport`), and a wrong path
(`not_found`: `404 Not Found`).
"""

from __future__ import annotations

import socket
import threading
import time

KINDS = ("refuse", "hang", "slow", "bad_sdp", "junk", "auth", "early_end")
MORE_KINDS = ("udp_only", "not_found")

_H264_SDP = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
             "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==\r\n"
             "a=control:track1\r\n")
_BAD_SDP = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
            "a=rtpmap:96 X-VENDOR-MJPEG4/90000\r\na=control:track1\r\n")


class BadCamera:
    def __init__(self, kind: str):
        if kind not in KINDS + MORE_KINDS:
            raise ValueError(kind)
        self.kind = kind
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/stream"

    def __enter__(self) -> "BadCamera":
        if self.kind == "refuse":
            self._sock.close()  # the port is free: a connection is refused
            return self
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, name=f"bad-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for c in self._conns:
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
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    # one connection -------------------------------------------------------------------
    def _requests(self, conn: socket.socket):
        """(method, CSeq) of each RTSP request on the connection (the whole head in `self.head`)."""
        buf = b""
        conn.settimeout(0.5)
        while not self._stop.is_set():
            while b"\r\n\r\n" not in buf:
                try:
                    data = conn.recv(4096)
                except (TimeoutError, socket.timeout):
                    if self._stop.is_set():
                        return
                    continue
                except OSError:
                    return
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode(errors="replace").split("\r\n")
            self.head = lines
            cseq = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("cseq:")), "1")
            yield lines[0].split(" ")[0], cseq

    def _send(self, conn: socket.socket, data: bytes, per_byte: float = 0.0) -> bool:
        try:
            if not per_byte:
                conn.sendall(data)
                return True
            for i in range(len(data)):
                if self._stop.wait(per_byte):
                    return False
                conn.sendall(data[i:i + 1])
            return True
        except OSError:
            return False

    @staticmethod
    def _reply(cseq: str, status: str = "200 OK", headers: str = "", body: str = "") -> bytes:
        extra = f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n" if body else ""
        return f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{headers}{extra}\r\n{body}".encode()

    def _serve(self, conn: socket.socket) -> None:
        kind = self.kind
        if kind == "hang":
            self._stop.wait()
            return
        if kind == "junk":
            self._send(conn, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" + bytes(range(256)) * 4)
            self._stop.wait()
            return
        for method, cseq in self._requests(conn):
            if kind == "slow":
                if not self._send(conn, self._reply(cseq, headers="Public: OPTIONS, DESCRIBE\r\n"), per_byte=1.0):
                    return
                continue
            if method == "OPTIONS":
                self._send(conn, self._reply(cseq, headers="Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n"))
            elif method == "DESCRIBE":
                if kind == "auth":
                    self._send(conn, self._reply(cseq, "401 Unauthorized",
                                                 'WWW-Authenticate: Basic realm="camera"\r\n'))
                elif kind == "not_found":
                    self._send(conn, self._reply(cseq, "404 Not Found"))
                else:
                    sdp = _BAD_SDP if kind == "bad_sdp" else _H264_SDP
                    self._send(conn, self._reply(cseq, headers=f"Content-Base: {self.url}/\r\n", body=sdp))
            elif method == "SETUP" and kind == "udp_only" and any("/TCP" in ln for ln in self.head):
                self._send(conn, self._reply(cseq, "461 Unsupported transport"))
            elif method == "SETUP":
                self._send(conn, self._reply(cseq, headers="Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
                                             "Session: 12345678;timeout=60\r\n"))
            elif method == "PLAY":
                self._send(conn, self._reply(cseq, headers="Session: 12345678\r\n"))
                if kind == "early_end":
                    time.sleep(0.1)
                    conn.close()
                    return
            else:
                self._send(conn, self._reply(cseq))
