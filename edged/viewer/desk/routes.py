"""The desk's pages, as one table (design/0068): each page module's `add_routes(desk, router)`,
in the order `Desk.add_routes` adds them. The viewer's server hands the table to the door, so
the door (app.py) imports no page while every page imports the door."""

from __future__ import annotations

from edged.viewer.desk import accounts, audit, cameras, exports, holds, home, inspections, intake, live_grant, paper, \
    redaction, requests, timeline
from edged.viewer.desk.app import AddRoutes

PAGES: tuple[AddRoutes, ...] = (home.add_routes, requests.add_routes, accounts.add_routes, audit.add_routes,
                                holds.add_routes, inspections.add_routes, cameras.add_routes, exports.add_routes,
                                timeline.add_routes, paper.add_routes, live_grant.add_routes,
                                redaction.add_routes, intake.add_routes)
