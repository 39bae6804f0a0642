"""The viewer's pages in the site's language (design/0047). The pages under static/ are
written in English; `page_html` serves them with every text of TEXTS translated and the
script's messages (SCRIPT, with {placeholders}) in the body's data-texts attribute, which
viewer.js reads through t(). tests/test_i18n.py fails on a page text or script message not
listed here."""

from __future__ import annotations

import html
import json
import re

from edged.i18n import N_, calendar, in_language, normalise
from edged.viewer.desk.page import LANG_NAMES, picker_words
from edged.viewer.scrub import JUMP_EXAMPLES

TEXTS = (  # every text of login.html, live.html, grid.html and playback.html (elements, aria-label)
    N_("edged viewer: log in"), N_("edged viewer: live"), N_("edged viewer: playback of a grant"),
    N_("edged viewer"), N_("Log in with your personal account. Every view is recorded in the audit log."),
    N_("Account"), N_("Password"), N_("Log in"), N_("Live"), N_("Playback of a grant"), N_("Log out"),
    N_("Cameras you may watch live"), N_("Stop watching"),
    N_("A grant allows one viewing, started by the custodian who accompanies the person watching: one application, "
       "one viewing."),
    N_("Grant"), N_("Look up"), N_("Camera"), N_("Watched by"), N_("Start the viewing (uses the grant)"),
    N_("Pause"), N_("Position in the granted range"), N_("End the viewing"), N_("Home"),
    N_("Skip to the page"), N_("CCTV desk"), N_("Pages"),
    N_("edged viewer: live grid"), N_("Layout"), N_("Previous cameras"), N_("Next cameras"),
    N_("Keys: 1, 2, 3, 4 choose 1, 4, 9 or 16 tiles; PageUp and PageDown show other cameras; Enter on a tile shows "
       "it alone, Escape goes back."),
    N_("What the timeline shows"),
    N_("Drag along the timeline, or use the arrow keys, to move through the granted range."),
    N_("Go to the day and time"), N_("Go"),
)
SCRIPT = (  # viewer.js's messages, as its t() calls write them
    N_("the box answered {status}"), N_("footage {time}"), N_("the view ended: {reason}"), N_("the view ended"),
    N_("{camera}: this view ends at the latest at {time}"), N_("you stopped watching"),
    N_("Your account may not watch any camera live."), N_("connecting to {camera}..."), N_("Request"),
    N_("Cameras"), N_("From"), N_("To"), N_("Approved by"), N_("Requester"), N_("Expires"), N_("Used"),
    N_("{time} by {custodian}"), N_("not yet"), N_("starting the viewing..."), N_("Play"), N_("Pause"),
    N_("Grant"), N_("end of the granted range: the viewing is over (a new viewing needs a new request)"),
    N_("sound on"), N_("cameras {first} to {last} of {all}"),
    N_("recorded"), N_("fetched later from the camera's own recording"), N_("recorded by the standby box"),
    N_("gap: not recorded"), N_("no record"), N_("Playback of grant {id}"),
    N_("Volume"), N_("Turn the sound on"), N_("Mute"),
)
_KNOWN = frozenset(TEXTS)
_NODE = re.compile(r">([^<]+)<")
_LABEL = re.compile(r'(aria-label=")([^"]+)(")')


def page_html(source: str, lang: str, site: str = "", path: str = "/") -> str:
    """A static page in `lang`: its texts translated, <html lang> set, the script's messages
    in <body data-texts>, the site's name in its header and the switch to the other language
    (the desk's, back to `path`); a date field (data-calendar="site") in the page's calendar,
    with the desk's date picker's words in <body data-picker> (static/desk.js, design/0113)."""
    lang = normalise(lang) or "en"
    other = "en" if lang != "en" else "zh-TW"

    def swap(text: str) -> str:
        core = html.unescape(text.strip())
        return text.replace(text.strip(), html.escape(in_language(lang, core))) if core in _KNOWN else text

    out = _NODE.sub(lambda m: f">{swap(m[1])}<", source)
    out = _LABEL.sub(lambda m: m[1] + swap(m[2]) + m[3], out)
    texts = {s: in_language(lang, s) for s in SCRIPT} if lang != "en" else {}
    out = out.replace('<html lang="en">', f'<html lang="{"zh-Hant-TW" if lang == "zh-TW" else "en"}">', 1)
    out = out.replace("<span class=\"site-name\" data-site></span>",
                      f"<span class=\"site-name\">{html.escape(site)}</span>", 1)
    out = out.replace("<a class=\"lang\" data-lang-switch href=\"/desk/lang\"></a>",
                      f"<a class=\"lang\" href=\"/desk/lang?to={other}&amp;back={html.escape(path)}\" "
                      f"lang=\"{'zh-Hant-TW' if other != 'en' else 'en'}\">{html.escape(LANG_NAMES[other])}</a>", 1)
    picker = ""
    if 'data-calendar="site"' in out:
        cal = calendar(lang)
        out = out.replace('data-calendar="site"', f'data-calendar="{cal}" placeholder="{JUMP_EXAMPLES[cal]}"')
        picker = f"data-picker=\"{html.escape(picker_words(lang))}\" "
    return out.replace("<body ", f"<body data-texts=\"{html.escape(json.dumps(texts, ensure_ascii=False))}\" "
                                 + picker, 1)
