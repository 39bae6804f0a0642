"""Which camera runs where after a recorder worker dies (edged/daemon/recording/isolation.py, design/0063):
the pure decision, table-tested."""

from __future__ import annotations

import pytest

from edged.daemon.recording.isolation import CLEAN_US, Held, Quarantine, after_crash, forget, released

M = 60 * 1_000_000


def _crashes(*sets: set[str], split: int = 4) -> Quarantine:
    q = Quarantine()
    for i, cams in enumerate(sets):
        q = after_crash(q, cams, i * M, split)
    return q


@pytest.mark.parametrize("crashes, split, placement, culprits", [
    # a shared worker of three dies: each suspect gets a worker of its own, nobody is blamed yet
    ([{"a", "b", "c"}], 4, {1: ["a"], 2: ["b"], 3: ["c"]}, []),
    # more suspects than `split`: dealt into `split` groups
    ([{"a", "b", "c", "d", "e"}], 2, {1: ["a", "c", "e"], 2: ["b", "d"]}, []),
    # the culprit kills its own worker: blamed, same worker; the others stay where they are
    ([{"a", "b", "c"}, {"b"}], 4, {1: ["a"], 2: ["b"], 3: ["c"]}, ["b"]),
    # a group of several dies again: split again into new groups
    ([{"a", "b", "c", "d", "e"}, {"a", "c", "e"}], 2, {2: ["b", "d"], 3: ["a", "e"], 4: ["c"]}, []),
    # ... and then the one left alone that dies is the culprit
    ([{"a", "b", "c", "d", "e"}, {"a", "c", "e"}, {"c"}], 2, {2: ["b", "d"], 3: ["a", "e"], 4: ["c"]}, ["c"]),
    # a camera alone on a shared worker that dies is the culprit at once
    ([{"a"}], 4, {1: ["a"]}, ["a"]),
    # a worker with no cameras died: nothing to decide
    ([set()], 4, {}, []),
])
def test_who_goes_where_after_crashes(crashes, split, placement, culprits):
    q = _crashes(*crashes, split=split)
    assert q.placement() == placement
    assert sorted(c for c, h in q.held.items() if h.culprit) == culprits


def test_the_clean_hour_counts_from_the_groups_last_crash():
    q = _crashes({"a", "b"}, {"b"})  # a's last crash at 0, b's at 1 minute
    assert released(q, CLEAN_US - 1) == (q, [])
    q1, out = released(q, CLEAN_US)
    assert out == ["a"] and q1.placement() == {2: ["b"]}
    q2, out = released(q1, CLEAN_US + M)
    assert out == ["b"] and q2.placement() == {}
    # a culprit that crashes again starts its hour again, in the same worker
    q3 = after_crash(q1, {"b"}, CLEAN_US + 30 * M)
    assert q3.held["b"] == Held(2, CLEAN_US + 30 * M, True)
    assert released(q3, CLEAN_US + 60 * M)[1] == []


def test_cameras_removed_from_the_config_leave_the_quarantine():
    q = _crashes({"a", "b"})
    assert forget(q, {"a", "b", "c"}) is q
    assert forget(q, {"b"}).placement() == {2: ["b"]}


# the process side (edged/daemon/recording/workers.py), without processes: with `stopping` set a slot's
# keeper ends at once, so the moves the decision makes are seen in the slots alone
def test_the_workers_move_cameras_as_decided_and_bring_them_back_after_the_clean_hour():
    import asyncio

    from edged.config import CameraConfig
    from edged.daemon.recording.workers import Workers

    async def run() -> None:
        stopping = asyncio.Event()
        stopping.set()
        w = Workers(2, stopping, settings=dict, held=lambda: False, on_events=None, on_exit=lambda i: None,
                    on_death=lambda s: None)
        cams = {c: CameraConfig(id=c, name=c, url="rtsp://127.0.0.1/x") for c in "abcd"}
        for c in "abc":
            await w.slots[0].add(cams[c])
        await w.slots[1].add(cams["d"])
        async with asyncio.TaskGroup() as tg:
            w._tg = tg
            await w.rehome(w.slots[0])
            where = {c: w.slot_of(c) for c in "abcd"}
            assert not w.slots[0].cameras and where["d"] is w.slots[1]
            assert len({where[c].index for c in "abc"}) == 3 and all(where[c].isolated for c in "abc")
            assert w.emptiest() is w.slots[0], "new cameras go to a shared worker, never a quarantine one"
            await w.rehome(where["b"])  # b dies alone: the culprit, in the same worker
            assert w.slot_of("b") is where["b"] and w.quarantine.held["b"].culprit
            assert w._restart_cap_us(where["b"]) > w._restart_cap_us(where["a"])
            now = w.quarantine.held["a"].since_us
            assert await w.release_due(now + CLEAN_US) == ["a", "c"]
            assert w.slot_of("a") is w.slots[0] and w.slot_of("c").index in (0, 1)
            assert w.slot_of("b").isolated
            # the emptied quarantine workers are reused for the next crash, not added to
            before = len(w.slots)
            await w.rehome(w.slots[0] if "a" in w.slots[0].cameras else w.slot_of("a"))
            assert len(w.slots) == before
        assert w.keepers and all(k.done() for k in w.keepers)

    asyncio.run(run())


def test_one_spare_worker_for_the_pool_taken_by_whichever_slot_needs_it(monkeypatch):
    """design/0282: the pool keeps one idle imported worker, not one a slot; a slot whose worker
    (re)starts takes it wherever it is kept, and the next is started only once it is gone."""
    import asyncio
    from typing import Any

    from edged.daemon.recording import workers

    class Proc:
        returncode = None
        stdin = None

    started: list[Proc] = []

    async def spawn(spare: bool = False) -> Proc:
        assert spare, "the pool's spare is started as one (design/0291)"
        await asyncio.sleep(0)  # both slots ask while the first is starting
        started.append(Proc())
        return started[-1]

    monkeypatch.setattr(workers, "spawn_worker", spawn)
    monkeypatch.setattr(workers, "SPARE_AFTER_S", 0.0)

    async def run() -> None:
        w = workers.Workers(3, asyncio.Event(), settings=dict, held=lambda: False, on_events=None,
                            on_exit=lambda i: None, on_death=lambda s: None)
        for slot in w.slots:
            running: Any = Proc()
            slot.proc = running
        await asyncio.gather(*(w._spare_later(slot) for slot in w.slots))
        assert len(started) == 1 and sum(s.spare is not None for s in w.slots) == 1
        keeper = next(s for s in w.slots if s.spare is not None)
        other = next(s for s in w.slots if s is not keeper)
        assert w._take_spare(other) is started[0] and keeper.spare is None
        assert w._take_spare(other) is None
        await w._spare_later(other)
        assert len(started) == 2 and other.spare is started[1]

    asyncio.run(run())
