"""A child process this one starts to outlive it: the next daemon of an upgrade's handover (design/0353, 0467).

asyncio's subprocess transport kills a child still running when the transport is closed or collected. Under
Python 3.11 the child watcher's thread held it until the child ended; from Python 3.12 the loop watches the
child through a pidfd, so the transport is collected once this daemon's loop ends, and the next daemon, which
had just taken over recording, was SIGKILLed six seconds after the handover (the package tier on Debian 13,
python3.13). Here the child is a plain `subprocess.Popen` (never killed when collected: the standard library
reaps it or leaves it) and its end is watched through a pidfd on the running loop, as asyncio's own watcher
does. Standard library only: tests/test_successor.py runs it under each Python it finds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess


class Successor:
    """`argv` started with `pass_fds` and `env`, stdin from /dev/null; `returncode` None while it runs,
    `wait()` its status, `terminate()` SIGTERM. Made in a coroutine (its end is watched on that loop)."""

    def __init__(self, argv: list[str], pass_fds: tuple[int, ...], env: dict[str, str]):
        self._loop = asyncio.get_running_loop()
        self._popen = subprocess.Popen(argv, pass_fds=pass_fds, env=env, stdin=subprocess.DEVNULL)
        self.pid = self._popen.pid
        self._ended: asyncio.Future[int] = self._loop.create_future()
        self._pidfd = os.pidfd_open(self.pid)
        self._loop.add_reader(self._pidfd, self._on_end)

    def _on_end(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        code = self._popen.wait()   # it has ended (the pidfd is readable): reaped at once
        if not self._ended.done():
            self._ended.set_result(code)

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    async def wait(self) -> int:
        return await asyncio.shield(self._ended)

    def terminate(self) -> None:
        if self._popen.returncode is None:
            self._popen.terminate()
