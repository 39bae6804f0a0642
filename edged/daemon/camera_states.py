"""Each camera's recorder state, kept once (design/0040).

The supervisor feeds it the workers' `State` and `Stats` events (and marks cameras offline
when their worker died or the data disk went); the health monitor, the camera-offline alarm,
the status line and the MQTT reporter read it. It holds what a recorder said, not what the
health rules make of it (`degraded` is the health monitor's word).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from recorder import events
from storage.states.cameras import OFFLINE, RECORDING
from storage.time.clock import SYSTEM, Clock

RECONNECTS_KEPT = 1000


class CameraStates:
    def __init__(self, clock: Clock = SYSTEM):
        self.clock = clock
        self._state: dict[str, str] = {}
        self._error: dict[str, str | None] = {}
        # When the camera last stopped recording (an outage not yet a gap row), in both clocks:
        # wall time for the day's gap total, monotonic seconds for the offline alarm's grace.
        self._down_us: dict[str, int] = {}
        self._down_mono: dict[str, float] = {}
        self._stats: dict[str, dict[str, Any]] = {}   # the newest stats event per camera
        self._heard: dict[str, tuple[int, int]] = {}  # ... when it came, on the wall and monotonic clocks (us)
        self._fresh: set[str] = set()                 # cameras with stats not yet taken for the catalog
        self._reconnects: dict[str, deque[int]] = {}  # when it went from recording to offline

    # fed by the supervisor ------------------------------------------------------------
    def on_state(self, ev: events.State) -> str | None:
        """A recorder's state change; returns the state before it."""
        cam, before = ev.camera, self._state.get(ev.camera)
        if ev.state == OFFLINE and before == RECORDING:
            self._reconnects.setdefault(cam, deque(maxlen=RECONNECTS_KEPT)).append(ev.at)
        self._state[cam] = ev.state
        self._error[cam] = ev.error
        if ev.state == RECORDING:
            self._down_us.pop(cam, None)
            self._down_mono.pop(cam, None)
        else:  # reconnect attempts don't restart the clock
            self._down_us.setdefault(cam, ev.at)
            self._down_mono.setdefault(cam, self.clock.monotonic())
        return before

    def mark_offline(self, cam: str) -> None:
        """Its worker died or the data disk went: offline until its recorder says otherwise.
        The outage is timed from the recorder's own next report, as before this owner existed."""
        self._state[cam] = OFFLINE

    def taken_up(self, cam: str) -> None:
        """The camera is (again) this box's to record: a standby took it for a spell, or a reload
        enabled it. What it was before (stopped at the last spell's end, disabled) is no outage
        of this box: the offline grace starts at its recorder's first report (design/0156)."""
        self._down_us.pop(cam, None)
        self._down_mono.pop(cam, None)

    def on_stats(self, ev: events.Stats) -> None:
        self._stats[ev.camera] = events.to_dict(ev)
        self._heard[ev.camera] = (self.clock.now_us(), round(self.clock.monotonic() * 1_000_000))
        self._fresh.add(ev.camera)

    def take_fresh_stats(self) -> dict[str, dict[str, Any]]:
        """The newest stats of each camera that reported since the last call (for the catalog)."""
        fresh, self._fresh = self._fresh, set()
        return {cam: self._stats[cam] for cam in fresh}

    # read by everyone else ------------------------------------------------------------
    def state(self, cam: str) -> str | None:
        return self._state.get(cam)

    def error(self, cam: str) -> str | None:
        return self._error.get(cam)

    def all(self) -> dict[str, str]:
        return dict(self._state)

    def stats(self, cam: str) -> dict[str, Any] | None:
        return self._stats.get(cam)

    def heard(self, cam: str) -> tuple[int, int] | None:
        """When the camera's newest stats came (wall us, monotonic us): its clock skew was measured
        against the host's clock as it was then (design/0570)."""
        return self._heard.get(cam)

    def down_since_us(self, cam: str) -> int | None:
        return self._down_us.get(cam)

    def down_for_s(self, cam: str) -> float:
        """Seconds since the camera stopped recording (monotonic); 0 while it records."""
        since = self._down_mono.get(cam)
        return 0.0 if since is None else self.clock.monotonic() - since

    def reconnects_within(self, cam: str, now_us: int, window_us: int) -> int:
        return sum(now_us - t <= window_us for t in self._reconnects.get(cam, ()))
