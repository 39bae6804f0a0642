"""The pure core of the camera's clock over ONVIF (edged/rules/camera_clock.py, design/0085)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from edged.config import ConfigError, parse_config
from edged.rules import camera_clock as cc

pytestmark = pytest.mark.pure

ANSWER = b"""<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
 xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>
<tt:DateTimeType>NTP</tt:DateTimeType><tt:UTCDateTime><tt:Time><tt:Hour>10</tt:Hour><tt:Minute>2</tt:Minute>
<tt:Second>3</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year><tt:Month>11</tt:Month><tt:Day>23</tt:Day></tt:Date>
</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></env:Body></env:Envelope>"""


def test_the_answer_is_read_and_the_offset_taken_at_the_middle_of_the_round_trip():
    when, ntp = cc.parse_answer(ANSWER)
    assert when == datetime(2026, 11, 23, 10, 2, 3, tzinfo=timezone.utc) and ntp is True
    host = int(when.timestamp()) * 1_000_000 - 40_000_000  # the host is 40 s behind the camera
    assert cc.offset_us(when, host, host + 200_000) == 40_000_000 + 500_000 - 100_000
    with pytest.raises(ValueError):
        cc.parse_answer(b"<a/>")
    with pytest.raises(ValueError):
        cc.parse_answer(b"not xml")


@pytest.mark.parametrize(("onvif", "url", "where"), [
    (None, "rtsp://user:pw@192.0.2.10:554/stream1", ("192.0.2.10", 80)),
    ("192.0.2.11:8080", "rtsp://192.0.2.10/x", ("192.0.2.11", 8080)),
    ("cam.lan", "rtsp://192.0.2.10/x", ("cam.lan", 80)),
    ("[2001:db8::1]:8000", "rtsp://192.0.2.10/x", ("2001:db8::1", 8000)),
    (False, "rtsp://192.0.2.10/x", None),
    (None, "synthetic:?width=1280", None),
])
def test_where_a_camera_is_asked(onvif, url, where):
    assert cc.endpoint(onvif, url) == where


def test_rtcp_first_then_a_fresh_onvif_reading_then_nothing():
    r = cc.Reading(40_000_000, at_us=1_000)
    assert cc.skew(1_000, r, 2_000) == (1_000, "rtcp")
    assert cc.skew(None, r, 2_000) == (40_000_000, "onvif")
    assert cc.skew(None, r, 1_000 + cc.FRESH_US + 1) == (None, "")
    assert cc.skew(None, None, 2_000) == (None, "")


def test_the_config_keys():
    base = {"site": {"id": "s"}, "storage": {"data_dir": "/tmp/x"}}
    cfg = parse_config({**base, "time": {"ntp": False}, "cameras": [
        {"id": "a", "url": "rtsp://h/x", "onvif": "192.0.2.2:8080"}, {"id": "b", "url": "rtsp://h/x", "onvif": False},
        {"id": "c", "url": "rtsp://h/x", "onvif": True}]})
    assert cfg.time.ntp is False and [c.onvif for c in cfg.cameras] == ["192.0.2.2:8080", False, None]
    assert parse_config({**base, "cameras": []}).time.ntp is True
    for bad in ("h:x", ":80", "h:70000"):
        with pytest.raises(ConfigError, match="ONVIF address"):
            parse_config({**base, "cameras": [{"id": "a", "url": "rtsp://h/x", "onvif": bad}]})
