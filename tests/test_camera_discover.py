"""`edgectl camera discover` (design/0077): a fake ONVIF camera answers WS-Discovery probes; the
verb lists its address, name, hardware and location, and says when it cannot tell whether the
config has it (no daemon)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from edged.cli.discover import host_of, scope_values
from tests.support.daemon import wait_for
from tests.support.onvif_camera import FakeOnvifCamera, Profile


def _multicast_interfaces() -> list:
    from wsdiscovery.util import _getNetworkAddrs

    return _getNetworkAddrs(socket.AF_INET)


def _multicast_loops_back() -> bool:
    """Whether a datagram sent to a multicast group on the first interface comes back to this host
    (a network that drops multicast, as some CI runners' do, cannot run the discovery test)."""
    addrs = _multicast_interfaces()
    if not addrs:
        return False
    group, iface = "239.255.255.250", socket.inet_aton(str(addrs[0]))
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        rx.bind(("", 0))
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + iface)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, iface)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        tx.sendto(b"edged-probe", (group, rx.getsockname()[1]))
        rx.settimeout(2)
        return rx.recv(64) == b"edged-probe"
    except OSError:
        return False
    finally:
        rx.close()
        tx.close()


def test_scopes_and_address():
    vals = scope_values(["onvif://www.onvif.org/name/FV-2040%20gate", "onvif://www.onvif.org/hardware/FV-2040",
                         "onvif://www.onvif.org/location/city/taipei", "http://example.com/other"])
    assert vals == {"name": "FV-2040 gate", "hardware": "FV-2040", "location": "city/taipei"}
    assert host_of(["http://[fe80::1]/onvif/device_service", "http://192.168.1.64/onvif/device_service"]) == \
        "192.168.1.64"


def test_discover_lists_the_fake_camera(tmp_path):
    if not _multicast_loops_back():
        pytest.skip("no IPv4 interface but loopback, or multicast does not come back here: wsdiscovery cannot run")
    with FakeOnvifCamera(profiles=[Profile("p", "main", "rtsp://127.0.0.1:1/main")]) as cam:
        cam.announce(name="FV-2040 gate", location="north gate")
        mine = [f"http://127.0.0.1:{cam.port}/onvif/device_service"]

        def discovered():  # a datagram may be lost: asked again until it answers
            out = subprocess.run([sys.executable, "-m", "edged.cli.edgectl", "--socket", str(tmp_path / "none.sock"),
                                  "camera", "discover", "--json", "--wait", "2"],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            assert "Traceback" not in out.stderr
            return [r for r in json.loads(out.stdout) if r["xaddrs"] == mine]

        rows = wait_for(discovered, 30, "the fake camera's answer to a WS-Discovery probe")
        assert len(rows) == 1
        r = rows[0]
        assert (r["address"], r["name"], r["hardware"], r["location"]) == ("127.0.0.1", "FV-2040 gate", "FV-2040",
                                                                           "north gate")
        assert r["in_config"] is None  # no daemon to ask
        def table():
            out = subprocess.run([sys.executable, "-m", "edged.cli.edgectl", "--socket", str(tmp_path / "none.sock"),
                                  "camera", "discover", "--wait", "2"], capture_output=True, text=True, timeout=60)
            return out.stdout if "FV-2040 gate" in out.stdout else None

        text = wait_for(table, 30, "the fake camera in the table")
        assert "north gate" in text and "edgectl camera probe ADDRESS" in text and "not known" in text
