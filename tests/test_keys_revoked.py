"""Keys the office never forgets (issue 51 item 2, design/0125): after `edged-central nodes
revoke`, the revoked node's next birth, audit records and signed heads through the real store and
verifier; the dashboard's site page saying so; a fleet with a CA and a node nobody enrolled.
The standing of a key as a table."""

from __future__ import annotations

import asyncio
import json
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.keys import ca, keystanding
from central import config
from central.keys.keystanding import ENROLLED, NEVER, OTHER, REVOKED, Register, standing
from central.store.store import Store
from central.verifier.verifier import Verifier
from storage.keys import chainhead, nodecert, nodekey
from tests.support.catalog import central_audit_seqs, central_heads
from tests.test_central_hostile import chain, durable, get

S = 1_000_000
T0 = 1_800_000_000_000_000
UTC = ZoneInfo("UTC")
SITE, NODE = "tw-hr-001", "node1"
BASE = f"edged/v1/{SITE}/{NODE}"
NODE_ID = f"{SITE}/{NODE}"


def entry(node: str, key: str, accepted: int, revoked: int | None = None) -> dict:
    return {"node": node, "public_key": key, "accepted_us": accepted, "revoked_us": revoked, "serial": key}


ROWS = [entry("s/a", "K1", 1, 50), entry("s/a", "K2", 60), entry("s/b", "K3", 1, 70)]


@pytest.mark.pure
@pytest.mark.parametrize("node, key, has_ca, want", [
    ("s/a", "K2", True, (ENROLLED, None)),
    ("s/a", "K1", True, (REVOKED, 50)),    # revoked, though the node has a key in force since
    ("s/b", "K3", False, (REVOKED, 70)),
    ("s/a", "K9", True, (OTHER, None)),    # another box's key: central/keys/ca.py's key_not_enrolled
    ("s/a", None, True, (OTHER, None)),
    ("s/c", "K9", True, (NEVER, None)),    # nobody enrolled it: a warning while the office has a CA
    ("s/b", "K1", True, (OTHER, None)),    # a's key speaking for b is not b's revoked key
])
def test_the_standing_of_a_nodes_key_in_the_register(node, key, has_ca, want):
    st = standing(ROWS, node, key, has_ca)
    assert (st.state, st.revoked_us) == want and st.has_ca == has_ca
    assert st.revoked_by(100) == (want[0] == REVOKED) and not st.revoked_by(10)


@pytest.mark.pure
@pytest.mark.parametrize("st, want", [
    (keystanding.Standing(REVOKED, 5, True), [("key_revoked", "critical")]),
    (keystanding.Standing(NEVER, None, True), [("node_not_enrolled", "warning")]),
    (keystanding.Standing(NEVER, None, False), []),   # no CA: the office enrols nobody, nothing to say
    (keystanding.Standing(ENROLLED, None, True), []),
    (keystanding.Standing(OTHER, None, True), []),     # said by ca.birth_findings (key_not_enrolled)
])
def test_what_a_birth_is_told_by_the_register(st, want):
    got = keystanding.birth_findings(st, {"ts_us": T0, "public_key": "K"}, received_us=10)
    assert [(f.kind, f.severity) for f in got] == want
    if st.state == REVOKED:
        assert keystanding.birth_findings(st, {"ts_us": T0, "public_key": "K"}, received_us=4) == [], \
            "a birth received before the revocation"



def birth(key: nodekey.NodeKey, ts: int, session: int) -> bytes:
    return json.dumps({"ts_us": ts, "version": "0.2", "session": session, "config_hash": "h", "site": SITE,
                       "node": NODE, "public_key": key.public_b64, "cameras": [{"id": "cam"}],
                       "retention": {"min_days": 30, "max_days": 365}}).encode()


def audits(key: nodekey.NodeKey, records: list[dict], first_seq: int) -> list[tuple[str, bytes]]:
    return [(f"{BASE}/audit", durable(first_seq + i, {**r, "signed_head": chainhead.sign(
        key, SITE, NODE, r["seq_local"], r["hash"], r["at_us"] + 5)})) for i, r in enumerate(records)]


@pytest.fixture
def office(tmp_path):
    data = tmp_path / "central-data"
    key = nodekey.NodeKey(Ed25519PrivateKey.generate())
    ca.accept(data, nodecert.make_request(key, SITE, NODE), "alice", T0 - 86_400 * S, key.fingerprint)
    return {"data": data, "key": key, "store": Store(data / "central.db")}


def verify(office, at: int) -> None:
    Verifier(office["store"], UTC, 0, ca.Enrolled(office["data"]), standing=Register(office["data"])).run_once(at)


def test_a_revoked_nodes_next_birth_audit_records_and_heads_are_findings_and_never_valid(office):
    store, key = office["store"], office["key"]
    records = chain(6, T0)
    store.ingest([(f"{BASE}/status", b"online"), (f"{BASE}/birth", birth(key, T0, 1))]
                 + audits(key, records[:3], 10), T0 + S)
    verify(office, T0 + 2 * S)
    assert central_heads(store, NODE_ID) == [(1, 1), (2, 1), (3, 1)]
    assert not store.findings(severity="critical")

    ca.revoke(office["data"], f"{SITE}/{NODE}", "bob", "box stolen", T0 + 10 * S)  # the office's clock
    # the stolen box restarts and goes on: a birth with its key, records 4-6 with heads it signs
    store.ingest([(f"{BASE}/birth", birth(key, T0 + 20 * S, 2))] + audits(key, records[3:], 13), T0 + 20 * S)
    verify(office, T0 + 21 * S)

    found = store.findings(node=f"{SITE}/{NODE}", severity="critical", limit=100)
    revoked = sorted(f["key"].split(":", 2)[2] for f in found if f["kind"] == "key_revoked")
    assert revoked == sorted([f"birth:{T0 + 20 * S}", f"messages:{T0 + 10 * S}"]), found  # one for its messages
    (counted,) = [f for f in found if f["key"].endswith(f"messages:{T0 + 10 * S}")]
    assert (counted["detail"]["messages"], counted["detail"]["first"]["seq"], counted["detail"]["last"]["seq"]) == (
        3, 13, 15), counted  # each message's record and head counted once (design/0365)
    assert {f["kind"] for f in found} == {"key_revoked"}, "said once each, not also as a key never enrolled"
    assert central_heads(store, NODE_ID) == [(1, 1), (2, 1), (3, 1), (4, 0), (5, 0), (6, 0)], \
        "a revoked key's heads are kept, not valid"
    assert central_audit_seqs(store, NODE_ID) == [1, 2, 3], "never on the node's chain"
    assert store.nodes()[0]["head_seq"] == 3, "the node's head stays the last one signed before the revocation"
    store.close()


def test_a_message_received_before_the_revocation_stays_the_nodes(office):
    """The office's receipt decides, not when the verifier got to it: a box revoked after it sent
    its records lawfully keeps them."""
    store, key = office["store"], office["key"]
    store.ingest([(f"{BASE}/status", b"online"), (f"{BASE}/birth", birth(key, T0, 1))]
                 + audits(key, chain(2, T0), 10), T0 + S)
    ca.revoke(office["data"], f"{SITE}/{NODE}", "bob", "decommissioned", T0 + 5 * S)
    verify(office, T0 + 6 * S)
    assert not [f for f in store.findings(limit=100) if f["kind"] == "key_revoked"]
    assert central_heads(store, NODE_ID) == [(1, 1), (2, 1)]
    store.close()


def test_a_fleet_with_a_ca_warns_of_a_node_nobody_enrolled_until_it_is_accepted(office):
    store = office["store"]
    stranger = nodekey.NodeKey(Ed25519PrivateKey.generate())
    base = f"edged/v1/{SITE}/node2"
    body = json.loads(birth(stranger, T0, 1))
    store.ingest([(f"{base}/status", b"online"), (f"{base}/birth", json.dumps({**body, "node": "node2"}).encode())],
                 T0 + S)
    verify(office, T0 + 2 * S)
    found = [(f["kind"], f["severity"]) for f in store.findings(node=f"{SITE}/node2")]
    assert found == [("node_not_enrolled", "warning")], found
    ca.accept(office["data"], nodecert.make_request(stranger, SITE, "node2"), "alice", T0 + 3 * S, stranger.fingerprint)
    store.ingest([(f"{base}/birth", json.dumps({**body, "node": "node2", "ts_us": T0 + 4 * S, "session": 2}).encode())],
                 T0 + 4 * S)
    verify(office, T0 + 5 * S)
    assert [f["kind"] for f in store.findings(node=f"{SITE}/node2")] == ["node_not_enrolled"], "no new one once accepted"
    store.close()


def test_the_site_page_shows_the_node_as_revoked_in_the_sites_language(office, tmp_path):
    from central.pages.dashboard import Dashboard
    from tests.support.cameras import free_port

    store, key = office["store"], office["key"]
    store.ingest([(f"{BASE}/status", b"online"), (f"{BASE}/birth", birth(key, T0, 1))], T0 + S)
    verify(office, T0 + 2 * S)
    store.close()
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\ndata_dir = "central-data"\n[report]\nlanguage = "zh-TW"\ntimezone = "Asia/Taipei"\n')

    async def page() -> tuple[int, str]:
        dash, port = Dashboard(config.load(cfg)), free_port()
        await dash.start("127.0.0.1", port)
        try:
            return await asyncio.to_thread(get, f"http://127.0.0.1:{port}/site/{SITE}")
        finally:
            await dash.close()
    status, before = asyncio.run(page())
    assert status == 200 and "revoked" not in before
    ca.revoke(office["data"], f"{SITE}/{NODE}", "bob", "box stolen", T0 + 10 * S)
    status, after = asyncio.run(page())
    assert status == 200 and 'class="critical revoked"' in after and "金鑰已撤銷" in after, after
