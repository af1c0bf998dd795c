"""Retention: issued cards and feedback older than ``store_retention_days`` are purged by the service itself.

Each worker tries at most once per ``interval`` seconds, from the hook and feedback calls it
serves (no scheduler to forget); the purge goes through the one store interface
(``Store.purge``), so SQLite and PostgreSQL behave alike. A failure is logged and retried at
the next interval: it never fails a call.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Callable

from cds_service.store import Store, StoreError

log = logging.getLogger(__name__)

#: Seconds between two purges by one worker.
PURGE_INTERVAL_SECONDS = 3600.0


class RetentionPurger:
    def __init__(self, store: Store, days: int, interval: float = PURGE_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._days = days
        self._interval = interval
        self._clock = clock
        self._next = -float("inf")  # the first call after start purges
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._days > 0

    def maybe_purge(self, now: datetime) -> tuple[int, int] | None:
        """Purge rows older than the retention when the interval has passed; (cards, feedback) deleted.

        Never raises; None when it did not run (not due, off, another thread at it, or a store failure).
        """
        if self._days <= 0 or self._clock() < self._next or not self._lock.acquire(blocking=False):
            return None
        try:
            if self._clock() < self._next:
                return None
            self._next = self._clock() + self._interval
            try:
                deleted = self._store.purge(now - timedelta(days=self._days))
            except StoreError as exc:
                log.warning("retention purge failed, next try in %.0f s: %s", self._interval, exc)
                return None
            if any(deleted):
                log.info("retention purge: %d issued cards and %d feedback items older than %d days deleted",
                         deleted[0], deleted[1], self._days)
            return deleted
        finally:
            self._lock.release()
