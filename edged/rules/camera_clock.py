"""A camera's clock read over ONVIF (design/0085). Pure: no I/O.

GetSystemDateAndTime needs no login (ONVIF Core, pre-auth), so edged asks every camera it
records that speaks ONVIF, at start and daily, and judges `clock_drift` by it where the camera
sends no RTCP sender reports (its RTP clock then says nothing of its wall clock).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timezone
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

SECOND_US = 1_000_000
DEFAULT_PORT = 80
# How long a reading stands for the camera's clock: read daily, so two days is one missed reading.
FRESH_US = 2 * 86_400 * SECOND_US

REQUEST = ('<?xml version="1.0" encoding="UTF-8"?>'
           '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
           '<s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body>'
           '</s:Envelope>')
DEVICE_PATH = "/onvif/device_service"  # ONVIF Core: the device service's well-known address


@dataclass(frozen=True, slots=True)
class Reading:
    """One answer: the camera's clock minus the host's (us; + the camera is ahead), whether it
    says it uses NTP, and when it was read (host UTC us)."""

    offset_us: int
    at_us: int
    ntp: bool | None = None
    mono_us: int | None = None  # the host's monotonic clock at `at_us`: projects it past a host step (design/0095)
    # the NTP servers it named over ONVIF GetNTP (with their addresses), None: it said nothing (design/0126)
    ntp_servers: frozenset[str] | None = None


def endpoint(onvif: str | bool | None, url: str) -> tuple[str, int] | None:
    """Where to ask: `onvif = "host:port"` as given, false: nowhere, unset or true: the RTSP
    URL's host on port 80 (None for a URL without a host: a synthetic source, a file)."""
    if onvif is False:
        return None
    if isinstance(onvif, str) and onvif:
        host, _, port = onvif.rpartition(":")
        if not host:
            return onvif, DEFAULT_PORT
        return host.strip("[]"), int(port)
    url_host = urlsplit(url).hostname
    return (url_host, DEFAULT_PORT) if url_host else None


def parse_answer(body: bytes) -> tuple[datetime, bool | None]:
    """The camera's UTC time (whole seconds) and its DateTimeType from a GetSystemDateAndTime
    answer; ValueError when the answer does not hold them."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None  # i18n: the journal's
    found: dict[str, str] = {}
    kind = None
    for el in root.iter():
        name = el.tag.rsplit("}", 1)[-1]
        if name == "UTCDateTime":
            for sub in el.iter():
                found[sub.tag.rsplit("}", 1)[-1]] = (sub.text or "").strip()
        elif name == "DateTimeType":
            kind = (el.text or "").strip()
    try:
        when = datetime(int(found["Year"]), int(found["Month"]), int(found["Day"]), int(found["Hour"]),
                        int(found["Minute"]), int(found["Second"]), tzinfo=timezone.utc)
    except (KeyError, ValueError):
        raise ValueError("no UTCDateTime in the answer") from None  # i18n: the journal's
    return when, (kind.upper() == "NTP") if kind else None


def offset_us(camera_utc: datetime, sent_us: int, answered_us: int) -> int:
    """The camera's clock minus the host's: its second ticked somewhere in [its value, +1 s),
    so its middle, against the middle of the request's round trip."""
    camera_us = int(camera_utc.timestamp()) * SECOND_US + SECOND_US // 2
    return camera_us - (sent_us + answered_us) // 2


def skew(rtcp_us: int | None, reading: Reading | None, now_us: int, fresh_us: int = FRESH_US) -> tuple[int | None, str]:
    """The camera's clock skew as judged, and its source: RTCP sender reports when the stream has
    them (measured all the time), else a fresh ONVIF reading, else none ("")."""
    if rtcp_us is not None:
        return rtcp_us, "rtcp"
    if reading is not None and now_us - reading.at_us <= fresh_us:
        return reading.offset_us, "onvif"
    return None, ""


def blamable(skews: dict[str, int], tolerances: dict[str, int], host_trusted: bool,
             host_corroborated: bool | None = None) -> dict[str, bool]:
    """Which cameras' clocks may be blamed for `clock_drift` (design/0096), by camera: only a camera
    that disagrees with the other cameras and with a corroborated host clock.

    `skews`: each recording camera's clock minus the host's (us); `tolerances`: each camera's own.
    The host is corroborated when a source outside the box agrees with it (`host_corroborated`
    True: the office's signed time, an authenticated time source), or when more of the other
    cameras agree with the host than with this camera. Cameras that agree with each other against
    the host blame nobody: the host is the one off (small NTP steps it did not count, a wrong
    time server). A lone camera is blamed only against a host corroborated from outside. While
    the host clock is untrusted (just stepped, settling) no camera is blamed."""
    # Counted from sorted lists, not by a pass over the others for each camera: at 96 cameras off the host alike
    # (a fleet set to a wrong zone) that pass was 1.2 ms of the daemon's loop at every evaluation, and n squared.
    order = sorted(skews.values())
    near_host = sorted(abs(s) - tolerances[c] for c, s in skews.items() if c in tolerances)
    untolerated = sorted(abs(s) for c, s in skews.items() if c not in tolerances)  # judged by the camera's own
    out: dict[str, bool] = {}
    for cam, skew in skews.items():
        tol = tolerances.get(cam, 0)
        if not host_trusted or not tol or abs(skew) <= tol:
            out[cam] = False
            continue
        # the camera itself is among `order` (|0| <= tol) and not among those near the host (|skew| > tol)
        with_it = bisect_right(order, skew + tol) - bisect_left(order, skew - tol) - 1
        with_host = bisect_right(near_host, 0) + bisect_right(untolerated, tol)
        out[cam] = bool(host_corroborated) or with_host > with_it
    return out


def ntp_names(answer: Any) -> tuple[str, ...]:
    """The NTP servers in a GetNTP answer (tt:NTPInformation, as onvif-zeep-async gives it): the
    manual ones and those from DHCP, each a NetworkHost by its DNS name or address."""
    out: list[str] = []
    for field in ("NTPManual", "NTPFromDHCP"):
        hosts = getattr(answer, field, None) or []
        for h in hosts if isinstance(hosts, list) else [hosts]:
            for attr in ("DNSname", "IPv4Address", "IPv6Address"):
                v = getattr(h, attr, None)
                if isinstance(v, str) and v.strip():
                    out.append(v.strip())
    return tuple(out)
