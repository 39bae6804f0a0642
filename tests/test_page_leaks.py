"""The check the desk walks run on every page (tests/support/leaks.py, issue 42's done-when): it
catches each kind of id or English a person of the site must not meet, and passes the site's
words, numbers, ROC dates, the office's abbreviations and the proper names it is given. Also the
inspection anomalies in the reader's words (edged/rules/anomaly_words.py)."""

from __future__ import annotations

import pytest

from edged.i18n import speaking
from edged.rules import anomaly_words
from edged.rules.inspections import anomalies
from tests.support.leaks import leaks

CAMERAS = {"1至4號櫃檯", "大廳"}


@pytest.mark.parametrize("text, caught", [
    ("核章：黃志明（主任）", []),                                                 # the office's words
    ("須由 chou 核章，不是 chief", ["chief", "chou"]),                            # login names for people
    ("已核准（林書記 115/11/24 14:30）", []),                                      # a ROC date and time
    ("本處 [policy.units] 所列的單位", ["policy.units"]),                       # a config key
    ("僅允許 approver 設定（placed_by）", ["approver", "placed_by"]),             # a role key and a config key
    ("拒絕：hold.add 需要權限", ["hold.add"]),                                    # an operation key
    ("request.file 的申請", ["request.file"]),
    ("citizen 申請在本場所僅能view，不得copy", ["citizen", "copy", "view"]),     # kind and mode keys
    ("custodian 或 legal 保存", ["custodian", "legal"]),
    ("請填寫來函文號（--letter）或單位（--org）", ["letter", "org"]),              # command-line flags
    ("請以 edgectl hold approve 核准", ["approve", "edgectl", "hold"]),           # the tool's name and words
    ("密碼未變更：a password must not contain the account name",                 # an English sentence
     ["account", "contain", "must", "name", "not", "password", "the"]),
    ("匯出 12.5 MB，SHA-256 雜湊；列印於 A4（Ctrl+P）", []),                     # the office's abbreviations
    ("1至4號櫃檯 (counter-1)", ["counter-1"]),                                   # a camera's id beside its name
    ("1至4號櫃檯、大廳", []),                                                     # cameras by their names
    ("鍵：PageUp、PageDown 換頁，Enter 單獨顯示", []),                            # the keys' own labels
    ("115/11/24 14:30:05", []),
])
def test_each_kind_of_leak_is_caught(text, caught):
    assert leaks(text, CAMERAS) == caught


def test_what_a_site_gives_passes_only_where_given():
    assert leaks("申請人 Lin Mei", {"Lin", "Mei"}) == []
    assert leaks("申請人 Lin Mei") == ["Lin", "Mei"]


def test_inspection_anomalies_in_the_readers_words():
    items = {"picture": {"ok": False, "detail": "picture frozen (0.1% of it changed between samples); "
                                                "no colour in daylight hours (saturation 2.0)"},
             "audio": {"ok": False, "detail": "no audio arrives from a camera marked audio_required"},
             "quality": {"ok": False, "detail": "resolution 320x240 (0.08 MP) is below the floor 1280x720 and 1 "
                                                "megapixel"},
             "recording": {"ok": True, "detail": "segments being written"}}
    with speaking("zh-TW"):
        said, unknown = anomaly_words.words(anomalies(items))
        assert not unknown and leaks(said) == [], said
        assert "畫面凍結（兩次取樣間僅 0.1% 變動）" in said and "320×240" in said and "聲音" in said, said
        # a camera's own error has no words: the item is said abnormal, the English left to the technician
        said, unknown = anomaly_words.words(anomalies({"recording": {"ok": False, "detail": "not recording: "
                                                                           "[Errno 111] Connection refused"}}))
        assert unknown and leaks(said) == [] and "異常" in said, said
    assert anomaly_words.words("") == ("", False)
