"""What the office's register says of a node and the key it speaks with (design/0125): enrolled,
revoked (and since when, on the office's clock), another key than the node's, or a node nobody
enrolled; and whether the office has a CA at all.

One small function, `standing`, over the register as central/keys/ca.py reads it: the verifier
(central/verifier/verifier.py), `edged-central heads add` and the dashboard ask only through it, so the
register's form (central/keys/ca.py) may change without them. `Register` is its blocking shell: it
reads the register again when the file changes (the verifier's thread, the dashboard's thread).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
import json
from typing import Any

from central.keys import ca
from central.checks import verify
from central.i18n import N_
from central.keys.register import RegisterError
from storage.msg import Msg

log = logging.getLogger(__name__)

ENROLLED, REVOKED, OTHER, NEVER = "enrolled", "revoked", "other", "never"


@dataclass(frozen=True, slots=True)
class Standing:
    state: str                      # ENROLLED, REVOKED, OTHER (the node is enrolled, not with this key), NEVER
    revoked_us: int | None = None   # REVOKED: when, by the office's clock
    has_ca: bool = False            # the office made its CA: every node is meant to be enrolled

    def revoked_by(self, at_us: int) -> bool:
        """Whether the key was revoked at or before `at_us` (the office's receipt of a message)."""
        return self.state == REVOKED and self.revoked_us is not None and self.revoked_us <= at_us


NOBODY = Standing(NEVER)


def standing(entries: list[dict[str, Any]], node: str, key: str | None, has_ca: bool) -> Standing:
    """Pure: `key` (base64) of `node` against the register's enrolments (ca.enrolments). A key
    in force is enrolled even if an older certificate of the same key was revoked (the register
    refuses that, design/0097); a revoked key stays revoked whatever else the node holds."""
    mine = [e for e in entries if e["node"] == node]
    if not mine:
        return Standing(NEVER, None, has_ca)
    same = [e for e in mine if key is not None and e["public_key"] == key]
    if any(e["revoked_us"] is None for e in same):
        return Standing(ENROLLED, None, has_ca)
    if same:
        return Standing(REVOKED, min(e["revoked_us"] for e in same), has_ca)
    return Standing(OTHER, None, has_ca)


# what the verifier finds -------------------------------------------------------------------------------
def birth_findings(st: Standing, birth: dict[str, Any], received_us: int) -> list[verify.Finding]:
    """Pure: a birth the office received after it revoked the key it announces (critical, each
    birth; one received before is a lawful birth of the time: nothing); a node nobody enrolled in
    a fleet with a CA (a warning, once a key, until it is accepted). The key another box
    announces is central/keys/ca.py's `birth_findings` (key_not_enrolled)."""
    ts = birth.get("ts_us")
    at = ts if isinstance(ts, int) else None
    key = birth.get("public_key")
    if st.state == REVOKED and not st.revoked_by(received_us):
        return []  # neither key_not_enrolled: the key was the node's when the birth came
    if st.state == REVOKED:
        return [verify.Finding("key_revoked", verify.CRITICAL, Msg(N_(
            "a birth announced the node key the office revoked: the revoked box (or whoever holds its key) still "
            "speaks for this node; its heads and audit records are not taken")),
                               f"key_revoked:birth:{ts}", at, {"public_key": key, "revoked_us": st.revoked_us})]
    if st.state == NEVER and st.has_ca and isinstance(key, str):
        return [verify.Finding("node_not_enrolled", verify.WARNING, Msg(N_(
            "the node is not enrolled, though the office has a CA: its key is taken from its own birth, which anyone "
            "with its broker login can send; accept its enrolment request (edged-central nodes accept)")), f"node_not_enrolled:{key}", at, {"public_key": key})]
    return []


def revoked_message(what: Msg, ident: str, at_us: Any, st: Standing) -> verify.Finding:
    """A message signed with (or sent under) a key the office had revoked when it arrived."""
    return verify.Finding("key_revoked", verify.CRITICAL,
                          Msg(N_("{what} came after the office revoked the node's key: it is not taken as the node's"),
                              what=what),
                          f"key_revoked:{ident}", at_us if isinstance(at_us, int) else None,
                          {"revoked_us": st.revoked_us})


def revoked_messages(st: Standing, seen: list[tuple[str, int, Any]], before: Mapping[str, Any] | None) -> verify.Finding:
    """One `key_revoked` for every message that came under a key the office had revoked (issue 86 item
    5, design/0365): ``seen`` the (kind, seq, ts_us) of those of a pass, in seq order; ``before``: the
    detail the finding had (earlier passes'), whose count, first and last it carries on. A stolen box
    sends 150-200 messages a day: one finding that counts them, not one a message."""
    first = {"kind": seen[0][0], "seq": seen[0][1], "ts_us": seen[0][2]}
    last = {"kind": seen[-1][0], "seq": seen[-1][1], "ts_us": seen[-1][2]}
    count = len(seen)
    if before:
        count += int(before.get("messages") or 0)
        if isinstance(before.get("first"), dict) and before["first"].get("seq", 1 << 62) < first["seq"]:
            first = before["first"]
        if isinstance(before.get("last"), dict) and before["last"].get("seq", -1) > last["seq"]:
            last = before["last"]
    return verify.Finding("key_revoked", verify.CRITICAL, Msg(N_(
        "{n} messages came after the office revoked the node's key, the first {first_kind} message {first_seq}, "
        "the last {last_kind} message {last_seq}: none is taken as the node's"), n=count, first_kind=first["kind"],
        first_seq=first["seq"], last_kind=last["kind"], last_seq=last["seq"]),
        f"key_revoked:messages:{st.revoked_us}", first["ts_us"] if isinstance(first["ts_us"], int) else None,
        {"revoked_us": st.revoked_us, "messages": count, "first": first, "last": last})


# the shell --------------------------------------------------------------------------------------------
class Register:
    """`standing` over the register in the CA's folder (central/keys/ca.py, design/0131), read again when
    it changes; a register altered by hand (RegisterError) is refused and the last good reading
    kept, logged once a change. Blocking."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.seen: tuple[int, int] | None = None
        self.entries: list[dict[str, Any]] = []

    def _has_ca(self) -> bool:
        return (ca.ca_folder(self.data_dir) / ca.CA_CERT).exists()

    def __call__(self, node: str, key: str | None) -> Standing:
        try:
            st = (ca.ca_folder(self.data_dir) / ca.REGISTER).stat()
            now: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            now = None
        if now != self.seen:
            self.seen = now
            try:
                self.entries = ca.enrolments(ca.read_register(self.data_dir)) if now else []
            except RegisterError as exc:
                log.error("the register of enrolments is refused (%s): revocations as last read stand", exc)
        return standing(self.entries, node, key, self._has_ca())


def by_revocation(entries: list[tuple[Standing, str, int, Any]]) -> list[tuple[Standing, list[tuple[str, int, Any]]]]:
    """A pass's (standing, kind, seq, ts_us) under revoked keys grouped by revocation, each message once (its
    record and its head both name it), in seq order: what `revoked_messages` counts."""
    by: dict[Any, list[tuple[Standing, str, int, Any]]] = {}
    for entry in entries:
        by.setdefault(entry[0].revoked_us, []).append(entry)
    out = []
    for group in by.values():
        once = {s: (k, s, ts) for _st, k, s, ts in reversed(group)}
        out.append((group[0][0], [once[s] for s in sorted(once)]))
    return out


def detail_of(stored: Any) -> dict[str, Any] | None:
    """A finding's detail as the store keeps it (JSON text, or already a mapping), or None."""
    try:
        got = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        return None
    return got if isinstance(got, dict) else None
