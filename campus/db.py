"""SQLite connections the way every meterwatch file wants them: WAL, fsync on commit, private.

The data directory holds readings, tokens' hashes, the signing key and dead letters (raw payloads):
it is made 0700 (an existing one keeps at most 0750, for a group the operator chose), and every
database file is created 0600 before SQLite opens it (its -wal and -shm files take the same mode).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Make ``path`` (0700), or take away what others may do in an existing one (at most 0750)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o027:
        with contextlib.suppress(PermissionError):  # not ours to change: leave it as the operator set it
            path.chmod(mode & 0o750)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists (never readable by others, not even briefly)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with ``synchronous=FULL`` so a commit survives a crash or power cut."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # an existing folder is the operator's to set
    if not readonly:
        private_file(path)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn
