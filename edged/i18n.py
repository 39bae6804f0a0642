"""What people read, in their language (design/0047): gettext catalogs of the domain `edged`
under edged/locale/, managed with Babel (`scripts/i18n extract|update|compile`), and dates as
the site's forms write them (the ROC calendar in zh-TW: 民國115年11月22日, 115/11/22 in tables).

Languages are tags as the config writes them: `en` (the source language: no catalog) and
`zh-TW`. The current language is a context variable, so the daemon (the site's language) and
edgectl (the person's) set it once and every `_()` below follows. ISO 8601 UTC stays what
scripts and MQTT read; only text for people is translated.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import os
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Iterator, Mapping, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage import alarm_kinds
from storage.msg import FOREIGN as FOREIGN, KIND as KIND, Msg as Msg, english as english  # declared in storage/msg.py
from storage.msg import A_ as A_  # an alarm's message, said at the office too (design/0343)
from storage.msg import is_stored as _is_stored
from storage.time.rocdate import GREGORIAN, ROC, roc_date, roc_date_short, roc_month, roc_year  # noqa: F401 - edged's date helpers

DOMAIN = "edged"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"
LANGUAGES = ("en", "zh-TW")  # the config's spelling; the catalog folder is zh_TW (gettext's)
_ALIASES = {"en": "en", "zh-tw": "zh-TW", "zh-hant": "zh-TW", "zh-hant-tw": "zh-TW"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("edged_language", default=DEFAULT)
# the site's word for itself (`[site] us`: 本所, 本校, 本局, 本公所) and the language it is a word of
# and its words for a request's modes and kinds ([forms.modes]: 003's 保存 for a copy, [forms.kinds]; design/0447)
_Said = tuple[tuple[tuple[str, str], str], ...]   # ((group, id), the site's word): (("mode", "copy"), "保存")
_site: contextvars.ContextVar[tuple[str, str, _Said]] = contextvars.ContextVar("edged_site_word",
                                                                               default=("", DEFAULT, ()))


def normalise(tag: str | None) -> str | None:
    """`zh-TW`, `zh_TW.UTF-8`, `zh-Hant-TW`, `en_US.UTF-8` -> a supported tag; None when the tag
    names no supported language (`C`, `POSIX`, `fr_FR`, empty)."""
    if not tag:
        return None
    base = tag.split(".")[0].split("@")[0].replace("_", "-").lower()
    if base in _ALIASES:
        return _ALIASES[base]
    if base.startswith("en-"):
        return "en"
    return None


def person_language(cli: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """A person's choice for edgectl: `--lang`, else the locale variables in the order gettext
    reads them (LANGUAGE's first entry, LC_ALL, LC_MESSAGES, LANG). None: the person chose none."""
    env = os.environ if env is None else env
    if cli:
        return normalise(cli)
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            first = value.split(":")[0]
            return normalise(first)
    return None


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of a language (en: none, the messages are written in English)."""
    if lang == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang.replace("-", "_")])


def set_language(lang: str | None) -> contextvars.Token[str]:
    """Speak `lang` from now on in this context (a supported tag, or None for the default)."""
    return _current.set(normalise(lang) or DEFAULT)


def language() -> str:
    return _current.get()


def set_site_word(word: str, lang: str | None, modes: Mapping[str, str] | None = None,
                  kinds: Mapping[str, str] | None = None) -> contextvars.Token[tuple[str, str, _Said]]:
    """The site's word for itself, and its words for the modes and the kinds ([forms.modes],
    [forms.kinds]), from now on in this context (the daemon sets them once from its config; each
    desk request; design/0412, 0447)."""
    said = tuple((("mode", k), v) for k, v in (modes or {}).items()) + tuple(
        (("kind", k), v) for k, v in (kinds or {}).items())
    return _site.set((word, normalise(lang) or DEFAULT, said))


def us() -> str:
    """The site's word for itself where the current language is the site's, else "this site" in
    the reader's words: a refusal says 「本校不受理…」 at the school (issue 91, design/0412)."""
    word, lang, _modes = _site.get()
    return word if word and _current.get() == lang else _("this site")


def site_said(group: str, key: str) -> str:
    """The site's own word for a request's mode or kind (`group` "mode" or "kind") where the current
    language is the site's (003's 「保存」 for a copy, 「本所同仁」 for its staff; design/0447); ""
    where it has none (edged's word is used)."""
    _word, lang, said = _site.get()
    return dict(said).get((group, key), "") if _current.get() == lang else ""


def _(message: str) -> str:
    """The message in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; `_()` translates it where it is shown."""
    return message


E = TypeVar("E", bound=BaseException)


def hinted(exc: E, hint: str | None) -> E:
    """`exc`, a refusal in a person's words, carrying the technician's form of it (the option, the
    config key or the operation behind it; design/0103): edgectl prints both, the desk the words."""
    if hint:
        exc.hint = hint  # type: ignore[attr-defined]
    return exc


def hint_of(exc: BaseException) -> str | None:
    return getattr(exc, "hint", None)


def render(text: str, stored: Mapping[str, object] | None, foreign: str | None = None) -> str:
    """A stored Msg in the current language, its stored Msg parameters too; the English text when
    none was stored (an older row) or the template is not in the catalog (then gettext answers it
    unchanged). `foreign`: what to say instead of a FOREIGN parameter (None: the parameter itself)."""
    if not _is_stored(stored):
        return text
    assert stored is not None
    params = stored.get("params") or {}
    assert isinstance(params, Mapping)
    said = {k: _said(k, v, foreign) for k, v in params.items()}
    try:
        return _(str(stored["template"])).format(**said)
    except (KeyError, IndexError, ValueError):
        return text


def _said(key: str, value: object, foreign: str | None) -> object:
    if _is_stored(value):
        assert isinstance(value, Mapping)
        return render(english(value), value, foreign)
    if key == FOREIGN and foreign is not None:
        return foreign
    if key == KIND and isinstance(value, str) and value in alarm_kinds.KINDS:
        return _(alarm_kinds.KINDS[value].title)
    return value


def has_foreign(stored: Mapping[str, object] | None) -> bool:
    """Whether a stored Msg carries someone else's words (a FOREIGN parameter) at any depth."""
    params = (stored or {}).get("params") or {}
    return isinstance(params, Mapping) and any(k == FOREIGN or (_is_stored(v) and has_foreign(v))
                                               for k, v in params.items())


def templates(stored: Mapping[str, object]) -> Iterator[str]:
    """Every template in a stored Msg, its own and its parameters' (for the tests of translation)."""
    yield str(stored["template"])
    params = stored.get("params") or {}
    assert isinstance(params, Mapping)
    for v in params.values():
        if _is_stored(v):
            yield from templates(v)


def in_language(lang: str, message: str) -> str:
    """One message in a given language, whatever the current one (a document in the site's)."""
    return translations(normalise(lang) or DEFAULT).gettext(message)


# dates ---------------------------------------------------------------------------------------
def zone(name: str | None) -> tzinfo | None:
    """The site's time zone (an IANA name, e.g. Asia/Taipei); None: this box's local zone."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone name (IANA, e.g. Asia/Taipei)") from None


def local(us: int, tz: tzinfo | None) -> datetime:
    """The moment in the zone `tz` (None: the box's local zone, its daylight saving included)."""
    return datetime.fromtimestamp(us / 1e6, tz) if tz else datetime.fromtimestamp(us / 1e6).astimezone()


def fmt_date(us: int | None, lang: str, tz: tzinfo | None, long: bool = False) -> str:
    """A date for a document: zh-TW in the ROC calendar (long: 民國115年11月22日; else
    115/11/22), en in ISO form (long: 22 November 2026)."""
    if us is None:
        return "-"
    d = local(us, tz).date()
    if normalise(lang) == "zh-TW":
        return roc_date(d) if long else roc_date_short(d)
    return f"{d.day} {d.strftime('%B')} {d.year}" if long else d.isoformat()


def fmt_datetime(us: int | None, lang: str, tz: tzinfo | None, seconds: bool = False) -> str:
    """Date and time to the minute (`seconds`: to the second) in the site's zone: `115/11/22 14:05`
    on a zh-TW form (the site's own time, unlabelled as on its paper: "CST" reads as China
    Standard Time), the zone named in English: `2026-11-22 14:05 CST`."""
    if us is None:
        return "-"
    t = local(us, tz)
    clock = t.strftime("%H:%M:%S" if seconds else "%H:%M")
    if normalise(lang) == "zh-TW":
        return f"{fmt_date(us, lang, tz)} {clock}"
    return f"{fmt_date(us, lang, tz)} {clock} {t.strftime('%Z')}".rstrip()


def calendar(lang: str) -> str:
    """The calendar dates are typed and shown in (storage/time/rocdate.py): the ROC's in zh-TW, as
    the site's forms write them; else the Gregorian."""
    return ROC if normalise(lang) == "zh-TW" else GREGORIAN


def fmt_month(year: int, month: int, lang: str) -> str:
    """A register's month: 民國115年11月 / November 2026."""
    if normalise(lang) == "zh-TW":
        return roc_month(year, month)
    return f"{date(year, month, 1).strftime('%B')} {year}"


@contextlib.contextmanager
def speaking(lang: str | None) -> Iterator[None]:
    """Speak `lang` inside the block (a document in the site's language), then as before."""
    token = set_language(lang)
    try:
        yield
    finally:
        _current.reset(token)
