"""The local web viewer: live view and granted playback over WebRTC (aiortc), watch without a copy.

The daemon imports only `ViewerService`; aiohttp and aiortc are loaded when [viewer] is enabled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from storage.time.clock import SYSTEM, Clock

log = logging.getLogger(__name__)


class ViewerService:
    """The supervisor's "viewer" task (restarted by edged.daemon.task_keeper when it fails) and the
    door through which a SIGHUP reload reaches the running viewer."""

    def __init__(self, cfg: Any, writer: Any, clock: Clock = SYSTEM, alarms: Any = None):
        self.cfg = cfg
        self.alarms = alarms      # edged.alarms.Alarms: a password guessed at from the web (issue 45)
        self.clock = clock
        self.writer = writer
        self.viewer: Any = None   # the running edged.viewer.server.Viewer, if any
        self.operate: Any = None  # op, args, session -> answer: the control operations (design/0073)
        self.reads: Any = None    # edged.control.reads.ReadLedger: thumbnails are footage reads (design/0114)

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.cfg.viewer.enabled:
            return
        from edged.viewer.server import Viewer

        self.viewer = Viewer(self.cfg, self.writer, self.clock, operate=self.operate, alarms=self.alarms)
        self.viewer.thumbs.reads = self.reads
        try:
            await self.viewer.run(stopping)
        finally:
            self.viewer = None

    async def reload(self, cfg: Any) -> None:
        """The camera list follows the config: views of a camera disabled or removed end now."""
        if cfg.viewer != self.cfg.viewer:
            log.warning("viewer settings change only on restart; the viewer's camera list was reloaded")
        self.cfg = cfg
        if self.viewer is not None:
            await self.viewer.reload(cfg)
