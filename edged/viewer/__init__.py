"""The local web viewer: live view and granted playback over WebRTC (aiortc), watch without a copy.

The daemon imports only `ViewerService`; aiohttp and aiortc are loaded when [viewer] is enabled.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from storage.time.clock import SYSTEM, Clock

if TYPE_CHECKING:  # types only: aiohttp and aiortc load with the server, when [viewer] is enabled
    from edged.alarms import Alarms
    from edged.config import Config
    from edged.viewer.server import Viewer
    from storage.catalog import CatalogWriter

# op, args, session -> answer: the control operations for a session (design/0073)
Operate = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]

log = logging.getLogger(__name__)


class ViewerService:
    """The supervisor's "viewer" task (restarted by edged.daemon.task_keeper when it fails) and the
    door through which a SIGHUP reload reaches the running viewer."""

    def __init__(self, cfg: Config, writer: CatalogWriter, clock: Clock = SYSTEM, alarms: Alarms | None = None):
        self.cfg = cfg
        self.alarms = alarms      # edged.alarms.Alarms: a password guessed at from the web (issue 45)
        self.clock = clock
        self.writer = writer
        self.viewer: Viewer | None = None   # the running edged.viewer.server.Viewer, if any
        self.operate: Operate | None = None  # op, args, session -> answer: the control operations (design/0073)
        self.reads: Any = None    # edged.control.reads.ReadLedger (not imported: a layer above): thumbnails are footage reads (design/0114)

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.cfg.viewer.enabled:
            return
        # aiohttp, aiortc and PyAV (no longer loaded at the daemon's start, design/0286) imported on a
        # thread: a few hundred ms the event loop does not wait for; the import below is then a look-up
        await asyncio.to_thread(importlib.import_module, "edged.viewer.server")
        from edged.viewer.server import Viewer

        self.viewer = Viewer(self.cfg, self.writer, self.clock, operate=self.operate, alarms=self.alarms)
        self.viewer.thumbs.reads = self.reads
        try:
            await self.viewer.run(stopping)
        finally:
            self.viewer = None

    async def reload(self, cfg: Config) -> None:
        """The camera list follows the config: views of a camera disabled or removed end now."""
        if cfg.viewer != self.cfg.viewer:
            log.warning("viewer settings change only on restart; the viewer's camera list was reloaded")
        self.cfg = cfg
        if self.viewer is not None:
            await self.viewer.reload(cfg)
