"""storage/footage/: The footage's tables and the checks on its files: the segment rows and the
`segments` view, gaps, motion events, re-stamps after a clock step and the correction of what the
catalog stamped on the wrong clock, missing files, copies made before storage work, the tamper
watcher, crash reconciliation and its audit record (design/0002, design/0054, design/0091,
design/0096). A piece of footage has one identity for ever: these modules are the only ones that
write a segment row. Their schema is storage/schema/ (design/0241).
"""
