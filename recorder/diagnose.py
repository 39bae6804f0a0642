"""Why a camera is not recording, in words a technician can act on (design/0024).

FFmpeg reports a camera that never answers, one that answers a byte at a time and one that
answers with something other than RTSP all as "Invalid data found when processing input"
after its timeout. When an open fails that vaguely, `probe_rtsp` looks for
itself: a TCP connection and one OPTIONS request, with the same timeout, no credentials
sent. `explain_open` turns what is known into a (kind, words) pair; it is pure.
"""

from __future__ import annotations

import errno
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from storage.lazy import lazy_import

if TYPE_CHECKING:
    import av
else:
    av = lazy_import("av")  # the daemon imports this module for its words; PyAV loads when an error is read (design/0286)

# Kinds, stable for scripts (edgectl --json, MQTT camera state `error_kind`).
REFUSED, UNREACHABLE, NO_ANSWER, SLOW, NOT_RTSP, AUTH = "refused", "unreachable", "no_answer", "slow", "not_rtsp", "auth"
UNSUPPORTED, NO_VIDEO, ENDED_EARLY, ENDED, STALLED, STORAGE, OTHER = (
    "unsupported", "no_video", "ended_early", "ended", "stalled", "storage", "other")
TRANSPORT, NOT_FOUND = "transport", "not_found"
WORKER_DIED = "worker_died"  # the daemon's: the camera's recorder process died (it is restarted)
_CREDENTIALS = re.compile(r"(://[^/:@\s]*:)[^@/\s]*@")


def scrub(text: str) -> str:
    """Remove any password that an error message may have copied from a URL."""
    return _CREDENTIALS.sub(r"\1***@", text)


@dataclass(frozen=True, slots=True)
class Probe:
    """What one OPTIONS request to the camera's RTSP port showed."""

    connect_error: int | None = None   # errno of the TCP connect, or ETIMEDOUT
    received: bytes = b""              # the first bytes of the answer (at most 64)
    complete: bool = False             # a whole RTSP answer header arrived
    seconds: float = 0.0


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 554}"


STOP_CHECK_S = 0.25  # how often a waiting probe looks whether the camera was stopped


def probe_rtsp(url: str, timeout_s: float, stop: threading.Event | None = None) -> Probe:
    """Blocking, at most about `timeout_s` seconds, less once `stop` is set (a worker's stop
    must not wait for a camera that never answers); never sends the URL's credentials."""
    parts = urlsplit(url)
    start = time.monotonic()
    try:
        sock = socket.create_connection((parts.hostname, parts.port or 554), timeout=timeout_s)
    except (TimeoutError, socket.timeout):
        return Probe(errno.ETIMEDOUT, seconds=time.monotonic() - start)
    except socket.gaierror:
        return Probe(errno.EHOSTUNREACH, seconds=time.monotonic() - start)
    except OSError as exc:
        return Probe(exc.errno or errno.EIO, seconds=time.monotonic() - start)
    bare = f"{parts.scheme}://{parts.hostname}:{parts.port or 554}{parts.path or '/'}"
    got = b""
    with sock:
        try:
            sock.sendall(f"OPTIONS {bare} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: edged\r\n\r\n".encode())
            deadline = start + timeout_s
            while b"\r\n\r\n" not in got and (left := deadline - time.monotonic()) > 0:
                if stop is not None and stop.is_set():
                    break
                sock.settimeout(min(left, STOP_CHECK_S))
                try:
                    data = sock.recv(4096)
                except (TimeoutError, socket.timeout):
                    continue
                if not data:
                    break
                got += data
        except OSError:
            pass
    return Probe(None, got[:64], b"\r\n\r\n" in got, time.monotonic() - start)


def _printable(data: bytes) -> str:
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data[:24])
    return f"'{text}...'"


def refuses_transport(exc: BaseException) -> bool:
    """FFmpeg's answer to `461 Unsupported transport` when only one transport was allowed."""
    return getattr(exc, "errno", None) == errno.EPROTONOSUPPORT


def refused_transport_words(transport: str | None) -> str:
    if transport == "tcp":
        return ('the camera refuses RTSP over TCP (461 Unsupported transport): set transport = "udp" '
                '(or "auto") for this camera in the config, or switch the camera to RTSP over TCP')
    if transport == "udp":
        return ('the camera refuses RTSP over UDP (461 Unsupported transport): set transport = "tcp" '
                '(or "auto") for this camera in the config')
    return ("the camera refuses both RTSP over TCP and over UDP (461 Unsupported transport): "
            "check the camera's RTSP settings")


def status_words(status: int, transport: str | None = "tcp") -> tuple[str, str] | None:
    """(kind, words) for an RTSP answer that ends the open (either reader, design/0079)."""
    if status == 401:
        return AUTH, ("the camera refused the user name or password (401 Unauthorized): "
                      "check the credentials in the config")
    if status == 403:
        return AUTH, "the camera refused access to this stream (403 Forbidden): check the user's rights on the camera"
    if status == 404:
        return NOT_FOUND, "the camera has no stream at this path (404 Not Found): check the URL's path"
    if status == 461:
        return TRANSPORT, refused_transport_words(transport)
    return None


def explain_open(exc: BaseException, url: str, elapsed_s: float, timeout_s: float,
                 probe: Probe | None, transport: str | None = "tcp") -> tuple[str, str]:
    """(kind, words) for a failed av.open. `probe` is given when the error was vague;
    `transport` is the one configured ("auto": both were refused)."""
    where = _where(url)
    for cls, status in ((av.error.HTTPUnauthorizedError, 401), (av.error.HTTPForbiddenError, 403),
                        (av.error.HTTPNotFoundError, 404)):
        if isinstance(exc, cls):
            return status_words(status, transport)  # type: ignore[return-value]
    code = getattr(exc, "errno", None)
    if code == errno.EPROTONOSUPPORT:
        return TRANSPORT, refused_transport_words(transport)
    if probe is not None and probe.connect_error is not None:
        code = probe.connect_error
    if code == errno.ECONNREFUSED:
        return REFUSED, (f"connection refused at {where}: nothing listens there (camera off or rebooting, "
                         "wrong port, or its RTSP service is stopped)")
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return UNREACHABLE, f"{where} cannot be reached (no route or unknown host): check the network and the address"
    if code == errno.ETIMEDOUT and probe is not None:
        return UNREACHABLE, (f"no answer to a connection at {where} within {timeout_s:.0f} s: the camera is off "
                             "the network, or a firewall drops the connection")
    if probe is not None:
        rtsp = probe.received.startswith(b"RTSP/") or b"RTSP/".startswith(probe.received)  # a slow one: "RT"
        if not rtsp:
            return NOT_RTSP, (f"something answers at {where}, but not RTSP (it sent {_printable(probe.received)}): "
                              "wrong port or wrong device")
        if not probe.received:
            return NO_ANSWER, (f"the camera takes the connection at {where} but never answers (timed out after "
                               f"{timeout_s:.0f} s): its RTSP service is hung; restart the camera")
        if not probe.complete:
            return SLOW, (f"the camera answers far too slowly ({len(probe.received)} bytes in {probe.seconds:.0f} s, "
                          f"timed out): a failing network link or an overloaded camera")
    if elapsed_s >= timeout_s * 0.9:
        return NO_ANSWER, f"the camera did not finish answering within {timeout_s:.0f} s (timed out)"
    return OTHER, "cannot open the stream: " + str(exc)


def vague(exc: BaseException) -> bool:
    """FFmpeg's catch-all errors, which a look of our own can tell apart."""
    return isinstance(exc, (av.error.InvalidDataError, av.error.ExitError, TimeoutError, av.error.EOFError))
