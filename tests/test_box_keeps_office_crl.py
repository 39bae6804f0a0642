"""Every enrolled box keeps the office's revocation list it hears on MQTT (issue 52 item 2,
design/0129), not only a standby and its boxes: `edgectl verify` on the box uses it by default.
A real daemon (no standby, no backfill) and mosquitto; the office retains its list as it does."""

from __future__ import annotations

from types import SimpleNamespace

from cryptography.hazmat.primitives import serialization

from central.keys.crl_publish import publish_crl
from storage import datainit
from storage.keys import nodecert, office_crl
from storage.time.clock import SYSTEM
from tests.support.broker import Broker
from tests.support.daemon import Daemon, wait_for, write_config
from tests.support.enrol import Office


def test_an_enrolled_box_without_a_standby_keeps_the_offices_newest_list(tmp_path):
    broker = Broker(tmp_path / "broker").start()
    office = Office()
    data = tmp_path / "box" / "data"
    datainit.init_data(data, "test", "tests/test_box_keeps_office_crl.py")
    office.enrol(data, "test", "node1")
    config = write_config(tmp_path / "box" / "edged.toml", data, [])
    config.write_text(config.read_text() + f'\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
                      'keepalive = "5s"\nreconnect_max = "1s"\n')
    box = Daemon(config, data, tmp_path / "box" / "edged.log", init_data=False)
    login = SimpleNamespace(host="127.0.0.1", port=broker.port, client_id="office", username=None, password=None,
                            tls_ca_file=None)
    now = SYSTEM.now_us()

    def pem(serials: list[int], at_us: int) -> bytes:
        return nodecert.make_crl(office.key, office.ca, [(s, at_us) for s in serials], at_us).public_bytes(
            serialization.Encoding.PEM)

    try:
        box.start()
        publish_crl(login, pem([999], now))
        kept = wait_for(lambda: office_crl.read(data), 20, "the box keeping the office's list")
        assert kept.get_revoked_certificate_by_serial_number(999) is not None
        box.stop()
        box.start()
        publish_crl(login, pem([998], now + 1_000_000))
        wait_for(lambda: office_crl.read(data).get_revoked_certificate_by_serial_number(998), 20,
                 "the newer list taken after the restart")
        assert office_crl.read(data).get_revoked_certificate_by_serial_number(999) is None, "the newest, whole"
    finally:
        box.stop()
        broker.stop()
