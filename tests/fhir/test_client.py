"""The FHIR client over `responses`: headers, paging, failures, retry, limits."""

from __future__ import annotations

import time

import pytest
import requests
import responses

from cds_service.fhir import client as client_module
from cds_service.fhir.access import BearerToken
from cds_service.fhir.client import FhirClient, shared_session

from .helpers import BASE, TOKEN, condition, outcome, patient, searchset

COND = f"{BASE}/Condition?patient=p-1"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def make_client(token: str | None = TOKEN, **kwargs) -> FhirClient:
    kwargs.setdefault("session", requests.Session() if kwargs.pop("own_session", False) else None)
    return FhirClient(BASE, BearerToken(token) if token else None, **kwargs)


def later(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_read_sends_token_and_fhir_accept(rsps):
    rsps.get(f"{BASE}/Patient/p-1", json=patient())
    result = make_client().fetch("Patient/p-1", later())
    assert result.gap is None and result.bodies == [patient()]
    sent = rsps.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/fhir+json"


def test_without_a_token_no_authorization_header(rsps):
    rsps.get(f"{BASE}/Patient/p-1", json=patient())
    make_client(token=None).fetch("Patient/p-1", later())
    assert "Authorization" not in rsps.calls[0].request.headers


def test_timeouts_are_capped_by_the_deadline(rsps):
    rsps.get(f"{BASE}/Patient/p-1", json=patient())
    make_client(connect_timeout=0.2, read_timeout=3.0).fetch("Patient/p-1", later(0.5))
    connect, read = rsps.calls[0].request.req_kwargs["timeout"]
    assert connect == 0.2 and 0 < read <= 0.5


def test_paging_is_followed(rsps):
    rsps.get(COND, json=searchset(condition("c-1"), next_url=f"{BASE}/Condition?patient=p-1&page=2"))
    # A relative next link is resolved against the base.
    rsps.get(f"{COND}&page=2", json=searchset(condition("c-2"), next_url="Condition?patient=p-1&page=3"))
    rsps.get(f"{COND}&page=3", json=searchset(condition("c-3")))
    result = make_client().fetch("Condition?patient=p-1", later())
    assert result.gap is None
    assert [b["entry"][0]["resource"]["id"] for b in result.bodies] == ["c-1", "c-2", "c-3"]
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in rsps.calls)


def test_paging_stops_at_the_page_limit(rsps):
    for page in range(1, 5):
        url = COND if page == 1 else f"{COND}&page={page}"
        rsps.get(url, json=searchset(condition(f"c-{page}"), next_url=f"{COND}&page={page + 1}"))
    result = make_client(max_pages=3).fetch("Condition?patient=p-1", later())
    assert len(result.bodies) == 3 and result.gap == "page-limit"
    assert len(rsps.calls) == 3


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.test/fhir/r4/Condition?page=2",
        "http://ehr.example.org/fhir/r4/Condition?page=2",
        "https://ehr.example.org/other/Condition?page=2",
        f"{BASE}/../../admin?page=2",
    ],
)
def test_next_link_off_the_server_is_not_followed(rsps, next_url):
    rsps.get(COND, json=searchset(condition("c-1"), next_url=next_url))
    result = make_client().fetch("Condition?patient=p-1", later())
    assert result.gap == "paging-off-server" and len(result.bodies) == 1
    assert len(rsps.calls) == 1  # the token went nowhere else


def test_a_failed_page_keeps_the_earlier_pages(rsps):
    rsps.get(COND, json=searchset(condition("c-1"), next_url=f"{COND}&page=2"))
    rsps.get(f"{COND}&page=2", status=500, json=outcome())
    result = make_client().fetch("Condition?patient=p-1", later())
    assert result.gap == "http-500" and len(result.bodies) == 1


@pytest.mark.parametrize(
    ("status", "reason", "calls"),
    [
        (401, "http-401", 1),
        (403, "http-403", 1),
        (404, "http-404", 1),
        (410, "http-410", 1),
        (429, "http-429", 1),
        (500, "http-500", 1),
        (502, "http-502", 2),
        (503, "http-503", 2),
        (504, "http-504", 2),
    ],
)
def test_http_errors_become_gaps_and_only_gateway_errors_are_retried(rsps, status, reason, calls):
    rsps.get(COND, status=status, json=outcome())
    result = make_client().fetch("Condition?patient=p-1", later())
    assert (result.gap, result.bodies) == (reason, [])
    assert len(rsps.calls) == calls


def test_one_retry_recovers_from_a_503(rsps):
    rsps.get(COND, status=503)
    rsps.get(COND, json=searchset(condition("c-1")))  # responses serves registrations in order
    result = make_client().fetch("Condition?patient=p-1", later())
    assert result.gap is None and len(rsps.calls) == 2


def test_retries_can_be_disabled(rsps):
    rsps.get(COND, status=503)
    assert make_client(max_retries=0).fetch("Condition?patient=p-1", later()).gap == "http-503"
    assert len(rsps.calls) == 1


def test_no_retry_without_budget(rsps):
    rsps.get(COND, status=503)
    assert make_client().fetch("Condition?patient=p-1", later(0.04)).gap == "http-503"
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    ("error", "reason", "calls"),
    [
        (requests.exceptions.ConnectTimeout(), "timeout", 2),
        (requests.exceptions.ConnectionError(), "connection-error", 2),
        (requests.exceptions.ReadTimeout(), "timeout", 1),  # a slow server is not asked twice
        (requests.exceptions.InvalidURL(), "request-error", 1),
    ],
)
def test_network_errors(rsps, error, reason, calls):
    rsps.get(COND, body=error)
    result = make_client().fetch("Condition?patient=p-1", later())
    assert (result.gap, result.bodies) == (reason, [])
    assert len(rsps.calls) == calls


def test_a_connection_error_then_success(rsps):
    rsps.get(COND, body=requests.exceptions.ConnectionError())
    rsps.get(COND, json=searchset(condition("c-1")))
    assert make_client().fetch("Condition?patient=p-1", later()).gap is None


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("<html>Login</html>", "text/html", "invalid-json"),
        ('{"resourceType": "Bundle", ', "application/fhir+json", "invalid-json"),
        (b"\xff\xfe\x00garbage", "application/fhir+json", "invalid-json"),
        ("[1, 2]", "application/json", "unexpected-response"),
        ('{"no": "resourceType"}', "application/json", "unexpected-response"),
        ('{"resourceType": "OperationOutcome", "issue": []}', "application/fhir+json", "operation-outcome"),
    ],
)
def test_garbage_bodies(rsps, body, content_type, reason):
    rsps.get(COND, body=body, content_type=content_type)
    assert make_client().fetch("Condition?patient=p-1", later()).gap == reason


def test_redirects_are_not_followed(rsps):
    rsps.get(COND, status=302, headers={"Location": "https://evil.test/steal"})
    assert make_client().fetch("Condition?patient=p-1", later()).gap == "redirect"
    assert len(rsps.calls) == 1


def test_a_body_over_the_size_limit_is_dropped(rsps):
    rsps.get(COND, json=searchset(*[condition(f"c-{i}") for i in range(50)]))
    assert make_client(max_bytes=1000).fetch("Condition?patient=p-1", later()).gap == "too-large"


def test_a_body_over_the_limit_without_content_length(rsps):
    # Streamed (chunked) answers have no Content-Length: the limit is kept while reading.
    rsps.get(COND, body=b'{"resourceType": "Bundle", "entry": []}' + b" " * 5000, auto_calculate_content_length=False)
    assert make_client(max_bytes=1000).fetch("Condition?patient=p-1", later()).gap == "too-large"


def test_no_request_after_the_deadline(rsps):
    rsps.get(COND, json=searchset())
    assert make_client().fetch("Condition?patient=p-1", time.monotonic() - 0.01).gap == "budget-exceeded"
    assert len(rsps.calls) == 0


def test_cookies_are_not_kept_between_calls(rsps):
    rsps.get(f"{BASE}/Patient/p-1", json=patient(), headers={"Set-Cookie": "session=caller-a; Path=/"})
    rsps.get(f"{BASE}/Patient/p-2", json=patient("p-2"))
    client = make_client()
    client.fetch("Patient/p-1", later())
    client.fetch("Patient/p-2", later())
    assert "Cookie" not in rsps.calls[1].request.headers


def test_one_session_per_process(monkeypatch):
    first = shared_session()
    assert shared_session() is first
    monkeypatch.setattr(client_module.os, "getpid", lambda: -1)  # as after a fork
    assert shared_session() is not first


def test_repr_hides_the_token():
    assert TOKEN not in repr(make_client()) and TOKEN not in repr(make_client()._auth)
