"""No false alarm at a takeover (issue 55 item 5, design/0156): a standby over a real mosquitto
takes a box's camera after a kill -9 of the box, gives it back, and takes it again at the box's
graceful stop. A stood-in camera's offline grace runs from the moment the standby takes it, not
from when its last spell ended (the standby's own "outage" while it was at rest): no
`camera_offline` on the standby within a grace of either takeover, nor on the box at its graceful
stop, even with the camera slow to answer the standby (down for the first seconds of the second
spell; one raised a grace after the takeover is the camera down that long, on a busy box)."""

from __future__ import annotations

from edged.daemon.recording.supervisor import HEARTBEAT_S, OFFLINE_ALARM_S, STATS_FLUSH_S
from storage.alarm_kinds import CAMERA_OFFLINE
from tests.support.broker import Broker
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import alarms, node_value, rows
from tests.support.daemon import Daemon, wait_for, write_config

HOLD_S = 4
# what a recording camera's row says: "degraded" once its first picture is checked, for the test
# clip's 320x240 is below the floor (edged/rules/health.py camera_state)
RECORDING = ("recording", "degraded")


def daemon(tmp_path, name: str, port: int, cams: list[dict], extra: str = "") -> Daemon:
    data = tmp_path / name / "data"
    config = write_config(tmp_path / name / "edged.toml", data, cams, storage={"segment_length": "2s"},
                          recorder={"reconnect_max": "500ms"})
    text = config.read_text().replace('id = "test"\n', f'id = "test"\nnode = "{name}"\n', 1)
    config.write_text(text + f'\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\nkeepalive = "5s"\n'
                      f'reconnect_max = "1s"\n{extra}')
    return Daemon(config, data, tmp_path / name / "edged.log")


def offline(d: Daemon) -> list[dict]:
    return alarms(d, lambda r: r["kind"] == CAMERA_OFFLINE.name)


def test_no_camera_offline_at_a_takeover_or_a_graceful_stop(tmp_path):
    # the offline judge runs every STATS_FLUSH_S: a camera down for that plus a heartbeat after the
    # takeover has been judged at least once, still inside its grace
    judged_s = STATS_FLUSH_S + HEARTBEAT_S
    assert judged_s + 1 < OFFLINE_ALARM_S
    (tmp_path / "primary").mkdir(), (tmp_path / "spare").mkdir()
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    broker = Broker(tmp_path / "broker").start()
    with RtspServer({"door": f"clip:{clip.video}@20"}) as cameras:
        door = {"id": "door", "url": cameras.url("door")}
        primary = daemon(tmp_path, "primary", broker.port, [door])
        spare = daemon(tmp_path, "spare", broker.port, [{**door, "box": "primary"}],
                       f'\n[standby]\nfor = ["primary"]\nhold = "{HOLD_S}s"\n')
        primary.start(), spare.start()
        try:
            wait_for(lambda: primary.segments("door"), 30, "the primary recording")
            wait_for(lambda: (spare.camera("door") or {}).get("state") == "disabled", 30, "the standby's door at rest")

            primary.kill_all()                       # a takeover after a kill -9
            wait_for(lambda: len(rows(spare, "standins")) == 1, 20, "spell 1 begun")
            wait_for(lambda: spare.camera("door")["state"] in RECORDING, 20, "spell 1: the standby recording")
            primary.init_data = False
            primary.start()
            ended = wait_for(lambda: rows(spare, "standins")[-1]["ended_us"], HOLD_S + 40, "spell 1 ended")
            wait_for(lambda: spare.camera("door")["state"] == "disabled", 10, "the standby's door at rest")
            # at rest for longer than the grace (the standby's own outage, were it one) ...
            wait_for(lambda: [s for s in primary.segments("door") if s["start_us"] > ended + 2 * OFFLINE_ALARM_S * 1e6],
                     2 * OFFLINE_ALARM_S + 20, "the primary recording on")
            # ... then the camera is down a moment and the primary stops gracefully: the second takeover
            cameras.stop()
            assert primary.stop() == 0, primary.log[-3000:]
            wait_for(lambda: len(rows(spare, "standins")) == 2, 20, "spell 2 begun")
            began = rows(spare, "standins")[-1]["started_us"]
            wait_for(lambda: int(node_value(spare, "heartbeat_us") or 0) > began + judged_s * 1e6, judged_s + 10,
                     "the standby judged the camera down in its grace")
            assert spare.camera("door")["state"] not in RECORDING
            cameras.start()
            wait_for(lambda: spare.camera("door")["state"] in RECORDING, 20, "spell 2: the standby recording")
            wait_for(lambda: int(node_value(spare, "heartbeat_us") or 0) > began + 2 * OFFLINE_ALARM_S * 1e6,
                     2 * OFFLINE_ALARM_S + 10, "the standby judged it recording")
        finally:
            for d in (primary, spare):
                if d.proc is not None and d.proc.poll() is None:
                    d.stop()
            broker.stop()
    # The grace runs from each takeover: an alarm counted from the end of the spell before (the
    # standby's rest, longer than twice the grace) would be raised at the first judgement of a
    # spell, within STATS_FLUSH_S of its start. One raised a grace after a spell began is the
    # camera really down that long (a busy box slow to bring it back in spell 2), no false alarm.
    spells = rows(spare, "standins", order="started_us")
    for alarm in offline(spare):
        began = max((s["started_us"] for s in spells if s["started_us"] <= alarm["raised_us"]), default=None)
        assert began is not None and alarm["raised_us"] - began >= OFFLINE_ALARM_S * 1e6, (alarm, spells)
    assert offline(primary) == [], offline(primary)
