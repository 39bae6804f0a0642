"""chrony's NTS lines (storage/time/nts_conf.py, design/0397): what the guide shows is what the
module makes (and what tests/test_nts_chrony.py runs on the real chronyd), and nothing a config
value holds can add a line or an option of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.time.nts_conf import Server, box_conf, office_conf

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "retention.md"


def _indented(text: str) -> set[str]:
    return {line[4:] for line in text.splitlines() if line.startswith("    ")}


def test_the_guide_shows_the_lines_the_module_makes():
    shown = _indented(GUIDE.read_text(encoding="utf-8"))
    box = box_conf([Server("office.example")], "/etc/chrony/office-nts.crt")
    office = office_conf("/etc/chrony/office-nts.crt", "/etc/chrony/office-nts.key", ["10.20.0.0/16"])
    for line in (box + office).splitlines():
        assert line in shown, f"docs/guide/retention.md does not show {line!r}"


def test_the_lines():
    assert box_conf([Server("office.example")]).splitlines()[1:] == [
        "authselectmode require", "server office.example iburst nts"]
    assert box_conf([Server("office.example", 4461, 1123)], poll=(0, 2)).splitlines()[2] == \
        "server office.example iburst nts port 1123 ntsport 4461 minpoll 0 maxpoll 2"
    assert office_conf("/etc/x.crt", "/etc/x.key", ["10.0.0.0/8"], local_stratum=1).splitlines()[1:] == [
        "ntsservercert /etc/x.crt", "ntsserverkey /etc/x.key", "allow 10.0.0.0/8", "local stratum 1"]


@pytest.mark.parametrize("host", ["office.example nts maxpoll 1", "a\nserver evil", "", "-x", "office."])
def test_a_server_that_would_add_words_is_refused(host):
    with pytest.raises(ValueError):
        box_conf([Server(host)])


def test_what_else_is_refused():
    with pytest.raises(ValueError):
        box_conf([])
    with pytest.raises(ValueError):
        box_conf([Server("office.example")], "relative/cert.pem")
    with pytest.raises(ValueError):
        box_conf([Server("office.example", 0)])
    with pytest.raises(ValueError):
        office_conf("/etc/x.crt", "/etc/x key", ["10.0.0.0/8"])
    with pytest.raises(ValueError):
        office_conf("/etc/x.crt", "/etc/x.key", [])
    with pytest.raises(ValueError):
        office_conf("/etc/x.crt", "/etc/x.key", ["any; allow"])
