"""The read-only dashboard (design/0028): the fleet, a page per site, the month page, its frame and
its stylesheet (static/)."""
