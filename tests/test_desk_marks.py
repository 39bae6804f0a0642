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


def test_every_why_a_copy_can_give_is_said_in_words_in_zh_tw():
    """design/0462: each word the copy's summary can give as why a moment is to check (storage/redact/
    job.py WHYS) is said at the desk in the person's words, zh-TW included; none is shown as its key."""
    from edged.i18n import speaking
    from storage.redact.job import WHYS

    assert set(marks.WHY_WORDS) == set(WHYS)
    with speaking("zh-TW"):
        _said_in_zh_tw(WHYS)


def _said_in_zh_tw(whys):
    said = {w: marks.why_words(w) for w in whys}
    assert all(s != marks.WHY_WORDS[w] and s.isascii() is False for w, s in said.items()), said
    clip = {"to_check": [[1.0, 2.5]], "to_check_why": [[1.0, 2.0, "over"], [2.05, 2.5, "detectors_disagree"]]}
    listed = marks.check_list(clip)
    assert listed == ("1.00-2.00 秒：他人的遮蔽框碰到申請人的臉：申請人的臉可能被遮住一部分<br>"
                      "2.05-2.50 秒：偵測器兩次掃描的結果不一致：可能漏掉一張臉"), listed
    assert marks.check_bar(clip).count('title="') == 2 and "偵測器兩次掃描" in marks.check_bar(clip)
    assert marks.check_list({"to_check": [[1.0, 2.5]]}) == "1.00-2.50 秒"   # a copy made before design/0433
