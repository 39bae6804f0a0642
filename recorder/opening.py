"""Opening one connection of a camera (design/0079, amended by design/0092; design/0060): the
edged reader or FFmpeg's (libavformat) as recorder/reader_choice.py decides, the RTSP transport
"auto" keeps, and, when nothing opens, why in a technician's words (recorder/diagnose.py).

Runs on the camera's thread (recorder/camera.py's `_open`), blocking with the camera's timeouts.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from typing import Any, Protocol

from recorder import diagnose
from recorder.diagnose import scrub
from recorder.edged_source import EDGED, FFMPEG, EdgedSource, is_rtsp
from recorder.edged_source import explain as explain_edged
from recorder.reader_choice import LOST, UDP_ONLY, ReaderChoice, reason
from recorder.rtsp_session import UNSPOKEN, RtspFailure
from recorder.source import TCP, UDP, Disconnected, Source, connect_timeout_us
from storage.process import logs

log = logging.getLogger("recorder.camera")

class Camera(Protocol):
    """What an opening reads and sets of recorder/camera.py's CameraRecorder."""

    id: str
    url: str
    settings: Any
    stop: threading.Event
    transport: str
    transport_setting: str
    reader: str
    choice: ReaderChoice


def open_camera(cam: Camera, first: bool) -> Source | EdgedSource:
    """The camera's next connection, opened; Disconnected (with a diagnose kind) when it cannot be."""
    choice, why = cam.choice, None
    if choice.edged_first(is_rtsp(cam.url) and cam.transport == TCP):
        edged, why = _edged(cam, first)
        if edged is not None:
            return edged
    elif choice.setting == EDGED and cam.transport == UDP:
        raise Disconnected('the edged reader reads RTSP over TCP only: set reader = "auto" or "ffmpeg" for '
                           'a camera on transport = "udp"', diagnose.UNSUPPORTED)
    elif choice.lost:
        why = LOST
    try:
        source = _ffmpeg(cam, first)
    except Disconnected:
        choice.ffmpeg_failed()
        raise
    if why is not None and choice.fallback is None:
        log.warning("camera %s: %s: recording with FFmpeg's reader", cam.id, why, **logs.fields(camera=cam.id))
    choice.ffmpeg_opened(why)
    return source


def _edged(cam: Camera, first: bool) -> tuple[EdgedSource | None, str | None]:
    """The edged reader's session, or (None, why libavformat is tried now); Disconnected when
    it is forced or nothing reached the camera at all."""
    connect_us = connect_timeout_us(cam.settings, first)
    forced = cam.choice.setting == EDGED
    try:
        source = EdgedSource(cam.url, cam.settings, connect_us, forced, cam.stop)
    except RtspFailure as fail:
        kind, words = explain_edged(fail, cam.url, connect_us / 1e6)
        silent = fail.timed_out and not fail.received  # the camera took the connection and said nothing
        if not cam.choice.hand_on(kind, silent) or cam.stop.is_set():
            raise Disconnected(scrub(words), kind) from None
        timed_out = fail.timed_out or fail.errno == errno.ETIMEDOUT
        why = UDP_ONLY if kind == diagnose.TRANSPORT else \
            reason(str(fail), fail.status, fail.kind or kind, fail.kind == UNSPOKEN, timed_out)
        log.info("camera %s: the edged reader failed (%s): trying FFmpeg's reader", cam.id, scrub(str(fail)),
                 **logs.fields(camera=cam.id))
        return None, why
    except TimeoutError:  # set up, then silent
        if forced or cam.stop.is_set():
            raise Disconnected(f"the stream stalled: nothing from the camera for "
                               f"{cam.settings.read_timeout_us / 1e6:.0f} s", diagnose.STALLED) from None
        return None, reason("", None, None, False, True)
    except OSError as exc:  # reset, closed
        if forced or cam.stop.is_set():
            raise Disconnected("stream failed: " + scrub(str(exc)), diagnose.OTHER) from None
        return None, LOST
    cam.reader = EDGED
    return source, None


def _ffmpeg(cam: Camera, first: bool) -> Source:
    """libavformat's connection, over the transport "auto" keeps (design/0060)."""
    start = time.monotonic()
    cam.reader = FFMPEG
    try:
        try:
            return Source(cam.url, cam.settings, first, cam.transport)
        except Exception as exc:  # noqa: BLE001
            if cam.transport_setting != "auto" or not diagnose.refuses_transport(exc) or cam.stop.is_set():
                raise
            other = UDP if cam.transport == TCP else TCP
            source = Source(cam.url, cam.settings, first, other)
            log.info("camera %s: it refuses RTSP over %s; recording over %s", cam.id, cam.transport.upper(),
                     other.upper(), **logs.fields(camera=cam.id))
            cam.transport = other
            return source
    except Exception as exc:  # noqa: BLE001 - any open failure means: camera unreachable
        timeout_s = connect_timeout_us(cam.settings, first) / 1e6
        probe = None
        if diagnose.vague(exc) and not cam.url.startswith("synthetic:") and not cam.stop.is_set():
            probe = diagnose.probe_rtsp(cam.url, timeout_s, cam.stop)
        kind, words = diagnose.explain_open(exc, cam.url, time.monotonic() - start, timeout_s, probe,
                                            cam.transport_setting if cam.transport_setting != "auto" else None)
        raise Disconnected(scrub(words), kind) from None
