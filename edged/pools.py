"""Thread pools for the slow work a person can start (issue 27, design/0062): password checks
(scrypt), reports' catalog reads, audit verification and media starts.

Each kind has a small pool of its own, never asyncio's default executor, so a flood of one kind
waits behind itself and nothing the daemon needs for recording (the storage probe has a thread
of its own) ever queues behind it. Each caller (the control socket's uid, the viewer's account
or address: `CALLER`, set per request) may have at most `per_caller` jobs of a kind in flight,
and a kind at most `queue` in all; beyond either the job is refused at once with `Busy`, so
neither memory nor waiting time grows with a flood.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from edged.i18n import N_, _

T = TypeVar("T")

# Who is asking, for the per-caller cap: "uid 1001" on the control socket, "account vera" or
# "address 10.0.0.9" in the viewer; the daemon's own work is "edged".
CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("edged_pool_caller", default="edged")

BUSY = N_("edged is busy with {n} {what} of yours already; try again when they are done")


class Busy(Exception):
    """Refused at once: this caller (or everyone together) has too many jobs of this kind running."""


class Pool:
    def __init__(self, name: str, what: str, *, threads: int, per_caller: int, queue: int):
        self.name, self.what = name, what
        self.threads, self.per_caller, self.queue = threads, per_caller, queue
        self.busy: Counter[str] = Counter()
        self.refused = 0
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:  # made on first use: importing this module starts no thread
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix=f"edged-{self.name}")
        return self._executor

    def admit(self, who: str) -> None:
        """Take a slot for `who`, or raise Busy. Pure bookkeeping (tests call it directly)."""
        if self.busy[who] >= self.per_caller or sum(self.busy.values()) >= self.queue:
            self.refused += 1
            raise Busy(_(BUSY).format(n=self.busy[who] or sum(self.busy.values()), what=_(self.what)))
        self.busy[who] += 1

    def release(self, who: str) -> None:
        self.busy[who] -= 1
        if self.busy[who] <= 0:
            del self.busy[who]

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        who = CALLER.get()
        self.admit(who)
        try:
            call = functools.partial(contextvars.copy_context().run, fn, *args)
            return await asyncio.get_running_loop().run_in_executor(self.executor, call)
        finally:
            self.release(who)


# The sizes: the box has a few cores; scrypt takes ~64 MiB and ~0.1 s a check.
LOGINS = Pool("logins", N_("password checks"), threads=2, per_caller=2, queue=16)
REPORTS = Pool("reports", N_("reports"), threads=2, per_caller=2, queue=16)
VERIFY = Pool("verify", N_("audit verifications"), threads=1, per_caller=1, queue=4)
MEDIA = Pool("media", N_("playback starts"), threads=2, per_caller=2, queue=8)
