"""Sound in live view (design/0087): a camera whose `audio_in_viewer` is on is heard in the
browser, its G.711 or AAC tone decoded in the media worker and sent as Opus beside the H.264
picture; a camera with the switch off (the default) sends no sound at all.

A real daemon, real RTSP cameras (tests/support/rtsp_server.py: `clipsnd:` a G.711 sine at
0.25 of full scale, `clipav:` a 440 Hz AAC sine at ffmpeg's default 1/8), headless Chromium.
Live view only: supervised playback plays no sound yet (design/0087).
The level is Chromium's own measure of what it received (getStats inbound-rtp audioLevel).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, launch, login_page
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.daemon import Daemon, wait_for, write_config

STATS = """async () => {
  const pc = window.edged.pc;
  if (!pc) return null;
  for (const r of (await pc.getStats()).values())
    if (r.type === "inbound-rtp" && r.kind === "audio")
      return {packets: r.packetsReceived || 0, level: r.audioLevel || 0, energy: r.totalAudioEnergy || 0,
              codec: r.codecId ? (await pc.getStats()).get(r.codecId).mimeType : null};
  return null;
}"""


class Site:
    def __init__(self, tmp: Path):
        from tests.support.people import People

        clip = make_clip(tmp / "clips", fps=20, gop=20, seconds=10, audio=True)
        self.rtsp = RtspServer({"g711": f"clipsnd:{clip.video},pcma:440@20", "aac": clip.spec(),
                                "quiet": f"clipsnd:{clip.video},pcmu:440@20"}).start()
        data = tmp / "data"
        data.mkdir()
        self.port = free_port()
        cfg = write_config(tmp / "edged.toml", data, [
            {"id": "g711", "url": self.rtsp.url("g711"), "audio_in_viewer": True},
            {"id": "aac", "url": self.rtsp.url("aac"), "audio_in_viewer": True},
            {"id": "quiet", "url": self.rtsp.url("quiet")},  # audio_in_viewer off: the default
        ], tables={"viewer": {"enabled": True, "listen": f"127.0.0.1:{self.port}"}})
        self.base = f"http://127.0.0.1:{self.port}"
        self.daemon = Daemon(cfg, data, tmp / "edged.log").start()
        self.pw = self.browser = None
        try:
            wait_for(lambda: "web viewer listening" in self.daemon.log, 30, "the web viewer")
            People(cfg, tmp).add("vera", "viewer")
            self.pw, self.browser = launch()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
        if self.pw is not None:
            self.pw.stop()
        if self.daemon.proc is not None:
            self.daemon.stop()
        self.rtsp.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the viewer tests: scripts/bootstrap --test")
    s = Site(tmp_path_factory.mktemp("viewer_audio"))
    yield s
    s.close()


def watch(site: Site, camera: str):
    page = login_page(site.browser, site.base, "vera")
    page.click(f"button[data-camera={camera}]")
    wait_for(lambda: page.evaluate("document.getElementById('video').currentTime") > 1.0, 30,
             f"the live view of {camera} to play")
    return page


@pytest.mark.parametrize("camera, tone", [("g711", 0.25), ("aac", 0.125)])
def test_a_camera_with_audio_in_viewer_is_heard_at_its_tone_level(site, camera, tone):
    page = watch(site, camera)
    try:
        assert page.evaluate("document.getElementById('video').srcObject.getAudioTracks().length") == 1
        assert page.evaluate("document.getElementById('video').muted") is False
        assert "sound on" in page.text_content("#overlay")
        first = wait_for(lambda: (s := page.evaluate(STATS)) and s["packets"] > 0 and s["energy"] > 0 and s,
                         20, f"{camera}'s sound to arrive")
        assert first["codec"] == "audio/opus", first
        # Chromium's level of the samples it received: the tone's, not silence, not clipped
        levels = [wait_for(lambda: (s := page.evaluate(STATS)) and s["level"] > 0 and s["level"], 10,
                           "a level") for _ in range(3)]
        rms = tone / math.sqrt(2)  # a sine's RMS: what Chromium's audioLevel measured (0.18, 0.09)
        assert all(abs(lv - rms) <= 0.2 * rms for lv in levels), (camera, levels)
        later = wait_for(lambda: (s := page.evaluate(STATS)) and s["packets"] > first["packets"] + 50 and s, 10,
                         f"{camera}'s sound to go on")
        assert later["energy"] > first["energy"]
    finally:
        page.context.close()


def test_sound_is_off_by_default(site):
    page = watch(site, "quiet")
    try:
        assert page.evaluate("document.getElementById('video').srcObject.getAudioTracks().length") == 0
        assert "sound on" not in page.text_content("#overlay")
        assert page.evaluate("document.getElementById('video').muted") is True
        stats = page.evaluate(STATS)
        assert stats is None or stats["packets"] == 0, stats
    finally:
        page.context.close()
