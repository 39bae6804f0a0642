"""One duration grammar (storage/time/duration.py, issue 41): edged's config, edgectl's options and
edged-central's config read a duration the same way, and refuse the same things."""

from __future__ import annotations

import pytest

from central.config import ConfigError as CentralConfigError
from central.config import parse_duration as central_duration
from edged.config import ConfigError, parse_duration
from storage.time import duration

S = 1_000_000


@pytest.mark.parametrize("text, us", [
    ("60s", 60 * S), ("500ms", 500_000), ("1h30m", 5400 * S), ("1.5s", 1_500_000), ("7d", 7 * 86400 * S),
    ("250us", 250), (" 5m ", 300 * S), ("1d12h", 36 * 3600 * S),
])
def test_edged_and_central_read_a_duration_alike(text, us):
    assert parse_duration(text, "storage.segment_length") == central_duration(text, "verify.interval") == us
    assert duration.parse(duration.format(us)) == us  # what is shown reads back


@pytest.mark.parametrize("value, says", [
    ("60", "write a number with a unit"), (60, "with a unit"), (1.5, "with a unit"), (True, "with a unit"),
    ("", "is empty"), ("-5s", "negative"), ("0s", "zero"), ("30m1h", "largest to smallest"),
    ("1.0000001s", "finer than a microsecond"), ("5 m", "not a duration"), ("soon", "not a duration"),
])
def test_both_refuse_the_same_with_the_field_named(value, says):
    with pytest.raises(ConfigError, match=says) as edged_error:
        parse_duration(value, "recorder.read_timeout")
    assert edged_error.value.field == "recorder.read_timeout"
    with pytest.raises(CentralConfigError, match=says) as central_error:
        central_duration(value, "verify.gap_grace")
    assert central_error.value.where == "verify.gap_grace"
