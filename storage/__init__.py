"""storage/: the floor (design/0031, design/0068): the catalog, the footage files, the clock.

Rooms, by what they store (issue 41): people/ (accounts, sessions, requests), footage/ (segment
rows, gaps, events, re-stamps and the clock corrections, reconciliation, tamper), time/ (the clock,
trusted time, durations), keys/ (node key, chain heads, fleet keys), disk/ (layout, fsync, hashing,
the disk's identity and free space), schema/ (the migrations and today's schema), retention/ and
export/ (they import nothing of each other), states/ (the row states, leaves that import nothing).
Loose, each one table or one job: catalog.py (the connection and its writer thread), datainit.py (a
new data folder), cameras.py, alarms.py and alarm_kinds.py (the registry), audit.py and
audit_report.py, node.py, inspections.py, maintenance.py, outbox.py, mp4.py, logs.py, readonly.py.

The rooms stand on floors (tests/test_layers.py STORAGE_FLOORS, design/0241): the vocabularies, the
clock and the schema; the disk and the one-table rooms; the catalog and the keys; the footage and
the people; the jobs over them (retention, export, a new data folder); redaction.

Must not import: anything above storage/ (edged/, recorder/, mqtt/); a room on its floor or above;
a table module imports nothing of catalog.py (tests/test_layers.py).
"""
