"""The [health] and [inspection] tables: image-check thresholds, the quality floor (R2) and
the inspection schedule (R3.1). Defaults are the strictest reading of the site rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from edged.config.values import (
    DAY,
    HOUR,
    SECOND,
    ConfigError,
    _bool,
    _check_keys,
    _describe,
    _duration,
    _show,
    _string,
)


@dataclass(frozen=True, slots=True)
class HealthConfig:
    sample_interval_us: int = 10 * SECOND   # one decoded keyframe per camera this often; 0: no image checks
    raise_after_us: int = 30 * SECOND       # a condition must hold this long before its alarm is raised
    clear_after_us: int = 60 * SECOND       # and be gone this long before the alarm clears
    stale_after_us: int = 10 * SECOND       # no packet for this long while connected: the stream stalled
    dark_luma: float = 25.0                 # mean luma (0-255) below this: too dark or black
    dark_fraction: float = 0.9              # or this share of pixels below 16/255
    bright_fraction: float = 0.5            # share of pixels at >= 250 above this: overexposed
    frozen_change: float = 0.03             # share of picture blocks changed between samples below this: frozen
    blur_sharpness: float = 0.4             # focus measure (0-1, recorder.imagecheck.sharpness) below this: blurred
    covered_contrast: float = 6.0           # luma standard deviation below this: covered (any brightness)
    moved_similarity: float = 0.45          # similarity to the reference picture below this: moved
    colour_min: float = 2.0                 # mean chroma saturation below this in daylight: colour lost
    daylight: tuple[int, int] = (7 * 60, 18 * 60)  # local minutes [from, to) when colour is expected
    min_width: int = 1280                   # R2.1: at least 720p
    min_height: int = 720
    min_fps: float = 10.0                   # R2.2


Schedule = str  # daily | weekly | biweekly | off
SCHEDULES = ("daily", "weekly", "biweekly", "off")
PERIOD_US = {"daily": DAY, "weekly": 7 * DAY, "biweekly": 14 * DAY}


@dataclass(frozen=True, slots=True)
class InspectionConfig:
    schedule: Schedule = "daily"            # R3.1: the strictest site inspects daily
    window: tuple[int, int] = (9 * 60, 17 * 60)  # local minutes [from, to) an inspection may fall in
    random_time: bool = False               # a random (but fixed per period) time inside the window
    sign_within_us: int = DAY               # an unsigned scheduled inspection is overdue after this

    @property
    def period_us(self) -> int:
        return PERIOD_US.get(self.schedule, 0)


_HEALTH_KEYS = (
    "sample_interval", "raise_after", "clear_after", "stale_after", "dark_luma", "dark_fraction", "bright_fraction",
    "frozen_change", "blur_sharpness", "covered_contrast", "moved_similarity", "colour_min", "daylight",
    "min_width", "min_height", "min_fps",
)  # fmt: skip
_RANGES: dict[str, tuple[float, float]] = {
    "dark_luma": (0, 255), "dark_fraction": (0, 1), "bright_fraction": (0, 1), "frozen_change": (0, 1),
    "blur_sharpness": (0, 1),
    "covered_contrast": (0, 255), "moved_similarity": (-1, 1), "colour_min": (0, 255),
    "min_width": (0, 16384), "min_height": (0, 16384), "min_fps": (0, 1000),
}


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(field, f"expected a number, found {_describe(value)}")
    if not low <= value <= high:
        raise ConfigError(field, f"{value} is out of range ({low:g} to {high:g})")
    return value


def _window(value: Any, field: str) -> tuple[int, int]:
    """"HH:MM-HH:MM" local time, as minutes after midnight; "24:00" ends a day."""
    text = _string(value, field)
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not m:
        raise ConfigError(field, f'{_show(text)} is not a time window; write it as "09:00-17:00"')
    h1, m1, h2, m2 = map(int, m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 24 * 60 or end > 24 * 60:
        raise ConfigError(field, f"{_show(text)} is not a valid time of day (00:00 to 24:00)")
    if end <= start:
        raise ConfigError(field, f"{_show(text)} ends before it starts; a window cannot span midnight")
    return start, end


def _duration_or_zero(t: dict, key: str, default: int, high: int) -> int:
    """Like _duration, but "0s" is allowed: it means off (sampling) or at once (hysteresis)."""
    if isinstance(t.get(key), str) and re.fullmatch(r"\s*0+(\.0*)?\s*(us|ms|s|m|h|d)\s*", t[key]):
        return 0
    return _duration(t, key, "health", default, 1, high)


def _health(t: dict) -> HealthConfig:
    _check_keys(t, "health", _HEALTH_KEYS)
    d = HealthConfig()
    values: dict[str, Any] = {
        "sample_interval_us": _duration_or_zero(t, "sample_interval", d.sample_interval_us, HOUR),
        "raise_after_us": _duration_or_zero(t, "raise_after", d.raise_after_us, HOUR),
        "clear_after_us": _duration_or_zero(t, "clear_after", d.clear_after_us, HOUR),
        "stale_after_us": _duration(t, "stale_after", "health", d.stale_after_us, SECOND, HOUR),
    }
    if 0 < values["sample_interval_us"] < SECOND:
        raise ConfigError("health.sample_interval", "must be at least 1s (or 0s to switch image checks off)")
    for key, (low, high) in _RANGES.items():
        if key in t:
            value = _number(t[key], f"health.{key}", low, high)
            values[key] = int(value) if key in ("min_width", "min_height") else float(value)
    if "daylight" in t:
        values["daylight"] = _window(t["daylight"], "health.daylight")
    return HealthConfig(**values)


def _inspection(t: dict) -> InspectionConfig:
    _check_keys(t, "inspection", ("schedule", "window", "random_time", "sign_within"))
    d = InspectionConfig()
    schedule = _string(t.get("schedule", d.schedule), "inspection.schedule")
    if schedule not in SCHEDULES:
        raise ConfigError("inspection.schedule", f"{_show(schedule)} is not one of {', '.join(SCHEDULES)}")
    return InspectionConfig(
        schedule=schedule,
        window=_window(t["window"], "inspection.window") if "window" in t else d.window,
        random_time=_bool(t.get("random_time", d.random_time), "inspection.random_time"),
        sign_within_us=_duration(t, "sign_within", "inspection", d.sign_within_us, SECOND, 31 * DAY),
    )
