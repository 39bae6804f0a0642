"""The health monitor: feeds edged.rules.health with what the recorder workers report, raises and
clears the health alarms, and keeps each camera's health, compliance and state in the catalog.

Fed by the supervisor (an image sample every `health.sample_interval`, state changes); reads
each camera's state and stats from their one owner (edged/daemon/camera_states.py); evaluates
every EVAL_S. Reference pictures (`edgectl camera set-reference`)
live in the catalog; the newest sample of each camera is kept here to take one from.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from datetime import tzinfo
from functools import partial
from typing import Any, Callable

from edged.rules import camera_clock, health
from edged.alarms import Alarms
from edged.config import Config
from edged.daemon.camera_states import CameraStates
from edged.i18n import A_, Msg, N_, _, local, zone
from edged.ports import ReferenceRefused
from recorder import events
from recorder.imagecheck import THUMB_H, THUMB_W
from storage import audit
from storage.footage import gaps as gap_table
from storage import cameras as camera_table
from storage.alarm_kinds import CAMERA_MOVED, HOST_CLOCK_OFF
from storage.states.cameras import RECORDING, STOPPED
from storage.catalog import Catalog, CatalogWriter
from storage.time.clock import wait_or_stop, Clock, SYSTEM

log = logging.getLogger(__name__)

EVAL_S = 2.0
GAPS_EVERY_S = 30.0
HOUR_US = 3_600_000_000


def local_minute(at_us: int, tz: tzinfo | None = None) -> int:
    """The minute of the day on the site's clock (`[site] timezone`; None: the host's)."""
    t = local(at_us, tz)
    return t.hour * 60 + t.minute


class HealthMonitor:
    def __init__(self, cfg: Config, writer: CatalogWriter, alarms: Alarms | None, cameras: CameraStates,
                 clock: Clock = SYSTEM):
        self.clock = clock
        self.cfg = cfg
        self.writer = writer
        self.alarms = alarms
        self.cameras = cameras  # states, errors, stats, reconnects, down-since: read here, fed by the supervisor
        self.images: dict[str, dict[str, Any]] = {}     # newest image event per camera
        self.oversize: dict[str, events.Oversize] = {}  # pictures refused for their size (design/0063)
        # camera -> its reference picture's set_us and thumbnail (base64), which its worker compares with
        self.references: dict[str, tuple[int, str]] = {}
        self.to_worker: Callable[[str, dict[str, Any]], None] = lambda _cam, _msg: None  # the supervisor's
        self.tracks: dict[tuple[str, str], health.Track] = {}
        self.gap_today_s: dict[str, float] = {}
        self.last_segment_us: dict[str, int] = {}
        self.samples: dict[str, int] = {}   # image samples checked since start, per camera
        self.midnight_us = 0
        self._written: dict[str, dict[str, Any]] = {}  # the camera rows as last written
        self._last_gaps = 0.0
        self.host_untrusted: Callable[[], bool] = lambda: False  # the host clock watch's (design/0059) ...
        self.host_synced: Callable[[], bool | None] = lambda: None  # ... and the kernel's sync state
        self.host_clock_ok = True       # False: no camera is blamed for clock_drift
        self.blamable: dict[str, bool] = {}  # camera -> its clock may be blamed (camera_clock.blamable)
        # a source outside the box agrees with the host clock (None: none is known; design/0096)
        self.host_corroborated: Callable[[], bool | None] = lambda: None
        self._host_off: int | None = None   # the cameras agree the host clock is this far off (us)
        # each camera's clock read over ONVIF (edged/daemon/camera_clocks.py, design/0085)
        self.onvif_clock: Callable[[str], camera_clock.Reading | None] = lambda _cam: None

    # inputs from the supervisor -------------------------------------------------------
    def on_state(self, cam: str) -> str:
        """The camera's recorder state changed (already in `cameras`); returns its public state."""
        if self.cameras.state(cam) != RECORDING:
            self.images.pop(cam, None)  # a sample from before the outage says nothing now
            self.oversize.pop(cam, None)  # the next connection says again if it still is
        return self._public(cam)

    def on_image(self, event: events.Image) -> None:
        cam = event.camera
        ev = events.to_dict(event)
        ref = self.references.get(cam)
        if ref is None or event.reference_at != ref[0]:  # compared with no reference, or not with this one
            ev["similarity"] = None
            if ref is not None:  # its worker started since, or was sent it while starting: again
                self._refer(cam)
        self.images[cam] = ev
        self.samples[cam] = self.samples.get(cam, 0) + 1

    def on_oversize(self, event: events.Oversize) -> None:
        """The worker refused to decode the camera's pictures for their declared size."""
        self.oversize[event.camera] = event

    def _refer(self, cam: str) -> None:
        set_us, thumb = self.references[cam]
        self.to_worker(cam, {"cmd": "reference", "camera": cam, "set_us": set_us, "thumb": thumb})

    def on_segment(self, cam: str, start_us: int) -> None:
        self.last_segment_us[cam] = start_us

    # evaluation -----------------------------------------------------------------------
    def _public(self, cam: str) -> str:
        camcfg = self.cfg.camera(cam)
        if camcfg is None:  # removed from the config: its recorder says "stopped", and so do we
            return self.cameras.state(cam) or STOPPED
        # its own tracks, one a kind (evaluate and set_reference key them so): not every camera's (design/0535)
        degraded = any((t := self.tracks.get((cam, kind))) is not None and t.active for kind in health.KINDS)
        return health.camera_state(camcfg.enabled, self.cameras.state(cam), degraded)

    def view(self, cam_id: str, now: int) -> health.CameraView:
        cam = self.cfg.camera(cam_id)
        hc = self.cfg.health
        image = self.images.get(cam_id)
        # Fresh for three intervals: the one in force, which the worker lengthens to its CPU budget (design/0078).
        every = max(hc.sample_interval_us, image.get("interval_us") or 0, 1_000_000) if image is not None else 0
        fresh = image is not None and now - image["at"] <= 3 * every
        big = self.oversize.get(cam_id)
        if big is not None and image is not None and image["at"] > big.at:
            big = None  # a picture was checked since
        return health.CameraView(
            id=cam_id, enabled=bool(cam and cam.enabled), audio_required=bool(cam and cam.audio_required),
            state=self.cameras.state(cam_id), stats=self.stats(cam_id, now),
            image=image["metrics"] if fresh and image is not None else None,
            similarity=image["similarity"] if fresh and image is not None else None,
            oversize=(big.width, big.height) if big is not None else None,
            host_clock_ok=self.clock_blamable(cam_id))

    def clock_blamable(self, cam: str) -> bool:
        """May the camera's clock be judged against the host's (design/0096)? Not while the host clock
        is untrusted or off, nor when the other cameras agree with it against the host; a camera
        with no skew is left to `clock_drift` (not judged)."""
        return self.host_clock_ok and self.blamable.get(cam, True)

    def clock_of(self, cam: str, now: int) -> tuple[int | None, str]:
        """The camera's clock skew and its source: RTCP sender reports, else ONVIF (design/0085)."""
        s = self.cameras.stats(cam) or {}
        return camera_clock.skew(s.get("clock_skew_us"), self.onvif_clock(cam), now)

    def stats(self, cam: str, now: int) -> dict[str, Any] | None:
        """The worker's stream statistics, with the clock skew from ONVIF where RTCP has none."""
        s = self.cameras.stats(cam)
        if s is None or s.get("clock_skew_us") is not None:
            return s
        skew, source = self.clock_of(cam, now)
        return s if skew is None else {**s, "clock_skew_us": skew, "clock_source": source}

    async def evaluate(self, now: int | None = None) -> None:
        now = self.clock.now_us() if now is None else now
        minute = local_minute(now, zone(self.cfg.site.timezone))
        await self._host_clock(now)
        rows, raises = [], []  # the camera rows are written before the alarms: whoever sees an alarm
        # (edgectl, MQTT, the test) finds the camera already `degraded`, never still `recording`
        for cam in self.cfg.cameras:
            hc = self.cfg.health_for(cam.id)  # the site's thresholds, or the camera's own
            view = self.view(cam.id, now)
            present, known = health.conditions(view, hc, minute)
            for kind in health.KINDS:
                key = (cam.id, kind)
                before = self.tracks.get(key, health.Track())
                after = health.step(before, (kind in present) if kind in known else None, now,
                                    *health.delays(kind, hc))
                self.tracks[key] = after
                if self.alarms is not None and after.active != before.active:
                    raises.append(partial(self.alarms.set, after.active, kind,
                                          Msg(A_("camera {camera}: {what}"), camera=cam.id,
                                              what=present.get(kind, "cleared")), camera=cam.id))
                elif self.alarms is not None and after.active and kind in present:
                    raises.append(partial(self.alarms.raise_, kind,
                                          Msg(A_("camera {camera}: {what}"), camera=cam.id,
                                              what=present[kind]), camera=cam.id))  # refresh the figures
            verdict, reasons = health.compliance(view, hc, minute)
            state = self._public(cam.id)
            row: dict[str, Any] = {"id": cam.id, "state": state, "compliance": verdict, "compliance_reasons": json.dumps(reasons),
                   "image": json.dumps(view.image) if view.image else None,
                   "health": json.dumps(self.health_of(cam.id, now, present, view))}
            if self._written.get(cam.id) != row:  # most evaluations change nothing: no write
                rows.append(row)
        if rows:
            await self.writer.run(lambda c: camera_table.set_health(c.db, rows))
            self._written.update((r["id"], r) for r in rows)
        for call in raises:
            await call()

    async def _host_clock(self, now: int) -> None:
        """Is the host clock the one at fault? It stepped (its own alarm), or every recording
        camera is off it the same way (host_clock_off, one alarm, not clock_drift on each)."""
        tolerance = self.cfg.health.clock_tolerance_us
        by_cam = {cam.id: skew for cam in self.cfg.cameras if self.cameras.state(cam.id) == RECORDING
                  and (skew := self.clock_of(cam.id, now)[0]) is not None}
        skews = list(by_cam.values())
        off = health.host_clock_off(skews, tolerance, self.host_synced())
        self.host_clock_ok = off is None and not self.host_untrusted()
        self.blamable = camera_clock.blamable(
            by_cam, {c: self.cfg.health_for(c).clock_tolerance_us for c in by_cam}, self.host_clock_ok,
            self.host_corroborated())
        if self.alarms is not None and (off is None) != (self._host_off is None):
            behind = A_("the host clock is {seconds:.1f} s behind all {n} cameras' clocks: the host clock is probably "
                        "wrong (check its time source, NTP); no camera is blamed for clock drift meanwhile")
            ahead = A_("the host clock is {seconds:.1f} s ahead of all {n} cameras' clocks: the host clock is probably "
                       "wrong (check its time source, NTP); no camera is blamed for clock drift meanwhile")
            await self.alarms.set(
                off is not None, HOST_CLOCK_OFF,
                Msg(behind if off > 0 else ahead, seconds=abs(off) / 1e6, n=len(skews)) if off is not None else "",
                {"offset_us": off} if off is not None else None)
        self._host_off = off

    def health_of(self, cam: str, now: int, present: dict[str, Msg], view: health.CameraView) -> dict[str, Any]:
        """What the catalog's camera row does not already hold (rates, resolution, keyframe
        interval, clock skew and last packet are its columns; alarms are in `alarms`)."""
        s = self.cameras.stats(cam) or {}
        skew, source = self.clock_of(cam, now)
        onvif = self.onvif_clock(cam)
        return {
            "clock": {"offset_us": skew, "source": source,
                      "at_us": onvif.at_us if source == "onvif" and onvif is not None else s.get("last_packet_us"),
                      "ntp": onvif.ntp if onvif is not None else None} if source else None,
            "audio_arriving": bool(s.get("audio_packets", s.get("audio"))),
            "audio_level_db": s.get("audio_level_db"), "audio_error": s.get("audio_error"),
            "reconnects_1h": self.cameras.reconnects_within(cam, now, HOUR_US),
            "gap_today_s": round(self.gap_today(cam, now), 1), "similarity": view.similarity,
            "samples": self.samples.get(cam, 0), "conditions": present,
            "said": {k: m.stored() for k, m in present.items()},  # the desk says them in its words (design/0240)
            "sample_interval_s": self.sample_interval_s(cam),
            "reader": s.get("reader"),  # the RTSP reader recording it (design/0079)
        }

    def sample_interval_s(self, cam: str) -> float | None:
        """Seconds between the camera's image checks as its worker last said (design/0078); None: off."""
        if not self.cfg.health.sample_interval_us:
            return None
        image = self.images.get(cam)
        every = (image or {}).get("interval_us") or self.cfg.health.sample_interval_us
        return round(every / 1e6, 1)

    def gap_today(self, cam: str, now: int) -> float:
        """Seconds without footage today: the recorded gaps, plus an outage still going on."""
        down = self.cameras.down_since_us(cam)
        open_s = 0.0 if down is None or now <= self.midnight_us else (now - max(down, self.midnight_us)) / 1e6
        return self.gap_today_s.get(cam, 0.0) + open_s

    async def refresh_gaps(self, now: int) -> None:
        midnight = int(local(now, zone(self.cfg.site.timezone)).replace(hour=0, minute=0, second=0,
                                                                        microsecond=0).timestamp() * 1e6)

        self.gap_today_s = await self.writer.run(lambda c: gap_table.seconds_since(c.db, midnight, now))
        self.midnight_us = midnight

    async def load(self) -> None:
        """The reference pictures, each sent to its camera's worker (one that is not running yet
        gets it when its first sample comes without it)."""
        rows = await self.writer.run(lambda c: camera_table.references(c.db))
        for r in rows:
            if (r["width"], r["height"]) != (THUMB_W, THUMB_H) or len(r["thumb"]) != THUMB_W * THUMB_H:
                log.warning("camera %s: its reference picture is %dx%d, not a thumbnail (%dx%d): set it again "
                            "(edgectl camera set-reference)", r["camera"], r["width"], r["height"], THUMB_W, THUMB_H)
                continue
            self.references[r["camera"]] = (r["set_us"], base64.b64encode(r["thumb"]).decode())
            self._refer(r["camera"])

    async def run(self, stopping: asyncio.Event) -> None:
        await self.load()
        while not stopping.is_set():
            await wait_or_stop(stopping, EVAL_S, self.clock)
            now = self.clock.now_us()
            if time.monotonic() - self._last_gaps >= GAPS_EVERY_S:
                self._last_gaps = time.monotonic()
                await self.refresh_gaps(now)
            await self.evaluate(now)

    # the reference picture --------------------------------------------------------------
    async def set_reference(self, cam: str, actor: str) -> dict[str, Any]:
        if self.cfg.camera(cam) is None:
            raise ReferenceRefused(_("no camera {camera!r} in the config; `edgectl cameras` lists "
                                     "them").format(camera=cam))
        image = self.images.get(cam)
        stale = image is None or self.clock.now_us() - image["at"] > 3 * self.cfg.health.sample_interval_us
        thumb = base64.b64decode(image["thumb"]) if image is not None and image["thumb"] else b""
        if image is None or len(thumb) != THUMB_W * THUMB_H or stale:
            raise ReferenceRefused(_("camera {camera} has no recent picture sample: is it recording, and are image "
                                     "checks on ([health] sample_interval)? Try again in a few seconds.").format(
                camera=cam))
        at = self.clock.now_us()

        def store(c: Catalog) -> None:
            with c.db.atomic():
                camera_table.set_reference(c.db, cam, thumb, THUMB_W, THUMB_H, actor, at)
                audit.append(c.db, actor, "camera.set_reference", {"camera": cam, "sample_us": image["at"]})

        await self.writer.run(store)
        self.references[cam] = (at, image["thumb"])
        self._refer(cam)
        image["similarity"] = None  # its worker's next sample says it
        for kind in (CAMERA_MOVED,):  # a new reference starts the comparison afresh
            self.tracks[(cam, kind.name)] = health.Track()
            if self.alarms is not None:
                await self.alarms.clear(kind.key(cam))
        return {"camera": cam, "set_us": at, "set_by": actor, "sample_us": image["at"]}

    # for inspections --------------------------------------------------------------------
    def snapshot(self, cam_id: str, now: int) -> dict[str, Any]:
        cam = self.cfg.camera(cam_id)
        view = self.view(cam_id, now)
        hc = self.cfg.health_for(cam_id)
        present, _known = health.conditions(view, hc, local_minute(now, zone(self.cfg.site.timezone)))
        verdict, reasons = health.compliance(view, hc, local_minute(now, zone(self.cfg.site.timezone)))
        active = {k for (c, k), t in self.tracks.items() if c == cam_id and t.active}
        return {"enabled": bool(cam and cam.enabled), "audio_required": bool(cam and cam.audio_required),
                "state": self.cameras.state(cam_id), "last_error": self.cameras.error(cam_id),
                "stats": self.stats(cam_id, now), "image_fresh": view.image is not None,
                "alarms": {k: present.get(k, Msg(N_("alarm active"))) for k in active | set(present)},
                "last_segment_us": self.last_segment_us.get(cam_id), "compliance": verdict, "reasons": reasons,
                "clock_tolerance_us": hc.clock_tolerance_us, "host_clock_ok": self.clock_blamable(cam_id)}

