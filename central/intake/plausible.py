"""Whether a durable message's seq is one its node could have sent, and whether a PostgreSQL
partition may be made for it (issue 43 item 3, design/0119). Pure: plain numbers in, a verdict out.

A node's seq is its outbox's counter (storage/outbox.py): it starts at the wall clock in
microseconds when the outbox file is made and grows by one a message. So a node can have sent at
most what its birth says it is (cameras and segment length, central/intake/quota.py `birth_budget`)
since the last message the office accepted from it, plus a margin; and a seq far below the first
the office knows of it was never given by this outbox. The two anchors of the ceiling are the
last accepted message (its seq, and when the office received it) and the newest birth (the
outbox's last seq when the node connected, so an outbox that queued during an outage drains
without a finding; a new outbox, after a lost disk, announces its new counter there).
"""

from __future__ import annotations

from dataclasses import dataclass

from central.i18n import N_
from storage.msg import Msg

MINUTE_US = 60_000_000
DAY_US = 86_400_000_000
MARGIN_MESSAGES = 10_000   # messages past the rate, at least: a request's burst of audit records, a clock off
MARGIN_MINUTES = 60        # or an hour at the birth's rate, if more
SEQ_AHEAD_US = 600_000_000  # as central/store/store.py: no seq more than 10 minutes past its receipt
WINDOW_PAST_US = 35 * DAY_US  # a partition is made for a month that ends at most this long before the receipt


@dataclass(slots=True)
class Anchor:
    """What the office knows of a node's seqs (None: nothing yet)."""
    per_minute: int                # messages a minute its newest birth allows (quota.birth_budget)
    first_seq: int | None = None   # the lowest seq stored
    last_seq: int | None = None    # the highest seq accepted, and
    last_us: int = 0               # when the office received it (its own clock)
    birth_seq: int | None = None   # the newest birth's `last_seq`, and
    birth_us: int = 0              # when the office received that birth


def margin(per_minute: int) -> int:
    """Messages a node may be ahead of its rate: MARGIN_MESSAGES, or MARGIN_MINUTES of its rate."""
    return max(MARGIN_MESSAGES, per_minute * MARGIN_MINUTES)


def ceiling(a: Anchor, received_us: int) -> int | None:
    """The highest seq the node could have given by ``received_us``, or None with no anchor.
    A birth's own last seq counts only if it is not past its receipt (a counter starts at the
    node's wall clock, never ahead of it by more than SEQ_AHEAD_US)."""
    tops = []
    for seq, at in ((a.last_seq, a.last_us), (a.birth_seq, a.birth_us)):
        if seq is None or (at and seq > at + SEQ_AHEAD_US):
            continue
        tops.append(seq + a.per_minute * max(0, received_us - at) // MINUTE_US + margin(a.per_minute))
    return max(tops) if tops else None


def judge(seq: int, a: Anchor, received_us: int) -> tuple[str, str] | None:
    """None if ``seq`` is plausible, else (finding kind, why): `seq_beyond_rate` (quarantined,
    critical) or `seq_below_first` (refused)."""
    top = ceiling(a, received_us)
    if top is not None and seq > top:
        return ("seq_beyond_rate", Msg(N_("seq {seq} is {ahead} past the {top} the node could have reached at "
                                          "{rate} messages a minute (its birth) since its last accepted message: "
                                          "forged, or a loop in the node"),
                                       seq=seq, ahead=seq - top, top=top, rate=a.per_minute))
    if a.first_seq is not None and seq < a.first_seq - margin(a.per_minute):
        return ("seq_below_first", Msg(N_("seq {seq} is {below} below the node's first known seq {first}: its "
                                          "outbox never gave it"), seq=seq, below=a.first_seq - seq, first=a.first_seq))
    return None


def accepted(a: Anchor, seq: int, received_us: int) -> None:
    """``seq`` was accepted at ``received_us``: the anchor moves with it."""
    if a.last_seq is None or seq > a.last_seq:
        a.last_seq, a.last_us = seq, received_us
    if a.first_seq is None or seq < a.first_seq:
        a.first_seq = seq


def partition_allowed(start_us: int, end_us: int, received_us: int) -> bool:
    """Whether a month's partition [start_us, end_us) may be made for a message received at
    ``received_us``: the month ends after WINDOW_PAST_US before the receipt and starts at most
    SEQ_AHEAD_US after it. Outside, the message goes to the default partition (a hostile node's
    seqs in past months would otherwise make a partition each)."""
    return end_us > received_us - WINDOW_PAST_US and start_us <= received_us + SEQ_AHEAD_US
