"""What the daemon tells the central office: it feeds mqtt.Reporter (issue 4, docs/requirements.md "MQTT").

Retained: birth at start, `state` every minute and when it changes, each camera's state when
it changes and otherwise once a `[mqtt] camera_heartbeat` (a steady camera is one message a
minute, not ten: camera states were 90 % of a node's traffic). Durable (outbox, QoS 1): alarms as they are raised and cleared (hooked
into edged.alarms), every audit record (and after one that flags a request, its `ethics` notice) and destruction record, read from the catalog
after a persisted marker so none is skipped or sent twice across restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from edged import __version__
from edged.version import package_version
from edged.config import Config
from edged.rules import audit_words, ethics, intakes
from edged.rules.roles import Actor
from mqtt import kinds
from mqtt.reporter import Reporter
from storage import audit
from storage.health import alarms as alarm_table
from storage.keys import chainhead
from storage import cameras as camera_table
from storage import node as node_table
from storage.states.cameras import DEGRADED, RECORDING
from storage.catalog import Catalog, CatalogWriter
from storage.export import evidence as export, receipt as export_receipt
from storage.people import retrieval_store
from storage.time.clock import wait_or_stop, Clock, SYSTEM
from storage.time.readings import reported
from storage.keys.nodekey import NodeKey
from edged.daemon.host_clock import boot as host_boot
from storage.outbox import OutboxError
from storage.retention.report import (FIRST_KEY, FOOTAGE_KEY, SPANS_KEY, destructions_after, footage_since, judged_on_clock,
                                      retention_report)

if TYPE_CHECKING:  # types only: the composition root (edged/app.py) builds them
    from edged.daemon.retention_runner import RetentionRunner
    from edged.daemon.recording.supervisor import Supervisor

log = logging.getLogger(__name__)

STATE_EVERY_S = 60.0
POLL_S = 2.0          # audit and destruction records go out within this long
CAMERAS_EVERY = 3     # ticks: camera states every 6 s
STATE_CHECK_EVERY = 8  # ticks: the site state is recomputed every 16 s (sent on change, else each minute)
# The signed audit chain head goes out at most every [mqtt] chain_head (a minute) when it moved ...
CHAIN_HEAD_QUIET_S = 900.0  # ... and every 15 minutes even when it did not
BATCH = 500
# A camera's running figures: they move every pass, so a change of them alone waits for the
# heartbeat; their appearing or going away (None) is a change.
FIGURES = ("fps", "bitrate", "last_frame_us")


def camera_state_due(sent: dict[str, Any] | None, new: dict[str, Any], sent_at_us: int, now_us: int,
                     heartbeat_us: int) -> bool:
    """Whether a camera's state goes out now: the first one, any change but the figures', or the
    heartbeat since the last one sent."""
    if sent is None or now_us - sent_at_us >= heartbeat_us or now_us < sent_at_us:
        return True
    for key in new.keys() | sent.keys():
        a, b = sent.get(key), new.get(key)
        if key in FIGURES:
            if (a is None) != (b is None):
                return True
        elif a != b:
            return True
    return False


FOOTAGE_EVERY_S = float(os.environ.get("EDGED_FOOTAGE_EVERY_S", "600"))  # the office hears of footage within 10 min (tests: less)


# a pass's message stays far below the office's 64 KiB a message (central/intake/schema.py)
DESTRUCTIONS_PER_MESSAGE = 64
_DESTRUCTION = ("camera", "start_us", "end_us", "path", "bytes", "sha256", "reason", "destroyed_us", "pass_id",
                "free_before", "reserve", "segment_id")


def retention_messages(gone: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Destructions (in id order) as the durable `retention` messages that report them: one a
    retention pass, of at most DESTRUCTIONS_PER_MESSAGE (issue 53, design/0137: one message a
    destroyed segment was four in five of what a box sent), each destruction as it was sent alone."""
    out: list[dict[str, Any]] = []
    for pass_id, group in itertools.groupby(gone, key=lambda g: g["pass_id"]):
        ds = [{**{k: g[k] for k in _DESTRUCTION}, **reported(g)}  # its readings as made, and its shift
              for g in group]  # (design/0059): storage/time/readings.py, which the office reads them with
        for i in range(0, len(ds), DESTRUCTIONS_PER_MESSAGE):
            out.append({"pass_id": pass_id, "destructions": ds[i:i + DESTRUCTIONS_PER_MESSAGE]})
    return out


def config_hash(cfg: Config) -> str:
    source = Path(cfg.source)
    data = source.read_bytes() if source.is_file() else repr(cfg).encode()
    return hashlib.sha256(data).hexdigest()


class Reporting:
    def __init__(self, cfg: Config, writer: CatalogWriter, sup: Supervisor, runner: RetentionRunner,
                 commands: dict[str, Callable[[dict[str, Any], Any], Awaitable[Any]]],
                 on_outbox_full: Callable[[bool], None] | None = None, node_key: NodeKey | None = None,
                 clock: Clock = SYSTEM, on_office_time: Callable[..., None] | None = None,
                 time_sources: Callable[[], list[str]] = lambda: [], clock_dispute: Callable[[], str] = lambda: ""):
        self.cfg = cfg
        self.clock = clock
        self.writer = writer
        self.sup = sup
        self.runner = runner
        self.reporter = Reporter(cfg.mqtt, cfg.site.id, cfg.site.node, cfg.storage.data_dir, commands=commands,
                                 on_outbox_full=on_outbox_full, on_command_record=self._record_command,
                                 clock=clock, on_office_time=on_office_time,
                                 sign_answer=None if node_key is None else node_key.sign, boot=host_boot()[0],
                                 on_receipt=self._receipt)
        self._keeping: set[asyncio.Task[None]] = set()  # receipts being kept (design/0318)
        self.receipt_kept: Callable[[str], None] = lambda digest: None  # wakes who waits for it (design/0375)
        self.time_sources = time_sources  # what can corroborate the host clock (design/0095): in the birth
        self.clock_dispute = clock_dispute  # while it says why, retention achieved cannot be judged (design/0372)
        self._last_state: str | None = None
        self._camera_sent: dict[str, tuple[dict[str, Any], int]] = {}  # camera -> (state sent, when: wall us)
        self._footage_sent = float("-inf")  # loop time of the last footage message
        self._head_seq: int | None = None  # the last chain head sent, and when (loop time)
        self._head_sent = float("-inf")
        self._head_every = cfg.mqtt.chain_head_us / 1e6
        self.node_key = node_key  # signs the chain heads (storage/keys/chainhead.py); None: heads go unsigned
        self.session = 0

    @property
    def status(self) -> str:
        return self.reporter.status

    async def start(self, session: int) -> None:
        self.session = session
        self.refresh(self.cfg)

    def refresh(self, cfg: Config) -> None:
        """(Re-)publish the birth: at start and after every reload, so the central office sees
        the policy and cameras in force (a retention change is never silent, design/0022)."""
        self.cfg = cfg
        r = cfg.retention
        self.reporter.set_birth({
            "version": __version__, "package": package_version(), "config_hash": config_hash(cfg), "session": self.session,
            "site": cfg.site.id, "site_name": cfg.site.name, "node": cfg.site.node,
            "retention": {"min_days": r.min_retention_us / 86_400e6, "max_days": r.max_retention_us / 86_400e6,
                          "on_full": r.on_full, "reserve": r.reserve_bytes if r.reserve_bytes is not None
                          else f"{r.reserve_percent:g}%", "grace_hours": r.grace_us / 3_600e6,
                          "allow_short_for_tests": r.allow_short_for_tests,
                          "cameras": {c.id: {"min_days": (c.min_retention_us or r.min_retention_us) / 86_400e6,
                                             "max_days": (c.max_retention_us or r.max_retention_us) / 86_400e6}
                                      for c in cfg.cameras if c.min_retention_us or c.max_retention_us}},
            # box: a standby's, whose camera it is (enabled while it stands in for that box, design/0107)
            "cameras": [{"id": c.id, "name": c.name, "enabled": c.enabled, "location": c.location, "mode": c.mode,
                         "box": c.box} for c in cfg.cameras],
            "public_key": None if self.node_key is None else self.node_key.public_b64,
            "key_fingerprint": None if self.node_key is None else self.node_key.fingerprint,
            "inspection": {"schedule": cfg.inspection.schedule, "period_us": cfg.inspection.period_us,
                           "sign_within_us": cfg.inspection.sign_within_us},
            # design/0095: [] says this site has nothing to corroborate its clock with
            "time_sources": self.time_sources(),
            # what the office may expect of this box's rate (central/intake/quota.py birth_budget, issue 43)
            "cadence": {"segment_s": cfg.storage.segment_length_us / 1e6}})

    # hooks --------------------------------------------------------------------------
    async def alarm(self, event: dict[str, Any]) -> None:
        """Called by edged.alarms on every raise and clear."""
        try:
            await self.reporter.alarm(event)
        except OutboxError as exc:
            log.error("alarm %s not queued for the central office: %s", event.get("id"), exc)

    async def event(self, event: dict[str, Any]) -> None:
        """Called by the supervisor's motion log on each motion event's start and end."""
        try:
            await self.reporter.event(event)
        except OutboxError as exc:
            log.error("motion event %s of camera %s not queued for the central office: %s", event.get("id"),
                      event.get("camera"), exc)

    async def _record_command(self, record: dict[str, Any]) -> None:
        await self.writer.run(lambda c: audit.append(c.db, str(record.get("actor") or "mqtt"), "mqtt.command",
                                                     record))

    def _receipt(self, doc: dict[str, Any]) -> None:
        """The office's signed receipt for an export (mqtt/receipt.py: heard on the loop, checked
        against the office's key): kept beside the export, in a task."""
        task = asyncio.get_running_loop().create_task(self._keep_receipt(doc))
        self._keeping.add(task)
        task.add_done_callback(self._keeping.discard)

    async def _keep_receipt(self, doc: dict[str, Any]) -> None:
        """The receipt in the folder of the export whose manifest it names, and an audit record of it
        (the folder changed); an export already gone, or one with a receipt, is left as it is."""
        digest = doc["manifest_sha256"]
        row = await self.writer.run(lambda c: retrieval_store.export_of_manifest(c.db, digest))
        if row is None:
            log.warning("the office's receipt names a manifest (%s) of no export of this box", digest[:16])
            return
        try:
            kept = await asyncio.to_thread(export_receipt.keep_receipt, Path(row["out_dir"]), doc)
        except OSError as exc:
            log.error("the office's receipt for export %d could not be kept: %s", row["id"], exc)
            return
        if kept:
            await self.writer.run(lambda c: audit.append(c.db, "mqtt:office", audit_words.EXPORT_RECEIPT, {
                "export": row["id"], "manifest_sha256": digest, "heard_us": doc["heard_us"], "file": export.RECEIPT}))
            self.receipt_kept(digest)

    # the task -----------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        if not self.cfg.mqtt.enabled:
            return
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.reporter.run(stopping), name="mqtt-client")
            tg.create_task(self._feed(stopping), name="mqtt-feed")

    async def _feed(self, stopping: asyncio.Event) -> None:
        last_state = -STATE_EVERY_S
        loop = asyncio.get_running_loop()
        status = None
        for tick in itertools.count():
            if stopping.is_set():
                break
            await self._forward_records()
            await self._chain_head(loop.time())
            if tick % CAMERAS_EVERY == 0:
                await self._camera_states()
            if tick % STATE_CHECK_EVERY == 0:  # the report runs a few queries per camera: not every tick
                state = await self._state()
                text = json.dumps(state, sort_keys=True)
                if text != self._last_state or loop.time() - last_state >= STATE_EVERY_S:
                    self.reporter.set_state({**state, "ts_us": self.clock.now_us()})
                    self._last_state, last_state = text, loop.time()
            if self.reporter.status != status:
                status = self.reporter.status
                await self.writer.run(lambda c: node_table.set_values(c.db, {"mqtt_status": status}))
            await wait_or_stop(stopping, POLL_S, self.clock)

    async def _forward_records(self) -> None:
        """Audit records (each carries the chain head after it) and destructions, in order."""
        def fetch(c: Catalog) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
            marks = {k: int(v) for k, v in node_table.values(c.db, "mqtt_audit_seq", "mqtt_destruction_id").items()}
            audits = audit.records(c.db, after_seq=marks.get("mqtt_audit_seq", 0), limit=BATCH)
            gone = destructions_after(c.db, marks.get("mqtt_destruction_id", 0), BATCH)
            return audits, gone, marks

        audits, gone, _marks = await self.writer.run(fetch)
        await self._footage(force=bool(gone))  # the office hears of footage before it goes
        try:
            for a in audits:
                await self.reporter.audit({"seq_local": a["seq"], "at_us": a["at_us"], "actor": a["actor"],
                                           "action": a["action"], "detail": a["detail"],
                                           "prev_hash": a["prev_hash"], "hash": a["hash"], "chain_head": a["hash"],
                                           **self._signed_head(a["seq"], a["hash"])})
                flagged = ethics.notice(a)  # after the record that flagged the request, once (design/0083)
                if flagged is not None:
                    await self.reporter.ethics(flagged)
                taken = intakes.notice(a)  # after a portable device's intake, once (design/0349)
                if taken is not None:
                    await self.reporter.send(kinds.INTAKE, taken)
                gone_original = intakes.destroyed(a)  # after its original's destruction, once (design/0355)
                if gone_original is not None:
                    await self.reporter.send(kinds.INTAKE_DESTROYED, gone_original)
            for message in retention_messages(gone):
                await self.reporter.retention(message)
        except OutboxError as exc:
            log.error("records not queued for the central office yet: %s", exc)
            return
        if audits or gone:
            marks = {}
            if audits:
                marks["mqtt_audit_seq"] = audits[-1]["seq"]
            if gone:
                marks["mqtt_destruction_id"] = gone[-1]["id"]
            await self.writer.run(lambda c: node_table.set_values(c.db, marks))

    async def _footage(self, force: bool = False) -> None:
        """The footage recorded since the last message (a range of segment ids), at most every
        FOOTAGE_EVERY_S: the office keeps when it first heard of each segment and judges every age on its
        own clock (design/0095)."""
        now = asyncio.get_running_loop().time()
        if now - self._footage_sent < FOOTAGE_EVERY_S and not force:
            return
        self._footage_sent = now
        got = await self.writer.run(lambda c: footage_since(c.db))
        spans_to = [r.pop(SPANS_KEY) for r in got if SPANS_KEY in r]  # a node key, not the message's
        try:
            for row in got:
                await self.reporter.footage(row)
        except OutboxError as exc:
            log.error("footage not announced to the central office yet: %s", exc)
            return
        if got:
            top = max(r["last_id"] for r in got)
            await self.writer.run(lambda c: node_table.set_values(c.db, {FOOTAGE_KEY: top, FIRST_KEY: got[-1]["first_id"], **(
                {SPANS_KEY: spans_to[-1]} if spans_to else {})}))

    async def _chain_head(self, now: float) -> None:
        """The audit chain's head on its own: the central office keeps it to prove the log later."""
        since = now - self._head_sent
        if since < self._head_every:
            return
        head = await self.writer.run(lambda c: audit.head(c.db))
        if head is None or (head["seq"] == self._head_seq and since < max(CHAIN_HEAD_QUIET_S, self._head_every)):
            return
        try:
            await self.reporter.audit({"kind": "chain_head", "seq_local": head["seq"], "hash": head["hash"],
                                       "record_at_us": head["at_us"], "at_us": self.clock.now_us(),
                                       **self._signed_head(head["seq"], head["hash"])})
        except OutboxError as exc:
            log.error("audit chain head not queued for the central office: %s", exc)
            return
        self._head_seq, self._head_sent = head["seq"], now

    def _signed_head(self, seq: int, digest: str) -> dict[str, Any]:
        """``{"signed_head": {seq, hash, at_us, sig}}``, signed now with the node key (design/0026)."""
        if self.node_key is None:
            return {}
        return {"signed_head": chainhead.sign(self.node_key, self.cfg.site.id, self.cfg.site.node, seq, digest,
                                              self.clock.now_us())}

    async def _camera_states(self) -> None:
        rows = await self.writer.run(lambda c: camera_table.configured(c.db))
        alarms = await self.writer.run(lambda c: [(a["camera"], a["kind"]) for a in alarm_table.active(c.db)])
        now = self.clock.now_us()
        for r in rows:
            health = sorted(kind for cam, kind in alarms if cam == r["id"])
            body = {
                "name": r["name"], "state": r["state"], "since_us": r.get("state_since_us"),
                "mode": r.get("mode") or "continuous",
                # A live camera is watched, never recorded (policy); a motion camera records when it moves.
                "recording": r["state"] in ("recording", "degraded") and r.get("mode") != "live",
                "not_recorded_by_policy": r.get("mode") == "live",
                "compliance": r.get("compliance"),
                "fps": r["fps"], "bitrate": r["bitrate"], "codec": r["codec"],
                "resolution": f"{r['width']}x{r['height']}" if r["width"] else None,
                "last_frame_us": r["last_packet_us"], "error": r["last_error"], "error_kind": r["error_kind"],
                "reconnects": r["reconnects"],
                "figures_stale": r["state"] not in (RECORDING, DEGRADED),  # fps, bitrate: from before it stopped
                "health": "ok" if not health and r["state"] == RECORDING else (", ".join(health) or r["state"])}
            sent, at = self._camera_sent.get(r["id"], (None, 0))
            if camera_state_due(sent, body, at, now, self.cfg.mqtt.camera_heartbeat_us):
                self.reporter.set_camera_state(r["id"], body)
                self._camera_sent[r["id"]] = (body, now)

    async def _state(self) -> dict[str, Any]:
        def build(c: Catalog) -> dict[str, Any]:
            rep = retention_report(c.db, self.cfg.retention, self.cfg.cameras, self.cfg.storage.data_dir,
                                   clock=self.clock, usage=self.runner.free.recent())
            alarms = [{"id": a["key"], "kind": a["kind"], "severity": a["severity"], "camera": a["camera"],
                       "since_us": a["raised_us"]} for a in alarm_table.active(c.db)]
            return {"rep": rep, "alarms": alarms}

        got = await self.writer.run(build)
        dispute = self.clock_dispute()
        rep = judged_on_clock(got["rep"], dispute)
        usage = await self.runner.free.get()
        achieved = [c["achieved_us"] for c in rep["cameras"] if c["achieved_us"] is not None]
        states = self.sup.cameras.all()
        enabled = [c.id for c in self.cfg.cameras if c.enabled]
        return {
            "storage": {"total_bytes": usage.total, "free_bytes": usage.free, "reserve_bytes": rep["reserve"]},
            "retention": {"achieved_days": round(min(achieved) / 86_400e6, 3) if achieved else None,
                          "forecast_days": None if rep["forecast_us"] is None else round(rep["forecast_us"] / 86_400e6, 1),
                          "verdicts": {c["camera"]: c["verdict"] for c in rep["cameras"]},
                          **({"cannot_be_judged": dispute} if dispute else {}),
                          "suspended": bool(self.runner.blocked)},
            "recording": {"cameras": len(enabled), "recording": sum(states.get(i) == "recording" for i in enabled),
                          "stopped_disk_full": self.sup.paused},
            "alarms": got["alarms"],
        }


def signed_report(handler: Callable[[dict[str, Any], Actor], Awaitable[dict[str, Any]]], cfg: Config, key: NodeKey,
                  clock: Clock = SYSTEM) -> Callable[[dict[str, Any], Actor], Awaitable[dict[str, Any]]]:
    """The audit report's control handler, with its chain head signed by the node key, so a site
    without a broker can anchor the head on paper (design/0026)."""
    async def report(args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        r = await handler(args, caller)
        head = r["audit_chain"].get("head")
        if head is not None:
            signed = chainhead.sign(key, cfg.site.id, cfg.site.node, head["seq"], head["hash"], clock.now_us())
            r["audit_chain"]["signed_head"] = {**signed, "line": chainhead.to_line(cfg.site.id, cfg.site.node, signed),
                                               "key_fingerprint": key.fingerprint, "public_key": key.public_b64}
        return r

    return report

