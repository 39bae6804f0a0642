"""Config values: units, durations, sizes, URLs, and the checks every config field goes
through. Each error names the field's path and never echoes a password (invariant 8)."""

from __future__ import annotations

import difflib
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from edged import DEFAULT_CONFIG_PATH
from storage.time import duration
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


class ConfigError(Exception):
    """A config problem a person can fix; ``field`` is the path of the bad value."""

    def __init__(self, field: str, message: str, source: str | None = None) -> None:
        super().__init__(field, message, source)
        self.field = field
        self.message = message
        self.source = source

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        origin = f"{self.source}: " if self.source else ""
        return f"{origin}{where}{self.message}"


# --- durations and URLs ---------------------------------------------------------------
def parse_duration(text: str, field: str) -> int:
    """Parse "60s", "500ms", "1h30m", "1.5s" into microseconds: the grammar of storage/time/duration.py,
    shared with edged-central and edgectl. Bare numbers are refused (it says why)."""
    try:
        return duration.parse(text, _show, _describe)
    except duration.DurationError as exc:
        raise ConfigError(field, str(exc)) from None


def format_duration(us: int) -> str:
    """Show microseconds the way a person would write them in the config ("1h30m", "1.5s")."""
    return duration.format(us)


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


def redact_url(url: str) -> str:
    """Replace the password in a URL with ``***``; a URL without one comes back unchanged.

    Errs on the side of hiding: a password with an unescaped "/" or "#" (which confuses
    URL parsers) is still found, because whatever sits between "user:" and the last "@"
    is treated as the password.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        password = None
    if password is not None:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        return parts._replace(netloc=f"{user}:***@{hostport}").geturl()
    # Fallback for URLs the parser misreads, e.g. "rtsp://user:pa/ss@host/".
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    at = rest.rfind("@")
    if at < 0:
        return url
    userinfo, host_and_path = rest[:at], rest[at + 1 :]
    user, colon, password = userinfo.partition(":")
    if not colon or any(c in user for c in "/?#"):
        return url
    if "/" in password and password.split("/", 1)[0].isdigit():
        # "host:554/path@x": a port, then an "@" in the path; there is no password here.
        return url
    return f"{scheme}://{user}:***@{host_and_path}"


# --- field checks -----------------------------------------------------------------------


def _check_keys(
    t: dict[str, Any], path: str, known: tuple[str, ...], hints: dict[str, str] | None = None
) -> None:
    for key in t:
        if key not in known:
            if hints and key in hints:
                tip = f"; {hints[key]}"
            else:
                hint = difflib.get_close_matches(key, known, n=1)
                tip = f'; did you mean "{hint[0]}"?' if hint else ""
            raise ConfigError(_join(path, key), f"unknown key (known: {', '.join(known)}){tip}")


def _table(data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    t = data.get(key, {})
    if not isinstance(t, dict):
        raise ConfigError(path, f"expected a table ([{key}] section), found {_describe(t)}")
    return t


def _required(t: dict[str, Any], key: str, path: str) -> Any:
    if key not in t:
        raise ConfigError(_join(path, key), "missing required key")
    return t[key]


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
    if not _ID.fullmatch(text):
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


# --- message helpers --------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'
    return f"{path}.{shown}" if path else shown


def _show(text: str) -> str:
    """Quote a user's string for an error, passwords redacted and length capped."""
    shown = redact_url(text)
    if shown == text and "@" in text and ":" in text:
        return "(value not shown: it may hold a password)"
    text = shown
    if len(text) > 60:
        text = text[:57] + "..."
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _describe(value: Any) -> str:
    """Name a TOML value's type for an error; tables and arrays are not echoed."""
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f"string {_show(value)}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__  # datetime, date, time
