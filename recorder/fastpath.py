"""recorder/rtp.py compiled, where it was built, else rtp.py itself (design/0160).

`scripts/build-compiled` (run by scripts/bootstrap) compiles a copy of recorder/rtp.py with mypyc
into `recorder._rtpc`, the copy ending in `SOURCE_SHA256`, the hash of the rtp.py it was made
from. `rtp` here is that compiled module when it imports and was made from the rtp.py beside it,
else rtp.py: a box without a compiler, or a tree whose rtp.py changed since the build, records
with the pure module, the same bytes a little slower (tests/test_fastpath.py proves them equal).
`EDGED_PURE_RTP=1` in the environment takes the pure module (bench/record_throughput.py's
before/after).

`take` is the usual packet's path compiled by Cython (recorder/rtp_fu.pyx, built beside it into
`recorder._rtpc_fu`, design/0492, 0495) that `rtp.drain` is handed, where it is built from the
rtp_fu.pyx beside it; else None, and drain runs that path itself, in mypyc's C or in Python.
`EDGED_PURE_RTP=1` leaves it out too.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, cast

from recorder import rtp as pure

log = logging.getLogger(__name__)

COMPILED_NAME = "recorder._rtpc"
TAKE_NAME = "recorder._rtpc_fu"
TAKE_SOURCE = Path(__file__).with_name("rtp_fu.pyx")


def source_sha256() -> str:
    """The hash the compiled module must carry: of recorder/rtp.py as it is now."""
    return hashlib.sha256(Path(pure.__file__).read_bytes()).hexdigest()


def load(name: str = COMPILED_NAME) -> ModuleType:
    """The compiled module, or recorder/rtp.py when it is absent, stale or not wanted."""
    if os.environ.get("EDGED_PURE_RTP", "") not in ("", "0"):
        return pure
    try:
        mod = importlib.import_module(name)
    except ImportError:
        return pure
    if getattr(mod, "SOURCE_SHA256", None) != source_sha256():
        log.warning("%s was built from another recorder/rtp.py: using the pure module (run scripts/bootstrap "
                    "to build it again)", name)
        return pure
    return mod


def load_take(name: str = TAKE_NAME) -> pure.Take | None:
    """recorder/rtp_fu.pyx's `take`, or None when it is absent, stale or not wanted."""
    if os.environ.get("EDGED_PURE_RTP", "") not in ("", "0"):
        return None
    try:
        mod = importlib.import_module(name)
        source = TAKE_SOURCE.read_bytes()
    except (ImportError, OSError):
        return None
    if getattr(mod, "SOURCE_SHA256", None) != hashlib.sha256(source).hexdigest():
        log.warning("%s was built from another recorder/rtp_fu.pyx: not used (run scripts/bootstrap to build it "
                    "again)", name)
        return None
    return cast("pure.Take", mod.take)


if TYPE_CHECKING:
    from recorder import rtp as rtp
else:
    rtp = load()

COMPILED = rtp is not pure
take = load_take()
