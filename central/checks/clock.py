"""A node's clock, as the office proves it (issue 73, design/0310): pure. The office asks each node
the time (mqtt/office_time.py `time_message`, a nonce it keeps with its own time of sending); the
node answers at once on `edged/v1/<site>/<node>/clock` with the nonce and the office's `at_us`
echoed, its wall clock (`node_us`), its monotonic clock (`mono_us`) and boot id (`boot`), signed by
its node key over mqtt/commands.py `canonical` of the rest. An answer is a clock sample only when
its nonce was sent to that node within ASK_LIFE_US before the office heard it and its signature
verifies with the node's enrolled key: the round trip is the sample's error bar
(storage/time/interval.py `exchange`). Nothing else is a clock sample: not a message's stamp, not
a backlog, not a late delivery.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from mqtt.commands import canonical
from storage.keys import nodekey
from storage.time import interval

ASK_LIFE_US = 120_000_000  # an answer heard later than this after its question is no sample (a late answer)


def sample_of(body: Any, sent_us: int | None, received_us: int, public_key: str | None) -> interval.Sample | None:
    """The clock sample a node's answer ``body`` gives, heard at ``received_us`` on the office's clock,
    ``sent_us`` being when the office sent the nonce it names to that node (None: it sent none), or
    None: not a sample (no such question, too late, the office's time not echoed, no key, a bad
    signature)."""
    if not isinstance(body, dict) or sent_us is None or public_key is None:
        return None
    if not 0 <= received_us - sent_us <= ASK_LIFE_US or body.get("at_us") != sent_us:
        return None
    node_us, mono, boot, sig = body.get("node_us"), body.get("mono_us"), body.get("boot"), body.get("sig")
    if not isinstance(node_us, int) or not _int(node_us) or (mono is not None and not _int(mono)) or not isinstance(
            sig, str):
        return None
    try:
        key = nodekey.load_public(public_key)
        ok = nodekey.check(key, base64.b64decode(sig, validate=True), canonical(body))
    except (nodekey.NodeKeyError, binascii.Error, ValueError, TypeError):
        return None
    if not ok:
        return None
    return interval.Sample(sent_us, node_us, received_us, boot if isinstance(boot, str) else "", mono)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


# pruning (design/0344) -------------------------------------------------------------------------------
KEEP_MARGIN_DAYS = 31  # past a node's longest maximum retention: a backlog's footage the office never heard of


def keep_from(samples: Iterable[tuple[int, int]], horizon_us: int, lowest_reading: int | None,
              around_us: int) -> int | None:
    """Pure: of one node's samples (sent_us on the office's clock, node_us on the node's), the
    sent_us of the oldest one any verdict may still need (every older one may go), or None (none may).

    Needed are the samples a clock line (central/verifier/clock_samples.py `line`) reads for a
    reading of the node's clock at or above ``lowest_reading`` (the oldest footage the office knows
    the node holds, the oldest destruction waiting for a sample), or for footage recorded since
    ``horizon_us`` (the office's clock: the node's longest maximum and KEEP_MARGIN_DAYS ago): each
    sample sent since the first one (in the office's order) that was sent since ``horizon_us`` or
    read its node's clock within ``around_us`` below ``lowest_reading``, and the one before it (the
    stretch that holds a reading from before it). The newest sample's reading counts as one still
    needed (footage recorded after it, not yet heard of, is read there with the stretch before)."""
    ordered = sorted(samples)
    if not ordered:
        return None
    newest = ordered[-1][1]  # a reading after the newest sample reads it and the stretch before it
    low = (newest if lowest_reading is None else min(lowest_reading, newest)) - around_us
    first = next((i for i, (sent, node) in enumerate(ordered) if sent >= horizon_us or node >= low), len(ordered))
    keep = max(first - 1, 0)
    return ordered[keep][0] if keep > 0 else None


def horizon(now_us: int, longest_max_days: float | None, max_days: float) -> int:
    """Pure: the office's time since which a node's samples are kept whatever it holds: its longest
    maximum retention (``max_days``, R1.5's year, when no birth says) and KEEP_MARGIN_DAYS more."""
    days = longest_max_days if longest_max_days is not None else max_days
    return now_us - int((days + KEEP_MARGIN_DAYS) * 86_400_000_000)
