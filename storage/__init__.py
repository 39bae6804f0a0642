"""storage/: the floor (design/0031, design/0068): the catalog, the footage files, the clock.

- The catalog's connection: catalog.py (`open_db`, `open_readonly`; `Catalog`, the writer's
  connection and clock; `CatalogWriter`, the one thread every write runs on, and
  `Catalog.in_one_transaction`). The schema: migrations.py, segment_schema.py, people_schema.py.
- One module per table, plain functions over the connection (`fn(db, ...)`): cameras.py,
  segment_rows.py (how segment rows are stored, their states, every write) and segments.py (the
  `segments` view's reads), gaps.py, alarms.py (the kinds: alarm_kinds.py), node.py, events.py,
  audit.py, accounts.py, sessions.py, retrieval_store.py, inspections.py, maintenance.py,
  restamps.py, outbox.py, footage_copy.py; retention's and export's tables in their rooms.
- Rooms: retention/ and export/ (they import nothing of each other); states/ (the row states,
  leaves that import nothing).
- Files and time: layout.py, mp4.py, hashing.py, fsutil.py, volume.py, free_space.py, tamper.py,
  reconcile.py (the catalog and the disk agreed after a crash; its audit record: recovery_record.py),
  clock.py, trusted_time.py.
- Keys, reports and the rest: nodekey.py, nodecert.py (the node's certificate from the office's CA,
  design/0097), chainhead.py, fleetkeys.py, audit_report.py, datainit.py
  (a new data folder), logs.py, full.py, rocdate.py.

Must not import: anything above storage/ (edged/, recorder/, mqtt/); a table module imports
nothing of catalog.py (tests/test_layers.py).
"""
