"""The running daemon: the composition root (edged/daemon/root.py), the recorder supervisor, and the
tasks beside recording (retention, health, inspections, people, reporting, liveness, keepalive)."""
