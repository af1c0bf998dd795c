"""The shared store: PostgreSQL, for several replicas (and their workers) at once.

Driver: psycopg 3 with psycopg_pool. Each worker process opens its own small
pool on first use (never before a fork: start-up work uses one short-lived
connection of its own). Every write is idempotent (``ON CONFLICT DO
NOTHING``), so an operation whose connection broke under it (server restart,
failover) is retried once on a fresh connection; anything else becomes a
``StoreError`` after at most the store timeout.

The same tables hold the JWT replay cache (``seen_before``), so a token
replayed to another replica is refused too.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import threading
import time
import weakref
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence, TypeVar

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict

from cds_service.security.replay import ReplayCacheError

from . import migrations
from .base import FeedbackOutcome, IssuedCard, StoredFeedback, StoreError, SummaryCounts, stored_results
from .summary_rows import build_summary, run_summary_queries
from .timefmt import utc

log = logging.getLogger(__name__)

T = TypeVar("T")

#: pg_advisory_xact_lock key held while migrating: replicas starting together take turns.
_MIGRATION_LOCK = 0x7C05_F33D


def _close_quietly(ref: "weakref.ref[PostgresStore]", pid: int) -> None:
    store = ref()
    if store is not None and os.getpid() == pid:
        try:
            store.close()
        except Exception:  # at exit: nothing left to report to
            pass


class PostgresStore:
    backend = "postgresql"

    def __init__(
        self,
        url: str,
        timeout: float = 1.0,
        pool_size: int = 4,
        migration_list: Sequence[migrations.Migration] = migrations.POSTGRES,
        purge_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ):
        """Connect once, apply pending migrations, and close that connection.

        :raise StoreError: if the server cannot be reached or the migration fails.
        """
        self._url = url
        self._timeout = timeout
        self._pool_size = pool_size
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error:
            # Never echo the URL: it holds the password.
            raise StoreError("postgresql store: store_database_url is not a valid connection URL") from None
        self._password = params.get("password")
        # libpq's connect_timeout is whole seconds, at least 2.
        self._connect_kwargs: dict[str, Any] = {
            "connect_timeout": max(2, math.ceil(timeout)),
            "application_name": "cds-service",
        }
        # Appended to the URL's own options (a search_path, say), which a bare kwarg would replace.
        self._session_options = " ".join(filter(None, [
            params.get("options"), f"-c statement_timeout={int(timeout * 1000)} -c lock_timeout={int(timeout * 1000)}",
        ]))
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._pool_pid: int | None = None
        self._inherited: list[psycopg_pool.ConnectionPool] = []
        self._pool_lock = threading.Lock()
        self._purge_interval = purge_interval
        self._clock = clock
        self._next_purge = 0.0
        self._direct("migrate", lambda conn: self._migrate(conn, migration_list))

    # --- connections -------------------------------------------------------------

    def _error(self, what: str, exc: BaseException) -> StoreError:
        if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled):
            # Connection failures say where and why (host, port, refused / auth failed):
            # worth logging, with the password cut out should libpq ever echo it.
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if self._password:
                detail = detail.replace(self._password, "***")
            return StoreError(f"postgresql store: {what} failed ({type(exc).__name__}: {detail})")
        code = getattr(exc, "sqlstate", None)
        return StoreError(f"postgresql store: {what} failed ({type(exc).__name__}{', ' + code if code else ''})")

    def _direct(self, what: str, work: Callable[[psycopg.Connection], T]) -> T:
        """Run ``work`` on a connection of its own (start-up only: no pool before a fork)."""
        try:
            with psycopg.connect(self._url, autocommit=True, **self._connect_kwargs) as conn:
                return work(conn)
        except psycopg.Error as exc:
            raise self._error(what, exc) from None

    def _pool_for_this_process(self) -> psycopg_pool.ConnectionPool:
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                if self._pool is not None:
                    # Opened by the parent before a fork: its sockets are the parent's.
                    # Keep a reference so garbage collection never closes them from here.
                    self._inherited.append(self._pool)
                self._pool = psycopg_pool.ConnectionPool(
                    self._url,
                    kwargs={**self._connect_kwargs, "autocommit": True, "options": self._session_options},
                    min_size=1,
                    max_size=self._pool_size,
                    timeout=self._timeout,
                    name="cds-store",
                    open=False,
                )
                self._pool.open(wait=False)
                self._pool_pid = os.getpid()
                # A worker that exits (gunicorn restart, scale-in) says goodbye to the
                # server instead of leaving it to notice dropped connections.
                atexit.register(_close_quietly, weakref.ref(self), os.getpid())
            return self._pool

    def _run(self, what: str, work: Callable[[psycopg.Connection], T]) -> T:
        """Run ``work`` on a pooled connection; once more on a new one if the first broke.

        :raise StoreError: on any other failure, or no connection within the timeout.
        """
        for attempt in (1, 2):
            retry = False
            try:
                with self._pool_for_this_process().connection() as conn:
                    try:
                        return work(conn)
                    except psycopg.OperationalError:
                        if attempt == 1 and conn.broken:
                            retry = True
                        else:
                            raise
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                raise self._error(what, exc) from None
            if retry:
                log.warning("postgresql store: connection lost during %s; retrying once", what)
                # The others in the pool likely died too (server restart): test them all now.
                try:
                    self._pool_for_this_process().check()
                except psycopg.Error as exc:
                    raise self._error(what, exc) from None
        raise StoreError(f"postgresql store: {what} failed (connection lost twice)")

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
            if pool is not None and self._pool_pid == os.getpid():
                pool.close()

    # --- schema --------------------------------------------------------------------

    @staticmethod
    def _migrate(conn: psycopg.Connection, migration_list: Sequence[migrations.Migration]) -> None:
        # DDL is transactional in PostgreSQL: all pending migrations or none.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(migrations.POSTGRES_BOOTSTRAP)
            applied = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
            for m in migrations.pending(applied, migration_list):
                for statement in m.statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (m.version, m.name))
                log.info("store migrated to version %d (%s)", m.version, m.name)

    def schema_version(self) -> int:
        row = self._run("schema version",
                        lambda c: c.execute("SELECT MAX(version) FROM schema_migrations").fetchone())
        return row[0] or 0

    def ping(self) -> None:
        self._run("ping", lambda c: c.execute("SELECT 1").fetchone())

    # --- writes --------------------------------------------------------------------

    def record_issued(self, cards: Sequence[IssuedCard]) -> None:
        if not cards:
            return
        # utc() refuses naive times (PostgreSQL would read them in the session's zone).
        rows = [(c.card_uuid, c.service_id, c.hook_instance, c.kind, c.indicator, c.patient_hash, utc(c.issued_at),
                 c.client_scope) for c in cards]

        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s::timestamptz, %s)"] * len(rows))
        params = [v for row in rows for v in row]
        # One statement, so one round trip in autocommit. The CTE makes this one
        # transaction commit without waiting for the WAL flush: a server crash may
        # lose the last fraction of a second of issued-card records (it corrupts
        # nothing), and the hook call does not wait on a disk. Feedback keeps the
        # full synchronous commit. (set_config is volatile: the CTE is never skipped.)
        statement = (
            "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))"
            " INSERT INTO issued_cards (card_uuid, service_id, hook_instance, kind, indicator, patient_hash, issued_at,"
            " client_scope)"
            " SELECT v.* FROM (VALUES " + values + ") AS v (card_uuid, service_id, hook_instance, kind, indicator,"
            " patient_hash, issued_at, client_scope) CROSS JOIN async_commit ON CONFLICT (card_uuid) DO NOTHING"
        )

        def work(conn: psycopg.Connection) -> None:
            conn.execute(statement, params)

        self._run("record issued cards", work)

    def record_feedback(self, items: Sequence[FeedbackOutcome]) -> list[StoredFeedback]:
        if not items:
            return []

        def work(conn: psycopg.Connection) -> tuple[dict[str, bool], dict[tuple[str, str], str]]:
            new: dict[str, bool] = {}
            with conn.transaction():
                issued: dict[tuple[str, str], str] = {}
                for scope in {i.client_scope for i in items}:
                    uuids = sorted({i.card_uuid for i in items if i.client_scope == scope})
                    for uuid, kind in conn.execute(
                        "SELECT card_uuid, kind FROM issued_cards WHERE client_scope = %s AND card_uuid = ANY(%s)",
                        (scope, uuids),
                    ).fetchall():
                        issued[(scope, uuid)] = kind
                for item in items:
                    if (item.client_scope, item.card_uuid) not in issued:
                        continue  # never issued to this client: not stored
                    cur = conn.execute(
                        "INSERT INTO feedback (fingerprint, service_id, card_uuid, outcome, accepted_suggestions,"
                        " reason_system, reason_code, has_comment, outcome_at, acted_at, received_at, client_scope)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (fingerprint) DO NOTHING",
                        (item.fingerprint, item.service_id, item.card_uuid, item.outcome,
                         json.dumps(list(item.accepted_suggestions)), item.reason_system, item.reason_code,
                         item.has_comment, utc(item.outcome_at), utc(item.acted_at), utc(item.received_at),
                         item.client_scope),
                    )
                    new[item.fingerprint] = new.get(item.fingerprint, False) or cur.rowcount == 1
            return new, issued

        new, issued = self._run("record feedback", work)
        return stored_results(items, new, issued)

    def meta_value(self, key: str, default: str) -> str:
        # Start-up only (the patient hash key): a direct connection, no pool before a fork.
        def work(conn: psycopg.Connection) -> str:
            conn.execute("INSERT INTO store_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                         (key, default))
            return conn.execute("SELECT value FROM store_meta WHERE key = %s", (key,)).fetchone()[0]

        return self._direct("store metadata", work)

    def purge(self, before: datetime) -> tuple[int, int]:
        def work(conn: psycopg.Connection) -> tuple[int, int]:
            with conn.transaction():
                cards = conn.execute("DELETE FROM issued_cards WHERE issued_at < %s", (utc(before),)).rowcount
                feedback = conn.execute("DELETE FROM feedback WHERE received_at < %s", (utc(before),)).rowcount
            return cards, feedback

        return self._run("purge", work)

    # --- reads ---------------------------------------------------------------------

    def suppressed_kinds(self, patient_hash: str, reasons: Iterable[tuple[str, str, str]],
                         since: datetime) -> set[str]:
        triples = sorted(set(reasons))
        if not triples:
            return set()
        rows_in = ",".join(["(%s, %s, %s)"] * len(triples))
        rows = self._run("suppression lookup", lambda c: c.execute(
            "SELECT DISTINCT i.kind FROM issued_cards i"
            " JOIN feedback f ON f.card_uuid = i.card_uuid AND f.client_scope = i.client_scope"
            " WHERE i.patient_hash = %s AND f.outcome = 'overridden' AND f.acted_at >= %s"
            f" AND (i.kind, f.reason_system, f.reason_code) IN (VALUES {rows_in})",
            (patient_hash, utc(since), *(v for t in triples for v in t)),
        ).fetchall())
        return {r[0] for r in rows}

    def summary(self, service_id: str, start: datetime, end: datetime, top_reasons: int,
                client_scope: str = "") -> SummaryCounts:
        window = (client_scope, service_id, utc(start), utc(end))

        def work(conn: psycopg.Connection):
            # One snapshot for the four queries, so the figures agree with each other.
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return run_summary_queries(conn.execute, "%s", window)

        shown, outcomes, reasons, unmatched = self._run("summary", work)
        return build_summary(shown, outcomes, reasons, unmatched, top_reasons)

    # --- JWT replay cache (cds_service.security.replay.ReplayCache) ----------------

    def seen_before(self, jti: str, iss: str, expires_at: float) -> bool:
        """Record (iss, jti) until ``expires_at``; True if it was there already (atomic across replicas).

        :raise ReplayCacheError: if the store cannot answer (the call is refused with 503).
        """
        now = self._clock()

        def work(conn: psycopg.Connection) -> int:
            # One statement, so atomic: insert, or take over a row whose token has
            # expired (a jti may be reused after its lifetime). No row: seen before.
            changed = conn.execute(
                "INSERT INTO jwt_replay (iss, jti, expires_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (iss, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at"
                " WHERE jwt_replay.expires_at < %s",
                (iss, jti, math.ceil(expires_at), now),
            ).rowcount
            if now >= self._next_purge:
                self._next_purge = now + self._purge_interval
                conn.execute("DELETE FROM jwt_replay WHERE expires_at < %s", (now,))
            return changed

        try:
            return self._run("replay check", work) == 0
        except StoreError as exc:
            raise ReplayCacheError(str(exc)) from None
