"""Ids and English left on a page a person of the site reads (issue 42's done-when: "no
untranslated id on any page"). `leaks(text, allowed)` is a plain function over the page's visible
text (Playwright's `inner_text("body")`, or a page's HTML with its tags dropped): every run of
Latin letters that is not a proper name is a leak: a login name where a person's full name
belongs, a config key (`[policy.units]`, `placed_by`), an operation key (`hold.add`), a role, kind
or mode key (`custodian`, `citizen`, `copy`), a command-line flag (`--org`), `edgectl`, an
English sentence. Digits, ROC dates and the site's own words pass; the proper names a site or a
person gives (a camera's name, what was typed) are passed in as `allowed`.

The desk walks (tests/test_desk_sites.py) read each page they visit with it; tests/test_desk_words.py
reads each desk page fetched without a browser."""

from __future__ import annotations

import re
from typing import Iterable

# What may stand in Latin letters on an office's page: the abbreviations the office itself writes
# and the names of standards it cites. Not "edged": the product's name is not the office's word.
PROPER = frozenset({
    "English", "ID", "PDF", "A4", "Ctrl", "RTSP", "ONVIF", "SHA-256", "SHA", "UTC", "MQTT", "IP", "OK", "URL",
    "CSV", "JSON", "NTP", "HTTPS", "TLS", "CA", "C2PA", "MP4", "MB", "GB", "TB", "KB", "kB", "ms", "fps", "dB",
    "Mbps", "kbps", "H.264", "H.265", "HEVC", "AAC", "WebRTC", "SD", "HD", "FHD", "GPS", "PTZ", "NVR", "USB",
    "km", "TOTP", "ZIP",
    # the keys' own labels, as a keyboard prints them
    "Enter", "Esc", "Escape", "Tab", "Shift", "Alt", "PageUp", "PageDown", "Home", "End", "Space",
})
# a run of Latin letters, with the dots, dashes, underscores and brackets of a key or a flag
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-\[\]]*[A-Za-z0-9\]]|[A-Za-z]{2,}")


def leaks(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The words of `text` that are neither a proper name nor in `allowed`, sorted, once each."""
    ok = set(allowed)
    words: set[str] = set()
    for word in WORD.findall(text):
        word = word.strip(".-_[]")
        if len(word) < 2 or word in PROPER or word in ok:
            continue
        words.add(word)
    return sorted(words)


# an ASCII separator between two Chinese phrases (「；」「：」「、」 are the language's own; issue 56,
# docs/guide/words.md): the walks read pages for it as for ids
HAN = r"[\u3400-\u9fff）」』]"
ASCII_SEP = re.compile(HAN + r"\s?[;:,]\s?" + r"[\u3400-\u9fff（「『]")


def ascii_separators(text: str) -> list[str]:
    """Each ASCII separator between Chinese phrases in `text`, quoted as 「它:的」 with its neighbours."""
    return [f"「{m}」" for m in ASCII_SEP.findall(text)]
