"""The sign-offs of an account's application as its event rows keep them (design/0088). Pure: no
table, no sqlite_utils, so the rules that decide who signs (edged/rules/applications.py) read them too."""

from __future__ import annotations

from typing import Any

SIGNED = "signed:"   # an event row "signed:<action>", its reason the box: a sign-off of an application (design/0088)


def actor_account(by: str) -> str:
    """The account in an actor as the audit chain writes it ("alice", "alice (os: root)", a signature
    on paper "cheng (on paper: admin)")."""
    return by.split(" (", 1)[0]


def application_signatures(events: list[dict[str, Any]], action: str) -> dict[str, dict[str, Any]]:
    """The sign-offs of the account's last `action` event's application: box -> {by, at_us}.
    A sign-off is an event row after that event (an earlier application's stay with it). Pure."""
    last = max((e["at_us"] for e in events if e["action"] == action), default=None)
    if last is None:
        return {}
    return {e["reason"]: {"by": e["by"], "at_us": e["at_us"]} for e in events
            if e["action"] == SIGNED + action and e["at_us"] >= last}
