"""Keeps the daemon's auxiliary tasks alive (design record 0020).

Recording must never stop because of a part beside it (R1.1): the viewer, MQTT reporting,
retention, health, inspections, the people watch and the rest each run under `keep`. A
task that raises is logged with its traceback, raises the critical alarm
`task_failed:<name>` and is started again after a backoff (1 s doubling to a minute);
the alarm clears once the task has run for `STABLE_S` again. A task that returns is done
(a switched-off viewer returns at once). CancelledError is never swallowed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from edged.alarms import Alarms
from edged.i18n import Msg, A_
from storage.alarm_kinds import TASK_FAILED
from storage.time.clock import wait_or_stop

log = logging.getLogger(__name__)

TaskFn = Callable[[asyncio.Event], Awaitable[None]]
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
STABLE_S = 30.0     # a task that ran this long since its last failure is well again


def backoff_s(failures: int, rng: random.Random) -> float:
    """Seconds to wait before the next start after `failures` failures in a row (jittered)."""
    base: float = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** max(0, min(failures - 1, 16)))
    return base * rng.uniform(0.8, 1.2)


async def keep(name: str, fn: TaskFn, stopping: asyncio.Event, alarms: Alarms | None,
               rng: random.Random | None = None, *, even_if_stopped: bool = False) -> None:
    """Run `fn(stopping)` until it returns or edged stops, restarting it after each failure.
    `even_if_stopped`: started once even when edged stops before it could start (work that
    something else waits for)."""
    rng = rng or random.Random()
    failures = 0
    first = even_if_stopped
    while first or not stopping.is_set():
        first = False
        task = asyncio.ensure_future(fn(stopping))
        try:
            if failures:
                done, _ = await asyncio.wait({task}, timeout=STABLE_S)
                if not done:
                    failures = 0
                    await _clear(alarms, name)
            await task
            return
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - the point of this module: log, alarm, restart
            failures += 1
            delay = backoff_s(failures, rng)
            log.exception("task %s failed (%s); recording goes on; restarting it in %.1f s", name,
                          type(exc).__name__, delay)
            await _raise(alarms, name, exc, failures)
        if not await wait_or_stop(stopping, delay):
            log.info("task %s restarted (failure %d in a row)", name, failures)


async def _raise(alarms: Alarms | None, name: str, exc: BaseException, failures: int) -> None:
    if alarms is None:
        return
    message = Msg(A_("edged's {task} task failed ({error}: {why}); recording goes on, the task is restarted"),
                  task=name, error=type(exc).__name__, why=str(exc)[:200])
    try:
        await alarms.raise_(TASK_FAILED, message, {"task": name, "error": type(exc).__name__, "failures": failures},
                            about=name)
    except Exception:  # noqa: BLE001 - the catalog may be the trouble; the log has it
        log.exception("could not raise the alarm for task %s", name)


async def _clear(alarms: Alarms | None, name: str) -> None:
    if alarms is None:
        return
    try:
        await alarms.clear(TASK_FAILED.key(name))
    except Exception:  # noqa: BLE001
        log.exception("could not clear the alarm for task %s", name)
