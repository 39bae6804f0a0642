"""Topic names under ``edged/v1/<site>/<node>/`` (docs/requirements.md "MQTT").

Built in one place so the topic reference (docs/ref/mqtt.md), the broker ACL pattern
(``edged/v1/<site>/%u/#``) and the code cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
        check_level(self.site, "site id")
        check_level(self.node, "node id")

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.site}/{self.node}"

    # retained ---------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def birth(self) -> str:
        return f"{self.base}/birth"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    def camera_state(self, camera: str) -> str:
        return f"{self.base}/camera/{check_level(camera, 'camera id')}/state"

    # durable, QoS 1 ---------------------------------------------------------------------
    @property
    def alarm(self) -> str:
        return f"{self.base}/alarm"

    @property
    def audit(self) -> str:
        return f"{self.base}/audit"

    @property
    def retention(self) -> str:
        return f"{self.base}/retention"

    @property
    def inspection(self) -> str:
        return f"{self.base}/inspection"

    @property
    def ethics(self) -> str:
        """A major or abnormal request, for the ethics office (edged/rules/ethics.py)."""
        return f"{self.base}/ethics"

    @property
    def footage(self) -> str:
        """The footage recorded since the last one (a range of segment ids): when the office first
        heard of it, on its own clock (design/0095)."""
        return f"{self.base}/footage"

    @property
    def clock(self) -> str:
        """The box's signed answer to the office's `cmd/time` question (design/0305): live only, QoS 1,
        not retained, no seq (a late answer is no clock sample, so it never waits in the outbox)."""
        return f"{self.base}/clock"

    @property
    def event(self) -> str:
        """Motion events (start, end) of cameras in motion mode."""
        return f"{self.base}/event"

    # commands ---------------------------------------------------------------------------
    def cmd(self, verb: str) -> str:
        return f"{self.base}/cmd/{check_level(verb, 'command')}"

    def cmd_reply(self, verb: str) -> str:
        return f"{self.cmd(verb)}/reply"

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
