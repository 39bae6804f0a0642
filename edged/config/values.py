"""Config values: units, sizes, URLs, and the checks every config field goes through. Each
error names the field's path and never echoes a password (invariant 8). What edged-central reads
too (ConfigError, durations, the unknown-key check, the quoting) is storage/declare.py's, named
here as well (issue 57, design/0283)."""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from edged import DEFAULT_CONFIG_PATH
from storage import names
from storage.declare import (ConfigError as ConfigError, _check_keys as _check_keys, _describe as _describe,
                             _join as _join, _required as _required, _show as _show,
                             format_duration as format_duration, parse_duration as parse_duration,
                             redact_url as redact_url)
from storage.time.duration import DAY as DAY, HOUR as HOUR, MINUTE as MINUTE, MS as MS, SECOND as SECOND, US as US

DEFAULT_PATH = DEFAULT_CONFIG_PATH
DEFAULT_DATA_DIR = Path("/var/lib/edged")

KB, MB, GB, TB = 1000, 1000**2, 1000**3, 1000**4
KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4

_SIZE_UNITS = {
    "B": 1, "KB": KB, "kB": KB, "MB": MB, "GB": GB, "TB": TB,
    "KiB": KIB, "MiB": MIB, "GiB": GIB, "TiB": TIB,
}  # fmt: skip
_SIZE_UNIT_NAMES = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]+)")
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?%")
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ID_RULE = (
    'use 1-63 characters from a-z, 0-9, "_" and "-", starting with a letter or digit '
    "(ids are used in file paths and MQTT topics)"
)


# --- sizes and URLs (durations, ConfigError and the quoting: storage/declare.py) -------------
def parse_size(text: str, field: str) -> int:
    """Parse "10GB", "500MB", "1.5TB", "64MiB", "4096B" into bytes.

    KB/MB/GB/TB are powers of 1000 (as disks are sold), KiB/MiB/GiB/TiB powers of 1024.
    Bare numbers are refused, like bare durations: "10" could be bytes or gigabytes.
    """
    return _parse_size(text, field, 'e.g. "10GB", "500MB", "64MiB"')


def _parse_size(text: Any, field: str, example: str) -> int:
    if not isinstance(text, str):
        raise ConfigError(
            field,
            f"expected a size string with a unit, found {_describe(text)}; "
            f"write it quoted with a unit, {example}",
        )
    s = text.strip()
    if not s:
        raise ConfigError(field, f"is empty; write a size with a unit, {example}")
    if s.startswith("-"):
        raise ConfigError(field, f"{_show(text)} is negative; sizes must be greater than zero")
    m = _SIZE.fullmatch(s)
    if m is None:
        raise ConfigError(
            field,
            f"{_show(text)} is not a size; write a number with a unit, {example} "
            f"(units: {_SIZE_UNIT_NAMES})",
        )
    unit = m.group(2)
    if unit not in _SIZE_UNITS:
        folded = {u.lower(): u for u in _SIZE_UNITS if u != "kB"}
        hint = f'; did you mean "{folded[unit.lower()]}"?' if unit.lower() in folded else ""
        raise ConfigError(
            field, f"{_show(text)}: unknown unit {_show(unit)} (units: {_SIZE_UNIT_NAMES}){hint}"
        )
    total = Fraction(m.group(1)) * _SIZE_UNITS[unit]
    if total == 0:
        raise ConfigError(field, f"{_show(text)} is zero; sizes must be greater than zero")
    if total.denominator != 1:
        raise ConfigError(field, f"{_show(text)} is not a whole number of bytes")
    return int(total)


# --- field checks -----------------------------------------------------------------------


def _table(data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    t = data.get(key, {})
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table ([{key}] section), found {_describe(t)}")
    return t


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(field, f"expected a string, found {_describe(value)}")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(field, f"expected true or false, found {_describe(value)}")
    return value


def _id(value: Any, field: str) -> str:
    text = _string(value, field)
    if not text.isascii():  # a Chinese name written as the id: say where it belongs
        raise ConfigError(field, f"{_show(text)} is not a valid id: ids are ASCII (a-z, 0-9, \"_\", \"-\"), "
                          "they name folders and MQTT topics; write the Chinese as the name "
                          "(e.g. id = \"counter1\", name = \"櫃檯1\")")
    if not _ID.fullmatch(text) or not names.is_name(text):  # narrower than the one rule for names (design/0315)
        raise ConfigError(field, f"{_show(text)} is not a valid id; {_ID_RULE}")
    return text


def _name(value: Any, field: str) -> str:
    text = _string(value, field)
    if not text.strip():
        raise ConfigError(field, "must not be empty")
    return text


def _duration(t: dict[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
    field = _join(path, key)
    us = parse_duration(t[key], field) if key in t else default
    if not low <= us <= high:
        raise ConfigError(
            field,
            f"{format_duration(us)} is out of range "
            f"(allowed {format_duration(low)} to {format_duration(high)})",
        )
    return us


def _in_days(t: dict[str, Any], key: str) -> bool:
    """Is the duration at `key` written in days ("6d")? A due time in days counts days on the
    site's calendar (edged/rules/deadlines.answer_due_us); one in hours ("24h") is exact."""
    value = t.get(key)
    return isinstance(value, str) and re.fullmatch(r"\s*\d+\s*d\s*", value) is not None


def _path(value: Any, field: str, base_dir: Path | None) -> Path:
    value = _string(value, field)
    if not value.strip():
        raise ConfigError(field, "must not be empty")
    if "\x00" in value:
        raise ConfigError(field, "contains a NUL character")
    p = Path(value)
    if not p.is_absolute():
        if base_dir is None:
            raise ConfigError(
                field,
                f"{_show(value)} is relative and there is no config file to resolve it "
                "against; use an absolute path",
            )
        p = base_dir / p
    return Path(os.path.normpath(p))


def _url(value: Any, field: str) -> str:
    text = _string(value, field)
    if not text:
        raise ConfigError(field, "must not be empty")
    if any(c <= " " or c == "\x7f" for c in text):
        raise ConfigError(field, "contains spaces or control characters; percent-encode them (e.g. %20)")
    if text.startswith("synthetic:"):
        _synthetic(text[len("synthetic:") :], field)
        return text
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ConfigError(
            field, "is not a valid URL; write rtsp://[user:password@]host[:port]/path"
        ) from None
    if parts.scheme not in ("rtsp", "rtsps"):
        scheme = f'"{parts.scheme}"' if parts.scheme else "none"
        raise ConfigError(
            field,
            f"unsupported scheme {scheme}; "
            "use rtsp://, rtsps:// or synthetic: (the built-in test pattern)",
        )
    if not host:
        raise ConfigError(field, "has no host; write rtsp://[user:password@]host[:port]/path")
    return text


_SYNTHETIC_EXAMPLE = 'e.g. "synthetic:?width=1280&height=720&fps=20"'
_SYNTHETIC_LIMITS = {"width": (64, 3840, True), "height": (64, 2160, True), "fps": (1, 60, False)}


def _synthetic(rest: str, field: str) -> None:
    if not rest:
        return
    if not rest.startswith("?"):
        raise ConfigError(field, f"synthetic: takes only query parameters, {_SYNTHETIC_EXAMPLE}")
    try:
        params = parse_qsl(rest[1:], keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ConfigError(field, f"bad synthetic: parameters; {_SYNTHETIC_EXAMPLE}") from None
    seen = set()
    for name, raw in params:
        if name not in _SYNTHETIC_LIMITS:
            raise ConfigError(
                field, f"unknown synthetic: parameter {_show(name)} (known: width, height, fps)"
            )
        if name in seen:
            raise ConfigError(field, f"synthetic: parameter {name} given twice")
        seen.add(name)
        low, high, even = _SYNTHETIC_LIMITS[name]
        if not re.fullmatch(r"[0-9]{1,6}", raw):
            raise ConfigError(field, f"synthetic: {name} must be a whole number, found {_show(raw)}")
        n = int(raw)
        if not low <= n <= high:
            raise ConfigError(field, f"synthetic: {name}={n} is out of range ({low} to {high})")
        if even and n % 2:
            raise ConfigError(field, f"synthetic: {name}={n} must be even")
