"""The recording control plane (design/0068): the recorder worker processes and what the daemon
does with their events.

- prespawn.py, prestart.py: the workers' interpreters and the workers themselves, started
  before `edged run` reads its config and before the daemon's imports (design/0025, 0029).
- workers.py: the worker processes, read and restarted; isolation.py: where a dead worker's
  cameras go (design/0063, pure).
- supervisor.py: owns the workers and turns their events into catalog rows; segment_rows.py:
  those rows, a batch at a time; gaps.py: each camera's footage timeline and its gaps;
  modes.py: the recording modes. Each camera's recorder state (edged/daemon/camera_states.py)
  sits a floor below, beside the health monitor that reads it (issue 80).
- recovery.py: what a crash or a dead worker left open.

Imports nothing at package level: `edged run` imports prespawn and prestart before anything else
of the daemon. Of the rest of edged/daemon/ it uses only what it feeds (the health monitor, the
tamper guard) and the task keeper; never edged/control/ or edged/cli/ (tests/test_layers.py).
"""
