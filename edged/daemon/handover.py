"""The running daemon's side of an upgrade's handover (design/0353): SIGUSR2 (nginx's binary
upgrade signal) starts the next daemon, which connects every camera before this one lets it go.

1. The next daemon is started as the unit starts one (EDGED_START, the package's start script,
   which reads the link postinst switched: the new version), `run --config ... --handover-fd N`,
   with one end of a socket pair; it is told nothing else (edged/daemon/recording/succession.py).
2. It says `{"holding": [...]}` once its cameras hold from a keyframe (or refuses, or ends, or says
   nothing within READY_WITHIN_S: then it is ended and this daemon records on, saying why).
3. Each camera is told to give itself over at its next keyframe (recorder/handover.py); each
   `Handed` is passed on at once, and the next daemon's camera writes on from that keyframe.
4. Once all are handed (or GIVE_WITHIN_S passed), systemd is told the next daemon is the service's
   main process (MAINPID=, as nginx's upgrade under systemd), the next daemon is told `release`,
   and this one stops as at a SIGTERM: its last segments are already closed, its catalog and lock
   are let go at its end, which the next daemon waits for before it opens them.

Recording never depends on the next daemon being healthy: until step 3 nothing here changes; if the
next daemon ends during step 3, the cameras given are added back to this daemon's workers.
The catalog has one writer throughout: the next daemon's rows wait in its workers' pipes until
it holds the lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from edged.daemon.notify import Notifier
from edged.daemon.recording.prestart import add_command
from edged.daemon.recording.supervisor import Supervisor
from recorder import events
from storage.process.successor import Successor

log = logging.getLogger("edged.daemon")
READY_WITHIN_S = 60.0  # the next daemon's start, imports and every camera's first keyframe held
GIVE_WITHIN_S = 15.0   # each worker stops a camera with no keyframe in 10 s (recorder/worker.py)
END_WITHIN_S = 10.0    # a called-off next daemon ends its held workers within this


def successor_argv(config_path: Path | None, allow_secrets: bool, fd: int) -> list[str]:
    """The unit's start script when the daemon was started by it (debian/edged.start exports its own
    path as EDGED_START): the version the package configured last. Else this interpreter (a
    handover to the same version)."""
    start = os.environ.get("EDGED_START")
    argv = [start] if start else [sys.executable, "-m", "edged.cli"]
    argv += ["run", "--handover-fd", str(fd)]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    return argv + (["--allow-config-secrets"] if allow_secrets else [])


def successor_env() -> dict[str, str]:
    """This daemon's environment, but WATCHDOG_PID: the watchdog is the next daemon's once it is the
    main process (edged/daemon/notify.py pings when WATCHDOG_PID is unset or its own)."""
    return {k: v for k, v in os.environ.items() if k != "WATCHDOG_PID"}


class Handover:
    def __init__(self, sup: Supervisor, notifier: Notifier, config_path: Path | None, allow_secrets: bool):
        self.sup, self.notifier = sup, notifier
        self.config_path, self.allow_secrets = config_path, allow_secrets
        self.busy = False
        self.handed_to: int | None = None  # the next daemon's pid, once it records

    def request(self) -> None:
        """SIGUSR2: hand over (once at a time; never while stopping)."""
        if self.busy or self.sup.stopping.is_set():
            log.warning("SIGUSR2: a handover is under way or edged is stopping: nothing more to do")
            return
        self.busy = True
        self.sup.submit(self._run(), "handover")

    async def _run(self) -> None:
        try:
            await self.hand_over()
        finally:
            self.busy = False

    async def hand_over(self) -> bool:
        ours, theirs = socket.socketpair()
        try:
            argv = successor_argv(self.config_path, self.allow_secrets, theirs.fileno())
            # never asyncio's subprocess: from Python 3.12 it kills the next daemon at this one's end (design/0467)
            proc = Successor(argv, (theirs.fileno(),), successor_env())
        finally:
            theirs.close()
        log.info("handover: started the next daemon (pid %d); recording goes on here until it holds every camera",
                 proc.pid)
        reader, writer = await asyncio.open_connection(sock=ours)
        said = await _first_word(reader)
        if "holding" not in said:
            # i18n: the journal's (two lines)
            why = said.get("refused") or ("it ended before holding its cameras" if said.get("ended")
                                          else f"it did not hold its cameras within {READY_WITHIN_S:.0f} s")
            await _call_off(proc, writer)
            log.error("handover: the next daemon did not take over: %s (status %s); recording goes on here",
                      why, proc.returncode)
            return False
        given = await self._give(writer, proc)
        if proc.returncode is not None:  # it ended while the cameras were given: they come back here
            await self._take_back(given)
            log.error("handover: the next daemon ended (status %s) while taking over; recording goes on here",
                      proc.returncode)
            return False
        self.notifier.main_pid(proc.pid)
        writer.write(b'{"release": true}\n')
        await writer.drain()
        self.handed_to = proc.pid
        log.info("handover: the next daemon (pid %d) records every camera; stopping (its catalog and lock "
                 "are let go at this process's end)", proc.pid)
        self.sup.request_stop()  # the socket closes at this process's end: the next daemon then takes the lock
        return True

    async def _give(self, writer: asyncio.StreamWriter, proc: Successor) -> list[str]:
        """Every camera on a worker given at its next keyframe; each `Handed` passed on at once."""
        given = [cam for slot in self.sup.workers.slots for cam in slot.cameras]
        waiting = set(given)
        done = asyncio.Event()

        def handed(ev: events.Handed) -> None:
            writer.write((json.dumps({"handed": ev.camera, "end_us": ev.end_us}) + "\n").encode())
            waiting.discard(ev.camera)
            if not waiting:
                done.set()

        self.sup.on_handed = handed
        try:
            for cam in given:
                self.sup.workers.tell(cam, {"cmd": "give", "camera": cam})
            ended, all_handed = asyncio.ensure_future(proc.wait()), asyncio.ensure_future(done.wait())
            try:
                await asyncio.wait([all_handed, ended], timeout=GIVE_WITHIN_S, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ended.cancel()
                all_handed.cancel()
        finally:
            self.sup.on_handed = None
        if waiting:  # their worker never had the give (it died): the next daemon records them from now
            log.warning("handover: %d cameras were not said handed within %.0f s: %s", len(waiting),
                        GIVE_WITHIN_S, ", ".join(sorted(waiting)))
            now = self.sup.clock.now_us()
            for cam in sorted(waiting):
                writer.write((json.dumps({"handed": cam, "end_us": now}) + "\n").encode())
        try:
            await writer.drain()
        except (ConnectionError, OSError):  # the next daemon ended: the caller takes the cameras back
            pass
        return given

    async def _take_back(self, given: list[str]) -> None:
        for slot in self.sup.workers.slots:
            for cam in given:
                if cam in slot.cameras:
                    await slot.send(add_command(slot.cameras[cam]))


async def _first_word(reader: asyncio.StreamReader) -> dict[str, Any]:
    try:
        line = await asyncio.wait_for(reader.readline(), READY_WITHIN_S)
    except TimeoutError:
        return {}
    garbled = {"refused": "it said something that is not the handover's"}  # i18n: the journal's
    try:
        said = json.loads(line) if line else {"ended": True}
    except ValueError:
        return garbled
    return said if isinstance(said, dict) else garbled


async def _call_off(proc: Successor, writer: asyncio.StreamWriter) -> None:
    """End the next daemon: the channel's end without `release` is its cue (its held workers wrote
    nothing); SIGTERM if it has not ended within END_WITHIN_S."""
    writer.close()
    try:
        await asyncio.wait_for(proc.wait(), END_WITHIN_S)
    except TimeoutError:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
