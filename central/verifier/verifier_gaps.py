"""The verifier's gaps in a node's seqs (split from central/verifier/verifier.py, issue 57): a gap older than
gap_grace asked for again (a signed `cmd/resend`, issue 43 item 2) and what came of it, a second
copy of a message told from a late one, and the seq_gap findings of messages that came after all.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from central import finding_words
from central.checks import verify
from central.store import passes
from central.store.store import Store

RESEND_TRIES = 5  # a gap is asked for again this many times, a gap_grace apart, before it is a finding
Ask = Callable[[str, int, int, str], bool]  # (node, first seq, last seq, nonce): the signed cmd/resend sent


class Gaps:
    """A mixin of central/verifier/verifier.py's Verifier: the node being verified is its state."""

    store: Store
    node: str
    grace: int
    ask: Ask | None

    def _resend(self, first: int, last: int, now: int) -> str | None:
        """A gap older than gap_grace (issue 43 item 2): ask the node for it again (a signed
        `cmd/resend`), up to RESEND_TRIES times a gap_grace apart (a broker may deal the resent
        messages to a dead member of the group until its session expires); None while waiting,
        else what came of it, for the finding."""
        if self.ask is None:
            return ""
        db = self.store.db
        row = passes.resend(db, self.node, first)
        answer = None if row is None else self._answer(row["nonce"])
        if answer is not None:
            said = verify.resend_answered(answer, first, last)
            if said is not None:
                return said  # refused, or the node no longer has them: asking again would not help
        if row is not None and now - row["asked_us"] < self.grace:
            return None
        if row is not None and row["tries"] >= RESEND_TRIES:
            return verify.unanswered(row["tries"], answer is not None)
        nonce = f"resend-{first}-{now}"
        if not self.ask(self.node, first, last, nonce):
            return verify.not_asked()
        passes.asked(db, self.node, first, last, now, nonce)
        return None

    def _answer(self, nonce: str) -> dict[str, Any] | None:
        """The node's reply to the resend with this nonce, if it came (replies are few: read them all)."""
        for payload in passes.replies(self.store.db, self.node):
            try:
                body = json.loads(payload)
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("cmd") == "resend" and body.get("nonce") == nonce:
                return body
        return None

    def _verified_before(self, seq: int) -> bool:
        """A message below the cursor already verified: a second copy of it, not a late one (the
        store keeps (node, seq) once a month received; two instances each side of a month's end
        could both keep it, design/0213). Asked of late messages only, which are rare."""
        return passes.verified_before(self.store.db, self.node, seq)


def late(db: Any, node: str, seqs: list[int]) -> None:
    """Messages once reported lost came after all (a broker held them for a member that was
    down): the seq_gap finding says how many are still missing, or becomes seq_late when none is.
    On the pass's connection and node, named (its last write may run on a thread: design/0498)."""
    for row in passes.gaps(db, node):
        d = finding_words.read(row)["detail"]
        first, last = d["first"], d["last"]
        if not any(first <= s <= last for s in seqs):
            continue
        got = passes.held_between(db, node, first, last)
        f = verify.late(first, last, d["count"], got)
        passes.gap_now(db, row["key"], f.kind, f.severity, f.message, finding_words.detail_json(f.message, f.detail))
