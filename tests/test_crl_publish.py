"""The office's revocation list published with its broker login: a broker whose ACL refuses the
office's write acknowledges the message (MQTT 5 PUBACK, reason "Not authorized") and keeps nothing;
`publish_crl` says so instead of counting it published."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from central.keys.ca import CAError
from central.keys.crl_publish import CRL_TOPIC, publish_crl
from tests.support.broker import Broker, Subscriber
from tests.support.daemon import wait_for


@pytest.mark.parametrize("rights", ["readwrite", "read"])
def test_a_refused_publish_is_an_error_and_a_taken_one_is_kept(tmp_path, rights):
    broker = Broker(tmp_path, users={"office": "pw"}, acl=f"user office\ntopic {rights} {CRL_TOPIC}\n").start()
    login = SimpleNamespace(host="127.0.0.1", port=broker.port, client_id="office", username="office",
                            password="pw", tls_ca_file=None)
    try:
        if rights == "read":
            with pytest.raises(CAError, match="refused the revocation list: Not authorized"):
                publish_crl(login, b"-----BEGIN X509 CRL-----", timeout_s=10)
            return
        publish_crl(login, b"-----BEGIN X509 CRL-----", timeout_s=10)
        seen = Subscriber(broker, CRL_TOPIC, username="office", password="pw").start()
        try:
            kept = wait_for(lambda: seen.last(CRL_TOPIC), 10, "the list, retained, to a new subscriber")
            assert kept.retain and kept.payload == b"-----BEGIN X509 CRL-----"
        finally:
            seen.stop()
    finally:
        broker.stop()
