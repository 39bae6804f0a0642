"""A login and connection flood against the web viewer (issue 14), for the test and the bench.

From one client address: `logins` POST /api/login with `name_bytes`-long names, `short`
wrong logins with short, valid-looking names, and `idle` connections held open for the
whole run (a third send nothing, a third half a request line, a third half the headers),
spread over `seconds`. A legitimate login from another address (127.0.0.2) can be tried
in between with `login_from`.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import resource
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.catalog import pragma


@dataclass
class FloodResult:
    statuses: dict[int | str, int] = field(default_factory=dict)
    idle_opened: int = 0
    idle_reset: int = 0       # idle connections the viewer closed or refused
    seconds: float = 0.0

    def count(self, key: int | str) -> None:
        self.statuses[key] = self.statuses.get(key, 0) + 1


def raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


def login_from(source: str, port: int, name: str, password: str, timeout: float = 30) -> tuple[int, dict]:
    """A login from `source` (e.g. "127.0.0.2"): (HTTP status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        body = json.dumps({"name": name, "password": password})
        conn.request("POST", "/api/login", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


async def _login(port: int, body: bytes, result: FloodResult) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    except (OSError, TimeoutError):
        result.count("connect-failed")
        return
    try:
        head = (f"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        writer.write(head + body)
        try:
            await asyncio.wait_for(writer.drain(), 10)
        except (OSError, TimeoutError):
            pass  # the viewer answered (413) before reading it all
        line = await asyncio.wait_for(reader.readline(), 10)
        parts = line.split()
        result.count(int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else "no-answer")
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        result.count("reset")
    finally:
        writer.close()


async def _idle(port: int, kind: int, hold: asyncio.Event, result: FloodResult) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    except ConnectionResetError:  # refused by the viewer's accept before this side saw it open
        result.idle_opened += 1
        result.idle_reset += 1
        return
    except (OSError, TimeoutError):
        result.count("idle-connect-failed")
        return
    result.idle_opened += 1
    try:
        if kind == 1:
            writer.write(b"POST /api/lo")
        elif kind == 2:
            writer.write(f"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
        await writer.drain()
        closed = asyncio.ensure_future(reader.read(1))
        waiting = asyncio.ensure_future(hold.wait())
        done, _ = await asyncio.wait({closed, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if closed in done:
            result.idle_reset += 1
        closed.cancel()
        waiting.cancel()
    except (OSError, TimeoutError):
        result.idle_reset += 1
    finally:
        writer.close()


async def flood(port: int, *, logins: int = 1000, name_bytes: int = 200 * 1024, short: int = 200,
                idle: int = 1500, seconds: float = 60.0, concurrency: int = 16, seed: int = 14) -> FloodResult:
    """Run the flood for about `seconds`; every idle connection is closed at the end."""
    raise_nofile(idle + concurrency + 256)
    rng = random.Random(seed)
    result = FloodResult()
    hold = asyncio.Event()
    big = json.dumps({"name": "x" * name_bytes, "password": "guess"}).encode()
    jobs: list[bytes] = [big] * logins + [
        json.dumps({"name": f"user{rng.randrange(10**6)}", "password": "guess"}).encode() for _ in range(short)]
    rng.shuffle(jobs)
    started = time.monotonic()
    idlers: list[asyncio.Task] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(body: bytes, at: float) -> None:
        await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
        async with gate:
            await _login(port, body, result)

    async def open_idle() -> None:
        for i in range(idle):
            await asyncio.sleep(max(0.0, i * seconds / idle - (time.monotonic() - started)))
            idlers.append(asyncio.ensure_future(_idle(port, i % 3, hold, result)))

    span = seconds * 0.95
    await asyncio.gather(open_idle(), *(one(b, i * span / len(jobs)) for i, b in enumerate(jobs)))
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
    hold.set()
    await asyncio.gather(*idlers, return_exceptions=True)
    result.seconds = time.monotonic() - started
    return result


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def stored_bytes(data: Path) -> int:
    """Bytes the catalog and the outbox hold (pages in use, WAL included; not the WAL file's
    length, which grows with any writing and is reused after each checkpoint)."""
    total = 0
    for name in ("catalog.db", "outbox.db"):
        conn = sqlite3.connect(f"file:{data / name}?mode=ro", uri=True)
        try:
            count, free, size = (pragma(conn, p) for p in ("page_count", "freelist_count", "page_size"))
            total += (count - free) * size
        finally:
            conn.close()
    return total
