"""storage/: the floor (design/0031, design/0068): the catalog, the footage files, the clock.

Rooms, by what they store (issue 41): people/ (accounts, sessions, requests), footage/ (segment
rows, gaps, events, re-stamps, reconciliation, tamper), time/ (the clock, trusted time, durations),
keys/ (node key, chain heads, fleet keys), disk/ (layout, fsync, hashing, the disk's identity and
free space), retention/ and export/ (they import nothing of each other), states/ (the row states,
leaves that import nothing). Loose, each one table or one job: catalog.py (the connection and its
writer thread), migrations.py, cameras.py, alarms.py and alarm_kinds.py (the registry), audit.py
and audit_report.py, node.py, inspections.py, maintenance.py, outbox.py, mp4.py, logs.py.

Must not import: anything above storage/ (edged/, recorder/, mqtt/); a table module imports
nothing of catalog.py (tests/test_layers.py).
"""
