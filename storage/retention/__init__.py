"""Retention (R1.3-R1.6, R6; design/0068): what footage goes, when, and the only code that destroys it.

- plan.py: the planner, pure (docs/requirements.md, invariant 5): segments, holds and policy in,
  the destroys and alarms out.
- run.py: its I/O shell: feeds the planner from the catalog and carries out its plan so that a
  crash at any point leaves nothing half-done (the only code in edged that unlinks footage).
- policy.py: the planner's policy from the config, built once a pass.
- forecast.py: the planner's rules run forward, what a disk keeps at today's rates, and each
  camera's verdict against its minimum (pure).
- changes.py: what a policy change changes, and the maximums it lowers (pure); grace.py: those
  changes on the record and their grace period (design/0022).
- report.py: what retention has achieved and will achieve, and what it destroyed.
- holds.py: the `holds` table (R6); the states a hold has: storage/states/holds.py.

Owns the `destructions`, `garbage`, `holds` and `retention_changes` rows. Must not import
storage/export/ (an export keeps its footage through run.InUse, which the daemon passes in),
nor anything above storage/ (tests/test_layers.py).
"""
