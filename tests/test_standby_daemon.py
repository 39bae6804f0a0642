"""A standby box over a real mosquitto (issue 44 item 2, design/0107): kill -9 of the primary,
the standby records its camera within 10 s (the takeover is measured and printed); the primary
restarted, the standby stops once the primary has recorded again for `hold`, and the primary
fetches its gap back from the standby over mutual TLS with the certificates an office issued
both (design/0115), then what is still missing (the takeover itself) from the camera's own
recording (a Profile G camera: design/0106): its catalog has no gap over 1 s over the whole run,
and the office sees one gap-free record of the camera."""

from __future__ import annotations

import json
import subprocess
import time

from storage import datainit
from storage.disk.hashing import sha256_file
from storage.footage import from_standby
from storage.footage.segment_rows import COMPLETE
from storage.footage.spans import holes
from edged.rules import backfill
from tests.support.broker import Broker, Subscriber
from tests.support.central import Central
from tests.support.cameras import RtspServer, make_clip
from tests.support.catalog import audit_rows, node_value, rows
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.enrol import Office
from tests.support.cameras import free_port
from tests.support.profile_g import ProfileGServer, profile_g_camera
from storage.time.clock import SYSTEM
from storage.keys import nodecert, office_crl
from central.keys.crl_publish import publish_crl
from cryptography.hazmat.primitives import serialization
from types import SimpleNamespace

GOP_US = 200_000  # the camera's own recording: a keyframe every 0.2 s, so any stretch the rule asks for holds one
HOLD_S = 8  # [standby] hold, short for the test (the rule's own tests hold 30 s)


def daemon(tmp_path, name: str, port: int, cams: list[dict], extra: str = "", office: Office | None = None) -> Daemon:
    data = tmp_path / name / "data"
    if office is not None:  # made and enrolled before its first start, as a site installs a box
        datainit.init_data(data, "test", "tests/test_standby_daemon.py")
        office.enrol(data, "test", name)
    config = write_config(tmp_path / name / "edged.toml", data, cams, storage={"segment_length": "2s"})
    text = config.read_text().replace('id = "test"\n', f'id = "test"\nnode = "{name}"\n', 1)
    config.write_text(text + f'\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\nkeepalive = "5s"\n'
                      f'reconnect_max = "1s"\n{extra}')
    return Daemon(config, data, tmp_path / name / "edged.log", init_data=office is None)


def decodes(path) -> str:
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    return out.stderr or ("" if out.returncode == 0 else f"ffmpeg exited with {out.returncode}")


def test_standby_takes_over_a_killed_box_and_gives_it_back(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGED_PEER_POLL_S", "1")
    monkeypatch.setenv("EDGED_FOOTAGE_EVERY_S", "1")  # the office hears of footage at once, not in 10 min
    monkeypatch.setenv("EDGED_BACKFILL_POLL_S", "1")
    (tmp_path / "primary").mkdir(), (tmp_path / "spare").mkdir()
    clip = make_clip(tmp_path, fps=20, gop=20, seconds=10)
    broker = Broker(tmp_path / "broker").start()
    office, serve = Office(), free_port()
    central = Central(tmp_path, broker).start()
    recording_s = SYSTEM.now_us() // 1_000_000 - 600.0  # the camera's own recording began ten minutes ago
    with RtspServer({"door": f"clip:{clip.video}@20"}) as cameras, \
            ProfileGServer(recording_s, fps=10, gop=GOP_US * 10 // 1_000_000) as replay:
        onvif = profile_g_camera(replay, cameras.url("door"))
        door = {"id": "door", "url": cameras.url("door").replace("rtsp://", f"rtsp://{onvif.user}:{onvif.password}@"),
                "onvif": f"127.0.0.1:{onvif.port}", "edge_recording": True}
        primary = daemon(tmp_path, "primary", broker.port, [door],
                         f'\n[backfill]\nstandby = "127.0.0.1:{serve}"\n', office)
        spare = daemon(tmp_path, "spare", broker.port, [{**door, "box": "primary"}],
                       f'\n[standby]\nfor = ["primary"]\nhold = "{HOLD_S}s"\n\n[backfill]\nlisten = "127.0.0.1:{serve}"\n',
                       office)
        heard = Subscriber(broker, "edged/v1/+/primary/status").start()
        primary.start(), spare.start()
        began = None
        try:
            began = wait_for(lambda: primary.segments("door"), 30, "the primary recording")[0]["start_us"]
            wait_for(lambda: json.loads(node_value(spare, "standby") or "{}").get("for") == ["primary"], 30,
                     "the standby watching")
            assert not spare.segments("door"), "the standby recorded the camera of a box that is there"
            # the primary's "online" on the broker (the standby subscribes to it): killed before the
            # standby heard a word of it, it would be stood in for as "never heard", not "offline"
            wait_for(lambda: any(m.payload == b"online" for m in heard.messages), 60, "the primary online")
            # the office revokes a box (serial 999) and publishes its list as the office does: the
            # standby keeps it, to check every box against before serving it (design/0115)
            crl = nodecert.make_crl(office.key, office.ca, [(999, began)], SYSTEM.now_us())
            publish_crl(SimpleNamespace(host="127.0.0.1", port=broker.port, client_id="office", username=None,
                                        password=None, tls_ca_file=None), crl.public_bytes(serialization.Encoding.PEM))
            kept = wait_for(lambda: office_crl.read(spare.data_dir), 10, "the standby keeping the office's CRL")
            assert kept.get_revoked_certificate_by_serial_number(999) is not None
            primary.kill_all()
            killed = time.monotonic()
            wait_for(lambda: spare.segments("door"), 10, "the standby's first segment of the killed box's camera",
                     interval=0.05)
            takeover = time.monotonic() - killed
            print(f"\ntakeover: kill -9 to the standby's first segment {takeover:.2f} s")
            assert spare.camera("door")["box"] == "primary"
            wait_for(lambda: spare.camera("door")["state"] == "recording", 10, "the standby's door shown recording")
            spell = rows(spare, "standins")
            assert [(s["box"], s["recorded_by"], s["why"], s["ended_us"]) for s in spell] == [
                ("primary", "spare", "offline", None)]
            assert [a["action"] for a in audit_rows(spare) if a["action"].startswith("standby.")] == ["standby.start"]
            status = subprocess.run([*spare.ctl, "status"], capture_output=True, text=True, timeout=30)
            assert "STANDING IN for primary" in status.stdout, status.stdout + status.stderr

            primary.init_data = False
            primary.start()
            back = wait_for(lambda: [s for s in primary.segments("door") if s["start_us"] > spell[0]["started_us"]],
                            40, "the primary recording again")[0]
            ended = wait_for(lambda: rows(spare, "standins")[0]["ended_us"], HOLD_S + 25, "the standby to stop")
            print(f"standby stopped {(ended - back['start_us']) / 1e6:.1f} s after the primary's first segment "
                  f"(hold {HOLD_S} s)")
            assert ended - back["start_us"] < (HOLD_S + 4) * 1e6  # the hold, a tick, a segment's first frame
            wait_for(lambda: spare.camera("door")["state"] == "disabled", 10, "the standby's door at rest")
            done = [s for s in spare.segments("door") if s["state"] == COMPLETE]
            assert done and all(decodes(spare.data_dir / s["path"]) == "" for s in done)

            # the primary fetches its gap back from the standby, hash-checked, beside its own footage
            (gap,) = [g for g in primary.gaps("door") if g["from_us"] < spell[0]["started_us"] < g["to_us"]]
            wait_for(lambda: primary.gaps("door")[0]["standby"] == from_standby.DONE, 30,
                     "the primary's gap fetched from the standby")
            got = [s for s in primary.segments("door") if s["source"] == "standby"]
            theirs = {s["sha256"]: s for s in done}
            # each whole as the standby hashed it, or cut at its keyframes from one it hashed (design/0158)
            cut_of = {json.loads(a["detail"])["segment"]: json.loads(a["detail"]).get("cut_of")
                      for a in audit_rows(primary, from_standby.ACTION)}
            assert got and all((cut_of[s["path"]] or s)["sha256"] in theirs
                               and sha256_file(primary.data_dir / s["path"]) == s["sha256"] for s in got), (got, cut_of)
            print(f"from the standby: {len(got)} segments, {sum(1 for s in got if cut_of[s['path']])} cut to what "
                  "the box lacked")
            assert all(decodes(primary.data_dir / s["path"]) == "" for s in got)
            assert len(audit_rows(primary, from_standby.ACTION)) == len(got)
            # then what is still missing (the takeover) from the camera's own recording, never over what it holds:
            # each stretch the rule asks of the camera (at least backfill.MIN_US) is filled from its first keyframe
            held = [(s["start_us"], s["end_us"]) for s in primary.segments("door")  # the backfill may be at work
                    if s["state"] == COMPLETE and s["source"] != "backfilled"]
            asked = backfill.missing(gap["from_us"], gap["to_us"], held)
            wait_for(lambda: [g for g in primary.gaps("door") if g["id"] == gap["id"]][0]["backfill"] == "done", 60,
                     "the rest of the primary's gap fetched from the camera's recording\n" + primary.log[-2000:])
            segs = primary.segments("door")
            card = [s for s in segs if s["source"] == "backfilled"]
            assert all(decodes(primary.data_dir / s["path"]) == "" for s in card)
            for a, b in asked:  # the camera's recording has a keyframe every GOP_US: all but that much is fetched
                inside = [s for s in card if a <= s["start_us"] and s["end_us"] <= b]
                assert inside and min(s["start_us"] for s in inside) - a <= GOP_US + 100_000, (a, b, card)
                assert not holes(min(s["start_us"] for s in inside), b, [(s["start_us"], s["end_us"]) for s in inside],
                                 200_000), (a, b, inside)
            assert bool(card) == bool(asked), (asked, card)
            assert all(gap["from_us"] <= s["start_us"] and s["end_us"] <= gap["to_us"] for s in card), (card, gap)
            for s in card:  # beside the footage held, never over it
                assert not [o for o in segs if o["source"] != "backfilled" and o["start_us"] < s["end_us"]
                            and o["end_us"] > s["start_us"]], s
            # one copy: no instant of the camera catalogued twice on the box (one picture's slack)
            placed = sorted((s["start_us"], s["end_us"], s["source"]) for s in segs if s["state"] == COMPLETE)
            twice = [(x, y) for x, y in zip(placed, placed[1:]) if y[0] < x[1] - 50_000]
            assert twice == [], twice
            end = max(s["end_us"] for s in segs if s["state"] == COMPLETE)  # the whole run, up to now
            spans = [(s["start_us"], s["end_us"]) for s in segs]
            left = holes(began, end, spans, 1_000_000)
            first = min(s["start_us"] for s in done)
            widest = max((b - a for a, b in holes(began, end, spans)), default=0)
            print(f"primary after backfill from the standby and the camera: largest gap {widest / 1e3:.1f} ms over "
                  f"{(end - began) / 1e6:.0f} s (the takeover was {(first - gap['from_us']) / 1e6:.2f} s; "
                  f"{len(got)} segments from the standby, {len(card)} from the camera)")
            assert left == [], left

            # the office counts the camera's time once, whichever box holds it: one gap-free record,
            # the minutes both hold not counted twice, the camera's recording as its own kind
            def office():
                c = central.json("coverage", "--site", "test", "--camera", "door", "--hours", "1")
                inside = [h for h in c["holes"] if began < h[0] < end]  # before: the office never heard (design/0095)
                return c if set(c["by_node"]) == {"test/primary", "test/spare"} and c["by_kind"].get("standby") \
                    and bool(c["by_kind"].get("backfilled")) == bool(card) and not inside else None
            seen = wait_for(office, 30, "the office's gap-free coverage of both boxes")
            print(f"office: {seen['covered_us'] / 1e6:.1f} s covered once, by kind {seen['by_kind']}, held twice "
                  f"{seen['held_twice_us'] / 1e6:.1f} s")
            assert seen["held_twice_us"] > 0 and seen["covered_us"] < sum(seen["by_node"].values())
        finally:
            for d in (primary, spare):
                if d.proc is not None and d.proc.poll() is None:
                    d.stop()
            central.stop()
            heard.stop()
            broker.stop()
            onvif.stop()
