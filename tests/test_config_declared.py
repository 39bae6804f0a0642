"""Config keys declared once (storage/declare.py, design/0099): the [[cameras]] keys' reader,
repr, example block and reference lines come from one declaration each."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from edged.config import ConfigError, parse_config
from edged.config.cameras import CameraConfig, _cameras
from edged.config.retention import RetentionConfig
from edged.config.site import StorageConfig, spanning_storage
from edged.config import cameras as cameras_section
from storage.declare import block, declared, duration, known, per_camera
from edged.daemon.recording.prestart import add_command
import refdocs as docs
from refdocs import cameras_block
from recorder.camera import Settings
from recorder.worker import own_settings

SITE = {"site": {"id": "s"}, "storage": {"data_dir": "/srv/edged"}}
SECRET = "hunter2-secret"


def cameras(*tables: dict) -> tuple[CameraConfig, ...]:
    return parse_config({**SITE, "cameras": list(tables)}).cameras


def test_every_camera_field_is_a_declared_key():
    """All but `own`: its values are the site's keys declared per_camera (test_a_site_key_per_camera below)."""
    assert [f.name for f in dataclasses.fields(CameraConfig)] == [d.name for d in declared(CameraConfig)] + ["own"]
    assert "min_retention" in known(CameraConfig) and "audio_expected" in known(CameraConfig)


def test_the_repr_shows_every_key_and_no_password():
    cam = cameras({"id": "a", "url": f"rtsp://u:{SECRET}@192.0.2.1/s", "detect_url": "/sub", "machine_room": "B1",
                   "asset_number": "A-1", "recording_period": "24h"})[0]
    shown = repr(cam)
    assert SECRET not in shown and "rtsp://u:***@192.0.2.1/s" in shown and "rtsp://u:***@192.0.2.1/sub" in shown
    for d in declared(CameraConfig):
        assert f"{d.name}=" in shown, d.name  # machine_room, asset_number, recording_period were missing once


def test_the_example_block_is_a_camera_the_parser_takes():
    table = tomllib.loads(cameras_block(example=True))["cameras"][0]
    cam = cameras(table)[0]
    assert (cam.id, cam.name, cam.enabled, cam.machine_room) == ("entrance", "大門口", False, "一樓機房")
    every = tomllib.loads(cameras_block(example=False).removeprefix("```toml\n").removesuffix("```\n"))["cameras"][0]
    commented = {d.toml for d in declared(CameraConfig) if d.key.commented}
    assert set(every) | commented == {d.toml for d in declared(CameraConfig) if d.toml not in ("motion", "health")}
    assert commented >= {"min_retention", "max_retention", "detect_url", "onvif"} and not commented & set(every)


@pytest.mark.parametrize("table, field, says", [
    ({"id": "a", "url": "synthetic:", "reader": "vlc"}, "cameras[0].reader", "is not an RTSP reader"),
    ({"id": "a", "url": "synthetic:", "transport": "quic"}, "cameras[0].transport", "is not an RTSP transport"),
    ({"id": "a", "url": "synthetic:", "kind": "ip"}, "cameras[0].kind", 'use "network" or "analogue"'),
    ({"id": "a", "url": "synthetic:", "purpose": 3}, "cameras[0].purpose", "expected a string"),
    ({"id": "a", "url": "synthetic:", "onvif": "x:99999"}, "cameras[0].onvif", "is not an ONVIF address"),
    ({"id": "a", "url": "synthetic:", "readr": "auto"}, "cameras[0].readr", 'did you mean "reader"?'),
])
def test_a_bad_key_is_named_by_its_path(table, field, says):
    with pytest.raises(ConfigError, match=says) as err:
        cameras(table)
    assert err.value.field == field


def test_a_camera_key_declared_for_the_worker_reaches_it_and_a_setting_of_its_own_overrides():
    cam = cameras({"id": "a", "url": "synthetic:", "transport": "tcp"})[0]
    assert add_command(cam)["camera"] == {"id": "a", "url": "synthetic:", "mode": "continuous", "transport": "tcp",
                                          "reader": "auto"}
    base = Settings(data_dir=Path("/d"), segment_us=60_000_000, fragment_us=1_000_000, fsync_us=2_000_000,
                    connect_timeout_us=1, read_timeout_us=1, reconnect_max_us=1)
    assert own_settings(base, {"id": "a", "transport": "tcp"}) is base
    assert own_settings(base, {"id": "a", "segment_us": 300_000_000}).segment_us == 300_000_000


def test_every_generated_block_is_a_config_the_parser_takes():
    """The example config and each reference page's key blocks (refdocs/) are configs edged reads."""
    example = tomllib.loads((Path(__file__).parent.parent / "systemd" / "edged.example.toml").read_text())
    example.pop("secrets")
    cfg = parse_config(example, base_dir=Path("/etc/edged"))
    assert (cfg.site.language, cfg.inspection.schedule, cfg.storage.segment_length_us) == ("zh-TW", "daily", 60_000_000)
    for page, parts in docs.pages().items():
        for source, body in parts:
            if source.startswith("edged/config/") and page.endswith(".md") and "cameras" not in source:
                data = tomllib.loads(body.removeprefix("```toml\n").removesuffix("```\n"))
                if "motion" in source:  # a camera's sub-table
                    data = {"cameras": [{"id": "a", "url": "synthetic:", "mode": "motion", **data["cameras"]}]}
                data.setdefault("site", {"id": "s", "node": "node9"})
                data.setdefault("storage", {"data_dir": "/srv/edged"})
                data.get("viewer", {}).update(enabled=False)
                data.get("mqtt", {}).update(enabled=False)   # their files are checked only when enabled
                data.setdefault("mqtt", {"enabled": True, "host": "127.0.0.1"})  # a standby reports over MQTT
                parse_config(data, base_dir=Path("/etc/edged"))  # raises on a key or value it does not take


@pytest.mark.parametrize("section, table, field, says", [
    ("site", {"id": "s", "language": "fr"}, "site.language", "is not a supported language"),
    ("storage", {"data_dir": "/d", "segment_length": "2h"}, "storage.segment_length", "out of range"),
    ("recorder", {"workers": 65}, "recorder.workers", "65 is out of range (0 to 64; 0 means one per CPU core)"),
    ("recorder", {"camera_memory_mb": 1}, "recorder.camera_memory_mb", "1 MB is out of range"),
    ("time", {"ntp": "yes"}, "time.ntp", "expected true or false"),
    ("accounts", {"lockout_after": "5"}, "accounts.lockout_after", "expected an integer"),
    ("audit", {"every_months": 25}, "audit.every_months", "25 is out of range (0 to 24)"),
    ("maintenance", {"max_window": 8}, "maintenance.max_window", 'expected a duration such as "8h"'),
    ("standby", {"for": "node2"}, "standby.for", "expected a list of box (node) ids"),
    ("health", {"dark_luma": 300}, "health.dark_luma", "300 is out of range (0 to 255)"),
    ("inspection", {"countersign": "boss"}, "inspection.countersign", "is not one of supervisor, unit"),
    ("inspection", {"register_columns": ["date", "camera", "item"]}, "inspection.register_columns",
     "camera and item cannot both be columns"),
    ("inspection", {"register_columns": ["date", "notes"]}, "inspection.register_columns[1]", "is not one of"),
    ("inspection", {"item_labels": {"sound": "聲音"}}, "inspection.item_labels.sound", "is not one of host"),
    ("retention", {"on_full": "drop"}, "retention.on_full", "is not a choice"),
    ("viewer", {"max_viewers": 0}, "viewer.max_viewers", "0 is out of range (1 to 256)"),
    ("viewer", {"listne": "127.0.0.1:1"}, "viewer.listne", 'did you mean "listen"?'),
])
def test_a_declared_section_names_a_bad_key_by_its_path(section, table, field, says):
    data = {**SITE, section: table} if section not in SITE else {**SITE, section: {**SITE[section], **table}}
    with pytest.raises(ConfigError, match=re.escape(says)) as err:
        parse_config(data)
    assert err.value.field == field


def _sections() -> list[type]:
    """Every config section declared with keys (each dataclass of edged/config/ with a `key` field)."""
    import importlib
    import inspect
    import pkgutil
    import edged.config as package
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"edged.config.{info.name}")
        found += [c for _n, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__
                  and dataclasses.is_dataclass(c) and declared(c)]
    return found


def test_every_worker_name_is_one_the_recorder_reads():
    """A key declared with `worker=` reaches the recorder under that name: a field of
    recorder.camera.Settings (then it overrides the worker's setting for the camera) or a key the
    recorder reads from the camera's `add` (recorder/*.py `camera["x"]`, `camera.get("x")`). A
    misspelt name (`worker="segment_usec"`) was dropped silently (issue 57)."""
    sources = "".join(p.read_text() for p in (Path(__file__).parent.parent / "recorder").glob("*.py"))
    reads = set(re.findall(r'camera(?:\.get\(|\[)"(\w+)"', sources)) | {f.name for f in dataclasses.fields(Settings)}
    named = {(c.__name__, d.toml): d.key.worker for c in _sections() for d in declared(c) if d.key.worker}
    assert named, "no key is declared for the worker: is the scan broken?"
    unread = {k: w for k, w in named.items() if w not in reads}
    assert not unread, f"worker= names the recorder does not read: {unread} (it reads {sorted(reads)})"


@dataclasses.dataclass(frozen=True, slots=True)
class Lengths:
    """A site section of a test: one key a camera may set for itself, handed to its worker."""
    segment_length_us: int = duration(60_000_000, 2_000_000, 3_600_000_000, toml="test_segment_length",
                                      per_camera=True, worker="segment_us", doc="segments start on wall-clock multiples")
    fragment_length_us: int = duration(1_000_000, 100_000, 10_000_000, toml="test_fragment_length",
                                       doc="the site's only")


def test_a_site_key_per_camera_is_a_key_of_the_camera_read_as_the_sites(monkeypatch):
    """`per_camera=True` on a site key (design/0292): the camera's table takes it under the same
    name, read by the site key's reader (its bounds, the camera's path), its worker is told it
    (`worker=`), `cam.over(site)` is what the camera is held to, and the pages show it in both blocks."""
    monkeypatch.setitem(cameras_section.SITE_SECTIONS, "lengths", Lengths)
    cam, other = cameras({"id": "a", "url": "synthetic:", "test_segment_length": "5m"}, {"id": "b", "url": "synthetic:"})
    assert (cam.over(Lengths()).segment_length_us, other.over(Lengths()).segment_length_us) == (300_000_000, 60_000_000)
    assert cam.over(Lengths()).fragment_length_us == 1_000_000 and cam.over(SITE) is SITE  # another section: as is
    assert add_command(cam)["camera"]["segment_us"] == 300_000_000 and "segment_us" not in add_command(other)["camera"]
    assert "Lengths.segment_length_us=300000000" in repr(cam)
    for table, field, says in [({"test_segment_length": "2h"}, "cameras[0].test_segment_length", "out of range"),
                               ({"test_segment_length": 60}, "cameras[0].test_segment_length", "expected a duration"),
                               ({"test_fragment_length": "2s"}, "cameras[0].test_fragment_length", "unknown key"),
                               ({"test_segment_lenght": "5m"}, "cameras[0].test_segment_lenght",
                                'did you mean "test_segment_length"')]:
        with pytest.raises(ConfigError, match=says) as err:
            cameras({"id": "a", "url": "synthetic:", **table})
        assert err.value.field == field
    every = cameras_block(example=False)
    assert '# test_segment_length = "1m"' in every and "its own [lengths] test_segment_length: segments" in every
    assert "[[cameras]] may set its own" in block(Lengths, "[lengths]") and "test_fragment_length" not in every


def test_every_per_camera_key_is_one_a_camera_can_set():
    """A site key declared per_camera is in a section of cameras.SITE_SECTIONS (else no camera could
    set it), has a reader of its own, and its name is no key of the camera's."""
    flagged = {(c.__name__, d.toml) for c in _sections() for d in declared(c) if d.key.per_camera}
    reached = {(c.__name__, name) for name, (_t, c, _d) in per_camera(cameras_section.SITE_SECTIONS).items()}
    assert flagged == reached, f"add the section of {sorted(flagged - reached)} to edged/config/cameras.py SITE_SECTIONS"
    assert not set(per_camera(cameras_section.SITE_SECTIONS)) & set(known(CameraConfig))
    with pytest.raises(TypeError, match="per_camera needs a key of its own reader"):
        per_camera({"a": Lengths, "b": Lengths})


def test_a_cameras_own_value_is_held_to_the_check_that_spans_its_sections_keys(monkeypatch):
    """As [storage]'s fragment_length shorter than segment_length: a camera's own value is held to the
    check that spans its section's keys, against the site's (cameras.SPANNING); the error names its key."""
    monkeypatch.setitem(cameras_section.SITE_SECTIONS, "lengths", Lengths)
    monkeypatch.setitem(cameras_section.SPANNING, Lengths, lambda s: (
        ("test_fragment_length", "must be shorter than test_segment_length")
        if s.fragment_length_us >= s.segment_length_us else None))
    site = {"lengths": Lengths(fragment_length_us=5_000_000), "retention": RetentionConfig()}
    assert _cameras([{"id": "a", "url": "synthetic:", "test_segment_length": "6s"}], {}, site)
    with pytest.raises(ConfigError, match=r"\[lengths\] test_fragment_length: must be shorter") as err:
        _cameras([{"id": "a", "url": "synthetic:", "test_segment_length": "5s"}], {}, site)
    assert err.value.field == "cameras[0].test_segment_length"
    with pytest.raises(TypeError, match="parse_config passes it"):
        _cameras([{"id": "a", "url": "synthetic:", "test_segment_length": "5s"}], {}, {"retention": RetentionConfig()})
    assert cameras_section.SPANNING[StorageConfig] is spanning_storage  # [storage]'s own check, asked again
