"""Time sources that are independent (issue 51 item 3, design/0126), as tables: which cameras
count toward corroborating the host clock (storage/time/independence.py), what the box's time
daemons say it follows, cameras never vouching, only holding destruction back
(storage/time/corroboration.py, design/0370), and the office's signed time heard right after junk
(mqtt/office_time.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edged.rules.camera_clock import ntp_names
from mqtt import office_time
from storage.time import corroboration as co
from storage.time import independence as ind

S = 1_000_000
DAY = 86_400 * S
BOX = {"192.0.2.123", "ntp.site.lan", "127.0.0.1", "::1", "localhost"}


@pytest.mark.parametrize("camera, box, counts, why", [
    (["203.0.113.5"], BOX, True, ind.OWN),                       # its own server: independent
    (["192.0.2.123"], BOX, False, ind.FOLLOWS),                  # the box's server
    (["NTP.Site.LAN."], BOX, False, ind.FOLLOWS),                # the same name, written otherwise
    (["192.0.2.123:123"], BOX, False, ind.FOLLOWS),
    (["203.0.113.5", "192.0.2.123"], BOX, False, ind.FOLLOWS),   # one of its servers is the box's
    (["127.0.0.1"], BOX, False, ind.FOLLOWS),                    # the box itself (camera_clocks.follows)
    ([], BOX, False, ind.SILENT),                                # names no server
    (None, BOX, False, ind.SILENT),                              # no ONVIF, GetNTP refused
    (["  "], BOX, False, ind.SILENT),
    (["203.0.113.5"], None, False, ind.UNKNOWN_BOX),             # what the box follows is unknown
    (["203.0.113.5"], set(), True, ind.OWN),                     # the box follows no server at all
])
def test_a_camera_counts_only_when_it_names_servers_none_of_them_the_boxs(camera, box, counts, why):
    assert ind.independent(camera, box) == (counts, why)


def test_what_the_boxs_time_daemons_say_it_follows():
    chrony = ("^,*,192.0.2.123,2,6,377,13,-0.000012,-0.000013,0.000345\n"
              "^,-,2001:db8::7,2,6,377,13,0.1,0.1,0.1\n"
              "#,-,PPS0,0,4,377,13,0,0,0\n"          # a reference clock on the box: not a server
              "=,+,10.0.0.9,3,6,377,13,0,0,0\n")
    assert ind.chrony_servers(chrony) == {"192.0.2.123", "2001:db8::7", "10.0.0.9"}
    timesync = ("LinkNTPServers=10.1.1.1\nSystemNTPServers=ntp.site.lan time.example\nFallbackNTPServers=\n"
                "ServerName=ntp.site.lan\nServerAddress=192.0.2.123\nRootDistanceMaxUSec=5s\n")
    assert ind.timesyncd_servers(timesync) == {"10.1.1.1", "ntp.site.lan", "time.example", "192.0.2.123"}
    assert ind.timesyncd_servers("") == set()


def test_a_getntp_answer_names_its_manual_and_dhcp_servers():
    host = lambda **kw: SimpleNamespace(**{"DNSname": None, "IPv4Address": None, "IPv6Address": None, **kw})  # noqa: E731
    answer = SimpleNamespace(FromDHCP=True, NTPManual=[host(IPv4Address="192.0.2.123"), host(DNSname="ntp.x")],
                             NTPFromDHCP=[host(IPv6Address="2001:db8::1")])
    assert ntp_names(answer) == ("192.0.2.123", "ntp.x", "2001:db8::1")
    assert ntp_names(SimpleNamespace(FromDHCP=False, NTPManual=None, NTPFromDHCP=None)) == ()


def cams(offset: int, independent: bool = True, n: int = 2) -> list[co.Reading]:
    return [co.Reading(co.CAMERA, f"c{i}", offset, 0, independent) for i in range(n)]


@pytest.mark.parametrize("readings, state, source", [
    (cams(0), co.UNHEARD, co.CAMERA),                         # independent cameras agree: not authenticated (0370)
    (cams(0, independent=False), co.UNHEARD, ""),              # they follow the box: they prove nothing
    (cams(-2 * 365 * DAY), co.DISAGREES, co.CAMERA),           # cameras saying the host is wrong stop age
    (cams(0) + [co.Reading(co.OFFICE, "office", 0)], co.CORROBORATED, co.OFFICE),
    (cams(0) + [co.Reading(co.NTS, "chrony", 0)], co.CORROBORATED, co.NTS),
])
def test_cameras_may_hold_destruction_back_but_never_vouch(readings, state, source):
    v = co.judge(readings, co.TOLERANCE_US)
    assert (v.state, v.source) == (state, source), v
    assert (co.vouched(v, 10 * DAY) is not None) == (state == co.CORROBORATED)


def test_the_words_say_the_cameras_follow_the_box_and_never_vouch():
    assert "2 of them following the box's own time source" in co.judge(cams(0, independent=False)).why
    assert "never move judged time forward" in co.judge(cams(0)).why


def test_an_unsigned_time_just_before_a_genuine_one_does_not_hide_it():
    key = Ed25519PrivateKey.generate()
    heard: list[int] = []
    ear = office_time.Listener(key.public_key(), "s/n", heard.append)
    ear.hear("time", b'{"cmd": "time", "to": "s/n", "at_us": 1, "sig": "AAAA"}')
    ear.hear("time", office_time.time_message(Ed25519PrivateKey.generate().sign, "s/n", 7))  # another key's
    ear.hear("time", office_time.time_message(key.sign, "s/n", 42))
    ear.hear("time", office_time.time_message(key.sign, "s/n", 43))  # a second genuine in the same second: heard
    assert heard == [42, 43]


def test_a_flood_of_junk_never_shuts_out_a_time_that_verifies_and_costs_a_check_per_new_payload(monkeypatch):
    """Issue 73 item 6: on main, 64 failed messages in a second shut out the rest of that second
    unchecked, the genuine one included. Now every message that verifies is heard; junk costs one
    signature check per new payload (a hash for one seen before), and none for a malformed one."""
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    checks: list[int] = []
    real = office_time._verifies
    monkeypatch.setattr(office_time, "_verifies", lambda d, k: checks.append(1) or real(d, k))
    heard: list[int] = []
    ear = office_time.Listener(key.public_key(), "s/n", heard.append)
    junk = [office_time.time_message(stranger.sign, "s/n", 1_000 + i) for i in range(300)]
    for second in range(5):  # 300 a second, the same second for all of them here
        for m in junk:
            ear.hear("time", m)
        for _ in range(100):
            ear.hear("time", b'{"cmd": "time", "to": "s/n", "at_us": 1, "sig": "AAAA"}')  # malformed: no check
        ear.hear("time", office_time.time_message(key.sign, "s/n", 10_000 + second))
    assert heard == [10_000, 10_001, 10_002, 10_003, 10_004]
    assert len(checks) == 300 + 5, "one check per new payload, none for one seen before or a malformed one"
