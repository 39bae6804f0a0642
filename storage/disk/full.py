"""Is this failure a full disk? (design/0058)

SQLite says so with SQLITE_FULL ("database or disk is full"), the file system with ENOSPC or
EDQUOT. The daemon treats such a failure as a state of the disk (an alarm, recording paused,
the catalog reconciled once there is room), never as a reason to exit.
"""

from __future__ import annotations

import errno
import sqlite3

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS
