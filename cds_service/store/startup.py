"""The store at start-up: opened once in the gunicorn master, then in each worker.

``check_in_master`` runs before gunicorn forks its workers (``cds-service serve``): settings,
reachability and the schema are checked there, once, and a failure stops start-up with its
reason. ``open_for_worker`` then opens the store in a worker. If the master's check passed
and a worker cannot reach the store later (a worker restarted during an outage), the worker
boots with a ``ReopeningStore`` instead of failing, which would stop the whole service.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import backend_for, open_store
from .base import Store, StoreError
from .reopening import ReopeningStore

if TYPE_CHECKING:
    from cds_service.settings import Settings

log = logging.getLogger(__name__)

#: Filled in the master by ``check_in_master``; workers inherit it by fork.
_CHECKED: dict[str, str] = {}
#: Seconds between two attempts of a worker to open a store it could not reach.
RETRY_SECONDS = 5.0


def check_in_master(settings: "Settings") -> None:
    """Open (and migrate) the store once, read the patient-hash key, close it.

    :raise SettingsError, StoreError: start-up stops with the reason.
    """
    store = open_store(settings)
    try:
        _CHECKED["patient_hash_key"] = patient_hash_key(settings, store)
    finally:
        store.close()


def open_for_worker(settings: "Settings") -> tuple[Store, str]:
    """(store, patient-hash key) for this process.

    :raise SettingsError, StoreError: when the store cannot be opened and the master did not
        check it (a process of its own: tests, ``check-config``, a WSGI server of one's own).
    """
    store = None
    try:
        store = open_store(settings)
        return store, patient_hash_key(settings, store)
    except StoreError as exc:
        if store is not None:  # opened, then the key could not be read: not left half-open
            store.close()
        if "patient_hash_key" not in _CHECKED:
            raise
        backend = backend_for(settings)
        log.error("%s store: not reachable as this worker starts (%s); serving without it, trying again "
                  "every %g s", backend, exc, RETRY_SECONDS)
        return (ReopeningStore(lambda: open_store(settings), backend, RETRY_SECONDS),
                settings.patient_hash_key.get_secret_value() or _CHECKED["patient_hash_key"])


def patient_hash_key(settings: "Settings", store: Store) -> str:
    """The configured key; without one, a random key made once and shared through the store,
    so that all workers and replicas hash a patient the same way."""
    from cds_service.feedback.identity import GENERATED_KEY_NAME, new_key

    return settings.patient_hash_key.get_secret_value() or store.meta_value(GENERATED_KEY_NAME, new_key())
