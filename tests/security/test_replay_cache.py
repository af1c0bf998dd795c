"""SQLite replay cache: once per (iss, jti), across threads and processes, expired rows purged."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cds_service.security.replay import ReplayCacheError, SQLiteReplayCache
from tests.security.conftest import ISS, SERVICE_URL, build_app
from tests.security.keys import claims

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path):
    c = SQLiteReplayCache(tmp_path / "replay.sqlite3")
    yield c
    c.close()


def test_first_use_then_seen(cache):
    exp = time.time() + 300
    assert cache.seen_before("j1", ISS, exp) is False
    assert cache.seen_before("j1", ISS, exp) is True
    assert cache.seen_before("j1", "https://other-issuer.example/", exp) is False  # per issuer


def test_file_is_in_wal_mode(cache, tmp_path):
    with sqlite3.connect(tmp_path / "replay.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_jti_reusable_after_its_token_expired(tmp_path):
    now = [10_000.0]
    cache = SQLiteReplayCache(tmp_path / "r.sqlite3", clock=lambda: now[0])
    assert cache.seen_before("j", ISS, 10_100) is False
    now[0] = 10_050
    assert cache.seen_before("j", ISS, 10_400) is True
    now[0] = 10_101
    assert cache.seen_before("j", ISS, 10_400) is False
    assert cache.seen_before("j", ISS, 10_400) is True
    cache.close()


def test_expired_rows_are_purged(tmp_path):
    now = [10_000.0]
    path = tmp_path / "r.sqlite3"
    cache = SQLiteReplayCache(path, purge_interval=60, clock=lambda: now[0])
    for i in range(5):
        cache.seen_before(f"old-{i}", ISS, 10_010)
    now[0] = 10_100  # past the purge interval and past those rows' expiry
    cache.seen_before("new", ISS, 10_500)
    with sqlite3.connect(path) as conn:
        rows = [r[0] for r in conn.execute("SELECT jti FROM jwt_replay")]
    conn.close()
    cache.close()
    assert rows == ["new"]


def test_threads_race_one_winner(cache):
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim():
        barrier.wait()
        results.append(cache.seen_before("raced", ISS, time.time() + 300))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] + [True] * 7


_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from cds_service.security.replay import SQLiteReplayCache
    cache = SQLiteReplayCache(Path(sys.argv[1]))
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.005)
    won = [str(i) for i in range(150) if not cache.seen_before(str(i), "iss", time.time() + 300)]
    cache.close()
    print(",".join(won))
    """
)


def test_processes_race_each_jti_claimed_exactly_once(tmp_path):
    """Like gunicorn workers: separate processes, one file, every jti accepted once."""
    db, go = tmp_path / "shared.sqlite3", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(db), str(go)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    go.touch()
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    won = [jti for out in outputs for jti in out.strip().split(",") if jti]
    assert sorted(won, key=int) == [str(i) for i in range(150)]  # each once, none lost


def test_store_that_cannot_answer_raises(tmp_path):
    path = tmp_path / "locked.sqlite3"
    cache = SQLiteReplayCache(path, busy_timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(ReplayCacheError) as exc:
            cache.seen_before("j", ISS, time.time() + 60)
        assert str(exc.value) == "replay cache: OperationalError"  # no jti, no iss
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        cache.close()


def test_unusable_path_fails_at_start(tmp_path):
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(ReplayCacheError):
        SQLiteReplayCache(tmp_path / "dir.sqlite3")


def test_app_fails_closed_with_503_when_store_is_locked(make_settings, es_key, tmp_path):
    settings = make_settings(replay_cache_busy_timeout=0.05)
    client = build_app(settings).test_client()
    blocker = sqlite3.connect(settings.replay_cache_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        token = es_key.sign(claims(ISS, SERVICE_URL))
        resp = client.post("/cds-services/spine-mri", json={}, headers={"Authorization": f"Bearer {token}"})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert resp.status_code == 503
    assert "Retry-After" in resp.headers
