"""The custodian's marks at the desk as text (edged/viewer/desk/marks.py; design/0279), by table:
what the page's script writes and a custodian types, read into what `redact.run` takes."""

from __future__ import annotations

import pytest

from edged.viewer.desk import marks


@pytest.mark.parametrize("text, hide, need, want_marks, want_hide", [
    ("0 10,20,30,40", "", True, [{"t": 0.0, "box": [10, 20, 30, 40]}], []),
    ("4.5 -\n0 1,2,3,4\n\n2.25 5, 6, 7, 8", "", True,    # in any order, blank lines skipped: sorted by time
     [{"t": 0.0, "box": [1, 2, 3, 4]}, {"t": 2.25, "box": [5, 6, 7, 8]}, {"t": 4.5, "box": None}], []),
    ("0 1,2,3,4", "1.2-3 80,60,64,64\n 5 - 4.5 1,1,2,2 ", True, [{"t": 0.0, "box": [1, 2, 3, 4]}],
     [[1.2, 3.0, [80, 60, 64, 64]], [5.0, 4.5, [1, 1, 2, 2]]]),
    ("", "0-1 1,1,2,2", False, [], [[0.0, 1.0, [1, 1, 2, 2]]]),   # faces hidden: no mark needed
])
def test_marks_read(text, hide, need, want_marks, want_hide):
    got = marks.read(text, hide, need_mark=need)
    assert (got.error, got.marks, got.hide) == ("", want_marks, want_hide)


@pytest.mark.parametrize("text, hide, need", [
    ("", "", True),                         # everything hidden: the applicant marked at least once
    ("3 -", "", True),                      # ... with a box
    ("0 1,2,3", "", True),                  # three numbers
    ("0 1,2,0,4", "", True),                # an empty box
    ("a 1,2,3,4", "", True),
    ("1 1,2,3,4\n1.0 5,6,7,8", "", True),   # two marks at one moment
    ("0 1,2,3,4", "2 1,1,2,2", True),       # a hidden box needs from-to
    ("0 1,2,3,4", "1-2 -", True),
])
def test_marks_refused(text, hide, need):
    got = marks.read(text, hide, need_mark=need)
    assert got.error and got.marks == [] and got.hide == []


@pytest.mark.parametrize("text, hide", [
    ("0 10,20,30,40\n2.25 5,6,7,8\n4.5 -", "1.2-3 80,60,64,64\n5-4.5 1,1,2,2"),
    ("0.05 1,2,3,4", ""),
])
def test_the_marks_asked_before_read_back_as_typed(text, hide):
    """A copy gone on with after a restart offers its marks again (design/0279): the same lines."""
    got = marks.read(text, hide)
    assert marks.text_of(got.marks, got.hide) == (text, hide)


def test_marks_by_frame_have_no_second_to_show():
    assert marks.text_of([[0, [1, 2, 3, 4]], {"t": 1.0, "box": [1, 2, 3, 4]}], []) == ("1 1,2,3,4", "")
