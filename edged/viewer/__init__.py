"""The local web viewer: live view and granted playback over WebRTC (aiortc), watch without a copy.

The daemon imports only `viewer_task`; aiohttp and aiortc are loaded when [viewer] is enabled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


def viewer_task(cfg: Any, writer: Any) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The supervisor's "viewer" task: returns at once unless [viewer] enabled = true."""

    async def run(stopping: asyncio.Event) -> None:
        if not cfg.viewer.enabled:
            return
        try:
            from edged.viewer.server import Viewer

            await Viewer(cfg, writer).run(stopping)
        except Exception:  # noqa: BLE001 - a broken viewer must never stop recording
            log.exception("the web viewer stopped; recording goes on without it")

    return run
