"""The pure core of the camera's clock over ONVIF (edged/rules/camera_clock.py, design/0085)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

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


def _blamable_one_by_one(skews: dict[str, int], tolerances: dict[str, int], host_trusted: bool,
                         host_corroborated: bool | None) -> dict[str, bool]:
    """design/0096's rule as it reads: for each camera a pass over the others (what `blamable` was)."""
    out = {}
    for cam, skew in skews.items():
        tol = tolerances.get(cam, 0)
        if not host_trusted or not tol or abs(skew) <= tol:
            out[cam] = False
            continue
        with_it = sum(1 for c, s in skews.items() if c != cam and abs(s - skew) <= tol)
        with_host = sum(1 for c, s in skews.items() if c != cam and abs(s) <= tolerances.get(c, tol))
        out[cam] = bool(host_corroborated) or with_host > with_it
    return out


_cams = st.sampled_from([f"cam{i}" for i in range(40)])
_skew = st.one_of(st.integers(-3, 3).map(lambda k: k * 1_000_000), st.integers(-5_000_000, 5_000_000))


@settings(max_examples=300, deadline=None)
@given(skews=st.dictionaries(_cams, _skew, max_size=40),
       tolerances=st.dictionaries(_cams, st.sampled_from([0, 500_000, 1_000_000, 2_000_000]), max_size=40),
       host_trusted=st.booleans(), host_corroborated=st.sampled_from([None, False, True]))
def test_blame_counted_from_sorted_skews_is_the_rule_one_camera_at_a_time(skews, tolerances, host_trusted,
                                                                          host_corroborated):
    """Any fleet, any tolerances (some cameras without one, ties at the tolerance's edge): the sorted count
    blames exactly the cameras the one-by-one rule blames."""
    assert cc.blamable(skews, tolerances, host_trusted, host_corroborated) == \
        _blamable_one_by_one(skews, tolerances, host_trusted, host_corroborated)


def test_a_whole_fleet_off_the_host_is_judged_without_a_pass_per_camera():
    """96 cameras all 5 s off the host (a fleet set wrong alike): nobody blamed; one camera 20 s off all the
    others is blamed only against a host corroborated from outside."""
    skews = {f"c{i}": 5_000_000 + 1000 * i for i in range(96)}
    tolerances = dict.fromkeys(skews, 2_000_000)
    assert cc.blamable(skews, tolerances, True) == dict.fromkeys(skews, False)
    skews["odd"], tolerances["odd"] = -20_000_000, 2_000_000  # one camera off all the others: blamed
    assert cc.blamable(skews, tolerances, True)["odd"] is False  # the host agrees with nobody: not corroborated
    assert cc.blamable(skews, tolerances, True, host_corroborated=True)["odd"] is True
