"""Durable state of the service: issued cards, feedback, suppression lookups, replay cache.

``open_store(settings)`` picks the backend: PostgreSQL when
``store_database_url`` is set (several replicas share it), else the embedded
SQLite file at ``store_path`` (the workers of one host share it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import (
    FeedbackOutcome,
    IssuedCard,
    KindCounts,
    Store,
    StoredFeedback,
    StoreError,
    SummaryCounts,
)

if TYPE_CHECKING:
    from cds_service.security.replay import ReplayCache
    from cds_service.settings import Settings

__all__ = [
    "FeedbackOutcome",
    "IssuedCard",
    "KindCounts",
    "Store",
    "StoreError",
    "StoredFeedback",
    "SummaryCounts",
    "backend_for",
    "open_store",
    "replay_cache_for",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(settings: "Settings") -> Store:
    """The store the settings name, migrated to the current schema.

    :raise SettingsError: if ``store_database_url`` is not a PostgreSQL URL.
    :raise StoreError: if the store cannot be opened or migrated.
    """
    from cds_service.settings import SettingsError

    url = settings.store_database_url.get_secret_value().strip()
    if backend_for(settings) == "postgresql":
        if not url.startswith(_POSTGRES_SCHEMES):  # Settings checks it too; never echo the value (a password)
            raise SettingsError("setting store_database_url (CDS_STORE_DATABASE_URL): must be a postgresql:// URL")
        from .postgres import PostgresStore

        return PostgresStore(url, timeout=settings.store_timeout_seconds, pool_size=settings.store_pool_size)
    from .sqlite import SQLiteStore

    path = settings.store_path
    if not path.is_absolute():
        # content_dir is writable in the image (/app); the package directory is not.
        path = settings.content_dir / path
    return SQLiteStore(path, timeout=settings.store_timeout_seconds)


def backend_for(settings: "Settings") -> str:
    """The backend ``open_store`` picks: "postgresql" when ``store_database_url`` is set, else "sqlite"."""
    return "postgresql" if settings.store_database_url.get_secret_value().strip() else "sqlite"


def replay_cache_for(store: Store) -> "ReplayCache | None":
    """The replay cache to hand to ``security.init_app``: the store itself when replicas share it.

    None for SQLite: the security package keeps its own SQLite file then
    (``replay_cache_path``), which is as shared as this store would be.
    """
    return store if store.backend == "postgresql" else None  # type: ignore[return-value]
