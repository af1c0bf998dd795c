"""Fixtures shared by the whole suite: app and client (Flask), a live gunicorn service."""

from __future__ import annotations

import dataclasses

import pytest

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.support.processes import run_service


def make_settings(**overrides) -> Settings:
    """Settings for tests: the repo's content and settings.yaml, no CDS_* environment."""
    fields = {f.name for f in dataclasses.fields(Settings)}
    if "auth_disabled" in fields:
        overrides.setdefault("auth_disabled", True)
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
    env = {"CDS_AUTH_DISABLED": "true", "CDS_MAX_BODY_BYTES": "200000"}
    log_path = tmp_path_factory.mktemp("gunicorn") / "service.log"
    with run_service(env=env, log_path=log_path) as base:
        yield base
