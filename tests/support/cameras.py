"""Fake cameras for the tests: cached test clips, the RTSP server process, ffprobe helpers.

The RTSP server itself (rtsp_server.py next to this file) needs GStreamer's `gi`, which only
Debian's /usr/bin/python3 has, so it runs as a child process and this module drives it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import logs
from tests.support.ports import free_port  # noqa: F401  (re-exported: tests import it from here)

log = logging.getLogger(__name__)

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
AUDIO_RATE = 16000


@dataclass(frozen=True)
class Clip:
    """A pre-encoded clip: the server loops it, so many cameras cost no encoding."""

    video: Path
    audio: Path | None
    fps: int
    gop: int
    width: int
    height: int
    seconds: float
    codec: str = "h264"  # or "h265"

    def spec(self) -> str:
        """The rtsp_server.py mount SPEC that serves this clip (with audio if it has some)."""
        if self.codec == "h265":
            return "clip265:%s@%d" % (self.video, self.fps)
        if self.audio is not None:
            return "clipav:%s,%s@%d" % (self.video, self.audio, self.fps)
        return "clip:%s@%d" % (self.video, self.fps)


# Every encoded clip is kept here too, named by what made it (ffmpeg's arguments and the files
# they read), so a test whose clip lives in its own tmp_path copies it instead of encoding it
# again: the suite's ~60 calls of make_clip and health_clip on per-test folders encode each
# clip once per machine. A half-written file never lands under its name (see _encode).
CLIP_CACHE = Path(tempfile.gettempdir()) / "edged-test-clips"


def encoded_once(out: Path, args: list[str], inputs: tuple[Path, ...] = ()) -> None:
    """Write what ffmpeg makes of `args` to `out`, from CLIP_CACHE when it was made before.
    `inputs`: files the arguments name (a text overlay's), known by their content, not their path."""
    key = hashlib.sha256()
    for arg in args:
        for path in inputs:
            arg = arg.replace(str(path), "<%s>" % hashlib.sha256(path.read_bytes()).hexdigest())
        key.update(arg.encode() + b"\0")
    cached = CLIP_CACHE / ("%s-%s" % (key.hexdigest()[:24], out.name))
    if not cached.exists():
        CLIP_CACHE.mkdir(parents=True, exist_ok=True)
        _encode(cached, args)
    tmp = out.with_name("%s.tmp-%d" % (out.name, os.getpid()))
    shutil.copyfile(cached, tmp)  # a copy, not a link: a test may change its clip
    os.replace(tmp, out)


def _encode(out: Path, args: list[str]) -> None:
    """Encode into a temp name and rename, so a half-written file never counts as cached."""
    tmp = out.with_name("%s.tmp-%d" % (out.name, os.getpid()))
    cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", *args, str(tmp)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        tmp.unlink(missing_ok=True)
        raise RuntimeError("ffmpeg failed (%s): %s" % (" ".join(cmd), exc.stderr)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)


def make_clip(
    out_dir: str | os.PathLike,
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 20,
    gop: int = 20,
    seconds: float = 20,
    bitrate: str = "500k",
    audio: bool = False,
    codec: str = "h264",
) -> Clip:
    """Encode (or reuse) a looping test clip: Annex-B H.264 (or H.265 with codec="h265"),
    plus 16 kHz mono AAC/ADTS.

    Files are named by their parameters, so an existing file is reused as is. `noise`
    keeps the bitrate realistic; a fixed GOP without B-frames keeps timestamps simple.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    video = out / ("testsrc2_%dx%d_%dfps_g%d_%ss_%s.%s" % (width, height, fps, gop, seconds, bitrate, codec))
    if codec == "h264":
        encoder = ["-c:v", "libx264", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "0"]
    elif codec == "h265":
        encoder = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                   "keyint=%d:min-keyint=%d:scenecut=0:bframes=0:log-level=error" % (gop, gop)]
    else:
        raise ValueError("codec %r: h264 or h265" % codec)
    if not video.exists():
        log.info("encoding test clip %s", video)
        encoded_once(video, [
            "-f", "lavfi",
            "-i", "testsrc2=size=%dx%d:rate=%d,noise=alls=12:allf=t+u" % (width, height, fps),
            "-t", str(seconds), "-pix_fmt", "yuv420p", *encoder, "-b:v", bitrate, "-f", "hevc" if codec == "h265" else "h264",
        ])
    sound = None
    if audio:
        sound = out / ("sine_%dhz_mono_%ss.aac" % (AUDIO_RATE, seconds))
        if not sound.exists():
            log.info("encoding test audio %s", sound)
            encoded_once(sound, [
                "-f", "lavfi",
                "-i", "sine=frequency=440:sample_rate=%d:duration=%s" % (AUDIO_RATE, seconds),
                "-ac", "1", "-c:a", "aac", "-b:a", "32k", "-f", "adts",
            ])
    return Clip(video=video, audio=sound, fps=fps, gop=gop, width=width, height=height,
                seconds=seconds, codec=codec)


class RtspServer:
    """The fake-camera RTSP server as a child process: start, stop and restart it on one port.

    With port=None the OS picks a port at the first start (no free_port() race); restarts
    keep it, so camera URLs stay valid across an outage, as a real camera's would.
    """

    def __init__(self, mounts: dict[str, str], port: int | None = None, clock_offset_s: float = 0.0,
                 clock_rate: float = 1.0, sender_reports: bool = True):
        if not mounts:
            raise ValueError("at least one mount is needed")
        self.mounts = dict(mounts)
        self.clock_offset_s = clock_offset_s  # cameras whose clock is this far off (their RTCP sender reports)
        self.clock_rate = clock_rate          # live cameras whose media clock runs this many times as fast
        self.sender_reports = sender_reports  # False: no RTCP at all (the stream says nothing of their clock)
        self.port = port
        self.proc: subprocess.Popen | None = None
        self._tmpdir = tempfile.TemporaryDirectory(prefix="edged-rtsp-")
        self.log_path = Path(self._tmpdir.name) / "rtsp_server.log"

    def _command(self) -> list[str]:
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port or 0),
               "--exit-with-stdin"]
        if self.clock_offset_s:
            cmd += ["--clock-offset", repr(self.clock_offset_s)]
        if self.clock_rate != 1.0:
            cmd += ["--clock-rate", repr(self.clock_rate)]
        if not self.sender_reports:
            cmd += ["--no-sender-reports"]
        for name, spec in self.mounts.items():
            cmd += ["--mount", "%s=%s" % (name, spec)]
        return cmd

    def start(self, timeout: float = 15) -> RtspServer:
        """Launch the server and return once it listens (it prints READY <port>)."""
        if self.running:
            raise RuntimeError("RTSP server already running")
        logs.started(self.log_path, "the RTSP server")
        with open(self.log_path, "ab") as err:
            # stdin stays open as a lifeline: the server quits when it reaches EOF.
            self.proc = subprocess.Popen(self._command(), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err)
        try:
            line = self._read_ready_line(timeout)
        except BaseException:
            self._terminate(5)
            raise
        port = int(line.split()[1])
        if self.port not in (None, 0) and port != self.port:
            self._terminate(5)
            raise RuntimeError("RTSP server bound %d, wanted %d" % (port, self.port))
        self.port = port
        log.info("RTSP server pid %d ready on port %d (%d mounts)",
                 self.proc.pid, port, len(self.mounts))
        return self

    def _read_ready_line(self, timeout: float) -> str:
        """Read stdout up to the READY line, failing fast if the server exits first."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("RTSP server not ready after %ss\n%s"
                                       % (timeout, self.log_text()))
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.proc.wait(5)
                    raise RuntimeError("RTSP server exited with %s before READY\n%s"
                                       % (code, self.log_text()))
                buf += chunk
        line = buf.split(b"\n", 1)[0].decode()
        if not line.startswith("READY "):
            raise RuntimeError("unexpected RTSP server output %r\n%s" % (line, self.log_text()))
        return line

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def url(self, mount: str) -> str:
        if mount not in self.mounts:
            raise KeyError(mount)
        if not self.port:
            raise RuntimeError("start the server first: its port is not known yet")
        return "rtsp://127.0.0.1:%d/%s" % (self.port, mount)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL after `timeout`; on return the port can be bound again."""
        if self.proc is None:
            return
        self._terminate(timeout)
        if self.port:
            self._wait_port_free(timeout)

    def _terminate(self, timeout: float) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("RTSP server pid %d ignored SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait(timeout)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        if proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            log.warning("RTSP server exited with %s; log in %s", proc.returncode, self.log_path)

    def _wait_port_free(self, timeout: float) -> None:
        """The process is gone, but make sure the port is bindable before a restart."""
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                # The server binds with SO_REUSEADDR too, so TIME_WAIT leftovers don't count.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", self.port))
                    return
                except OSError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError("port %d still busy after stop" % self.port) from None
            time.sleep(0.05)  # polling interval of the deadline loop, not a fixed wait

    def restart(self, timeout: float = 15) -> RtspServer:
        """Stop, then start again on the same port: a camera outage and recovery."""
        self.stop()
        return self.start(timeout)

    def log_text(self) -> str:
        """The server's stderr so far, for assertion messages."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        self.stop()
        self._tmpdir.cleanup()

    def __enter__(self) -> RtspServer:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _rtsp_args(path: str | os.PathLike) -> list[str]:
    """Our fake cameras are probed over TCP: UDP would need free RTP ports and may drop."""
    return ["-rtsp_transport", "tcp"] if str(path).startswith("rtsp://") else []


def ffprobe(path: str | os.PathLike, timeout: float = 30) -> dict:
    """Format and streams of a file or RTSP URL, as ffprobe's JSON."""
    cmd = ["ffprobe", "-v", "error", *_rtsp_args(path), "-print_format", "json",
           "-show_format", "-show_streams", str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)
    return json.loads(out.stdout)


def ffprobe_errors(path: str | os.PathLike, timeout: float = 60) -> str:
    """Demuxer complaints when reading the whole file; empty means it reads cleanly."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", *_rtsp_args(path), "-i", str(path),
           "-c", "copy", "-f", "null", "-"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0 and not out.stderr:
        return "ffmpeg exited with %d" % out.returncode
    return out.stderr


def media_duration(path: str | os.PathLike) -> float:
    """Container duration in seconds."""
    return float(ffprobe(path)["format"]["duration"])


def count_video_packets(path: str | os.PathLike, timeout: float = 60) -> int:
    """Video packets actually in the file (reads it all, unlike nb_frames from the header)."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v", "-count_packets",
           "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)
    return int(out.stdout.split()[0].strip(","))


def packet_pts(path: str | os.PathLike, stream: str = "v", timeout: float = 60) -> list[float]:
    """Packet PTS in seconds, in file order, of the first `stream` ("v" or "a") stream."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "%s:0" % stream,
           "-show_entries", "packet=pts_time", "-of", "csv=p=0", str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)
    return [float(v.strip(",")) for v in out.stdout.split() if v.strip(",") not in ("", "N/A")]
