"""Camera threads (recorder/camera.py) run in the test's own process, without a worker or a
daemon: what they emit and the segments they close, as dicts."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from recorder.camera import CameraRecorder, Settings
from recorder.events import to_dict
from recorder.read_turns import ReadTurns


@dataclass
class Recording:
    recs: list[CameraRecorder]
    events: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)

    def closed_of(self, cam: str) -> list[dict[str, Any]]:
        return [c for c in self.closed if c["camera"] == cam]


@contextmanager
def recording(urls: dict[str, str], settings: Settings, reader: str | None = None,
              transport: str = "auto") -> Iterator[Recording]:
    """One started camera thread per {id: url}; on leaving, every thread is stopped and joined.
    `reader` (design/0079): the cameras' RTSP reader; None: EDGED_TEST_READER's, else "auto";
    `transport` (design/0060): the cameras' RTSP media path."""
    run = Recording([])
    reader = reader or os.environ.get("EDGED_TEST_READER") or "auto"
    turns = ReadTurns()  # one reader for them all, as a worker's (design/0302)
    run.recs = [CameraRecorder({"id": cam, "url": url, "reader": reader, "transport": transport}, settings, lambda e: run.events.append(to_dict(e)),
                               lambda c: run.closed.append(asdict(c)), read_turns=turns) for cam, url in urls.items()]
    for rec in run.recs:
        rec.start()
    try:
        yield run
    finally:
        for rec in run.recs:
            rec.stop.set()
        for rec in run.recs:
            rec.thread.join(30)
        turns.close()
