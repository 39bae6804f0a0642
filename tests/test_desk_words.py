"""Every desk page and printed form in the site's words (issue 42 item 3, design/0103): each seed
site's example, in zh-TW, its pages fetched by the people who use them (no browser: the text is
what matters here) and read for English left on them: an untranslated id, an operation or config
key, a command-line flag, an English word that is not a proper name. The catalog test
(tests/test_i18n.py) checks strings; this one checks what the pages put together from them."""

from __future__ import annotations

import html
import json
import re

import pytest
import requests

from edged.config import load_config
from storage.time.clock import SYSTEM
from tests.support.cameras import free_port
from tests.support.daemon import Daemon, wait_for
from tests.support.leaks import leaks
from tests.support.people import People, password_for
from tests.test_sites import CASES, camera, filing_args, signers_for, site_config, unit_of  # noqa: F401

S = 1_000_000
# what the test's requests carry in Latin letters (typed by its people) and the box's OS user on the
# record: data, not the page's words; the office's abbreviations are tests/support/leaks.py's PROPER
DATA = {"Lin", "Mei", "ZZ-2026-17", "Precinct", "root"}
# a technician's detail (the daemon's or the camera's English, folded under the person's words) is
# not the page's text, nor is data to compare or copy (`code`, `pre`: a hash, a path), as the walks
# read it (tests/support/walk.py)
DROP = re.compile(r"<(script|style|code|pre)\b.*?</\1>|<details class=\"tech\">.*?</details>|<[^>]+>", re.S)
# People by their names (issue 42 item 2, design/0112): each has a full name, and a login name is
# allowed only on the admin's accounts pages, where the technician's id is the point.
FULL_NAMES = {"clerk": "林書記", "carol": "陳管理", "audrey": "王政風", "admin": "張帳管"}
IDS_SHOWN = ("/desk/accounts",)
# what the test's people typed, in the test's words (a reason on the record): data, not the page's text
TYPED = {"test", "application"}


def english(page: str, allowed: set[str]) -> list[str]:
    """The Latin-letter words of a page's visible text that are not proper names."""
    return leaks(html.unescape(DROP.sub(" ", page)), allowed | DATA)


def session(base: str, name: str) -> requests.Session:
    s = requests.Session()
    s.cookies.set("edged_lang", "zh-TW")
    page = s.get(base + "/desk/login", timeout=30).text   # the login form's CSRF token (issue 45)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, page[-2000:]
    r = s.post(base + "/desk/login", data={"name": name, "password": password_for(name), "csrf": token.group(1)},
               timeout=30)
    assert r.ok and r.url.endswith("/desk/"), (name, r.url, r.text[-2000:])
    return s


# the three sites walked as their people would (issue 42); 001 and 003 print the same pages
SITES = [c for c in CASES if c[0][:3] in ("000", "002", "004")]


@pytest.mark.parametrize("name, kind, use", SITES, ids=[c[0][:3] for c in SITES])
def test_every_desk_page_and_form_in_the_sites_words(tmp_path, camera, name, kind, use):  # noqa: F811
    port = free_port()
    config, data = site_config(name, tmp_path, camera, port)
    cfg = load_config(config)
    cameras = [c.id for c in cfg.cameras]
    steps = [s for s in cfg.policy.kinds[kind].chain if s.applies(cameras)]
    base = f"http://127.0.0.1:{port}"
    d = Daemon(config, data, tmp_path / "edged.log").start()
    try:
        people = People(config, tmp_path, admin_full_name=FULL_NAMES["admin"])
        people.add("clerk", "viewer", full_name=FULL_NAMES["clerk"])
        people.add("carol", "custodian", full_name=FULL_NAMES["carol"])
        people.add("audrey", "auditor", full_name=FULL_NAMES["audrey"])
        signers = signers_for(steps, cfg.policy, unit_of(cfg.policy))
        for i, signer in enumerate(signers):
            people.add(signer, "approver", full_name=f"核章{'甲乙丙丁戊'[i]}")
        wait_for(lambda: "web viewer listening" in d.log, 60, "the web viewer")
        now = SYSTEM.now_us()
        assert people.login("clerk").returncode == 0
        args = filing_args(kind, use, cfg.policy.categories[0], cameras, now - 600 * S, now - 60 * S,
                           unit_of(cfg.policy), cfg.policy)
        args[args.index("--reason") + 1] = "民眾反映櫃檯遺失皮夾"
        args = ["值勤臺" if a == "Counter section" else a for a in args]   # the test's own words, in Chinese
        r = people.ctl(*args)
        assert r.returncode == 0, r.stderr
        rid = int(re.search(r'"id": (\d+)', r.stdout)[1])
        allowed = {cfg.site.id, *cameras, *(c.name for c in cfg.cameras), *cfg.policy.units, *TYPED}
        ids = {"clerk", "carol", "audrey", people.admin, *signers}
        pages = {
            people.admin: ["/desk/", "/desk/accounts", "/desk/accounts/new"],
            "clerk": ["/desk/", "/desk/requests", "/desk/requests/new", f"/desk/requests/{rid}",
                      f"/desk/requests/{rid}/form", "/desk/holds/new"],
            "carol": ["/desk/", "/desk/holds", "/desk/holds/new", "/desk/cameras", "/desk/inspections",
                      "/desk/usage", "/desk/maintenance", "/desk/inspections/register"],
            signers[0]: ["/desk/", "/desk/inbox", f"/desk/requests/{rid}", "/desk/holds/new"],
            "audrey": ["/desk/", "/desk/audit", "/desk/audit/report"],
        }
        found: dict[str, list[str]] = {}
        for who, paths in pages.items():
            s = session(base, who)
            for path in paths:
                page = s.get(base + path, timeout=60)
                assert page.status_code in (200, 403), (who, path, page.status_code)   # 403: a refusal, in words too
                words = english(page.text, allowed | (ids if path.startswith(IDS_SHOWN) else set()))
                if words:
                    found[f"{who} {path}"] = words
        assert found == {}, json.dumps(found, ensure_ascii=False, indent=0)
    finally:
        assert d.stop() == 0, d.log[-3000:]
