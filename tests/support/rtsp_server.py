#!/usr/bin/python3
"""Fake RTSP cameras for the tests and benchmarks, served by gst-rtsp-server.

Run with Debian's /usr/bin/python3 (it has `gi`; the project venv does not):

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 \
        --mount cam1=clip:/tmp/v.h264@20 \
        --mount cam2=clipav:/tmp/v.h264,/tmp/a.aac@20 \
        --mount cam3=live:640x360@10

Mount SPEC kinds:
    clip:VIDEO@FPS          loop a pre-encoded Annex-B H.264 file (cheap: no encoding)
    clip265:VIDEO@FPS       the same for an Annex-B H.265 file
    clipav:VIDEO,AUDIO@FPS  the same plus a looped AAC/ADTS file as a second stream
    clipsnd:VIDEO,LAW:HZ@FPS  an H.264 clip plus G.711 or L16 audio at 8 kHz mono (LAW: pcma,
                            pcmu or l16), a HZ sine tone peaking at -12 dBFS, digital silence
                            with HZ 0, or white noise (peaks at -12 dBFS) with HZ "noise"
    live:WxH@FPS            a live videotestsrc ball encoded by x264 (costs real CPU)
    livewrap:WxH@FPS        the same, with RTP timestamp and sequence number wrapping a few seconds in
    livenokey:WxH@FPS       the same, with one keyframe at the start and none after
    livebf:WxH@FPS[/GOP]    a live ball by x264 with B pictures (bframes=2, b-pyramid, high profile),
                            a keyframe every GOP pictures (default FPS): the RTP timestamps go
                            back at each B picture, as such a camera's do
    livehevc:WxH@FPS[/GOP]  a live ball by x265 with its open GOP and 3 B pictures: each keyframe
                            after the first a CRA, the RASL pictures after it referring to the GOP
                            before it

--clock-rate RATE makes every live mount a camera whose media clock runs RATE times as fast.
--no-sender-reports sends no RTCP (so no sender reports) from any mount.
--clock-offset SECONDS makes every mount a camera whose clock is that far off: its RTCP
sender reports carry this host's time plus the offset (as a camera with a wrong clock sends).

Binds 127.0.0.1 only. Prints exactly "READY <port>" on stdout once it listens (with
--port 0 the port is chosen by the OS and reported there). Exits 0 on SIGTERM/SIGINT,
and with --exit-with-stdin also when stdin closes, so a killed test run leaves no
orphan server holding a port.

Media factories are shared and pipelines are built on a mount's first client, so an
idle mount costs only its factory; this is what lets ~100 mounts run in one process.
"""

import argparse
import os
import re
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, GObject, Gst, GstRtspServer  # noqa: E402

NTP_EPOCH_S = 2208988800  # 1900-01-01 to 1970-01-01
# Elements whose output needs PTS filled in from DTS (see _install_pts_probes).
_PARSERS = ("vparse", "aparse")


def _quote(value):
    """Quote a value for gst-launch syntax, so paths with spaces or quotes survive."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'



def _live_size(kind: str, body: str, spec: str) -> tuple[int, int, int, int]:
    """A live test pattern's WIDTHxHEIGHT@FPS[/GOP]: (width, height, fps, gop), the GOP a second by default."""
    m = re.fullmatch(r"(\d+)x(\d+)@(\d+)(?:/(\d+))?", body)
    if not m or int(m.group(3)) <= 0:
        raise ValueError("%r: expected %s:WIDTHxHEIGHT@FPS[/GOP]" % (spec, kind))
    width, height, fps = (int(g) for g in m.groups()[:3])
    return width, height, fps, int(m.group(4) or fps)

def _split_fps(body, spec):
    """Split "X@FPS"; the framerate is mandatory because a raw H.264 file has no timing."""
    head, sep, fps = body.rpartition("@")
    if not sep or not fps.isdigit() or int(fps) <= 0:
        raise ValueError("%r: needs a positive integer framerate suffix, e.g. @20" % spec)
    return head, int(fps)


def _clip_video(path, fps, codec="h264"):
    if not os.path.isfile(path):
        raise ValueError("no such video file: %r" % path)
    return (
        "multifilesrc loop=true location=%s "
        'caps="video/x-%s,stream-format=byte-stream,framerate=%d/1" '
        "! %sparse name=vparse config-interval=-1 "
        "! rtp%spay pt=96 config-interval=-1 name=pay0" % (_quote(path), codec, fps, codec, codec)
    )


# The sound a clipsnd mount sends: (encoder, RTP payloader, payload type, raw sample format).
_LAWS = {"pcma": ("! alawenc ", "rtppcmapay", 8, "S16LE"), "pcmu": ("! mulawenc ", "rtppcmupay", 0, "S16LE"),
         "l16": ("", "rtpL16pay", 98, "S16BE")}


def _g711_audio(body, spec):
    """A sine tone (or silence, or white noise) from audiotestsrc, not live: timed by its sample
    count, as the looped clips are by their framerate, so both streams run at the same pace.
    G.711 (PCMA, PCMU) or L16 (16-bit PCM, RFC 3551), 8 kHz mono."""
    law, _, hz = body.partition(":")
    if law not in _LAWS or not (hz.isdigit() or hz == "noise"):
        raise ValueError("%r: expected LAW:HZ with LAW pcma, pcmu or l16, e.g. pcma:440 (0: silence, "
                         "noise: white noise)" % spec)
    if hz == "noise":
        wave = "wave=white-noise volume=0.25"
    else:
        wave = "wave=sine freq=%d volume=0.25" % int(hz) if int(hz) else "wave=silence"
    encoder, payloader, pt, raw = _LAWS[law]
    return (
        "audiotestsrc is-live=false %s samplesperbuffer=160 "
        "! audio/x-raw,format=%s,rate=8000,channels=1 %s! %s pt=%d name=pay1"
        % (wave, raw, encoder, payloader, pt)
    )


def _clip_audio(path):
    if not os.path.isfile(path):
        raise ValueError("no such audio file: %r" % path)
    return (
        "multifilesrc loop=true location=%s "
        "! aacparse name=aparse ! rtpmp4gpay pt=97 name=pay1" % _quote(path)
    )


def build_launch(spec):
    """Turn a mount SPEC into a gst-launch description (raises ValueError if malformed)."""
    kind, sep, body = spec.partition(":")
    if not sep:
        raise ValueError("%r: expected KIND:ARGS" % spec)
    if kind == "clip":
        path, fps = _split_fps(body, spec)
        return "( %s )" % _clip_video(path, fps)
    if kind == "clip265":
        path, fps = _split_fps(body, spec)
        return "( %s )" % _clip_video(path, fps, "h265")
    if kind == "clipsnd":
        paths, fps = _split_fps(body, spec)
        video, comma, sound = paths.partition(",")
        if not comma or not sound:
            raise ValueError("%r: expected clipsnd:VIDEO,LAW:HZ@FPS" % spec)
        return "( %s %s )" % (_clip_video(video, fps), _g711_audio(sound, spec))
    if kind == "clipav":
        paths, fps = _split_fps(body, spec)
        video, comma, audio = paths.partition(",")
        if not comma or not audio:
            raise ValueError("%r: expected clipav:VIDEO,AUDIO@FPS" % spec)
        return "( %s %s )" % (_clip_video(video, fps), _clip_audio(audio))
    if kind == "livebf":
        width, height, fps, gop = _live_size(kind, body, spec)
        return (  # not tune=zerolatency, which turns B pictures off
            "( videotestsrc is-live=true pattern=ball "
            "! video/x-raw,width=%d,height=%d,framerate=%d/1 "
            "! x264enc speed-preset=superfast bframes=2 b-pyramid=true key-int-max=%d ! video/x-h264,profile=high "
            "! rtph264pay pt=96 config-interval=-1 name=pay0 )" % (width, height, fps, gop)
        )
    if kind == "livehevc":
        width, height, fps, gop = _live_size(kind, body, spec)
        return (  # x265's open GOP (its default): each keyframe after the first a CRA led by RASL pictures
            "( videotestsrc is-live=true pattern=ball "
            "! video/x-raw,width=%d,height=%d,framerate=%d/1 "
            '! x265enc speed-preset=ultrafast key-int-max=%d option-string="bframes=3:open-gop=1:scenecut=0" '
            "! video/x-h265,profile=main ! rtph265pay pt=96 config-interval=-1 name=pay0 )" % (width, height, fps, gop)
        )
    if kind in ("live", "livewrap", "livenokey"):
        m = re.fullmatch(r"(\d+)x(\d+)@(\d+)", body)
        if not m or int(m.group(3)) <= 0:
            raise ValueError("%r: expected %s:WIDTHxHEIGHT@FPS" % (spec, kind))
        width, height, fps = (int(g) for g in m.groups())
        # livewrap: the RTP timestamp (32 bits, 90 kHz) wraps 3 s in and the sequence number
        # (16 bits) after 35 packets; by default both start at random and a test never sees it.
        wrap = " timestamp-offset=%d seqnum-offset=65500" % (2 ** 32 - 3 * 90000) if kind == "livewrap" else ""
        # livenokey: one keyframe at the start, then none (a camera whose GOP is set to hours)
        gop = 1_000_000 if kind == "livenokey" else fps
        return (
            "( videotestsrc is-live=true pattern=ball "
            "! video/x-raw,width=%d,height=%d,framerate=%d/1 "
            "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "
            "! rtph264pay pt=96 config-interval=-1 name=pay0%s )" % (width, height, fps, gop, wrap)
        )
    raise ValueError("%r: unknown kind %r (clip, clip265, clipav, clipsnd, live, livewrap, livenokey, livebf, livehevc)" % (spec, kind))


def _pts_from_dts(_pad, info):
    """Parsers on a raw elementary stream set only DTS; without PTS every RTP timestamp
    comes out the same (measured with h264parse). There are no B-frames, so PTS = DTS is exact."""
    buf = info.get_buffer()
    if buf is not None and buf.pts == Gst.CLOCK_TIME_NONE:
        buf.pts = buf.dts
    return Gst.PadProbeReturn.OK


def _not_seekable(_pad, info):
    """A camera is live: PLAY's Range (FFmpeg and the edged reader send "npt=0.000-") cannot move
    it. A clipsnd mount's audiotestsrc (not live) answers the pipeline's SEEKING query "yes", and
    gst-rtsp-server seeks a seekable shared media to each PLAY's Range even while other clients
    play it (a clip: or clipav: mount, whose multifilesrc answers "no", never was): every
    client that joined rewound the mount under the others, and the server's main loop, which
    answers every client's RTSP, waited for the flushed pipeline to preroll again (up to 20 s,
    then the media is in error). The audio test's cameras stopped answering so. Answered "no" here,
    gst-rtsp-server skips the seek (rtsp-media.c check_seekable) and PLAY joins the stream where
    it is, as a camera's does."""
    query = info.get_query()
    if query is not None and query.type == Gst.QueryType.SEEKING:
        query.set_seeking(Gst.Format.TIME, False, 0, -1)
        return Gst.PadProbeReturn.HANDLED
    return Gst.PadProbeReturn.OK


def _wrong_clock(offset_s):
    """A wall clock `offset_s` off this host's, read as NTP time (seconds since 1900)."""
    clock = GObject.new(Gst.SystemClock, clock_type=Gst.ClockType.REALTIME)
    internal = clock.get_internal_time()
    clock.set_calibration(internal, internal + int((NTP_EPOCH_S + offset_s) * Gst.SECOND), 1, 1)
    return clock


def _sender_reports_from(media, clock):
    """The pipeline runs on `clock`, and the RTP sessions take their sender reports' NTP time
    from it (rtpbin's ntp-time-source; rtpbin is only made when a client sets the media up)."""
    media.set_clock(clock)

    def added(_bin, _sub, element):
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "rtpbin":
            element.set_property("ntp-time-source", "clock-time")

    media.get_element().get_parent().connect("deep-element-added", added)


def _fast_clock(rate):
    """A clock that runs `rate` times as fast as this host's: a live source paced by it sends
    more frames a second, and stamps them with media time that runs as fast (a camera whose
    crystal is off, exaggerated)."""
    clock = GObject.new(Gst.SystemClock, clock_type=Gst.ClockType.MONOTONIC)
    internal = clock.get_internal_time()
    clock.set_calibration(internal, internal, int(rate * 1000), 1000)
    return clock


def _no_sender_reports(media):
    """Drop every RTCP packet the RTP sessions send: a camera that sends no sender reports, so
    the client cannot tell its wall clock from the stream (design/0085 reads it over ONVIF)."""
    def pad_added(_rtpbin, pad):
        if pad.get_name().startswith("send_rtcp_src"):
            pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST,
                          lambda *_: Gst.PadProbeReturn.DROP)

    def added(_bin, _sub, element):
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "rtpbin":
            element.connect("pad-added", pad_added)

    media.get_element().get_parent().connect("deep-element-added", added)


def _install_pts_probes(_factory, media, clock_offset_s=0.0, clock_rate=1.0, no_sr=False):
    """media-configure runs once per built pipeline, before it starts to flow."""
    if no_sr:
        _no_sender_reports(media)
    if clock_offset_s:
        _sender_reports_from(media, _wrong_clock(clock_offset_s))
    elif clock_rate != 1.0:
        media.set_clock(_fast_clock(clock_rate))
    element = media.get_element()
    for name in ("pay0", "pay1"):
        pay = element.get_by_name(name)
        if pay is not None:
            pay.get_static_pad("src").add_probe(Gst.PadProbeType.QUERY_UPSTREAM, _not_seekable)
    for name in _PARSERS:
        parser = element.get_by_name(name)
        if parser is not None:
            parser.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, _pts_from_dts)


def _parse_mount(text):
    name, sep, spec = text.partition("=")
    name = name.strip("/")
    if not sep or not name or not spec:
        raise argparse.ArgumentTypeError("expected NAME=SPEC, got %r" % text)
    try:
        return name, build_launch(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake RTSP cameras on 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True, help="0 lets the OS choose")
    parser.add_argument("--mount", type=_parse_mount, action="append", required=True,
                        metavar="NAME=SPEC", help="repeatable")
    parser.add_argument("--clock-offset", type=float, default=0.0, metavar="SECONDS",
                        help="the cameras' clocks are this far ahead (negative: behind) of this host's")
    parser.add_argument("--clock-rate", type=float, default=1.0, metavar="RATE",
                        help="the cameras' media clocks run this many times as fast as this host's")
    parser.add_argument("--no-sender-reports", action="store_true",
                        help="send no RTCP at all (a camera whose stream says nothing of its wall clock)")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="quit when stdin reaches EOF (the parent went away)")
    args = parser.parse_args(argv)
    names = [name for name, _ in args.mount]
    if len(set(names)) != len(names):
        parser.error("duplicate mount names")

    Gst.init(None)
    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for name, launch in args.mount:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        factory.connect("media-configure", _install_pts_probes, args.clock_offset, args.clock_rate,
                        args.no_sender_reports)
        mounts.add_factory("/" + name, factory)

    try:
        # Rather than attach(), which only logs a warning when the port is busy.
        source = server.create_source(None)
    except GLib.Error as exc:
        print("rtsp_server: cannot listen on 127.0.0.1:%d: %s" % (args.port, exc.message),
              file=sys.stderr)
        return 1
    source.attach(None)

    def quit_loop(*_):
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, quit_loop)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, quit_loop)
    if args.exit_with_stdin:
        def on_stdin(fd, _cond):
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if data:
                return GLib.SOURCE_CONTINUE
            return quit_loop()
        GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, sys.stdin.fileno(),
                              GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)

    sys.stdout.write("READY %d\n" % server.get_bound_port())
    sys.stdout.flush()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
