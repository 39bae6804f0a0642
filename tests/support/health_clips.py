"""Test streams for the health checks: one short looping clip per fault the image checks find.

Every clip is Annex-B H.264 without B-frames and a 2 s GOP, served by RtspServer as a `clip:`
mount (`Clip.spec()`), like the recording tests' clips. Files are named by their parameters and
reused when they exist, so a session pays for each clip once.

The faulty pictures are 1280x720 at 15 fps, which passes the 720p floor (R2) but not the
1-megapixel one: a test of the image checks sets `min_pixels = 0`, so that a black stream
raises `dark`, not also `resolution`. Clips are 6 s long: with samples every 10 s a loop that
divides 10 s would hand the sampler the same frame every time, so a healthy clip would look
frozen.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.support.cameras import Clip, encoded_once, make_clip

SECONDS = 6
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")

# kind -> (lavfi source graph with {w} {h} {fps}, default size and rate). A real sensor adds
# temporal noise, so the live-looking clips carry some; a frozen picture has none.
_GRAPHS: dict[str, tuple[str, int, int, int]] = {
    # Lens covered or picture lost: black with a little sensor noise.
    "black": ("color=c=black:size={w}x{h}:rate={fps},noise=alls=4:allf=t+u", 1280, 720, 15),
    # Overexposed: washed-out white (a light into the lens, a failed iris).
    "bright": ("color=c=white:size={w}x{h}:rate={fps},noise=alls=2:allf=t+u", 1280, 720, 15),
    # The camera's encoder repeats one picture while its burnt-in clock keeps running.
    "frozen": ("testsrc2=size={w}x{h}:rate={fps},trim=end_frame=1,loop=loop=-1:size=1,"
               "setpts=N/{fps}/TB,drawbox=x=0:y=0:w={box_w}:h={box_h}:color=black:t=fill,"
               "drawtext={font}textfile={clock}:expansion=normal:fontsize={text}:fontcolor=white:"
               "x={margin}:y={margin}", 1280, 720, 15),
    # Colour lost (the IR cut filter stuck in night mode).
    "mono": ("testsrc2=size={w}x{h}:rate={fps},noise=alls=12:allf=t+u,hue=s=0", 1280, 720, 15),
    # Out of focus or a smeared dome: heavy blur, then the sensor's noise.
    "blurred": ("testsrc2=size={w}x{h}:rate={fps},gblur=sigma={sigma},noise=alls=6:allf=t+u",
                1280, 720, 15),
    # The healthy clip's scene at dusk: darker, flatter, noisier (must not look `moved`).
    "dim": ("testsrc2=size={w}x{h}:rate={fps},eq=brightness=-0.25:contrast=0.5,noise=alls=20:allf=t+u",
            1920, 1080, 20),
    # A different scene, for `moved`: a moving, colourful, sharp picture unlike testsrc2.
    "scene": ("mandelbrot=size={w}x{h}:rate={fps},noise=alls=6:allf=t+u", 1280, 720, 15),
}
KINDS = (*_GRAPHS, "healthy", "lowres", "audio")


def health_clip(out_dir: str | os.PathLike, kind: str, *, width: int | None = None,
                height: int | None = None, fps: int | None = None, seconds: float = SECONDS) -> Clip:
    """Encode (or reuse) the clip for `kind` (see KINDS); size and rate override the default.

    healthy: 1080p 20 fps colour testsrc2 with motion and noise (make_clip's picture, 4 Mbit/s);
    lowres: the same picture at 640x480 5 fps (below the quality floor);
    audio: a 1280x720 15 fps picture with 16 kHz AAC (make_clip's `clipav:` pair).
    """
    if kind == "healthy":
        return make_clip(out_dir, width=width or 1920, height=height or 1080, fps=fps or 20,
                         gop=2 * (fps or 20), seconds=seconds, bitrate="4M")
    if kind == "lowres":
        return make_clip(out_dir, width=width or 640, height=height or 480, fps=fps or 5,
                         gop=2 * (fps or 5), seconds=seconds, bitrate="300k")
    if kind == "audio":
        return make_clip(out_dir, width=width or 1280, height=height or 720, fps=fps or 15,
                         gop=2 * (fps or 15), seconds=seconds, bitrate="1500k", audio=True)
    if kind not in _GRAPHS:
        raise ValueError("unknown clip kind %r; one of %s" % (kind, ", ".join(KINDS)))
    graph, w0, h0, fps0 = _GRAPHS[kind]
    w, h, rate = width or w0, height or h0, fps or fps0
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    video = out / ("health_%s_%dx%d_%dfps_%ss.h264" % (kind, w, h, rate, seconds))
    if not video.exists():
        with tempfile.TemporaryDirectory(prefix="edged-clip-") as tmp:
            # A camera-style overlay: site, date and a running clock (expanded per frame).
            clock = Path(tmp) / "clock.txt"
            clock.write_text("CAM 01  2026-11-03 %{pts:hms}")
            font = "fontfile=%s:" % FONT if FONT.exists() else "font=Monospace:"
            source = graph.format(w=w, h=h, fps=rate, clock=clock, font=font, box_w=w // 2, box_h=h // 10,
                                  text=h // 18, margin=h // 40, sigma=h / 60)
            encoded_once(video, [
                "-f", "lavfi", "-i", source, "-t", str(seconds), "-pix_fmt", "yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-g", str(2 * rate),
                "-keyint_min", str(2 * rate), "-sc_threshold", "0", "-bf", "0",
                "-b:v", "1500k" if w * h <= 1280 * 720 else "4M", "-f", "h264",
            ], inputs=(clock,))
    return Clip(video=video, audio=None, fps=rate, gop=2 * rate, width=w, height=h, seconds=seconds)
