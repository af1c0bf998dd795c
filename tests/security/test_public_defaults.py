"""Public by default (issue 17): the production defaults serve no console, no metrics, no CORS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.support.processes import DEMO_ENV

ROOT = Path(__file__).resolve().parents[2]
PREFLIGHT = {"Origin": "https://evil.example.org", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
def production(tmp_path):
    """The app on the shipped defaults and config/settings.yaml (auth off only so no issuer is needed)."""
    settings = Settings.load(env={}, auth_disabled=True, store_path=tmp_path / "s.sqlite3",
                             replay_cache_path=tmp_path / "r.sqlite3")
    app = create_app(settings)
    yield app.test_client()
    app.extensions["cds_ops"].store.close()


def test_console_and_metrics_are_off_by_default(production):
    assert production.get("/").status_code == 404
    assert production.get("/metrics").status_code == 404
    assert production.get("/healthz").status_code == 200


def test_no_origin_is_allowed_by_default(production):
    resp = production.open("/cds-services/spine-order-select", method="OPTIONS", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = production.get("/cds-services", headers={"Origin": "https://evil.example.org"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_a_star_origin_is_a_literal_star_never_the_callers_origin(tmp_path):
    settings = Settings.load(env={}, yaml_path=None, auth_disabled=True, cors_origins=("*",),
                             store_path=tmp_path / "s.sqlite3", replay_cache_path=tmp_path / "r.sqlite3")
    client = create_app(settings).test_client()
    resp = client.open("/cds-services/spine-order-select", method="OPTIONS", headers=PREFLIGHT)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_listed_origins_only(tmp_path):
    settings = Settings.load(env={}, yaml_path=None, auth_disabled=True, cors_origins=("https://ehr.example.org",),
                             store_path=tmp_path / "s.sqlite3", replay_cache_path=tmp_path / "r.sqlite3")
    client = create_app(settings).test_client()
    evil = client.open("/cds-services/spine-order-select", method="OPTIONS", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in evil.headers
    ok = client.open("/cds-services/spine-order-select", method="OPTIONS",
                     headers={**PREFLIGHT, "Origin": "https://ehr.example.org"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"


def test_make_run_turns_the_demo_conveniences_on():
    makefile = (ROOT / "Makefile").read_text()
    demo = re.search(r"^DEMO_ENV := (.*?)(?<!\\)$", makefile, re.M | re.S).group(1)
    for name, value in DEMO_ENV.items():
        assert re.search(rf"{name}='?{re.escape(value)}'?(\s|$)", demo), name
    assert "$(DEMO_ENV)" in makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]


def test_browser_clients_may_read_the_request_id_and_why_a_token_was_refused(tmp_path):
    """Without Access-Control-Expose-Headers a cross-origin script (the CDS Hooks sandbox) sees neither
    the X-Request-ID to quote nor a 401's WWW-Authenticate, only that the call failed."""
    settings = Settings.load(env={}, yaml_path=None, auth_disabled=True, cors_origins=("https://sandbox.example.org",),
                             store_path=tmp_path / "s.sqlite3", replay_cache_path=tmp_path / "r.sqlite3")
    client = create_app(settings).test_client()
    resp = client.post("/cds-services/spine-order-select", json={"hook": "order-select"},
                       headers={"Origin": "https://sandbox.example.org"})
    assert resp.status_code == 400
    assert resp.headers["Access-Control-Allow-Origin"] == "https://sandbox.example.org"
    exposed = {h.strip().lower() for h in resp.headers.get("Access-Control-Expose-Headers", "").split(",")}
    assert {"www-authenticate", "x-request-id"} <= exposed
