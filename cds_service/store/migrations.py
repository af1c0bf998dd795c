"""Versioned schema migrations, one list per backend.

Each migration has a version (1, 2, ...), a name, and SQL statements. The
store applies, at start-up and in one transaction under a lock, the ones whose
version is not yet in ``schema_migrations``; so of several workers or replicas
starting at once exactly one applies them and the others see them applied.

Rules for adding one (they keep rolling deployments safe):

- append; never edit or renumber a migration that has been released;
- additive only (new tables, columns with defaults, indexes): code one release
  older must keep working on the new schema, because old replicas still run
  while new ones migrate. Dropping things waits for a later release.

A database with a version this code does not know (a newer release migrated
it, then was rolled back) is used as it is, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Sequence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


#: Created before any migration runs; the record of which ones did.
SQLITE_BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
POSTGRES_BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)

# SQLite keeps times as fixed-width UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ), so
# text order is time order and range queries use the indexes.
SQLITE: tuple[Migration, ...] = (
    Migration(1, "feedback, issued cards, store metadata", (
        "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE issued_cards (
            card_uuid TEXT PRIMARY KEY,
            service_id TEXT NOT NULL,
            hook_instance TEXT NOT NULL,
            kind TEXT NOT NULL,
            indicator TEXT NOT NULL,
            patient_hash TEXT NOT NULL,
            issued_at TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX issued_cards_patient ON issued_cards (patient_hash)",
        "CREATE INDEX issued_cards_service_time ON issued_cards (service_id, issued_at)",
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL UNIQUE,
            service_id TEXT NOT NULL,
            card_uuid TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
            accepted_suggestions TEXT NOT NULL,
            reason_system TEXT,
            reason_code TEXT,
            has_comment INTEGER NOT NULL,
            outcome_at TEXT NOT NULL,
            acted_at TEXT NOT NULL,
            received_at TEXT NOT NULL
        )""",
        "CREATE INDEX feedback_card ON feedback (card_uuid)",
        "CREATE INDEX feedback_service_received ON feedback (service_id, received_at)",
    )),
    Migration(2, "issued cards and feedback bound to the client (issue 17)", (
        "ALTER TABLE issued_cards ADD COLUMN client_scope TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE feedback ADD COLUMN client_scope TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX issued_cards_scope_service_time ON issued_cards (client_scope, service_id, issued_at)",
        "CREATE INDEX issued_cards_received ON issued_cards (issued_at)",
        "CREATE INDEX feedback_received ON feedback (received_at)",
    )),
)

POSTGRES: tuple[Migration, ...] = (
    Migration(1, "feedback, issued cards, store metadata", (
        "CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL)",
        """CREATE TABLE issued_cards (
            card_uuid text PRIMARY KEY,
            service_id text NOT NULL,
            hook_instance text NOT NULL,
            kind text NOT NULL,
            indicator text NOT NULL,
            patient_hash text NOT NULL,
            issued_at timestamptz NOT NULL
        )""",
        "CREATE INDEX issued_cards_patient ON issued_cards (patient_hash)",
        "CREATE INDEX issued_cards_service_time ON issued_cards (service_id, issued_at)",
        """CREATE TABLE feedback (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            fingerprint text NOT NULL UNIQUE,
            service_id text NOT NULL,
            card_uuid text NOT NULL,
            outcome text NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
            accepted_suggestions jsonb NOT NULL,
            reason_system text,
            reason_code text,
            has_comment boolean NOT NULL,
            outcome_at timestamptz NOT NULL,
            acted_at timestamptz NOT NULL,
            received_at timestamptz NOT NULL
        )""",
        "CREATE INDEX feedback_card ON feedback (card_uuid)",
        "CREATE INDEX feedback_service_received ON feedback (service_id, received_at)",
    )),
    # SQLite hosts keep the JWT replay cache in the security package's own file;
    # replicas on PostgreSQL share this table instead.
    Migration(2, "JWT replay cache shared by replicas", (
        """CREATE TABLE jwt_replay (
            iss text NOT NULL,
            jti text NOT NULL,
            expires_at bigint NOT NULL,
            PRIMARY KEY (iss, jti)
        )""",
        "CREATE INDEX jwt_replay_expires_at ON jwt_replay (expires_at)",
    )),
    Migration(3, "issued cards and feedback bound to the client (issue 17)", (
        "ALTER TABLE issued_cards ADD COLUMN client_scope text NOT NULL DEFAULT ''",
        "ALTER TABLE feedback ADD COLUMN client_scope text NOT NULL DEFAULT ''",
        "CREATE INDEX issued_cards_scope_service_time ON issued_cards (client_scope, service_id, issued_at)",
        "CREATE INDEX issued_cards_received ON issued_cards (issued_at)",
        "CREATE INDEX feedback_received ON feedback (received_at)",
    )),
)


def pending(applied: Iterable[int], migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations still to apply, in order.

    :raise ValueError: if ``migrations`` is not numbered 1, 2, 3... (a coding error).
    """
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1..n in order, got {versions}")
    done = set(applied)
    unknown = sorted(v for v in done if v > len(migrations))
    if unknown:
        log.warning("store schema has migrations this code does not know (%s): using it as it is", unknown)
    return [m for m in migrations if m.version not in done]
