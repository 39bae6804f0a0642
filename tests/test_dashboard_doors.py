"""The dashboard's doors (issue 56 item 4, design/0185): the desk's buckets (per address, and per
account spent only by failures) and a share per address of the checks under way, the rest waiting
their turn. The fair share by a table, then a real dashboard on a real port: 200 wrong passwords
at once from 100 addresses and four forms sent a byte at a time, while the auditor logs in from her
own PC, which goes first."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import re
import socket
import threading
import time
import urllib.parse

from central import login
from storage.people.doors import FairShare
from tests.support.daemon import wait_for

AUDITOR_PW = "the auditors own words"


def test_a_fair_share_lets_each_address_one_check_and_serves_the_longest_waiting():
    slots: FairShare[str] = FairShare(cap=2, share=1)
    assert slots.ask("a", "a1") is True and slots.ask("a", "a2") is None   # one running, one waiting
    assert slots.ask("a", "a3") is False                                  # no more from a
    assert slots.ask("b", "b1") is True and slots.ask("c", "c1") is None   # the cap is full: c waits
    assert slots.ask("d", "d1") is None
    assert slots.done("b") == ["c1"]          # a's second try waits for its first: c goes
    assert slots.ask("b", "b2") is None       # the cap is full again
    assert slots.done("a") == ["a2"]          # then the longest waiting, one each ...
    assert slots.done("a") == ["d1"] and slots.done("c") == ["b2"]   # ... b, who came last, last
    assert slots.done("d") == [] and slots.done("b") == []
    assert slots.running == {} and not slots.waiting
    slots.ask("x", "x1"), slots.ask("y", "y1"), slots.ask("z", "z1")
    slots.forget("z", "z1")                   # its client went away
    assert slots.done("x") == [] and slots.waiting == {}
    slots.done("y")
    slots.ask("e", "e1"), slots.ask("f", "f1"), slots.ask("g", "g1"), slots.ask("h", "h1", ahead=True)
    assert slots.done("e") == ["h1"], "an address that logged in right lately waits first"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login(port: int, source: str, user: str, password: str) -> tuple[int, str]:
    def conn() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(source, 0))
    c = conn()
    try:
        c.request("GET", "/login", headers={"Host": f"127.0.0.1:{port}"})
        r = c.getresponse()
        cookie, page = r.getheader("Set-Cookie", "").split(";", 1)[0], r.read().decode()
    finally:
        c.close()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    token = found.group(1)
    c = conn()
    try:
        c.request("POST", "/login", body=urllib.parse.urlencode({"user": user, "password": password, "csrf": token}),
                  headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
                           "Host": f"127.0.0.1:{port}"})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def test_200_wrong_passwords_at_once_never_keep_the_auditor_out(tmp_path):
    from central import config
    from central.pages.dashboard import Dashboard

    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndata_dir = "central-data"\n'
                   f'[dashboard.accounts.lin]\nrole = "auditor"\npassword_hash = "{login.hash_password(AUDITOR_PW)}"\n')
    loop, port = asyncio.new_event_loop(), _free_port()
    dash = Dashboard(config.load(cfg))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(dash.start("127.0.0.1", port), loop).result(30)
    try:
        assert _login(port, "127.0.0.1", "lin", AUDITOR_PW)[0] == 303   # her PC, yesterday
        slow = [socket.create_connection(("127.0.0.1", port), source_address=(f"127.0.2.{i}", 0)) for i in (1, 2, 3, 4)]
        for sock in slow:   # four logins whose forms come a byte at a time (they held every place on main)
            sock.sendall(f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-"
                         "urlencoded\r\nContent-Length: 100\r\n\r\nuser=".encode())
        wait_for(lambda: all(f"127.0.2.{i}" in dash.sessions.fails for i in (1, 2, 3, 4)), 30, "the slow forms read")
        with concurrent.futures.ThreadPoolExecutor(200) as pool:
            flood = [pool.submit(_login, port, f"127.0.1.{1 + i % 100}", "lin", f"guess {i}") for i in range(200)]
            wait_for(lambda: sum(f.done() for f in flood) >= 8, 120, "the flood under way")
            began = time.monotonic()
            status, page = _login(port, "127.0.0.1", "lin", AUDITOR_PW)
            took = time.monotonic() - began
            answers = [f.result() for f in flood]
        for sock in slow:
            sock.close()
    finally:
        asyncio.run_coroutine_threadsafe(dash.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
    checked = sum("Wrong account or password" in p for _s, p in answers)
    print(f"dashboard: 200 wrong passwords at once from 100 addresses, {checked} checked; "
          f"the auditor logged in in {took:.1f} s")   # the figure (pytest -s)
    assert status == 303, f"the auditor was refused: {status} {page[-300:]}"
    assert checked <= 10 + 100, "the account's bucket and each address's hold still bound the checks"
