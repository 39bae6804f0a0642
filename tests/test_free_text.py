"""Free text under the names rule's spirit (issue 87 item 4, T30, design/0383): any script, nothing that
does not print, a length bound; printed escaped wherever printed, CJK as itself. Pure."""

from __future__ import annotations

import pytest

from edged.cli.display import table
from storage import free_text
from storage.free_text import BadText, check, printed, quoted, shown

FORGED = "PC Lin\n9  2026-01-01 00:00:00  admin  bwc-99"


@pytest.mark.parametrize("text, why", [(FORGED, "\\n"), ("PC \u202eniL", "\\u202e"), ("a\u200bb", "\\u200b"),
                                       ("x\x00", "\\x00"), ("tab\there", "\\t"), ("L" * 201, "201 characters"),
                                       ("   ", "empty"), ("line\u2028sep", "\\u2028")])
def test_what_does_not_print_or_is_too_long_is_refused_saying_why(text, why):
    with pytest.raises(BadText, match=why.replace("\\", "\\\\")):
        check(text)


def test_a_name_in_any_script_is_taken_as_it_is():
    for text in ("officer Lin", "林警員 (第二分局)", "José Müller", "L" * free_text.TEXT_MAX):
        assert check(text) == text and printed(text) == text


def test_printed_escapes_what_does_not_print_and_keeps_cjk():
    assert printed(FORGED) == "PC Lin\\n9  2026-01-01 00:00:00  admin  bwc-99"
    assert printed("錄影\u202e.mp4") == "錄影\\u202e.mp4"
    assert quoted('錄影 "1".mp4') == '"錄影 \\"1\\".mp4"' and quoted("x" * 100).endswith('x..."')
    assert shown("錄影.mp4") == "錄影.mp4" and shown("bwc.mp4") == "bwc.mp4" and shown("a\nb") == '"a\\nb"'


@pytest.mark.parametrize("sent, kept", [
    ("0001.MP4", "0001.MP4"), ("/media/usb/DCIM/錄影.mp4", "錄影.mp4"), ("C:\\DCIM\\100GOPRO\\GX010001.MP4", "GX010001.MP4"),
    ("PC\u202e4pm.exe", "PC\\u202e4pm.exe"), ("a\nb.mp4", "a\\nb.mp4"), ("x" * 300, "x" * 200),
    ("", None), ("..", None), ("dir/", None), (None, None)])
def test_a_devices_file_name_is_kept_as_its_last_part_never_refused(sent, kept):
    """design/0403: the name a device gave its file, kept on the intake; escaped where it does not print."""
    assert free_text.file_name(sent) == kept


def test_an_edgectl_table_never_prints_a_stored_line_break_as_a_row():
    """A row stored before the rule (or by any other way in) cannot forge a row of the register."""
    text = table(["INTAKE", "FILMED BY"], [(8, FORGED), (7, "林警員")])
    assert text.splitlines() == ["INTAKE  FILMED BY", "8       PC Lin\\n9  2026-01-01 00:00:00  admin  bwc-99",
                                 "7       林警員"]
