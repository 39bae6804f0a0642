"""Topic names under ``edged/v1/<site>/<node>/`` (docs/requirements.md "MQTT").

Each kind's topic is declared in mqtt/kinds.py (`Topics.of(kinds.ALARM)`); the properties below
name the common ones. Built in one place so the topic reference (docs/ref/mqtt.md), the broker
ACL pattern (``edged/v1/<site>/%u/#``) and the code cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mqtt import kinds
from mqtt.kinds import MessageKind
from storage import names

ROOT = "edged/v1"
OFFICE_CRL = "edged-office/v1/crl"  # the office's revocation list, retained (central/keys/ca.py CRL_TOPIC: the same)
_LEVEL = re.compile(r"[^/+#\x00]+")


def check_level(value: str, what: str) -> str:
    """One topic level: no "/", no wildcards, not empty (a camera id or verb becomes one)."""
    if not isinstance(value, str) or not _LEVEL.fullmatch(value):
        raise ValueError(f"{what} {value!r} cannot be an MQTT topic level")
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    site: str
    node: str

    def __post_init__(self) -> None:
        for value, what in ((self.site, "site id"), (self.node, "node id")):  # identities: the one rule (design/0315)
            if not names.is_name(value):
                raise ValueError(f"{what} {names.shown(value)} cannot be an MQTT topic level ({names.RULE})")

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.site}/{self.node}"

    def of(self, kind: MessageKind, **levels: str) -> str:
        """The topic of a message of ``kind`` (its level, if it has one, given by name: camera=...)."""
        return f"{self.base}/{kind.rest(**{k: check_level(v, k) for k, v in levels.items()})}"

    # retained ---------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.of(kinds.STATUS)

    @property
    def birth(self) -> str:
        return self.of(kinds.BIRTH)

    @property
    def state(self) -> str:
        return self.of(kinds.STATE)

    def camera_state(self, camera: str) -> str:
        return self.of(kinds.CAMERA, camera=check_level(camera, 'camera id'))

    # durable, QoS 1 ---------------------------------------------------------------------
    @property
    def alarm(self) -> str:
        return self.of(kinds.ALARM)

    @property
    def audit(self) -> str:
        return self.of(kinds.AUDIT)

    @property
    def retention(self) -> str:
        return self.of(kinds.RETENTION)

    @property
    def inspection(self) -> str:
        return self.of(kinds.INSPECTION)

    @property
    def ethics(self) -> str:
        """A major or abnormal request, for the ethics office (edged/rules/ethics.py)."""
        return self.of(kinds.ETHICS)

    @property
    def footage(self) -> str:
        """The footage recorded since the last one (a range of segment ids): when the office first
        heard of it, on its own clock (design/0095)."""
        return self.of(kinds.FOOTAGE)

    @property
    def clock(self) -> str:
        """The box's signed answer to the office's `cmd/time` question (design/0305): live only, QoS 1,
        not retained, no seq (a late answer is no clock sample, so it never waits in the outbox)."""
        return self.of(kinds.CLOCK)

    @property
    def event(self) -> str:
        """Motion events (start, end) of cameras in motion mode."""
        return self.of(kinds.EVENT)

    # commands ---------------------------------------------------------------------------
    def cmd(self, verb: str) -> str:
        return self.of(kinds.COMMAND_, verb=check_level(verb, 'command'))

    def cmd_reply(self, verb: str) -> str:
        return self.of(kinds.REPLY, verb=check_level(verb, 'command'))

    @property
    def cmd_filter(self) -> str:
        """What the node subscribes to: one level, so its own replies never come back."""
        return f"{self.base}/cmd/+"

    def verb_of(self, topic: str) -> str | None:
        """The verb of an incoming command topic, or None if it is not one of ours."""
        prefix = f"{self.base}/cmd/"
        if not topic.startswith(prefix):
            return None
        verb = topic[len(prefix):]
        return verb if _LEVEL.fullmatch(verb) else None
