"""The web viewer: CPU per live viewer and per playback viewer, and click to first frame.

    .venv/bin/python -m bench.viewer_bench [--viewers 4] [--seconds 20] [--reps 5] [--height 720]

One camera (testsrc2 + noise, 20 fps, 2 s GOP, no B-frames; 1280x720 at 2 Mbit/s by
default) served by the test RTSP server and recorded by the real daemon with [viewer] on;
two minutes of older footage of it are written by the recorder's segment writer for the
playback grants. Real accounts and grants (edgectl, tests/support/people.py); the viewers are
pages of one headless Chromium (Debian's, as in the tests).

- CPU: utime+stime of the daemon's own process (the control plane, where the viewer runs;
  the recorder workers are other processes and are not counted) over `--seconds`, with no
  viewer, with one live viewer, with `--viewers` live viewers of the same camera, and with
  `--viewers` playbacks (one grant each). Per viewer = (with - without) / viewers; for live,
  the first viewer also pays the camera read, so it is shown apart from each extra viewer.
  The browser's CPU (decoding) is shown for scale; it is the viewer's machine, not the box.
- Click to first frame: in the page, performance.now() at the click to the first video frame
  (requestVideoFrameCallback). Live "cold": nobody watches the camera, so the click opens it;
  live "warm": another viewer already watches it (the relay joins, the browser waits for the
  next key frame); playback: a new grant each time.

No path re-encodes, so there is no encoding cost to report: live packets and recorded
samples go to aiortc's H.264 packetizer as they are (design/0013).
Output goes to stdout and bench/out/viewer_bench.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from datetime import datetime, timezone

from bench.common import OUT, box_ticks, command_line, cpu_ticks, environment, log, table, tree
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.footage import clip_mp4, write_segments
from tests.support.browser import launch, login_page
from tests.support.people import People

S = 1_000_000
CLK = 100  # USER_HZ


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / S, timezone.utc).isoformat()


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = OUT / "viewer"
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        width = args.height * 16 // 9
        self.clip = make_clip(OUT / "clips", width=width, height=args.height, fps=20, gop=40, seconds=30,
                              bitrate=args.bitrate)
        self.rtsp = RtspServer({"cam1": self.clip.spec()}).start()
        data = self.work / "data"
        data.mkdir()
        self.t0 = (time.time_ns() // 1000 - 7200 * S) // S * S
        write_segments(data, "cam1", clip_mp4(self.clip), [(self.t0, 120)], segment_s=60)
        self.port = free_port()
        cfg = write_config(self.work / "edged.toml", data, [{"id": "cam1", "url": self.rtsp.url("cam1")}],
                           storage={"segment_length": "60s"},
                           tables={"viewer": {"enabled": True, "listen": f"127.0.0.1:{self.port}", "max_viewers": 64}})
        self.base = f"http://127.0.0.1:{self.port}"
        self.daemon = Daemon(cfg, data, self.work / "edged.log").start()
        wait_for(lambda: "web viewer listening" in self.daemon.log, 30, "the web viewer")
        wait_for(lambda: self.daemon.segments("cam1", ("writing",)), 30, "recording")
        self.people = People(cfg, self.work)
        for name, role in (("vera", "viewer"), ("carl", "custodian"), ("adam", "approver")):
            self.people.add(name, role)
        self.pw, self.browser = launch()

    def grants(self, n: int) -> list[int]:
        """n approved view grants of 90 s of the old footage (filed by vera, approved by adam)."""
        ids = []
        for _ in range(n):
            r = self.people.as_("vera").ctl(
                "request", "file", "--kind", "internal", "--category", "other", "--reason", "benchmark",
                "--camera", "cam1", "--from", iso(self.t0 + 10 * S), "--to", iso(self.t0 + 100 * S),
                "--requester", "Bench Watcher", "--org", "bench", "--json")
            assert r.returncode == 0, r.stderr
            r = self.people.as_("adam").ctl("request", "approve", str(json.loads(r.stdout)["id"]),
                                            "--reason", "benchmark", "--json")
            assert r.returncode == 0, r.stderr
            ids.append(json.loads(r.stdout)["grant"]["id"])
        return ids

    def page(self, name: str):
        return login_page(self.browser, self.base, name)

    def live(self, page) -> float:
        page.click("button[data-camera=cam1]")
        return self.first_frame(page)

    def playback(self, page, grant: int) -> float:
        page.goto(self.base + "/playback")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#grant", str(grant))
        page.click("#lookup button")
        page.wait_for_selector("#start", state="visible")
        page.click("#start")
        return self.first_frame(page)

    @staticmethod
    def first_frame(page) -> float:
        page.wait_for_function("edged.firstFrameMs !== null", timeout=30_000)
        page.wait_for_function("document.getElementById('video').currentTime > 0.5", timeout=30_000)
        return page.evaluate("edged.firstFrameMs")

    def close(self, page) -> None:
        if page.evaluate("edged.view") is not None:
            page.click("#stop")
        page.context.close()

    def views_open(self) -> int:
        return len(self.daemon.query("SELECT 1 FROM audit WHERE action IN ('live.start', 'playback.start')")) - \
            len(self.daemon.query("SELECT 1 FROM audit WHERE action IN ('live.stop', 'playback.stop')"))

    def browser_pids(self) -> list[int]:
        skip = set(tree(self.daemon.proc.pid)) | set(tree(self.rtsp.proc.pid))
        return [p for p in tree(os.getpid()) if p not in skip and p != os.getpid()]

    def window(self) -> tuple[float, float, float]:
        """(daemon %, browser %, box busy %) of one core over --seconds."""
        pid, seconds = self.daemon.proc.pid, self.args.seconds
        browsers = self.browser_pids()
        d0, b0, x0, t0 = cpu_ticks(pid) or 0, sum(cpu_ticks(p) or 0 for p in browsers), box_ticks(), time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - t0
        d1, b1, x1 = cpu_ticks(pid) or 0, sum(cpu_ticks(p) or 0 for p in browsers), box_ticks()
        box = (x1[0] - x0[0]) / max(1, x1[1] - x0[1]) * 100 * (os.cpu_count() or 1)
        return (d1 - d0) / CLK / wall * 100, (b1 - b0) / CLK / wall * 100, box

    def close_all(self) -> None:
        self.browser.close()
        self.pw.stop()
        self.daemon.stop()
        self.rtsp.close()


def run(args: argparse.Namespace) -> str:
    b = Bench(args)
    n = args.viewers
    out: list[str] = []
    try:
        grants = b.grants(n + args.reps)
        log("measuring: no viewer")
        base = b.window()
        log("measuring: 1 live viewer")
        pages = [b.page("vera")]
        b.live(pages[0])
        one = b.window()
        log(f"measuring: {n} live viewers")
        for _ in range(n - 1):
            pages.append(b.page("vera"))
            b.live(pages[-1])
        many = b.window()
        for p in pages:
            b.close(p)
        wait_for(lambda: b.views_open() == 0, 20, "the live views to close")
        log(f"measuring: {n} playbacks")
        pages = []
        for g in grants[:n]:
            pages.append(b.page("carl"))
            b.playback(pages[-1], g)
        played = b.window()
        for p in pages:
            b.close(p)
        wait_for(lambda: b.views_open() == 0, 20, "the playbacks to close")

        log("click to first frame")
        cold, warm, pb = [], [], []
        for _ in range(args.reps):
            p = b.page("vera")
            cold.append(b.live(p))
            b.close(p)
            wait_for(lambda: b.views_open() == 0, 20, "the live view to close")
        keeper = b.page("vera")
        b.live(keeper)
        for _ in range(args.reps):
            p = b.page("vera")
            warm.append(b.live(p))
            b.close(p)
        b.close(keeper)
        for g in grants[n:]:
            p = b.page("carl")
            pb.append(b.playback(p, g))
            b.close(p)
    finally:
        b.close_all()

    def row(what, w, per):
        return [what, f"{w[0]:.1f}", per, f"{w[1]:.0f}", f"{w[2]:.0f}"]

    out.append(f"## viewer_bench: {b.clip.width}x{b.clip.height} 20 fps {args.bitrate}bit/s, GOP 2 s; "
               f"{args.seconds:.0f} s windows; CPU in % of one core\n")
    out.append(table(["state", "daemon CPU", "per viewer", "browser CPU", "box busy"], [
        row("no viewer", base, "-"),
        row("1 live viewer", one, f"{one[0] - base[0]:.1f} (camera read + 1 viewer)"),
        row(f"{n} live viewers, same camera", many,
            f"{(many[0] - one[0]) / max(1, n - 1):.1f} per extra viewer"),
        row(f"{n} playbacks (a grant each)", played, f"{(played[0] - base[0]) / n:.1f}"),
    ]))

    def stats(xs):
        return [f"{statistics.median(xs):.0f}", f"{min(xs):.0f}", f"{max(xs):.0f}"]

    out.append("\nclick to first frame, ms (in the page: click to the first requestVideoFrameCallback)\n")
    out.append(table(["case", "median", "min", "max"], [
        [f"live, camera not watched ({args.reps})", *stats(cold)],
        [f"live, camera already watched ({args.reps})", *stats(warm)],
        [f"playback of a grant ({args.reps})", *stats(pb)],
    ]))
    out.append(f"\n{command_line('bench.viewer_bench')}\n{environment()}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--viewers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--bitrate", default="2M")
    args = ap.parse_args(argv)
    text = run(args)
    print(text)
    (OUT / "viewer_bench.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
