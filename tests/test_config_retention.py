"""Config: the [retention] and [control] tables and per-camera retention overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from edged.config import (
    ConfigError,
    RetentionConfig,
    load_config,
    parse_config,
    parse_size,
)
from tests.support.configs import DAY, MINIMAL, error_for, retention_for, write

# --- retention ------------------------------------------------------------------------


def retention(**fields: object) -> str:
    return MINIMAL + "[retention]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items())


@pytest.mark.parametrize(
    "text, size",
    [
        ("10GB", 10_000_000_000),
        ("500MB", 500_000_000),
        ("1.5TB", 1_500_000_000_000),
        ("64MiB", 64 * 1024**2),
        ("1KB", 1000),
        ("1kB", 1000),
        ("2KiB", 2048),
        ("1.5KiB", 1536),
        ("3GiB", 3 * 1024**3),
        ("2TiB", 2 * 1024**4),
        ("4096B", 4096),
        (" 10 GB ", 10_000_000_000),
    ],
)
def test_parse_size(text, size):
    assert parse_size(text, "f") == size


@pytest.mark.parametrize(
    "value, says",
    [
        ("10", "not a size"),
        ("GB", "not a size"),
        ("10 XB", 'unknown unit "XB"'),
        ("10gb", 'did you mean "GB"'),
        ("10Gib", 'did you mean "GiB"'),
        ("-5GB", "negative"),
        ("0GB", "zero"),
        ("0.5B", "not a whole number of bytes"),
        ("1e3GB", "not a size"),
        ("", "empty"),
        (5, "found integer 5"),
        (1.5, "found float 1.5"),
        (True, "found boolean true"),
    ],
)
def test_parse_size_rejects(value, says):
    with pytest.raises(ConfigError) as info:
        parse_size(value, "retention.reserve")
    assert info.value.field == "retention.reserve"
    assert says in info.value.message


def test_reserve_as_size(tmp_path):
    r = load_config(write(tmp_path, retention(reserve='"64MiB"'))).retention
    assert (r.reserve_bytes, r.reserve_percent) == (64 * 1024**2, None)
    assert r.reserve_for(10**12) == 64 * 1024**2
    assert r.reserve_for(0) == 64 * 1024**2


@pytest.mark.parametrize("text, percent", [("5%", 5.0), ("0.5%", 0.5), ("99.9%", 99.9), ("12 %", 12.0)])
def test_reserve_as_percent(tmp_path, text, percent):
    r = load_config(write(tmp_path, retention(reserve=f'"{text}"'))).retention
    assert (r.reserve_bytes, r.reserve_percent) == (None, percent)


def test_reserve_for_percent():
    r = RetentionConfig(reserve_percent=5.0)
    assert r.reserve_for(2_000_000_000_000) == 100_000_000_000
    assert r.reserve_for(0) == 0
    assert r.reserve_for(101) == 6  # rounds up: keep at least the share free
    # exact for decimals that are inexact in binary
    assert RetentionConfig(reserve_percent=0.1).reserve_for(10**15) == 10**12
    assert RetentionConfig(reserve_percent=0.5).reserve_for(4 * 1024**4) == 21_990_232_556
    with pytest.raises(ValueError):
        r.reserve_for(-1)


def test_reserve_exactly_one_form():
    with pytest.raises(ValueError):
        RetentionConfig(reserve_bytes=10, reserve_percent=5.0)
    with pytest.raises(ValueError):
        RetentionConfig(reserve_bytes=None, reserve_percent=None)
    assert RetentionConfig(reserve_bytes=10, reserve_percent=None).reserve_for(5) == 10


@pytest.mark.parametrize(
    "value, says",
    [
        ('"10"', 'not a size; write a number with a unit, e.g. "10GB", "500MB", or a share of the disk such as "5%"'),
        ('"10 XB"', 'unknown unit "XB"'),
        ('"-5GB"', "negative"),
        ('"-5%"', "negative"),
        ('"0%"', "above 0% and below 100%"),
        ('"100%"', "above 0% and below 100%"),
        ('"150%"', "out of range"),
        ('"%"', "not a size"),
        ("5", "found integer 5"),
        ("5.0", "found float 5.0"),
    ],
)
def test_bad_reserve(tmp_path, value, says):
    err = error_for(tmp_path, retention(reserve=value))
    assert err.field == "retention.reserve"
    assert says in err.message


def test_retention_values(tmp_path):
    # the edges of each range
    text = retention(min_retention='"1s"', max_retention='"3650d"', interval='"1s"', evidence_hold='"1s"',
                     allow_short_for_tests="true")
    r = load_config(write(tmp_path, text)).retention
    assert (r.min_retention_us, r.max_retention_us) == (1_000_000, 3650 * DAY)
    assert (r.interval_us, r.evidence_hold_us) == (1_000_000, 1_000_000)
    r = load_config(write(tmp_path, retention(interval='"1h"', evidence_hold='"3650d"'))).retention
    assert (r.interval_us, r.evidence_hold_us) == (3_600_000_000, 3650 * DAY)


def test_max_retention_floor_and_the_test_setting(tmp_path):
    err = error_for(tmp_path, retention(min_retention='"1s"', max_retention='"1h"'))
    assert err.field == "retention.max_retention" and "below the floor of 1d" in err.message
    assert "allow_short_for_tests" in err.message
    err = error_for(tmp_path, retention(grace='"10m"'))
    assert err.field == "retention.grace" and "out of range (allowed 1h to 30d" in err.message
    r = load_config(write(tmp_path, retention(min_retention='"1s"', max_retention='"1h"', grace='"1s"',
                                              allow_short_for_tests="true"))).retention
    assert (r.max_retention_us, r.grace_us, r.allow_short_for_tests) == (3600 * 10**6, 10**6, True)
    assert load_config(write(tmp_path, retention())).retention.grace_us == 24 * 3600 * 10**6


def test_min_equal_to_max_is_fine(tmp_path):
    r = load_config(write(tmp_path, retention(min_retention='"90d"', max_retention='"90d"'))).retention
    assert r.min_retention_us == r.max_retention_us == 90 * DAY


def test_max_shorter_than_min(tmp_path):
    err = error_for(tmp_path, retention(min_retention='"90d"', max_retention='"60d"'))
    assert err.field == "retention.max_retention"
    assert "60d is shorter than min_retention (90d)" in err.message


def test_max_shorter_than_default_min(tmp_path):
    err = error_for(tmp_path, retention(max_retention='"7d"'))
    assert err.field == "retention.max_retention"
    assert "7d is shorter than min_retention (30d, the default)" in err.message


def test_min_longer_than_default_max(tmp_path):
    # Only min_retention is in the file, so the error points there.
    err = error_for(tmp_path, retention(min_retention='"400d"'))
    assert err.field == "retention.min_retention"
    assert "400d is longer than max_retention (365d, the default)" in err.message


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("max_retention", '"3651d"', "out of range (allowed 1s to 3650d)"),
        ("max_retention", "365", "found integer 365"),
        ("evidence_hold", '"3651d"', "out of range"),
        ("interval", '"500ms"', "500ms is out of range (allowed 1s to 1h)"),
        ("interval", '"2h"', "out of range"),
        ("on_full", '"delete"', '"delete" is not a choice; use "overwrite"'),
        ("on_full", '"Overwrite"', "not a choice"),
        ("on_full", "true", 'expected "overwrite" or "stop", found boolean true'),
    ],
)
def test_bad_retention_values(tmp_path, key, value, says):
    err = error_for(tmp_path, retention(**{key: value}))
    assert err.field == f"retention.{key}"
    assert says in err.message


@pytest.mark.parametrize(
    "key, says",
    [
        ("min_days", 'did you mean "min_retention"? (a duration, e.g. "30d")'),
        ("max_days", 'did you mean "max_retention"?'),
        ("resrve", 'did you mean "reserve"?'),
    ],
)
def test_unknown_retention_key(tmp_path, key, says):
    err = error_for(tmp_path, retention(**{key: 30}))
    assert err.field == f"retention.{key}"
    assert err.message.startswith(
        "unknown key (known: min_retention, max_retention, reserve, on_full, interval, evidence_hold, grace, "
        "intake_share, allow_short_for_tests)"
    )


@pytest.mark.parametrize("value, says", [('"60%"', "out of range"), ('"0%"', "out of range"),
                                         ('"1GB"', 'such as "10%"'), (10, 'such as "10%"')])
def test_the_intakes_share_is_a_share_below_half_the_disk(tmp_path, value, says):
    """design/0384: the site's share of the data disk for portable cameras' files."""
    err = error_for(tmp_path, retention(intake_share=value))
    assert err.field == "retention.intake_share" and says in err.message
    assert RetentionConfig().intake_room(1000) == 100, "10 % by default"
    assert says in err.message


def test_retention_must_be_a_table(tmp_path):
    err = error_for(tmp_path, 'retention = "30d"\n' + MINIMAL)
    assert err.field == "retention"
    assert "expected a table" in err.message


# --- per-camera retention ---------------------------------------------------------------


def cams(site: str = "", *cameras: str) -> str:
    text = MINIMAL + ("[retention]\n" + site if site else "")
    for i, extra in enumerate(cameras):
        text += f'[[cameras]]\nid = "cam{i}"\nurl = "synthetic:"\n{extra}'
    return text


def test_camera_overrides_and_retention_for(tmp_path):
    text = cams(
        'min_retention = "30d"\nmax_retention = "180d"\n',
        "",
        'min_retention = "90d"\n',
        'max_retention = "60d"\n',
        'min_retention = "7d"\nmax_retention = "14d"\n',
    )
    cfg = load_config(write(tmp_path, text))
    assert [(c.min_retention_us, c.max_retention_us) for c in cfg.cameras] == [
        (None, None),
        (90 * DAY, None),
        (None, 60 * DAY),
        (7 * DAY, 14 * DAY),
    ]
    assert retention_for(cfg, "cam0") == (30 * DAY, 180 * DAY)
    assert retention_for(cfg, "cam1") == (90 * DAY, 180 * DAY)
    assert retention_for(cfg, "cam2") == (30 * DAY, 60 * DAY)
    assert retention_for(cfg, "cam3") == (7 * DAY, 14 * DAY)
    # footage of a camera removed from the config follows the site's rules
    assert retention_for(cfg, "gone") == (30 * DAY, 180 * DAY)
    assert "min_retention_us=604800000000" in repr(cfg.cameras[3])


def test_camera_max_below_site_min(tmp_path):
    err = error_for(tmp_path, cams('min_retention = "30d"\n', "", 'max_retention = "14d"\n'))
    assert err.field == "cameras[1].max_retention"
    assert (
        'shorter than camera "cam1"\'s min_retention (30d, from retention.min_retention)'
        in err.message
    )
    assert err.message.startswith("14d ")


def test_camera_max_below_default_min(tmp_path):
    err = error_for(tmp_path, cams("", 'max_retention = "14d"\n'))
    assert err.field == "cameras[0].max_retention"
    assert "(30d, from the default retention.min_retention)" in err.message


def test_camera_min_above_site_max(tmp_path):
    err = error_for(tmp_path, cams('max_retention = "60d"\n', 'min_retention = "90d"\n'))
    assert err.field == "cameras[0].min_retention"
    assert 'camera "cam0"\'s max_retention (60d, from retention.max_retention)' in err.message


def test_camera_own_min_above_own_max(tmp_path):
    err = error_for(tmp_path, cams("", "", 'min_retention = "20d"\nmax_retention = "10d"\n'))
    assert err.field == "cameras[1].max_retention"
    assert "10d is shorter than camera \"cam1\"'s min_retention (20d)" in err.message


def test_camera_override_can_fix_site_pair(tmp_path):
    # A camera may lower both bounds below the site's min.
    cfg = load_config(write(tmp_path, cams("", 'min_retention = "1d"\nmax_retention = "2d"\n')))
    assert retention_for(cfg, "cam0") == (DAY, 2 * DAY)


@pytest.mark.parametrize(
    "extra, field, says",
    [
        ('min_retention = "3651d"\n', "cameras[0].min_retention", "out of range"),
        ("max_retention = 30\n", "cameras[0].max_retention", "found integer 30"),
        ("min_days = 30\n", "cameras[0].min_days", 'did you mean "min_retention"'),
    ],
)
def test_bad_camera_retention(tmp_path, extra, field, says):
    err = error_for(tmp_path, cams("", extra))
    assert err.field == field
    assert says in err.message


# --- control socket ---------------------------------------------------------------------


def test_control_socket_default_follows_data_dir(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + '[storage]\ndata_dir = "footage"\n'))
    assert cfg.control.socket == tmp_path / "footage" / "control.sock"


def test_control_socket_absolute(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + '[control]\nsocket = "/run/edged/ctl.sock"\n'))
    assert cfg.control.socket == Path("/run/edged/ctl.sock")


def test_control_socket_relative_to_config_folder(tmp_path, monkeypatch):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    monkeypatch.chdir(tmp_path)
    path = write(conf_dir, MINIMAL + '[control]\nsocket = "./run/../ctl.sock"\n')
    assert load_config(path).control.socket == conf_dir / "ctl.sock"


def test_control_socket_relative_without_a_file_is_an_error():
    with pytest.raises(ConfigError) as info:
        parse_config({"site": {"id": "s"}, "control": {"socket": "ctl.sock"}})
    assert info.value.field == "control.socket"
    assert "absolute" in info.value.message


@pytest.mark.parametrize(
    "value, says",
    [
        ('""', "must not be empty"),
        ("1", "expected a string, found integer 1"),
        ('"/' + "s" * 120 + '"', "limited to 107 bytes"),
    ],
)
def test_bad_control_socket(tmp_path, value, says):
    err = error_for(tmp_path, MINIMAL + f"[control]\nsocket = {value}\n")
    assert err.field == "control.socket"
    assert says in err.message


def test_control_socket_with_nul():
    with pytest.raises(ConfigError) as info:
        parse_config({"site": {"id": "s"}, "control": {"socket": "/run/x\x00y"}})
    assert info.value.field == "control.socket"
    assert "NUL" in info.value.message


def test_unknown_control_key(tmp_path):
    err = error_for(tmp_path, MINIMAL + '[control]\npath = "/run/x.sock"\n')
    assert err.field == "control.path"
    assert "unknown key (known: socket, group)" in err.message
