"""Floods from people on the box (issue 27), for the test and the bench: the control socket
from other OS accounts (tests/support/socket_flood.py run as them), and refused live views with
long camera ids from a logged-in viewer account; a custodian's parallel playback starts on a
grant (used or not); half-open TLS connections that never send a ClientHello.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
import subprocess
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from edged.viewer.http import COOKIE
from tests.support.people import People, password_for

# the system's Python: the floods run as other OS accounts, which may not reach the test's own
PYTHON = "/usr/bin/python3"
GROUP = 65534   # nogroup: the control socket's group in these runs
SCRIPT = (Path(__file__).parent / "socket_flood.py").read_text()


def flood_as(uid: int, socket: Path, request: dict, seconds: float, connections: int, idle: int = 0) -> subprocess.Popen:
    """socket_flood.py as OS account `uid`; its stdout is the outcomes as JSON."""
    return subprocess.Popen([PYTHON, "-c", SCRIPT, str(socket), json.dumps(request), str(seconds),
                             str(connections), str(idle)], user=uid, group=GROUP, extra_groups=[],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")


def outcome(p: subprocess.Popen, timeout: float) -> dict:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    return json.loads(out)


def request_as(uid: int, socket: Path, request: dict) -> dict:
    """One request on the control socket from OS account `uid`: the reply."""
    code = ("import json,socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1]); "
            "s.sendall((sys.argv[2]+'\\n').encode()); print(s.makefile().readline())")
    r = subprocess.run([PYTHON, "-c", code, str(socket), json.dumps(request)], user=uid, group=GROUP,
                       extra_groups=[], capture_output=True, text=True, timeout=120, cwd="/")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def login(name: str) -> dict:
    return {"op": "login", "args": {"name": name, "password": password_for(name)}}


def viewer_cookie(port: int, name: str, tls: ssl.SSLContext | None = None) -> str:
    """Log `name` in to the viewer on 127.0.0.1 (over TLS with `tls`): the session cookie."""
    conn = (http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=tls) if tls
            else http.client.HTTPConnection("127.0.0.1", port, timeout=30))
    try:
        conn.request("POST", "/api/login", json.dumps({"name": name, "password": password_for(name)}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        # the session's cookie by its name: a login also sets the browser's mark (design/0320)
        return next(c.split(";")[0] for c in r.msg.get_all("Set-Cookie") if c.startswith(f"{COOKIE}="))
    finally:
        conn.close()


def grant(people: People, camera: str, from_us: int, to_us: int) -> int:
    """A request filed by vera (a viewer) and approved by adam (an approver): the grant's id."""
    def iso(us: int) -> str:
        return datetime.fromtimestamp(us / 1e6, timezone.utc).isoformat()
    r = people.as_("vera").ctl("request", "file", "--kind", "internal", "--category", "lost-property",
                               "--reason", "a lost wallet", "--camera", camera, "--from", iso(from_us),
                               "--to", iso(to_us), "--requester", "Flood", "--org", "Flood", "--json")
    assert r.returncode == 0, r.stderr
    r = people.as_("adam").ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason", "test", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["grant"]["id"]


async def live_refusals(port: int, cookie: str, seconds: float, clients: int = 8, id_len: int = 7000,
                        tls: ssl.SSLContext | None = None) -> Counter:
    """`clients` loops asking for /api/live/<an unknown id of `id_len` characters>, for `seconds`."""
    return await posts(port, cookie, "/api/live/" + "z" * id_len, b"{}", seconds, clients, tls)


async def playback_starts(port: int, cookie: str, grant: int, camera: str, seconds: float, clients: int = 8,
                          tls: ssl.SSLContext | None = None, source: str = "127.0.0.1") -> Counter:
    """A custodian's `clients` loops starting playback of `grant` (with no offer: a grant not yet
    used costs a seek each time, then 400; a used one is refused before any media work)."""
    body = json.dumps({"grant": grant, "camera": camera}).encode()
    return await posts(port, cookie, "/api/playback", body, seconds, clients, tls, source)


async def posts(port: int, cookie: str, path: str, body: bytes, seconds: float, clients: int,
                tls: ssl.SSLContext | None = None, source: str = "127.0.0.1") -> Counter:
    """`clients` loops POSTing `body` to `path` as the session of `cookie`, for `seconds`: statuses."""
    counts: Counter = Counter()
    until = time.monotonic() + seconds
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body

    async def client() -> None:
        while time.monotonic() < until:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, ssl=tls, local_addr=(source, 0)), 10)
            except (OSError, TimeoutError):
                counts["connect-failed"] += 1
                await asyncio.sleep(0.05)
                continue
            try:
                writer.write(head)
                line = await asyncio.wait_for(reader.readline(), 30)
                parts = line.split()
                counts[int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else "reset"] += 1
            except (OSError, TimeoutError):
                counts["reset"] += 1
            finally:
                writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return counts


async def half_open(port: int, seconds: float, connections: int = 1000, source: str = "127.0.0.1",
                    pause: float = 1.0) -> Counter:
    """Keep up to `connections` TCP connections to the viewer that never send a ClientHello, for
    `seconds` (a closed one is opened again after `pause`): "reset at once" (closed within 5 s), "held" (closed
    later, by the handshake deadline) and "never closed" (still open 15 s after the flood, past the deadline:
    the client's view, which includes connections the kernel dropped from a full accept queue without
    telling the client; the daemon's descriptors are the measure of what they cost)."""
    counts: Counter = Counter()
    until = time.monotonic() + seconds

    async def one() -> None:
        while time.monotonic() < until:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 10)
            except (OSError, TimeoutError):
                counts["connect-failed"] += 1
                await asyncio.sleep(0.05)
                continue
            start = time.monotonic()
            try:
                await asyncio.wait_for(reader.read(1), max(0.0, until - start) + 15)
                counts["reset at once" if time.monotonic() - start < 5 else "held"] += 1
            except TimeoutError:
                counts["never closed"] += 1
            except OSError:
                counts["reset at once" if time.monotonic() - start < 5 else "held"] += 1
            finally:
                writer.close()
            await asyncio.sleep(pause)

    await asyncio.gather(*(one() for _ in range(connections)))
    return counts
