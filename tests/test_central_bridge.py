"""A regional broker bridged to the office's (issue 43 item 5, docs/ref/central.md "A fleet"): a
real edged node publishes to a regional mosquitto whose persistent bridge (QoS 1, cleansession
false, its queue saved on every change) carries everything to the office's mosquitto, where
edged-central listens. The regional broker is killed (SIGKILL) mid-run and started again: the
office ends with every message the node sent, in one unbroken run of seqs, verified to the last
one, and no gap finding; the office's signed time goes in through the region and the box answers it.
The region's mosquitto.conf is the page's own block."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Callable, TypeVar

from central.keys import ca
from tests.support.broker import Broker
from tests.support.cameras import RtspServer
from tests.support.catalog import audit_top, central_audit_top, central_clock_answers, central_seqs
from tests.support.daemon import wait_for
from tests.support.people import People
from tests.test_central import SITE, Central, _outbox, clip, node, status_nodes  # noqa: F401  (clip: a fixture)


T = TypeVar("T")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "ref" / "central.md"
# what the test's own set-up changes in the docs' block: Broker(persistence=True) writes the persistence
# lines into its folder, the office listens on 127.0.0.1 without TLS, and the back-off stays at 1 s
OURS = ("persistence", "persistence_location", "max_queued_messages", "bridge_cafile", "restart_timeout")


def regional_broker(folder: Path, office: Broker) -> Broker:
    """The region's broker as docs/ref/central.md "A fleet" writes it, read from that page's block
    (persistent, its bridge queue saved on every change, the boxes' topics bridged out at QoS 1
    under a session the office keeps, the office's commands and revocation list bridged in)."""
    text = DOCS.read_text()
    block = text[text.index("*The regional brokers*"):]
    block = block[block.index("```") + 3:]
    lines = [line.strip() for line in block[:block.index("```")].splitlines()]  # its comments too
    lines = [line for line in lines if line and line.split()[0] not in OURS]
    assert any(line.startswith("topic edged/v1/+/+/cmd/+ in 1") for line in lines), lines
    lines = [f"address 127.0.0.1:{office.port}" if line.startswith("address ") else line for line in lines]
    return Broker(folder, persistence=True, extra=[*lines, "restart_timeout 1", "keepalive_interval 5"])


def _kill(broker: Broker) -> None:
    assert broker.proc is not None
    os.kill(broker.proc.pid, signal.SIGKILL)
    broker.proc.wait(10)
    broker.proc = None


def _central_read(central: Central, read: Callable[[sqlite3.Connection, str], T], name: str, default: T) -> T:
    """`read` of the office's store for node `name`, or `default` while the store cannot be read."""
    try:
        with sqlite3.connect(central.config.parent / "central-data" / "central.db", timeout=5) as c:
            return read(c, name)
    except sqlite3.Error:
        return default


def _central_seqs(central: Central, name: str) -> list[int]:
    return _central_read(central, central_seqs, name, [])


def _central_audit(central: Central, name: str) -> int:
    return _central_read(central, central_audit_top, name, 0)


def _central_clock_answers(central: Central, name: str) -> int:
    return _central_read(central, central_clock_answers, name, 0)


def test_a_regional_broker_killed_mid_run_loses_nothing(tmp_path, clip):
    # persistence at the office too: its session for edged-central outlives the office's restart
    office = Broker(tmp_path / "office", persistence=True).start()
    regional = regional_broker(tmp_path / "regional", office)
    central = None
    name = f"{SITE}/n1"
    try:  # every part stopped whatever fails (a failed wait left the office's broker and edged-central running)
        regional.start()
        office_key = ca.central_key(tmp_path / "central-data")  # the box obeys what it signs: its time, its resends
        central = Central(tmp_path, office).start()
        with RtspServer({"cam": f"clip:{clip.video}@20"}) as cameras:
            n1 = node(tmp_path, "n1", cameras.url("cam"), regional, command_key=office_key.public_b64).start()
            try:
                before = _through_the_region(central, name, office, regional, n1, tmp_path)
            finally:
                n1.stop()
                regional.stop()
        wait_for(lambda: (n := status_nodes(central).get(name)) and n["verified_seq"] == n["max_seq"], 30,
                 "the office's verification up to the last seq")
        seqs = _central_seqs(central, name)
        assert seqs[0] <= before[0]
        missing = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
        assert not missing, f"lost on the way through the region: {missing}"
        assert not central.findings("seq_gap", name) and not central.findings("malformed_message")
        assert "Traceback" not in central.log_path.read_text()
    finally:
        if central is not None:
            central.stop()
        regional.stop()
        office.stop()


def _through_the_region(central: Central, name: str, office: Broker, regional: Broker, n1, tmp_path: Path) -> list[int]:
    """The office down, the region queueing, the region killed and started again: every seq at the office in
    the end, and the office's time answered across the bridge; the seqs the office held before."""
    wait_for(lambda: status_nodes(central).get(name, {}).get("recording") == 1, 60,
             "the node up and recording at the office, through the bridge")
    before = wait_for(lambda: _central_seqs(central, name), 30, "durable messages at the office")
    # the office's link down: the region acknowledges the node's messages and queues them for the bridge
    office.stop()
    people = People(n1.config, tmp_path / "n1")
    for who, role in (("carol", "custodian"), ("alice", "approver")):
        people.add(who, role)  # audit records: durable messages
    said = audit_top(n1)
    outbox = n1.data_dir / "outbox.db"
    wait_for(lambda: not _outbox(outbox), 40, "the node's outbox taken by the region")
    _kill(regional)  # with the messages only in its queue
    regional.start()
    office.start()
    wait_for(lambda: _central_audit(central, name) >= said, 60, "the audit records queued in the region at the office")
    # mosquitto acknowledges a message before its next save (its issue 1855): a SIGKILL in that moment
    # loses what it acknowledged last, and the office asks the box for the gap (design/0116), which
    # the box, still up, sends again from its outbox's history
    wait_for(lambda: (seqs := _central_seqs(central, name)) and len(seqs) == seqs[-1] - seqs[0] + 1
             and (n := status_nodes(central).get(name)) and n["verified_seq"] == n["max_seq"], 60,
             "every seq at the office, any gap asked for and sent again")
    # the office's signed time went in through the region and the box's answer came out
    wait_for(lambda: _central_clock_answers(central, name), 90, "the box's answer to the office's time")
    return before
