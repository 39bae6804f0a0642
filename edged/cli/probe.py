"""`edgectl camera probe HOST`: what a camera is and what edged would record from it, before
any config is written (design/0077, issue 32).

ONVIF first (onvif-zeep-async): the camera's clock with no login (GetSystemDateAndTime is
pre-auth), then with the technician's user and password its device information, network
interface, media profiles and the RTSP URI of each. Then a 5-second read of the chosen
profile's stream as the recorder opens one (TCP, else UDP). A camera that answers no ONVIF is
tried on the RTSP URL given and the common vendor paths (probe_report.VENDOR_PATHS).

The password is asked with getpass (or read from stdin with --password-stdin), used in memory
only: never printed, logged, stored or put in an error message (recorder.diagnose.scrub).
This verb talks to the camera, not to the daemon: it runs standalone, for root or an admin.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from edged import edge_recording
from edged import DEFAULT_CONFIG_PATH
from edged.cli import probe_report
from edged.cli.ctx import Ctx, find_socket
from edged.cli.display import Verbs, JSON, UsageError
from edged.config import ConfigError, load_config
from edged.config.health import HealthConfig
from edged.control.client import call
from edged.control.protocol import DaemonDown, RequestError
from edged.i18n import _
from recorder import diagnose
from recorder.diagnose import scrub
from storage.time.clock import SYSTEM

log = logging.getLogger("edgectl.probe")
READ_S = 5.0
OPEN_TIMEOUT_S = 10.0   # a transport's open (5 s let a loaded box's TCP open fall back to UDP)
ONVIF_TIMEOUT_S = 10.0


# ONVIF ----------------------------------------------------------------------------------
def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _utc(sd: Any) -> datetime:
    d, t = sd.UTCDateTime.Date, sd.UTCDateTime.Time
    return datetime(d.Year, d.Month, d.Day, t.Hour, t.Minute, t.Second, tzinfo=timezone.utc)


async def camera_clock(dm: Any, authless: bool = True) -> dict[str, Any]:
    """The camera's clock against this box's: its UTC time (whole seconds) minus the middle of
    the request's round trip; +: the camera is ahead. NTP: its DateTimeType."""
    t0 = SYSTEM.now_us() / 1e6
    sd = await (dm.authless_GetSystemDateAndTime() if authless else dm.GetSystemDateAndTime())
    t1 = SYSTEM.now_us() / 1e6
    # The camera's second ticked somewhere in [its value, +1 s): its middle, against ours.
    offset = _utc(sd).timestamp() + 0.5 - (t0 + t1) / 2
    kind = str(getattr(sd, "DateTimeType", "") or "")
    tz = getattr(getattr(sd, "TimeZone", None), "TZ", None)
    return {"offset_s": round(offset, 1), "ntp": kind.upper() == "NTP" if kind else None, "tz": tz,
            "round_trip_s": round(t1 - t0, 3)}


def _profile(p: Any) -> dict[str, Any]:
    v, a = getattr(p, "VideoEncoderConfiguration", None), getattr(p, "AudioEncoderConfiguration", None)
    rc = getattr(v, "RateControl", None) if v is not None else None
    res = getattr(v, "Resolution", None) if v is not None else None
    codec = str(v.Encoding) if v is not None and v.Encoding is not None else None
    gov = None
    for attr in ("H264", "MPEG4"):
        sub = getattr(v, attr, None) if v is not None else None
        if sub is not None and getattr(sub, "GovLength", None):
            gov = sub.GovLength
    return {"token": p.token, "name": p.Name, "codec": codec,
            "width": res.Width if res is not None else None, "height": res.Height if res is not None else None,
            "fps": rc.FrameRateLimit if rc is not None else None,
            "bitrate_kbps": rc.BitrateLimit if rc is not None else None, "gov": gov,
            "audio": str(a.Encoding) if a is not None and a.Encoding is not None else None, "uri": None}


async def onvif_facts(host: str, port: int, user: str | None, password: str | None) -> dict[str, Any]:
    """Device, clock and profiles over ONVIF; raises on no answer or a refused login."""
    from onvif import ONVIFCamera  # imported here: the other verbs do not pay for zeep

    cam = ONVIFCamera(host, port, user or "", password or "", adjust_time=True)
    try:
        await cam.update_xaddrs()  # GetSystemDateAndTime (pre-auth: the token's time is the camera's), capabilities
        dm = await cam.create_devicemgmt_service()
        clock = await camera_clock(dm)
        info = await dm.GetDeviceInformation()
        mac = None
        try:
            nic = _first(await dm.GetNetworkInterfaces())
            mac = nic.Info.HwAddress if nic is not None and nic.Info is not None else None
        except Exception as exc:  # noqa: BLE001 - some cameras refuse it to a non-admin user
            log.debug("GetNetworkInterfaces: %s", exc)
        media = await cam.create_media_service()
        profiles = []
        for p in await media.GetProfiles():
            row = _profile(p)
            uri = await media.GetStreamUri({"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                                            "ProfileToken": p.token})
            row["uri"] = uri.Uri
            profiles.append(row)
        return {"device": {"manufacturer": info.Manufacturer, "model": info.Model, "firmware": info.FirmwareVersion,
                           "serial": info.SerialNumber, "mac": mac},
                "clock": clock, "profiles": profiles}
    finally:
        await cam.close()


async def edge_facts(host: str, port: int, user: str | None, password: str | None) -> dict[str, Any]:
    """Whether the camera has a recording of its own (Profile G Recording Search, design/0106):
    {"found": True, "from_us", "until_us"} or {"found": False, "why"}."""
    try:
        rec = await edge_recording.find(host, port, user, password)
    except edge_recording.NoEdgeRecording as exc:
        return {"found": False, "why": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a camera that answers Recording Search wrongly has none we can use
        return {"found": False, "why": onvif_error_words(exc)}
    return {"found": True, "from_us": rec.from_us, "until_us": rec.until_us}


def onvif_error_words(exc: BaseException) -> str:
    text = scrub(str(exc) or type(exc).__name__)
    if "authoriz" in text.lower() or "401" in text or type(exc).__name__ == "ONVIFAuthError":
        return _("the camera refused the user name or password over ONVIF (NotAuthorized)")
    return text[:200]


# RTSP -------------------------------------------------------------------------------------
def credentialed(url: str, user: str | None, password: str | None) -> str:
    if not user:
        return url
    parts = urlsplit(probe_report.bare_url(url))
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit((parts.scheme, f"{auth}@{parts.netloc}", parts.path, parts.query, parts.fragment))


def offered_auth(url: str, timeout_s: float = OPEN_TIMEOUT_S) -> list[str]:
    """The schemes an RTSP server asks for on a DESCRIBE without credentials (its WWW-Authenticate
    headers: "Basic", "Digest"); [] when it asks for none or does not answer."""
    parts = urlsplit(probe_report.bare_url(url))
    got = b""
    try:
        with socket.create_connection((parts.hostname, parts.port or 554), timeout=timeout_s) as sock:
            sock.sendall(b"DESCRIBE " + probe_report.bare_url(url).encode() +
                         b" RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\nUser-Agent: edged\r\n\r\n")
            while b"\r\n\r\n" not in got and len(got) < 16_384:
                data = sock.recv(4096)
                if not data:
                    break
                got += data
    except OSError:
        return []
    head = got.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return [line.split(":", 1)[1].strip().split(" ", 1)[0].capitalize() for line in head[1:]
            if line.lower().startswith("www-authenticate:")]


def credential_refusal(probed: str, url: str, user: str | None, allow_basic: bool, offered: list[str]) -> str | None:
    """Why the password must not go with this URL (issue 45), or None: only to the host probed, and
    never as Basic over plain RTSP (readable by anyone on the wire) unless --allow-basic."""
    if not user:
        return None
    named = urlsplit(url).hostname or ""
    if named.lower() != probed.lower():
        return _("the camera names another host for its stream ({url}); the password is not sent there. If that "
                 "address is right, probe it itself: edgectl camera probe {url} --user {user}").format(
            url=probe_report.bare_url(url), user=user)
    if urlsplit(url).scheme == "rtsp" and "Basic" in offered and "Digest" not in offered and not allow_basic:
        return _("the camera asks for its password in Basic over plain RTSP, which anyone on the network can read; "
                 "not sent. Turn on Digest in the camera's settings, or give --allow-basic to send it anyway")
    return None


def _open(url: str, transport: str) -> Any:
    import av

    media = {"rtsp_transport": transport}
    return av.open(url, options={**media, "timeout": str(int(OPEN_TIMEOUT_S * 1e6))},
                   timeout=(OPEN_TIMEOUT_S, OPEN_TIMEOUT_S))


def _failure(exc: BaseException, url: str, started: float) -> str:
    """recorder.diagnose's words for a failed open (the same a recording camera shows)."""
    probe = diagnose.probe_rtsp(url, OPEN_TIMEOUT_S) if diagnose.vague(exc) else None
    kind, words = diagnose.explain_open(exc, url, time.monotonic() - started, OPEN_TIMEOUT_S, probe, "auto")
    return f"{kind}: {diagnose.scrub(words)}"


def open_stream(url: str, transport: str = "auto") -> tuple[Any, str]:
    """(container, transport that worked): TCP first, then UDP, as transport = "auto" does."""
    order = ["tcp", "udp"] if transport == "auto" else [transport]
    last: BaseException | None = None
    for t in order:
        try:
            return _open(url, t), t
        except Exception as exc:  # noqa: BLE001 - each transport's failure is tried, the last one told
            last = exc
    assert last is not None
    raise last


def read_stream(url: str, transport: str = "auto", seconds: float = READ_S) -> dict[str, Any]:
    """Read `seconds` of the stream: codec, picture, measured frame rate and keyframe interval,
    bitrate, audio, and the transport that worked. Raises on a failed open."""
    container, used = open_stream(url, transport)
    try:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frames, keys, nbytes, first_pts, last_pts = 0, [], 0, None, None
        deadline = time.monotonic() + seconds
        for pkt in container.demux(*(s for s in (video, audio) if s is not None)):
            if time.monotonic() > deadline:
                break
            if pkt.stream is not video or pkt.size == 0:
                continue
            frames += 1
            nbytes += pkt.size
            if pkt.pts is not None:
                t = float(pkt.pts * video.time_base)
                first_pts = t if first_pts is None else first_pts
                last_pts = t
            if pkt.is_keyframe:
                keys.append(frames)
        span = (last_pts - first_pts) if first_pts is not None and last_pts is not None else 0.0
        fps = (frames - 1) / span if span > 0 else float(video.average_rate or 0)
        gop = (keys[-1] - keys[-2]) if len(keys) >= 2 else None
        return {"url": probe_report.bare_url(url), "codec": video.codec_context.name,
                "width": video.codec_context.width, "height": video.codec_context.height,
                "fps": round(fps, 2), "gop_frames": gop, "gop_s": round(gop / fps, 2) if gop and fps else None,
                "bitrate_kbps": round(nbytes * 8 / span / 1000, 1) if span > 0 else 0.0,
                "audio": audio.codec_context.name if audio is not None else None, "transport": used,
                "frames": frames, "seconds": round(span, 2)}
    finally:
        container.close()


def try_paths(host: str, rtsp_port: int, user: str | None, password: str | None,
              given: str | None, allow_basic: bool = False) -> tuple[str | None, list[dict[str, str]]]:
    """Without ONVIF: the URL given, else the vendors' paths; the first that opens, and what each answered."""
    urls = [given] if given else [f"rtsp://{host}:{rtsp_port}{path}" for _v, path in probe_report.VENDOR_PATHS]
    tried = []
    refused = credential_refusal(host, urls[0], user, allow_basic, offered_auth(urls[0]) if user else [])
    if refused:
        return None, [{"url": probe_report.bare_url(urls[0]), "answer": refused}]
    for url in urls:
        started = time.monotonic()
        try:
            container, _t = open_stream(credentialed(url, user, password))
        except Exception as exc:  # noqa: BLE001 - each path's answer is reported
            tried.append({"url": probe_report.bare_url(url), "answer": _failure(exc, url, started)})
            continue
        container.close()
        tried.append({"url": probe_report.bare_url(url), "answer": "ok"})
        return url, tried
    return None, tried


# the verb -----------------------------------------------------------------------------
def may_probe(ctx: Any) -> None:
    """Root, or an admin of the daemon on this box (the control socket's whoami)."""
    if os.geteuid() == 0:
        return
    if ctx is not None:
        try:
            if "admin" in call(ctx.socket, "whoami", {}).get("roles", []):
                return
        except (DaemonDown, RequestError):
            pass
    raise UsageError(_("camera probe is for root or an admin of edged on this box (log in first: edgectl login)"))


def ask_password(args: Any) -> str | None:
    if not args.user:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError(_("--user needs a password: run on a terminal, or give it with --password-stdin"))
    return getpass.getpass(_("password for {user} on the camera (not shown, not kept): ").format(user=args.user))


def site_health(path: Path | None) -> tuple[HealthConfig, str]:
    """The site's quality floor: [health] of the config given (else /etc/edged/edged.toml when
    there is one), else the built-in strictest defaults. (HealthConfig, where it came from)."""
    path = path or (DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None)
    if path is None:
        return HealthConfig(), _("built-in defaults (no config)")
    try:
        return load_config(path, allow_config_secrets=True).health, str(path)
    except ConfigError as exc:
        raise UsageError(_("cannot read the site's quality floor from {path}: {why}").format(path=path, why=exc)) \
            from None


def probe(args: Any, password: str | None) -> dict[str, Any]:
    host = args.host
    given_url = host if host.startswith("rtsp://") else None
    hostname = urlsplit(host).hostname if given_url else host
    result: dict[str, Any] = {"host": hostname, "device": None, "clock": None, "profiles": [], "tried": [],
                              "stream": None, "chosen": None}
    if not given_url:
        try:
            result.update(asyncio.run(asyncio.wait_for(onvif_facts(host, args.port, args.user, password),
                                                       ONVIF_TIMEOUT_S)))
        except Exception as exc:  # noqa: BLE001 - no ONVIF: the RTSP paths are tried instead
            result["onvif_error"] = onvif_error_words(exc) if not isinstance(exc, TimeoutError) else \
                _("no answer within {s:.0f} s").format(s=ONVIF_TIMEOUT_S)
        if result["device"] is not None:
            try:
                result["edge_recording"] = asyncio.run(asyncio.wait_for(
                    edge_facts(host, args.port, args.user, password), ONVIF_TIMEOUT_S))
            except TimeoutError:
                result["edge_recording"] = {"found": False, "why": _("no answer within {s:.0f} s").format(
                    s=ONVIF_TIMEOUT_S)}
    url = None
    if result.get("onvif_error") and "NotAuthorized" in result["onvif_error"]:
        return result  # it is an ONVIF camera: the login is what to fix, not the path
    if result["profiles"]:
        chosen = probe_report.choose_profile(result["profiles"], args.profile)
        if chosen is None:
            raise UsageError(_("no profile {name!r} on this camera").format(name=args.profile))
        result["chosen"], url = chosen, chosen["uri"]
    else:
        url, result["tried"] = try_paths(hostname, args.rtsp_port, args.user, password, given_url, args.allow_basic)
    refused = credential_refusal(hostname or "", url, args.user, args.allow_basic,
                                 offered_auth(url) if args.user else []) if url else None
    if refused:
        result["stream_error"] = refused
    elif url:
        try:
            result["stream"] = read_stream(credentialed(url, args.user, password), args.transport)
        except Exception as exc:  # noqa: BLE001 - said as the recorder would say it
            result["stream_error"] = _failure(exc, url, time.monotonic())
    return result


def cmd_probe(ctx: Any, args: Any) -> tuple[Any, str]:
    may_probe(Ctx(find_socket(args.socket)) if os.geteuid() != 0 else None)
    health, source = site_health(args.config)
    password = ask_password(args)
    result = probe(args, password)
    password = None
    now = datetime.fromtimestamp(SYSTEM.now_us() / 1e6).astimezone()
    result["verdict"] = list(probe_report.verdict(result, health, args.audio_required, now.hour * 60 + now.minute))
    result["floor_from"] = source
    cam_id = probe_report.camera_id(result, args.id)
    result["block"] = probe_report.camera_block(result, cam_id, args.user, bool(args.user),
                                                args.audio_required) if (result["stream"] or result["chosen"]) else None
    return result, probe_report.render(result, health)


def register(cs: Verbs) -> None:
    p = cs.add_parser("probe", parents=[JSON], help=_("ask a camera what it is (ONVIF), read 5 s of its stream, and "
                                                      "print a ready [[cameras]] block"))
    p.add_argument("host", help=_("the camera's address, or an rtsp:// URL for a camera without ONVIF"))
    p.add_argument("--port", type=int, default=80, help=_("its ONVIF (HTTP) port (80)"))
    p.add_argument("--rtsp-port", type=int, default=554, help=_("its RTSP port, for the vendor paths (554)"))
    p.add_argument("--user", help=_("the camera's user; the password is asked, never shown or kept"))
    p.add_argument("--password-stdin", action="store_true", help=_("read the password from stdin (scripts)"))
    p.add_argument("--allow-basic", action="store_true", help=_("send the password even where the camera asks for "
                                                                "it in Basic over plain RTSP (readable on the wire)"))
    p.add_argument("--profile", help=_("the ONVIF profile to read (token or name; default: the largest picture)"))
    p.add_argument("--transport", choices=("auto", "tcp", "udp"), default="auto")
    p.add_argument("--id", help=_("the camera id for the [[cameras]] block"))
    p.add_argument("--audio-required", action="store_true", help=_("judge it as a camera whose sound is recorded"))
    p.add_argument("--config", type=Path, help=_("the site's config, for its quality floor (default "
                                                 "/etc/edged/edged.toml when there is one)"))
    p.set_defaults(handler=cmd_probe, standalone=True)
