"""How edgectl shows things: local time with the zone named, sizes and tables for people,
`--json` for scripts."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any, Sequence, TextIO, TypeAlias

from edged.cli.ctx import Ctx as Ctx  # what every verb gets, for the verb modules
from storage.declare import ConfigError, parse_duration  # not edged.config: 40 modules edgectl needs not (design/0390)
from edged.i18n import _, language
from storage.free_text import printed
from storage.time.rocdate import roc_date_short

# what a module's register(sub) adds its verbs to: edgectl's sub-commands
Verbs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


# The parent of every verb whose answer a script may read: `edgectl VERB --json` prints the
# daemon's answer as JSON instead of the table (edged/cli/edgectl.py: main).
JSON = argparse.ArgumentParser(add_help=False)
JSON.add_argument("--json", action="store_true", help=_("print the answer as JSON, for scripts"))


class UsageError(Exception):
    """A mistake the person can fix; printed without a traceback."""


# formatting -------------------------------------------------------------------------
def fmt_time(us: int | None) -> str:
    """Local time with the zone named (docs/requirements.md "Time"); in zh-TW the date in the
    ROC calendar as tables write it (115/11/22 14:05:03 CST)."""
    if us is None:
        return "-"
    t = datetime.fromtimestamp(us / 1e6).astimezone()
    if language() == "zh-TW":
        return f"{roc_date_short(t.date())} {t.strftime('%H:%M:%S %Z')}"
    return t.strftime("%Y-%m-%d %H:%M:%S %Z")


def fmt_age(us: int | None, now: int) -> str:
    if us is None:
        return "-"
    s = max(0, (now - us) // 1_000_000)
    if s < 120:
        return _("{n}s ago").format(n=s)
    if s < 7200:
        return _("{n}m ago").format(n=s // 60)
    if s < 2 * 86400:
        return _("{n}h ago").format(n=s // 3600)
    return _("{n}d ago").format(n=s // 86400)


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def width(text: str) -> int:
    """Columns the text takes on a terminal: East Asian wide and full-width characters (a
    Chinese camera name) take two, combining marks none (unicodedata.east_asian_width)."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def field(label: str, text: str, column: int = 11) -> str:
    """A `label: text` line with the text starting at `column` (display width: a Chinese label
    takes two columns a character)."""
    head = f"{label}:"
    return head + " " * max(1, column - width(head)) + text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    # every cell printed escaped (design/0383): a line break or a direction mark in a stored text never
    # prints as another row, nor turns the columns around it
    cells = [[str(h) for h in headers]] + [["-" if v is None else printed(v) for v in r] for r in rows]
    widths = [max(width(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c + " " * (w - width(c)) for c, w in zip(r, widths)).rstrip() for r in cells)


def label_of(labels: dict[str, str], value: Any) -> Any:
    """An id shown as a value in a table (a request's kind, a run's kind) in the person's
    language; `--json` keeps the id."""
    return _(labels[value]) if isinstance(value, str) and value in labels else value


def parse_when(text: str, now_us: int) -> int:
    """ISO 8601 (local time unless a zone is given), `now`, or `-1h` (that long ago)."""
    text = text.strip()
    if text == "now":
        return now_us
    if text.startswith("-"):
        try:
            return now_us - parse_duration(text[1:], "time")
        except ConfigError as exc:
            raise UsageError(_("bad time {text!r}: {error}").format(text=text, error=exc.message)) from None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(_("bad time {text!r}: use ISO 8601 like 2026-11-21T08:00 or a span ago like -2h").format(
            text=text)) from None
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return int(dt.timestamp() * 1_000_000)


class Progress:
    """Long work's progress: a bar on a terminal (`line` gives its text from the bar, the
    percentage and the daemon's progress message); plain "`word`: 40%" lines otherwise (logs,
    pipes), one every 10 %."""

    def __init__(self, word: str, line: Callable[[str, int, dict[str, Any]], str], stream: TextIO = sys.stderr):
        self.word, self.line, self.stream = word, line, stream
        self.tty = stream.isatty()
        self.shown = -1

    def __call__(self, info: dict[str, Any]) -> None:
        pct = int(100 * float(info.get("fraction") or 0))
        if self.tty:
            fill = 30 * pct // 100
            self.stream.write("\r" + self.line("#" * fill + "." * (30 - fill), pct, info) + "   ")
            self.stream.flush()
            self.shown = pct
        elif pct // 10 > self.shown // 10 or (pct == 100 and self.shown != 100):
            self.stream.write(f"{self.word}: {pct}%\n")
            self.stream.flush()
            self.shown = pct

    def done(self) -> None:
        if self.tty and self.shown >= 0:
            self.stream.write("\n")
            self.stream.flush()
