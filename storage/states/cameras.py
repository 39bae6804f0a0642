"""The states a camera's row can have, named only here (design/0033). The recorder reports
connecting, recording, offline and stopped (its thread ended: removed from the config, or
edged stopping); the health monitor adds degraded (recording, but the picture or stream
fails a check); disabled: switched off in the config. The table: storage/cameras.py."""

CONNECTING, RECORDING, DEGRADED, OFFLINE, DISABLED = "connecting", "recording", "degraded", "offline", "disabled"
STOPPED = "stopped"
CAMERA_STATES = (CONNECTING, RECORDING, DEGRADED, OFFLINE, STOPPED, DISABLED)
# A portable device's camera (design/0349): its id begins with this (a config camera's id has no dot), and its
# footage's times are its device's claim, which may be ahead of the box's clock (design/0380, 0400).
PORTABLE_PREFIX = "portable."
