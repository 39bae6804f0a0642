"""The [health] and [inspection] tables: image-check thresholds, the quality floor (R2) and
the inspection schedule (R3.1). Defaults are the strictest reading of the site rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from storage.declare import declared, duration, in_range, key, read, whole
from edged.config.values import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    ConfigError,
    _bool,
    _check_keys,
    _describe,
    _show,
    _string,
)
from storage.alarm_kinds import REGISTER_ITEMS


def _number(low: float, high: float, integer: bool = False) -> Callable[[Any, str], float]:
    def read_number(value: Any, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(field, f"expected a number, found {_describe(value)}")
        if not low <= value <= high:
            raise ConfigError(field, f"{value} is out of range ({low:g} to {high:g})")
        return int(value) if integer else float(value)
    return read_number


def _threshold(default: float, low: float, high: float, doc: str, integer: bool = False) -> Any:
    return key(default, read=_number(low, high, integer), doc=doc, example=str(int(default)) if integer else f"{default:g}")


def _span(default: int, low: int, high: int, doc: str, zero_ok: bool = True) -> Any:
    """A duration of [health]; "0s" (any unit) is off or at once where `zero_ok`."""
    ranged = in_range(low, high)
    return duration(default, low, high, doc=doc,
                    read=(lambda v, f: 0 if _zero(v) else ranged(v, f)) if zero_ok else ranged)


def _zero(value: Any) -> bool:
    """ "0s" (any unit): off (sampling, the clock watch) or at once (hysteresis)."""
    return isinstance(value, str) and re.fullmatch(r"\s*0+(\.0*)?\s*(us|ms|s|m|h|d)\s*", value) is not None


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



@dataclass(frozen=True, slots=True)
class HealthConfig:
    """[health]: the image checks' thresholds and the quality floor (R2), each key declared once
    (storage/declare.py); a camera's [cameras.health] sets any but the sampling rate."""

    sample_interval_us: int = _span(10 * SECOND, 1, HOUR, "one keyframe per camera decoded this often for image "
                                    'checks; "0s": off')
    sample_interval_max_us: int = _span(60 * SECOND, SECOND, HOUR, "or less often, up to this, to keep them within "
                                        "10 % of the recorder's CPU (design/0078)", zero_ok=False)
    raise_after_us: int = _span(30 * SECOND, 1, HOUR, "a condition must last this long before its alarm rises")
    clear_after_us: int = _span(60 * SECOND, 1, HOUR, "and be gone this long before the alarm clears")
    stale_after_us: int = _span(10 * SECOND, SECOND, HOUR, "no packet for this long while connected: the stream "
                                "stalled", zero_ok=False)
    dark_luma: float = _threshold(25.0, 0, 255, "mean brightness (0-255) below this: too dark or black")
    dark_fraction: float = _threshold(0.9, 0, 1, "or this share of the picture black (below 16/255)")
    bright_fraction: float = _threshold(0.5, 0, 1, "share of white pixels (>= 250) above this: overexposed")
    frozen_change: float = _threshold(0.03, 0, 1, "share of the picture changed between samples below this: frozen")
    blur_sharpness: float = _threshold(0.4, 0, 1, "focus measure (0-1, recorder.imagecheck.sharpness) below this: "
                                       "blurred")
    covered_contrast: float = _threshold(6.0, 0, 255, "contrast (luma standard deviation) below this: covered")
    moved_similarity: float = _threshold(0.45, -1, 1, "likeness to the reference picture below this: moved")
    colour_min: float = _threshold(2.0, 0, 255, "colour saturation below this, in daylight: colour lost")
    daylight: tuple[int, int] = key((7 * 60, 18 * 60), read=_window, example='"07:00-18:00"',
                                    doc="local hours when colour is expected")
    min_width: int = _threshold(1280, 0, 16384, "the quality floor: 720p, 1 megapixel, 10 fps (R2.1-R2.2)", True)
    min_height: int = _threshold(720, 0, 16384, "", True)
    min_pixels: int = _threshold(1_000_000, 0, 16384 * 16384, "002 §5: stored images of at least one million "
                                 "pixels; 0: no such floor", True)
    min_fps: float = _threshold(10.0, 0, 1000, "R2.2")
    clock_tolerance_us: int = _span(2 * SECOND, 1, HOUR, "R2.3: the camera's clock this far off the host's raises "
                                    'clock_drift; "0s": off')
    # R1.8: the sound of an `audio_required` camera (design/0049). G.711's digital silence is
    # -72 dBFS; a working microphone in a quiet room hears its own noise above -60.
    audio_silent_level: float = _threshold(-60.0, -120, 0, "dBFS (RMS over 5 s): an audio_required camera below "
                                           "this is silent ...")
    audio_silent_after_us: int = _span(5 * MINUTE, SECOND, DAY, "... and raises audio_silent after this long "
                                       "(G.711 silence is -72)", zero_ok=False)


Schedule = str  # daily | weekly | biweekly | off
# What an inspection checks per camera (edged/rules/inspections.py checklist); "host" is the
# recorder host running (004 annex 4: 監視主機是否正常運作), the same for every camera of a run.
# REGISTER_ITEMS: storage/alarm_kinds.py, where each kind names the item it marks (design/0240).
DEFAULT_ITEMS = REGISTER_ITEMS[1:]
COUNTERSIGNERS = ("supervisor", "unit")
# the register's columns a site's annex may print, in its own order and words (issue 56, design/0191,
# design/0261): with "camera", one row per camera; with "item", one block per inspection and one row
# per check (001 附件1: 檢查項目, 檢查結果); with neither, one row per inspection, per managing unit's
# book where each unit's chief countersigns (000 附件1, 004 附件四). "result": a check's (or the
# inspection's) normal or abnormal; "remarks": each abnormal camera by name with its handling, and
# whether repair was requested where the site asks it (004 附件四 備考, 001 附件1 相關註記).
REGISTER_COLUMNS = ("date", "time", "camera", "unit", "item", *REGISTER_ITEMS, "result", "abnormal", "handling",
                    "remarks", "repair", "inspector", "supervisor")
SCHEDULES = ("daily", "weekly", "biweekly", "off")
PERIOD_US = {"daily": DAY, "weekly": 7 * DAY, "biweekly": 14 * DAY}


def _schedule(value: Any, field: str) -> str:
    schedule = _string(value, field)
    if schedule not in SCHEDULES:
        raise ConfigError(field, f"{_show(schedule)} is not one of {', '.join(SCHEDULES)}")
    return schedule


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


def _columns(value: Any, field: str) -> tuple[tuple[str, str], ...]:
    """[inspection] register_columns: each a column name, or { value = name, label = "the annex's words" }."""
    if not isinstance(value, list):
        raise ConfigError(field, f"expected an array of columns, found {_describe(value)}")
    out: list[tuple[str, str]] = []
    for i, v in enumerate(value):
        where = f"{field}[{i}]"
        if isinstance(v, dict):
            unknown = sorted(set(v) - {"value", "label"})
            if unknown or "value" not in v:
                raise ConfigError(where, 'expected { value = "a column", label = "its words" }')
            name, label = _choice(v["value"], where + ".value", REGISTER_COLUMNS), _string(v.get("label", ""), where)
        else:
            name, label = _choice(v, where, REGISTER_COLUMNS), ""
        if any(name == n for n, _label in out):
            raise ConfigError(where, f"{_show(name)} is listed twice")
        out.append((name, label.strip()))
    if {"camera", "item"} <= {n for n, _label in out}:
        raise ConfigError(field, "camera and item cannot both be columns: a row is a camera's or a check's")
    return tuple(out)


def _item_labels(value: Any, field: str) -> tuple[tuple[str, str], ...]:
    """[inspection] item_labels: { check = "the annex's words" }, as the item column names it."""
    if not isinstance(value, dict):
        raise ConfigError(field, f'expected a table of check = "its words", found {_describe(value)}')
    for name in value:
        _choice(name, f"{field}.{name}", REGISTER_ITEMS)
    return tuple((name, _string(text, f"{field}.{name}").strip()) for name, text in value.items())


def _choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    text = _string(value, field)
    if text not in choices:
        raise ConfigError(field, f"{_show(text)} is not one of {', '.join(choices)}")
    return text


@dataclass(frozen=True, slots=True)
class InspectionConfig:
    """[inspection]: the schedule (R3.1) and the register as the site's annex prints it (design/0082):
    its title, its check columns in order, the inspector's "repair requested?" answer per camera,
    and who countersigns: one supervisor for the run, or each managing unit's chief for its own
    cameras ([cameras] unit)."""

    schedule: Schedule = key("daily", read=_schedule, doc="daily | weekly | biweekly | off (R3.1)")
    window: tuple[int, int] = key((9 * 60, 17 * 60), read=_window, example='"09:00-17:00"',
                                  doc="local time an inspection falls in")
    random_time: bool = key(False, read=_bool, doc="true: a random day and time inside the period and window")
    sign_within_us: int = duration(DAY, SECOND, 31 * DAY, toml="sign_within",
                                   doc="unsigned after this: inspection_overdue alarm")
    # 29-31: the month's last day where the month is shorter (February)
    register_due_day: int = key(5, read=whole(0, 31, "a whole number"),
                                doc="R3.2: a month's register is due by this day of the next (31: its last day; "
                                    "0: not tracked); late: register_overdue")
    register_title: str = key("", read=lambda v, f: _string(v, f).strip(),
                              doc='the register\'s title as the site\'s form has it ("": "CCTV inspection register")')
    items: tuple[str, ...] = key((), read=_items, example="[]",
                                 doc="its check columns, in the form's order, of: host (the recorder host running), "
                                     "picture, audio, recording, login (operators'), camera_login, clock, quality; "
                                     "[] : all but host. Every check is still made and its anomalies noted.")
    register_columns: tuple[tuple[str, str], ...] = key(
        (), read=_columns, example="[]",
        doc="the register's columns as the site's annex prints them, in its order, each a name or { value = name, "
            'label = "its words" }; names: date, time, camera, unit, item, the check names above, result, abnormal, '
            "handling, remarks, repair, inspector, supervisor; with camera one row per camera, with item one row "
            "per check of items, else one row per inspection (per unit's book with countersign = \"unit\"); "
            "[] : edged's own columns")
    item_labels: tuple[tuple[str, str], ...] = key(
        (), read=_item_labels, example="{}",
        doc='the item column\'s words for a check, as the annex names it, e.g. { picture = "畫面" }; '
            "{} : edged's")
    ask_repair: bool = key(False, read=_bool, doc='true: the inspector answers "repair requested?" per camera '
                                                  "(sign --repair)")
    countersign: str = key("supervisor", read=lambda v, f: _choice(v, f, COUNTERSIGNERS),
                           doc='or "unit": each camera\'s managing unit\'s chief countersigns its rows ([cameras] '
                               "unit, [policy.units]); the run is countersigned with the last")

    @property
    def columns(self) -> tuple[str, ...]:
        return self.items or DEFAULT_ITEMS

    @property
    def period_us(self) -> int:
        return PERIOD_US.get(self.schedule, 0)


# A camera may override any [health] key but the sampling rate, which its recorder worker is started with.
_SITE_ONLY = ("sample_interval", "sample_interval_max")
_CAMERA_HINTS = {"sample_interval": "the sampling rate is the site's ([health] sample_interval)",
                 "sample_interval_max": "the sampling rate is the site's ([health] sample_interval_max)"}


def _health(t: dict[str, Any]) -> HealthConfig:
    health = read(HealthConfig, t, "health")
    if 0 < health.sample_interval_us < SECOND:
        raise ConfigError("health.sample_interval", "must be at least 1s (or 0s to switch image checks off)")
    return health


HealthOverrides = tuple[tuple[str, Any], ...]  # a camera's own [cameras.health] values, as (field, value)


def _camera_health(value: Any, path: str) -> HealthOverrides:
    """A camera's [cameras.health] table: the [health] keys it sets for itself (an analogue
    camera with its own quality floor, a dim corridor with its own darkness threshold)."""
    if value is None:
        return ()
    where = f"{path}.health"
    if not isinstance(value, dict):
        raise ConfigError(where, f"expected a table ([cameras.health] section), found {_describe(value)}")
    keys = tuple(d for d in declared(HealthConfig) if d.toml not in _SITE_ONLY and d.key.read)
    _check_keys(value, where, tuple(d.toml for d in keys), _CAMERA_HINTS)
    return tuple(sorted((d.name, read_key(value[d.toml], f"{where}.{d.toml}"))
                        for d in keys if d.toml in value and (read_key := d.key.read) is not None))


def effective(site: HealthConfig, overrides: HealthOverrides) -> HealthConfig:
    """The thresholds one camera is held to: the site's, with the camera's own over them."""
    return replace(site, **dict(overrides)) if overrides else site


def _inspection(t: dict[str, Any]) -> InspectionConfig:
    return read(InspectionConfig, t, "inspection")
