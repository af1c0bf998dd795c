"""The feedback store is locked, deleted, or (PostgreSQL) unreachable.

Documented (README "fail open", docs/operations.md "Store down"): hook calls go
on (nothing suppressed, nothing recorded) within store_timeout_seconds; feedback
gets 503 with Retry-After and is not stored, so the client re-posts it. And the
point of it all: no feedback that got 200 is missing from the store afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from cds_service.ops.wiring import RETRY_AFTER_SECONDS
from cds_service.store.sqlite import SQLiteStore
from tests.ops.test_gunicorn import wait_for
from tests.reliability.conftest import MARGIN_SECONDS, both_workers
from tests.reliability.tcp_proxy import TcpProxy
from tests.reliability.workload import MIMIC, MIMIC_KIND, feedback_on, hook_call, kinds, timed
from tests.store.conftest import pg_schema_url  # noqa: F401  (fixture)
from tests.support import openapi
from tests.support.processes import run_service

STORE_TIMEOUT = 0.2
#: A hook call makes two store calls (suppression lookup, record), each bounded by the timeout.
HOOK_BOUND = 2 * STORE_TIMEOUT + MARGIN_SECONDS
FEEDBACK = "/cds-services/spine-order-sign/feedback"


def _feedback(card_uuid: str) -> dict:
    return {"feedback": [{"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:00:00Z"}]}


def _issue(store, uuids) -> None:
    """Record cards as issued (feedback is stored only for cards issued to the client: issue 17).

    ``store``: a SQLite file path, or an open store."""
    from tests.store.helpers import issued

    cards = [issued(card_uuid=u) for u in uuids]
    if isinstance(store, Path):
        opened = SQLiteStore(store, timeout=10)
        try:
            opened.record_issued(cards)
        finally:
            opened.close()
    else:
        store.record_issued(cards)


def _assert_refused(reply) -> None:
    assert reply.status == 503, reply.body
    assert reply.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    openapi.validate_response("POST", FEEDBACK, 503, reply.body, reply.headers["content-type"])


def _stored_cards(store_path) -> set[str]:
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT card_uuid FROM feedback")}
    finally:
        conn.close()


class ExclusiveLock:
    """Another connection holding the store's write lock, as a long migration or a stuck tool would."""

    def __init__(self, path):
        self._conn = sqlite3.connect(path, isolation_level=None, timeout=10)

    def __enter__(self):
        self._conn.execute("BEGIN EXCLUSIVE")
        return self

    def __exit__(self, *exc):
        self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()


# --- in process: one call at a time, exact outcomes ----------------------------------------


def test_a_locked_store_fails_open_for_hook_calls_and_refuses_feedback(make_app, tmp_path):
    store = tmp_path / "store.sqlite3"
    client = make_app(store_path=store, store_timeout_seconds=STORE_TIMEOUT).test_client()
    path, body = hook_call(MIMIC, "p-locked")
    card = client.post(path, json=body).get_json()["cards"][0]
    first = feedback_on(card)
    assert client.post(FEEDBACK, json=first).status_code == 200
    lock = ExclusiveLock(store)
    try:
        with lock:
            hook = timed(client.post, path, json=body)
            assert hook.status == 200 and MIMIC_KIND in kinds(hook.body)  # fail open
            assert hook.seconds < HOOK_BOUND
            card = hook.body["cards"][0]
            refused = timed(client.post, FEEDBACK, json=feedback_on(card))
            _assert_refused(refused)
            assert refused.seconds < STORE_TIMEOUT + MARGIN_SECONDS
            assert client.get("/healthz").status_code == 200
        # Released: nothing of that post was stored while locked. The card itself was not recorded
        # either (issued while the store was locked: fail open), so feedback on it cannot be bound
        # to the client and is not stored (issue 17); a card issued now takes feedback again.
        retried = client.post(FEEDBACK, json=feedback_on(card))
        assert retried.status_code == 200 and retried.get_json() == {"received": 1, "recorded": 0, "duplicates": 0,
                                                                     "unknownCards": 1}
        later = client.post(path, json=body).get_json()["cards"][0]
        assert client.post(FEEDBACK, json=feedback_on(later)).get_json()["recorded"] == 1
    finally:
        lock.close()
    assert _stored_cards(store) == {first["feedback"][0]["card"], later["uuid"]}


# --- under gunicorn: many clients while the lock comes and goes, then the file goes ---------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("store-faults")
    store = tmp / "store" / "store.sqlite3"
    env = {"CDS_AUTH_DISABLED": "true", "CDS_STORE_PATH": str(store),
           "CDS_REPLAY_CACHE_PATH": str(tmp / "replay.sqlite3"), "CDS_STORE_TIMEOUT_SECONDS": str(STORE_TIMEOUT)}
    # Migrated ahead, as a deployment does (`python -m cds_service.store migrate`): two workers
    # creating and migrating a new file at once may wait longer than this short timeout on a
    # busy machine, and a worker that cannot open the store at boot stops the service.
    SQLiteStore(store, timeout=10).close()
    with run_service(env=env, workers=2, log_path=tmp / "service.log") as base:
        both_workers(base)  # not booting while the tests lock the store
        yield base, store


def _post_json(session: requests.Session, url: str, body: dict):
    return timed(session.post, url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=30)


@pytest.mark.e2e
def test_under_gunicorn_no_acknowledged_feedback_is_lost_while_the_store_locks_and_unlocks(served):
    base, store = served
    acked, refused, problems = set(), set(), []
    done = threading.Event()
    local = threading.local()

    def session() -> requests.Session:
        if getattr(local, "s", None) is None:
            local.s = requests.Session()
        return local.s

    cards = [str(uuid.uuid4()) for _ in range(300)]
    _issue(store, cards)

    def post_feedback(i: int) -> None:
        card = cards[i]
        reply = _post_json(session(), base + FEEDBACK, _feedback(card))
        if reply.status == 200:
            acked.add(card)
        elif reply.status == 503 and reply.headers.get("retry-after"):
            refused.add(card)
        else:
            problems.append(("feedback", reply.status, reply.body))
        if reply.seconds >= STORE_TIMEOUT + MARGIN_SECONDS:
            problems.append(("feedback slow", reply.seconds))

    def hook(i: int) -> None:
        path, body = hook_call(MIMIC, f"p-churn-{i}")
        reply = _post_json(session(), base + path, body)
        if reply.status != 200 or MIMIC_KIND not in kinds(reply.body) or reply.seconds >= HOOK_BOUND:
            problems.append(("hook", reply.status, reply.seconds))

    def locker() -> None:
        lock = ExclusiveLock(store)
        try:
            while not done.is_set():
                with lock:
                    done.wait(0.6)  # three store timeouts: writes in this window must give up
                done.wait(0.3)
        finally:
            lock.close()

    lock_thread = threading.Thread(target=locker)
    lock_thread.start()
    try:
        with ThreadPoolExecutor(10) as pool:
            work = [pool.submit(post_feedback, i) for i in range(300)] + [pool.submit(hook, i) for i in range(100)]
            for job in work:
                job.result()
    finally:
        done.set()
        lock_thread.join()
    assert not problems, problems[:5]
    assert acked and refused, (len(acked), len(refused))  # the lock bit, and it came off
    stored = _stored_cards(store)
    assert acked <= stored, f"{len(acked - stored)} acknowledged feedback items are missing"
    assert not (refused & stored)  # a 503 stored nothing
    # The clients retry what was refused; now everything is there, once.
    for card in refused:
        assert _post_json(requests, base + FEEDBACK, _feedback(card)).status == 200
    assert _stored_cards(store) >= acked | refused


@pytest.mark.e2e
def test_under_gunicorn_a_deleted_store_refuses_feedback_and_hook_calls_go_on(served):
    base, store = served
    card = str(uuid.uuid4())
    _issue(store, [card])
    assert _post_json(requests, base + FEEDBACK, _feedback(card)).status == 200
    shutil.rmtree(store.parent)  # the file, its WAL and the folder
    for i in range(12):  # enough to meet every worker thread's connection
        _assert_refused(_post_json(requests, base + FEEDBACK, _feedback(str(uuid.uuid4()))))
        path, body = hook_call(MIMIC, f"p-gone-{i}")
        reply = _post_json(requests, base + path, body)
        assert reply.status == 200 and MIMIC_KIND in kinds(reply.body) and reply.seconds < HOOK_BOUND
    ready = requests.get(base + "/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["checks"]["store"] == "unavailable"
    assert requests.get(base + "/healthz", timeout=10).status_code == 200
    assert not store.exists()  # refused, not written to a new empty file


@pytest.mark.e2e
def test_a_worker_restarted_while_the_store_cannot_be_opened_boots_and_serves(tmp_path):
    # gunicorn restarts a worker that died. Were the store needed at boot, the new worker
    # would fail to boot and gunicorn would stop the whole service.
    store = tmp_path / "store" / "store.sqlite3"
    env = {"CDS_AUTH_DISABLED": "true", "CDS_STORE_PATH": str(store),
           "CDS_REPLAY_CACHE_PATH": str(tmp_path / "replay.sqlite3"), "CDS_STORE_TIMEOUT_SECONDS": str(STORE_TIMEOUT)}
    with run_service(env=env, workers=2, log_path=tmp_path / "service.log") as base:
        victim = min(both_workers(base))
        shutil.rmtree(store.parent)
        store.parent.write_text("a file where the store's folder was: the store cannot be opened")
        os.kill(int(victim), signal.SIGKILL)
        def replaced() -> set[str] | None:
            pids = both_workers(base)
            return pids if victim not in pids else None

        workers = wait_for(replaced, "a new worker in place of the killed one")
        assert len(workers) == 2
        for i in range(12):  # both workers, the new one included, answer with cards
            path, body = hook_call(MIMIC, f"p-reboot-{i}")
            reply = _post_json(requests, base + path, body)
            assert reply.status == 200 and MIMIC_KIND in kinds(reply.body) and reply.seconds < HOOK_BOUND
            _assert_refused(_post_json(requests, base + FEEDBACK, _feedback(str(uuid.uuid4()))))
        assert requests.get(base + "/readyz", timeout=10).status_code == 503
        # The store comes back: the new worker opens it on a later call (at most every 5 s).
        store.parent.unlink()
        acked = str(uuid.uuid4())
        retried = _wait_for_status(lambda: _post_json(requests, base + FEEDBACK, _feedback(acked)), 200, 30)
        assert retried.status == 200
    assert "not reachable as this worker starts" in (tmp_path / "service.log").read_text()


# --- PostgreSQL (when CDS_TEST_POSTGRES_URL names a server) -----------------------------------


def _through(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    hostport = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{hostport}" if len(netloc) == 2 else hostport))


def _wait_for_status(send, status: int, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        reply = send()
        if reply.status == status or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def test_an_unreachable_postgresql_fails_open_refuses_feedback_and_recovers(make_app, pg_schema_url):  # noqa: F811
    target = urlsplit(pg_schema_url)
    proxy = TcpProxy(target.hostname, target.port)
    try:
        app = make_app(store_database_url=_through(proxy, pg_schema_url), store_timeout_seconds=0.5)
        client = app.test_client()
        path, body = hook_call(MIMIC, "p-pg")
        acked = {str(uuid.uuid4())}
        lost = str(uuid.uuid4())
        _issue(app.extensions["cds_ops"].store, [*acked, lost])
        assert client.post(FEEDBACK, json=_feedback(next(iter(acked)))).status_code == 200
        proxy.cut()
        hook = timed(client.post, path, json=body)
        assert hook.status == 200 and MIMIC_KIND in kinds(hook.body) and hook.seconds < 2 * 0.5 + MARGIN_SECONDS
        refused = timed(client.post, FEEDBACK, json=_feedback(lost))
        _assert_refused(refused)
        assert refused.seconds < 2 * 0.5 + MARGIN_SECONDS  # one try and one retry at most
        assert client.get("/readyz").status_code == 503
        proxy.restore()
        # The pool reconnects in the background; the client's retry gets through.
        retried = _wait_for_status(lambda: timed(client.post, FEEDBACK, json=_feedback(lost)), 200, 15)
        assert retried.status == 200
        acked.add(lost)
        app.extensions["cds_ops"].store.close()
    finally:
        proxy.stop()
    import psycopg

    with psycopg.connect(pg_schema_url, autocommit=True) as conn:
        stored = {row[0] for row in conn.execute("SELECT card_uuid FROM feedback")}
    assert stored == acked
