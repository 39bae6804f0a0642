"""Raising and clearing alarms of the kinds declared in storage/alarm_kinds.py (design/0067),
which gives each its severity and key: kept in the catalog (stable key, one active row per key) and
logged when they change. A change is also handed at once to `publish` (a port, edged/ports.py:
when MQTT reporting is on, edged/daemon/reporting.py queues it in the durable outbox); during a
maintenance window `downgrade` (a port the maintenance window answers) marks the expected
faults as "maintenance" instead of their own severity. A message made as an `edged.i18n.Msg`
keeps its template and parameters in the catalog row's detail (`text`), so edgectl shows it in
the reader's language; the log and MQTT carry the English text as before (design/0057).

Only this class writes the alarms table (tests/test_alarm_kinds.py holds every other module to it), so it
knows which keys it has cleared since: clearing one of them again, as the periodic checks do for every
healthy camera (camera_offline every 5 s), asks nothing of the catalog (design/0535)."""

from __future__ import annotations

import json
import logging
from typing import Any, NoReturn

from edged.i18n import A_, Msg, render
from edged.ports import Check, Outlet
from storage import alarm_kinds
from storage.health import alarms as alarm_table
from storage.process import logs
from storage.alarm_kinds import AlarmKind
from storage.catalog import CatalogWriter
from storage.time.clock import SYSTEM, Clock

log = logging.getLogger("edged.alarm")
KNOWN_CLEAR_MAX = 10_000  # keys remembered clear; past it, forgotten (each then written once more)
# Raised both when a request is filed and by the daily sweep.
ETHICS = A_("request {id} ({kind}, {category}) is flagged {flag}: report it to the ethics office")


class Alarms:
    def __init__(self, writer: CatalogWriter, clock: Clock = SYSTEM, *,
                 publish: Outlet[dict[str, Any]] | None = None, downgrade: Check | None = None):
        self.clock = clock
        self.writer = writer
        self.downgrade = downgrade or Check("alarm downgrade")  # is this kind expected now (maintenance)?
        self.publish = publish or Outlet("alarm publish")       # the MQTT reporter
        self._clear: set[str] = set()  # keys with no active row, as this instance last wrote them
        self._raises = 0  # raises begun: a clear that overlapped one is not remembered

    async def raise_(self, kind: AlarmKind | str, message: Msg, detail: dict[str, Any] | None = None, *,
                     camera: str | None = None, about: str | None = None) -> None:
        """Raise (or refresh) one alarm of a kind declared in storage/alarm_kinds.py, which gives
        its severity. Its key is the kind and what it is `about` (a camera's alarm: its camera).
        Its message is a `Msg(A_(...))`, whose words travel to the office (design/0343)."""
        k = alarm_kinds.of(kind)
        if not isinstance(message, Msg):
            _refuse(kind, message)
        key = k.key(_subject(k, camera, about))
        severity = "maintenance" if self.downgrade(k.name) else k.severity  # an expected fault during a window
        kept = {**(detail or {}), "text": message.stored()}
        now = self.clock.now_us()
        self._clear.discard(key)  # before the write: a write that fails leaves the key unknown
        self._raises += 1
        new = await self.writer.run(lambda c: alarm_table.raise_alarm(c.db, key, k.name, severity, camera, str(message),
                                                                      kept, now))
        if new:
            (log.error if severity == "critical" else log.warning)(
                "ALARM %s (%s): %s", key, severity, message, **logs.fields(camera=camera, alarm=key, kind=k.name))
            await self.publish({"id": key, "action": "raise", "kind": k.name, "severity": severity,
                                "camera": camera, "message": str(message), "detail": detail,
                                "at_us": self.clock.now_us(), "words": message.stored()})

    async def clear(self, key: str) -> None:
        """Clear the alarm of that key (`KIND.key(subject)`, or a key read back from the catalog); one
        this instance cleared and has not raised since has no active row: nothing to write."""
        if key in self._clear:
            return
        now, raises = self.clock.now_us(), self._raises
        cleared = await self.writer.run(lambda c: alarm_table.clear_alarm(c.db, key, now))
        if raises == self._raises:  # no raise began meanwhile (its row could have come after this clear)
            if len(self._clear) >= KNOWN_CLEAR_MAX:
                self._clear.clear()
            self._clear.add(key)
        if cleared:
            log.info("alarm cleared: %s", key, **logs.fields(alarm=key))
            await self.publish({"id": key, "action": "clear", "at_us": self.clock.now_us()})

    async def set(self, active: bool, kind: AlarmKind | str, message: Msg | str, detail: dict[str, Any] | None = None, *,
                  camera: str | None = None, about: str | None = None) -> None:
        """Raise it when `active` (then `message` is a Msg), else clear it."""
        if active:
            if not isinstance(message, Msg):
                _refuse(kind, message)
            await self.raise_(kind, message, detail, camera=camera, about=about)
        else:
            k = alarm_kinds.of(kind)
            await self.clear(k.key(_subject(k, camera, about)))


def _refuse(kind: AlarmKind | str, message: str) -> NoReturn:
    """An alarm's message in English only: the office could not say it (design/0343)."""
    raise TypeError(f"alarm {getattr(kind, 'name', kind)} raised with words no reader can say: {message!r}")  # i18n: a programming error


def _subject(kind: AlarmKind, camera: str | None, about: str | None) -> str | None:
    """What the key names after the kind: a camera's alarm is about its camera."""
    return camera if kind.scope == alarm_kinds.CAMERA and about is None else about


def alarm_text(row: dict[str, Any]) -> str:
    """An alarm row's message in the current language (the person's: the control server speaks
    it while it answers), from the template its detail keeps; else the English message."""
    try:
        detail = json.loads(row.get("detail") or "null")
    except ValueError:
        detail = None
    return render(row.get("message") or "", detail.get("text") if isinstance(detail, dict) else None)
