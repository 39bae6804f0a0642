"""Every desk page, the grid's and the playback page's answers, and every printed form in the
site's words (issue 42 item 3, design/0103; issue 56 item 2): each of the five seed sites'
examples, in zh-TW, its pages fetched by every role that uses them (no browser: the text is what
matters here; tests/test_desk_sites.py walks them in Chromium), including a camera that is down,
each refusal a role meets, an expired grant and the audit pages. A page fails on an id (a camera's
or a person's login name: there is no whitelist of ids), an operation or config key, a command-line
flag, an English word that is not a proper name, or an ASCII separator between Chinese phrases.
The catalog test (tests/test_i18n.py) checks strings; this one checks what the pages put together.
On the same five daemons (design/0450): each site's request filed and signed at the desk over HTTP, its
printed form read off the page, and each site's chain through edgectl to the export or the viewing."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from edged.config import load_config
from edged.i18n import in_language, zone
from storage.time.clock import SYSTEM
from tests.support.cameras import free_port
from tests.support.daemon import Daemon, wait_for
from tests.support.leaks import ascii_separators, leaks
from tests.support.paper import paper_faults
from tests.support.people import People, password_for
from edged.rules.redaction import redacted_kinds
from tests.support.catalog import audit_rows, rows
from tests.test_sites import CASES, _play, camera, filing_args, signers_for, site_config, unit_of  # noqa: F401

S = 1_000_000
ZH = "zh-TW"
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
FIELDS = {  # what the clerk writes for each kind of requester, as at a counter (tests/test_desk_sites.py too)
    "citizen": {"contact": "0912-000-000", "id_number": "A123456789"},
    "agency": {"org": "某分局偵查隊", "letter": "北市警刑字第1150000017號"},
}


def roc(t: datetime) -> str:
    """A moment as a person at a zh-TW site types it: 115/11/24 14:30."""
    return f"{t.year - 1911}/{t.month:02d}/{t.day:02d} {t:%H:%M}"


def csrf(page: str) -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, page[-2000:]
    return token.group(1)


def visible(page: str) -> str:
    return html.unescape(DROP.sub(" ", page))


def faults(text: str, allowed: set[str]) -> list[str]:
    """The Latin-letter words that are not proper names, and each ASCII separator between Chinese."""
    return leaks(text, allowed | DATA) + ascii_separators(text)


def session(base: str, name: str) -> requests.Session:
    s = requests.Session()
    s.cookies.set("edged_lang", ZH)
    page = s.get(base + "/desk/login", timeout=30).text   # the login form's CSRF token (issue 45)
    r = s.post(base + "/desk/login", data={"name": name, "password": password_for(name), "csrf": csrf(page)},
               timeout=30)
    assert r.ok and r.url.endswith("/desk/"), (name, r.url, r.text[-2000:])
    return s


def said(answer: dict[str, Any]) -> str:
    """What the grid and the playback page show of an API answer: its refusals and errors."""
    return " ".join(str(answer[k]) for k in ("error", "live_refusal", "playback_refusal", "unusable") if answer.get(k))


async def _live(base: str, cookies: dict[str, str], camera_id: str) -> tuple[int, dict[str, Any]]:
    """A live tile's offer for `camera_id`, as the grid sends it: the box's answer."""
    import aiohttp
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.createDataChannel("control")
        await pc.setLocalDescription(await pc.createOffer())
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar, cookies=cookies) as http:
            r = await http.post(f"{base}/api/live/{camera_id}", json={"sdp": pc.localDescription.sdp, "type": "offer"})
            return r.status, await r.json()
    finally:
        await pc.close()


def _config(name: str, tmp_path, camera):   # noqa: F811
    """The site's example, its last camera down (nothing listens at its address) and a grant that
    expires a minute after its approval, so that the walk meets one expired."""
    port = free_port()
    config, data = site_config(name, tmp_path, camera, port)
    text = config.read_text()
    last = text.rfind("\nurl = ")
    down = f'\nurl = "rtsp://127.0.0.1:{free_port()}/down"'
    text = text[:last] + re.sub(r'^\nurl = ".*"', down, text[last:], count=1)
    assert "[accounts]\n" in text
    config.write_text(text.replace("[accounts]\n", '[accounts]\ngrant_ttl = "1m"\n', 1))
    return config, data, port


class Site:
    """One seed site, opened once for the module (design/0200): its daemon, its people, the request
    filed and granted, each role logged in at the desk, and the grid's answers taken while the grant
    was still valid. The walk only reads pages; the grant expires while the other sites are walked."""

    def __init__(self, root, camera, name: str):   # noqa: F811
        self.root = root
        self.config, data, port = _config(name, root, camera)
        self.cfg = load_config(self.config)
        self.cameras = [c.id for c in self.cfg.cameras]
        self.base = f"http://127.0.0.1:{port}"
        self.d = Daemon(self.config, data, root / "edged.log").start()

    def open(self, kind: str, use: str) -> "Site":
        cfg, config, root = self.cfg, self.config, self.root
        steps = [s for s in cfg.policy.kinds[kind].chain if s.applies(self.cameras)]
        self.people = people = People(config, root, admin_full_name=FULL_NAMES["admin"])
        self.signers = signers = signers_for(steps, cfg.policy, unit_of(cfg.policy))
        self.names = {signer: f"核章{'甲乙丙丁戊'[i]}" for i, signer in enumerate(signers)}
        for signer in signers:   # first: at 001 they sign the others' applications (design/0113)
            people.add(signer, "approver", full_name=self.names[signer])
        people.add("clerk", "viewer", full_name=FULL_NAMES["clerk"])
        people.add("carol", "custodian", full_name=FULL_NAMES["carol"])
        people.add("audrey", "auditor", full_name=FULL_NAMES["audrey"])
        wait_for(lambda: "web viewer listening" in self.d.log, 60, "the web viewer")
        now = SYSTEM.now_us()
        args = filing_args(kind, use, cfg.policy.categories[0], self.cameras, now - 600 * S, now - 60 * S,
                           unit_of(cfg.policy), cfg.policy)
        args[args.index("--reason") + 1] = "民眾反映櫃檯遺失皮夾"
        args = ["值勤臺" if a == "Counter section" else a for a in args]   # the test's own words, in Chinese
        r = people.as_("clerk").ctl(*args)
        assert r.returncode == 0, r.stderr
        self.rid = int(re.search(r'"id": (\d+)', r.stdout)[1])
        for signer in signers:   # the grant: it expires a minute later, while the walks go on
            r = people.as_(signer).ctl("request", "approve", str(self.rid), "--reason", "確有必要", "--json")
            assert r.returncode == 0, r.stderr
        self.gid = json.loads(r.stdout)["grant"]["id"]
        self.pages = pages(self)
        self.sessions = {who: session(self.base, who) for who in self.pages}
        # the grid's and the playback page's answers to a grant still valid: who may, in titles
        self.answers = {f"{who} /api/grant": self.sessions[who].get(f"{self.base}/api/grant/{self.gid}",
                                                                    timeout=30).json() for who in ("audrey", "clerk")}
        assert all(not a.get("unusable") for a in self.answers.values()), self.answers   # read before it expired
        self.allowed = {*(c.name for c in cfg.cameras), *cfg.policy.units, *TYPED}   # no camera id, no login name
        self.ids = {"clerk", "carol", "audrey", people.admin, *signers, *people.approvers}
        return self


def pages(site: Site) -> dict[str, list[str]]:
    """Each role's pages at a site (the admin's fifth and sixth, the clerk's last and the auditor's fourth: refused)."""
    rid = site.rid
    return {
        site.people.admin: ["/desk/", "/desk/accounts", "/desk/accounts/new", "/desk/accounts/clerk",
                            "/desk/requests/new", "/desk/audit",
                            # printed: the clerk's application to open, and to change the password she set
                            # herself (edged's own English reason on the record, issue 77 W1)
                            "/desk/accounts/clerk/form?action=opened", "/desk/accounts/clerk/form?action=password"],
        "clerk": ["/desk/", "/desk/requests", "/desk/requests/new", f"/desk/requests/{rid}",
                  f"/desk/requests/{rid}/form", "/desk/holds/new", "/desk/audit"],
        "carol": ["/desk/", "/desk/holds", "/desk/holds/new", "/desk/cameras", "/desk/cameras/notice",
                  "/desk/cameras/inventory", "/desk/inspections", "/desk/usage", "/desk/maintenance",
                  "/desk/inspections/register", f"/desk/requests/{rid}", "/desk/accounts"],
        site.signers[0]: ["/desk/", "/desk/inbox", f"/desk/requests/{rid}", "/desk/holds/new", "/desk/holds"],
        "audrey": ["/desk/", "/desk/audit", "/desk/audit/report", "/desk/requests/new", "/desk/cameras"],
    }


@pytest.fixture(scope="module")
def sites(request, tmp_path_factory, camera) -> Iterator[dict[str, Future]]:   # noqa: F811
    """The sites this run's tests walk (all five, or those -k chose), opening two at a time on
    threads (their daemons and edgectl are processes of their own; five at once on a loaded 2-core
    box had edgectl wait a minute to start): the fixture does not wait for them; each test waits for
    its own site, so a slow opening is charged to the tests that need it, each under its own
    timeout, while the next sites open behind the walks. A site that failed to open fails its own
    tests. Each daemon stops at the module's end."""
    asked = {item.callspec.params["name"] for item in request.session.items
             if item.module is request.module and hasattr(item, "callspec")}
    opened: list[Site] = []

    def open_site(name: str, kind: str, use: str) -> Site:
        site = Site(tmp_path_factory.mktemp(name[:3]), camera, name)
        opened.append(site)   # stopped at the end even when its opening fails half way
        return site.open(kind, use)

    pool = ThreadPoolExecutor(2)
    try:
        yield {name: pool.submit(open_site, name, kind, use) for name, kind, use in CASES if name in asked}
    finally:
        pool.shutdown(wait=True)
        stopped = {site.cfg.site.name: site.d.stop() for site in opened}
        assert set(stopped.values()) <= {0}, stopped   # every segment closed at SIGTERM


@pytest.mark.parametrize("name, kind, use", CASES, ids=[c[0][:3] for c in CASES])
def test_every_page_as_every_role_in_the_sites_words(sites, name, kind, use):
    site = sites[name].result()   # its opening's failure, if it failed
    base, sessions, down = site.base, site.sessions, site.cfg.cameras[-1]
    # the camera that is down, as the cameras page says it once the box has tried it
    not_connected = in_language(ZH, "Not connected: check the camera, its power and its network cable.")
    wait_for(lambda: not_connected in sessions["carol"].get(base + "/desk/cameras", timeout=30).text, 90,
             "the camera that is down said so on the cameras page")
    found: dict[str, list[str]] = {}
    for who, paths in site.pages.items():
        for path in paths:
            page = sessions[who].get(base + path, timeout=60)
            assert page.status_code in (200, 403, 404), (who, path, page.status_code)   # a refusal, in words too
            words = faults(visible(page.text), site.allowed | (site.ids if path.startswith(IDS_SHOWN) and
                                                               who == site.people.admin else set()))
            if words:
                found[f"{who} {path}"] = words
    # the grid's and the playback page's answers: who may, in titles; the camera down, in words
    answers = {f"{who} /api/me": sessions[who].get(base + "/api/me", timeout=30).json() for who in site.pages}
    answers.update(site.answers)
    status, answers["carol /api/live (down)"] = asyncio.run(_live(base, dict(sessions["carol"].cookies), down.id))
    assert status == 503 and down.name in answers["carol /api/live (down)"]["error"], answers
    assert answers["audrey /api/me"]["playback_refusal"] and answers["audrey /api/me"]["live_refusal"], answers
    for where, answer in answers.items():
        words = faults(said(answer), site.allowed)
        if words:
            found[where] = words
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=0)


def filed_at_the_desk(site: Site, kind: str, use: str) -> tuple[int, str]:
    """The clerk's filing of a request of `kind` for `use` on the desk's form, in the site's fields, as
    the browser sends it (the form's names; the times typed in the site's calendar): the request's id
    and the page it lands on, which must say it was taken."""
    cfg, clerk = site.cfg, site.sessions["clerk"]
    form = clerk.get(site.base + "/desk/requests/new", timeout=30).text
    assert ('name="purpose"' in form) == cfg.policy.asks_purpose, "the use (用途) asked where the rule asks it"
    assert f'name="mode" value="{use}"' in form, use
    assert html.escape(cfg.forms.modes.get(use, "")) in form, "the mode in the site's word (003: 保存 for a copy)"
    now = datetime.fromtimestamp(SYSTEM.now_us() / S, zone(cfg.site.timezone))
    org = unit_of(cfg.policy) if cfg.policy.units else "行政組"   # where the site lists none, typed as a clerk would
    fields = {"csrf": csrf(form), "kind": kind, "category": cfg.policy.categories[0], "mode": use,
              "reason": "民眾反映櫃檯遺失皮夾，調閱以釐清", "cameras": site.cameras, "requester": "林美",
              "from": roc(now - timedelta(minutes=5)), "to": roc(now + timedelta(minutes=2)),
              **({"org": org} if kind == "internal" else {}), **FIELDS.get(kind, {}),
              **({"identity_checked": "1"} if kind == "citizen" else {}),
              **({"purpose": "歸還民眾遺失物"} if cfg.policy.asks_purpose else {})}
    r = clerk.post(site.base + "/desk/requests/new", data=fields, timeout=30)
    assert r.ok and "notice-ok" in r.text, visible(r.text)[-2000:]
    return int(re.search(r"/desk/requests/(\d+)", r.url)[1]), r.text


@pytest.mark.parametrize("name, kind, use", CASES, ids=[c[0][:3] for c in CASES])
def test_a_request_filed_and_signed_at_the_desk_prints_the_sites_form(sites, name, kind, use):
    """The desk's side of the sites' walk without a browser (design/0450): the clerk files the site's
    request on the desk's form, each approver signs it from their inbox in the chain's order, and the
    printed application is the site's own form with every signer by name and the mode in the site's
    word; a copy that needs a receipt offers its field at the export. The pages' behaviour in a browser
    (the date fields, the buttons, the PDF read back) is tests/test_desk_sites.py's walk of 001 and 002."""
    site = sites[name].result()
    cfg, base = site.cfg, site.base
    rid, landed = filed_at_the_desk(site, kind, use)
    shown = visible(landed)
    assert "林美" in shown and (not cfg.policy.asks_purpose or "歸還民眾遺失物" in shown), shown
    assert cfg.forms.modes.get(use, "") in shown, "the mode in the site's word on the request's page"
    for signer in site.signers:   # each step from its approver's inbox, in order
        s = site.sessions.get(signer) or session(base, signer)
        assert f'href="/desk/requests/{rid}"' in s.get(base + "/desk/inbox", timeout=30).text, f"waits for {signer}"
        page = s.get(f"{base}/desk/requests/{rid}", timeout=30).text
        assert 'id="decide"' in page, (signer, visible(page)[-1500:])
        r = s.post(f"{base}/desk/requests/{rid}/decide", timeout=30,
                   data={"csrf": csrf(page), "reason": "必要性及關聯性已審核", "decision": "approve"})
        assert r.ok and "notice-ok" in r.text and 'id="decide"' not in r.text, (signer, visible(r.text)[-1500:])
    carol = site.sessions["carol"].get(f"{base}/desk/requests/{rid}", timeout=30).text
    assert "notice-error" not in carol, visible(carol)[-1500:]
    receipt = cfg.policy.kinds[kind].receipt
    assert ('name="receipt"' in carol) == (use == "copy" and receipt), "the receipt asked where the kind needs one"
    printed = visible(site.sessions["clerk"].get(f"{base}/desk/requests/{rid}/form", timeout=30).text)
    own = cfg.forms.form_for(kind)
    assert own is None or own.title in "".join(printed.split()), printed
    assert all(site.names[s] in printed for s in site.signers), (site.names, printed)
    assert cfg.forms.modes.get(use, "") in printed, printed   # 003's 保存 for a copy (design/0447)
    assert kind == "citizen" or "已查驗身分" not in printed, printed   # a citizen's lines on a citizen's paper only
    assert not paper_faults(printed, site.allowed | DATA | {"A123456789"}), paper_faults(printed, site.allowed)


@pytest.mark.parametrize("name, kind, use", CASES, ids=[c[0][:3] for c in CASES])
def test_a_request_runs_through_the_sites_chain_by_edgectl(sites, tmp_path, name, kind, use):
    """The site's chain through edgectl (issue 17 item 9; tests/test_sites.py's until design/0450, on
    this module's daemons): filed, every step signed by a different approver (a signer of an earlier
    step refused a second), the grant, then the export with its receipt, or the viewing where the
    kind is view-only, on the record. The request names every camera, so every scoped step applies;
    its range is the footage of those that record (the last is down)."""
    site = sites[name].result()
    cfg, d, people = site.cfg, site.d, site.people
    rules = cfg.policy.kinds[kind]
    steps = [s for s in rules.chain if s.applies(site.cameras)]
    assert use in rules.modes and site.signers == signers_for(steps, cfg.policy, unit_of(cfg.policy))
    redacted = kind in redacted_kinds(cfg.policy.kinds)   # a citizen sees only themselves (design/0232, 0327)
    recording = site.cameras[:-1]
    wait_for(lambda: all(len(d.segments(c)) >= 2 for c in recording), 60, "footage on every camera that records")
    frm = max(d.segments(c)[0]["start_us"] for c in recording)
    to = min(d.segments(c)[-1]["end_us"] for c in recording)
    before = len(audit_rows(d))
    args = filing_args(kind, use, cfg.policy.categories[0], site.cameras, frm, to, unit_of(cfg.policy), cfg.policy)
    args[args.index("--reason") + 1] = "民眾反映櫃檯遺失皮夾"   # in the site's words, as the pages read
    r = people.as_("clerk").ctl(*["值勤臺" if a == "Counter section" else a for a in args])
    assert r.returncode == 0, r.stderr
    request = json.loads(r.stdout)
    assert [s["name"] for s in request["chain"]] == [s.name for s in steps]
    rid = str(request["id"])
    for i, signer in enumerate(site.signers):
        r = people.as_(signer).ctl("request", "approve", rid, "--reason", "確有必要", "--json")
        assert r.returncode == 0, r.stderr
        if i + 1 < len(site.signers):  # a signer of an earlier step never signs another
            again = people.ctl("request", "approve", rid, "--reason", "再簽")
            assert again.returncode == 2 and "already signed" in again.stderr, again.stderr
    grant = json.loads(r.stdout)["grant"]   # used at once: the site's grants expire a minute after approval
    assert grant["approvers"] == site.signers and grant["mode"] == use
    people.as_("carol")
    if use == "copy":
        out = tmp_path / "export"
        extra = ["--receipt", "Lin Mei"] if rules.receipt else ["--recipient", "Lin Mei"]
        r = people.ctl("export", "--grant", str(grant["id"]), "--out", str(out), *extra)
        assert r.returncode == 0, r.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["recipient"] == "Lin Mei"
        assert manifest.get("receipt_signed_by") == ("Lin Mei" if rules.receipt else None)
    else:
        status, body = asyncio.run(_play(site.base, "carol", grant["id"]))
        if redacted:   # the whole picture refused (the desk's walk: design/0232)
            assert status == 409 and "遮蔽複本" in body["error"], body
        else:
            assert status == 200 and body["type"] == "answer", body
    if not redacted:
        wait_for(lambda: next(q for q in rows(d, "requests") if q["id"] == int(rid))["state"] == "used", 10,
                 "the grant used")
    actions = [a["action"] for a in audit_rows(d)[before:] if a["action"].split(".")[0] in (
        "request", "grant", "export", "playback")]
    assert actions[:len(site.signers) + 1] == ["request.file", *["request.step"] * (len(site.signers) - 1),
                                               "request.approve"]
    assert ("grant.refused" if redacted else "grant.use") in actions
    assert redacted or ("export.done" if use == "copy" else "playback.start") in actions
    if use == "copy":
        register = [e for e in rows(d, "exports") if e["grant_id"] == grant["id"]]
        assert len(register) == 1 and json.loads(register[0]["detail"]).get("receipt_signed_by") == (
            "Lin Mei" if rules.receipt else None)


@pytest.mark.parametrize("name, kind, use", CASES, ids=[c[0][:3] for c in CASES])
def test_an_expired_grant_in_the_sites_words(sites, name, kind, use):
    """After every site's walk: the grant, approved a minute before expiring when the site opened, has
    expired meanwhile; the playback page offers nothing to start and says why."""
    site = sites[name].result()
    carol = site.sessions["carol"]
    expired = in_language(ZH, "grant {id} expired; file a new request").format(id=site.gid)
    answer = wait_for(lambda: (a := carol.get(f"{site.base}/api/grant/{site.gid}", timeout=30).json())
                      .get("unusable") == expired and a, 120, "the grant expired")
    assert faults(said(answer), site.allowed) == [], answer
