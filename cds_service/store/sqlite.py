"""The embedded store: one SQLite file in WAL mode, shared by every worker of one host.

Each process and thread has its own connection (never one used across a fork,
so gunicorn ``--preload`` is safe); SQLite's file lock serialises writers
across processes, and WAL lets readers go on while one writes. Writes are
short transactions taken with ``BEGIN IMMEDIATE``, so a writer waits for the
lock (up to the timeout) instead of failing half-way.

Not for several replicas (each would have its own file) nor for a network file
system (SQLite's locking is unreliable there): use ``PostgresStore``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..sqlite_conn import ThreadConnections, enable_wal
from . import migrations
from .base import FeedbackOutcome, IssuedCard, KindCounts, StoredFeedback, StoreError, SummaryCounts, stored_results
from .summary_rows import build_summary, run_summary_queries
from .timefmt import to_text

log = logging.getLogger(__name__)


class SQLiteStore:
    backend = "sqlite"

    def __init__(self, path: Path, timeout: float = 1.0,
                 migration_list: Sequence[migrations.Migration] = migrations.SQLITE):
        """Open (create) the file and apply pending migrations.

        :raise StoreError: if the file cannot be created, opened or migrated.
        """
        self.path = Path(path)
        self._timeout = timeout
        # An OS crash may lose the last few issued-card records (synchronous=NORMAL).
        self._connections = ThreadConnections(self.path, timeout, pragmas=("foreign_keys = ON",))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"store {self.path}: cannot create its folder ({type(exc).__name__})") from None
        with self._errors("open"):
            conn = self._connection()
            self._enable_wal(conn)
            self._migrate(conn, migration_list)

    # --- connections -----------------------------------------------------------

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """:raise sqlite3.OperationalError: if it stays locked; StoreError if WAL is refused."""
        mode = enable_wal(conn, self._timeout)
        if mode != "wal":
            raise StoreError(f"sqlite store: {self.path} cannot use WAL (journal mode {mode})")

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            # The type only: a message may quote a value.
            raise StoreError(f"sqlite store: {what} failed ({type(exc).__name__})") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # Also after a failed COMMIT (busy): never leave the connection inside a transaction.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._connections.close()

    # --- schema ------------------------------------------------------------------

    def _migrate(self, conn: sqlite3.Connection, migration_list: Sequence[migrations.Migration]) -> None:
        with self._write() as tx:
            tx.execute(migrations.SQLITE_BOOTSTRAP)
            applied = [row[0] for row in tx.execute("SELECT version FROM schema_migrations")]
            for m in migrations.pending(applied, migration_list):
                for statement in m.statements:
                    tx.execute(statement)
                tx.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                           (m.version, m.name, to_text(datetime.now(timezone.utc))))
                log.info("store migrated to version %d (%s)", m.version, m.name)

    def schema_version(self) -> int:
        with self._errors("schema version"):
            row = self._connection().execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def ping(self) -> None:
        with self._errors("ping"):
            self._connection().execute("SELECT 1 FROM schema_migrations LIMIT 1").fetchall()

    # --- writes ----------------------------------------------------------------

    def record_issued(self, cards: Sequence[IssuedCard]) -> None:
        if not cards:
            return
        rows = [(c.card_uuid, c.service_id, c.hook_instance, c.kind, c.indicator, c.patient_hash,
                 to_text(c.issued_at), c.client_scope) for c in cards]
        with self._errors("record issued cards"), self._write() as tx:
            tx.executemany(
                "INSERT INTO issued_cards (card_uuid, service_id, hook_instance, kind, indicator, patient_hash,"
                " issued_at, client_scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (card_uuid) DO NOTHING",
                rows,
            )

    def record_feedback(self, items: Sequence[FeedbackOutcome]) -> list[StoredFeedback]:
        if not items:
            return []
        with self._errors("record feedback"), self._write() as tx:
            new = {}
            issued = self._issued_kinds(tx, items)
            for item in items:
                if (item.client_scope, item.card_uuid) not in issued:
                    continue  # never issued to this client: not stored
                cur = tx.execute(
                    "INSERT INTO feedback (fingerprint, service_id, card_uuid, outcome, accepted_suggestions,"
                    " reason_system, reason_code, has_comment, outcome_at, acted_at, received_at, client_scope)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING",
                    (item.fingerprint, item.service_id, item.card_uuid, item.outcome,
                     json.dumps(list(item.accepted_suggestions)), item.reason_system, item.reason_code,
                     int(item.has_comment), to_text(item.outcome_at), to_text(item.acted_at),
                     to_text(item.received_at), item.client_scope),
                )
                # Two identical items in one post: the first is new, the second a duplicate.
                new[item.fingerprint] = new.get(item.fingerprint, False) or cur.rowcount == 1
        return stored_results(items, new, issued)

    @staticmethod
    def _issued_kinds(conn: sqlite3.Connection, items: Sequence[FeedbackOutcome]) -> dict[tuple[str, str], str]:
        """(client scope, card uuid) -> kind, for the cards of ``items`` issued to the item's client."""
        out: dict[tuple[str, str], str] = {}
        for scope in {i.client_scope for i in items}:
            uuids = tuple({i.card_uuid for i in items if i.client_scope == scope})
            marks = ",".join("?" * len(uuids))
            for uuid, kind in conn.execute(f"SELECT card_uuid, kind FROM issued_cards WHERE client_scope = ?"
                                           f" AND card_uuid IN ({marks})", (scope, *uuids)):
                out[(scope, uuid)] = kind
        return out

    def meta_value(self, key: str, default: str) -> str:
        with self._errors("store metadata"), self._write() as tx:
            tx.execute("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                       (key, default))
            return tx.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()[0]

    def purge(self, before: datetime) -> tuple[int, int]:
        cutoff = to_text(before)
        with self._errors("purge"), self._write() as tx:
            cards = tx.execute("DELETE FROM issued_cards WHERE issued_at < ?", (cutoff,)).rowcount
            feedback = tx.execute("DELETE FROM feedback WHERE received_at < ?", (cutoff,)).rowcount
        return cards, feedback

    # --- reads -------------------------------------------------------------------

    def suppressed_kinds(self, patient_hash: str, reasons: Iterable[tuple[str, str, str]],
                         since: datetime) -> set[str]:
        triples = sorted(set(reasons))
        if not triples:
            return set()
        rows_in = ",".join(["(?, ?, ?)"] * len(triples))
        with self._errors("suppression lookup"):
            rows = self._connection().execute(
                "SELECT DISTINCT i.kind FROM issued_cards i"
                " JOIN feedback f ON f.card_uuid = i.card_uuid AND f.client_scope = i.client_scope"
                " WHERE i.patient_hash = ? AND f.outcome = 'overridden' AND f.acted_at >= ?"
                f" AND (i.kind, f.reason_system, f.reason_code) IN (VALUES {rows_in})",
                (patient_hash, to_text(since), *(v for t in triples for v in t)),
            ).fetchall()
        return {r[0] for r in rows}

    def summary(self, service_id: str, start: datetime, end: datetime, top_reasons: int,
                client_scope: str = "") -> SummaryCounts:
        window = (client_scope, service_id, to_text(start), to_text(end))
        with self._errors("summary"):
            shown, outcomes, reasons, unmatched = run_summary_queries(self._connection().execute, "?", window)
        return build_summary(shown, outcomes, reasons, unmatched, top_reasons)


__all__ = ["SQLiteStore", "KindCounts"]
