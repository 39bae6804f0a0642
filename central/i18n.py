"""What the central office's readers read in the sites' language (design/0028): the dashboard's
pages and `edged-central report`'s HTML. A gettext domain of its own, `central`, under
central/locale/ (central/ imports nothing from edged/), managed like edged's with Babel
(`scripts/i18n`); dates in zh-TW in the ROC calendar (storage/time/rocdate.py, the edge's own
helpers). JSON, CSV and MQTT keep English keys and UTC microseconds for scripts.

A `Speaker` is made once per page or report from `[report] language` and `timezone`; `sp._()`
translates (Babel extracts `_()` calls), `sp.when()` and `sp.day()` write dates.
"""

from __future__ import annotations

import functools
import gettext
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo

from storage.msg import FOREIGN, is_stored
from storage.time.rocdate import roc_date, roc_date_short, roc_month

DOMAIN = "central"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"
LANGUAGES = ("en", "zh-TW")
_ALIASES = {"en": "en", "zh-tw": "zh-TW", "zh-hant": "zh-TW", "zh-hant-tw": "zh-TW"}


def normalise(tag: str | None) -> str | None:
    """`zh-TW`, `zh_TW`, `zh-Hant-TW`, `en` -> a supported tag; None for any other."""
    if not isinstance(tag, str) or not tag:
        return None
    base = tag.split(".")[0].replace("_", "-").lower()
    return _ALIASES.get(base) or ("en" if base.startswith("en-") else None)


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang.replace("-", "_")])


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; `Speaker._()` translates it when shown."""
    return message


class Speaker:
    def __init__(self, lang: str | None, tz: ZoneInfo):
        self.lang = normalise(lang) or DEFAULT
        self.tz = tz
        self._t = translations(self.lang)

    @property
    def zh(self) -> bool:
        return self.lang == "zh-TW"

    @property
    def html_lang(self) -> str:
        return "zh-Hant-TW" if self.zh else "en"

    def _(self, message: str) -> str:
        return self._t.gettext(message)

    def word(self, value: object) -> str:
        """A value that arrives as data (a severity, a node's status, a verdict) in this language,
        when the catalog has it (listed with N_() where it is defined); else as it is."""
        return self._t.gettext(str(value))

    def said(self, text: str, stored: object) -> str:
        """A stored Msg (storage/msg.py: a finding's template and values, design/0280) in this
        language, its Msg values too; `text` (the English kept for machines) when nothing was stored
        (a finding from before), or a stored template, at any depth, will not take its values. A
        FOREIGN value (a box's or the system's own words) is said as it came, never translated."""
        if not is_stored(stored):
            return text
        try:
            return self._render(stored)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError):
            return text

    def _render(self, stored: object) -> str:
        if not isinstance(stored, Mapping) or not isinstance(stored.get("params") or {}, Mapping):
            raise TypeError("not a stored Msg")  # i18n: a programming error's text
        params = stored.get("params") or {}
        said = {str(k): self._render(v) if is_stored(v) and k != FOREIGN else v for k, v in params.items()}
        return self._(str(stored["template"])).format(**said)

    def when(self, us: int | None, *, seconds: bool = True) -> str:
        """A moment: zh-TW `115/11/23 14:05:09 CST` in the sites' zone (ROC calendar); en as
        before (`2026-11-23 06:05:09 UTC`)."""
        if not us:
            return "-"
        if not self.zh:
            return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        t = datetime.fromtimestamp(us / 1e6, self.tz)
        return f"{roc_date_short(t.date())} {t.strftime('%H:%M:%S' if seconds else '%H:%M')} {t.strftime('%Z')}"

    def local(self, us: int | None) -> str:
        """A moment in the sites' zone without the zone's name (the report's tables)."""
        if us is None:
            return "-"
        t = datetime.fromtimestamp(us / 1e6, self.tz)
        return f"{roc_date_short(t.date())} {t.strftime('%H:%M:%S')}" if self.zh else t.strftime("%Y-%m-%d %H:%M:%S")

    def day(self, iso: str) -> str:
        """A YYYY-MM-DD day: 115/11/23 in zh-TW."""
        try:
            d = date.fromisoformat(iso)
        except (TypeError, ValueError):
            return str(iso)
        return roc_date_short(d) if self.zh else iso

    def long_day(self, us: int) -> str:
        d = datetime.fromtimestamp(us / 1e6, self.tz).date()
        return roc_date(d) if self.zh else d.isoformat()

    def month(self, month: str) -> str:
        """YYYY-MM: 民國115年11月 in zh-TW."""
        try:
            y, m = (int(x) for x in month.split("-"))
        except ValueError:
            return month
        return roc_month(y, m) if self.zh else month
