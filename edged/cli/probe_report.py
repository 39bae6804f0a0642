"""What `edgectl camera probe` found, judged and written out (design/0077): pure functions over
the plain dicts edged/cli/probe.py gathers. No I/O, no password: the URLs here never carry one.

A probe's result:
  device   {manufacturer, model, firmware, serial, mac} or None (no ONVIF)
  clock    {offset_s, ntp, tz} or None
  profiles [{token, name, codec, width, height, fps, bitrate_kbps, gov, audio, uri}]
  tried    [{url, answer}]  the RTSP URLs tried without ONVIF (answer: ok, or the diagnosis kind)
  stream   {url, codec, width, height, fps, gop_frames, gop_s, bitrate_kbps, audio, transport, seconds} or None
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from edged.cli.display import field, fmt_time, table
from edged.config.health import HealthConfig
from edged.i18n import _
from edged.rules.health import CameraView, compliance
from storage.states.cameras import RECORDING

# Paths the common vendors serve their main stream on, tried in this order when a camera
# answers no ONVIF (design/0077). The query strings are part of the path for Dahua.
VENDOR_PATHS = (
    ("Hikvision", "/Streaming/Channels/101"),
    ("Dahua, Amcrest", "/cam/realmonitor?channel=1&subtype=0"),
    ("Axis", "/axis-media/media.amp"),
    ("Uniview", "/unicast/c1/s0/live"),
    ("Hanwha", "/profile1/media.smp"),
    ("Reolink", "/h264Preview_01_main"),
    ("TP-Link, generic", "/stream1"),  # i18n: vendor names, not prose
    ("Vivotek", "/live.sdp"),
    ("generic", "/live"),
    ("generic", "/h264"),
    ("generic", "/onvif1"),
)


def bare_url(url: str) -> str:
    """The URL without user or password (what is printed, logged and written in the config)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_user(url: str, user: str | None, placeholder: str = "PASSWORD") -> str:
    """The URL as the secrets file should hold it, with a placeholder for the password."""
    if not user:
        return bare_url(url)
    parts = urlsplit(bare_url(url))
    return urlunsplit((parts.scheme, f"{user}:{placeholder}@{parts.netloc}", parts.path, parts.query, parts.fragment))


def camera_id(result: dict[str, Any], given: str | None) -> str:
    if given:
        return given
    dev = result.get("device") or {}
    base = dev.get("serial") or dev.get("model") or urlsplit((result.get("stream") or {}).get("url", "")).hostname \
        or "camera"
    return re.sub(r"[^a-z0-9-]+", "-", str(base).lower()).strip("-")[:40] or "camera"


def choose_profile(profiles: list[dict[str, Any]], wanted: str | None) -> dict[str, Any] | None:
    """The named profile (token or name), else the largest picture: the main stream."""
    if not profiles:
        return None
    if wanted:
        for p in profiles:
            if wanted in (p["token"], p["name"]):
                return p
        return None
    return max(profiles, key=lambda p: ((p.get("width") or 0) * (p.get("height") or 0), p.get("fps") or 0))


def verdict(result: dict[str, Any], health: HealthConfig, audio_required: bool, local_minute: int) -> tuple[str, list[str]]:
    """The site's quality floor (R2) on what the probe saw: the stream read (else the chosen
    profile's declaration) and the camera's clock. The same rule the health monitor applies."""
    s = result.get("stream")
    p = result.get("chosen") or {}
    stats: dict[str, Any] = {
        "width": (s or p).get("width") or 0, "height": (s or p).get("height") or 0,
        "fps": (s or p).get("fps") or 0.0,
        "audio_packets": 1 if (s or p).get("audio") else 0,
    }
    if not s and not p:
        return "unknown", [_("nothing was read from the camera")]
    clock = result.get("clock")
    if clock is not None and clock.get("offset_s") is not None:
        stats["clock_skew_us"] = int(clock["offset_s"] * 1e6)
    view = CameraView(id="probe", enabled=True, audio_required=audio_required, state=RECORDING, stats=stats,
                      image=None, similarity=None)
    verdict, reasons = compliance(replace(view), health, local_minute)
    return verdict, list(reasons)


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def camera_block(result: dict[str, Any], cam_id: str, user: str | None, has_password: bool,
                 audio_required: bool) -> str:
    """A ready `[[cameras]]` table. A URL that needs a password is not in it: the secrets file
    holds it (design/0018), and the block says what to write there."""
    s = result.get("stream") or {}
    url = s.get("url") or (result.get("chosen") or {}).get("uri")
    dev = result.get("device") or {}
    name = " ".join(x for x in (dev.get("manufacturer"), dev.get("model")) if x) or cam_id
    lines = ["[[cameras]]", f"id = {_toml(cam_id)}", f"name = {_toml(name)}"]
    if url and has_password:
        lines += [_("# the URL with its password goes in the secrets file ([secrets] file, root's alone), under its "
                    "[cameras]:"), f"#   {cam_id} = {_toml(with_user(url, user))}"]
    elif url:
        lines.append(f"url = {_toml(with_user(url, user))}")
    if s.get("transport"):
        lines.append(f"transport = {_toml(s['transport'])}")
    lines.append(f"audio_required = {_toml(audio_required)}")
    if (result.get("edge_recording") or {}).get("found"):
        lines.append("edge_recording = true  # " + _("gaps are backfilled from the camera's own recording"))
    if dev.get("serial"):
        lines.append(f"asset_number = {_toml('')}  # " + _("serial {serial}").format(serial=dev["serial"]))
    return "\n".join(lines)


def _offset_words(clock: dict[str, Any] | None, tolerance_us: int) -> str:
    if not clock or clock.get("offset_s") is None:
        return _("unknown (no ONVIF)")
    off = clock["offset_s"]
    way = _("ahead of") if off > 0 else _("behind")
    words = _("{s:.1f} s {way} this box").format(s=abs(off), way=way)
    ntp = clock.get("ntp")
    if ntp is not None:
        words += ", " + (_("set by NTP") if ntp else _("set by hand (not NTP)"))
    if tolerance_us and abs(off) * 1e6 > tolerance_us:
        words += "; " + _("TOO FAR (tolerance {t:g} s): set the camera to NTP").format(t=tolerance_us / 1e6)
    return words


def render(result: dict[str, Any], health: HealthConfig) -> str:
    out: list[str] = []
    dev = result.get("device")
    if dev:
        out += [field(_("camera"), f"{dev.get('manufacturer') or '?'} {dev.get('model') or '?'}", 12),
                field(_("firmware"), dev.get("firmware") or "-", 12),
                field(_("serial"), dev.get("serial") or "-", 12),
                field(_("MAC"), dev.get("mac") or "-", 12),
                field(_("clock"), _offset_words(result.get("clock"), health.clock_tolerance_us), 12)]
        edge = result.get("edge_recording")
        if edge is not None:  # Profile G (design/0106): gaps can be backfilled from it
            out.append(field(_("edge recording"), _("yes: {start} to {end}").format(
                start=fmt_time(edge["from_us"]), end=fmt_time(edge["until_us"])) if edge["found"] else
                _("no ({why})").format(why=edge["why"]), 12))
    elif result.get("onvif_error"):
        out.append(field(_("ONVIF"), _("no answer ({why}): tried RTSP directly").format(why=result["onvif_error"]), 12))
    if result.get("profiles"):
        out += ["", _("profiles:"), table(
            [_("TOKEN"), _("NAME"), _("CODEC"), _("RES"), _("FPS"), _("BITRATE"), _("GOP"), _("AUDIO"), _("RTSP URI")],
            [[p["token"], p["name"], p["codec"] or "-", f"{p['width']}x{p['height']}" if p.get("width") else "-",
              p.get("fps") or "-", f"{p['bitrate_kbps']} kb/s" if p.get("bitrate_kbps") else "-",
              p.get("gov") or "-", p.get("audio") or "-", p.get("uri") or "-"] for p in result["profiles"]])]
    if result.get("tried"):
        out += ["", _("RTSP paths tried:"), table([_("URL"), _("ANSWER")],
                                                  [[t["url"], t["answer"]] for t in result["tried"]])]
    s = result.get("stream")
    out.append("")
    if s:
        out += [_("5-second read of {url}:").format(url=s["url"]), "  " + _(
            "{codec} {w}x{h}, {fps:.1f} fps measured, keyframe every {gop} frames ({gops:.1f} s), {kbps:.0f} kb/s, "
            "audio {audio}, over {transport}").format(
            codec=s["codec"], w=s["width"], h=s["height"], fps=s["fps"], gop=s["gop_frames"] or "?",
            gops=s["gop_s"] or 0.0, kbps=s["bitrate_kbps"], audio=s["audio"] or _("none"),
            transport=s["transport"].upper())]
    else:
        out.append(_("no stream could be read: {why}").format(why=result.get("stream_error") or _("no URL answered")))
    v, reasons = result["verdict"]
    out += ["", field(_("floor"), {"ok": _("meets the site's quality floor (R2)"),
                                   "fail": _("BELOW the site's quality floor (R2)")}.get(v, v), 12)
            + ("  " + _("(from {source})").format(source=result["floor_from"]) if result.get("floor_from") else "")]
    out += [f"  - {r}" for r in reasons]
    if result.get("block"):
        out += ["", _("add to the config (edged.toml):"), "", result["block"]]
    return "\n".join(out)
