"""The retained messages (status, birth, state, camera states, discovery): the newest body
of each topic, kept in memory and (re)published on every connect. State is coalesced: only
the newest body of a topic is ever sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from mqtt.client import Connection, NotConnected
from mqtt.discovery import discovery_messages
from mqtt.settings import MqttConfig
from mqtt.topics import Topics
from storage.time.clock import Clock


class Retained:
    def __init__(self, cfg: MqttConfig, topics: Topics, clock: Clock,
                 extra: Callable[[str], Awaitable[dict[str, Any]]]):
        self.cfg = cfg
        self.topics = topics
        self.clock = clock
        self._extra = extra                                   # topic -> what is added when it is sent
        self._bodies: dict[str, dict[str, Any] | None] = {}   # topic -> newest body (None: clear it)
        self._dirty: dict[str, None] = {}                     # topics to publish, in order
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._bodies)

    def set_birth(self, birth: dict[str, Any]) -> None:
        self.set(self.topics.birth, birth)
        if self.cfg.homeassistant:
            fresh = discovery_messages(self.topics, self.cfg.discovery_prefix, birth)
            for topic in [t for t in self._bodies if t.startswith(self.cfg.discovery_prefix + "/")]:
                if topic not in fresh:
                    self.set(topic, None)  # a camera that went away: empty its config
            for topic, body in fresh.items():
                self.set(topic, body)

    def set(self, topic: str, body: dict[str, Any] | None) -> None:
        if body is not None:
            if not isinstance(body, dict):
                raise TypeError(f"retained MQTT payloads are dicts, not {type(body).__name__}")
            body = {"ts_us": self.clock.now_us(), **body}
            json.dumps(body)  # fail here, at the caller, not later in the publishing task
        self._bodies[topic] = body
        self._dirty[topic] = None
        self._changed.set()

    def mark_all(self) -> None:
        """Everything again, birth and state first (a new connection, a `rebirth` command)."""
        first = [t for t in (self.topics.birth, self.topics.state) if t in self._bodies]
        self._dirty = dict.fromkeys(first + [t for t in self._bodies if t not in first])
        self._changed.set()

    def mark_states(self) -> None:
        """The node's state and every camera's again (a `state` command)."""
        cameras = self.topics.base + "/camera/"
        for topic in [self.topics.state, *(t for t in self._bodies if t.startswith(cameras))]:
            if topic in self._bodies:
                self._dirty[topic] = None
        self._changed.set()

    async def publish(self, conn: Connection) -> None:
        """Send what changed, until the connection fails or the task is cancelled."""
        try:
            while True:
                while self._dirty:
                    topic = next(iter(self._dirty))
                    del self._dirty[topic]
                    payload = await self._payload(topic)
                    conn.publish(topic, payload, qos=0, retain=True)
                    if not payload:
                        self._bodies.pop(topic, None)
                self._changed.clear()
                if not self._dirty:
                    await self._changed.wait()
        except NotConnected:
            conn.abort()

    async def _payload(self, topic: str) -> bytes:
        body = self._bodies.get(topic)
        if body is None:
            return b""
        body = {**body, **await self._extra(topic)}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()  # UTF-8: Chinese names as written
