"""The stand-in store of a worker that started while the store was unreachable; start-up checks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cds_service.security.replay import ReplayCacheError
from cds_service.settings import PROJECT_ROOT
from cds_service.store import StoreError
from cds_service.store.reopening import ReopeningStore
from cds_service.store.sqlite import SQLiteStore


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_tries_again_at_most_every_interval_and_then_delegates(tmp_path):
    clock, tries = Clock(), []
    down = [True]

    def opener():
        tries.append(clock.now)
        if down[0]:
            raise StoreError("sqlite store: cannot open")
        return SQLiteStore(tmp_path / "store.sqlite3")

    store = ReopeningStore(opener, "sqlite", retry_seconds=5, clock=clock)
    for _ in range(3):  # within the interval after the boot's own try: no new try
        with pytest.raises(StoreError):
            store.ping()
    assert tries == []
    clock.now += 5
    with pytest.raises(StoreError):
        store.suppressed_kinds("h", [("k", "s", "c")], None)
    with pytest.raises(StoreError):
        store.ping()
    assert tries == [105.0]
    down[0] = False
    clock.now += 5
    store.ping()  # opened now, and kept
    assert store.opened and store.schema_version() >= 1 and store.meta_value("k", "v") == "v"
    assert tries == [105.0, 110.0]
    store.close()


def test_as_a_replay_cache_it_refuses_until_the_store_is_back():
    store = ReopeningStore(lambda: (_ for _ in ()).throw(StoreError("postgresql store: down")), "postgresql",
                           retry_seconds=0, clock=Clock())
    with pytest.raises(ReplayCacheError):
        store.seen_before("jti-1", "https://ehr.example.org", 200.0)


def test_serve_stops_at_start_up_naming_the_store_when_it_cannot_be_opened(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    env = {"CDS_STORE_PATH": str(blocked / "store.sqlite3"), "CDS_PORT": "1", "CDS_AUTH_DISABLED": "true",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "cds_service.cli", "serve"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "the store cannot be opened" in done.stderr and "Traceback" not in done.stderr
