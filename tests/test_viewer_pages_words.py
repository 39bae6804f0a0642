"""The viewer's own pages and the audit's stored words in the site's language (issue 56 item 2):
what tests/test_desk_words.py's walk reads on the desk's pages, read here on the pages the walk
does not fetch as HTML (the login, live, grid and playback pages, served from static/ through
edged/viewer/texts.py) and on every action and stored reason the audit pages print
(edged/rules/audit_words.py). Pure: the same renderers the box serves, no daemon."""

from __future__ import annotations

import re

import pytest

from edged.i18n import in_language
from edged.rules import audit_words
from edged.viewer.server import PAGES, STATIC
from edged.viewer import texts
from edged.viewer.texts import page_html
from tests.test_desk_words import faults, visible

ZH = "zh-TW"
SITE = "臺北市建成地政事務所"


@pytest.mark.pure
@pytest.mark.parametrize("path", sorted(PAGES))
def test_each_viewer_page_in_the_sites_words(path):
    page = page_html((STATIC / PAGES[path]).read_text(encoding="utf-8"), ZH, SITE, path)
    text = visible(page)
    assert SITE in text and faults(text, {SITE}) == [], (path, faults(text, {SITE}), text)


@pytest.mark.pure
def test_every_action_and_stored_reason_of_the_audit_pages_in_the_sites_words():
    said = {key: in_language(ZH, words) for table in (audit_words.WORDS, audit_words.STORED, audit_words.VIA_WORDS)
            for key, words in table.items()}
    said |= {key: in_language(ZH, words).replace("{action}", "") for key, words in audit_words.DERIVED.items()}
    bad = {key: (text, faults(text, set())) for key, text in said.items() if faults(text, set())}
    assert bad == {}, bad


@pytest.mark.pure
def test_every_message_the_viewers_scripts_say_in_the_sites_words():
    """viewer.js and grid.js say these through t() (edged/viewer/texts.py SCRIPT), with the page's
    texts: in zh-TW each is the office's words, its {placeholders} filled by names and times."""
    said = {m: re.sub(r"\{\w+\}", " ", in_language(ZH, m)) for m in (*texts.SCRIPT, *texts.TEXTS)}
    bad = {m: (text, faults(text, set())) for m, text in said.items() if faults(text, set())}
    assert bad == {}, bad
