"""Camera health as plain functions over plain data (docs/requirements.md R2, R3.3-R3.4).

What is wrong with a camera right now (`conditions`), whether it meets the quality floor
(`compliance`), which alarms that makes once a condition has held for a while (`Track`,
`step`: hysteresis), and the camera's state. No I/O here: edged/daemon/health_monitor.py feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from edged.config.health import HealthConfig
from edged.i18n import N_, Msg
from storage import alarm_kinds as kinds
from storage.states.cameras import CONNECTING, DEGRADED, DISABLED, OFFLINE, RECORDING, STOPPED

# The kinds these rules judge, in order, -> severity: the PICTURE group of storage/alarm_kinds.py (R3.4).
KINDS: dict[str, str] = {k.name: k.severity for k in kinds.in_group(kinds.PICTURE)}
FLOOR_KINDS = tuple(k.name for k in (  # R2
    kinds.BELOW_RESOLUTION, kinds.BELOW_FPS, kinds.AUDIO_MISSING, kinds.VIDEO_MONOCHROME, kinds.CLOCK_DRIFT))


@dataclass(frozen=True, slots=True)
class CameraView:
    """What is known about one camera at one moment."""

    id: str
    enabled: bool
    audio_required: bool
    state: str | None               # the recorder's: connecting, recording, offline, stopped
    stats: dict[str, Any] | None    # the newest packet statistics (fps, width, height, audio_packets, ...)
    image: dict[str, Any] | None    # the newest image-check metrics, if fresh
    similarity: float | None        # to the reference picture, if one is set and a sample is fresh
    oversize: tuple[int, int] | None = None  # the declared picture size, when no sample came since (design/0063)
    host_clock_ok: bool = True      # False: the host clock is untrusted or is the one off (design/0059)


def in_window(minute: int, window: tuple[int, int]) -> bool:
    return window[0] <= minute < window[1]


def conditions(view: CameraView, cfg: HealthConfig, local_minute: int) -> tuple[dict[str, Msg], set[str]]:
    """(kind -> what is wrong, for the conditions present; the kinds that could be judged). What is
    wrong is a Msg (design/0240): the log, MQTT and the catalog keep its English, a reader its words.

    A kind that could not be judged (the camera is not recording, no fresh sample) is neither
    present nor absent: its alarm neither rises nor clears on no evidence.
    """
    present: dict[str, Msg] = {}
    known: set[str] = set()
    if not view.enabled or view.state != RECORDING:
        return present, known
    if view.stats:
        _stream(view.stats, view.audio_required, cfg, present, known, view.host_clock_ok)
    if view.oversize is not None or view.image:  # a sample after the refusal clears it
        known.add(kinds.PICTURE_TOO_BIG.name)
    if view.oversize is not None:
        w, h = view.oversize
        present[kinds.PICTURE_TOO_BIG.name] = Msg(N_("its stream declares a {w}x{h} picture, larger than any "
                                                     "camera's: not decoded, so its picture is not checked"), w=w, h=h)
    m = view.image
    if m:
        known.update((kinds.VIDEO_DARK.name, kinds.VIDEO_OVEREXPOSED.name, kinds.VIDEO_BLURRED.name))
        # A dark, white or covered picture also looks frozen, grey and edgeless: those stand
        # alone, and the later checks wait for a usable picture.
        dark = m["luma"] < cfg.dark_luma or m.get("dark", 0.0) > cfg.dark_fraction
        bright = m["bright"] > cfg.bright_fraction
        covered = not dark and not bright and m["contrast"] < cfg.covered_contrast
        if dark:
            present[kinds.VIDEO_DARK.name] = Msg(N_("picture too dark or black (mean brightness {luma}/255)"),
                                                 luma=f"{m['luma']:.0f}")
        if bright:
            present[kinds.VIDEO_OVEREXPOSED.name] = Msg(N_("picture overexposed ({share} of it white)"),
                                                        share=f"{m['bright']:.0%}")
        if covered:
            present[kinds.VIDEO_BLURRED.name] = Msg(N_("picture covered or featureless (contrast {contrast})"),
                                                    contrast=f"{m['contrast']:.1f}")
        if not (dark or bright or covered):
            if m["sharpness"] < cfg.blur_sharpness:
                present[kinds.VIDEO_BLURRED.name] = Msg(N_("picture blurred (focus {focus} < {floor})"),
                                                        focus=f"{m['sharpness']:.2f}", floor=f"{cfg.blur_sharpness:g}")
            if m.get("change") is not None:
                known.add(kinds.VIDEO_FROZEN.name)
                if m["change"] < cfg.frozen_change:
                    present[kinds.VIDEO_FROZEN.name] = Msg(N_("picture frozen ({share} of it changed between "
                                                              "samples)"), share=f"{m['change']:.1%}")
            if in_window(local_minute, cfg.daylight):
                known.add(kinds.VIDEO_MONOCHROME.name)
                if m["colour"] < cfg.colour_min:
                    present[kinds.VIDEO_MONOCHROME.name] = Msg(N_("no colour in daylight hours (saturation "
                                                                  "{saturation})"), saturation=f"{m['colour']:.1f}")
    if view.similarity is not None:
        known.add(kinds.CAMERA_MOVED.name)
        if view.similarity < cfg.moved_similarity:
            present[kinds.CAMERA_MOVED.name] = Msg(N_("picture differs from the reference (similarity "
                                                      "{similarity}): moved, turned or replaced"),
                                                   similarity=f"{view.similarity:.2f}")
    return present, known


def _stream(s: dict[str, Any], audio_required: bool, cfg: HealthConfig, present: dict[str, Msg],
            known: set[str], host_clock_ok: bool = True) -> None:
    """The conditions the packet statistics show: resolution, frame rate, audio, the camera's clock."""
    known.update((kinds.BELOW_RESOLUTION.name, kinds.BELOW_FPS.name))
    w, h = s.get("width") or 0, s.get("height") or 0
    # Each floor "at least" (design/0093), and the words name the one not met: a 720p camera meets
    # the 1280x720 floor and misses the megapixel floor of stored images (1280x720 is 0.92 MP,
    # design/0044), which the words said as "1280x720 is below the floor 1280x720, 1 megapixel".
    small = w < cfg.min_width or h < cfg.min_height
    few = w * h < cfg.min_pixels
    size = {"w": w, "h": h, "mp": f"{w * h / 1e6:.2f}", "fw": cfg.min_width, "fh": cfg.min_height,
            "fmp": f"{cfg.min_pixels / 1e6:g}"}
    if small and few:
        present[kinds.BELOW_RESOLUTION.name] = Msg(N_("resolution {w}x{h} ({mp} MP) is below the floor {fw}x{fh} "
                                                      "and {fmp} megapixel"), **size)
    elif small:
        present[kinds.BELOW_RESOLUTION.name] = Msg(N_("resolution {w}x{h} ({mp} MP) is below the floor {fw}x{fh}"),
                                                   **size)
    elif few:
        present[kinds.BELOW_RESOLUTION.name] = Msg(N_("resolution {w}x{h} ({mp} MP) meets the floor {fw}x{fh} but "
                                                      "is below the floor of {fmp} megapixel a stored picture "
                                                      "([health] min_pixels)"), **size)
    fps = s.get("fps") or 0.0
    if fps < cfg.min_fps:
        present[kinds.BELOW_FPS.name] = Msg(N_("{fps} frames per second is below the floor of {floor}"),
                                            fps=f"{fps:.1f}", floor=f"{cfg.min_fps:g}")
    if audio_required:
        _audio(s, cfg, present, known)
    known.add(kinds.KEYFRAMES_MISSING.name)
    if s.get("no_keyframe_s"):
        present[kinds.KEYFRAMES_MISSING.name] = Msg(N_(
            "no keyframe from the camera for {s} s: its segments are cut without one, "
            "and each new segment cannot be played until the next keyframe: set the camera's keyframe "
            "(I-frame, GOP) interval to 1-2 s"), s=f"{s['no_keyframe_s']:.0f}")
    known.add(kinds.MEDIA_CLOCK_DRIFT.name)
    if s.get("media_reanchor_s"):
        present[kinds.MEDIA_CLOCK_DRIFT.name] = Msg(MEDIA_CLOCK[s["media_reanchor_s"] > 0],
                                                    s=f"{abs(s['media_reanchor_s']):.1f}")
    known.add(kinds.CAMERA_TIMES.name)
    if s.get("times_broken"):
        present[kinds.CAMERA_TIMES.name] = Msg(N_(
            "the camera stamps its pictures alike or out of order: the recorder writes its own picture times "
            "(one frame apart, per keyframe interval) and keeps the camera's beside them in each file; "
            "check the camera's frame rate and time settings, or its firmware"))
    # A host clock that stepped or is the one off is the host's alarm (host_clock_step,
    # host_clock_off), not a clock_drift on every camera: no camera is blamed meanwhile.
    drift = clock_drift(s.get("clock_skew_us"), cfg.clock_tolerance_us) if host_clock_ok else Msg("")
    if drift is not None:
        known.add(kinds.CLOCK_DRIFT.name)
        if drift:
            present[kinds.CLOCK_DRIFT.name] = drift


def _audio(s: dict[str, Any], cfg: HealthConfig, present: dict[str, Msg], known: set[str]) -> None:
    """R1.8 for an audio_required camera: sound arrives, is recorded (recorder/audio.py says why
    not in `audio_error`), and is not silent (`audio_level_db`, RMS over the stats window)."""
    known.add(kinds.AUDIO_MISSING.name)
    if s.get("audio_error"):
        present[kinds.AUDIO_MISSING.name] = Msg(N_("no audio recorded from a camera marked audio_required: {error}"),
                                                error=s["audio_error"])
    elif not s.get("audio_packets", s.get("audio")):
        present[kinds.AUDIO_MISSING.name] = Msg(N_("no audio arrives from a camera marked audio_required"))
    elif s.get("audio_level_db") is not None:
        known.add(kinds.AUDIO_SILENT.name)
        if s["audio_level_db"] < cfg.audio_silent_level:
            present[kinds.AUDIO_SILENT.name] = Msg(N_("audio silent: its level {level} dBFS is below {floor} dBFS "
                                                      "(a muted or dead microphone?)"),
                                                   level=f"{s['audio_level_db']:.0f}",
                                                   floor=f"{cfg.audio_silent_level:.0f}")


def delays(kind: str, cfg: HealthConfig) -> tuple[int, int]:
    """(raise after, clear after) for one kind: silence has its own, longer wait (a quiet room
    is not a fault; a microphone that stays silent is)."""
    if kind == kinds.AUDIO_SILENT.name:
        return cfg.audio_silent_after_us, cfg.clear_after_us
    return cfg.raise_after_us, cfg.clear_after_us


def clock_drift(skew_us: int | None, tolerance_us: int) -> Msg | None:
    """What is wrong with the camera's clock ("" if nothing); None if it cannot be judged: the
    camera sends no RTCP sender reports (no skew measured), or the watch is off (tolerance 0).

    The skew is the camera's clock (its sender reports' NTP time, carried along its RTP
    timestamps) minus the host's at arrival, so it includes the network delay: a tolerance
    below a second or so would call a slow network a wrong clock."""
    if skew_us is None or not tolerance_us:
        return None
    if abs(skew_us) <= tolerance_us:
        return Msg("")
    return Msg(CAMERA_CLOCK[skew_us > 0], s=f"{abs(skew_us) / 1e6:.1f}", tolerance=f"{tolerance_us / 1e6:g}")


# the words of a clock off one way or the other (True: the camera's is ahead, or runs fast)
CAMERA_CLOCK = {True: N_("camera clock {s} s ahead of the host clock (tolerance {tolerance} s): its time display "
                         "is wrong"),
                False: N_("camera clock {s} s behind the host clock (tolerance {tolerance} s): its time display "
                          "is wrong")}
MEDIA_CLOCK = {True: N_("the camera's video clock ran {s} s fast against this recorder's: its recording was "
                        "re-anchored to the recorder's clock (a segment ended early); check the camera's time and "
                        "frame rate settings, or replace a camera that keeps doing it"),
               False: N_("the camera's video clock ran {s} s slow against this recorder's: its recording was "
                         "re-anchored to the recorder's clock (a segment ended early); check the camera's time and "
                         "frame rate settings, or replace a camera that keeps doing it")}


# At least this many cameras, all off the host clock the same way and by about the same amount,
# by more than HOST_OFF_MIN_US, on a host that does not know itself synchronised: the host clock is
# the one that is wrong (a box that booted at a stale date). A few seconds or minutes is a camera
# matter (each its clock_drift); a synchronised host is right whatever the cameras say.
HOST_OFF_CAMERAS = 2
HOST_OFF_MIN_US = 600 * 1_000_000


def host_clock_off(skews: list[int], tolerance_us: int, host_synced: bool | None) -> int | None:
    """How far the host clock is off the cameras' (their median skew, us: + the cameras are
    ahead, so the host is behind), when the host is to blame; None otherwise."""
    if host_synced or not tolerance_us or len(skews) < HOST_OFF_CAMERAS:
        return None
    ordered = sorted(skews)
    median = ordered[(len(ordered) - 1) // 2]
    if abs(median) <= max(tolerance_us, HOST_OFF_MIN_US) or any(abs(s - median) > tolerance_us for s in ordered):
        return None
    return median


def compliance(view: CameraView, cfg: HealthConfig, local_minute: int) -> tuple[str, list[Msg]]:
    """The quality-floor verdict (R2): "ok", "fail" with reasons, or "unknown" before any data."""
    if not view.enabled:
        return "unknown", [Msg(N_("camera disabled"))]
    if not view.stats:
        return "unknown", [Msg(N_("no stream statistics yet"))]
    present, _known = conditions(replace(view, state=RECORDING), cfg, local_minute)
    reasons = [present[k] for k in FLOOR_KINDS if k in present]
    return ("fail", reasons) if reasons else ("ok", [])


@dataclass(frozen=True, slots=True)
class Track:
    """One (camera, kind) alarm's hysteresis: its state, and since when the evidence says otherwise."""

    active: bool = False
    since_us: int | None = None


def step(track: Track, present: bool | None, now_us: int, raise_after_us: int, clear_after_us: int) -> Track:
    """Advance the hysteresis; `present` None (not judged) leaves it where it is."""
    if present is None:
        return track
    if present == track.active:
        return Track(track.active, None)
    since = now_us if track.since_us is None else track.since_us
    if now_us - since >= (raise_after_us if present else clear_after_us):
        return Track(present, None)
    return Track(track.active, since)


def camera_state(enabled: bool, recorder_state: str | None, degraded: bool) -> str:
    """connecting, recording, degraded, offline or disabled."""
    if not enabled:
        return DISABLED
    if recorder_state == RECORDING:
        return DEGRADED if degraded else RECORDING
    if recorder_state in (OFFLINE, STOPPED):
        return OFFLINE
    return CONNECTING
