"""Two replicas on one PostgreSQL: a JWT used on one is refused on the other; feedback and suppression are shared."""

from __future__ import annotations

import json
import time

import pytest

from tests.ops.conftest import card_of, hook_body, kinds, override, pretest_scenario, service_path
from tests.security.jwks_server import JwksServer
from tests.security.keys import SigningKey, claims
from tests.store.conftest import pg_schema_url  # noqa: F401  (fixture)

ISS = "https://ehr.example.org"


@pytest.fixture(scope="module")
def key_world():
    key = SigningKey.es384("kid-replicas")
    server = JwksServer().start()
    url = server.publish("/jwks.json", key.public_jwk())
    yield key, url
    server.stop()


@pytest.fixture
def replicas(make_app, pg_schema_url, key_world):  # noqa: F811
    key, url = key_world
    apps = [make_app(store_database_url=pg_schema_url, auth_disabled=False, trusted_issuers={ISS: url},
                     jwks_connect_timeout=0.5, jwks_read_timeout=0.5) for _ in range(2)]
    return [a.test_client() for a in apps], key, apps


def _post(client, key, path: str, body: dict, token: str | None = None):
    token = token or key.sign(claims(ISS, "http://localhost" + path))
    return client.post(path, data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"}), token


def test_a_token_used_on_one_replica_is_refused_on_the_other(replicas):
    (a, b), key, apps = replicas
    assert all(app.extensions["cds_security"]["replay_cache"] is app.extensions["cds_ops"].store for app in apps)
    path = service_path(pretest_scenario())
    first, token = _post(a, key, path, hook_body(pretest_scenario(), "pt-1"))
    assert first.status_code == 200, first.get_data(as_text=True)
    replayed, _ = _post(b, key, path, hook_body(pretest_scenario(), "pt-1"), token)
    assert replayed.status_code == 401  # the log says why: replay (one generic text in the answer)


def test_a_token_inside_the_leeway_is_refused_on_the_other_replica(replicas):
    # Issue 17: the shared replay table keeps a jti until exp + clock skew.
    (a, b), key, _ = replicas
    path = service_path(pretest_scenario())
    now = int(time.time())
    token = key.sign(claims(ISS, "http://localhost" + path, iat=now - 100, exp=now - 30))
    first, _ = _post(a, key, path, hook_body(pretest_scenario(), "pt-9"), token)
    assert first.status_code == 200, first.get_data(as_text=True)
    replayed, _ = _post(b, key, path, hook_body(pretest_scenario(), "pt-9"), token)
    assert replayed.status_code == 401


def test_an_override_on_one_replica_suppresses_on_the_other(replicas):
    (a, b), key, _ = replicas
    path = service_path(pretest_scenario())
    shown, _ = _post(a, key, path, hook_body(pretest_scenario(), "pt-2"))
    notes = card_of(shown.get_json(), "edx-pretest-notes")
    body = {"feedback": [override(notes, "lab-informed")]}
    stored, _ = _post(b, key, "/cds-services/spine-order-sign/feedback", body)
    assert stored.get_json()["recorded"] == 1
    again, _ = _post(a, key, path, hook_body(pretest_scenario(), "pt-2"))
    assert "edx-pretest-notes" not in kinds(again.get_json())
