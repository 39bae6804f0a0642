#!/usr/bin/python3
"""A Profile G camera's replay, served by GStreamer's own ONVIF RTSP server (tests' use).

Run with Debian's /usr/bin/python3 (it has `gi`):

    /usr/bin/python3 tests/support/profile_g_server.py --port 0 --start 1764000000.0 --fps 10

The camera's recording is a videotestsrc ball at --size and --fps that began at --start (Unix
seconds) and runs on for ever: the frame n of the recording was taken at START + n / FPS. One
mount, /replay, answers `Require: onvif-replay`: a PLAY with `Range: clock=A-B` plays the
recording from A (the keyframe the encoder makes there) to B, each RTP packet carrying the
ONVIF NTP header extension (0xABAC) with its frame's absolute time (`rtponviftimestamp`), and
`Rate-Control: no` sends it as fast as it is made.

How: GStreamer's ONVIF client seeks the media to a clock range's start as stream time in
nanoseconds since 1900 (NTP), so the recording's stream time *is* its NTP time: videotestsrc
(not live) makes the frames of any instant asked for, and rtponviftimestamp with ntp-offset 0
stamps each with its stream time. A range from before START is refused in pre-play-request. A range that starts before START is answered
457 (Invalid Range): the camera overwrote it. Binds 127.0.0.1; prints "READY <port>"; exits on
SIGTERM/SIGINT, and with --exit-with-stdin when stdin closes.
"""

import argparse
import os
import signal
import sys
from datetime import datetime, timezone

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def parse_clock(text):
    """An RFC 2326 clock time (19961108T142300Z, 19961108T142300.25Z) as Unix seconds."""
    text = text.strip().rstrip("Z")
    day, _, frac = text.partition(".")
    when = datetime.strptime(day, "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    return when.timestamp() + (float("0." + frac) if frac else 0.0)


def clock_range(header):
    """`clock=A-B` (B may be empty) as (A, B or None) in Unix seconds; None if not a clock range."""
    unit, _, value = header.partition("=")
    if unit.strip() != "clock":
        return None
    a, _, b = value.partition("-")
    return parse_clock(a), (parse_clock(b) if b.strip() else None)


def main(argv=None):
    parser = argparse.ArgumentParser(description="A Profile G camera's replay on 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--start", type=float, required=True, help="the recording's start, Unix seconds")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--gop", type=int, default=0, help="frames from keyframe to keyframe (default: --fps, 1 s)")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--exit-with-stdin", action="store_true")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))

    Gst.init(None)
    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPOnvifServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPOnvifMediaFactory()
    factory.set_replay_support(True)
    factory.set_media_gtype(GstRtspServer.RTSPOnvifMedia.__gtype__)  # else no media is made (gst 1.22)
    factory.set_shared(False)
    factory.set_launch(
        "( videotestsrc is-live=false pattern=ball "
        "! video/x-raw,width=%d,height=%d,framerate=%d/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "
        "! h264parse ! rtph264pay pt=96 config-interval=-1 ! rtponviftimestamp name=pay0 ntp-offset=0 )"
        % (width, height, args.fps, args.gop or args.fps))
    server.get_mount_points().add_factory("/replay", factory)

    def pre_play(_client, ctx):
        ok, value = ctx.request.get_header(GstRtsp.RTSPHeaderField.RANGE, 0)
        if ok != GstRtsp.RTSPResult.OK or value is None:
            return GstRtsp.RTSPStatusCode.OK
        wanted = clock_range(value)
        if wanted is None:
            return GstRtsp.RTSPStatusCode.OK
        start, end = wanted
        if start < args.start:
            return GstRtsp.RTSPStatusCode.INVALID_RANGE  # overwritten: the recording begins later
        return GstRtsp.RTSPStatusCode.OK

    server.connect("client-connected", lambda _s, client: client.connect("pre-play-request", pre_play))
    try:
        source = server.create_source(None)
    except GLib.Error as exc:
        print("profile_g_server: cannot listen on 127.0.0.1:%d: %s" % (args.port, exc.message), file=sys.stderr)
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
            return GLib.SOURCE_CONTINUE if data else quit_loop()
        GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, sys.stdin.fileno(),
                              GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)
    sys.stdout.write("READY %d\n" % server.get_bound_port())
    sys.stdout.flush()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
