"""A camera's recording mode, detection stream and motion settings (R1.2; design/0037, 0038).

    mode = "motion"                           # continuous (default) | motion | live
    detect_url = "/Streaming/Channels/102"    # optional: the sub-stream to detect motion on
    [cameras.motion]
    pre_roll = "5s"
    post_roll = "10s"
    sensitivity = 50                          # 1-100
    min_area = 0.003                          # share of the picture that must move
    masks = [[0, 0, 0.62, 0.1], [[0.7, 0], [1, 0], [1, 0.4]]]   # rectangles and polygons

The motion settings become recorder.motion.MotionSettings, so the rules checked here are
the detector's own; every error names the field.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from storage.declare import duration, key, read
from edged.config.values import SECOND, ConfigError, _describe, _show, _string, _url
from recorder.motion import MotionSettings, Polygon, Rect, Region

MODES = ("continuous", "motion", "live")
# What this version can run (the recorder worker honours each, recorder/modes.py).
AVAILABLE_MODES = MODES
DEFAULT_PRE_ROLL = 5 * SECOND
DEFAULT_POST_ROLL = 10 * SECOND
_MASK_SHAPE = ("a rectangle [x0, y0, x1, y1] or a polygon [[x, y], [x, y], [x, y], ...], "
               "in fractions of the picture from 0 (left, top) to 1 (right, bottom)")


@dataclass(frozen=True, slots=True)
class MotionConfig:
    pre_roll_us: int = DEFAULT_PRE_ROLL
    settings: MotionSettings = field(default_factory=MotionSettings)

    @property
    def post_roll_us(self) -> int:
        return round(self.settings.post_roll * SECOND)


def _mode(value: object, field: str, available: tuple[str, ...] = AVAILABLE_MODES) -> str:
    value = _string(value, field)
    if value not in MODES:
        raise ConfigError(field, f"{_show(value)} is not a recording mode; use "
                          + ", ".join(f'"{m}"' for m in MODES))
    if value not in available:
        raise ConfigError(field, f'"{value}" recording is not available in this version of edged yet; '
                          'it records every camera continuously: set mode = "continuous" or remove the key')
    return value


def _detect_url(value: object, url: str, field: str) -> str:
    """A full URL, or a path ("/stream2?x=1") on the camera's own URL (same host, port and
    credentials: the sub-stream usually differs from the main stream only there)."""
    value = _string(value, field)
    if value.startswith("/"):
        if url.startswith("synthetic:"):
            raise ConfigError(field, "a path needs the camera's url to be an rtsp:// URL; give a whole URL")
        base, rel = urlsplit(url), urlsplit(value)
        value = urlunsplit((base.scheme, base.netloc, rel.path, rel.query, ""))
    return _url(value, field)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _masks(value: object, field: str) -> tuple[Region, ...]:
    if not isinstance(value, list):
        raise ConfigError(field, f"expected an array of masks, each {_MASK_SHAPE}; found {_describe(value)}")
    out: list[Region] = []
    for i, m in enumerate(value):
        f = f"{field}[{i}]"
        try:
            if isinstance(m, list) and len(m) == 4 and all(_number(v) for v in m):
                out.append(Rect(*m))
            elif (isinstance(m, list) and m and all(isinstance(p, list) and len(p) == 2
                                                  and all(_number(v) for v in p) for p in m)):
                out.append(Polygon(tuple((p[0], p[1]) for p in m)))
            else:
                raise ConfigError(f, f"a mask is {_MASK_SHAPE}; found {_describe(m)}")
        except ValueError as e:
            raise ConfigError(f, str(e)) from None
    return tuple(out)


def _sensitivity(s: Any, field: str) -> int:
    if not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= 100:
        raise ConfigError(field, f"expected a whole number from 1 (least) to 100 (most), found {_describe(s)}")
    return s


def _min_area(a: Any, field: str) -> float:
    if not _number(a) or not 0 < a < 1:
        raise ConfigError(field, "expected the share of the picture that must move, "
                          f"above 0 and below 1 (0.003 is 0.3 %), found {_describe(a)}")
    return float(a)


@dataclass(frozen=True, slots=True)
class MotionKeys:
    """A camera's [cameras.motion] table as written, each key declared once (storage/declare.py);
    it becomes a MotionConfig, whose settings are the detector's (recorder.motion.MotionSettings)."""

    pre_roll_us: int = duration(DEFAULT_PRE_ROLL, SECOND, 30 * SECOND, doc="kept before the motion starts")
    post_roll_us: int = duration(DEFAULT_POST_ROLL, SECOND, 600 * SECOND, doc="and after it ends")
    sensitivity: int = key(MotionSettings.sensitivity, read=_sensitivity,
                           doc="1 (least) to 100 (most): how faint a change counts")
    min_area: float = key(MotionSettings.min_area, read=_min_area,
                          doc="the share of the picture that must move (0.003 is 0.3 %)")
    masks: tuple[Region, ...] = key((), read=_masks, example="[[0, 0, 0.62, 0.1], [[0.7, 0], [1, 0], [1, 0.4]]]",
                                    doc="ignored regions: rectangles [x0, y0, x1, y1] and polygons [[x, y], ...], "
                                        "fractions of the picture (0-1)")


def _motion(t: object, path: str) -> MotionConfig:
    """The camera's [cameras.motion] table (defaults for what it leaves out)."""
    if t is None:
        return MotionConfig()
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table ([cameras.motion] section), found {_describe(t)}")
    k = read(MotionKeys, t, path)
    kw: dict[str, Any] = {"post_roll": k.post_roll_us / SECOND}
    kw.update({name: getattr(k, name) for name in ("sensitivity", "min_area", "masks") if name in t})
    try:
        return MotionConfig(pre_roll_us=k.pre_roll_us, settings=MotionSettings(**kw))
    except ValueError as e:  # the detector's own rules, should one be stricter than the checks above
        raise ConfigError(path, str(e)) from None
