"""A flood on the control socket (issue 27), run as another OS account: `connections` clients
each send `request` (one JSON object) again and again for `seconds`, a new connection each time,
as edgectl does; `idle` more connect and send nothing. Prints the outcomes as one JSON object:
{"ok", "busy", "refused", "reset", "idle_closed", ...}.

Standard library only: the test runs it with `python -c` under another uid (subprocess's
`user=`), which may not read the project's packages.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter


async def _one(path: str, line: bytes, counts: Counter) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), 10)
    except (OSError, TimeoutError):
        counts["connect-failed"] += 1
        await asyncio.sleep(0.05)
        return
    try:
        writer.write(line)
        await writer.drain()
        reply = await asyncio.wait_for(reader.readline(), 60)
        if not reply:
            counts["reset"] += 1
            return
        msg = json.loads(reply)
        counts["ok" if msg.get("ok") else (msg.get("code") or "refused")] += 1
    except (OSError, TimeoutError, ValueError):
        counts["reset"] += 1
    finally:
        writer.close()


async def _idle(path: str, until: float, counts: Counter) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), 10)
    except (OSError, TimeoutError):
        counts["idle-connect-failed"] += 1
        return
    try:
        got = await asyncio.wait_for(reader.read(1), max(0.1, until - time.monotonic()))
        counts["idle_closed" if not got else "idle_answered"] += 1
    except TimeoutError:
        counts["idle_held"] += 1
    except OSError:
        counts["idle_closed"] += 1
    finally:
        writer.close()


async def flood(path: str, request: dict, seconds: float, connections: int, idle: int) -> Counter:
    counts: Counter = Counter()
    line = (json.dumps(request) + "\n").encode()
    until = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < until:
            await _one(path, line, counts)

    await asyncio.gather(*(client() for _ in range(connections)), *(_idle(path, until, counts) for _ in range(idle)))
    return counts


if __name__ == "__main__":
    path, request, seconds, connections, idle = sys.argv[1], json.loads(sys.argv[2]), *map(float, sys.argv[3:6])
    print(json.dumps(asyncio.run(flood(path, request, seconds, int(connections), int(idle)))))
