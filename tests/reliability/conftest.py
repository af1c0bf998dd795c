"""Fixtures of the reliability tests: a misbehaving FHIR server, apps that read it, the live service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cds_service.app import create_app
from tests.ops.test_gunicorn import scrape, wait_for, worker_pids
from tests.reliability.faulty_fhir import HUGE_LIMIT, FaultyFhirServer
from tests.security.jwks_server import JwksServer
from tests.security.keys import SigningKey, claims
from tests.support.processes import free_port, run_service

#: Added to every time budget before a call counts as hung: generous, because another
#: process may be using the CPU (these tests catch hangs, they do not measure speed).
MARGIN_SECONDS = 3.0


@pytest.fixture(scope="session")
def _fhir_server():
    server = FaultyFhirServer().start()
    yield server
    server.stop()


@pytest.fixture
def fhir_server(_fhir_server) -> FaultyFhirServer:
    _fhir_server.reset()
    return _fhir_server


@pytest.fixture(scope="module")
def make_app(tmp_path_factory, _fhir_server):
    """Apps on the repo's content with a store of their own, allowed to read the faulty FHIR server."""
    from tests.conftest import make_settings

    apps = []
    tmp_path = tmp_path_factory.mktemp("reliability")

    def make(**overrides):
        overrides.setdefault("store_path", tmp_path / "store.sqlite3")
        overrides.setdefault("replay_cache_path", tmp_path / "replay.sqlite3")
        overrides.setdefault("allowed_fhir_servers", (_fhir_server.base,))
        overrides.setdefault("fhir_max_response_bytes", HUGE_LIMIT)
        app = create_app(make_settings(**overrides))
        app.testing = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["cds_ops"].store.close()


# --- the service under gunicorn, with JWT checking on -----------------------------------

ISS_OK = "https://ehr.example.org"
#: An issuer whose JWK Set URL refuses connections (nothing listens there).
ISS_DOWN = "https://ehr-keys-down.example.org"
#: An issuer whose JWK Set URL accepts the connection and never answers.
ISS_HANG = "https://ehr-keys-hang.example.org"
JWKS_CONNECT_TIMEOUT = 0.3
JWKS_READ_TIMEOUT = 0.5


def both_workers(base: str) -> set[str]:
    """The pids of the service's two gunicorn workers, once both have booted.

    run_service returns when one worker answers; a test that locks the store or
    counts workers must wait for the other too.
    """

    def booted() -> set[str] | None:
        sample = scrape(base)
        # A worker's series exists (at 0) from the moment it imports the metrics module;
        # its start time is set once the app, store included, is built.
        pids = {p for p in worker_pids(sample) if sample[f'cds_worker_start_time_seconds{{pid="{p}"}}'] > 0}
        return pids if len(pids) == 2 else None

    return wait_for(booted, "two booted workers")


@dataclass
class LiveService:
    base: str
    key: SigningKey
    log_path: Path
    store_path: Path

    def token(self, path: str, iss: str = ISS_OK) -> str:
        """A fresh signed JWT (new jti) for ``path``, as the EHR sends it."""
        return self.key.sign(claims(iss, self.base + path))

    def headers(self, path: str, iss: str = ISS_OK) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(path, iss)}", "Content-Type": "application/json"}


@pytest.fixture(scope="package")
def live(tmp_path_factory, _fhir_server) -> LiveService:
    """``cds-service serve`` with 2 workers, JWTs checked, allowed to read the faulty FHIR server."""
    key = SigningKey.es384("reliability-key-1")
    jwks = JwksServer().start()
    jwks.hang.add("/hang.json")
    issuers = {
        # This issuer's clients may name the faulty FHIR server (per-issuer FHIR allowlist).
        ISS_OK: {"jwks_url": jwks.publish("/ok.json", key.public_jwk()), "fhir_servers": [_fhir_server.base]},
        ISS_DOWN: f"http://127.0.0.1:{free_port()}/jwks.json",
        ISS_HANG: jwks.url("/hang.json"),
    }
    tmp = tmp_path_factory.mktemp("reliability-live")
    env = {
        "CDS_TRUSTED_ISSUERS": json.dumps(issuers),
        "CDS_JWKS_CONNECT_TIMEOUT": str(JWKS_CONNECT_TIMEOUT),
        "CDS_JWKS_READ_TIMEOUT": str(JWKS_READ_TIMEOUT),
        "CDS_ALLOWED_FHIR_SERVERS": _fhir_server.base,
        "CDS_FHIR_MAX_RESPONSE_BYTES": str(HUGE_LIMIT),
        "CDS_STORE_PATH": str(tmp / "store.sqlite3"),
        "CDS_REPLAY_CACHE_PATH": str(tmp / "replay.sqlite3"),
    }
    try:
        with run_service(env=env, workers=2, log_path=tmp / "service.log") as base:
            both_workers(base)
            yield LiveService(base, key, tmp / "service.log", tmp / "store.sqlite3")
    finally:
        jwks.stop()
