"""Versioned migrations: applied once, in order, by one of several processes starting together."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cds_service.store import StoreError, migrations
from cds_service.store.migrations import Migration, pending
from tests.store.conftest import raw_rows
from tests.store.helpers import issued

ROOT = Path(__file__).resolve().parents[2]


def _latest(backend: str) -> tuple[Migration, ...]:
    return migrations.POSTGRES if backend == "postgresql" else migrations.SQLITE


def test_reopening_applies_nothing_again(make_store):
    make_store().close()
    make_store().close()
    versions = raw_rows(make_store, "SELECT version FROM schema_migrations ORDER BY version")
    assert versions == [(m.version,) for m in _latest(make_store.backend)]


def test_a_new_migration_is_applied_once_and_keeps_the_data(make_store):
    store = make_store()
    card = issued()
    store.record_issued([card])
    store.close()
    extra = Migration(len(_latest(make_store.backend)) + 1, "test: a column with a default",
                      ("ALTER TABLE issued_cards ADD COLUMN note TEXT DEFAULT 'none'",))
    upgraded = make_store(migration_list=_latest(make_store.backend) + (extra,))
    assert upgraded.schema_version() == extra.version
    assert raw_rows(make_store, "SELECT card_uuid, note FROM issued_cards") == [(card.card_uuid, "none")]
    # The code one release older still runs on the newer schema (additive rule), with a warning.
    older = make_store()
    older.record_issued([issued()])
    assert older.schema_version() == extra.version


def test_a_failing_migration_leaves_the_schema_as_it_was(make_store):
    make_store().close()
    broken = Migration(len(_latest(make_store.backend)) + 1, "test: broken",
                       ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(StoreError):
        make_store(migration_list=_latest(make_store.backend) + (broken,))
    tables = ("SELECT name FROM sqlite_master WHERE name = 'half_done'" if make_store.backend == "sqlite" else
              "SELECT table_name FROM information_schema.tables WHERE table_name = 'half_done'")
    assert raw_rows(make_store, tables) == []
    assert raw_rows(make_store, "SELECT MAX(version) FROM schema_migrations") == [(len(_latest(make_store.backend)),)]


def test_processes_starting_together_migrate_exactly_once(make_store):
    """Several gunicorn workers (or replicas) open a new database at the same moment."""
    opener = {
        "sqlite": "from cds_service.store.sqlite import SQLiteStore as S; S(Path(target)).close()",
        "postgresql": "from cds_service.store.postgres import PostgresStore as S; S(target).close()",
    }[make_store.backend]
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        target, start = sys.argv[1], float(sys.argv[2])
        while time.time() < start:
            time.sleep(0.001)
        {opener}
    """)
    import time

    start = str(time.time() + 1.0)  # all processes begin together, after their imports
    procs = [subprocess.Popen([sys.executable, "-c", script, make_store.location, start], cwd=ROOT,
                              stderr=subprocess.PIPE) for _ in range(4)]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    rows = raw_rows(make_store, "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version")
    assert rows == [(m.version, 1) for m in _latest(make_store.backend)]


def test_migration_lists_are_numbered_in_order():
    for migration_list in (migrations.SQLITE, migrations.POSTGRES):
        assert pending([], migration_list) == list(migration_list)
    with pytest.raises(ValueError):
        pending([], (Migration(2, "gap", ()),))


def test_a_database_newer_than_the_code_is_used_with_a_warning(caplog):
    assert pending([1, 2, 3], migrations.SQLITE) == []
    assert "does not know" in caplog.text
