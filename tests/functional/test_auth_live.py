"""The real service under gunicorn with JWT checking on (the default), as an EHR calls it."""

from __future__ import annotations

import json

import pytest
import requests

from tests.scenarios.build import build
from tests.security.jwks_server import JwksServer
from tests.security.keys import SigningKey, claims
from tests.support import openapi
from tests.support.processes import run_service

ISS = "https://ehr.example.org"
PATH = "/cds-services/spine-order-sign"
SCENARIO = {"hook": "order-sign", "conditions": [{"code": "icd10:M54.16", "display": "Radiculopathy, lumbar region"}],
            "orders": [{"code": "cpt:72148", "display": "MRI lumbar spine w/o contrast"}]}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    key = SigningKey.es384("kid-live-1")
    jwks = JwksServer().start()
    url = jwks.publish("/jwks.json", key.public_jwk())
    tmp = tmp_path_factory.mktemp("auth")
    env = {"CDS_TRUSTED_ISSUERS": json.dumps({ISS: url}), "CDS_REPLAY_CACHE_PATH": str(tmp / "replay.sqlite3")}
    try:
        with run_service(env=env, log_path=tmp / "service.log") as base:
            yield base, key
    finally:
        jwks.stop()


def _post(base: str, token: str | None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(base + PATH, data=json.dumps(build(SCENARIO)), headers=headers, timeout=10)


def test_no_token_is_401_with_www_authenticate(secured):
    base, _ = secured
    resp = _post(base, None)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    openapi.validate_response("POST", PATH, 401, resp.json(), resp.headers["Content-Type"])


def test_signed_token_is_accepted_once_then_refused_as_replay_across_workers(secured):
    base, key = secured
    token = key.sign(claims(ISS, base + PATH))
    first = _post(base, token)
    assert first.status_code == 200, first.text
    openapi.validate_response("POST", PATH, 200, first.json(), first.headers["Content-Type"])
    # Two workers share the replay cache: the same jti is refused whichever worker answers.
    replays = [_post(base, token) for _ in range(4)]
    assert {r.status_code for r in replays} == {401}
    assert token not in replays[0].text


def test_token_for_another_endpoint_is_refused(secured):
    base, key = secured
    token = key.sign(claims(ISS, base + "/cds-services/spine-order-select"))
    assert _post(base, token).status_code == 401
