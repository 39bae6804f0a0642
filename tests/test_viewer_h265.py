"""H.265 in the viewer (issue 18 item 5, design/0050): a browser gets no H.265 over WebRTC, so
the picture of an H.265 camera is transcoded to H.264 in the media worker, live and under a
grant, scaled to `[viewer] transcode_max_height`; an H.264 camera is still relayed untouched.

First the transcoder and the playback reader on real H.265 segment files, then a real headless
Chromium against the real daemon and RTSP server (one daemon, one browser for the module).
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from edged.config.viewer import ViewerConfig
from edged.viewer.camera_read import has_parameter_sets
from edged.viewer.playback import RangeReader, pieces_of
from edged.viewer.transcode import ToH264, out_size
from storage.time.clock import SYSTEM
from tests.support.browser import CHROMIUM, launch, login_page
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.configs import MINIMAL, error_for, write
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.footage import clip_mp4, write_segments
from tests.test_viewer import iso, media_workers, playing, video

S = 1_000_000
CAP = 360  # [viewer] transcode_max_height in these tests: 1280x720 sources are shown at 640x360


def test_the_picture_is_capped_keeping_its_aspect_and_never_enlarged():
    assert out_size(1920, 1080, 720) == (1280, 720)
    assert out_size(1280, 720, 720) == (1280, 720)
    assert out_size(640, 360, 720) == (640, 360)       # never up
    assert out_size(2560, 1440, 360) == (640, 360)
    assert out_size(1000, 750, 480) == (640, 480)
    assert out_size(1920, 1080, 500) == (888, 500)      # even sides (4:2:0)
    assert ViewerConfig().transcode_max_height == 720


def test_transcode_max_height_config(tmp_path):
    from edged.config import load_config

    cfg = load_config(write(tmp_path, MINIMAL + "\n[viewer]\ntranscode_max_height = 480\n"))
    assert cfg.viewer.transcode_max_height == 480
    for value in ("100", "4320", '"720p"', "true"):
        err = error_for(tmp_path, MINIMAL + f"\n[viewer]\ntranscode_max_height = {value}\n")
        assert err.field == "viewer.transcode_max_height", value


@pytest.fixture(scope="module")
def hevc(tmp_path_factory):
    d = tmp_path_factory.mktemp("hevc")
    return make_clip(d / "clips", width=1280, height=720, fps=20, gop=20, seconds=10, bitrate="1500k", codec="h265")


def test_h265_becomes_h264_key_frame_for_key_frame_with_the_same_times(hevc):
    with av.open(str(clip_mp4(hevc))) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "hevc"
        recode = ToH264(v, CAP)
        src, out = [], []
        for raw in c.demux(v):
            if raw.size:
                src.append((raw.pts, raw.is_keyframe))
                out += recode.feed(raw)
    assert (recode.width, recode.height) == (640, 360)
    assert [(p.pts, p.is_keyframe) for p in out] == src  # one packet per frame, same times, same key frames
    assert all(p.dts == p.pts for p in out)
    assert all(has_parameter_sets(bytes(p)) for p in out if p.is_keyframe)  # a browser can start at any
    dec = av.CodecContext.create("h264", "r")
    frames = [f for p in out for f in dec.decode(p)] + dec.decode(None)
    assert len(frames) == len(src) and (frames[0].width, frames[0].height) == (640, 360)


def test_playback_of_h265_segments_reads_h264_from_the_first_key_frame_in_the_range(tmp_path, hevc):
    t0 = 1_700_000_000 * S
    rows = write_segments(tmp_path / "data", "cam", clip_mp4(hevc), [(t0, 8), (t0 + 10 * S, 6)], segment_s=3)
    start, end = t0 + 2_500_000, t0 + 12_200_000
    reader = RangeReader(pieces_of(tmp_path / "data", [{**r, "state": "complete"} for r in rows], start, end),
                         start, end, CAP)
    assert reader.seek(start) == t0 + 3 * S  # the key frame at 2 s is before the range: not shown
    packets = []
    while batch := reader.read():
        packets += batch
    times = [d for d, _p, _pkt in packets]
    assert times == sorted(times) and min(times) >= start and max(times) < end
    assert not [t for t in times if t0 + 8 * S <= t < t0 + 10 * S]  # the hole
    assert len(times) == 5 * 20 + 44  # as for H.264 (tests/test_viewer.py): 3.00-7.95 s, 10.00-12.15 s
    first = packets[0][2]
    assert first.is_keyframe and has_parameter_sets(bytes(first))
    frame = av.CodecContext.create("h264", "r").decode(first)[0]
    assert (frame.width, frame.height) == (640, 360)
    assert reader.seek(t0 + 11_300_000) == t0 + 11 * S  # seeks land on the source's key frames
    reader.close()


# --- a real browser against the real daemon -------------------------------------------------

STATS_JS = """async () => {
    const out = {frames: 0, codec: null, width: 0};
    if (!edged.pc) return out;
    const stats = await edged.pc.getStats();
    const codecs = {};
    stats.forEach((s) => { if (s.type === "codec") codecs[s.id] = s.mimeType; });
    stats.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") {
            out.frames = s.framesDecoded || 0; out.codec = codecs[s.codecId] || null; out.width = s.frameWidth || 0;
        }
    });
    return out;
}"""


def decoded(page, what: str, at_least: int = 20) -> dict:
    """The browser's own count of decoded frames (WebRTC getStats), and the codec it decoded."""
    return wait_for(lambda: (s := page.evaluate(STATS_JS))["frames"] >= at_least and s, 30, f"{what}: frames decoded")


class Site:
    """A daemon with the viewer on: an H.265 camera (1280x720) and an H.264 one (1280x720),
    the H.265 camera's footage of an hour ago, a grant to watch it, and one headless Chromium."""

    def __init__(self, tmp: Path, hevc):
        from tests.support.people import People

        plain = make_clip(tmp / "clips", width=1280, height=720, fps=20, gop=20, seconds=10, bitrate="1500k")
        self.rtsp = RtspServer({"hevc": hevc.spec(), "plain": plain.spec()}).start()
        data = tmp / "data"
        data.mkdir()
        self.t0 = (SYSTEM.now_us() - 3600 * S) // S * S
        write_segments(data, "hevc", clip_mp4(hevc), [(self.t0, 8)], segment_s=3)
        self.port = free_port()
        cfg = write_config(tmp / "edged.toml", data, [{"id": "hevc", "url": self.rtsp.url("hevc")},
                                                      {"id": "plain", "url": self.rtsp.url("plain")}],
                           tables={"viewer": {"enabled": True, "listen": f"127.0.0.1:{self.port}",
                                              "transcode_max_height": CAP},
                                   "health": {"sample_interval": "0s"}})
        self.base = f"http://127.0.0.1:{self.port}"
        self.daemon = Daemon(cfg, data, tmp / "edged.log").start()
        self.pw = self.browser = None
        try:
            wait_for(lambda: "web viewer listening" in self.daemon.log, 30, "the web viewer")
            people = People(cfg, tmp)
            people.add("vera", "viewer")
            people.add("carl", "custodian")
            people.add("adam", "approver")
            self.grant_from, self.grant_to = self.t0 + 1 * S, self.t0 + 7 * S
            r = people.as_("vera").ctl("request", "file", "--kind", "internal", "--category", "lost-property",
                                       "--reason", "a lost wallet at the counter", "--camera", "hevc",
                                       "--from", iso(self.grant_from), "--to", iso(self.grant_to),
                                       "--requester", "Bob Citizen", "--org", "Front desk", "--json")
            assert r.returncode == 0, r.stderr
            request = json.loads(r.stdout)
            r = people.as_("adam").ctl("request", "approve", str(request["id"]), "--reason", "necessary", "--json")
            assert r.returncode == 0, r.stderr
            self.grant = json.loads(r.stdout)["grant"]
            self.pw, self.browser = launch()
        except BaseException:
            self.close()
            raise

    def audit(self, action: str, actor: str | None = None) -> list[dict]:
        from tests.support.catalog import audit_rows

        return [{**r, "detail": json.loads(r["detail"])} for r in audit_rows(self.daemon, action)
                if actor is None or r["actor"] == actor]

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
        if self.pw is not None:
            self.pw.stop()
        if self.daemon.proc is not None:
            self.daemon.stop()
        self.rtsp.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory, hevc):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium-headless-shell is needed for the viewer tests: scripts/bootstrap --test")
    s = Site(tmp_path_factory.mktemp("viewer-h265"), hevc)
    yield s
    s.close()


def test_an_h265_camera_plays_live_as_h264_capped_and_an_h264_camera_is_untouched(site):
    page = login_page(site.browser, site.base, "vera")
    page.click("button[data-camera=hevc]")
    playing(page, "the H.265 camera's live view")
    stats = decoded(page, "the H.265 camera's live view")
    assert stats["codec"] == "video/H264"
    assert (video(page, "videoWidth"), video(page, "videoHeight")) == (640, CAP)  # 1280x720 capped
    assert len(media_workers(site.daemon.proc.pid)) == 1  # transcoded in the media worker, not the daemon
    page.click("#stop")
    wait_for(lambda: site.audit("live.stop", "vera"), 10, "the stop record")
    wait_for(lambda: not media_workers(site.daemon.proc.pid), 15, "the worker ends with the view")

    page.click("button[data-camera=plain]")  # H.264: relayed as it comes, whatever the cap
    playing(page, "the H.264 camera's live view")
    assert decoded(page, "the H.264 camera's live view")["codec"] == "video/H264"
    assert (video(page, "videoWidth"), video(page, "videoHeight")) == (1280, 720)
    page.click("#stop")
    wait_for(lambda: len(site.audit("live.stop", "vera")) == 2, 10, "the second stop record")
    page.context.close()


def test_an_h265_camera_plays_under_a_grant(site):
    g = site.grant
    page = login_page(site.browser, site.base, "carl")
    page.goto(site.base + "/playback")
    page.wait_for_selector("body[data-ready='1']")
    page.fill("#grant", str(g["id"]))
    page.click("#lookup button")
    page.wait_for_selector("#start", state="visible")
    page.click("#start")
    page.wait_for_selector("#controls", state="visible")
    playing(page, "the H.265 playback")
    stats = decoded(page, "the H.265 playback", at_least=60)  # 3 s of the 6 s range through the decoder
    assert stats["codec"] == "video/H264"
    assert (video(page, "videoWidth"), video(page, "videoHeight")) == (640, CAP)
    wait_for(lambda: page.evaluate("edged.playback.state") == "ended", 30, "the end of the granted range")
    stop = wait_for(lambda: site.audit("playback.stop", "carl"), 10, "the playback's stop record")[0]["detail"]
    assert stop["reason"] == "end of the granted range" and stop["camera"] == "hevc"
    assert g["from_us"] <= stop["shown_from_us"] and stop["shown_to_us"] < g["to_us"]
    assert stop["shown_to_us"] >= g["to_us"] - S // 10  # played to the last frame before the end
    assert len(site.audit("grant.use", "carl")) == 1
    page.context.close()
