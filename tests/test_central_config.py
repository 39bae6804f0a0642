"""edged-central's config read through the keys it declares (storage/declare.py, issue 57, design/0283):
each key is one field of its table's section, whose reader, repr and reference page come from it.
The paths and messages of the errors are tests/test_central_units.py's and the others' (unchanged)."""

from __future__ import annotations

import dataclasses

import pytest

from central import config, config_secrets, login
from storage.declare import declared


def test_every_field_of_every_table_is_a_declared_key():
    for name, cls in config.PAGES.items():
        fields = [f.name for f in dataclasses.fields(cls)]
        assert [d.name for d in declared(cls)] == fields, f"[{name}] has a field that is not a key(...)"
    assert [f.name for f in dataclasses.fields(config.CentralConfig)] == ["source", *(
        "quota_keys" if name == "quota" else name for name in config.SECTIONS)], "a key outside its table's section"


def test_no_password_hash_or_url_password_in_the_repr(tmp_path):
    p = tmp_path / "c.toml"
    h = login.hash_password("not-shown")
    p.write_text("[broker]\nusername = 'u'\npassword = 'Pw-1'\n"
                 "[storage]\nurl = 'postgresql://a:Pw-2@127.0.0.1/c'\nread_url = 'postgresql://r@127.0.0.1/c?password=Pw-3'\n"
                 f"[dashboard]\naccounts = {{ lin = {{ role = 'auditor', password_hash = '{h}' }} }}\n")
    cfg = config.load(p, allow_config_secrets=True)
    shown = repr(cfg)
    assert "Pw-" not in shown and h not in shown, shown
    assert "password='***'" in shown and "postgresql://a:***@127.0.0.1/c" in shown and "lin (auditor)" in shown
    assert cfg.broker.password == "Pw-1" and cfg.dashboard.accounts[0][2] == h  # hidden from the repr, not from the reader


def test_an_unknown_key_is_named_with_its_table_and_a_likely_one(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[verify]\ngap_grase = '1m'\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    assert e.value.where == "verify.gap_grase" and 'did you mean "gap_grace"' in e.value.problem
    p.write_text("[secrets]\nfiles = 'x.toml'\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    assert e.value.where == "secrets.files"


def test_the_sections_become_what_the_office_reads(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[broker]\ntls_ca_file = 'ca.pem'\n[storage]\ndata_dir = '/srv/c'\nbatch = 7\n"
                 "[verify]\nsilent_after = '10m'\n[quota]\nburst = 5\n[dashboard]\nlisten = ''\n"
                 "[metrics]\nlisten = '127.0.0.1:9464'\n[secrets]\nfile = 'no-such.toml'\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(p)
    assert e.value.where == "secrets.file"
    p.write_text(p.read_text().replace("[secrets]\nfile = 'no-such.toml'\n", ""))
    cfg = config.load(p)
    assert cfg.broker.tls_ca_file == tmp_path / "ca.pem", "a relative file is under the config's folder"
    assert (cfg.storage.data_dir, cfg.storage.batch, cfg.verify.silent_after_us, cfg.dashboard.listen) == (
        config.Path("/srv/c"), 7, 600_000_000, None)
    assert cfg.quota.burst == 5 and cfg.quota.retained_topics == config.Limits().retained_topics
    assert cfg.metrics.listen == "127.0.0.1:9464" and cfg.db_path == config.Path("/srv/c/central.db")
    assert config.load(None) == config.CentralConfig() and config.load(None).storage.data_dir == config.Path(
        "edged-central-data")
    assert config_secrets.SecretsKeys is config.PAGES["secrets"]
