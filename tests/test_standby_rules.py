"""A standby's decision, pure (issue 44 item 2, design/0107): which boxes it stands in for, from
what it has heard of them and the time; and its [standby] config."""

from __future__ import annotations

import pytest

from edged.daemon.standby import standing_in
from edged.rules.standby import HEARTBEAT_US, BoxSeen, CameraSeen, stand_in_for
from tests.support.configs import error_for, write
from edged.config import load_config

S = 1_000_000
SILENCE, HOLD = 10 * S, 30 * S
T = 1_000 * S  # now, in most rows
CAMS = {"node1": frozenset({"a", "b"})}


def rec(since=None, seen=T - S, recording=True) -> CameraSeen:
    return CameraSeen(recording, since, seen)


LEFT = T - 200 * S  # when it was seen going, in most rows
ONLINE_LONG = BoxSeen("online", T - 100 * S, T - S, {"a": rec(T - 90 * S), "b": rec(T - 90 * S)}, LEFT)

CASES = [
    # (what it heard of node1, standing before, now, expected {box: why})
    ("online and recording, not standing: nothing", ONLINE_LONG, set(), T, {}),
    ("its last will says offline: at once", BoxSeen("offline", None, T - S), set(), T, {"node1": "offline"}),
    ("offline, standing: stays", BoxSeen("offline", None, T - 50 * S), {"node1"}, T, {"node1": "offline"}),
    ("never heard, under silence since the watch began: not yet", BoxSeen(), set(), 5 * S, {}),
    ("never heard for silence: in doubt, record", BoxSeen(), set(), SILENCE, {"node1": "never heard"}),
    ("online, heard within its heartbeat: there", BoxSeen("online", T - 200 * S, T - HEARTBEAT_US,
                                                          ONLINE_LONG.cameras), set(), T, {}),
    ("online but silent past heartbeat + silence: gone",
     BoxSeen("online", T - 200 * S, T - HEARTBEAT_US - SILENCE, ONLINE_LONG.cameras), set(), T, {"node1": "silent"}),
    ("back and recording for hold: standby stops", ONLINE_LONG, {"node1"}, T, {}),
    ("back, recording under hold: waits",
     BoxSeen("online", T - 100 * S, T - S, {"a": rec(T - 20 * S), "b": rec(T - 20 * S)}, LEFT), {"node1"}, T,
     {"node1": "waiting"}),
    ("back for long, one camera not recording: waits",
     BoxSeen("online", T - 100 * S, T - S, {"a": rec(T - 90 * S), "b": rec(T - 90 * S, recording=False)}),
     {"node1"}, T, {"node1": "waiting"}),
    ("back, one camera not heard yet: waits",
     BoxSeen("online", T - 100 * S, T - S, {"a": rec(T - 90 * S)}), {"node1"}, T, {"node1": "waiting"}),
    ("back, camera word retained from before it went: waits",
     BoxSeen("online", T - 40 * S, T - S, {"a": rec(T - 900 * S, seen=T - 50 * S), "b": rec(T - 900 * S)}),
     {"node1"}, T, {"node1": "waiting"}),
    ("a since from before it went (its last run's word, or a clock far behind): from when it came online",
     BoxSeen("online", T - 20 * S, T - S, {"a": rec(T - 900 * S), "b": rec(T - 900 * S)}, LEFT), {"node1"}, T,
     {"node1": "waiting"}),
    ("its clock ahead: counted from its word (longer overlap)",
     BoxSeen("online", T - 100 * S, T - S, {"a": rec(T + 5 * S), "b": rec(T - 90 * S)}, LEFT), {"node1"}, T,
     {"node1": "waiting"}),
    ("it recorded before its MQTT link was up: counted from its since",
     BoxSeen("online", T - 10 * S, T - S, {"a": rec(T - 31 * S), "b": rec(T - 30 * S)}, T - 60 * S), {"node1"}, T, {}),
    ("when it went is not known (the standby began while it was away): from when it came online",
     BoxSeen("online", T - 20 * S, T - S, {"a": rec(T - 90 * S), "b": rec(T - 90 * S)}), {"node1"}, T,
     {"node1": "waiting"}),
    ("no since given: from when it came online", BoxSeen("online", T - HOLD, T - S, {"a": rec(), "b": rec()}),
     {"node1"}, T, {}),
]


@pytest.mark.parametrize("seen, standing, now, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_stand_in_for(seen, standing, now, expected):
    assert stand_in_for({"node1": seen}, CAMS, frozenset(standing), now, 0, SILENCE, HOLD) == expected


def test_each_box_on_its_own():
    cams = {"node1": frozenset({"a"}), "node2": frozenset({"c"})}
    seen = {"node1": BoxSeen("offline", None, T), "node2": BoxSeen("online", T - 100 * S, T, {"c": rec(T - 90 * S)})}
    assert stand_in_for(seen, cams, frozenset(), T, 0, SILENCE, HOLD) == {"node1": "offline"}



CONFIG = """
[site]
id = "s1"
node = "spare"

[mqtt]
enabled = true
host = "127.0.0.1"

[standby]
for = ["node1"]

[[cameras]]
id = "own"
url = "rtsp://10.0.0.9/own"

[[cameras]]
id = "door"
url = "rtsp://10.0.0.10/door"
box = "node1"
"""


def test_config_rests_until_standing(tmp_path):
    cfg = load_config(write(tmp_path, CONFIG))
    assert cfg.standby.boxes == ("node1",) and cfg.standby.silence_us == SILENCE and cfg.standby.hold_us == HOLD
    assert [(c.id, c.enabled) for c in cfg.cameras] == [("own", True), ("door", False)]
    assert cfg.standby.cameras_of() == {"node1": frozenset({"door"})}
    on = standing_in(cfg, frozenset({"node1"}))
    assert [(c.id, c.enabled, c.box) for c in on.cameras] == [("own", True, None), ("door", True, "node1")]
    assert [c.enabled for c in standing_in(on, frozenset()).cameras] == [True, False]


@pytest.mark.parametrize("text, where, words", [
    (CONFIG.replace('box = "node1"', 'box = "node7"'), "cameras[1].box", "not a box [standby] stands in for"),
    (CONFIG.replace('for = ["node1"]', 'for = ["spare"]').replace('box = "node1"', ""), "standby.for",
     "cannot stand in for itself"),
    (CONFIG.replace("enabled = true", "enabled = false"), "standby.for", "enable [mqtt]"),
    (CONFIG.replace('for = ["node1"]', 'for = "node1"'), "standby.for", "expected a list"),
])
def test_config_errors(tmp_path, text, where, words):
    err = error_for(tmp_path, text)
    assert where in str(err) and words in str(err)


class Clock:
    def __init__(self, now_us: int):
        self.now = now_us

    def now_us(self) -> int:
        return self.now


def test_what_the_standby_hears_becomes_what_it_has_seen(tmp_path):
    from edged.daemon.standby import Standby

    cfg = load_config(write(tmp_path, CONFIG))
    clock = Clock(T)
    sb = Standby(cfg, None, None, clock)  # type: ignore[arg-type]  # heard() touches neither writer nor supervisor
    assert sb.watch == ("edged/v1/s1/node1/status", "edged/v1/s1/node1/state", "edged/v1/s1/node1/camera/+/state")
    sb.heard("edged/v1/s1/node1/status", b"online")
    sb.heard("edged/v1/s1/node1/camera/door/state", b'{"recording": true, "since_us": 5}')
    sb.heard("edged/v1/s1/other/status", b"offline")   # not a box it stands in for
    sb.heard("edged/v1/s2/node1/status", b"offline")   # another site
    assert sb.seen["node1"].status == "online" and sb.seen["node1"].online_us == T
    assert sb.seen["node1"].cameras["door"] == CameraSeen(True, 5, T)
    clock.now = T + S
    sb.heard("edged/v1/s1/node1/status", b"offline")
    assert sb.seen["node1"].left_us == T + S and sb.seen["node1"].online_us is None
    clock.now = T + 5 * S
    sb.heard("edged/v1/s1/node1/status", b"online")
    assert sb.seen["node1"].online_us == T + 5 * S and sb.seen["node1"].left_us == T + S
    # silent past its heartbeat while its connection stayed up: back now, gone since last heard
    clock.now = T + 5 * S + HEARTBEAT_US + SILENCE
    sb.heard("edged/v1/s1/node1/state", b"{}")
    assert sb.seen["node1"].online_us == clock.now and sb.seen["node1"].left_us == T + 5 * S
