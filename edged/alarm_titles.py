"""What each alarm kind is called for people (design/0047). The kind stays the machine id
(MQTT, the catalog, `--json`); edgectl shows this title, in the person's language, next to it.
The titles are declared with their kinds in storage/alarm_kinds.py (design/0067), so every kind
has one; tests/test_alarm_kinds.py checks each has its zh_TW translation."""

from __future__ import annotations

from edged.i18n import _
from storage.alarm_kinds import KINDS

TITLES = {name: kind.title for name, kind in KINDS.items()}  # kind -> English msgid


def title(kind: str) -> str:
    """The kind's title in the current language (the kind itself when it has none)."""
    return _(TITLES[kind]) if kind in TITLES else kind
