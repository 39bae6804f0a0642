"""Config keys declared once (issue 41, design/0099; a leaf edged and edged-central both stand on
since issue 57, design/0283): a section is a frozen dataclass whose fields say, in their metadata,
the TOML key, how it is read, what it means and an example. The parser, the repr, the example
config and the reference pages (docs/ref/config.md, docs/ref/central-config.md) all come from that
one declaration, so a new key is one field: `python -m refdocs` rewrites the pages
(tests/test_docs.py fails while they are stale).

    reader: str = key("auto", read=_reader, doc='RTSP reader: "auto", "edged" or "ffmpeg"')

`read(value, field)` gets the raw TOML value and the field's path (`cameras[2].reader`) and raises
ConfigError(field, ...) saying what is wrong and how to write it: the path in every error is
what it was before (tests/test_config.py, tests/test_central_units.py). A key whose value depends
on other keys (a name that defaults to the id, a URL checked against another) is declared with
`read=None` and read by its section's parser, which passes it in (`derived`).

Here too is what every reader shares: `ConfigError`, the unknown-key check with its "did you
mean", the duration reader over storage/time/duration.py's grammar, and the quoting that never
echoes a password (invariant 8); edged/config/values.py keeps edged's own kinds of value.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import textwrap
import unicodedata
from dataclasses import MISSING, dataclass, field
from typing import Any, Callable, TypeVar, cast
from urllib.parse import urlsplit

from storage.time import duration as _grammar


class ConfigError(Exception):
    """A config problem a person can fix; ``field`` is the path of the bad value (edged-central
    calls it ``where``, and the message ``problem``)."""

    def __init__(self, field: str, message: str, source: str | None = None) -> None:
        super().__init__(field, message, source)
        self.field = field
        self.message = message
        self.source = source

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        origin = f"{self.source}: " if self.source else ""
        return f"{origin}{where}{self.message}"

    @property
    def where(self) -> str:
        return self.field

    @property
    def problem(self) -> str:
        return self.message


# --- durations, unknown keys and the quoting of a value -----------------------------------


def parse_duration(text: str, field: str) -> int:
    """Parse "60s", "500ms", "1h30m", "1.5s" into microseconds: the grammar of storage/time/duration.py,
    shared with edged-central and edgectl. Bare numbers are refused (it says why)."""
    try:
        return _grammar.parse(text, _show, _describe)
    except _grammar.DurationError as exc:
        raise ConfigError(field, str(exc)) from None


def format_duration(us: int) -> str:
    """Show microseconds the way a person would write them in the config ("1h30m", "1.5s")."""
    return _grammar.format(us)


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


def _required(t: dict[str, Any], key: str, path: str) -> Any:
    if key not in t:
        raise ConfigError(_join(path, key), "missing required key")
    return t[key]


def _join(path: str, key: str) -> str:
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'
    return f"{path}.{shown}" if path else shown


def _show(text: str) -> str:
    """Quote a user's string for an error, passwords redacted, length capped, and every character
    that does not print (a newline, NUL, a bidi or zero-width mark) escaped (design/0315)."""
    shown = redact_url(text)
    if shown == text and "@" in text and ":" in text:
        return "(value not shown: it may hold a password)"
    text = shown
    if len(text) > 60:
        text = text[:57] + "..."
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text) + '"'


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


# --- the declarations --------------------------------------------------------------------------

T = TypeVar("T")
COLUMN = 30   # where a key's comment starts in the example and the reference, as the pages write it
WIDTH = 110   # the longest line of a generated block


@dataclass(frozen=True, slots=True)
class Key:
    doc: str                                         # one sentence or two: what it means, its values
    read: Callable[[Any, str], Any] | None = None    # (TOML value, field path) -> value; None: derived
    toml: str | None = None                          # the TOML name where it differs from the field's
    example: str | None = None                       # TOML text shown in the pages; None: the default
    show: Callable[[Any], Any] | None = None         # what a repr shows (a URL without its password)
    aliases: tuple[str, ...] = ()                    # older names still read (by the section's parser)
    commented: bool = False                          # shown commented out in the pages (optional)
    worker: str | None = None                        # its name in the recorder worker's `add` (a camera's)
    per_camera: bool = False                         # a site key a camera may set for itself (`Own`)


def key(default: Any = MISSING, *, doc: str, read: Callable[[Any, str], Any] | None = None,
        toml: str | None = None, example: str | None = None, show: Callable[[Any], Any] | None = None,
        aliases: tuple[str, ...] = (), commented: bool = False, worker: str | None = None,
        per_camera: bool = False) -> Any:
    """A dataclass field declaring one config key (no default: the key is required). `worker`: the
    recorder worker is told its value under that name when the camera is added (unset: not told),
    and a name of recorder.camera.Settings there overrides the worker's setting for this camera.
    `per_camera`: a key of a site section a camera may set for itself, under the same name in its
    [[cameras]] table, read as the site's is (`Own`); with `worker`, its worker is told the camera's."""
    meta = {"key": Key(doc, read, toml, example, show, aliases, commented, worker, per_camera)}
    return field(metadata=meta) if default is MISSING else field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class Declared:
    name: str         # the dataclass field
    toml: str         # the TOML key
    key: Key
    default: Any      # MISSING: required

    @property
    def required(self) -> bool:
        return self.default is MISSING


def declared(cls: type) -> tuple[Declared, ...]:
    """The keys of a section, in declaration order."""
    found = []
    for f in dataclasses.fields(cls):
        k = f.metadata.get("key")
        if k is not None:
            found.append(Declared(f.name, k.toml or f.name.removesuffix("_us"), k, f.default))  # `grace_us`: grace
    return tuple(found)


def known(cls: type, *extra: str) -> tuple[str, ...]:
    """Every TOML key the section accepts (its keys, their older names, `extra` tables)."""
    return tuple(n for d in declared(cls) for n in (d.toml, *d.key.aliases)) + extra


def check_keys(cls: type, t: dict[str, Any], path: str, hints: dict[str, str] | None = None,
               extra: tuple[str, ...] = ()) -> None:
    """Refuse a key the section does not declare (first, before a derived key is read)."""
    _check_keys(t, path, known(cls, *extra), hints or {})


def read(cls: type[T], t: dict[str, Any], path: str, hints: dict[str, str] | None = None,
         extra: tuple[str, ...] = (), **derived: Any) -> T:
    """Build a section from its TOML table: unknown keys refused (with a hint, as before), each
    declared key read by its `read` (or its default when absent), the derived ones passed in."""
    _check_keys(t, path, known(cls, *extra), hints or {})
    values: dict[str, Any] = {}
    for d in declared(cls):
        if d.name in derived:  # read by the section's parser (it depends on other keys, or they on it)
            values[d.name] = derived.pop(d.name)
        elif d.key.read is None:
            continue
        elif d.toml in t:
            values[d.name] = d.key.read(t[d.toml], _join(path, d.toml))
        elif d.required:
            _required(t, d.toml, path)  # raises, naming the key
    plain = {f.name for f in dataclasses.fields(cast(Any, cls)) if "key" not in f.metadata}
    for name in [n for n in derived if n in plain]:  # a field of no TOML key (`citizen_due_days`)
        values[name] = derived.pop(name)
    if derived:
        raise TypeError(f"not keys of {cls.__name__}: {sorted(derived)}")  # i18n: a programming error
    return cls(**values)


def worker_fields(obj: Any) -> dict[str, Any]:
    """What the recorder worker is told of a camera: each key declared with `worker`, when set, and
    each of its own values of a site key (`obj.own`) whose key is declared with `worker`."""
    told = {d.key.worker: v for d in declared(type(obj)) if d.key.worker and (v := getattr(obj, d.name)) is not None}
    return told | {d.key.worker: o.value for o in getattr(obj, "own", ()) if (d := o.declared()).key.worker}


# --- a site key a camera sets for itself (per_camera=True) ---------------------------------------


@dataclass(frozen=True, slots=True)
class Own:
    """A camera's own value of a site key declared `per_camera=True` (`[[cameras]] segment_length`
    over `[storage] segment_length`): the site's section, the key's field, the value as read."""
    section: type
    name: str
    value: Any

    def declared(self) -> Declared:
        return next(d for d in declared(self.section) if d.name == self.name)

    def __repr__(self) -> str:
        return f"{self.section.__name__}.{self.name}={self.value!r}"


def per_camera(sections: dict[str, type]) -> dict[str, tuple[str, type, Declared]]:
    """The site keys a camera may set for itself, by their TOML name: (the site's table, its section,
    the key), each declared `per_camera=True` in one of `sections` (table name -> section)."""
    found: dict[str, tuple[str, type, Declared]] = {}
    for table, cls in sections.items():
        for d in declared(cls):
            if not d.key.per_camera:
                continue
            if d.key.read is None or d.toml in found:  # i18n: a programming error
                raise TypeError(f"{cls.__name__}.{d.name}: per_camera needs a key of its own reader and a name no "
                                f"other section's per-camera key has ({d.toml})")
            found[d.toml] = (table, cls, d)
    return found


def read_own(sections: dict[str, type], t: dict[str, Any], path: str) -> tuple[Own, ...]:
    """A camera's own values in its table `t`: each per-camera key present, read by the site key's
    reader (the same bounds, the camera's path in an error: `cameras[2].segment_length`)."""
    keys = per_camera(sections)
    return tuple(Own(cls, d.name, _reader(d)(t[name], _join(path, name)))
                 for name, (_table, cls, d) in keys.items() if name in t)


def _reader(d: Declared) -> Callable[[Any, str], Any]:
    assert d.key.read is not None  # per_camera() refuses a derived key
    return d.key.read


def over(site: T, own: tuple[Own, ...]) -> T:
    """What a camera is held to: the site's section `site` with the camera's own values over it."""
    mine = {o.name: o.value for o in own if o.section is type(site)}
    return cast(T, dataclasses.replace(cast(Any, site), **mine)) if mine else site


def repr_of(obj: Any) -> str:
    """Every declared key (and other field) with its value, a URL's password never shown."""
    parts = []
    for f in dataclasses.fields(obj):
        k = f.metadata.get("key")
        value = getattr(obj, f.name)
        parts.append(f"{f.name}={(k.show(value) if k is not None and k.show else value)!r}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def toml_value(value: Any) -> str:
    """A default as TOML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def block(cls: type, header: str, overrides: dict[str, str] | None = None, skip: tuple[str, ...] = (),
          only: tuple[str, ...] | None = None, own: dict[str, type] | None = None) -> str:
    """The section as annotated TOML: `key = example   # doc`, the optional ones commented out.
    `overrides`: TOML text for some keys (the example config's own values); `only`: the keys
    shown, in the declaration's order (the example config shows a few); `own`: the site's sections
    (table name -> section) whose per-camera keys follow, commented out, each with the site's doc."""
    lines = [header]
    for d in declared(cls):
        if d.toml in skip or (only is not None and d.toml not in only):
            continue
        text = (overrides or {}).get(d.toml) or d.key.example
        if text is None:
            if d.required or d.default is None:
                continue  # a required key has an example; an unset optional one says so in its doc
            text = toml_value(d.default)
        doc = f"{d.key.doc} ([[cameras]] may set its own)" if d.key.per_camera else d.key.doc
        lines += _line(f"{'# ' if d.key.commented else ''}{d.toml} = {text}", doc)
    for name, (table, _cls, d) in per_camera(own or {}).items():
        text = d.key.example or toml_value(d.default)
        lines += _line(f"# {name} = {text}", f"its own [{table}] {name}: {d.key.doc}")
    return "\n".join(lines) + "\n"


def _line(assignment: str, doc: str) -> list[str]:
    """`assignment   # doc`, the doc wrapped under its column."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in assignment)  # a CJK character is two columns
    pad = max(COLUMN, len(assignment) + wide + 1)
    wrapped = textwrap.wrap(doc, WIDTH - COLUMN - 2, initial_indent=" " * (pad - COLUMN)) or [""]
    if not doc:
        return [assignment]
    return [f"{assignment:<{pad - wide}}# {wrapped[0].lstrip()}"] + [f"{'':<{COLUMN}}# {more}" for more in wrapped[1:]]


def check(condition: bool, field_path: str, message: str) -> None:
    """Raise ConfigError(field_path, message) unless `condition`."""
    if not condition:
        raise ConfigError(field_path, message)


# --- the common kinds of key -----------------------------------------------------------------


def in_range(low: int, high: int) -> Callable[[Any, str], int]:
    """Reads a duration ("30s") between `low` and `high` microseconds."""
    def read_duration(value: Any, field_path: str) -> int:
        us = parse_duration(value, field_path)
        check(low <= us <= high, field_path, f"{format_duration(us)} is out of range "
              f"(allowed {format_duration(low)} to {format_duration(high)})")
        return us
    return read_duration


def duration(default: Any, low: int, high: int, *, doc: str, **kw: Any) -> Any:
    """A duration key (microseconds; TOML "30s"), shown in the pages as its default is written."""
    if kw.get("example") is None and isinstance(default, int):
        kw["example"] = f'"{format_duration(default)}"'
    kw.setdefault("read", in_range(low, high))
    return key(default, doc=doc, **kw)


def whole(low: int, high: int, expected: str = "an integer", note: str = "") -> Callable[[Any, str], int]:
    """Reads an integer from `low` to `high`; `expected` and `note` word its errors as before."""
    def read_whole(value: Any, field_path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(field_path, f"expected {expected}, found {_describe(value)}")
        check(low <= value <= high, field_path, f"{value} is out of range ({low} to {high}{note})")
        return value
    return read_whole
