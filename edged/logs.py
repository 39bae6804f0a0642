"""Readable stderr logging (the journal takes stderr under systemd)."""

from __future__ import annotations

import logging
import sys


def setup(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
