"""SQLite connections shared by the feedback store and the JWT replay cache.

Both keep one file used by every gunicorn worker and thread: one connection per
thread and per process (never used across a fork: gunicorn --preload forks after
the app is built), busy timeouts, and the file in WAL mode.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable


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


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class ThreadConnections:
    """One autocommit connection per thread and process to one SQLite file.

    Only the first connection may create the file. If the file is deleted or
    replaced later, a connection to it would go on writing to the unlinked copy
    (and a store would acknowledge feedback nobody can read), so ``get`` checks
    the file is still the one opened and otherwise fails until it is back.
    """

    def __init__(self, path: Path, timeout: float, pragmas: Iterable[str] = ()):
        self.path = Path(path)
        self._timeout = timeout
        # WAL + synchronous=NORMAL survives a process crash; an OS crash may lose the
        # last transactions, never corrupt the file. Callers add their own pragmas.
        self._pragmas = (f"busy_timeout = {int(timeout * 1000)}", "synchronous = NORMAL", *pragmas)
        self._local = threading.local()
        self._opened: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._created = False

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (and again after a fork).

        :raise sqlite3.Error: if the file cannot be opened, or is gone (deleted or replaced).
        """
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            if _file_id(self.path) == self._local.file_id:
                return conn
            self._local.conn = None  # the file was deleted or replaced under this connection
            self._forget(conn)
        # isolation_level=None: autocommit, transactions only where the caller begins one.
        # check_same_thread=False only so close() may run elsewhere; use stays per thread.
        # After the first connection: mode=rw, so a deleted file is an error, not a new empty one.
        target = self.path if not self._created else f"{self.path.absolute().as_uri()}?mode=rw"
        conn = sqlite3.connect(target, timeout=self._timeout, isolation_level=None, check_same_thread=False,
                               uri=self._created)
        self._created = True
        for pragma in self._pragmas:
            conn.execute(f"PRAGMA {pragma}")
        self._local.conn, self._local.pid, self._local.file_id = conn, os.getpid(), _file_id(self.path)
        with self._lock:
            self._opened.append((os.getpid(), conn))
        return conn

    def _forget(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._opened = [(pid, c) for pid, c in self._opened if c is not conn]
        conn.close()

    def close(self) -> None:
        """Close the connections this process opened (tests, shutdown); later calls reopen."""
        with self._lock:
            opened, self._opened = self._opened, []
        for pid, conn in opened:
            if pid == os.getpid():
                conn.close()
        self._local = threading.local()
