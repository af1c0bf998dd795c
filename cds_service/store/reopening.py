"""Stand-in for a store that a worker could not open when it started: opened again on use.

gunicorn restarts a worker that died or overran its timeout. If that happens while the store
(PostgreSQL, say) is down, the new worker cannot open it at boot. Failing the boot would make
gunicorn stop the whole service ("worker failed to boot"), although a hook call does not need
the store: cards go out without suppression, feedback gets 503 with Retry-After, /readyz says
not ready. So once the master has opened the store at start-up (settings checked, schema
migrated, the patient-hash key read), a worker that cannot reach it boots with this stand-in.
Every operation tries to open the store again, at most once per ``retry_seconds``, and raises
``StoreError`` until it can; each caller's own fail-open path then applies.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from cds_service.security.replay import ReplayCacheError

from .base import Store, StoreError

log = logging.getLogger(__name__)


class ReopeningStore:
    def __init__(self, opener: Callable[[], Store], backend: str, retry_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.backend = backend
        self._opener = opener
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._store: Store | None = None
        self._next_try = clock() + retry_seconds  # the boot just tried
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._store is not None

    def _real(self) -> Store:
        store = self._store
        if store is not None:
            return store
        with self._lock:
            if self._store is not None:
                return self._store
            if self._clock() < self._next_try:
                raise StoreError(f"{self.backend} store: not reachable since this worker started")
            self._next_try = self._clock() + self._retry_seconds
            self._store = self._opener()  # StoreError: still down
            log.warning("%s store: reachable again; opened", self.backend)
            return self._store

    def record_issued(self, cards):
        return self._real().record_issued(cards)

    def record_feedback(self, items):
        return self._real().record_feedback(items)

    def suppressed_kinds(self, patient_hash, reasons, since):
        return self._real().suppressed_kinds(patient_hash, reasons, since)

    def summary(self, service_id, start, end, top_reasons, client_scope=""):
        return self._real().summary(service_id, start, end, top_reasons, client_scope)

    def meta_value(self, key, default):
        return self._real().meta_value(key, default)

    def purge(self, before):
        return self._real().purge(before)

    def ping(self):
        return self._real().ping()

    def schema_version(self):
        return self._real().schema_version()

    # JWT replay cache (PostgreSQL stores are also the replicas' shared replay cache).
    def seen_before(self, jti: str, iss: str, expires_at: float) -> bool:
        try:
            store: Any = self._real()
        except StoreError as exc:
            raise ReplayCacheError(str(exc)) from None
        return store.seen_before(jti, iss, expires_at)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
