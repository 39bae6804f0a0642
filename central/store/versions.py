"""The store's schema version against the code's (issue 43 item 4, design/0121): pure. A store is
made at the code's version; one at another version is never changed by `run` or any other verb
but `edged-central migrate` (stop every instance, migrate, start the new ones): an instance of
another version refuses to start, so an older instance never writes a newer store and a schema
change never runs inside whichever instance starts first."""

from __future__ import annotations


class SchemaError(Exception):
    """The store's schema is not the one this edged-central was written for; the text says what to do."""


def refusal(found: int, expected: int, where: str) -> str | None:
    """Why a store at schema ``found`` may not be used by code expecting ``expected`` (None: it may)."""
    if found == expected:
        return None
    if found < expected:
        return (f"the store {where} is at schema version {found} and this edged-central expects {expected}: stop "
                f"every edged-central instance, then run `edged-central migrate` (`--dry-run` first shows what "
                f"changes), then start them again")
    return (f"the store {where} is at schema version {found}, newer than this edged-central (which expects "
            f"{expected}): a newer edged-central migrated it; run that version (or upgrade this one)")
