"""The running daemon (built and started by the composition root, edged/app.py): the recording
control plane (recording/), and the tasks beside recording (retention, health, inspections,
people, reporting, liveness, keepalive)."""
