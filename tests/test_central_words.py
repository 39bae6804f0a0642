"""The central office's dashboard in the glossary's words (issue 56, design/0262): one word for one
thing at the office as at the desk (docs/guide/words.md). The catalog (central.po) is read for the
words the glossary's last column retires, and the dashboard's pages are walked in Chromium as each
of its roles (the auditor, the technician), the refused month page and a wrong password included,
from a store fed directly (tests/test_central_month.py `_feed`): a camera, a grant's viewing."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from central.store.store import now_us
from tests.support import month_page
from tests.support.leaks import ascii_separators
from tests.test_central_month import TAIPEI, _feed

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "central/locale/zh_TW/LC_MESSAGES/central.po"
KEPT = "經機關首長授權"   # the glossary keeps 授權 for the head of office's authorisation of live view


def retired_words() -> set[str]:
    """The glossary's "Not used for it" column: the Chinese words it retires (its notes in
    parentheses and the English `idle` left out)."""
    text = (ROOT / "docs/guide/words.md").read_text(encoding="utf-8")
    out: set[str] = set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("Thing", "---"):
            continue
        last = re.sub(r"\([^)]*\)", "", cells[3])
        out |= {w.strip() for w in re.split(r"[,、]", last) if re.search(r"[\u4e00-\u9fff]", w)}
    return out


def offending(text: str, words: set[str]) -> list[str]:
    text = text.replace(KEPT, "")
    return sorted(w for w in words if w in text)


def msgstrs(po: str) -> list[str]:
    """Every translation in a catalog, its continued lines joined."""
    out, cur = [], None
    for line in po.splitlines():
        if line.startswith("msgstr"):
            cur = [line.split(" ", 1)[1]]
            out.append(cur)
        elif line.startswith('"') and cur is not None:
            cur.append(line)
        else:
            cur = None
    return ["".join(x.strip().strip('"') for x in parts) for parts in out]


@pytest.mark.pure
def test_the_glossary_retires_the_words_the_office_complained_of():
    assert {"監視器", "授權", "保全", "陪同檢視", "保管人", "即時畫面"} <= retired_words()
    assert offending("經機關首長授權之人員", retired_words()) == [], "the head's authorisation keeps its word"
    assert offending("授權 7，核准人", retired_words()) == ["授權"]


@pytest.mark.pure
def test_centrals_catalog_uses_the_glossarys_words():
    words = retired_words()
    bad = [(s, offending(s, words)) for s in msgstrs(CATALOG.read_text(encoding="utf-8")) if offending(s, words)]
    assert not bad, f"central.po says what docs/guide/words.md retires: {bad}"


@pytest.mark.browser
def test_the_dashboard_in_the_glossarys_words_for_every_role(tmp_path):
    t0 = now_us() - 120_000_000
    ym = datetime.fromtimestamp((t0 + 30) / 1e6, TAIPEI).strftime("%Y-%m")
    _feed(month_page.store_path(tmp_path), t0)
    words = retired_words()
    seen: dict[str, str] = {}
    with month_page.opened(tmp_path) as office:   # the dashboard, and the auditor lin and the technician chen
        base, browser, password = office.base, office.browser, month_page.PASSWORD

        def read(page, what: str) -> str:
            text = page.inner_text("body")
            assert not offending(text, words), (what, offending(text, words), text)
            assert not ascii_separators(text), (what, ascii_separators(text), text)   # 「；」「：」, as at the desk
            seen[what] = text
            return text

        for user in ("chen", "lin"):
            page = browser.new_context().new_page()
            page.goto(f"{base}/login")
            read(page, f"{user}: login page")
            page.fill("input[name=user]", user)
            page.fill("input[name=password]", "not the password")
            page.click("button[type=submit]")
            page.wait_for_selector("form[action='/login']")
            read(page, f"{user}: a wrong password")
            page.fill("input[name=user]", user)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            read(page, f"{user}: the fleet")
            page.goto(f"{base}/site/s")
            read(page, f"{user}: the site")
            status = page.goto(f"{base}/site/s/month/{ym}").status
            assert status == (200 if user == "lin" else 403), (user, status)
            read(page, f"{user}: the month")
            page.context.close()
        month = seen["lin: the month"]
        assert "每部攝影機每日保存達成情形" in month, "the camera in the glossary's word"
        assert "調閱許可 7，核准人" in month, "a grant is a 調閱許可"
        assert "閱覽" in month, "a grant's use is a viewing (閱覽)"
        assert "攝影機" in seen["chen: the site"], "the technician's site page names cameras as 攝影機"
