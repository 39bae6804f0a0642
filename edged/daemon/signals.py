"""The daemon's signals: SIGTERM/SIGINT stop it (a second one exits at once), SIGHUP reloads the
config; and, with EDGED_TEST_HOOKS=1 only, the fault-injection hooks the tests use."""

from __future__ import annotations

import asyncio
import errno
import faulthandler
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Awaitable, Callable, Protocol

from edged.config import Config, ConfigError, load_config
from edged.daemon.notify import Notifier
from edged.daemon.retention_runner import RetentionRunner
from edged.daemon.recording.supervisor import Supervisor
from edged.daemon.task_keeper import TaskFn
from storage.catalog import CatalogWriter

log = logging.getLogger(__name__)
STOP_DUMP_S = 20.0  # a stop still running after this long dumps every thread's stack to the log
ReloadHook = Callable[[Config], Awaitable[None]]  # a step of a SIGHUP's reload, after the supervisor's


class Follower(Protocol):
    """A part that takes a reloaded config at once: its `cfg` is replaced (retention, health, ...)."""

    cfg: Config


async def _reload(sup: Supervisor, hooks: list[ReloadHook], cfg: Config) -> None:
    """The cameras first, then the viewer's list, the retention record and the birth: one
    failing step is logged and does not keep the others from running."""
    for step in [sup.reload, *hooks]:
        try:
            await step(cfg)
        except Exception:  # noqa: BLE001 - a reload half applied is still better than none
            log.exception("reload step %s failed", getattr(step, "__qualname__", step))


def install_test_hooks(writer: CatalogWriter, data_dir: Path, runner: RetentionRunner) -> Callable[[str, TaskFn], TaskFn]:
    """EDGED_TEST_HOOKS=1 only: SIGUSR2 wedges the catalog writer, to test the watchdog; SIGUSR1
    injects the faults named in <data_dir>/test-faults, one a line: a task's name (it raises
    at once) or "retention-emfile N" (the next N unlinks of a retention pass fail with EMFILE)."""
    wedge = threading.Event()
    loop = asyncio.get_running_loop()
    trips: dict[str, asyncio.Event] = {}
    emfile = [0]

    def block() -> None:
        log.warning("test hook: blocking the catalog writer")
        loop.run_in_executor(writer._pool, wedge.wait)

    def unlink(path: Path) -> None:
        if emfile[0] > 0:
            emfile[0] -= 1
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), str(path))
        os.unlink(path)

    def inject() -> None:
        for line in (data_dir / "test-faults").read_text().splitlines():
            words = line.split()
            if words and words[0] == "retention-emfile":
                emfile[0] += int(words[1])
            elif words:
                trips.setdefault(words[0], asyncio.Event()).set()
            log.warning("test hook: fault %s injected", line.strip())

    def hooked(name: str, fn: TaskFn) -> TaskFn:
        async def run(stopping: asyncio.Event) -> None:
            trip = trips.setdefault(name, asyncio.Event())
            trip.clear()
            inner = asyncio.ensure_future(fn(stopping))
            tripped = asyncio.ensure_future(trip.wait())
            try:
                await asyncio.wait({inner, tripped}, return_when=asyncio.FIRST_COMPLETED)
                if inner.done():
                    return inner.result()
                inner.cancel()
                await asyncio.wait({inner})
                raise RuntimeError(f"test fault injected into {name}")
            finally:
                inner.cancel()
                tripped.cancel()
        return run

    runner.unlink = unlink
    loop.add_signal_handler(signal.SIGUSR2, block)
    loop.add_signal_handler(signal.SIGUSR1, inject)
    return hooked


def install_signals(sup: Supervisor, followers: tuple[Follower, ...], notifier: Notifier,
                     config_path: Path | None, hooks: list[ReloadHook], allow_secrets: bool = False,
                     handover: Callable[[], None] | None = None) -> None:
    """SIGTERM and SIGINT stop, SIGHUP reloads the config, SIGUSR2 hands over to the next daemon
    (`handover`, edged/daemon/handover.py; under EDGED_TEST_HOOKS=1 the test hook's instead)."""
    loop = asyncio.get_running_loop()

    def stop(signame: str) -> None:
        if sup.stopping.is_set():
            log.warning("%s again: exiting at once; open segments are recovered at the next start", signame)
            sup.workers.kill()
            os._exit(1)
        log.info("%s: closing open segments and stopping", signame)
        # if the stop ever hangs, the log shows where every thread waits (and systemd's
        # TimeoutStopSec ends it): a stop that hangs is a bug to find, not to guess
        faulthandler.dump_traceback_later(STOP_DUMP_S, repeat=True)
        notifier.stopping()
        sup.request_stop()

    def reload() -> None:
        if config_path is None:
            log.warning("SIGHUP: running on the embedded default config, nothing to reload")
            return
        try:
            cfg = load_config(config_path, allow_config_secrets=allow_secrets)
        except ConfigError as exc:
            log.error("SIGHUP: config not reloaded, still running the previous one: %s", exc)
            return
        log.info("SIGHUP: reloading the cameras, retention, health and inspection settings from %s", config_path)
        for follower in followers:  # retention, its space check, health and inspections take them at once
            follower.cfg = cfg
        sup.submit(_reload(sup, hooks, cfg), "reload")

    loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, stop, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, reload)
    if handover is not None:
        loop.add_signal_handler(signal.SIGUSR2, handover)
