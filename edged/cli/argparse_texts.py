"""argparse's own words ("usage:", "options", its errors) in the person's language (design/0057).

Python ships no zh_TW catalog for argparse's gettext domain, so its messages are marked here and
translated in edged's catalog, and `speak()` points argparse's `_`/`ngettext` (module globals it
looks up each time it speaks) at edged's. Python 3.11's wording; a message Python rewords falls
back to English.
"""

from __future__ import annotations

import argparse

from edged.i18n import N_, _, ngettext

TEXTS = (
    N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"),
    N_("show program's version number and exit"), N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"), N_("not allowed with argument %s"),
    N_("the following arguments are required: %s"), N_("one of the arguments %s is required"),
    N_("expected one argument"), N_("expected at most one argument"), N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"), N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"), N_("%(prog)s: error: %(message)s\n"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"), N_("can't open '%(filename)s': %(error)s"),
    N_("ignored explicit argument %r"),
)


def plurals() -> tuple[str, ...]:
    """argparse's plural messages, here so that extraction finds them."""
    return (ngettext("expected %s argument", "expected %s arguments", 1),)


def speak() -> None:
    """From now on argparse speaks the current language (edged.i18n's context variable)."""
    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
