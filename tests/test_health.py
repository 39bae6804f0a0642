"""The pure health core: conditions, the quality floor, hysteresis, the inspection schedule
and checklist, and the [health]/[inspection] config tables. No disk, socket or clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from edged.rules import health, inspections
from edged.config.health import HealthConfig, InspectionConfig
from edged.config.values import ConfigError
from edged.config import load_config
from edged.i18n import N_, Msg, _, speaking, templates
from tests.support.configs import MINIMAL, camera_toml, error_for, write
from storage import alarm_kinds as kinds

CFG = HealthConfig()
CAMERA = camera_toml(id='"c"', url='"synthetic:"')


def load(tmp_path, text):
    return load_config(write(tmp_path, text))
NOON = 12 * 60
NIGHT = 2 * 60
GOOD_STATS = {"fps": 20.0, "width": 1920, "height": 1080, "audio": 1, "audio_packets": 80}
GOOD_IMAGE = {"luma": 110.0, "dark": 0.0, "bright": 0.01, "contrast": 50.0, "sharpness": 0.75, "colour": 40.0,
              "change": 0.15}


def view(stats=GOOD_STATS, image=GOOD_IMAGE, similarity=None, state="recording", audio_required=False, enabled=True):
    return health.CameraView(id="c", enabled=enabled, audio_required=audio_required, state=state, stats=stats,
                             image=image, similarity=similarity)


def present(v, minute=NOON):
    return set(health.conditions(v, CFG, minute)[0])


def test_a_healthy_camera_has_no_condition_and_meets_the_floor():
    assert present(view(audio_required=True, similarity=0.95)) == set()
    assert health.compliance(view(audio_required=True), CFG, NOON) == ("ok", [])


def test_a_camera_whose_picture_times_are_made_says_so():
    # design/0150: the recorder makes a camera's picture times while it stamps them alike or out of order
    assert kinds.CAMERA_TIMES.name in present(view(stats={**GOOD_STATS, "times_broken": True, "times_made": 80}))
    assert kinds.CAMERA_TIMES.name not in present(view(stats={**GOOD_STATS, "times_made": 80}))  # not this connection
    assert kinds.CAMERA_TIMES.name in health.conditions(view(), CFG, NOON)[1]


@pytest.mark.parametrize("change, kind", [
    ({"luma": 3.0, "contrast": 1.0, "sharpness": 0.0, "colour": 0.0}, kinds.VIDEO_DARK.name),
    ({"change": 0.0}, kinds.VIDEO_FROZEN.name),
    ({"luma": 40.0, "dark": 0.95}, kinds.VIDEO_DARK.name),
    ({"sharpness": 0.3}, kinds.VIDEO_BLURRED.name),
    ({"contrast": 2.0, "sharpness": 0.0, "change": 0.0, "colour": 0.0}, kinds.VIDEO_BLURRED.name),
    ({"bright": 0.9, "contrast": 1.0, "sharpness": 0.0, "change": 0.0, "colour": 0.0}, kinds.VIDEO_OVEREXPOSED.name),
    ({"colour": 0.5}, kinds.VIDEO_MONOCHROME.name),
])
def test_each_bad_picture_is_named(change, kind):
    assert present(view(image={**GOOD_IMAGE, **change})) == {kind}


def test_a_black_picture_is_dark_only_not_also_covered_frozen_or_monochrome():
    assert present(view(image={**GOOD_IMAGE, "luma": 0.0, "dark": 1.0, "contrast": 0.0, "sharpness": 0.0,
                               "colour": 0.0, "change": 0.0})) == {kinds.VIDEO_DARK.name}


def test_colour_is_only_expected_in_daylight():
    grey = view(image={**GOOD_IMAGE, "colour": 0.0})
    assert present(grey, NOON) == {kinds.VIDEO_MONOCHROME.name}
    assert present(grey, NIGHT) == set()
    assert kinds.VIDEO_MONOCHROME.name not in health.conditions(grey, CFG, NIGHT)[1], "not judged at night"


def test_quality_floor_reasons():
    v = view(stats={"fps": 5.0, "width": 640, "height": 480, "audio": 0}, audio_required=True)
    assert present(v) == {kinds.BELOW_RESOLUTION.name, kinds.BELOW_FPS.name, kinds.AUDIO_MISSING.name}
    verdict, reasons = health.compliance(v, CFG, NOON)
    assert verdict == "fail" and len(reasons) == 3 and "640x480" in reasons[0]
    assert health.compliance(view(stats=None), CFG, NOON)[0] == "unknown"


def test_a_declared_audio_stream_without_packets_is_missing_audio():
    assert present(view(stats={**GOOD_STATS, "audio_packets": 0}, audio_required=True)) == {kinds.AUDIO_MISSING.name}


def test_moved_needs_a_reference():
    assert present(view(similarity=0.1)) == {kinds.CAMERA_MOVED.name}
    assert kinds.CAMERA_MOVED.name not in health.conditions(view(), CFG, NOON)[1]


def test_nothing_is_judged_while_the_camera_is_not_recording():
    assert health.conditions(view(state="offline", image={**GOOD_IMAGE, "luma": 0.0}), CFG, NOON) == ({}, set())


def test_hysteresis_raises_after_and_clears_after():
    t = health.Track()
    t = health.step(t, True, 0, 30, 60)
    assert not t.active and t.since_us == 0
    t = health.step(t, True, 29, 30, 60)
    assert not t.active
    t = health.step(t, True, 30, 30, 60)
    assert t.active
    t = health.step(t, False, 40, 30, 60)
    t = health.step(t, None, 70, 30, 60)   # not judged: nothing moves
    assert t.active and t.since_us == 40
    t = health.step(t, True, 80, 30, 60)   # back: the clearing clock restarts
    assert t.active and t.since_us is None
    t = health.step(t, False, 90, 30, 60)
    t = health.step(t, False, 149, 30, 60)
    assert t.active
    assert not health.step(t, False, 150, 30, 60).active


def test_a_flapping_condition_never_raises():
    t = health.Track()
    for now in range(0, 300, 10):
        t = health.step(t, now % 20 == 0, now, 30, 60)
        assert not t.active


@pytest.mark.parametrize("enabled, state, degraded, want", [
    (False, "recording", False, "disabled"), (True, "recording", False, "recording"),
    (True, "recording", True, "degraded"), (True, "offline", False, "offline"), (True, "stopped", False, "offline"),
    (True, "connecting", False, "connecting"), (True, None, False, "connecting")])
def test_camera_state(enabled, state, degraded, want):
    assert health.camera_state(enabled, state, degraded) == want


# --- the schedule -------------------------------------------------------------------------
TZ = timezone(timedelta(hours=8))  # Taipei


def us(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000


def test_daily_at_the_window_start():
    cfg = InspectionConfig(schedule="daily", window=(9 * 60, 17 * 60))
    due = inspections.next_due(us(datetime(2026, 11, 21, 8, 0, tzinfo=TZ)), cfg, "s", TZ)
    assert due == us(datetime(2026, 11, 21, 9, 0, tzinfo=TZ))
    assert inspections.next_due(due, cfg, "s", TZ) == us(datetime(2026, 11, 22, 9, 0, tzinfo=TZ))


def test_weekly_random_time_stays_in_its_week_and_window_and_is_stable():
    cfg = InspectionConfig(schedule="weekly", window=(9 * 60, 17 * 60), random_time=True)
    after = us(datetime(2026, 11, 16, 0, 0, tzinfo=TZ))   # a Monday
    dues = []
    for _n in range(20):
        after = inspections.next_due(after, cfg, "land-office", TZ)
        dues.append(datetime.fromtimestamp(after / 1e6, TZ))
    for a, b in zip(dues, dues[1:]):
        assert a.isocalendar()[1] != b.isocalendar()[1], "one per week"
    assert all(9 <= d.hour < 17 for d in dues)
    assert len({d.weekday() for d in dues}) > 2 and len({d.hour for d in dues}) > 2, "the time varies"
    again = inspections.next_due(us(datetime(2026, 11, 16, 0, 0, tzinfo=TZ)), cfg, "land-office", TZ)
    assert datetime.fromtimestamp(again / 1e6, TZ) == dues[0], "the same after a restart"


def test_biweekly_is_every_other_week():
    cfg = InspectionConfig(schedule="biweekly")
    a = inspections.next_due(us(datetime(2026, 11, 21, tzinfo=TZ)), cfg, "s", TZ)
    b = inspections.next_due(a, cfg, "s", TZ)
    assert b - a == 14 * 86_400_000_000


def test_off_means_no_schedule():
    assert inspections.next_due(0, InspectionConfig(schedule="off"), "s", TZ) is None


def snap(**over):
    base = {"enabled": True, "audio_required": True, "state": "recording", "last_error": None,
            "stats": {**GOOD_STATS, "clock_skew_us": 300_000}, "image_fresh": True, "alarms": {},
            "last_segment_us": 990_000_000, "compliance": "ok", "reasons": [],
            "operators_login": {"ok": True, "detail": "custodian: lin 2026-03-02 09:00"},
            "host": inspections.host_running({})}
    return {**base, **over}


def test_host_item_is_the_recorder_hosts_faults():
    assert inspections.host_running({})["ok"] is True
    bad = inspections.host_running({kinds.STORAGE_LOST.name: "data disk gone", kinds.VIDEO_DARK.name: "dark"})
    assert bad["ok"] is False and "data disk gone" in bad["detail"] and "dark" not in bad["detail"]


def test_checklist_of_a_healthy_camera():
    items = inspections.checklist(snap(), 1_000_000_000, 60_000_000)
    assert set(items) == set(inspections.ITEMS)
    assert all(v["ok"] for v in items.values()), items
    assert inspections.anomalies(items) == ""


def test_checklist_names_what_is_wrong():
    items = inspections.checklist(snap(alarms={kinds.VIDEO_FROZEN.name: "picture frozen"}, compliance="fail",
                                       reasons=["resolution 640x480 is below the floor"],
                                       stats={**GOOD_STATS, "audio_packets": 0, "audio": 0}), 1_000_000_000, 60_000_000)
    assert {k for k, v in items.items() if v["ok"] is False} == {"picture", "audio", "quality"}
    assert "picture frozen" in inspections.anomalies(items)


def test_checklist_of_an_offline_camera():
    items = inspections.checklist(snap(state="offline", last_error="cannot connect: 401 Unauthorized"),
                                  1_000_000_000, 60_000_000)
    assert items["recording"]["ok"] is False and "401" in items["camera_login"]["detail"]
    assert inspections.checklist(snap(audio_required=False), 1_000_000_000, 60_000_000)["audio"]["ok"] is None


# --- config -------------------------------------------------------------------------------
def test_health_and_inspection_tables(tmp_path):
    cfg = load(tmp_path, MINIMAL + '[health]\nsample_interval = "5s"\ndark_luma = 30\ndaylight = "06:30-19:00"\n'
               '[inspection]\nschedule = "weekly"\nwindow = "10:00-12:00"\nrandom_time = true\n')
    assert cfg.health.sample_interval_us == 5_000_000 and cfg.health.dark_luma == 30
    assert cfg.health.daylight == (390, 1140) and cfg.health.min_width == 1280
    assert cfg.inspection.schedule == "weekly" and cfg.inspection.window == (600, 720) and cfg.inspection.random_time
    off = load(tmp_path, MINIMAL + '[health]\nsample_interval = "0s"\nraise_after = "0ms"\n')
    assert off.health.sample_interval_us == 0 and off.health.raise_after_us == 0
    assert cfg.health.sample_interval_max_us == 60_000_000  # the budget's longest (design/0078)
    fixed = load(tmp_path, MINIMAL + '[health]\nsample_interval = "2s"\nsample_interval_max = "2s"\n')
    assert fixed.health.sample_interval_max_us == fixed.health.sample_interval_us == 2_000_000


@pytest.mark.parametrize("text, field, words", [
    ('[health]\ndaylight = "19:00-06:00"\n', "health.daylight", "ends before it starts"),
    ('[health]\ndark_luma = 300\n', "health.dark_luma", "out of range"),
    ('[health]\nsample_interval = "200ms"\n', "health.sample_interval", "at least 1s"),
    ('[health]\nsample_interval_max = "0s"\n', "health.sample_interval_max", ""),
    ('[inspection]\nschedule = "monthly"\n', "inspection.schedule", "daily, weekly, biweekly, off"),
    ('[health]\nfrozen = 1\n', "health.frozen", "unknown key"),
])
def test_bad_health_settings_name_the_field(tmp_path, text, field, words):
    err = error_for(tmp_path, MINIMAL + text)
    assert err.field == field and words in err.message


def test_camera_inventory_and_audio_required(tmp_path):
    cfg = load(tmp_path, CAMERA + 'audio_required = true\nkind = "analogue"\npurpose = "counter"\nmanager = "Chen"\n')
    cam = cfg.cameras[0]
    assert cam.audio_required and cam.kind == "analogue" and cam.purpose == "counter" and cam.manager == "Chen"
    err = error_for(tmp_path, CAMERA + 'kind = "dome"\n')
    assert err.field == "cameras[0].kind"
    with pytest.raises(ConfigError):
        load(tmp_path, CAMERA + 'audio_required = true\naudio_expected = true\n')


def test_the_demo_camera_looks_alive_to_the_frozen_check():
    """The built-in demo must not raise video_frozen out of the box (it once did: a static
    pattern with a small moving box and a clock is what a frozen camera looks like)."""
    import numpy as np

    from recorder.imagecheck import changed_fraction
    from recorder.synthetic import background, parse_synthetic_url, render

    base = background(parse_synthetic_url("synthetic:"))
    grey = [render(base, n, 20, 1_795_000_000.0 + n / 20).mean(axis=2)[::4, ::4].astype(np.uint8) for n in (0, 200)]
    assert changed_fraction(grey[0], grey[1]) > CFG.frozen_change * 3


def test_the_demo_picture_drawn_into_its_kept_frame_is_the_one_rendered():
    """The demo camera draws each picture over the one frame it keeps (design/0525): frame after frame, its
    pixels are `render`'s, nothing of the last picture is left, and a frame whose rows are padded is drawn
    within them."""
    import av
    import numpy as np

    from recorder.synthetic import background, frame_pixels, render, render_into, SyntheticSpec

    for width, height in ((322, 242), (320, 240)):
        base = background(SyntheticSpec(width=width, height=height))
        frame = av.VideoFrame(width, height, "rgb24")
        pixels = frame_pixels(frame)
        assert pixels.shape == (height, width, 3) and np.shares_memory(pixels, np.frombuffer(memoryview(frame.planes[0]), np.uint8))
        for n in (0, 1, 77, 80):
            render_into(pixels, base, n, 20, 1_795_000_000.0 + n / 20)
            assert np.array_equal(frame.to_ndarray(), render(base, n, 20, 1_795_000_000.0 + n / 20))
        assert not np.array_equal(render(base, 1, 20, 1_795_000_000.0), render(base, 80, 20, 1_795_000_000.0))


def test_the_demo_clock_is_drawn_glyph_by_glyph_and_clipped_at_the_edge():
    """The clock's line is drawn from a cached mask (design/0518): each glyph `scale` times its 5x7 bits,
    6*scale columns apart, and a line wider than the picture is cut at its edge."""
    import numpy as np

    from recorder.synthetic import _GLYPHS, draw_text

    img = np.zeros((20, 40, 3), dtype=np.uint8)
    draw_text(img, "12:7", 1, 2, 2, (9, 8, 7))
    lit = (img == (9, 8, 7)).all(axis=2)
    want = np.zeros_like(lit)
    for i, ch in enumerate("12:"):  # "7" starts at column 37: its first 3 of 10 columns are in the picture
        bits = np.array([[c == "1" for c in row] for row in _GLYPHS[ch]]).repeat(2, axis=0).repeat(2, axis=1)
        want[2:16, 1 + 12 * i : 11 + 12 * i] = bits
    want[2:16, 37:40] = np.array([[c == "1" for c in row] for row in _GLYPHS["7"]]).repeat(2, 0).repeat(2, 1)[:, :3]
    assert (lit == want).all() and lit.sum() > 100
    assert (img[~lit] == 0).all()


# Every message the rules can produce (design/0240): one view per row, the kinds it shows. A new
# kind of the PICTURE group adds its row here; the test below fails on a kind no row produces.
BAD = {"no_keyframe_s": 30, "times_broken": True}
WORDS = [
    (view(stats={**GOOD_STATS, **BAD, "width": 320, "height": 240, "fps": 2.0, "media_reanchor_s": 3.0,
                 "clock_skew_us": 12_000_000, "audio_packets": 0, "audio": 0}, audio_required=True,
          image={**GOOD_IMAGE, "luma": 3.0}),
     {kinds.BELOW_RESOLUTION, kinds.BELOW_FPS, kinds.KEYFRAMES_MISSING, kinds.MEDIA_CLOCK_DRIFT, kinds.CAMERA_TIMES,
      kinds.CLOCK_DRIFT, kinds.AUDIO_MISSING, kinds.VIDEO_DARK}),
    (view(stats={**GOOD_STATS, "width": 1280, "height": 720, "media_reanchor_s": -2.0, "clock_skew_us": -12_000_000,
                 "audio_level_db": -90.0}, audio_required=True, image={**GOOD_IMAGE, "bright": 0.9}),
     {kinds.BELOW_RESOLUTION, kinds.MEDIA_CLOCK_DRIFT, kinds.CLOCK_DRIFT, kinds.AUDIO_SILENT, kinds.VIDEO_OVEREXPOSED}),
    (view(stats={**GOOD_STATS, "width": 1280, "height": 600, "audio_error": "no AAC decoder"}, audio_required=True,
          image={**GOOD_IMAGE, "contrast": 1.0}), {kinds.BELOW_RESOLUTION, kinds.AUDIO_MISSING, kinds.VIDEO_BLURRED}),
    (view(image={**GOOD_IMAGE, "sharpness": 0.1, "change": 0.0, "colour": 0.5}, similarity=0.1),
     {kinds.VIDEO_BLURRED, kinds.VIDEO_FROZEN, kinds.VIDEO_MONOCHROME, kinds.CAMERA_MOVED}),
    (health.CameraView(id="c", enabled=True, audio_required=False, state="recording", stats=GOOD_STATS, image=None,
                       similarity=None, oversize=(16000, 9000)), {kinds.PICTURE_TOO_BIG}),
]


def _untranslated(stored):
    """The templates of a stored Msg that zh-TW does not say (a template of placeholders alone,
    "{error}", is said as it is)."""
    with speaking("zh-TW"):
        return [t for t in templates(stored) if re.sub(r"\{\w+\}", "", t).strip(" :") and _(t) == t]


def test_every_message_a_rule_can_produce_is_said_in_zh_tw():
    """Each condition of each kind, the quality floor's reasons and each inspection item, rendered
    under zh-TW: a template with no translation fails here, by name (run scripts/i18n)."""
    seen, untranslated = set(), []
    for v, shown in WORDS:
        found = health.conditions(v, CFG, NOON)[0]
        assert set(found) == {k.name for k in shown}, (set(found), shown)
        seen |= set(found)
        reasons = health.compliance(v, CFG, NOON)[1]
        for m in [*found.values(), *reasons]:
            assert isinstance(m, Msg), f"{m!r}: a rule's words are a Msg (design/0240), not an f-string"
            untranslated += _untranslated(m.stored())
        snap = {"enabled": True, "audio_required": v.audio_required, "state": v.state, "stats": v.stats,
                "image_fresh": v.image is not None, "alarms": found, "last_segment_us": None,
                "compliance": "fail", "reasons": reasons,
                "host": inspections.host_running({kinds.DISK_FULL.name: "disk at 99%"}),
                "operators_login": inspections.operators_login({"custodian": None, "approver": {
                    "account": "amy", "at_us": 0}})}
        for items in (inspections.checklist(snap, 10**12, 60_000_000),
                      inspections.checklist({**snap, "state": "offline", "last_error": "401"}, 0, 1),
                      inspections.checklist({**snap, "compliance": "ok", "alarms": {}}, 0, 1)):
            for it in items.values():
                assert it["said"], it
                untranslated += [t for m in it["said"] for t in _untranslated(m)]
    assert seen == set(health.KINDS), f"no row of WORDS produces {set(health.KINDS) - seen}"
    assert not untranslated, f"templates with no zh-TW (scripts/i18n, then translate): {sorted(set(untranslated))}"


def test_a_new_picture_kind_marks_the_picture_item():
    """An alarm marks the register item its kind declares (storage/alarm_kinds.py `item`): an active
    picture alarm makes the picture abnormal, whichever of the PICTURE group's kinds it is."""
    for k in kinds.marking(kinds.PICTURE_ITEM):
        snap = {"state": "recording", "image_fresh": True, "alarms": {k.name: Msg(N_("alarm active"))}}
        assert inspections.checklist(snap, 0, 1)["picture"]["ok"] is False, k.name
    assert {k.item for k in kinds.in_group(kinds.PICTURE)} >= {kinds.PICTURE_ITEM, kinds.AUDIO_ITEM}
