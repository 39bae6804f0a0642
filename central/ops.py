"""The operator's view of a running office (issue 43, design/0105): each instance's figures
(messages received, stored, verified; its ingest lag; its leases; the time its writes took and
waited), written with its heartbeat into the store (central/store/instances.py) so that
`edged-central status --json` shows every instance's, and served as Prometheus metrics
(prometheus_client) on [metrics] listen.

``figures`` and ``fleet`` are plain functions over plain data; the collector reads the
instance's counters only when Prometheus scrapes (nothing on the ingest path).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

from central.store import archives, instances, nodes as stored_nodes
from central.store.store import now_us
from central.store.instances import Membership
from central.intake.takeover import Takeover

log = logging.getLogger("edged.central")


def figures(ingest: Any) -> dict[str, Any]:
    """This instance's figures now (``ingest``: central/ingest.py's Ingest)."""
    w, v = ingest.stores.get("store"), ingest.stores.get("verify")
    return {"received": ingest.received, "stored": ingest.stored, "verified": ingest.verified,
            "refused": ingest.refused, "queued_batches": ingest.queue.qsize(), "ingest_lag_s": round(ingest.lag_s, 3),
            "write_s": round(getattr(w, "write_s", 0.0), 3), "write_retries": getattr(w, "retries", 0),
            "leases": len(getattr(v, "held", ())), "broker": ingest.status,
            **({"sessions_drained": t.sessions, "drained": t.drained} if (t := getattr(ingest, "takeover", None)) is not None else {})}


def fleet(rows: list[dict[str, Any]], live: tuple[str, ...], now_us: int) -> list[dict[str, Any]]:
    """The instances for `status --json`: each row of the store's ``instances`` table with its
    state (live or gone), the age of its heartbeat and how long it ran till then."""
    return [{"id": r["id"], "host": r["host"], "pid": r["pid"], "live": r["id"] in live,
             "heartbeat_age_s": round((now_us - r["heartbeat_us"]) / 1e6, 1),
             "up_s": round((r["heartbeat_us"] - r["started_us"]) / 1e6, 1), **(r["figures"] or {})} for r in rows]


def status(store: Any) -> dict[str, Any]:
    """What `edged-central status --json` adds: the instances (PostgreSQL; on SQLite the one
    running instance writes none) and the verification backlog, its oldest message's age."""
    backlog, oldest = stored_nodes.backlog(store.db)
    out: dict[str, Any] = {"unverified": backlog,
                           "verify_lag_s": 0.0 if oldest is None else round((now_us() - oldest) / 1e6, 1)}
    # the archive state (design/0120): each month archived out of the store, its file and hash
    out["archives"] = [{k: r[k] for k in ("month", "rows", "bytes", "sha256", "file", "archived_us", "restored_us")}
                       for r in archives.every(store)]
    pg = getattr(store, "pg", None)
    if pg is None:
        out["instances"] = []
        return out
    import psycopg

    try:
        live, rows, now = instances.read(pg)
    except psycopg.errors.UndefinedTable:  # a store no instance of this version has run on yet
        pg.rollback()
        out["instances"] = []
        return out
    out["instances"] = fleet(rows, live, now)
    return out


def membership(ingest: Any) -> Any:
    """On PostgreSQL, this instance's heartbeat (central/store/instances.py), started; and its metrics
    on [metrics] listen, on either store. None on SQLite (one instance: nothing to share)."""
    cfg = ingest.cfg
    if cfg.metrics.listen:
        serve(cfg.metrics.listen, ingest)
    if not cfg.storage.url:
        return None

    on_read = None
    if cfg.broker.shared_group:  # a dead member's session, taken over and drained (design/0210)
        ingest.takeover = Takeover(ingest.mqtt.s, functools.partial(instances.mark_drained, cfg.storage.url),
                                   cfg.broker.client_id, ingest.put)
        on_read = ingest.takeover.consider
    m = Membership(cfg.storage.url, cfg.broker.client_id, lambda: figures(ingest), on_read)
    m.start()
    return m


class Collector:
    """prometheus_client's custom collector: the instance's counters as they are at the scrape."""

    def __init__(self, ingest: Any):
        self.ingest = ingest

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        f = figures(self.ingest)
        m = self.ingest.members
        for name, doc in (("received", "messages taken from the broker"), ("stored", "durable messages newly stored"),
                          ("verified", "messages verified"), ("refused", "messages over a node's quota, dropped"),
                          ("write_retries", "ingest transactions done again after a deadlock")):
            yield CounterMetricFamily(f"edged_central_{name}", doc, value=f[name])
        yield CounterMetricFamily("edged_central_write_seconds", "time in ingest transactions", value=f["write_s"])
        yield CounterMetricFamily("edged_central_lock_wait_seconds", "time this instance's sessions waited on a "
                                  "lock (sampled at each heartbeat)", value=m.lock_wait_s if m is not None else 0.0)
        yield GaugeMetricFamily("edged_central_ingest_lag_seconds", "the last batch: from its arrival to its commit",
                                value=f["ingest_lag_s"])
        yield GaugeMetricFamily("edged_central_queued_batches", "batches waiting for the store",
                                value=f["queued_batches"])
        yield GaugeMetricFamily("edged_central_leases", "nodes this instance verifies", value=f["leases"])
        yield GaugeMetricFamily("edged_central_instances_live", "live instances sharing the store, as last read",
                                value=len(m.members()) if m is not None else 1)


def serve(listen: str, ingest: Any) -> None:
    """Prometheus metrics on ``listen`` (HOST:PORT), from a thread of prometheus_client's own."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(Collector(ingest))
    host, port = listen.rsplit(":", 1)
    try:
        start_http_server(int(port), addr=host, registry=registry)
    except OSError as exc:  # the office runs on without them: metrics never stop ingest
        log.error("no metrics: cannot listen on [metrics] listen %s (%s); choose a free address and restart",
                  listen, exc.strerror or exc)
        return
    log.info("metrics on http://%s/metrics", listen)
