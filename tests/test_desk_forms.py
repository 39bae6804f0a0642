"""The desk's forms in the site's own terms (issue 42 item 4, design/0113): dates typed and shown
in the site's calendar (115/11/24 14:30 or Gregorian, round-tripping), and a half-typed form that
outlives its session: why the session ended, where the login sends the browser back to. The
browser's half (static/desk.js) is walked in tests/test_desk.py."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from edged import people as people_rules
from edged.i18n import speaking
from edged.viewer.desk import kept
from edged.viewer.desk.page import Ctx, Person, date_input
from storage.catalog import open_db
from storage.people import accounts, sessions
from storage.time import rocdate
from storage.time.rocdate import GREGORIAN, ROC

TAIPEI = ZoneInfo("Asia/Taipei")


@pytest.mark.parametrize("typed, day", [
    ("115/11/24", date(2026, 11, 24)),
    ("115/1/5", date(2026, 1, 5)),
    (" 115-11-24 ", date(2026, 11, 24)),
    ("115.11.24", date(2026, 11, 24)),
    ("民國115年11月24日", date(2026, 11, 24)),
    ("民國 99年2月28日", date(2010, 2, 28)),
    ("1/1/1", date(1912, 1, 1)),              # 民國1年
    ("2026-11-24", date(2026, 11, 24)),       # the Gregorian calendar too, always
    ("2026/11/24", date(2026, 11, 24)),
    ("115/02/30", None),                      # no such day
    ("115/13/01", None),
    ("11/24", None),                          # a month and a day: which year?
    ("20261124", None),
    ("", None),
    ("next tuesday", None),
])
def test_a_typed_date_is_read_in_either_calendar(typed, day):
    assert rocdate.parse_date(typed) == day


@pytest.mark.parametrize("typed, moment", [
    ("115/11/24 14:30", datetime(2026, 11, 24, 14, 30)),
    ("115/11/24  9:05", datetime(2026, 11, 24, 9, 5)),
    ("115/11/24 14：30", datetime(2026, 11, 24, 14, 30)),   # a full-width colon from a Chinese IME
    ("2026-11-24 14:30", datetime(2026, 11, 24, 14, 30)),
    ("2026-11-24T14:30", datetime(2026, 11, 24, 14, 30)),    # as a browser's datetime-local sends it
    ("115/11/24", None),                                     # a time is needed here
    ("115/11/24 24:00", None),
    ("115/11/24 14:60", None),
    ("115/11/24 2pm", None),
])
def test_a_typed_moment_needs_its_time(typed, moment):
    assert rocdate.parse_datetime(typed) == moment


@pytest.mark.parametrize("typed, month", [
    ("115/11", (2026, 11)), ("民國115年11月", (2026, 11)), ("2026-11", (2026, 11)), ("115/13", None),
    ("2026-00", None), ("1911-05", None), ("", None)])
def test_a_typed_month(typed, month):
    assert rocdate.parse_month(typed) == month


@pytest.mark.parametrize("cal, text", [
    (ROC, "115/11/24 14:30"), (ROC, "115/01/05 00:00"), (ROC, "1/01/01 08:00"), (ROC, "89/12/31 23:59"),
    (GREGORIAN, "2026-11-24 14:30"), (GREGORIAN, "1999-12-31 23:59")])
def test_what_was_typed_is_what_is_shown(cal, text):
    """The round trip: the field shows a moment as its calendar writes it, and reads it back."""
    moment = rocdate.parse_datetime(text)
    assert moment is not None and rocdate.datetime_text(moment, cal) == text
    assert rocdate.date_text(moment.date(), cal) == text.split()[0]
    assert rocdate.parse_date(text.split()[0]) == moment.date()
    month = text.rsplit("/" if cal == ROC else "-", 1)[0]
    assert rocdate.month_text(moment.year, moment.month, cal) == month and rocdate.parse_month(month)[1] == moment.month


def test_the_tables_roc_date_is_the_forms_one():
    """Declared once: a date field writes what the printed forms' tables write (roc_date_short)."""
    d = date(2026, 11, 24)
    assert rocdate.date_text(d, ROC) == rocdate.roc_date_short(d) == "115/11/24"


def ctx(lang: str) -> Ctx:
    return Ctx(caller=Person(account="ann", roles=("viewer",)), lang=lang, site="x", tz=TAIPEI,
               now_us=1_795_000_000_000_000, path="/desk/")


def test_the_desk_shows_and_reads_moments_in_the_persons_calendar():
    us = int(datetime(2026, 11, 24, 14, 30, tzinfo=TAIPEI).timestamp() * 1_000_000)
    zh, en = ctx("zh-TW"), ctx("en")
    assert zh.input_time(us) == "115/11/24 14:30" and en.input_time(us) == "2026-11-24 14:30"
    for c in (zh, en):   # either calendar is read, whichever the page shows
        assert c.parse_time("115/11/24 14:30") == c.parse_time("2026-11-24 14:30") == us
        assert c.parse_time(c.input_time(us)) == us
        assert c.parse_time("115/11/24") is None
    assert zh.input_month(2026, 11) == "115/11" and zh.input_date(date(2026, 11, 24)) == "115/11/24"
    with speaking("zh-TW"):
        field = date_input(zh, "from", "115/11/24 14:30", required=True)
    assert 'data-calendar="roc"' in field and 'placeholder="115/11/24 14:30"' in field and 'type="text"' in field
    assert 'data-time="0"' in date_input(en, "day", time=False) and 'placeholder="2026-11-24"' in date_input(
        en, "day", time=False)


# a session that ends while a form is typed ------------------------------------------------------
S, T0 = 1_000_000, 1_795_000_000_000_000
POLICY = accounts.Policy(session_ttl_us=15 * 60 * S, lockout_after=2, lockout_for_us=600 * S, min_password=10)


def test_why_a_session_ended_is_kept(tmp_path):
    db = open_db(tmp_path / "catalog.db")
    people_rules.init_admin(db, "boss", "the-admin-password", os_user="root", now_us=T0)
    people_rules.add_account(db, "vic", "viewer-password", ["viewer"], None, by="boss", reason="app", now_us=T0)

    def login() -> str:
        return str(sessions.login(db, "vic", "viewer-password", now_us=T0, via="viewer", policy=POLICY)["token"])
    live, idle, out, gone = login(), login(), login(), login()
    assert sessions.end_of(db, live, now_us=T0 + S) is None
    assert sessions.end_of(db, live, now_us=T0 + 15 * 60 * S) == sessions.EXPIRED
    sessions.logout(db, idle, now_us=T0 + S, why=sessions.IDLE)
    sessions.logout(db, out, now_us=T0 + S)
    assert sessions.end_of(db, idle, now_us=T0 + 2 * S) == sessions.IDLE
    assert sessions.end_of(db, out, now_us=T0 + 2 * S) == sessions.LOGGED_OUT
    assert sessions.end_of(db, "never-issued", now_us=T0) == sessions.UNKNOWN
    accounts.change_password(db, "vic", "a-new-password-1", by="boss", reason="forgotten", now_us=T0 + 3 * S)
    assert sessions.end_of(db, gone, now_us=T0 + 4 * S) == sessions.PASSWORD
    assert sessions.end_of(db, idle, now_us=T0 + 4 * S) == sessions.IDLE, "an ended session keeps its reason"
    locked = str(sessions.login(db, "vic", "a-new-password-1", now_us=T0 + 5 * S, via="test", policy=POLICY)["token"])
    for _ in range(2):
        sessions.wrong_current_password(db, "vic", via="test", now_us=T0 + 6 * S, policy=POLICY)
    assert sessions.end_of(db, locked, now_us=T0 + 7 * S) == sessions.LOCKED
    accounts.revoke_account(db, "vic", by="boss", reason="left", now_us=T0 + 8 * S)
    assert sessions.end_of(db, idle, now_us=T0 + 9 * S) == sessions.REVOKED
    assert set(kept.WHY) == {*sessions.ENDS, kept.NO_SESSION}, "every reason has its words"


@pytest.mark.parametrize("method, path_qs, referer, back", [
    ("GET", "/desk/holds/new?camera=a", None, "/desk/holds/new?camera=a"),
    ("GET", "/desk/requests/new?ended=idle", None, "/desk/requests/new"),         # no second round's reason
    ("POST", "/desk/requests/new", "https://box:8443/desk/requests/new?camera=a", "/desk/requests/new?camera=a"),
    ("POST", "/desk/requests/7/decide", "https://box:8443/desk/requests/7", "/desk/requests/7"),
    ("POST", "/desk/requests/7/decide", None, "/desk/requests/7/decide"),
    ("GET", "/desk/login", None, None),
    ("GET", "/grid", None, None),                                                   # not a desk page
    ("POST", "/desk/holds/new", "https://box//evil.example/desk/", None),
])
def test_the_login_sends_the_browser_back_to_the_form(method, path_qs, referer, back):
    assert kept.back_of(method, path_qs, referer) == back


def test_the_login_page_says_why_and_comes_back_with_it():
    url = kept.login_url("/desk/holds/new", sessions.IDLE)
    assert url == "/desk/login?back=%2Fdesk%2Fholds%2Fnew&ended=idle"
    assert kept.after_login("/desk/holds/new", "idle") == "/desk/holds/new?ended=idle"
    assert kept.after_login("/desk/holds/1?x=2", "made-up") == "/desk/holds/1?x=2"
    assert kept.after_login("https://elsewhere.example/", "idle") is None
    assert kept.after_login("/desk/logout", "idle") is None and kept.after_login(None, None) is None
    with speaking("zh-TW"):
        assert "閒置" in kept.login_note(sessions.IDLE) or "閒置" in kept.kept_note(sessions.IDLE)
        assert kept.login_note("made-up") == "" and kept.kept_note(None) == ""
        assert kept.login_note(kept.NO_SESSION) == "", "a browser with no session may never have had one"
        assert "登出" in kept.kept_note(kept.NO_SESSION)
