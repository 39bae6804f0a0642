"""The settings in force in the office's words (issue 42 item 3): the printed audit report says
what was configured as an ethics officer reads it (a label per setting, a choice in words, a
span in days or minutes), never a config key or a choice's id. The config keys themselves are
on docs/ref/config.md and in `edgectl audit report`'s text, for the technician."""

from __future__ import annotations

from typing import Any

from edged.i18n import N_, _
from edged.rules.words import span as span

# [health]: one label per threshold, in the order of edged/config/health.py
HEALTH_WORDS = {
    "sample_interval_us": N_("a picture checked every"),
    "sample_interval_max_us": N_("or at most every"),
    "raise_after_us": N_("a problem lasting this long raises its alarm"),
    "clear_after_us": N_("and gone this long clears it"),
    "stale_after_us": N_("no picture for this long: stalled"),
    "dark_luma": N_("too dark below this brightness (0-255)"),
    "dark_fraction": N_("or this share of the picture black"),
    "bright_fraction": N_("overexposed above this share of white"),
    "frozen_change": N_("frozen below this share changed"),
    "blur_sharpness": N_("out of focus below this sharpness (0-1)"),
    "covered_contrast": N_("covered below this contrast"),
    "moved_similarity": N_("moved below this likeness to the reference picture"),
    "colour_min": N_("colour lost below this saturation, in daylight"),
    "daylight": N_("daylight hours"),
    "min_width": N_("least picture width (pixels)"),
    "min_height": N_("least picture height (pixels)"),
    "min_pixels": N_("least pixels in a picture"),
    "min_fps": N_("least frames a second"),
    "clock_tolerance_us": N_("a camera's clock off by more than this raises an alarm"),
    "audio_silent_level": N_("sound below this level (dBFS) is silence"),
    "audio_silent_after_us": N_("silence this long raises an alarm"),
}
ON_FULL_WORDS = {"overwrite": N_("keep recording, destroying the oldest footage past its shortest retention"),
                 "stop": N_("stop recording and raise an alarm")}
COPY_TO_WORDS = {"anyone": N_("whom the custodian names"), "requester": N_("the requester only")}
SCHEDULE_WORDS = {"daily": N_("daily"), "weekly": N_("weekly"), "biweekly": N_("every two weeks"),
                  "off": N_("not scheduled")}
# a camera's recording mode (the same words as the desk's camera page)
CAMERA_MODE_WORDS = {"live": N_("live view only, not recorded"), "motion": N_("recorded on motion"),
                     "continuous": N_("recorded all the time")}


def said(words: dict[str, str], value: Any) -> str:
    """`value` in words where the table has them, else as written (a site's own word)."""
    return _(words[value]) if isinstance(value, str) and value in words else "-" if value is None else str(value)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def health_value(key: str, value: Any) -> str:
    """A threshold's value as the report prints it."""
    if key.endswith("_us") and isinstance(value, int):
        return span(value)
    if key == "daylight" and isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{clock(value[0])}～{clock(value[1])}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def health_rows(values: dict[str, Any]) -> list[list[str]]:
    """Each threshold as (its label, its value); a key with no label yet keeps its name (and the
    test of the report's words fails on it)."""
    return [[_(HEALTH_WORDS[k]) if k in HEALTH_WORDS else k, health_value(k, v)] for k, v in values.items()]


def own_health(values: dict[str, Any]) -> str:
    """A camera's own thresholds, as label: value pairs."""
    return _(", ").join(_("{label}: {value}").format(label=label, value=value) for label, value in health_rows(values))
