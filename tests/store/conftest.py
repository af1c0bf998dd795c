"""Both store backends behind one fixture; PostgreSQL only when a server is configured.

``CDS_TEST_POSTGRES_URL`` (set by ``.ci/run``, which starts a real server on
127.0.0.1) names a database the tests may use. Each test gets a schema of its
own in it (the URL's ``options`` set the search_path), dropped afterwards.
Without the variable the PostgreSQL cases are skipped, saying why.
"""

from __future__ import annotations

import os
import uuid
from typing import Callable, Iterator
from urllib.parse import quote

import pytest

from cds_service.store.postgres import PostgresStore
from cds_service.store.sqlite import SQLiteStore

POSTGRES_ENV = "CDS_TEST_POSTGRES_URL"
SKIP_REASON = (f"no PostgreSQL server configured: set {POSTGRES_ENV}=postgresql://user:pass@127.0.0.1:port/db "
               "(.ci/run starts one and sets it)")


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def schema_url(base: str, schema: str) -> str:
    """``base`` with its session's search_path set to ``schema``."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh schema in the test server, as a URL; skipped without a server."""
    base = postgres_url()
    if not base:
        pytest.skip(SKIP_REASON)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema_url(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_store(backend, tmp_path, request) -> Iterator[Callable[..., object]]:
    """Opens stores of the test's backend on one database (so a second call is a second 'replica')."""
    opened = []
    if backend == "postgresql":
        url = request.getfixturevalue("pg_schema_url")

        def make(**kwargs):
            store = PostgresStore(url, **kwargs)
            opened.append(store)
            return store
    else:
        path = tmp_path / "store.sqlite3"

        def make(**kwargs):
            store = SQLiteStore(path, **kwargs)
            opened.append(store)
            return store

    make.backend = backend  # type: ignore[attr-defined]
    make.location = url if backend == "postgresql" else str(path)  # type: ignore[attr-defined]
    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store):
    return make_store()


def raw_rows(make_store, sql: str) -> list[tuple]:
    """Rows of ``sql`` read straight from the database, not through the store."""
    if make_store.backend == "postgresql":
        import psycopg

        with psycopg.connect(make_store.location, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    import sqlite3

    conn = sqlite3.connect(make_store.location)
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()
