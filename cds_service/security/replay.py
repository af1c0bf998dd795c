"""Replay cache: each JWT ``jti`` is accepted once per issuer within the token's lifetime.

The cache must be shared by every process that serves requests, or a replayed
token is accepted by the next worker. ``SQLiteReplayCache`` covers all gunicorn
workers on one host (one file, WAL, atomic insert-if-absent); with several replicas
the PostgreSQL feedback store is the cache too (its ``seen_before``, same interface).
"""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path
from typing import Callable, Protocol

from ..sqlite_conn import ThreadConnections, enable_wal


class ReplayCacheError(Exception):
    """The replay cache could not answer (locked too long, disk error); fail closed."""


class ReplayCache(Protocol):
    def seen_before(self, jti: str, iss: str, expires_at: float) -> bool:
        """Record (iss, jti) until ``expires_at`` (epoch seconds); True if it was already there.

        Insert-if-absent is atomic: of concurrent callers with the same pair, exactly
        one gets False.

        :raise ReplayCacheError: if the store cannot be read or written.
        """


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jwt_replay (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (iss, jti)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jwt_replay_expires_at ON jwt_replay (expires_at);
"""

# One statement, so atomic: insert, or take over a row whose token has expired
# (a jti may be reused after its lifetime). No row changed means "seen before".
_CLAIM = """
INSERT INTO jwt_replay (iss, jti, expires_at) VALUES (?, ?, ?)
ON CONFLICT (iss, jti) DO UPDATE SET expires_at = excluded.expires_at
WHERE jwt_replay.expires_at < ?
"""


class SQLiteReplayCache:
    """Replay cache in one SQLite file, safe across threads and processes on one host.

    Not for network file systems (SQLite locking is unreliable there).
    """

    def __init__(
        self,
        path: Path,
        busy_timeout: float = 1.0,
        purge_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ):
        self._path = Path(path)
        self._busy_timeout = busy_timeout
        self._purge_interval = purge_interval
        self._clock = clock
        self._next_purge = 0.0
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # An OS crash may lose the last few jtis, i.e. reopen a replay window of at
        # most one token lifetime (synchronous=NORMAL).
        self._connections = ThreadConnections(self._path, busy_timeout)
        try:
            conn = self._connections.get()
            enable_wal(conn, self._busy_timeout)  # persistent: readers never block the writer
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ReplayCacheError(f"replay cache {self._path}: {type(exc).__name__}") from None

    def seen_before(self, jti: str, iss: str, expires_at: float) -> bool:
        now = self._clock()
        try:
            conn = self._connections.get()
            changed = conn.execute(_CLAIM, (iss, jti, math.ceil(expires_at), now)).rowcount
            if now >= self._next_purge:
                self._next_purge = now + self._purge_interval
                conn.execute("DELETE FROM jwt_replay WHERE expires_at < ?", (now,))
        except sqlite3.Error as exc:
            raise ReplayCacheError(f"replay cache: {type(exc).__name__}") from None
        return changed == 0

    def close(self) -> None:
        """Close the connections this process opened (tests, shutdown); later calls reopen."""
        self._connections.close()

