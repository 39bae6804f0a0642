"""The planner's policy from the config (storage/retention/plan.py `Policy`): the site's limits, each
camera's own, the disk's reserve and what to do when full. Pure; built once a pass
(storage/retention/run.py), and carried in its result to what follows the pass (issue 57).
"""

from __future__ import annotations

from typing import Any, Iterable

from storage.retention.plan import Limits, Policy


def policy_for(retention: Any, cameras: Iterable[Any], total_bytes: int) -> Policy:
    """Build the planner's policy from the config's [retention] and camera overrides."""
    site = Limits(retention.min_retention_us, retention.max_retention_us)
    overrides = {c.id: Limits(c.min_retention_us or site.min_us, c.max_retention_us or site.max_us)
                 for c in cameras if c.min_retention_us or c.max_retention_us}
    return Policy(site, overrides, retention.reserve_for(total_bytes), retention.on_full)
