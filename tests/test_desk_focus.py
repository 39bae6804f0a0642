"""The desk's focus ring is seen (issue 42 item 4, WCAG 2.2 SC 1.4.11: 3:1 against what it sits
on): read off edged/viewer/static/desk.css, on the cards and the page (--focus) and on the
header's brand blue (--focus-on-brand)."""

from __future__ import annotations

import re

from tests.support.daemon import ROOT

CSS = (ROOT / "edged/viewer/static/desk.css").read_text()


def colour(name: str) -> str:
    found = re.search(rf"--{name}:\s*#([0-9a-fA-F]{{6}}|[0-9a-fA-F]{{3}})\b", CSS)[1]
    return "#" + (found if len(found) == 6 else "".join(ch * 2 for ch in found))


def luminance(hex_: str) -> float:
    c = [int(hex_[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def contrast(a: str, b: str) -> float:
    lo, hi = sorted((luminance(a), luminance(b)))
    return (hi + 0.05) / (lo + 0.05)


def test_the_focus_ring_has_three_to_one_where_it_is_drawn():
    for ground in ("card", "paper", "open-bg"):
        assert contrast(colour("focus"), colour(ground)) >= 3, ground
    assert contrast(colour("focus-on-brand"), colour("brand")) >= 3
    assert "header.top :focus-visible { outline-color: var(--focus-on-brand)" in CSS
    assert contrast("#f0a500", "#ffffff") < 3   # the old ring (1.9:1 on the page) would fail
