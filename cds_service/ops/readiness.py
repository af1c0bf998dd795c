"""``/readyz``: can this process serve hook calls as configured? The store answers, value sets are loaded.

``/healthz`` stays "the process is up" (a liveness probe must not restart a
pod because the database is down). Readiness does depend on the store, so a
replica whose store is unreachable stops getting traffic; note that with one
shared PostgreSQL that is every replica at once (see docs/operations.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cds_service.store import Store, StoreError
from cds_service.valuesets import ValueSets, load_valuesets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]

    def body(self) -> dict:
        return {"status": "ready" if self.ready else "not-ready", "checks": self.checks}


def load_valuesets_once(folder: Path) -> ValueSets | None:
    """The value sets, or None (logged) if they do not load: readiness then says so."""
    try:
        return load_valuesets(folder)
    except (OSError, ValueError) as exc:  # ValueSetError is a ValueError
        log.error("value sets failed to load: %s", type(exc).__name__)
        return None


def check(store: Store, valuesets: ValueSets | None) -> Readiness:
    checks: dict[str, str] = {}
    try:
        store.ping()
        checks["store"] = "ok"
    except StoreError as exc:
        log.warning("readiness: store unavailable: %s", exc)
        checks["store"] = "unavailable"
    checks["valuesets"] = "ok" if valuesets is not None and len(valuesets) > 0 else "not-loaded"
    return Readiness(all(v == "ok" for v in checks.values()), checks)
