"""A camera's stream as the recording thread opens it, and the checks that end a run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import av

from recorder import diagnose
from recorder.synthetic import SyntheticCamera, parse_synthetic_url
from storage.layout import VIDEO_DIR


class Source:
    """An opened camera: an input container, plus the synthetic encoder when there is one."""

    def __init__(self, url: str, settings: Any):
        self._synthetic = None
        if url.startswith("synthetic:"):
            self._synthetic = SyntheticCamera(parse_synthetic_url(url))
            self.container = av.open(self._synthetic.reader, format="mpegts",
                                     options={"probesize": "65536", "analyzeduration": "500000"})
        else:
            self.container = av.open(
                url,
                options={"rtsp_transport": "tcp", "timeout": str(settings.read_timeout_us)},
                timeout=(settings.connect_timeout_us / 1e6, settings.read_timeout_us / 1e6),
            )

    def close(self) -> None:
        try:
            self.container.close()
        finally:
            if self._synthetic is not None:
                self._synthetic.close()


class Disconnected(Exception):
    """A run ended (or never began) for a reason the camera's state shows; `kind` is one of
    recorder.diagnose's kinds."""

    def __init__(self, message: str, kind: str = diagnose.OTHER):
        super().__init__(message)
        self.kind = kind


class StorageGate:
    """Refuses a new segment file unless the video folder is on the device edged started with:
    an unmounted disk leaves the root filesystem's folder under its mount point (design/0023).
    The daemon notices within seconds and stops the cameras; this closes the window before."""

    def __init__(self, data_dir: Path, video_dev: int | None):
        self.video = data_dir / VIDEO_DIR
        self.video_dev = video_dev

    def check(self) -> None:
        if self.video_dev is None:
            return
        try:
            dev = os.stat(self.video).st_dev
        except OSError as exc:
            raise Disconnected(f"not recording: the video folder is not there ({exc.strerror})",
                               diagnose.STORAGE) from None
        if dev != self.video_dev:
            raise Disconnected("not recording: the video folder is no longer on the disk edged started with",
                               diagnose.STORAGE)
