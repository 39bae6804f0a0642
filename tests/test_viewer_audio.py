"""Sound in live view (design/0087): a camera whose `audio_in_viewer` is on is heard in the
browser, its G.711 or AAC tone decoded in the media worker and sent as Opus beside the H.264
picture; a camera with the switch off (the default) sends no sound at all.

A real daemon, real RTSP cameras (tests/support/rtsp_server.py: `clipsnd:` a G.711 sine at
0.25 of full scale, `clipav:` a 440 Hz AAC sine at ffmpeg's default 1/8), headless Chromium.
Supervised playback plays the recorded sound the same way, paced with its picture.
The level is Chromium's own measure of what it received (getStats inbound-rtp audioLevel).
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest

from tests.support.browser import CHROMIUM, launch, login_page, view_end_s
from storage.time.clock import SYSTEM
from tests.support.cameras import RtspServer, free_port, make_clip
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.footage import clip_mp4, write_segments

S = 1_000_000


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / S, timezone.utc).isoformat()


STATS = """async () => {
  const pc = window.edged.pc;
  if (!pc) return null;
  for (const r of (await pc.getStats()).values())
    if (r.type === "inbound-rtp" && r.kind === "audio")
      return {packets: r.packetsReceived || 0, level: r.audioLevel || 0, energy: r.totalAudioEnergy || 0,
              duration: r.totalSamplesDuration || 0, samples: r.totalSamplesReceived || 0,
              concealed: r.concealedSamples || 0,
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
        # recorded an hour ago with its AAC tone (as recorder/audio.py keeps a camera's sound)
        self.t0 = (SYSTEM.now_us() - 3600 * S) // S * S
        for cam in ("aac", "quiet"):
            write_segments(data, cam, clip_mp4(clip), [(self.t0, 60)], segment_s=3)
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
            people = People(cfg, tmp)
            people.add("vera", "viewer")
            people.add("carl", "custodian")
            people.add("adam", "approver")
            r = people.as_("vera").ctl("request", "file", "--kind", "internal", "--category", "lost-property",
                                       "--reason", "what was said at the counter", "--camera", "aac",
                                       "--camera", "quiet", "--from", iso(self.t0 + 2 * S),
                                       "--to", iso(self.t0 + 58 * S), "--requester", "Bob Citizen",
                                       "--org", "Front desk", "--json")
            assert r.returncode == 0, r.stderr
            r = people.as_("adam").ctl("request", "approve", str(json.loads(r.stdout)["id"]), "--reason",
                                       "necessary", "--json")
            assert r.returncode == 0, r.stderr
            self.grant = json.loads(r.stdout)["grant"]
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
        pytest.fail("Debian's chromium-headless-shell is needed for the viewer tests: scripts/bootstrap --test")
    s = Site(tmp_path_factory.mktemp("viewer_audio"))
    yield s
    s.close()


def received_level(page, seconds: float = 20) -> float:
    """The RMS level (sqrt of Chromium's energy over duration) of half a second of sound it
    received: a window in which at most a twentieth was concealed. A starved box delivers
    packets late and Chromium fills the gap with fading concealment, which is the load's
    level, not the sound's (the instantaneous audioLevel read it as 0.07 or 0.004)."""
    def window():
        a = page.evaluate(STATS)
        b = wait_for(lambda: (s := page.evaluate(STATS)) and s["packets"] >= a["packets"] + 25 and s, 10,
                     "half a second of sound")
        took, hidden = b["samples"] - a["samples"], b["concealed"] - a["concealed"]
        if took <= 0 or hidden > took / 20 or b["duration"] <= a["duration"]:
            return None
        return math.sqrt((b["energy"] - a["energy"]) / (b["duration"] - a["duration"])) or None
    return wait_for(window, seconds, "half a second of sound received without concealment")


def heard_at(page, tone: float, what: str) -> None:
    """The page has one audio track whose level (Chromium's inbound-rtp audioLevel) is the tone's."""
    assert page.evaluate("document.getElementById('video').srcObject.getAudioTracks().length") == 1
    assert page.evaluate("document.getElementById('video').muted") is False
    assert "sound on" in page.text_content("#overlay")
    first = wait_for(lambda: (s := page.evaluate(STATS)) and s["packets"] > 0 and s["energy"] > 0 and s,
                     20, f"{what}'s sound to arrive")
    assert first["codec"] == "audio/opus", first
    # Chromium's level of the samples it received: the tone's, not silence, not clipped
    levels = [received_level(page) for _ in range(3)]
    rms = tone / math.sqrt(2)  # a sine's RMS: what Chromium's audioLevel measured (0.18, 0.09)
    # the middle of three half-second windows: one window on a busy box read 0.107 against 0.088 (Opus' and
    # concealment's ripple); silence or a clipped tone moves all three
    assert abs(statistics.median(levels) - rms) <= 0.2 * rms, (what, levels)
    later = wait_for(lambda: (s := page.evaluate(STATS)) and s["packets"] > first["packets"] + 50 and s, 10,
                     f"{what}'s sound to go on")
    assert later["energy"] > first["energy"]
    # the person's mute switch and volume (issue 56): mute, then a volume that turns it on again
    assert page.is_visible(".sound .sound-mute")   # the switch is there while sound comes
    page.click(".sound .sound-mute")
    assert page.evaluate("document.getElementById('video').muted") is True
    page.fill(".sound .sound-volume", "0.5")
    assert page.evaluate("[document.getElementById('video').muted, document.getElementById('video').volume]") == \
        [False, 0.5]
    page.fill(".sound .sound-volume", "1")   # as it was: the next page's level is measured at full volume


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
        heard_at(page, tone, f"the live view of {camera}")
    finally:
        page.context.close()


def test_turning_the_switch_off_by_reload_ends_the_live_views_that_carry_sound(site):
    """A site that turns a camera's sound off (SIGHUP) stops it being heard at once, as a camera
    pointed elsewhere does; watched again, it comes without sound."""
    import signal as sig

    from tests.support.catalog import audit_rows

    config = site.daemon.config
    before = config.read_text()
    def settled():  # the earlier tests' views, closed with their pages, are on the record first (a view whose page
        # went before its stop beacon ends when the daemon finds it gone: view_end_s)
        starts, ends = len(audit_rows(site.daemon, "live.start")), len(audit_rows(site.daemon, "live.stop"))
        return (ends,) if starts == ends else None

    (stops,) = wait_for(settled, view_end_s(), "the earlier views' ends on the record")
    page = watch(site, "g711")
    try:
        wait_for(lambda: (s := page.evaluate(STATS)) and s["packets"] > 0, 20, "g711's sound")
        switched = before.replace('id = "g711"\n', 'id = "g711"\n', 1).replace(
            'audio_in_viewer = true\n', 'audio_in_viewer = false\n', 1)
        assert switched != before
        config.write_text(switched)
        site.daemon.signal(sig.SIGHUP)
        ended = wait_for(lambda: [d for r in audit_rows(site.daemon, "live.stop")[stops:]
                                  if (d := json.loads(r["detail"]))["camera"] == "g711"], 15, "the view to end")
        assert [d["reason"] for d in ended] == ["camera settings changed"]
        assert "camera g711: settings changed" not in site.daemon.log  # the recorder goes on: no gap
        page.click("button[data-camera=g711]")
        wait_for(lambda: page.evaluate("document.getElementById('video').currentTime") > 1.0, 30, "g711 again")
        assert page.evaluate("document.getElementById('video').srcObject.getAudioTracks().length") == 0
        assert "sound on" not in page.text_content("#overlay")
    finally:
        config.write_text(before)
        site.daemon.signal(sig.SIGHUP)
        page.context.close()


def test_sound_is_off_by_default(site):
    page = watch(site, "quiet")
    try:
        assert page.evaluate("document.getElementById('video').srcObject.getAudioTracks().length") == 0
        assert "sound on" not in page.text_content("#overlay")
        assert page.evaluate("document.getElementById('video').muted") is True
        # no sound switch on a camera that sends none: its click would unmute nothing (issue 77)
        assert not page.is_visible(".sound .sound-mute")
        stats = page.evaluate(STATS)
        assert stats is None or stats["packets"] == 0, stats
    finally:
        page.context.close()


def test_supervised_playback_plays_the_recorded_sound_of_a_camera_that_may_be_heard(site):
    page = login_page(site.browser, site.base, "carl")
    try:
        page.goto(site.base + "/playback")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#grant", str(site.grant["id"]))
        page.click("#lookup button")
        page.wait_for_selector("#start", state="visible")
        page.click("#start")
        page.wait_for_selector("#controls", state="visible")
        wait_for(lambda: page.evaluate("document.getElementById('video').currentTime") > 1.0, 30, "the playback")
        heard_at(page, 0.125, "the playback of aac")  # the recorded AAC tone
        # the grant's other camera may not be heard: the overlay stops saying so, no sound comes
        page.select_option("#switch", "quiet")
        wait_for(lambda: "sound on" not in page.text_content("#overlay"), 10, "the overlay to drop 'sound on'")
        assert not page.is_visible(".sound .sound-mute")   # nor its sound switch (issue 77)
        before = page.evaluate(STATS)["packets"]
        t = page.evaluate("document.getElementById('video').currentTime")
        wait_for(lambda: page.evaluate("document.getElementById('video').currentTime") > t + 1.5, 10,
                 "quiet's footage to play")
        assert page.evaluate(STATS)["packets"] - before < 10  # at most what was under way at the switch
    finally:
        page.context.close()


def g711_source(clip) -> Path:
    """The clip's picture with its tone as a G.711 (A-law) camera sends it, 8 kHz."""
    out = clip.video.with_suffix(".alaw.mkv")
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-framerate", str(clip.fps), "-i", str(clip.video),
                    "-i", str(clip.audio), "-c:v", "copy", "-c:a", "pcm_alaw", "-ar", "8000", "-shortest", str(out)],
                   check=True, timeout=120)
    return out


@pytest.mark.parametrize("codec, rate", [("aac", 16000), ("pcm_alaw", 8000)])
def test_recorded_sound_is_read_only_inside_the_range(tmp_path, codec, rate):
    """The range reader (in the media worker) keeps no sound from outside the grant, and the sound
    it reads is the tone (16-bit mono at the recording's rate), about as long as the range: from
    AAC, and from G.711 as the segments keep it (design/0094: QuickTime's `alaw` entry)."""
    import numpy as np

    from edged.viewer.playback import RangeReader, pieces_of

    clip = make_clip(tmp_path / "clips", fps=20, gop=20, seconds=10, audio=True)
    t0 = (SYSTEM.now_us() - 3600 * S) // S * S
    source = clip_mp4(clip) if codec == "aac" else g711_source(clip)
    rows = write_segments(tmp_path / "data", "cam", source, [(t0, 10)], segment_s=3)
    with av.open(str(tmp_path / "data" / rows[0]["path"])) as c:
        assert c.streams.audio[0].codec_context.name == codec  # as the segment writer kept it
    lo, hi = t0 + 2_500_000, t0 + 7_500_000
    reader = RangeReader(pieces_of(tmp_path / "data", rows, lo, hi), lo, hi, audio=True)
    try:
        start = reader.seek(lo)
        assert start is not None and lo <= start
        sound = reader.take_sound()
        while batch := reader.read():
            assert batch
            sound += reader.take_sound()
    finally:
        reader.close()
    assert sound and all(lo <= wall < hi for wall, _rate, _pcm in sound)
    assert {r for _w, r, _p in sound} == {rate}
    pcm = np.frombuffer(b"".join(p for _w, _r, p in sound), dtype=np.int16)
    # from the first key frame inside the range to its end, less the tail the file stores after the
    # range's last picture (MP4 interleaving: measured 0.47 s of 4.5 s here)
    assert sound[0][0] == start
    assert (hi - start) / S - 0.6 <= len(pcm) / rate <= (hi - start) / S
    rms = math.sqrt(float(np.mean((pcm / 32768.0) ** 2)))
    assert abs(rms - 0.125 / math.sqrt(2)) < 0.02, rms
    silent = RangeReader(pieces_of(tmp_path / "data", rows, lo, hi), lo, hi)  # the switch off: no sound read
    try:
        silent.seek(lo)
        silent.read()
        assert silent.take_sound() == []
    finally:
        silent.close()


@pytest.mark.parametrize("rate, size", [(16000, 1024), (8000, 160), (44100, 1024), (48000, 1024)])
def test_a_cameras_sound_reaches_the_browser_as_one_opus_packet_per_timestamp(rate, size):
    """aiortc's Opus encoder stamps every packet of one frame with the frame's first timestamp:
    an AAC camera's 1,024-sample frames went out as three packets sharing one, and Chromium
    concealed 70 % of the sound (design/0472). Cut to 20 ms frames, every packet has its own
    timestamp, 20 ms after the last, and no sample is lost or repeated."""
    import numpy as np
    from aiortc.codecs.opus import OpusEncoder

    from edged.viewer.live import Pcm20

    pcm, encoder, stamps, sent = Pcm20(), OpusEncoder(), [], 0
    tone = (np.sin(np.arange(size * 60) * 2 * math.pi * 440 / rate) * 4000).astype(np.int16)
    for at in range(0, len(tone), size):
        for frame in pcm.frames(rate, tone[at:at + size].tobytes()):
            assert frame.sample_rate == rate and frame.pts == sent
            sent += frame.samples
            payloads, stamp = encoder.encode(frame)
            assert len(payloads) <= 1, (rate, len(payloads))
            stamps += [stamp] if payloads else []
    assert len(tone) - sent < rate // 50  # only the last part of a 20 ms frame waits for the next payload
    assert all(b - a == 960 for a, b in zip(stamps, stamps[1:])), stamps[:10]
