"""The playback's scrub timeline (issue 42 item 6, design/0114): the grant's range as bands and
slots (edged/viewer/scrub.py, pure), what a thumbnail read may see, and the key frame decoded
to a small JPEG from a real fragmented MP4 (edged/viewer/thumb_read.py, as the media worker
runs it). The page, the worker and the audit record on a real daemon: tests/test_desk_sites.py."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import av
import pytest

from edged.viewer.scrub import MIN_SLOT_US, SLOTS, jump, moment_text, parse_moment, slot_bounds, slot_count, \
    slot_pieces, strip, thumb_refusal
from edged.viewer.thumb_read import keyframe_jpeg

S = 1_000_000
T0 = 1_700_000_000 * S


def seg(a: float, b: float | None, source: str | None = None, state: str = "complete", camera: str = "c1"):
    return {"camera": camera, "start_us": T0 + int(a * S), "end_us": None if b is None else T0 + int(b * S),
            "state": state, "source": source, "path": f"{a}.mp4"}


@pytest.mark.parametrize("seconds, slots", [(1, 1), (3, 1), (4, 2), (47, 23), (48, 24), (3600, SLOTS)])
def test_a_short_grant_has_fewer_slots_never_two_in_one_segment(seconds, slots):
    assert slot_count(T0, T0 + seconds * S) == slots
    if slots > 1:
        a, b = slot_bounds(T0, T0 + seconds * S, 0)
        assert b - a >= MIN_SLOT_US


def test_the_slots_tile_the_range_and_there_are_no_others():
    frm, to = T0, T0 + 600 * S + 7
    bounds = [slot_bounds(frm, to, i) for i in range(slot_count(frm, to))]
    assert bounds[0][0] == frm and bounds[-1][1] == to
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
    assert slot_bounds(frm, to, -1) is None and slot_bounds(frm, to, SLOTS) is None


def test_the_bands_say_where_the_footage_came_from_and_what_is_missing():
    rows = [seg(0, 2), seg(2, 3.96), seg(4, 6, "backfilled"), seg(6, 8, "backfilled"), seg(20, 22), seg(22, 24),
            seg(24, 26, state="missing"), seg(30, None), seg(40, 42, camera="c2"), seg(44, 46), seg(47.5, 49)]
    gaps = [{"camera": "c1", "from_us": T0 + 8 * S, "to_us": T0 + 12 * S, "reason": "outage"},
            {"camera": "c2", "from_us": T0, "to_us": T0 + 50 * S, "reason": "other camera"}]
    standins = [{"box": "b1", "cameras": ["c1"], "started_us": T0 + 19 * S, "ended_us": T0 + 23 * S}]
    bands = [(b["kind"], (b["from_us"] - T0) / S, (b["to_us"] - T0) / S)
             for b in strip("c1", T0 - 5 * S, T0 + 50 * S, rows, gaps, standins)]
    assert bands == [("none", -5, 0), ("footage", 0, 3.96), ("backfilled", 4, 8), ("gap", 8, 12), ("none", 12, 20),
                     ("stood-in", 20, 24), ("none", 24, 44), ("footage", 44, 46), ("none", 46, 47.5),
                     ("footage", 47.5, 49), ("none", 49, 50)]


def test_a_slot_reads_only_the_footage_that_meets_it():
    rows = [seg(0, 2), seg(2, 4), seg(4, 6, state="missing"), seg(6, None)]
    assert [r["path"] for r in slot_pieces(rows, T0 + int(1.5 * S), T0 + 5 * S)] == ["0.mp4", "2.mp4"]
    assert slot_pieces(rows, T0 + 4 * S, T0 + 6 * S) == []


GRANT = {"id": 7, "cameras": ["c1", "c2"], "from_us": T0, "to_us": T0 + 600 * S}


@pytest.mark.parametrize("camera, slot, now, words", [
    ("c1", 0, T0, None), ("c2", SLOTS - 1, T0, None),
    ("c3", 0, T0, "camera c3 is not in grant 7"),
    ("c1", SLOTS, T0, "outside grant 7"), ("c1", -1, T0, "outside grant 7"),
    ("c1", 0, T0 + 900 * S, "the viewing is over"),
])
def test_a_thumbnail_is_refused_as_a_segment_would_be(camera, slot, now, words):
    refused = thumb_refusal(GRANT, camera, slot, now, deadline_us=T0 + 900 * S)
    assert (refused is None) if words is None else (words in (refused or "")), refused


# going to a moment typed or picked in the site's calendar (design/0113's amendment) -----------------
TAIPEI = timezone(timedelta(hours=8))
# grant 9: 115/11/24 14:30:20 to 14:32:10, Taipei time
JFROM = int(datetime(2026, 11, 24, 14, 30, 20, tzinfo=TAIPEI).timestamp()) * S
JGRANT = {"id": 9, "cameras": ["c1"], "from_us": JFROM, "to_us": JFROM + 110 * S}


@pytest.mark.parametrize("typed, moment", [
    ("115/11/24 14:30", (datetime(2026, 11, 24, 14, 30), 60)),
    ("115/11/24 14:30:05", (datetime(2026, 11, 24, 14, 30, 5), 1)),
    ("民國115年11月24日 9:05:59", (datetime(2026, 11, 24, 9, 5, 59), 1)),
    ("2026-11-24T14:30:05", (datetime(2026, 11, 24, 14, 30, 5), 1)),
    ("  115/11/24 14：30：05 ", (datetime(2026, 11, 24, 14, 30, 5), 1)),
    ("115/11/24 14:30:60", None), ("115/11/24", None), ("115/02/30 14:30", None), ("14:30:05", None), ("", None),
])
def test_a_moment_is_read_as_the_desk_reads_a_date_to_the_second_if_typed(typed, moment):
    assert parse_moment(typed) == moment


@pytest.mark.parametrize("typed, calendar, at, text", [
    # inside: to the second, in either calendar, shown back in the person's
    ("115/11/24 14:31:00", "roc", JFROM + 40 * S, "115/11/24 14:31:00"),
    ("2026-11-24 14:31:00", "roc", JFROM + 40 * S, "115/11/24 14:31:00"),
    ("115/11/24 14:31:00", "gregorian", JFROM + 40 * S, "2026-11-24 14:31:00"),
    # a minute that meets the range goes to its first moment inside it (the start is 14:30:20)
    ("115/11/24 14:30", "roc", JFROM, "115/11/24 14:30:20"),
    ("115/11/24 14:32", "roc", JFROM + 100 * S, "115/11/24 14:32:00"),
    ("115/11/24 14:30:20", "roc", JFROM, "115/11/24 14:30:20"),
    ("115/11/24 14:32:09", "roc", JFROM + 109 * S, "115/11/24 14:32:09"),
])
def test_a_moment_in_the_grant_is_gone_to_and_written_back_in_the_persons_calendar(typed, calendar, at, text):
    went = jump(typed, JGRANT, TAIPEI, calendar)
    assert (went.at_us, went.text, went.refusal) == (at, text, None)
    assert jump(went.text, JGRANT, TAIPEI, calendar).at_us == at, "what is shown reads back to the same moment"


@pytest.mark.parametrize("typed, words", [
    ("115/11/24 14:30:19", "outside grant 9, which covers 115/11/24 14:30:20 to 115/11/24 14:32:10"),
    ("115/11/24 14:32:10", "outside grant 9"),   # the end is not in the range
    ("115/11/24 14:29", "outside grant 9"), ("114/11/24 14:31", "outside grant 9"),
    ("115/11/24 14:33", "outside grant 9"),
    ("tomorrow", "tomorrow is not a date and time: type one as 115/11/24 14:30:05"),
    ("115/13/01 14:30", "is not a date and time"),
])
def test_a_moment_outside_the_grant_or_not_a_moment_is_refused_in_words(typed, words):
    went = jump(typed, JGRANT, TAIPEI, "roc")
    assert went.at_us is None and words in (went.refusal or ""), went


def test_the_grant_start_is_written_in_the_site_zone_and_calendar():
    assert moment_text(JFROM, TAIPEI, "roc") == "115/11/24 14:30:20"
    assert moment_text(JFROM, timezone.utc, "gregorian") == "2026-11-24 06:30:20"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """6 s at 10 fps, a key frame every second (pts 0.0, 1.0, ... with no B-frames), fragmented."""
    path = tmp_path_factory.mktemp("clip") / "seg.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=10", "-t", "6",
                    "-c:v", "libx264", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p",
                    "-movflags", "frag_keyframe+empty_moov+default_base_moof", str(path)], check=True)
    return path


@pytest.mark.process  # ffmpeg encodes the clip (design/0473)
def test_the_slots_key_frame_is_a_small_jpeg_and_nothing_outside_the_slot(clip, tmp_path):
    piece = [[str(clip), T0, T0 + 6 * S]]
    jpeg = keyframe_jpeg(piece, T0 + int(2.5 * S), T0 + int(3.5 * S), 160)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    (tmp_path / "t.jpg").write_bytes(jpeg)
    with av.open(str(tmp_path / "t.jpg")) as c:
        frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (160, 90)
    # a slot with no key frame in it gives nothing, not the key frame before or after it
    assert keyframe_jpeg(piece, T0 + int(3.1 * S), T0 + int(3.9 * S), 160) is None
    assert keyframe_jpeg(piece, T0 + 7 * S, T0 + 8 * S, 160) is None


@pytest.mark.process  # ffmpeg encodes the clip (design/0473)
def test_a_broken_segment_gives_no_thumbnail_and_the_next_one_is_read(clip, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(clip.read_bytes()[:3000])
    assert keyframe_jpeg([[str(bad), T0, T0 + 6 * S], [str(clip), T0 + 6 * S, T0 + 12 * S]],
                         T0 + 6 * S, T0 + 12 * S, 160) is not None


def test_the_playback_page_asks_for_the_moment_in_the_pages_calendar_with_the_desks_picker():
    from pathlib import Path

    from edged.viewer.texts import page_html

    source = (Path(__file__).parent.parent / "edged/viewer/static/playback.html").read_text()
    zh, en = page_html(source, "zh-TW", "站", "/playback"), page_html(source, "en", "Site", "/playback")
    assert 'data-calendar="roc" placeholder="115/11/24 14:30:05"' in zh and "跳至日期時間" in zh
    assert "data-picker=\"{&quot;open&quot;: &quot;日曆&quot;" in zh, "the picker's words in zh-TW"
    assert 'data-calendar="gregorian" placeholder="2026-11-24 14:30:05"' in en
    assert '<script src="/static/desk.js" defer></script>' in zh, "the desk's one picker, not a second"
