"""The RTSP reader's text (design/0079, design/0092): the stream description, RTSP messages as
they come off the wire among interleaved `$` frames, URLs as cameras write them, challenges.

Pure: bytes and strings in, plain values out. recorder/rtsp_session.py holds the socket and
the conversation; each quirk of a real camera's server handled here is listed in design/0092
with the test that shows it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

MESSAGE_MAX = 65536  # an RTSP message head (and SDP) larger than this is not one
# A request line from the server ("OPTIONS * RTSP/1.0", "SET_PARAMETER rtsp://... RTSP/1.0").
_REQUEST = re.compile(rb"([A-Z][A-Z_]{2,20}) (\S+) RTSP/\d\.\d\r\n")
_PARTIAL_REQUEST = re.compile(rb"[A-Z][A-Z_]{0,20}( \S*( R?T?S?P?/?[\d.]*\r?)?)?")
# What a keep-alive the camera refuses is replaced by (design/0092): OPTIONS, which every server
# answers (RFC 2326 requires it; retina and go2rtc keep alive with it).
KEEPALIVE_NEXT = {"GET_PARAMETER": "OPTIONS", "SET_PARAMETER": "OPTIONS"}


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
            _pt, _, enc = line[9:].strip().partition(" ")
            name, _, rest = enc.strip().partition("/")
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


def session_control(text: str) -> str:
    """The SDP's session-level a=control (before the first m=), or ""."""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            return ""
        if line.startswith("a=control:"):
            return line[10:].strip()
    return ""


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


# messages on the wire -------------------------------------------------------------------
FRAME, ANSWER, REQUEST, NEED, JUNK = "frame", "answer", "request", "need", "junk"


@dataclass(slots=True)
class Message:
    """An RTSP answer (`status`) or a request from the server (`method`), parsed."""

    status: int
    method: str
    head: dict[str, str]
    body: bytes

    @property
    def cseq(self) -> int | None:
        value = self.head.get("cseq", "").strip()
        return int(value) if value.isdigit() else None


def next_message(buf: bytes | bytearray) -> tuple[str, int, Message | None]:
    """What `buf` starts with: (FRAME, its length, None) for a whole `$` frame; (ANSWER or
    REQUEST, its length, the message) for a whole RTSP message; (NEED, 0, None) until more is
    read; (JUNK, 0, None) when it is neither."""
    if not buf:
        return NEED, 0, None
    if buf[0] == 0x24:  # '$': channel, 16-bit length, packet
        if len(buf) < 4:
            return NEED, 0, None
        size = 4 + ((buf[2] << 8) | buf[3])
        return (FRAME, size, None) if len(buf) >= size else (NEED, 0, None)
    answer = buf.startswith(b"RTSP/")
    if not answer:
        if b"RTSP/".startswith(bytes(buf[:5])):
            return NEED, 0, None
        line_end = buf.find(b"\r\n", 0, 256)
        if line_end < 0:
            plausible = len(buf) < 256 and _PARTIAL_REQUEST.fullmatch(bytes(buf))
            return (NEED, 0, None) if plausible else (JUNK, 0, None)
        if not _REQUEST.match(buf, 0, line_end + 2):
            return JUNK, 0, None
    end = buf.find(b"\r\n\r\n", 0, MESSAGE_MAX)
    if end < 0:
        return (JUNK if len(buf) > MESSAGE_MAX else NEED), 0, None
    msg = parse_head(bytes(buf[:end]))
    if msg is None:
        return JUNK, 0, None
    declared = msg.head.get("content-length", "")
    length = int(declared) if declared.isdigit() else 0
    if len(buf) < end + 4 + length:
        return NEED, 0, None
    msg.body = bytes(buf[end + 4:end + 4 + length])
    return (ANSWER if msg.status else REQUEST), end + 4 + length, msg


def parse_head(head: bytes) -> Message | None:
    """An RTSP answer's or request's head (up to the empty line); None when it is not one."""
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0].split(" ", 2)
    status, method = 0, ""
    if first[0].startswith("RTSP/"):
        if len(first) < 2 or not first[1].isdigit():
            return None
        status = int(first[1])
    else:
        method = first[0]
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key == "www-authenticate" and key in fields:
            if not fields[key].lower().startswith("digest"):
                fields[key] = value.strip()  # Digest preferred over Basic when both are offered
        else:
            fields.setdefault(key, value.strip())
    return Message(status, method, fields, b"")


def reply_to_server(msg: Message, session_id: str) -> bytes:
    """Our answer to a request the server sent: 200 to OPTIONS (as FFmpeg's
    ff_rtsp_read_reply), and here to GET_PARAMETER and SET_PARAMETER too (a server's ping);
    501 to anything else. With its CSeq, which FFmpeg's 501 leaves out."""
    ok = msg.method in ("OPTIONS", "GET_PARAMETER", "SET_PARAMETER")
    lines = ["RTSP/1.0 200 OK" if ok else "RTSP/1.0 501 Not Implemented"]
    if msg.cseq is not None:
        lines.append(f"CSeq: {msg.cseq}")
    if session_id:
        lines.append(f"Session: {session_id}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def session_timeout_s(header: str) -> int | None:
    """The `timeout=N` of a `Session: id;timeout=N` header."""
    for item in header.split(";")[1:]:
        key, _, value = item.strip().partition("=")
        if key.strip().lower() == "timeout" and value.strip().isdigit():
            return int(value.strip())
    return None


def keepalive_method(public: str) -> str:
    """GET_PARAMETER when OPTIONS' Public lists it (FFmpeg's choice), else SET_PARAMETER when
    listed (retina's first), else OPTIONS."""
    offered = {m.strip().upper() for m in public.split(",")}
    for method in ("GET_PARAMETER", "SET_PARAMETER"):
        if method in offered:
            return method
    return "OPTIONS"


# URLs as cameras write them ---------------------------------------------------------------
def bare(url: str) -> str:
    """The URL without user name and password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def content_base(value: str, request_url: str) -> str:
    """The presentation's base from Content-Base / Content-Location as cameras write it:
    absolute; doubled scheme (`rtsp://rtsp://host/`, go2rtc #830); without a scheme
    (`192.168.1.10:554/stream0/`, retina's Anjvision case); relative to the request URL
    (`stream1/`, `/stream1/`). Empty: the request URL."""
    value = value.strip()
    if not value:
        return request_url
    lower = value.lower()
    while lower.startswith(("rtsp://rtsp://", "rtsp://rtsps://", "rtsps://rtsp://")):
        value = value[7:] if lower.startswith("rtsp://") else value[8:]
        lower = value.lower()
    if lower.startswith(("rtsp://", "rtsps://")):
        return value
    scheme = urlsplit(request_url).scheme or "rtsp"
    first = value.split("/", 1)[0]
    if "://" not in value and not value.startswith((".", "/")) and _looks_like_host(first, request_url):
        return f"{scheme}://{value}"
    return urljoin(request_url, value)


def _looks_like_host(first: str, request_url: str) -> bool:
    host, _, port = first.rpartition(":") if ":" in first else (first, "", "")
    if port and not port.isdigit():
        return False
    return bool(re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host)) or host == (urlsplit(request_url).hostname or "") \
        or (bool(port) and "." in host)


def control_urls(base: str, control: str) -> list[str]:
    """The URLs a SETUP may go to for a track's a=control, the likeliest first: absolute as is;
    "*" or none: the base; otherwise FFmpeg's and live555's join (base + "/" + control, even
    for a control starting with "/"), then RFC 3986's (a path from the host's root, the
    directory of the base), each once. A SETUP answered 404 or 451-459 tries the next."""
    control = control.strip()
    if not control or control == "*":
        return [base]
    if "://" in control:
        return [content_base(control, base)]
    joined = base + ("" if base.endswith("/") or control.startswith("/") else "/") + control
    out = [joined, urljoin(base if base.endswith("/") else base + "/", control), urljoin(base, control)]
    return list(dict.fromkeys(out))


# authentication -----------------------------------------------------------------------------
def challenge(header: str) -> dict[str, str] | None:
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


def renewed(old: dict[str, str] | None, new: dict[str, str]) -> bool:
    """Whether a 401 after an answered challenge is worth one more try: a first challenge, a
    stale nonce (`stale=true`), a new nonce (a camera that rotates them mid-session), or
    another scheme. The same nonce again: the password is wrong."""
    if old is None:
        return True
    return new.get("stale", "").lower() == "true" or new.get("scheme") != old.get("scheme") \
        or new.get("nonce") != old.get("nonce") or new.get("realm") != old.get("realm")


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
