"""Open views: one WebRTC peer connection each, with its audit records and its deadline.

A view is opened from the page's SDP offer and answered with H.264 only (the page puts H.264
first with setCodecPreferences too: choosing H.264 in aiortc's answer alone was ignored, VP8 was
negotiated and nothing decoded, silently). It is closed by the page, by
the end of the granted range, by a failed connection, by its session ending, or by its time
limit, and always through `close`, which writes the audit record of how long it lasted.
Views are closed by the viewer's housekeeping task, not by callbacks spawning tasks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from edged.i18n import _
from edged.rules import audit_words as aw
from edged.viewer import rules
from edged.viewer.access import Access
from edged.viewer.live import LiveFeeds
from edged.viewer.playback import RecordedTrack, RemoteRangeReader
from storage.process import logs

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30.0   # a peer connection that never connects is dropped after this
ENDED_GRACE_S = 1.0        # the page hears "ended" before the connection closes


class OfferError(ValueError):
    """The page's offer cannot be answered; the message is for a person."""


@dataclass(eq=False)
class View:
    id: str
    kind: str                      # live | playback
    camera: str
    account: str
    token: str
    started_us: int
    deadline_us: int
    session: dict[str, Any] | None   # as last read: its expiry ends the view
    pc: RTCPeerConnection
    track: MediaStreamTrack
    watcher: str | None = None
    grant: dict[str, Any] | None = None
    channel: RTCDataChannel | None = None  # the page's data channel: told why a view ends; playback controls
    opened_mono: float = field(default_factory=time.monotonic)
    connected: bool = False
    failed: bool = False
    ended_mono: float | None = None
    cameras: list[str] = field(default_factory=list)  # every camera shown, for the stop record
    told_mono: float | None = None  # when the page was told the view ends (closed at the next sweep)
    sound: MediaStreamTrack | None = None  # the camera's sound, sent beside the picture (design/0087)

    def describe(self) -> dict[str, Any]:
        return {"view": self.id, "kind": self.kind, "camera": self.camera, "account": self.account,
                "watcher": self.watcher, "started_us": self.started_us, "deadline_us": self.deadline_us,
                "connected": self.connected}

    @property
    def recorded(self) -> RecordedTrack:
        """A playback's track (a live view's is the camera's, relayed)."""
        assert isinstance(self.track, RecordedTrack)  # a playback's, never a live view's
        return self.track


def without_mdns_candidates(sdp: str) -> str:
    """Browsers hide their addresses behind mDNS names (xxxx.local); aiortc would spend a second
    trying to resolve each one before answering. The box learns the browser's address from its
    connectivity checks anyway (a peer-reflexive candidate), so these lines are dropped."""
    lines = sdp.split("\r\n")
    kept = [ln for ln in lines if not (ln.startswith("a=candidate:") and ".local " in ln)]
    return "\r\n".join(kept)


def _h264_codecs() -> list[Any]:
    return [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == "video/h264"]


async def answer_with(track: MediaStreamTrack, offer: dict[str, Any],
                      sound: MediaStreamTrack | None = None) -> tuple[RTCPeerConnection, str, bool]:
    """A peer connection sending `track` as H.264 (and `sound`, encoded to Opus by aiortc, when
    the page offered to receive audio), the SDP answer to the page's offer, and whether sound is sent."""
    sdp, kind = offer.get("sdp"), offer.get("type")
    if not isinstance(sdp, str) or kind != "offer":
        raise OfferError(_("the page sent no WebRTC offer; reload the page"))
    if "H264/90000" not in sdp:
        raise OfferError(_("this browser offers no H.264 video; use a current Chromium or Firefox"))
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # the LAN only: no STUN server on the internet
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=without_mdns_candidates(sdp), type="offer"))
        video = [t for t in pc.getTransceivers() if t.kind == "video"]
        if not video:
            raise OfferError(_("the page asked for no video; reload the page"))
        video[0].setCodecPreferences(_h264_codecs())
        pc.addTrack(track)
        heard = sound is not None and any(t.kind == "audio" for t in pc.getTransceivers())
        if heard and sound is not None:
            pc.addTrack(sound)
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription.sdp
        if "H264/90000" not in answer:
            raise OfferError(_("no H.264 format in common with this browser; use a current Chromium or Firefox"))
        return pc, answer, heard
    except BaseException:
        await pc.close()
        raise


class Views:
    def __init__(self, access: Access, feeds: LiveFeeds, limits: rules.ViewLimits, max_views: int):
        self.access = access
        self.feeds = feeds
        self.limits = limits
        self.max_views = max_views
        self.open: dict[str, View] = {}
        self._opening = 0
        self.closing: set[str] = set()          # views whose close runs in a task of its own
        self.closed_hooks: list[Callable[[View], Awaitable[None]]] = []   # run after each close
        self._closers: set[asyncio.Task[None]] = set()

    def of_token(self, token: str) -> list[View]:
        return [v for v in self.open.values() if v.token == token]

    def _reserve(self) -> None:
        if len(self.open) + self._opening >= self.max_views:
            raise OfferError(_("The box already shows {max_views} views, as many as it may at once: close one, or try "
                               "again in a few minutes.").format(
                max_views=self.max_views))
        self._opening += 1

    async def open_live(self, session: dict[str, Any], token: str, camera: str, url: str,
                        offer: dict[str, Any], audio: bool = False) -> tuple[View, dict[str, Any]]:
        """`audio`: the camera's [[cameras]] audio_in_viewer; its sound is sent if it has some."""
        self._reserve()
        try:
            proxy, (width, height), sound = await self.feeds.subscribe(camera, url, audio)
            try:
                pc, sdp, heard = await answer_with(proxy, offer, sound)
            except BaseException:
                self.feeds.unsubscribe(camera, proxy, sound)
                raise
            view = self._register("live", camera, session, token, pc, proxy, sound=sound if heard else None)
            if sound is not None and not heard:
                sound.stop()
        finally:
            self._opening -= 1
        action, detail = rules.start_record(rules.LIVE, view.id, camera, viewer=view.account)
        await self.access.audit(view.account, action, detail)
        log.info("live view %s of %s opened by %s", view.id, camera, view.account, **logs.fields(camera))
        return view, {"sdp": sdp, "type": "answer", "width": width, "height": height, "audio": heard}

    async def open_playback(self, session: dict[str, Any], token: str, grant: dict[str, Any], camera: str,
                            track: RecordedTrack, offer: dict[str, Any], watcher: str,
                            use: Callable[[], Awaitable[dict[str, Any]]]) -> tuple[View, dict[str, Any]]:
        """`use` marks the grant used (edged.people.use_grant, once); it is called only when
        everything else is ready, so a page that cannot play does not spend the grant."""
        self._reserve()
        try:
            pc, sdp, heard = await answer_with(track, offer, track.sound)
            if not heard and track.sound is not None:
                track.sound.stop()
                track.sound = None
            try:
                grant = await use()
            except BaseException:
                await pc.close()
                raise
            view = self._register("playback", camera, session, token, pc, track, grant=grant, watcher=watcher)
        except BaseException:
            await track.close()
            raise
        finally:
            self._opening -= 1
        track._on_change = lambda: self._report(view)
        action, detail = rules.start_record(rules.PLAYBACK, view.id, camera, viewer=view.account, grant=grant,
                                            watcher=watcher)
        await self.access.audit(view.account, action, detail)
        log.info("playback %s of grant %s (%s) opened by %s for the requester of request %s", view.id, grant["id"],
                 camera, view.account, grant.get("request_id"), **logs.fields(camera))
        return view, {"sdp": sdp, "type": "answer", "audio": heard}

    def _register(self, kind: str, camera: str, session: dict[str, Any], token: str, pc: RTCPeerConnection,
                  track: MediaStreamTrack, **extra: Any) -> View:
        started = self.access.clock.now_us()
        view = View(id=secrets.token_hex(6), kind=kind, camera=camera, account=session["account"], token=token,
                    started_us=started, deadline_us=rules.view_deadline(started, session["expires_us"], self.limits),
                    session=session, pc=pc, track=track, **extra)
        view.cameras.append(camera)
        self.open[view.id] = view

        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc.connectionState == "connected":
                view.connected = True
            elif pc.connectionState in ("failed", "closed"):
                view.failed = True

        @pc.on("datachannel")
        def channel(ch: RTCDataChannel) -> None:
            view.channel = ch

            @ch.on("message")
            def message(text: str | bytes) -> None:
                if kind == "playback":
                    self._control(view, text)

        return view

    # playback controls ---------------------------------------------------------------
    def _control(self, view: View, text: str | bytes) -> None:
        """pause / play / seek from the page; a seek outside the range is clamped into it."""
        track = view.recorded
        try:
            msg = json.loads(text)
            op = msg.get("op")
            if op == "pause":
                track.pause()
            elif op == "play":
                track.play()
            elif op == "seek":
                track.seek(int(msg["at_us"]))
            elif op == "state":
                self._report(view)
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("playback %s: ignored a malformed control message", view.id)

    def _report(self, view: View) -> None:
        track = view.recorded
        if track.state == "ended" and view.ended_mono is None:
            view.ended_mono = time.monotonic()
        ch = view.channel
        if ch is not None and ch.readyState == "open":
            ch.send(json.dumps({"type": "state", "state": track.state, "position_us": track.position_us,
                                "from_us": track.from_us, "to_us": track.to_us,
                                "shown": track.shown}))

    async def switch_camera(self, view: View, camera: str, reader: RemoteRangeReader) -> None:
        """A grant of several cameras is one viewing (R5.4): the page moves between them."""
        track = view.recorded
        await track.switch(reader)
        view.camera = camera
        if camera not in view.cameras:
            view.cameras.append(camera)
        await self.access.audit(view.account, "playback.camera", {"view": view.id, "camera": camera,
                                                                  "at_us": track.position_us})

    # closing ---------------------------------------------------------------------------
    async def close(self, view: View, reason: str) -> None:
        """Close the connection and write the stop record (once)."""
        if self.open.pop(view.id, None) is None:
            return
        if view.kind == "live":
            self.feeds.unsubscribe(view.camera, view.track, view.sound)
        else:
            await view.recorded.close()
        await view.pc.close()
        played = None
        if view.kind == "playback":
            shown = view.recorded.shown
            played = (shown[0], shown[1]) if shown else None
        action, detail = rules.stop_record(view.kind, view.id, view.cameras[0], started_us=view.started_us,
                                           now_us=self.access.clock.now_us(), reason=reason, played=played)
        if len(view.cameras) > 1:
            detail["cameras"] = view.cameras
        await self.access.audit(view.account, action, detail)
        for hook in self.closed_hooks:
            await hook(view)
        log.info("%s view %s of %s closed (%s) after %.0f s", view.kind, view.id, view.camera, reason,
                 detail["duration_us"] / 1e6, **logs.fields(view.camera))

    def _close_apart(self, view: View, reason: str) -> None:
        """Close `view` in a task of its own: one stuck view must not hold up the sweep's
        enforcement of expiry, revocation and max_view for every other (design/0062)."""
        if view.id in self.closing:
            return
        self.closing.add(view.id)
        task = asyncio.ensure_future(self.close(view, reason))
        self._closers.add(task)

        def closed(t: asyncio.Task[None]) -> None:
            self._closers.discard(t)
            self.closing.discard(view.id)
        task.add_done_callback(closed)

    async def sweep(self, sessions: dict[str, dict[str, Any] | None] | None) -> None:
        """End the views whose time is up; `sessions` (token -> session or None) when re-checked."""
        now, mono = self.access.clock.now_us(), time.monotonic()
        for view in list(self.open.values()):
            if sessions is not None and view.token in sessions:
                fresh = sessions[view.token]
                expired = view.session is not None and now >= view.session["expires_us"]
                view.session = view.session if fresh is None and expired else fresh  # expired, not ended
                if view.session is not None:
                    view.deadline_us = rules.view_deadline(view.started_us, view.session["expires_us"], self.limits)
            reason = rules.end_reason(now, view.started_us, view.session, self.limits, view.kind)
            ended = view.ended_mono is not None and (view.failed or mono - view.ended_mono >= ENDED_GRACE_S)
            if reason is None and ended:
                reason = aw.VIEW_RANGE_END
            if reason is None and view.failed:
                reason = aw.VIEW_CONNECTION_LOST
            if reason is None and not view.connected and mono - view.opened_mono > CONNECT_TIMEOUT_S:
                reason = aw.VIEW_NEVER_CONNECTED
            tell = reason not in (None, aw.VIEW_CONNECTION_LOST, aw.VIEW_RANGE_END) and view.told_mono is None
            if tell and reason is not None and self._tell_end(view, reason):
                continue  # the page shows why; the view is closed at the next sweep
            if reason is not None:
                self._close_apart(view, reason)
            elif view.kind == "playback":
                self._report(view)

    def _tell_end(self, view: View, reason: str) -> bool:
        ch = view.channel
        if ch is None or ch.readyState != "open":
            return False
        ch.send(json.dumps({"type": "end", "reason": _(reason)}))  # the page says it in the site's language
        view.told_mono = time.monotonic()
        return True

    async def close_all(self, reason: str) -> None:
        for view in list(self.open.values()):
            await self.close(view, reason)
