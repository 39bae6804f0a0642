"""The control socket's operations, for tests that check the surface as a whole."""

from __future__ import annotations

from edged.config import default_config
from edged.control.accounts import AccountOps
from edged.control.audit import AuditOps
from edged.control.export import ExportOps
from edged.control.redact import RedactOps
from edged.control.flags import FlagOps
from edged.control.holds import HoldOps
from edged.control.inspections import InspectionOps
from edged.control.maintenance import MaintenanceOps
from edged.control.operation import CatalogReader, handlers_of
from edged.control.retrieval import RequestOps
from edged.control.sessions import SessionOps
from edged.control.status import StatusOps


def control_operations(tmp_path):
    """Every operation the daemon's control socket serves, as the composition root registers them
    (edged/app.py), built with nothing behind them."""
    cfg = default_config(tmp_path)
    reader = CatalogReader(tmp_path)
    return handlers_of(
        StatusOps(lambda: cfg, None, reader), HoldOps(None, None, reader), MaintenanceOps(None, reader),
        InspectionOps(None, None, reader), SessionOps(cfg, None), AccountOps(cfg, None), RequestOps(cfg, None),
        AuditOps(None, reader), ExportOps(cfg, None, None), RedactOps(cfg, None, None),
        FlagOps(None, reader))
