"""Switching a SQLite file to WAL, shared by the feedback store and the JWT replay cache."""

from __future__ import annotations

import sqlite3
import time


def enable_wal(conn: sqlite3.Connection, timeout: float) -> str:
    """Switch the file to WAL (persistent: once per file) and return the journal mode now in force.

    Changing the journal mode answers "database is locked" at once while another
    process has the new file open, without waiting on the busy timeout; gunicorn
    workers starting together hit that, so try again until ``timeout`` seconds pass.

    :raise sqlite3.OperationalError: if the file stays locked past the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
