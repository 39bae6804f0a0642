"""Test scenes for motion detection: a still picture with one kind of change at known times.

Each scene is a real H.264 clip (Annex-B, no B-frames, 2 s GOP) encoded once by ffmpeg and
reused by name, servable by RtspServer like the recording clips (`Clip.spec()`). The picture
is a frozen frame of testsrc2 (colour bars, shapes, a gradient: texture everywhere) with a
little temporal sensor noise, as a real still scene has. What changes, and when:

- `walk`: a two-tone "person" (12 % of the width, 35 % of the height) crosses the picture from
  left to right during each window of WALKS, entering and leaving fully; nothing else moves.
- `noise`: heavy night-time sensor grain and nothing else.
- `light`: nothing moves, the light does: sudden steps of brightness and of contrast (lights
  switched on, a cloud, the iris), a gamma step and a slow fade (dusk). See LIGHT.
- `clock`: a camera-style burnt-in date and running clock in the top-left corner; at 20 s
  the date, hour and minute roll over together (the most digits a clock changes at once).

The times are the scene's own (seconds from the clip's start); the moving object's band
(WALK_BAND, frame-relative) is where a mask must go to hide it.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from tests.support.cameras import Clip, encoded_once

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")
SCENES = ("walk", "noise", "light", "clock")
SECONDS = 40
# (enter, leave) of the walking object, seconds into the clip: it is wholly outside the
# picture before `enter` and after `leave`, partly inside in between.
WALKS = ((6.0, 9.0), (20.0, 24.0))
# The object's size and vertical band, as fractions of the picture.
WALK_W, WALK_H, WALK_Y = 0.12, 0.35, 0.55
WALK_BAND = (0.0, WALK_Y, 1.0, WALK_Y + WALK_H)  # x0, y0, x1, y1
# The light scene, piecewise: (from, to, what). Between the windows the picture is as shot.
LIGHT = (
    (5.0, 10.0, "brightness +0.15 (a step up at 5 s, down at 10 s)"),
    (13.0, 18.0, "contrast x1.4 (steps)"),
    (21.0, 26.0, "gamma 1.6 (steps)"),
    (28.0, 38.0, "a fade to brightness -0.3 over 10 s, then a step back"),
)
# The clock's box: top-left, like the cameras' own overlay (frame-relative x0, y0, x1, y1).
CLOCK_BOX = (0.0, 0.0, 0.62, 0.10)

_STILL = "testsrc2=size={w}x{h}:rate={fps},trim=end_frame=1,loop=loop=-1:size=1,setpts=N/{fps}/TB"


def _graph(kind: str, w: int, h: int, fps: int, clock: Path) -> str:
    """The lavfi filter graph for one scene (a single output, the scene)."""
    still = _STILL.format(w=w, h=h, fps=fps)
    if kind == "noise":
        return still + ",noise=alls=28:allf=t+u"
    if kind == "light":
        b = ("if(between(t,5,10),0.15,0)+if(between(t,28,38),-0.3*(t-28)/10,0)")
        c = "if(between(t,13,18),1.4,1)"
        g = "if(between(t,21,26),1.6,1)"
        return still + (",eq=brightness='%s':contrast='%s':gamma='%s':eval=frame,"
                        "noise=alls=6:allf=t+u" % (b, c, g))
    if kind == "clock":
        font = "fontfile=%s:" % FONT if FONT.exists() else "font=Monospace:"
        bw, bh = int(w * CLOCK_BOX[2]), int(h * CLOCK_BOX[3])
        return still + (",drawbox=x=0:y=0:w=%d:h=%d:color=black:t=fill,"
                        "drawtext=%stextfile=%s:expansion=normal:fontsize=%d:fontcolor=white:"
                        "x=%d:y=%d,noise=alls=6:allf=t+u"
                        % (bw, bh, font, clock, h // 18, h // 40, h // 40))
    if kind == "walk":
        ow, oh, oy = int(w * WALK_W) // 2 * 2, int(h * WALK_H) // 2 * 2, int(h * WALK_Y)
        parts = ["%s[s0]" % still]
        label = "s0"
        for n, (a, b) in enumerate(WALKS):
            # x runs from -w (just outside, left) at `a` to W (just outside, right) at `b`.
            # Dark above, light below, so it stands out on every bar of the picture. Its
            # place comes from the frame number, exact whatever the filters' timestamps
            # (overlay's `n` runs one ahead of the output's frames here, hence n-1).
            parts.append("color=c=0x141414:size=%dx%d:rate=%d,drawbox=x=0:y=%d:w=%d:h=%d:"
                         "color=0xd0d0d0:t=fill[o%d]" % (ow, oh, fps, oh // 2, ow, oh // 2, n))
            parts.append("[%s][o%d]overlay=x='-w+(W+w)*((n-1)/%d-%s)/%s':y=%d:eval=frame:"
                         "enable='between((n-1)/%d,%s,%s)':shortest=0[s%d]"
                         % (label, n, fps, a, b - a, oy, fps, a, b, n + 1))
            label = "s%d" % (n + 1)
        parts.append("[%s]noise=alls=6:allf=t+u" % label)
        return ";".join(parts)
    raise ValueError("unknown scene %r; one of %s" % (kind, ", ".join(SCENES)))


def scene_clip(out_dir: str | os.PathLike, kind: str, *, width: int = 640, height: int = 360,
               fps: int = 5, seconds: float = SECONDS, bitrate: str | None = None) -> Clip:
    """Encode (or reuse) the `kind` scene (see SCENES) at this size and rate.

    The default is a camera's sub-stream (640x360, 5 fps); the bitrate follows the size
    unless given (a sub-stream ~400 kbit/s, 1080p 4 Mbit/s), so the noise is compressed as
    a camera would compress it.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rate = bitrate or ("400k" if width * height <= 640 * 480 else
                       "1500k" if width * height <= 1280 * 720 else "4M")
    video = out / ("scene_%s_%dx%d_%dfps_%ss_%s.h264" % (kind, width, height, fps, seconds, rate))
    if not video.exists():
        with tempfile.TemporaryDirectory(prefix="edged-scene-") as tmp:
            clock = Path(tmp) / "clock.txt"
            clock.write_text(r"CAM 07  %{pts:gmtime:1795391980:%Y-%m-%d %H\:%M\:%S}")
            graph = _graph(kind, width, height, fps, clock)
            encoded_once(video, [
                "-f", "lavfi", "-i", graph, "-t", str(seconds), "-pix_fmt", "yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-g", str(2 * fps),
                "-keyint_min", str(2 * fps), "-sc_threshold", "0", "-bf", "0",
                "-b:v", rate, "-maxrate", rate, "-bufsize", rate, "-f", "h264",
            ], inputs=(clock,))
    return Clip(video=video, audio=None, fps=fps, gop=2 * fps, width=width, height=height,
                seconds=seconds)


def grey_frames(clip: Clip, *, keyframes_only: bool = False,
                size: tuple[int, int] | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Decode a scene with PyAV: (seconds into the clip, grey picture) per frame, in order.

    keyframes_only: only the keyframes reach the decoder (what a main-stream detector at a
    reduced rate sees). size: (width, height) to have swscale shrink the picture (AREA), as
    a worker would; full size otherwise.
    """
    def grey(frame: av.VideoFrame) -> np.ndarray:
        if size is None:
            return frame.to_ndarray(format="gray")
        return frame.to_ndarray(width=size[0], height=size[1], format="gray",
                                interpolation="AREA")

    with av.open(str(clip.video), format="h264") as c:
        stream = c.streams.video[0]
        sent: deque[float] = deque()  # the times of the packets the decoder still holds
        n = 0
        for packet in c.demux(stream):
            if not packet.size:  # the empty packet at the end
                continue
            t = n / clip.fps
            n += 1
            if keyframes_only and not packet.is_keyframe:
                continue
            sent.append(t)
            for frame in stream.codec_context.decode(packet):
                yield sent.popleft(), grey(frame)
        for frame in stream.codec_context.decode(None):
            yield sent.popleft(), grey(frame)
