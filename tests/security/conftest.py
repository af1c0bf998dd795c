"""A tiny Flask app with the real endpoint names, secured by ``init_app``, and its key world.

The app does not use ``cds_service.app`` on purpose: these tests check the
security package alone. Views echo ``g.cds_client`` so tests can see who was let in.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
from flask import Blueprint, Flask, g, jsonify, request
from flask_cors import CORS

from cds_service.errors import register_error_handlers
from cds_service.security import init_app
from cds_service.settings import Settings
from tests.security.jwks_server import JwksServer
from tests.security.keys import SigningKey

ISS = "https://ehr.example.org/"
SERVICE_PATH = "/cds-services/spine-mri"
FEEDBACK_PATH = "/cds-services/spine-mri/feedback"
#: The configured public base URL (the Flask test client's own base), so the aud of SERVICE_PATH.
PUBLIC_BASE = "http://localhost"
SERVICE_URL = PUBLIC_BASE + SERVICE_PATH


def _client_view():
    client = g.get("cds_client")
    return jsonify(
        {"client": dataclasses.asdict(client) if client else None, "depthOk": request.get_json(silent=True) is not None}
    )


def build_app(settings: Settings) -> Flask:
    bp = Blueprint("cds", __name__)
    bp.add_url_rule("/cds-services", "discovery", _client_view, methods=["GET"])
    bp.add_url_rule("/cds-services/<service_id>", "call_service", lambda service_id: _client_view(), methods=["POST"])
    bp.add_url_rule(
        "/cds-services/<service_id>/feedback", "feedback", lambda service_id: _client_view(), methods=["POST"]
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 2_000_000
    register_error_handlers(app)
    init_app(app, settings)
    CORS(app, resources={r"/cds-services*": {"origins": "*"}}, allow_headers=["Authorization", "Content-Type"])
    app.register_blueprint(bp)

    @app.get("/console")
    def console():  # stands in for a page that sets its own policy
        resp = app.response_class("<p>console</p>", mimetype="text/html")
        resp.headers["Content-Security-Policy"] = "default-src 'self'"
        return resp

    return app


@pytest.fixture(scope="session")
def es_key() -> SigningKey:
    return SigningKey.es384("es-key-1")


@pytest.fixture(scope="session")
def rs_key() -> SigningKey:
    return SigningKey.rs384("rs-key-1")


@pytest.fixture(scope="session")
def _server():
    server = JwksServer().start()
    yield server
    server.stop()


@pytest.fixture
def jwks_server(_server) -> JwksServer:
    _server.reset()
    return _server


@pytest.fixture
def jwks_url(jwks_server, es_key, rs_key) -> str:
    """The trusted issuer's JWK Set, holding both test keys."""
    return jwks_server.publish("/ehr/jwks.json", es_key.public_jwk(), rs_key.public_jwk())


@pytest.fixture
def make_settings(tmp_path, jwks_url):
    def make(**overrides) -> Settings:
        values = {
            "trusted_issuers": {ISS: jwks_url},
            "public_base_url": PUBLIC_BASE,
            "replay_cache_path": tmp_path / "replay.sqlite3",
            "jwks_connect_timeout": 0.3,
            "jwks_read_timeout": 0.3,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def make_client(make_settings):
    apps: list[Flask] = []

    def make(**overrides):
        app = build_app(make_settings(**overrides))
        app.testing = True
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        replay_cache = app.extensions["cds_security"]["replay_cache"]
        if replay_cache is not None:
            replay_cache.close()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def security_logs(caplog):
    caplog.set_level(logging.INFO, logger="cds_service.security")
    return caplog
