"""Free text a person types (who filmed a file, who took it in, a note) under the names rule's spirit
(issue 87 item 4, T30, design/0383): any script (a person's name in Chinese is as it is written), but
no control, format (bidi, zero-width) or separator character, which let one line print as another
record or reorder what is around it, and a length bound. `printed` is how every printer shows such
text, old rows included: what does not print escaped (`\\n`, `\\u202e`), a CJK character as itself.
`quoted` is a refusal's way of naming what was typed. Pure; a leaf.
"""

from __future__ import annotations

import unicodedata

TEXT_MAX = 200   # characters: a person's name, a rank, a unit; a note is a sentence, not a file
# Unicode categories that never belong in a line of text a person reads: controls, format
# characters (bidi embeddings and isolates, zero-width joiners, the BOM), surrogates, private use,
# unassigned, line and paragraph separators
_BAD = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class BadText(ValueError):
    """Text that breaks the rule; the text says why, showing the text escaped."""


def bad_character(value: str) -> str | None:
    """The first character of `value` that is not allowed, or None."""
    return next((c for c in value if unicodedata.category(c) in _BAD), None)


def escape(c: str) -> str:
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else
                                                            f"\\u{ord(c):04x}" if ord(c) < 0x10000 else
                                                            f"\\U{ord(c):08x}")


def printed(value: object) -> str:
    """Text for a person to read: as is, but every character the rule refuses (or that does not
    print) escaped, and a backslash doubled only where an escape would be ambiguous."""
    text = "" if value is None else str(value)
    if bad_character(text) is None and text.isprintable():
        return text
    return "".join(c if unicodedata.category(c) not in _BAD and c.isprintable() else escape(c) for c in text)


def quoted(value: object, limit: int = 80) -> str:
    """What a person typed, named in a refusal: in double quotes, cut at `limit` characters, every
    character that does not print escaped; CJK and other scripts as themselves."""
    text = "" if value is None else str(value)
    cut = text[:limit] + ("..." if len(text) > limit else "")
    return '"' + printed(cut.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def shown(value: object, limit: int = 80) -> str:
    """A file's or a person's name in a sentence: as itself when every character of it prints and it
    is not cut (CJK included: escape what does not print, not what is not ASCII), else `quoted`."""
    text = "" if value is None else str(value)
    if text and len(text) <= limit and printed(text) == text and text.strip() == text:
        return text
    return quoted(text, limit)


def file_name(value: object, limit: int = TEXT_MAX) -> str | None:
    """A device's file name as an intake keeps it (design/0403): its last path part (a browser or a
    script may send a path), as sent when it is text under the rule, else `printed` (escaped) and cut
    at `limit`; None when nothing is left. A file is never refused for its name."""
    text = "" if value is None else str(value)
    last = text.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not last or last in (".", ".."):
        return None
    try:
        return check(last, limit)
    except BadText:
        return printed(last)[:limit]


def check(value: object, limit: int = TEXT_MAX) -> str:
    """`value` if it is text under the rule: a string, not blank, at most `limit` characters, no
    character `bad_character` names; else BadText saying why."""
    if not isinstance(value, str) or not value.strip():
        raise BadText("empty")
    if len(value) > limit:
        raise BadText(f"{len(value)} characters, more than {limit}")
    c = bad_character(value)
    if c is not None:
        raise BadText(f"it holds {escape(c)} ({unicodedata.name(c, unicodedata.category(c))}), which does not print")
    return value
