"""[standby] (design/0107): the boxes of the site this box stands in for.

    [standby]
    for = ["node1"]        # the boxes it watches over MQTT
    silence = "10s"        # gone: "offline" (the broker's last will), or no word from it this long
    hold = "30s"           # back: online and recording this long, then the standby stops

The cameras it records for them are its own [[cameras]] with `box = "node1"`: the same id and
settings as on that box; they are recorded only while that box is gone."""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass, replace
from edged.config.cameras import CameraConfig
from storage.declare import duration, key, read
from edged.config.values import SECOND, ConfigError, _describe, _id

def _boxes(raw: Any, field: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ConfigError(field, f'expected a list of box (node) ids, e.g. ["node1"], found {_describe(raw)}')
    return tuple(_id(b, f"{field}[{i}]") for i, b in enumerate(raw))


@dataclass(frozen=True, slots=True)
class StandbyConfig:
    boxes: tuple[str, ...] = key((), toml="for", read=_boxes, example='["node1"]',
                                 doc="the boxes it watches over MQTT (their status, state and camera states); "
                                     "none: this box stands in for no one")
    silence_us: int = duration(10 * SECOND, SECOND, 600 * SECOND, toml="silence",
                               doc='gone: "offline" (the broker\'s last will), or nothing heard past the box\'s '
                                   "minute heartbeat plus this (1 s to 10 min)")
    hold_us: int = duration(30 * SECOND, 0, 3600 * SECOND, toml="hold",
                            doc="back: online and recording every camera for this long, then it stops")
    cameras: tuple[CameraConfig, ...] = ()  # the [[cameras]] with a `box`, as configured

    def cameras_of(self) -> dict[str, frozenset[str]]:
        return {b: frozenset(c.id for c in self.cameras if c.box == b and c.enabled) for b in self.boxes}

    @property
    def enabled(self) -> bool:
        return bool(self.boxes)


def _standby(t: dict[str, Any], node: str) -> StandbyConfig:
    standby = read(StandbyConfig, t, "standby")
    if node in standby.boxes:
        raise ConfigError("standby.for", f'"{node}" is this box (site.node): a box cannot stand in for itself')
    return standby


def check_boxes(standby: StandbyConfig, cameras: tuple[CameraConfig, ...], mqtt_enabled: bool) -> None:
    """Every camera's `box` is one [standby] stands in for; a standby watches over MQTT."""
    for i, cam in enumerate(cameras):
        if cam.box is not None and cam.box not in standby.boxes:
            known = ", ".join(f'"{b}"' for b in standby.boxes) or 'none: add [standby] for = ["' + cam.box + '"]'
            raise ConfigError(f"cameras[{i}].box", f'"{cam.box}" is not a box [standby] stands in for ({known})')
    if standby.enabled and not mqtt_enabled:
        raise ConfigError("standby.for", "a standby watches the other boxes over MQTT: enable [mqtt] too")


def at_rest(standby: StandbyConfig, cameras: tuple[CameraConfig, ...]) -> tuple[StandbyConfig, tuple[CameraConfig, ...]]:
    """As loaded, a standby stands in for no one: its boxes' cameras are kept aside in
    [standby] and listed disabled (no recording, no offline alarm) until a box is gone."""
    kept = replace(standby, cameras=tuple(c for c in cameras if c.box is not None))
    return kept, tuple(replace(c, enabled=False) if c.box is not None else c for c in cameras)
