"""The CA's register read as plain data (design/0097, 0131, 0371): the certificates issued and in
force, and what an accept of a node's key does, near twins of its name refused. Pure functions over
the register's events; central/keys/ca.py writes the register and issues."""

from __future__ import annotations

from typing import Any

from storage import names

ACCEPTED, REVOKED = "accepted", "revoked"


class CAError(Exception):
    """Something a person asked of the CA that cannot be done; the text says what to do."""


def enrolments(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pure: every certificate issued, oldest first: {node, site, name, serial, public_key,
    fingerprint, accepted_us, accepted_by, accepted_os_user, revoked_us, revoked_by, reason, cert}."""
    out: dict[str, dict[str, Any]] = {}
    for ev in events:
        if ev.get("event") == ACCEPTED:
            out[ev["serial"]] = {**{k: ev.get(k) for k in ("node", "serial", "public_key", "fingerprint", "cert")},
                                 "site": ev["node"].split("/", 1)[0], "name": ev["node"].split("/", 1)[1],
                                 "accepted_us": ev["at_us"], "accepted_by": ev.get("by"),
                                 "accepted_os_user": ev.get("os_user"), "replaces": ev.get("replaces"),
                                 "revoked_us": None, "revoked_by": None, "reason": None}
        elif ev.get("event") == REVOKED and ev.get("serial") in out and out[ev["serial"]]["revoked_us"] is None:
            out[ev["serial"]].update(revoked_us=ev["at_us"], revoked_by=ev.get("by"), reason=ev.get("reason"))
    return sorted(out.values(), key=lambda e: (e["accepted_us"], e["serial"]))


def enrolled_keys(entries: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Pure: node -> the keys (base64) of its certificates not revoked."""
    out: dict[str, set[str]] = {}
    for e in entries:
        if e["revoked_us"] is None:
            out.setdefault(e["node"], set()).add(e["public_key"])
    return out


def in_force_for(entries: list[dict[str, Any]], node: str) -> list[dict[str, Any]]:
    """Pure: the node's certificates not revoked."""
    return [e for e in entries if e["node"] == node and e["revoked_us"] is None]


def accept_decision(entries: list[dict[str, Any]], node: str, public_key: str, replace: str | None
                    ) -> tuple[str, dict[str, Any] | None]:
    """Pure: what an accept of `node`'s `public_key` does: ("again", entry) (the same key's
    certificate in force: the same bundle), ("issue", None), ("replace", the entry revoked in the
    same step); raises CAError for what is refused."""
    for e in entries:
        if e["public_key"] == public_key and e["revoked_us"] is None:
            if e["node"] != node:
                raise CAError(f"that key is already enrolled as {e['node']}; one key names one node")
            return "again", e
        if e["public_key"] == public_key:
            raise CAError(f"that key was revoked ({e['node']}, serial {e['serial']}): a revoked key is never "
                          "enrolled again; the box needs a new data folder and key")
    live, twins = in_force_for(entries, node), twins_of(entries, node)
    if replace is None:
        if live:
            raise CAError(f"{node} already has a certificate in force (serial {', '.join(e['serial'] for e in live)}): "
                          "a second one only replaces it, revoked in the same step: --replace SERIAL")
        if twins:
            raise _twin_error(node, twins)
        return "issue", None
    old = next((e for e in live + twins if e["serial"] == replace.strip().lower()), None)
    if old is None:
        raise CAError(f"--replace {replace}: {node} has no certificate in force with that serial "
                      f"(in force: {', '.join(e['serial'] for e in live + twins) or 'none'})")
    if others := [e for e in twins if e is not old]:
        raise _twin_error(node, others)
    return "replace", old


def twins_of(entries: list[dict[str, Any]], node: str) -> list[dict[str, Any]]:
    """Pure: the certificates in force at `node`'s site for another node whose name reads the same
    (storage/names.py `skeleton`: case, punctuation, l/1/I, o/0/O; issue 90, design/0371)."""
    site, _, bare = node.partition("/")
    look = names.skeleton(bare)
    return [e for e in entries if e["revoked_us"] is None and e["node"] != node
            and e["node"].partition("/")[0] == site and names.skeleton(e["node"].partition("/")[2]) == look]


def _twin_error(node: str, twins: list[dict[str, Any]]) -> CAError:
    them = ", ".join(f"{names.quoted_node(e['node'])} (serial {e['serial']})" for e in twins)
    return CAError(f"{names.quoted_node(node)} reads like {them}, in force at the same site (it differs only by case, "
                   "punctuation or l/1, o/0): a thief's export under it would pass for that node's; nothing was "
                   "issued. If it replaces that node, name it: --replace SERIAL; otherwise choose a name that reads "
                   "differently")
