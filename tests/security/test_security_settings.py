"""Security settings: parsed and checked at start-up, never per request."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask

from cds_service.security import CdsClientLogFilter, init_app
from cds_service.security.issuers import parse_trusted_issuers
from cds_service.settings import Settings, SettingsError
from tests.security.conftest import ISS, SERVICE_PATH, SERVICE_URL, build_app
from tests.security.keys import claims


def test_env_json_object_becomes_trusted_issuers():
    env = {
        "CDS_TRUSTED_ISSUERS": json.dumps(
            {
                "https://sandbox.cds-hooks.org": "http://127.0.0.1:9999/jwks.json",
                ISS: {"jwks_url": "https://ehr.example.org/jwks", "jku_allowlist": ["https://ehr.example.org/k2"]},
            }
        ),
        "CDS_PUBLIC_BASE_URL": "https://cds.example.org",
        "CDS_AUTH_DISABLED": "false",
    }
    settings = Settings.load(env=env, yaml_path=None)
    issuers = parse_trusted_issuers(settings.trusted_issuers)
    assert issuers["https://sandbox.cds-hooks.org"].key_set_url(None) == "http://127.0.0.1:9999/jwks.json"
    ehr = issuers[ISS]
    assert ehr.key_set_url("https://ehr.example.org/k2") == "https://ehr.example.org/k2"
    assert ehr.key_set_url("https://evil.example/k") == "https://ehr.example.org/jwks"
    assert settings.public_base_url == "https://cds.example.org" and settings.auth_disabled is False


def test_defaults_require_jwts():
    defaults = Settings()
    assert defaults.auth_disabled is False
    assert "HS256" not in defaults.jwt_algorithms and "none" not in defaults.jwt_algorithms
    assert {"ES384", "RS384"} <= set(defaults.jwt_algorithms)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({ISS: "http://ehr.example.org/jwks"}, "must be https"),
        ({ISS: {"jwks_url": "https://a.example/j", "extra": 1}}, "unknown field"),
        ({ISS: {}}, "needs a jwks_url, a jwks_file or a jku_allowlist"),
        ({ISS: {"jwks_file": "no/such/keys.json"}}, "cannot read"),
        ({ISS: {"jwks_file": 7}}, "must be a file path"),
        ({ISS: {"jku_allowlist": "https://a.example/j"}}, "must be a list"),
        ({ISS: 42}, "expected a JWKS URL or an object"),
        ({ISS: "https://user:pw@a.example/j"}, "credentials"),
    ],
)
def test_bad_trusted_issuers_fail_at_start(raw, message, tmp_path):
    with pytest.raises(SettingsError, match=message):
        init_app(Flask(__name__), Settings(trusted_issuers=raw, replay_cache_path=tmp_path / "r.db"))


@pytest.mark.parametrize("algs", [("HS256",), ("ES384", "none"), ()])
def test_symmetric_or_none_algorithms_cannot_be_configured(algs, tmp_path):
    with pytest.raises(SettingsError, match="only asymmetric"):
        init_app(Flask(__name__), Settings(jwt_algorithms=algs, replay_cache_path=tmp_path / "r.db"))


@pytest.mark.parametrize(
    "overrides",
    [{"json_max_depth": 0}, {"jwt_clock_skew_seconds": 3600}, {"public_base_url": "cds.example.org"}],
)
def test_other_bad_security_settings_fail_at_start(overrides, tmp_path):
    with pytest.raises(SettingsError):
        init_app(Flask(__name__), Settings(replay_cache_path=tmp_path / "r.db", **overrides))


def test_no_trusted_issuer_logs_an_error_and_refuses_calls(tmp_path, caplog, es_key):
    app = build_app(Settings(replay_cache_path=tmp_path / "r.db"))
    assert any(r.levelname == "ERROR" and "CDS_TRUSTED_ISSUERS" in r.getMessage() for r in caplog.records)
    token = es_key.sign(claims(ISS, SERVICE_URL))
    resp = app.test_client().post(SERVICE_PATH, json={}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401


def test_log_filter_adds_the_caller(client, es_key, caplog):
    seen: list[tuple[str, str]] = []

    class Capture(logging.Handler):
        def emit(self, record):
            seen.append((record.cds_iss, record.cds_tenant))

    handler = Capture()
    handler.addFilter(CdsClientLogFilter())
    logger = logging.getLogger("cds_service.security.request_auth")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        token = es_key.sign(claims(ISS, SERVICE_URL, tenant="org-9"))
        assert client.post(SERVICE_PATH, json={}, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        logging.getLogger("cds_service.security.request_auth").info("outside a request")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert (ISS, "org-9") in seen
    assert seen[-1] == ("-", "-")


def test_relative_replay_cache_path_is_under_content_dir(tmp_path):
    from cds_service.security import sqlite_replay_cache

    cache = sqlite_replay_cache(Settings(content_dir=tmp_path))
    try:
        cache.seen_before("j", ISS, 2_000_000_000)
        assert (tmp_path / "var" / "replay-cache.sqlite3").is_file()
    finally:
        cache.close()


def test_shipped_sandbox_key_file_holds_the_sandbox_es384_public_key():
    """The key set README's sandbox set-up points at: the sandbox's published public key, nothing private."""
    from cds_service.settings import PROJECT_ROOT
    import jwt

    issuers = parse_trusted_issuers(
        {"https://sandbox.cds-hooks.org": {"jwks_file": "config/issuers/cds-hooks-sandbox.jwks.json"}}, PROJECT_ROOT
    )
    keys = issuers["https://sandbox.cds-hooks.org"].static_keys
    assert list(keys) == ["44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"]
    jwk = keys["44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"]
    assert jwk["crv"] == "P-384" and "d" not in jwk
    assert jwt.PyJWK(jwk, algorithm="ES384").key.curve.name == "secp384r1"


@pytest.mark.parametrize(
    "content, message",
    [("not json", "is not a JWK Set"), ('{"keys": "x"}', "is not a JWK Set"),
     ('{"keys": [{"kty": "EC", "kid": "k", "d": "secret", "crv": "P-384", "x": "a", "y": "b"}]}', "no public signing key")],
)
def test_unusable_jwks_file_fails_at_start(tmp_path, content, message):
    (tmp_path / "keys.json").write_text(content)
    with pytest.raises(SettingsError, match=message):
        parse_trusted_issuers({ISS: {"jwks_file": "keys.json"}}, tmp_path)
