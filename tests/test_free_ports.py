"""tests/support/ports.py: the test processes of one run never hand out the same port."""

from __future__ import annotations

from tests.support import ports


def test_each_test_process_draws_from_its_own_share(monkeypatch):
    shares = []
    for i in range(3):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{i}")
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
        shares.append(ports._share())
    low, _ = ports._ephemeral()
    assert shares[0][0] >= 1024 and shares[-1][1] <= low
    assert all(a[1] <= b[0] for a, b in zip(shares, shares[1:])), shares
    assert all(hi - lo >= 1000 for lo, hi in shares), shares
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    lo, hi = shares[2]
    assert all(lo <= ports.free_port() < hi for _ in range(20))


def test_a_port_is_not_handed_out_twice():
    given = [ports.free_port() for _ in range(300)]
    assert len(set(given)) == len(given)
