"""An EHR's JWK Set endpoint is down or hangs.

Documented (docs/security.md): with no key set cached fresh enough the call is
refused with 503 and Retry-After (the token may be good; fail closed), at once or
within the JWKS timeouts; a cached set is used meanwhile (up to
jwks_max_stale_seconds); other issuers' calls are not held up.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.reliability.conftest import (
    ISS_DOWN,
    ISS_HANG,
    ISS_OK,
    JWKS_CONNECT_TIMEOUT,
    JWKS_READ_TIMEOUT,
    MARGIN_SECONDS,
)
from tests.reliability.workload import MIMIC, MIMIC_KIND, hook_call, kinds, timed, unknown_card_feedback
from tests.security.jwks_server import JwksServer
from tests.security.keys import SigningKey, claims
from tests.support import openapi

#: A JWKS fetch gives up after its connect and read timeouts.
BOUND = JWKS_CONNECT_TIMEOUT + JWKS_READ_TIMEOUT + MARGIN_SECONDS


def _assert_unavailable(reply, path: str) -> None:
    assert reply.status == 503, reply.body
    assert int(reply.headers["retry-after"]) >= 1
    assert reply.body["operationOutcome"]["issue"][0]["code"] == "transient"
    openapi.validate_response("POST", path, 503, reply.body, reply.headers["content-type"])


@pytest.mark.e2e
def test_under_gunicorn_an_unreachable_key_set_is_503_and_other_issuers_are_served(live):
    path, body = hook_call(MIMIC, "p-jwks")

    def send(iss: str):
        return timed(requests.post, live.base + path, data=json.dumps(body), headers=live.headers(path, iss),
                     timeout=30)

    issuers = [ISS_DOWN, ISS_HANG, ISS_OK] * 8
    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(send, issuers))
    for iss, reply in zip(issuers, replies):
        assert reply.seconds < BOUND, f"{iss}: {reply.seconds:.2f} s"
        if iss == ISS_OK:
            assert reply.status == 200 and MIMIC_KIND in kinds(reply.body)
        else:
            _assert_unavailable(reply, path)
    feedback = "/cds-services/spine-order-sign/feedback"
    resp = requests.post(live.base + feedback, data=json.dumps(unknown_card_feedback()),
                         headers=live.headers(feedback), timeout=10)
    assert resp.status_code == 200


# --- in process: a key set cached before the outage, or none ------------------------------

AUD_BASE = "http://localhost"  # the Flask test client's URL: the aud the app expects


@pytest.fixture(scope="module")
def key_world():
    key = SigningKey.es384("cached-key-1")
    server = JwksServer().start()
    yield key, server
    server.stop()


def _post(client, key: SigningKey, path: str, body: dict):
    token = key.sign(claims(ISS_OK, AUD_BASE + path))
    return timed(client.post, path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_cached_key_set_keeps_calls_going_while_the_endpoint_is_down(make_app, key_world):
    key, server = key_world
    url = server.publish("/cached.json", key.public_jwk())
    # TTL 0: every call wants a fresh set, so each one meets the outage.
    app = make_app(auth_disabled=False, trusted_issuers={ISS_OK: url}, jwks_cache_ttl_seconds=0)
    client = app.test_client()
    path, body = hook_call(MIMIC, "p-cached")
    assert _post(client, key, path, body).status == 200
    server.status["/cached.json"] = 500
    for _ in range(3):
        reply = _post(client, key, path, body)
        assert reply.status == 200 and reply.seconds < BOUND
    assert server.hits["/cached.json"] == 2  # the outage was met once, then backed off
    feedback = "/cds-services/spine-order-sign/feedback"
    assert _post(client, key, feedback, unknown_card_feedback()).status == 200


def test_without_a_cached_key_set_calls_get_503_until_the_endpoint_is_back(make_app, key_world):
    key, server = key_world
    url = server.publish("/cold.json", key.public_jwk())
    server.status["/cold.json"] = 503
    app = make_app(auth_disabled=False, trusted_issuers={ISS_OK: url}, jwks_failure_backoff_seconds=0.2,
                   jwks_failure_backoff_max_seconds=0.2)
    client = app.test_client()
    path, body = hook_call(MIMIC, "p-cold")
    for _ in range(3):
        reply = _post(client, key, path, body)
        assert reply.seconds < BOUND
        _assert_unavailable(reply, path)
    server.status.pop("/cold.json")
    time.sleep(0.3)  # past the backoff
    assert _post(client, key, path, body).status == 200
