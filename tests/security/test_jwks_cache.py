"""JWK Set cache: TTL, stale use during outages, backoff, what counts as a usable key."""

from __future__ import annotations

import socket

import pytest

from cds_service.security.jwks import (
    MAX_KEY_SET_BYTES,
    JwksCache,
    KeySetFetchError,
    KeySetUnavailable,
    fetch_key_set,
    usable_keys,
)

PATH = "/keys.json"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def cache(clock):
    return JwksCache(
        ttl=300, max_stale=3600, refresh_min_interval=30, backoff=5, backoff_max=40,
        connect_timeout=0.3, read_timeout=0.3, clock=clock,
    )


def test_fresh_set_served_from_cache(cache, jwks_server, es_key):
    url = jwks_server.publish(PATH, es_key.public_jwk())
    assert cache.get_jwk(url, es_key.kid)["kid"] == es_key.kid
    assert cache.get_jwk(url, es_key.kid)["kid"] == es_key.kid
    assert jwks_server.hits[PATH] == 1


def test_set_refetched_after_ttl(cache, clock, jwks_server, es_key):
    url = jwks_server.publish(PATH, es_key.public_jwk())
    cache.get_jwk(url, es_key.kid)
    clock.now += 301
    cache.get_jwk(url, es_key.kid)
    assert jwks_server.hits[PATH] == 2


def test_stale_set_used_while_endpoint_down_until_max_stale(cache, clock, jwks_server, es_key):
    url = jwks_server.publish(PATH, es_key.public_jwk())
    cache.get_jwk(url, es_key.kid)
    jwks_server.status[PATH] = 500
    clock.now += 301
    assert cache.get_jwk(url, es_key.kid) is not None  # stale, still used
    assert jwks_server.hits[PATH] == 2
    clock.now += 3600
    with pytest.raises(KeySetUnavailable):
        cache.get_jwk(url, es_key.kid)


def test_failures_back_off_doubling_up_to_the_max(cache, clock, jwks_server, es_key):
    jwks_server.documents[PATH] = {"keys": []}
    jwks_server.status[PATH] = 503
    url = jwks_server.url(PATH)
    expected_hits = 0
    for delay in (5, 10, 20, 40, 40):
        with pytest.raises(KeySetUnavailable) as exc:
            cache.get_jwk(url, es_key.kid)
        expected_hits += 1
        assert exc.value.retry_after == delay
        clock.now += delay - 1
        with pytest.raises(KeySetUnavailable):
            cache.get_jwk(url, es_key.kid)  # in backoff: no request
        assert jwks_server.hits[PATH] == expected_hits
        clock.now += 1
    jwks_server.publish(PATH, es_key.public_jwk())
    assert cache.get_jwk(url, es_key.kid) is not None  # recovers after the backoff


def test_unknown_kid_forced_refresh_rate_limited_per_url(cache, clock, jwks_server, es_key):
    url = jwks_server.publish(PATH, es_key.public_jwk())
    cache.get_jwk(url, es_key.kid)
    assert cache.get_jwk(url, "unknown") is None
    assert cache.get_jwk(url, "unknown-2") is None
    assert jwks_server.hits[PATH] == 2
    clock.now += 30
    assert cache.get_jwk(url, "unknown-3") is None
    assert jwks_server.hits[PATH] == 3


def test_failed_forced_refresh_keeps_the_fresh_set(cache, jwks_server, es_key):
    url = jwks_server.publish(PATH, es_key.public_jwk())
    cache.get_jwk(url, es_key.kid)
    jwks_server.status[PATH] = 500
    assert cache.get_jwk(url, "rotated") is None
    assert cache.get_jwk(url, es_key.kid) is not None


def test_usable_keys_skips_what_must_not_verify(es_key, rs_key):
    private_jwk = dict(es_key.public_jwk(kid="leaked"), d="c2VjcmV0")
    doc = {
        "keys": [
            es_key.public_jwk(),
            rs_key.public_jwk(),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            es_key.public_jwk(kid="enc", use="enc"),
            es_key.public_jwk(kid=None),
            private_jwk,
            es_key.public_jwk(kid="twice"),
            rs_key.public_jwk(kid="twice"),
            es_key.public_jwk(kid="sign-only", key_ops=["sign"]),
            "not a key",
        ]
    }
    assert sorted(usable_keys(doc)) == sorted([es_key.kid, rs_key.kid])


@pytest.mark.parametrize("doc", [[], {"keys": {}}, {"nokeys": []}, "x"])
def test_not_a_jwk_set(doc):
    with pytest.raises(KeySetFetchError):
        usable_keys(doc)


def test_fetch_refuses_redirects_errors_and_oversize(jwks_server, es_key):
    jwks_server.status["/moved"] = 302
    with pytest.raises(KeySetFetchError, match="HTTP 302"):
        fetch_key_set(jwks_server.url("/moved"), 0.3, 0.3)
    with pytest.raises(KeySetFetchError, match="HTTP 404"):
        fetch_key_set(jwks_server.url("/missing"), 0.3, 0.3)
    jwks_server.documents["/huge"] = {"keys": [es_key.public_jwk(pad="x" * MAX_KEY_SET_BYTES)]}
    with pytest.raises(KeySetFetchError, match="too large"):
        fetch_key_set(jwks_server.url("/huge"), 0.3, 0.3)


def test_fetch_connection_refused_is_a_fetch_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(KeySetFetchError, match="connection failed"):
        fetch_key_set(f"http://127.0.0.1:{port}/jwks.json", 0.3, 0.3)


def test_fetch_timeout_is_a_fetch_error(jwks_server):
    jwks_server.hang.add("/slow")
    with pytest.raises(KeySetFetchError, match="timeout"):
        fetch_key_set(jwks_server.url("/slow"), 0.2, 0.2)
