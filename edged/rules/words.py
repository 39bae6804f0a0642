"""The office's words for edged's ids (issue 42 item 3, design/0103): roles, request kinds, modes
and hold kinds as a person of the site says them, so that a refusal a person can meet is built
from words, never from a role id, an operation key, a config key or a command-line flag. The
technician's form of the same refusal (the key or the flag behind it) travels beside it as a
hint (edged.i18n.hinted): edgectl prints both, the desk the person's words only."""

from __future__ import annotations

from typing import Iterable

from edged.i18n import N_, _

ROLE_WORDS = {"viewer": N_("clerk (viewer)"), "custodian": N_("custodian"), "approver": N_("approver"),
              "auditor": N_("auditor"), "admin": N_("account administrator")}
KIND_WORDS = {"internal": N_("internal staff"), "citizen": N_("citizen"), "agency": N_("public agency"),
              "police-urgent": N_("police, urgent"), "quick-look": N_("quick look")}
MODE_WORDS = {"view": N_("view"), "copy": N_("copy")}
HOLD_WORDS = {"evidence": N_("evidence hold"), "legal": N_("legal hold")}


def word(words: dict[str, str], value: str | None) -> str:
    """`value` in words where edged has them (translated), else as it is."""
    return _(words[value]) if value in words else (value or "-")


def either(words: dict[str, str], values: Iterable[str]) -> str:
    """"a or b" in words: the roles a rule accepts, the modes a kind allows."""
    return _(" or ").join(word(words, v) for v in values)


def listed(words: dict[str, str], values: Iterable[str]) -> str:
    return _(", ").join(word(words, v) for v in values)
