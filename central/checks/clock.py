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
