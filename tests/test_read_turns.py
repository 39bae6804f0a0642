"""The worker's reader (recorder/read_turns.py, design/0302): every edged-reader camera of a
worker read by one thread in turns. Its rules on plain generators, then real cameras: a camera
that goes silent is reported stalled on its own thread while its turn-mate records on."""

from __future__ import annotations

import threading

import pytest

from recorder import diagnose
from recorder.camera import Settings
from recorder.read_turns import ReadTurns
from tests.support.cameras import count_video_packets, make_clip
from tests.support.daemon import wait_for
from tests.support.quirk_camera import QuirkCamera
from tests.support.recorders import recording

S = 1_000_000


def _in_thread(fn, *args):
    """fn(*args) on a thread of its own (a camera's): (thread, box with its result or error)."""
    box: dict = {}

    def go():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            box["error"] = exc
    t = threading.Thread(target=go)
    t.start()
    return t, box


def test_runs_are_stepped_in_turns_on_one_thread_and_end_on_their_own():
    turns = ReadTurns(turn_us=10_000)
    seen: list[tuple[str, int, str]] = []
    stops = [threading.Event(), threading.Event()]

    def run(name, n):
        for i in range(n):
            seen.append((name, i, threading.current_thread().name))
            yield
        return name == "a"

    (ta, a), (tb, b) = _in_thread(turns.run, run("a", 3), stops[0]), _in_thread(turns.run, run("b", 5), stops[1])
    ta.join(10)
    tb.join(10)
    turns.close()
    assert a == {"value": True} and b == {"value": False}
    assert {who for _n, _i, who in seen} == {"reader"}  # never the callers' threads
    assert [i for n, i, _w in seen if n == "a"] == [0, 1, 2] and [i for n, i, _w in seen if n == "b"] == [0, 1, 2, 3, 4]
    assert not turns._thread.is_alive()


def test_a_failed_run_raises_on_its_own_thread_and_its_turn_mates_go_on():
    turns = ReadTurns(turn_us=10_000)
    steps = []

    def failing():
        yield
        raise TimeoutError("nothing from the camera within the read timeout")

    def steady(n):
        for i in range(n):
            steps.append(i)
            yield
        return True

    (tf, f), (ts, s) = _in_thread(turns.run, failing(), threading.Event()), \
        _in_thread(turns.run, steady(20), threading.Event())
    tf.join(10)
    ts.join(10)
    turns.close()
    assert isinstance(f.get("error"), TimeoutError) and s == {"value": True} and steps == list(range(20))


def test_a_run_read_turns_apart_is_stepped_every_other_turn_beside_one_read_every_turn():
    """design/0552: a run handed with apart 2 is stepped on the even turns only, its turn-mate on every turn."""
    turns = ReadTurns(turn_us=10_000)
    seen: list[str] = []
    started = threading.Event()

    def run(name, n):
        for _ in range(n):
            seen.append(name)
            started.set()
            yield
        return True

    (te, e) = _in_thread(turns.run, run("every", 40), threading.Event())
    assert started.wait(10)  # the run read every turn is in first, so the other's turns are counted in its steps
    (ta, a) = _in_thread(turns.run, run("apart", 6), threading.Event(), 2)
    ta.join(10)
    te.join(10)
    turns.close()
    assert a == {"value": True} and e == {"value": True}
    at = [i for i, name in enumerate(seen) if name == "apart"]
    assert len(at) == 6
    # between two steps of the run read every other turn, two of its turn-mate's
    assert [seen[x + 1:y].count("every") for x, y in zip(at, at[1:])] == [2] * 5, seen


@pytest.mark.parametrize("apart", [1, 2])
def test_a_stopped_run_is_closed_at_its_last_yield_and_returns(apart):
    turns = ReadTurns(turn_us=10_000)
    stop, closed, started = threading.Event(), threading.Event(), threading.Event()

    def forever():
        try:
            while True:
                started.set()
                yield
        finally:
            closed.set()

    t, box = _in_thread(turns.run, forever(), stop, apart)
    assert started.wait(10)
    stop.set()
    t.join(10)
    turns.close()
    assert box == {"value": False} and closed.is_set()
    with pytest.raises(RuntimeError):
        turns.run(forever(), threading.Event())


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips"), width=320, height=240, fps=20, gop=20, seconds=6)


def test_a_silent_camera_is_stalled_on_its_own_and_its_turn_mate_records_on(tmp_path, clip):
    settings = Settings(data_dir=tmp_path / "data", segment_us=2 * S, fragment_us=S, fsync_us=2 * S,
                        connect_timeout_us=5 * S, read_timeout_us=2 * S, reconnect_max_us=S, sample_us=0)
    with QuirkCamera(clip.video, {"stall"}) as hung, QuirkCamera(clip.video) as good, \
            recording({"hung": hung.url, "good": good.url}, settings, reader="edged") as run:
        offline = wait_for(lambda: [e for e in run.events if e["ev"] == "state" and e["camera"] == "hung"
                                    and e["state"] == "offline"], 30, "the silent camera offline")
        wait_for(lambda: len(run.closed_of("good")) >= 5, 60, "five segments of its turn-mate")
    assert offline[0]["kind"] == diagnose.STALLED, offline[0]
    assert [e for e in run.events if e["ev"] == "state" and e["camera"] == "good" and e["state"] == "offline"] == []
    good_segs = run.closed_of("good")
    assert {s["reason"] for s in good_segs[:-1]} == {"boundary"}, good_segs
    for seg in good_segs[1:-1]:  # 2 s segments at 20 fps, none short while the other camera hung
        assert count_video_packets(settings.data_dir / seg["path"]) == seg["frames"] == 40, seg
