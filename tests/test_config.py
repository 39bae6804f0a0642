"""Config loading: real TOML files on disk, checked the way the daemon reads them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from edged.config import (
    DEFAULT_PATH,
    CameraConfig,
    Config,
    ConfigError,
    ControlConfig,
    RetentionConfig,
    default_config,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    redact_url,
)
from tests.support.configs import (
    DAY,
    FULL,
    MINIMAL,
    SECRET,
    camera_toml,
    error_for,
    retention_for,
    write,
)

# --- whole files ------------------------------------------------------------------------


def test_full_config(tmp_path):
    path = write(tmp_path, FULL)
    cfg = load_config(path, allow_config_secrets=True)  # its camera URL holds a password: test_secrets.py

    assert isinstance(cfg, Config)
    assert cfg.source == str(path)
    assert (cfg.site.id, cfg.site.name, cfg.site.node) == ("town-hall", "Town hall, Main St", "node2")

    assert cfg.storage.data_dir == Path("/srv/edged")
    assert cfg.storage.segment_length_us == 120_000_000
    assert cfg.storage.fragment_length_us == 500_000
    assert cfg.storage.fsync_interval_us == 1_500_000

    assert cfg.recorder.workers == 4
    assert cfg.recorder.connect_timeout_us == 3_000_000
    assert cfg.recorder.read_timeout_us == 10_000_000
    assert cfg.recorder.reconnect_max_us == 90_000_000

    assert cfg.retention == RetentionConfig(
        min_retention_us=90 * DAY,
        max_retention_us=180 * DAY,
        reserve_bytes=50_000_000_000,
        reserve_percent=None,
        on_full="stop",
        interval_us=300_000_000,
        evidence_hold_us=14 * DAY,
    )
    assert cfg.control == ControlConfig(socket=Path("/run/edged/control.sock"))

    assert [c.id for c in cfg.cameras] == ["lobby", "car_park-2", "test"]
    lobby, car_park, test = cfg.cameras
    assert lobby == CameraConfig(
        id="lobby",
        name="Lobby",
        url=f"rtsp://viewer:{SECRET}@10.0.0.21:554/stream1",
        enabled=True,
        audio_required=True,
        location="Ground floor",
        max_retention_us=120 * DAY,
    )
    assert lobby.redacted_url == "rtsp://viewer:***@10.0.0.21:554/stream1"
    assert car_park.name == "car_park-2"  # name defaults to the id
    assert car_park.enabled is False and car_park.audio_required is False and car_park.location == ""
    assert car_park.redacted_url == "rtsps://10.0.0.22/main"
    assert test.url == "synthetic:?width=1280&height=720&fps=20"

    assert cfg.camera("car_park-2") is car_park
    assert cfg.camera("nope") is None

    assert retention_for(cfg, "lobby") == (90 * DAY, 120 * DAY)
    assert retention_for(cfg, "car_park-2") == (90 * DAY, 180 * DAY)


def test_config_is_frozen_and_repr_hides_password(tmp_path):
    cfg = load_config(write(tmp_path, FULL), allow_config_secrets=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.site.id = "other"  # type: ignore[misc]
    assert SECRET not in repr(cfg)
    assert SECRET not in repr(cfg.cameras[0])
    assert "rtsp://viewer:***@10.0.0.21:554/stream1" in repr(cfg.cameras[0])


def test_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.site.id == "s1"
    assert cfg.site.name == "s1"
    assert cfg.site.node == "node1"
    assert cfg.storage.data_dir == Path("/var/lib/edged")
    assert cfg.storage.segment_length_us == 60_000_000
    assert cfg.storage.fragment_length_us == 1_000_000
    assert cfg.storage.fsync_interval_us == 2_000_000
    assert cfg.recorder.workers == 0
    assert cfg.recorder.connect_timeout_us == 5_000_000
    assert cfg.recorder.read_timeout_us == 5_000_000
    assert cfg.recorder.reconnect_max_us == 2_000_000
    assert cfg.cameras == ()  # a node being set up has no cameras yet
    assert cfg.retention == RetentionConfig()
    r = cfg.retention
    assert r.min_retention_us == 30 * DAY
    assert r.max_retention_us == 365 * DAY
    assert (r.reserve_bytes, r.reserve_percent) == (None, 5.0)
    assert r.on_full == "overwrite"
    assert r.interval_us == 60_000_000
    assert r.evidence_hold_us == 30 * DAY
    assert cfg.control.socket == Path("/var/lib/edged/control.sock")


def test_default_path():
    assert DEFAULT_PATH == Path("/etc/edged/edged.toml")


def test_default_config(tmp_path):
    cfg = default_config(tmp_path / "data")
    assert cfg.site.id == "demo"
    assert cfg.site.name == "edged demo"
    assert cfg.storage.data_dir == tmp_path / "data"
    assert len(cfg.cameras) == 1
    cam = cfg.camera("demo")
    assert cam is not None
    assert (cam.name, cam.url, cam.enabled) == ("Demo test pattern", "synthetic:?width=1280&height=800", True)
    assert (cam.min_retention_us, cam.max_retention_us) == (None, None)
    assert cfg.retention == RetentionConfig()
    assert retention_for(cfg, "demo") == (30 * DAY, 365 * DAY)
    assert cfg.control.socket == tmp_path / "data" / "control.sock"


def test_default_config_resolves_relative_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_config(Path("data")).storage.data_dir == tmp_path / "data"


def test_relative_data_dir_resolved_against_config_folder(tmp_path, monkeypatch):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(conf_dir, MINIMAL + '[storage]\ndata_dir = "../footage/./x"\n')
    assert load_config(path).storage.data_dir == tmp_path / "footage" / "x"
    # A relative path to the config file itself works too.
    rel = Path(os.path.relpath(path, elsewhere))
    assert load_config(rel).storage.data_dir == tmp_path / "footage" / "x"


def test_relative_data_dir_without_a_file_is_an_error():
    with pytest.raises(ConfigError) as info:
        parse_config({"site": {"id": "s"}, "storage": {"data_dir": "data"}})
    assert info.value.field == "storage.data_dir"
    assert "absolute" in info.value.message


def test_parse_config_source_in_message():
    with pytest.raises(ConfigError) as info:
        parse_config({"site": {}}, source="test-source")
    err = info.value
    assert err.field == "site.id"
    assert err.source == "test-source"
    assert str(err) == "test-source: site.id: missing required key"


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, us",
    [
        ("60s", 60_000_000),
        ("500ms", 500_000),
        ("250us", 250),
        ("5m", 300_000_000),
        ("2h", 7_200_000_000),
        ("30d", 30 * 86_400_000_000),
        ("1h30m", 5_400_000_000),
        ("1.5s", 1_500_000),
        ("1m0.5s", 60_500_000),
        (" 2s ", 2_000_000),
    ],
)
def test_parse_duration(text, us):
    assert parse_duration(text, "f") == us


@pytest.mark.parametrize(
    "value, says",
    [
        ("60", "not a duration"),
        ("abc", "not a duration"),
        ("5 s", "not a duration"),
        ("5sec", "not a duration"),
        ("-5s", "negative"),
        ("0s", "zero"),
        ("0h0m", "zero"),
        ("", "empty"),
        ("30m1h", "largest to smallest"),
        ("1s1s", "largest to smallest"),
        ("0.5us", "finer than a microsecond"),
        (60, "found integer 60"),
        (1.5, "found float 1.5"),
        (True, "found boolean true"),
    ],
)
def test_parse_duration_rejects(value, says):
    with pytest.raises(ConfigError) as info:
        parse_duration(value, "storage.segment_length")
    assert info.value.field == "storage.segment_length"
    assert says in info.value.message
    assert str(info.value).startswith("storage.segment_length: ")


@pytest.mark.parametrize(
    "us, text",
    [
        (60_000_000, "1m"),
        (2_000_000, "2s"),
        (10_000_000, "10s"),
        (20_000, "20ms"),
        (1_500_000, "1.5s"),
        (500_000, "500ms"),
        (1_500, "1.5ms"),
        (250, "250us"),
        (30 * 86_400_000_000, "30d"),
        (5_400_000_000, "1h30m"),
        (90_500_000, "1m30.5s"),
        (60_250_000, "1m250ms"),
    ],
)
def test_format_duration(us, text):
    assert format_duration(us) == text


def test_format_duration_round_trips():
    values = [1, 999, 1000, 1001, 20_000, 999_999, 1_000_000, 1_000_001, 10_000_000, 59_999_999]
    values += [3_600_000_001, 86_400_000_000, 90 * 86_400_000_000 + 1]
    values += [7 ** k for k in range(1, 20)]
    for us in values:
        assert parse_duration(format_duration(us), "f") == us, us


def test_duration_in_file_as_integer(tmp_path):
    err = error_for(tmp_path, MINIMAL + "[storage]\nsegment_length = 60\n")
    assert err.field == "storage.segment_length"
    assert "found integer 60" in str(err)
    assert '"60s"' in str(err)


@pytest.mark.parametrize(
    "table, key, value, says",
    [
        ("storage", "segment_length", "1s", "1s is out of range (allowed 2s to 1h)"),
        ("storage", "segment_length", "61m", "out of range"),
        ("storage", "fragment_length", "50ms", "out of range"),
        ("storage", "fragment_length", "11s", "out of range"),
        ("storage", "fsync_interval", "2m", "out of range"),
        ("recorder", "connect_timeout", "1h", "out of range"),
    ],
)
def test_duration_ranges(tmp_path, table, key, value, says):
    err = error_for(tmp_path, MINIMAL + f'[{table}]\n{key} = "{value}"\n')
    assert err.field == f"{table}.{key}"
    assert says in err.message


def test_fragment_must_be_shorter_than_segment(tmp_path):
    err = error_for(tmp_path, MINIMAL + '[storage]\nsegment_length = "5s"\nfragment_length = "5s"\n')
    assert err.field == "storage.fragment_length"
    assert "shorter than segment_length (5s)" in err.message


# --- unknown keys and types -------------------------------------------------------------


def test_unknown_top_level_key(tmp_path):
    err = error_for(tmp_path, MINIMAL + "[retension]\nmin_retention = \"30d\"\n")
    assert err.field == "retension"
    assert "unknown key (known: site, storage, recorder, retention, control, cameras, mqtt, health" in err.message
    assert 'did you mean "retention"' in err.message


def test_unknown_storage_key(tmp_path):
    path = write(tmp_path, MINIMAL + '[storage]\nsegmnet_length = "60s"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.field == "storage.segmnet_length"
    assert err.message.startswith(
        "unknown key (known: data_dir, segment_length, fragment_length, fsync_interval)"
    )
    assert 'did you mean "segment_length"' in err.message
    assert str(err) == f"{path}: storage.segmnet_length: {err.message}"


def test_unknown_camera_key_names_the_camera_index(tmp_path):
    text = MINIMAL + (
        '[[cameras]]\nid = "a"\nurl = "synthetic:"\n'
        '[[cameras]]\nid = "b"\nurl = "synthetic:"\npasword = "x"\n'
    )
    err = error_for(tmp_path, text)
    assert err.field == "cameras[1].pasword"
    assert "unknown key" in err.message


def test_audio_in_viewer_is_off_by_default_and_a_boolean(tmp_path):
    text = MINIMAL + (
        '[[cameras]]\nid = "a"\nurl = "synthetic:"\n'
        '[[cameras]]\nid = "b"\nurl = "synthetic:"\naudio_in_viewer = true\n'
    )
    a, b = load_config(write(tmp_path, text)).cameras
    assert (a.audio_in_viewer, b.audio_in_viewer) == (False, True)
    err = error_for(tmp_path, MINIMAL + '[[cameras]]\nid = "a"\nurl = "synthetic:"\naudio_in_viewer = "yes"\n')
    assert err.field == "cameras[0].audio_in_viewer"


def test_unknown_site_key(tmp_path):
    err = error_for(tmp_path, MINIMAL + 'nmae = "x"\n')
    assert err.field == "site.nmae"


@pytest.mark.parametrize(
    "text, field, says",
    [
        (MINIMAL + "[recorder]\nworkers = \"4\"\n", "recorder.workers", 'expected an integer, found string "4"'),
        (MINIMAL + "[recorder]\nworkers = true\n", "recorder.workers", "expected an integer, found boolean true"),
        (MINIMAL + "[recorder]\nworkers = 65\n", "recorder.workers", "out of range"),
        (MINIMAL + "[recorder]\nworkers = -1\n", "recorder.workers", "out of range"),
        ('site = "x"\n', "site", "expected a table"),
        ("[site]\nid = 5\n", "site.id", "expected a string, found integer 5"),
        (MINIMAL + "[storage]\ndata_dir = 1\n", "storage.data_dir", "expected a string"),
        (MINIMAL + "[[cameras]]\nid = \"a\"\nurl = \"synthetic:\"\nenabled = \"yes\"\n", "cameras[0].enabled", "expected true or false"),
        (MINIMAL + "[[cameras]]\nid = \"a\"\nurl = [\"synthetic:\"]\n", "cameras[0].url", "expected a string, found an array"),
        (MINIMAL + "[cameras]\nid = \"a\"\n", "cameras", "expected an array of tables"),
        ("cameras = [1]\n" + MINIMAL, "cameras[0]", "expected a table"),
        ("[storage]\n", "site.id", "missing required key"),
        (MINIMAL + "[[cameras]]\nid = \"a\"\n", "cameras[0].url", "missing required key"),
        (MINIMAL + "[[cameras]]\nurl = \"synthetic:\"\n", "cameras[0].id", "missing required key"),
        (MINIMAL + "[[cameras]]\nid = \"a\"\nname = \" \"\nurl = \"synthetic:\"\n", "cameras[0].name", "must not be empty"),
    ],
)
def test_type_and_value_errors_name_the_field(tmp_path, text, field, says):
    err = error_for(tmp_path, text)
    assert err.field == field
    assert says in err.message


# --- ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["Lobby", "-lobby", "lob by", "lobby/1", "", "a" * 64, "lobby\n"])
def test_bad_camera_id(tmp_path, bad):
    err = error_for(tmp_path, camera_toml(id=f'"{bad}"'.replace("\n", "\\n"), url='"synthetic:"'))
    assert err.field == "cameras[0].id"
    assert "not a valid id" in err.message
    assert "file paths and MQTT topics" in err.message


@pytest.mark.parametrize("field, text", [("site.id", '[site]\nid = "My Site"\n'), ("site.node", '[site]\nid = "s"\nnode = "Node 1"\n')])
def test_bad_site_ids(tmp_path, field, text):
    err = error_for(tmp_path, text)
    assert err.field == field
    assert "not a valid id" in err.message


def test_longest_id_is_accepted(tmp_path):
    cfg = load_config(write(tmp_path, camera_toml(id='"' + "a" * 63 + '"', url='"synthetic:"')))
    assert cfg.cameras[0].id == "a" * 63


def test_duplicate_camera_id(tmp_path):
    text = MINIMAL
    for cam_id in ["x", "y", "z", "x"]:
        text += f'[[cameras]]\nid = "{cam_id}"\nurl = "rtsp://admin:{SECRET}@cam-{cam_id}/s"\n'
    err = error_for(tmp_path, text)
    assert err.field == "cameras[3].id"
    assert err.message == 'duplicate camera id "x" (also cameras[0])'
    assert SECRET not in str(err)


# --- urls -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://10.0.0.1/stream",
        "RTSP://cam.local:8554/live",
        "rtsps://user:pw@cam/x",
        "rtsp://[fe80::1]:554/x",
        "synthetic:",
        "synthetic:?fps=5",
        "synthetic:?width=3840&height=2160&fps=60",
        "synthetic:?width=64&height=64&fps=1",
    ],
)
def test_good_urls(tmp_path, url):
    cfg = load_config(write(tmp_path, camera_toml(id='"c"', url=f'"{url}"')), allow_config_secrets=True)
    assert cfg.cameras[0].url == url


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://cam/x", 'unsupported scheme "http"'),
        ("cam.local/stream", "unsupported scheme none"),
        ("rtmp://user:PW@cam/x", 'unsupported scheme "rtmp"'),
        ("rtsp:///stream", "has no host"),
        ("rtsp://cam:99999/x", "not a valid URL"),
        ("rtsp://cam/a b", "spaces"),
        ("", "must not be empty"),
        ("synthetic:foo", "only query parameters"),
        ("synthetic:?width=1281", "width=1281 must be even"),
        ("synthetic:?width=32", "out of range"),
        ("synthetic:?height=2162", "out of range"),
        ("synthetic:?fps=0", "out of range"),
        ("synthetic:?fps=61", "out of range"),
        ("synthetic:?fps=x", "whole number"),
        ("synthetic:?fps=-1", "whole number"),
        ("synthetic:?depth=8", "unknown synthetic: parameter"),
        ("synthetic:?fps=5&fps=6", "given twice"),
    ],
)
def test_bad_urls(tmp_path, url, says):
    err = error_for(tmp_path, camera_toml(id='"c"', url=f'"{url}"'))
    assert err.field == "cameras[0].url"
    assert says in err.message


@pytest.mark.parametrize(
    "url, shown",
    [
        ("rtsp://user:secret@host/x", "rtsp://user:***@host/x"),
        ("rtsp://user:secret@host:554/x?a=1", "rtsp://user:***@host:554/x?a=1"),
        ("rtsps://:secret@host/x", "rtsps://:***@host/x"),
        ("rtsp://user:se@cret@host/x", "rtsp://user:***@host/x"),
        ("rtsp://user:se/cret@host/x", "rtsp://user:***@host/x"),
        ("rtsp://user@host/x", "rtsp://user@host/x"),
        ("rtsp://host:554/x", "rtsp://host:554/x"),
        ("rtsp://host:554/a@b", "rtsp://host:554/a@b"),
        ("synthetic:?fps=5", "synthetic:?fps=5"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


# --- passwords never leak ---------------------------------------------------------------


def leak_cases() -> list[str]:
    cam = f'[[cameras]]\nid = "lobby"\nurl = "rtsp://admin:{SECRET}@10.0.0.5/s"\n'
    return [
        # a bad-typed field next to a URL with a password
        MINIMAL + cam + "enabled = 1\n",
        MINIMAL + cam + "audio_expected = \"rtsp://admin:" + SECRET + "@x/\"\n",
        # a duplicate id
        MINIMAL + cam + cam,
        # a bad scheme, with and without "//"
        MINIMAL + f'[[cameras]]\nid = "a"\nurl = "http://admin:{SECRET}@cam/x"\n',
        MINIMAL + f'[[cameras]]\nid = "a"\nurl = "rtsp:admin:{SECRET}@cam/x"\n',
        # an unparsable URL, a URL with spaces
        MINIMAL + f'[[cameras]]\nid = "a"\nurl = "rtsp://admin:{SECRET}@[::1/x"\n',
        MINIMAL + f'[[cameras]]\nid = "a"\nurl = "rtsp://admin:{SECRET}@cam/a b"\n',
        # the URL pasted into the wrong field
        MINIMAL + f'[[cameras]]\nid = "rtsp://admin:{SECRET}@cam/x"\nurl = "synthetic:"\n',
        MINIMAL + f'[storage]\nsegment_length = "rtsp://admin:{SECRET}@cam/x"\n',
        MINIMAL + f'[recorder]\nworkers = "rtsp:admin:{SECRET}@cam"\n',
        MINIMAL + f'[retention]\nreserve = "rtsp://admin:{SECRET}@cam/x"\n',
        MINIMAL + f'[retention]\non_full = "rtsp://admin:{SECRET}@cam/x"\n',
        MINIMAL + f'[control]\nsocket = "/{"d" * 100}/rtsp://admin:{SECRET}@cam/x"\n',
        MINIMAL + cam + f'max_retention = "rtsp://admin:{SECRET}@cam/x"\n',
        MINIMAL + cam + 'max_retention = "1d"\n',
        f'cameras = ["rtsp://admin:{SECRET}@cam/x"]\n' + MINIMAL,
        # a TOML syntax error on the URL's line
        MINIMAL + f'[[cameras]]\nid = "a"\nurl = "rtsp://admin:{SECRET}@cam/x" trailing\n',
        MINIMAL + f'[[cameras]]\nid = "a"\nurl = "rtsp://admin:{SECRET}@cam/x\n',
    ]


@pytest.mark.parametrize("text", leak_cases())
def test_password_never_in_error(tmp_path, text):
    err = error_for(tmp_path, text)
    assert SECRET not in str(err)
    assert SECRET not in err.message
    assert SECRET not in repr(err)
    assert all(SECRET not in str(arg) for arg in err.args)


def test_wrong_field_url_is_shown_redacted(tmp_path):
    err = error_for(tmp_path, MINIMAL + f'[storage]\nsegment_length = "rtsp://admin:{SECRET}@cam/x"\n')
    assert err.field == "storage.segment_length"
    assert '"rtsp://admin:***@cam/x" is not a duration' in err.message


# --- reading the file -------------------------------------------------------------------


def test_toml_syntax_error_keeps_line_and_column(tmp_path):
    path = write(tmp_path, '[site]\nid = "s1"\nname = "unterminated\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert text.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in text and "column" in text


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "not found" in str(info.value)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert "is a directory" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, MINIMAL)
    path.chmod(0)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "permission denied" in str(info.value)


def test_not_utf8(tmp_path):
    path = tmp_path / "edged.toml"
    path.write_bytes(b'[site]\nid = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "UTF-8" in str(info.value)


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "edged.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path).site.id == "s1"


def test_config_error_pickles():
    import pickle

    err = ConfigError("storage.data_dir", "must not be empty", "/etc/edged/edged.toml")
    back = pickle.loads(pickle.dumps(err))
    assert (back.field, back.message, back.source) == (err.field, err.message, err.source)
    assert str(back) == "/etc/edged/edged.toml: storage.data_dir: must not be empty"
