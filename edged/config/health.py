"""The [health] and [inspection] tables: image-check thresholds, the quality floor (R2) and
the inspection schedule (R3.1). Defaults are the strictest reading of the site rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from edged.config.upkeep import whole
from edged.config.values import (
    DAY,
    HOUR,
    MINUTE,
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
    sample_interval_max_us: int = 60 * SECOND  # ... or less often, to this, to keep them in their CPU budget (0078)
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
    min_pixels: int = 1_000_000             # R2.1 (002 §5): stored images of at least 1 megapixel; 0: no floor
    min_fps: float = 10.0                   # R2.2
    clock_tolerance_us: int = 2 * SECOND    # R2.3: the camera's clock may be this far off the host's; 0: not watched
    # R1.8: the sound of an `audio_required` camera (design/0049). Its level (RMS over the 5 s
    # stats window) below this for audio_silent_after raises `audio_silent`: a muted or dead
    # microphone. G.711's digital silence is -72 dBFS; a working microphone in a quiet room
    # hears its own noise above -60. Per camera in [cameras.health], as every key here.
    audio_silent_level: float = -60.0
    audio_silent_after_us: int = 5 * MINUTE


Schedule = str  # daily | weekly | biweekly | off
# What an inspection checks per camera (edged/rules/inspections.py checklist); "host" is the
# recorder host running (004 annex 4: 監視主機是否正常運作), the same for every camera of a run.
REGISTER_ITEMS = ("host", "picture", "audio", "recording", "login", "camera_login", "clock", "quality")
DEFAULT_ITEMS = REGISTER_ITEMS[1:]
COUNTERSIGNERS = ("supervisor", "unit")
SCHEDULES = ("daily", "weekly", "biweekly", "off")
PERIOD_US = {"daily": DAY, "weekly": 7 * DAY, "biweekly": 14 * DAY}


@dataclass(frozen=True, slots=True)
class InspectionConfig:
    schedule: Schedule = "daily"            # R3.1: the strictest site inspects daily
    window: tuple[int, int] = (9 * 60, 17 * 60)  # local minutes [from, to) an inspection may fall in
    random_time: bool = False               # a random (but fixed per period) time inside the window
    sign_within_us: int = DAY               # an unsigned scheduled inspection is overdue after this
    register_due_day: int = 5               # R3.2: a month's register is due by this day of the next; 0: not tracked
    # The register as the site's annex prints it (design/0082): its title, its check columns in
    # order, the inspector's "repair requested?" answer per camera, and who countersigns: one
    # supervisor for the run, or each managing unit's chief for its own cameras ([cameras] unit).
    register_title: str = ""                # "": edged's own ("CCTV inspection register")
    items: tuple[str, ...] = ()             # the columns, of REGISTER_ITEMS; (): all checks but the host
    ask_repair: bool = False                # the inspector answers 是否報修 (repair requested) per camera
    countersign: str = "supervisor"         # supervisor | unit

    @property
    def columns(self) -> tuple[str, ...]:
        return self.items or DEFAULT_ITEMS

    @property
    def period_us(self) -> int:
        return PERIOD_US.get(self.schedule, 0)


_HEALTH_KEYS = (
    "sample_interval", "sample_interval_max", "raise_after", "clear_after", "stale_after", "dark_luma", "dark_fraction", "bright_fraction",
    "frozen_change", "blur_sharpness", "covered_contrast", "moved_similarity", "colour_min", "daylight",
    "min_width", "min_height", "min_pixels", "min_fps", "clock_tolerance", "audio_silent_level", "audio_silent_after",
)  # fmt: skip
# A camera may override any of them but the sampling rate, which its recorder worker is started with.
_CAMERA_KEYS = tuple(k for k in _HEALTH_KEYS if k not in ("sample_interval", "sample_interval_max"))
_CAMERA_HINTS = {"sample_interval": "the sampling rate is the site's ([health] sample_interval)",
                 "sample_interval_max": "the sampling rate is the site's ([health] sample_interval_max)"}
_DURATIONS: dict[str, tuple[int, int]] = {  # key -> (shortest but 0, longest); 0 means off or at once
    "sample_interval": (1, HOUR), "sample_interval_max": (SECOND, HOUR), "raise_after": (1, HOUR), "clear_after": (1, HOUR),
    "stale_after": (SECOND, HOUR), "clock_tolerance": (1, HOUR), "audio_silent_after": (SECOND, DAY),
}
_ZERO_OK = ("sample_interval", "raise_after", "clear_after", "clock_tolerance")
_INTEGERS = ("min_width", "min_height", "min_pixels")
_RANGES: dict[str, tuple[float, float]] = {
    "dark_luma": (0, 255), "dark_fraction": (0, 1), "bright_fraction": (0, 1), "frozen_change": (0, 1),
    "blur_sharpness": (0, 1),
    "covered_contrast": (0, 255), "moved_similarity": (-1, 1), "colour_min": (0, 255),
    "min_width": (0, 16384), "min_height": (0, 16384), "min_pixels": (0, 16384 * 16384), "min_fps": (0, 1000),
    "audio_silent_level": (-120, 0),
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


def _zero(value: Any) -> bool:
    """ "0s" (any unit): off (sampling, the clock watch) or at once (hysteresis)."""
    return isinstance(value, str) and re.fullmatch(r"\s*0+(\.0*)?\s*(us|ms|s|m|h|d)\s*", value) is not None


def _health_values(t: dict[str, Any], where: str, keys: tuple[str, ...],
                   hints: dict[str, str] | None = None) -> dict[str, Any]:
    """The HealthConfig fields of the keys present in `t` (a [health] or [cameras.health] table),
    each checked; a bad one is named with its table (`cameras[2].health.dark_luma`)."""
    _check_keys(t, where, keys, hints)
    values: dict[str, Any] = {}
    for key, (low, high) in _DURATIONS.items():
        if key not in t:
            continue
        values[f"{key}_us"] = 0 if key in _ZERO_OK and _zero(t[key]) else _duration(t, key, where, 0, low, high)
    if 0 < values.get("sample_interval_us", 0) < SECOND:
        raise ConfigError(f"{where}.sample_interval", "must be at least 1s (or 0s to switch image checks off)")
    for key, (floor, ceiling) in _RANGES.items():
        if key in t:
            value = _number(t[key], f"{where}.{key}", floor, ceiling)
            values[key] = int(value) if key in _INTEGERS else float(value)
    if "daylight" in t:
        values["daylight"] = _window(t["daylight"], f"{where}.daylight")
    return values


def _health(t: dict[str, Any]) -> HealthConfig:
    return HealthConfig(**_health_values(t, "health", _HEALTH_KEYS))


HealthOverrides = tuple[tuple[str, Any], ...]  # a camera's own [cameras.health] values, as (field, value)


def _camera_health(value: Any, path: str) -> HealthOverrides:
    """A camera's [cameras.health] table: the [health] keys it sets for itself (an analogue
    camera with its own quality floor, a dim corridor with its own darkness threshold)."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(f"{path}.health", f"expected a table ([cameras.health] section), found {_describe(value)}")
    return tuple(sorted(_health_values(value, f"{path}.health", _CAMERA_KEYS, _CAMERA_HINTS).items()))


def effective(site: HealthConfig, overrides: HealthOverrides) -> HealthConfig:
    """The thresholds one camera is held to: the site's, with the camera's own over them."""
    return replace(site, **dict(overrides)) if overrides else site


def _inspection(t: dict[str, Any]) -> InspectionConfig:
    _check_keys(t, "inspection", ("schedule", "window", "random_time", "sign_within", "register_due_day",
                                  "register_title", "items", "ask_repair", "countersign"))
    d = InspectionConfig()
    schedule = _string(t.get("schedule", d.schedule), "inspection.schedule")
    if schedule not in SCHEDULES:
        raise ConfigError("inspection.schedule", f"{_show(schedule)} is not one of {', '.join(SCHEDULES)}")
    return InspectionConfig(
        schedule=schedule,
        window=_window(t["window"], "inspection.window") if "window" in t else d.window,
        random_time=_bool(t.get("random_time", d.random_time), "inspection.random_time"),
        sign_within_us=_duration(t, "sign_within", "inspection", d.sign_within_us, SECOND, 31 * DAY),
        # 29-31: the month's last day where the month is shorter (February)
        register_due_day=whole(t.get("register_due_day", d.register_due_day), "inspection.register_due_day", 0, 31),
        register_title=_string(t.get("register_title", ""), "inspection.register_title").strip(),
        items=_items(t.get("items", []), "inspection.items"),
        ask_repair=_bool(t.get("ask_repair", False), "inspection.ask_repair"),
        countersign=_choice(t.get("countersign", d.countersign), "inspection.countersign", COUNTERSIGNERS),
    )


def _items(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(field, f"expected an array of check names, found {_describe(value)}")
    out: list[str] = []
    for i, v in enumerate(value):
        item = _choice(v, f"{field}[{i}]", REGISTER_ITEMS)
        if item in out:
            raise ConfigError(f"{field}[{i}]", f"{_show(item)} is listed twice")
        out.append(item)
    return tuple(out)


def _choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    text = _string(value, field)
    if text not in choices:
        raise ConfigError(field, f"{_show(text)} is not one of {', '.join(choices)}")
    return text
