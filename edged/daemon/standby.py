"""A standby box (design/0107): it watches the boxes of [standby] for over MQTT and records
their cameras while they are gone, through the supervisor's own reload path (the same workers,
segments, hashes and retention as its own cameras).

What it hears comes from the reporter's connection (mqtt/reporter.py `watch`): each box's
retained `status` (its last will says "offline"), its `state` and its cameras' states. Once a
second it asks edged.rules.standby which boxes to stand in for; a change starts or stops those
cameras, opens or closes a spell in the catalog (storage/footage/standins.py), goes on the audit chain
(and so to the central office) and into `edgectl status`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from edged.config import Config
from edged.rules.standby import HEARTBEAT_US, BoxSeen, CameraSeen, stand_in_for
from mqtt.topics import ROOT
from storage import audit, node as node_table
from storage.footage import standins
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import Clock, SYSTEM, wait_or_stop

if TYPE_CHECKING:
    from edged.daemon.recording.supervisor import Supervisor
    from edged.daemon.signals import Follower

log = logging.getLogger(__name__)

TICK_S = 1.0
AT_REST = "its box recorded it: the standby was not standing in"  # i18n: a gap's reason, stored as data


class Standby:
    def __init__(self, cfg: Config, writer: CatalogWriter, sup: Supervisor, clock: Clock = SYSTEM,
                 followers: tuple[Follower, ...] = (), on_config: Callable[[Config], None] | None = None):
        self.cfg = cfg
        self.followers = followers  # the parts a SIGHUP hands the config to (health, retention, ...)
        self.on_config = on_config  # the birth: the office sees which cameras it records
        self.writer = writer
        self.sup = sup
        self.clock = clock
        self.seen: dict[str, BoxSeen] = {}
        self.standing: dict[str, str] = {}  # box -> why, as last applied
        self.since: dict[str, int] = {}     # box -> when this spell began
        self.watching_us = clock.now_us()

    @property
    def watch(self) -> tuple[str, ...]:
        base = f"{ROOT}/{self.cfg.site.id}"
        return tuple(f"{base}/{box}/{leaf}" for box in self.cfg.standby.boxes
                     for leaf in ("status", "state", "camera/+/state"))

    # what the reporter hears -------------------------------------------------------------
    def heard(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        prefix = ROOT.split("/") + [self.cfg.site.id]
        if parts[:len(prefix)] != prefix or len(parts) < len(prefix) + 2:
            return
        box, rest = parts[len(prefix)], parts[len(prefix) + 1:]
        if box not in self.cfg.standby.boxes:
            return
        now = self.clock.now_us()
        old = self.seen.get(box, BoxSeen())
        if old.status == "online" and old.heard_us is not None and \
                now - old.heard_us >= HEARTBEAT_US + self.cfg.standby.silence_us:
            # back from a silence its connection outlived: it came back now, it went when last heard
            old = replace(old, online_us=now, left_us=old.heard_us)
        if rest == ["status"]:
            status = payload.decode(errors="replace").strip()
            online = (old.online_us if old.status == "online" else now) if status == "online" else None
            left = now if status == "offline" and old.status != "offline" else old.left_us
            if status == "online" and old.status != "online" and left is None:
                left = old.heard_us  # back from silence: it went when it was last heard
            self.seen[box] = BoxSeen(status, online, now, old.cameras, left_us=left)
        elif rest == ["state"] or (len(rest) == 3 and rest[0] == "camera" and rest[2] == "state"):
            cams = dict(old.cameras)
            if rest[0] == "camera":
                try:
                    body = json.loads(payload)
                except ValueError:
                    return
                since = body.get("since_us") if isinstance(body, dict) else None
                cams[rest[1]] = CameraSeen(bool(isinstance(body, dict) and body.get("recording")),
                                           since if isinstance(since, int) else None, now)
            self.seen[box] = BoxSeen(old.status, old.online_us, now, cams, left_us=old.left_us)

    # the task ----------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        await self.writer.run(lambda c: standins.end(c.db, None, c.clock.now_us()))  # spells a crash left open
        await self._publish()
        while not stopping.is_set():
            await self.tick()
            await wait_or_stop(stopping, TICK_S, self.clock)

    async def tick(self) -> None:
        sb = self.cfg.standby
        now = self.clock.now_us()
        want = stand_in_for(self.seen, sb.cameras_of(), frozenset(self.standing), now, self.watching_us,
                            sb.silence_us, sb.hold_us)
        started, ended = set(want) - set(self.standing), set(self.standing) - set(want)
        changed = want != self.standing
        self.standing = want
        if started or ended:
            await self._apply(frozenset(want))
            me = self.cfg.site.node
            cams = sb.cameras_of()

            def record(c: Catalog) -> None:
                for box in sorted(started):
                    standins.start(c.db, box, me, sorted(cams[box]), want[box], now)
                    audit.append(c.db, "edged", "standby.start", {"box": box, "why": want[box],
                                                                  "cameras": sorted(cams[box]), "recorded_by": me})
                for box in sorted(ended):
                    standins.end(c.db, box, now)
                    audit.append(c.db, "edged", "standby.end", {"box": box, "cameras": sorted(cams[box]),
                                                                "recorded_by": me})
            await self.writer.run(record)
            for box in sorted(started):
                self.since[box] = now
                log.warning("standing in for %s (%s): recording its cameras %s", box, want[box],
                            ", ".join(sorted(cams[box])))
            for box in sorted(ended):
                self.since.pop(box, None)
                for cam in cams[box]:  # the standby's own gap until the next spell says why
                    self.sup.gaps.reason[cam] = AT_REST
                log.warning("%s is back and recording: stopped standing in for it", box)
        if changed:
            await self._publish()

    async def _publish(self) -> None:
        """What `edgectl status` shows (the node row's `standby`)."""
        value = json.dumps({"for": list(self.cfg.standby.boxes),
                            "standing": {b: {"why": w, "since_us": self.since.get(b)} for b, w in self.standing.items()}})
        await self.writer.run(lambda c: node_table.set_values(c.db, {"standby": value}))

    async def reload(self, cfg: Config) -> None:
        """After a SIGHUP (the supervisor took the new config at rest): the boxes stood in for
        are recorded again with the new settings."""
        self.cfg = cfg
        if self.standing:
            await self._apply(frozenset(self.standing))

    async def _apply(self, boxes: frozenset[str]) -> None:
        shaped = standing_in(self.cfg, boxes)
        await self.sup.reload(shaped, action="standby")
        for follower in self.followers:  # a camera's public state and alarms follow its config
            follower.cfg = shaped
        if self.on_config is not None:
            self.on_config(shaped)


def standing_in(cfg: Config, boxes: frozenset[str]) -> Config:
    """`cfg` with the cameras of `boxes` recorded (as configured) and the other boxes' at rest."""
    mine = {c.id: c for c in cfg.standby.cameras}
    return replace(cfg, cameras=tuple(
        (mine[c.id] if c.box in boxes else replace(c, enabled=False)) if c.box is not None and c.id in mine else c
        for c in cfg.cameras))
