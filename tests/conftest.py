"""Fixtures shared by the whole suite: app and client (Flask), a live gunicorn service."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.support.processes import DEMO_SETTINGS, run_service


#: Files the app writes during tests (store, replay cache) go here, never into the repo's var/.
TEST_VAR = Path(tempfile.mkdtemp(prefix="cds-tests-"))


def make_settings(**overrides) -> Settings:
    """Settings for tests: the repo's content, no CDS_* environment, auth off, and the demo
    conveniences of `make run` (console, metrics, CORS)."""
    overrides.setdefault("auth_disabled", True)
    overrides.setdefault("public_base_url", "http://localhost")  # the Flask test client's base URL
    for name, value in DEMO_SETTINGS.items():
        overrides.setdefault(name, value)
    overrides.setdefault("store_path", TEST_VAR / "store.sqlite3")
    overrides.setdefault("replay_cache_path", TEST_VAR / "replay.sqlite3")
    return Settings.load(env={}, yaml_path=None, **overrides)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.testing = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_service(tmp_path_factory):
    """The service under gunicorn (2 workers), started once for the session."""
    var = tmp_path_factory.mktemp("gunicorn")
    env = {"CDS_AUTH_DISABLED": "true", "CDS_MAX_BODY_BYTES": "200000",
           "CDS_STORE_PATH": str(var / "store.sqlite3"), "CDS_REPLAY_CACHE_PATH": str(var / "replay.sqlite3")}
    log_path = var / "service.log"
    with run_service(env=env, log_path=log_path) as base:
        yield base


#: Fixtures that start real processes (gunicorn, Medplum, a FHIR fault server, Chromium): a test using
#: one is end-to-end (`make test-fast` leaves them out; `make test` and .ci/run keep them).
_LIVE_FIXTURES = frozenset({"live_service", "live", "medplum", "browser", "console_service", "locked_service",
                            "open_console", "_fhir_server"})
#: Folders whose tests are all load, fault or browser tests against real processes.
_E2E_FOLDERS = frozenset({"browser", "reliability"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        uses_live = _LIVE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_live or _E2E_FOLDERS.intersection(item.path.relative_to(Path(__file__).parent).parts[:1]):
            item.add_marker(pytest.mark.e2e)
