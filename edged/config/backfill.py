"""[backfill] (design/0115): how fast a box fetches a gap back, from a camera's own recording
(design/0106) or from the site's standby (design/0107), and where the standby serves it.

    [backfill]
    cap_mbit = 16                     # both paths: at most this many Mbit/s
    standby = "10.0.0.9:7443"         # a box: its standby, asked for what it recorded of a gap
    listen = "0.0.0.0:7443"           # a standby: where it serves its boxes (mutual TLS, enrolled boxes only)

Declared once (storage/declare.py, design/0099): the parser, the reference page and the
example config come from the fields below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.declare import check, key, read
from edged.config.values import _describe

DEFAULT_CAP_MBIT = 16.0


def _mbit(value: Any, field: str) -> float:
    check(isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 10_000, field,
          f"expected Mbit/s as a number above 0 (e.g. 16), found {_describe(value)}")
    return float(value)


def _address(value: Any, field: str) -> str:
    ok = isinstance(value, str) and value.rpartition(":")[0] != "" and value.rpartition(":")[2].isdigit() \
        and 0 < int(value.rpartition(":")[2]) < 65536
    check(ok, field, f'expected "host:port", e.g. "10.0.0.9:7443", found {_describe(value)}')
    return str(value)


@dataclass(frozen=True, slots=True)
class BackfillConfig:
    cap_mbit: float = key(DEFAULT_CAP_MBIT, read=_mbit,
                          doc="the bandwidth cap of a backfill, from a camera's own recording or from the standby, "
                              "in Mbit/s (one camera at a time; a few times a camera's main stream)")
    standby: str | None = key(None, read=_address, commented=True, example='"10.0.0.9:7443"',
                              doc="a box of a site with a standby: the standby's `listen` address; after a gap the "
                                  "box fetches what the standby recorded of it (mutual TLS with the boxes' enrolled "
                                  "certificates; design/0115)")
    listen: str | None = key(None, read=_address, commented=True, example='"0.0.0.0:7443"',
                             doc="a standby: where it serves what it recorded for its boxes ([standby] for), to "
                                 "those boxes only, over mutual TLS with the office's certificates (edgectl enrol)")

    @property
    def cap_bytes_s(self) -> int:
        return int(self.cap_mbit * 1_000_000 / 8)


def parse(t: dict[str, Any]) -> BackfillConfig:
    return read(BackfillConfig, t, "backfill")
