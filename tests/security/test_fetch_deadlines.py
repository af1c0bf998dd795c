"""Wall-clock deadlines for JWKS and FHIR downloads, backoff and refresh limits (issue 17)."""

from __future__ import annotations

import threading
import time

import pytest

from cds_service.fhir.client import FhirClient
from cds_service.security import jwks as jwks_module
from cds_service.security.jwks import JwksCache, KeySetFetchError, KeySetUnavailable, fetch_key_set
from tests.security.test_jwks_cache import FakeClock
from tests.security.trickle_server import TrickleServer

#: Scheduling slack on a busy machine; the old behaviour took the server's whole 6 s.
SLACK = 1.0


@pytest.fixture(scope="module")
def trickle(es_key):
    server = TrickleServer({"keys": [es_key.public_jwk()], "resourceType": "Patient", "id": "p1"}).start()
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["/body", "/headers"])
def test_a_trickling_jwks_endpoint_is_cut_off_at_the_deadline(trickle, path):
    # Before: the deadline was checked only between 8 KiB chunks, so each call took the whole trickle.
    started = time.monotonic()
    with pytest.raises(KeySetFetchError):
        fetch_key_set(trickle.url(path), 0.2, 0.3)
    assert time.monotonic() - started < 0.5 + SLACK


@pytest.mark.parametrize("path", ["/body", "/headers"])
def test_a_trickling_fhir_server_is_cut_off_at_the_budget(trickle, path):
    # Before: a fetch thread read on for the whole trickle (1 -> 19 threads per worker for 20 s).
    client = FhirClient(trickle.base, connect_timeout=0.2, read_timeout=0.35)
    started = time.monotonic()
    result = client.fetch(path.lstrip("/") + "?patient=p1", time.monotonic() + 0.4)
    assert time.monotonic() - started < 0.4 + SLACK
    assert result.gap == "budget-exceeded" and not result.bodies


def test_backoff_counts_from_the_end_of_the_fetch(monkeypatch):
    clock = FakeClock()
    calls = []

    def slow_failure(url, connect, read):
        calls.append(clock.now)
        clock.now += 15  # a fetch as long as the backoff (the trickle above, before the fix)
        raise KeySetFetchError("too slow")

    monkeypatch.setattr(jwks_module, "fetch_key_set", slow_failure)
    cache = JwksCache(ttl=300, max_stale=3600, refresh_min_interval=30, backoff=5, backoff_max=40,
                      connect_timeout=0.3, read_timeout=0.3, clock=clock)
    with pytest.raises(KeySetUnavailable):
        cache.get_jwk("https://keys.example/jwks", "k")
    with pytest.raises(KeySetUnavailable) as info:
        cache.get_jwk("https://keys.example/jwks", "k")  # before: the backoff had already expired
    assert len(calls) == 1 and info.value.retry_after == 5


def test_unknown_kids_force_one_refresh_per_issuer_whatever_its_urls(jwks_server, es_key):
    urls = [jwks_server.publish(f"/k{i}.json", es_key.public_jwk()) for i in range(4)]
    cache = JwksCache(ttl=300, max_stale=3600, refresh_min_interval=30, backoff=5, backoff_max=40,
                      connect_timeout=0.3, read_timeout=0.3)
    for url in urls:
        assert cache.get_jwk(url, es_key.kid, refresh_key="https://ehr.example/")
    before = sum(jwks_server.hits.values())
    for i, url in enumerate(urls * 3):
        assert cache.get_jwk(url, f"random-{i}", refresh_key="https://ehr.example/") is None
    assert sum(jwks_server.hits.values()) - before == 1  # before: one per URL


def test_a_request_never_waits_behind_anothers_fetch_when_it_holds_a_usable_set(jwks_server, es_key):
    url = jwks_server.publish("/slow.json", es_key.public_jwk())
    clock = FakeClock()
    cache = JwksCache(ttl=300, max_stale=3600, refresh_min_interval=30, backoff=5, backoff_max=40,
                      connect_timeout=0.5, read_timeout=1.5, clock=clock)
    assert cache.get_jwk(url, es_key.kid)
    clock.now += 301  # the set is stale (past the ttl) but usable (inside max_stale)
    jwks_server.hang.add("/slow.json")
    first = threading.Thread(target=cache.get_jwk, args=(url, es_key.kid))
    first.start()
    while jwks_server.hits["/slow.json"] < 2:
        time.sleep(0.01)  # the first request is fetching now
    started = time.monotonic()
    assert cache.get_jwk(url, es_key.kid)["kid"] == es_key.kid
    assert time.monotonic() - started < 0.3  # before: waited for the whole fetch (2 s)
    first.join()


def test_without_a_set_a_request_waits_at_most_one_fetch_budget(jwks_server, es_key):
    url = jwks_server.url("/hang-none.json")
    jwks_server.hang.add("/hang-none.json")
    cache = JwksCache(ttl=300, max_stale=3600, refresh_min_interval=30, backoff=5, backoff_max=40,
                      connect_timeout=0.2, read_timeout=0.3)
    errors = []

    def call():
        started = time.monotonic()
        try:
            cache.get_jwk(url, "k")
        except KeySetUnavailable:
            pass
        errors.append(time.monotonic() - started)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(errors) < 2 * 0.5 + SLACK
