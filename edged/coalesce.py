"""One audit record per caller per minute for refusals a person can repeat at will (design/0062):
the first refusal of a minute is written in full, the rest are counted and written as one
summary once the minute is over. Pure: plain data and an injected clock (seconds, monotonic);
flush_until_stopped is the loop the ledgers built on it run (edged/control/reads.py, the standby's).

A viewer account asking for /api/live/<7,000-character id> 825 times a second once grew the
catalog by 235 MB in 20 s; the audit chain is never deleted, so retention would have paid for it
in footage. The chain still says that each refusal happened: in full, or in a summary's count.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

WINDOW_S = 60.0
K = TypeVar("K", bound=Hashable)   # who is coalesced: a session's (account, token, action), a filer, ...


@dataclass(slots=True)
class Coalescer(Generic[K]):
    window_s: float = WINDOW_S
    started: dict[K, float] = field(default_factory=dict)  # key -> its minute's start
    counted: dict[K, int] = field(default_factory=dict)    # key -> refusals not written this minute

    def note(self, key: K, now: float) -> bool:
        """One more refusal by `key`: True to write it in full, False when it is only counted."""
        start = self.started.get(key)
        if start is None or now - start >= self.window_s:
            if not self.counted.get(key):
                self.started[key] = now
                return True
        self.counted[key] = self.counted.get(key, 0) + 1
        return False

    def due(self, now: float) -> list[tuple[K, int]]:
        """(key, refusals counted) whose minute is over, each once; their keys are forgotten."""
        out = []
        for key, start in list(self.started.items()):
            if now - start >= self.window_s:
                n = self.counted.pop(key, 0)
                del self.started[key]
                if n:
                    out.append((key, n))
        return out


async def flush_until_stopped(flush: Callable[[bool], Awaitable[int]], window_s: float,
                              stopping: asyncio.Event) -> None:
    """A ledger's summaries of minutes that are over, a few times a minute; at a clean stop,
    every one still open (`flush(final)`)."""
    while not stopping.is_set():
        try:
            await asyncio.wait_for(stopping.wait(), window_s / 4)
        except TimeoutError:
            await flush(False)
    await flush(True)
