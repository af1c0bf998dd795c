"""When the store cannot answer: StoreError (no secrets in it), within the timeout; broken connections retried."""

from __future__ import annotations

import sqlite3

import pytest

from cds_service.settings import Settings, SettingsError
from cds_service.store import StoreError, open_store
from cds_service.store.postgres import PostgresStore
from cds_service.store.sqlite import SQLiteStore
from tests.store.helpers import issued
from tests.support.processes import free_port


def test_sqlite_locked_too_long_is_a_store_error(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3", timeout=0.05)
    blocker = sqlite3.connect(tmp_path / "s.sqlite3", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="record issued cards failed"):
            store.record_issued([issued()])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.record_issued([issued()])  # the connection was not left inside a transaction
    store.close()


def test_sqlite_folder_that_cannot_be_made_is_a_store_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create its folder"):
        SQLiteStore(tmp_path / "file" / "s.sqlite3")


def test_unreachable_postgresql_is_a_store_error_without_the_password():
    url = f"postgresql://cds:Very-Secret-Pw@127.0.0.1:{free_port()}/cds"
    with pytest.raises(StoreError) as info:
        PostgresStore(url, timeout=0.5)
    assert "Very-Secret-Pw" not in str(info.value)
    assert "127.0.0.1" in str(info.value)  # says where it tried


def test_a_malformed_url_is_refused_without_echoing_it():
    with pytest.raises(StoreError) as info:
        PostgresStore("postgresql://u:Very-Secret-Pw@host:notaport/db")
    assert "Very-Secret-Pw" not in str(info.value)
    with pytest.raises(SettingsError) as info:
        open_store(Settings(store_database_url="mysql://u:Very-Secret-Pw@h/db"))
    assert "Very-Secret-Pw" not in str(info.value) and "STORE_DATABASE_URL" in str(info.value)


def test_sqlite_is_the_default_and_relative_paths_follow_content_dir(tmp_path):
    store = open_store(Settings(content_dir=tmp_path))
    assert store.backend == "sqlite" and (tmp_path / "var" / "cds-store.sqlite3").is_file()
    store.close()


@pytest.fixture
def pg(pg_schema_url):
    store = PostgresStore(pg_schema_url, timeout=0.5)
    yield store, pg_schema_url
    store.close()


def test_postgres_connection_killed_under_the_pool_is_retried_once(pg):
    store, url = pg
    store.record_issued([issued()])  # the pool now holds a connection
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'cds-service' AND pid <> pg_backend_pid()").fetchall()
    assert killed  # there was a pooled connection to kill
    store.record_issued([issued()])  # no error: retried on a fresh connection
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT COUNT(*) FROM issued_cards").fetchone()[0] == 2


def test_postgres_statement_over_the_timeout_is_a_store_error(pg):
    store, url = pg
    import psycopg

    # Hold a lock the store's write needs; lock_timeout/statement_timeout end the wait.
    with psycopg.connect(url) as blocker:
        blocker.execute("LOCK TABLE issued_cards IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StoreError, match="record issued cards failed"):
            store.record_issued([issued()])
        blocker.rollback()
    store.record_issued([issued()])


def test_postgres_replay_cache_is_one_use_across_replicas(pg, pg_schema_url):
    import threading
    import time

    store, _ = pg
    other_replica = PostgresStore(pg_schema_url, timeout=0.5)
    try:
        exp = time.time() + 300
        assert store.seen_before("jti-1", "https://ehr.example.org/", exp) is False
        assert other_replica.seen_before("jti-1", "https://ehr.example.org/", exp) is True
        assert other_replica.seen_before("jti-1", "https://other.example.org/", exp) is False
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def claim(s):
            barrier.wait()
            results.append(s.seen_before("raced", "https://ehr.example.org/", exp))

        threads = [threading.Thread(target=claim, args=(s,)) for s in (store, other_replica) * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False] + [True] * 7
    finally:
        other_replica.close()


def test_postgres_replay_cache_reuses_an_expired_jti_and_purges(pg_schema_url):
    now = [10_000.0]
    store = PostgresStore(pg_schema_url, clock=lambda: now[0], purge_interval=60)
    try:
        assert store.seen_before("j", "iss", 10_100) is False
        now[0] = 10_050
        assert store.seen_before("j", "iss", 10_400) is True
        now[0] = 10_101
        assert store.seen_before("j", "iss", 10_400) is False
        store.seen_before("short", "iss", 10_110)
        now[0] = 10_500  # past the purge interval: expired rows go
        store.seen_before("new", "iss", 11_000)
        import psycopg

        with psycopg.connect(pg_schema_url) as conn:
            left = sorted(r[0] for r in conn.execute("SELECT jti FROM jwt_replay"))
        assert left == ["new"]
    finally:
        store.close()


def test_postgres_replay_failure_is_a_replay_cache_error(pg):
    from cds_service.security.replay import ReplayCacheError

    store, url = pg
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP TABLE jwt_replay")  # a broken database
    with pytest.raises(ReplayCacheError):
        store.seen_before("j", "iss", 10_000_000_000)


def test_postgres_issued_cards_skip_the_wal_wait_but_feedback_does_not(pg):
    store, _ = pg
    store.record_issued([issued()])
    # The setting was local to that statement's transaction: the pooled connection
    # (the next feedback write on it) is back to a synchronous commit.
    assert store._run("check", lambda c: c.execute("SHOW synchronous_commit").fetchone()[0]) == "on"
    assert store._run("check", lambda c: c.execute(
        "WITH a AS (SELECT set_config('synchronous_commit', 'off', true)) SELECT current_setting('synchronous_commit')"
        " FROM a").fetchone()[0]) == "off"
