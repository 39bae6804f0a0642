"""A half-typed form outlives the session (issue 42 item 4, design/0113). The browser keeps what
is typed in a desk form in the tab's sessionStorage (static/desk.js: keyed by account, page and
form; never a password or an ID number) and fills it in again after the next login. Here: the
server's half. When a page finds the session over, it sends the browser to the login page with
the page to come back to and why the session ended; the login page says why, and after the login
the browser goes back, where the form is filled in again under a line that says what happened.

Pure functions over plain data (the reason is storage.people.sessions.end_of's)."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from edged.i18n import N_, _
from storage.people import sessions

# Where a login may send the browser back to: a page of the desk (as the language switch's SAFE_BACK)
BACK = re.compile(r"/desk(/[A-Za-z0-9_\-./]*)?(\?[A-Za-z0-9_\-.=&%+]*)?")
NOT_BACK = ("/desk/login", "/desk/logout", "/desk/lang")
NO_SESSION = "none"   # the browser brought no session at all (logged out in another tab: its cookie went too)
WHY = {
    sessions.LOGGED_OUT: N_("you logged out (here or in another tab of this browser)"),
    sessions.IDLE: N_("nothing was done at the desk for a while, so it ended by itself"),
    sessions.PASSWORD: N_("the account's password was changed, which ends its sessions"),
    sessions.LOCKED: N_("the account was locked after wrong passwords"),
    sessions.REVOKED: N_("the account was revoked"),
    sessions.EXPIRED: N_("a login lasts a set time at this site, and it was up"),
    sessions.UNKNOWN: N_("the desk no longer knew it (the box may have restarted)"),
    NO_SESSION: N_("this browser was logged out (here or in another tab)"),
}


def why_words(code: str) -> str:
    """Why a session ended, in the person's words ("" for a code the desk does not know)."""
    return _(WHY[code]) if code in WHY else ""


def back_of(method: str, path_qs: str, referer: str | None) -> str | None:
    """The page to come back to after the login: the page asked for, or for a form sent, the page
    the form was on (the Referer, same-origin only under the desk's Referrer-Policy); None when
    it is not a page of the desk."""
    back = path_qs
    if method != "GET":
        parts = urlsplit(referer or "")
        back = parts.path + (f"?{parts.query}" if parts.query else "") if parts.path else path_qs
    back = strip_ended(back)
    if not BACK.fullmatch(back) or back.split("?")[0] in NOT_BACK:
        return None
    return back


def strip_ended(path_qs: str) -> str:
    """`path_qs` without an `ended` parameter a previous round trip left on it."""
    path, _sep, query = path_qs.partition("?")
    kept = "&".join(p for p in query.split("&") if p and not p.startswith("ended="))
    return path + (f"?{kept}" if kept else "")


def login_url(back: str | None, why: str | None) -> str:
    """The login page, told where to come back to and why the session ended."""
    query = {k: v for k, v in (("back", back), ("ended", why)) if v}
    return "/desk/login" + (f"?{urlencode(query)}" if query else "")


def after_login(back: str | None, why: str | None) -> str | None:
    """Where a login sends the browser: back to the page (with `ended`, so it shows the kept form's
    line), or None for the home page."""
    if not back or not BACK.fullmatch(back) or back.split("?")[0] in NOT_BACK:
        return None
    if why not in WHY:
        return back
    return back + ("&" if "?" in back else "?") + urlencode({"ended": why})


def login_note(why: str | None) -> str:
    """The login page's line after a session ended (none for a browser that brought no session: it
    may never have had one)."""
    words = why_words(why or "") if why != NO_SESSION else ""
    if not words:
        return ""
    return _("Your session had ended: {why}. Log in again; a form you were filling in is kept in this "
             "browser and filled in again.").format(why=words)


def kept_note(why: str | None) -> str:
    """The line above a form filled in again after the login (shown by desk.js once it did)."""
    words = why_words(why or "")
    if not words:
        return ""
    return _("Your session had ended while you were filling in this form ({why}). What you had typed is "
             "filled in again: check it and send it.").format(why=words)
